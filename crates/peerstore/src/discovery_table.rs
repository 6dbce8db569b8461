//! [`DiscoveryTable`]: the discv5 table between runs, in its own RocksDB database at
//! `p2p.discovery.path`.
//!
//! Its own database, not a column family of the peer store: op-node keeps the discovery table
//! in its own database at `p2p.discovery.path` (geth's node database), separate from
//! `p2p.peerstore.path`, so the two flags keep their meaning (an operator may wipe one and
//! keep the other, or keep one in memory). It is written every few tens of seconds, never on
//! the swarm task, and is small (at most [`MAX_TABLE_RECORDS`] records of a few hundred bytes).
//!
//! Layout: key `r` ++ u32 big-endian index → the record's ENR text; key `v` → the format
//! version (one byte, 1). A save replaces every record in one write batch.

use std::path::{Path, PathBuf};

use op_p2p_api::{DiscoveryTableStore, MAX_RECORD_TEXT, MAX_TABLE_RECORDS, retained_records};
use rocksdb::{DB, IteratorMode, LogLevel, Options, WriteBatch};
use tracing::warn;

use crate::error::Error;

const RECORD_PREFIX: u8 = b'r';
const VERSION_KEY: &[u8] = b"v";
const VERSION: u8 = 1;

/// The discovery table in a RocksDB database of its own.
#[derive(Debug)]
pub struct DiscoveryTable {
    db: DB,
    path: PathBuf,
}

impl DiscoveryTable {
    /// Opens (creating if missing) the table database in the directory `path`. Fails with
    /// [`Error::IncompatibleSchema`] on a database of another format version.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_log_level(LogLevel::Warn);
        opts.set_keep_log_file_num(2);
        opts.set_max_log_file_size(1 << 20);
        // A few hundred small records: a small memtable is plenty.
        opts.set_write_buffer_size(1 << 20);
        let db = DB::open(&opts, path)?;
        match db.get(VERSION_KEY)? {
            None => db.put(VERSION_KEY, [VERSION])?,
            Some(v) if v.as_slice() == [VERSION] => {}
            Some(v) => {
                return Err(Error::IncompatibleSchema {
                    found: v.first().copied().map_or(0, u32::from),
                    expected: u32::from(VERSION),
                });
            }
        }
        Ok(Self {
            db,
            path: path.to_path_buf(),
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn records(&self) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for item in self.db.iterator(IteratorMode::Start) {
            let (key, value) = item?;
            if key.first() != Some(&RECORD_PREFIX) {
                continue;
            }
            if out.len() >= MAX_TABLE_RECORDS {
                break;
            }
            match std::str::from_utf8(&value) {
                Ok(text) if text.len() <= MAX_RECORD_TEXT => out.push(text.to_owned()),
                _ => {
                    warn!(target: crate::store::TARGET, "discovery table: undecodable record skipped")
                }
            }
        }
        Ok(out)
    }

    fn replace(&self, records: &[String]) -> Result<(), Error> {
        let mut batch = WriteBatch::default();
        for item in self.db.iterator(IteratorMode::Start) {
            let (key, _) = item?;
            if key.first() == Some(&RECORD_PREFIX) {
                batch.delete(key);
            }
        }
        for (index, record) in (0u32..).zip(retained_records(records)) {
            let mut key = [0u8; 5];
            key[0] = RECORD_PREFIX;
            key[1..].copy_from_slice(&index.to_be_bytes());
            batch.put(key, record.as_bytes());
        }
        self.db.write(batch)?;
        Ok(())
    }
}

impl DiscoveryTableStore for DiscoveryTable {
    fn load(&self) -> Result<Vec<String>, op_p2p_api::Error> {
        self.records().map_err(op_p2p_api::Error::storage)
    }

    fn save(&self, records: &[String]) -> Result<(), op_p2p_api::Error> {
        self.replace(records).map_err(op_p2p_api::Error::storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_survives_reopen_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("discovery");
        {
            let table = DiscoveryTable::open(&path).unwrap();
            assert!(table.load().unwrap().is_empty());
            table
                .save(&["enr:a".into(), "enr:b".into(), "enr:c".into()])
                .unwrap();
            table.save(&["enr:d".into(), "enr:e".into()]).unwrap();
        }
        let table = DiscoveryTable::open(&path).unwrap();
        assert_eq!(
            table.load().unwrap(),
            vec!["enr:d".to_owned(), "enr:e".to_owned()]
        );
        table.save(&["x".repeat(MAX_RECORD_TEXT + 1)]).unwrap();
        assert!(table.load().unwrap().is_empty());
    }

    #[test]
    fn another_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = DB::open_default(dir.path()).unwrap();
            db.put(VERSION_KEY, [9u8]).unwrap();
        }
        assert!(matches!(
            DiscoveryTable::open(dir.path()),
            Err(Error::IncompatibleSchema { found: 9, .. })
        ));
    }
}
