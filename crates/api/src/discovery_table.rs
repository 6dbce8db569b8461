//! The discovery table store contract: where discv5's routing table is kept between runs
//! (op-node's `p2p.discovery.path`, geth's node database), so a restarted node finds its
//! network again without bootnodes.

use std::sync::{Mutex, PoisonError};

use crate::error::Error;

/// The most records a table store keeps and returns: discv5's table holds at most 16 records
/// in each of 256 buckets, and in practice a few hundred.
pub const MAX_TABLE_RECORDS: usize = 4096;

/// The longest record text a store keeps: an ENR is at most 300 bytes, so its base64 text
/// (`enr:` and 400 characters) fits with room to spare. Longer entries are skipped.
pub const MAX_RECORD_TEXT: usize = 1024;

/// Persistence for the discovery table: records as ENR text (`enr:…`), so this crate needs no
/// ENR codec and a store never has to understand what it keeps.
///
/// The discovery service calls it on a blocking thread (tokio's `spawn_blocking`), never on the
/// swarm task: [`load`](Self::load) once at start, [`save`](Self::save) periodically and at
/// shutdown. Records that do not decode are skipped by the caller.
pub trait DiscoveryTableStore: Send + Sync + 'static {
    /// Every stored record, at most [`MAX_TABLE_RECORDS`].
    fn load(&self) -> Result<Vec<String>, Error>;

    /// Replaces the stored table with `records` (the first [`MAX_TABLE_RECORDS`], each at most
    /// [`MAX_RECORD_TEXT`] bytes; longer ones are skipped). Atomic: a crash leaves the old
    /// table or the new one.
    fn save(&self, records: &[String]) -> Result<(), Error>;
}

/// The table in memory (op-node's `p2p.discovery.path=memory`): lost at exit.
#[derive(Debug, Default)]
pub struct MemoryDiscoveryTable {
    records: Mutex<Vec<String>>,
}

impl MemoryDiscoveryTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The records a store keeps of `records`: bounded in count and length.
pub fn retained_records(records: &[String]) -> impl Iterator<Item = &String> {
    records
        .iter()
        .filter(|r| r.len() <= MAX_RECORD_TEXT)
        .take(MAX_TABLE_RECORDS)
}

impl DiscoveryTableStore for MemoryDiscoveryTable {
    fn load(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    fn save(&self, records: &[String]) -> Result<(), Error> {
        *self.records.lock().unwrap_or_else(PoisonError::into_inner) =
            retained_records(records).cloned().collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_table_replaces_and_bounds() {
        let table = MemoryDiscoveryTable::new();
        assert!(table.load().unwrap().is_empty());
        table.save(&["enr:a".into(), "enr:b".into()]).unwrap();
        table
            .save(&["enr:c".into(), "x".repeat(MAX_RECORD_TEXT + 1)])
            .unwrap();
        assert_eq!(table.load().unwrap(), vec!["enr:c".to_owned()]);
        let many: Vec<String> = (0..MAX_TABLE_RECORDS + 5)
            .map(|i| format!("enr:{i}"))
            .collect();
        table.save(&many).unwrap();
        assert_eq!(table.load().unwrap().len(), MAX_TABLE_RECORDS);
    }
}
