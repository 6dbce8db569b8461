//! Garbage collection: deleting records past their expiry or retention, bounded per run and
//! resumable (op-node's per-book GC, every 2 h).

use rocksdb::{Direction, IteratorMode, WriteBatch};

use crate::{
    config::Config,
    error::{Error, RecordError},
    records::{
        AddrRecord, BanRecord, IdentifyRecord, KeyRecord, MetadataRecord, ProtocolsRecord, Record,
        ScoreRecord,
    },
    schema::Book,
    store::{PeerStore, TARGET, retained},
};

/// Records GC examines per hold of the write lock, so writers wait at most one chunk.
const GC_CHUNK: usize = 512;

/// What one [`PeerStore::gc`] run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GcReport {
    /// Records examined.
    pub scanned: u64,
    /// Records deleted: addresses all expired, or last update past the book's retention.
    pub deleted: u64,
    /// Address records rewritten without their expired addresses.
    pub rewritten: u64,
    /// Records that did not decode; reported, counted and left in place.
    pub corrupt: u64,
    /// Whether the run reached the end of the last book. If not, it stopped at
    /// [`Config::gc_max_deletes_per_run`] or [`Config::gc_max_scanned_per_run`], and the next
    /// run resumes where this one stopped.
    pub pass_complete: bool,
}

/// Where the next GC run resumes.
#[derive(Debug, Default)]
pub(crate) struct GcCursor {
    /// Index into [`Book::EXPIRING`].
    book: usize,
    /// The first key of that book not yet examined; `None` for its start.
    next_key: Option<Vec<u8>>,
}

/// What GC does with one record.
enum GcAction {
    Keep,
    Delete,
    Rewrite(Vec<u8>),
}

/// Decides the fate of one record of `book` at `now`.
fn decide(book: Book, value: &[u8], now: u64, config: &Config) -> Result<GcAction, RecordError> {
    let keep_if = |alive: bool| {
        if alive {
            GcAction::Keep
        } else {
            GcAction::Delete
        }
    };
    let info = config.peer_info_retention();
    Ok(match book {
        Book::Addrs => {
            let mut record = AddrRecord::decode(value)?;
            let before = record.addrs.len();
            record.addrs.retain(|e| e.expiry > now);
            match record.addrs.len() {
                0 => GcAction::Delete,
                n if n == before => GcAction::Keep,
                _ => GcAction::Rewrite(record.encode()),
            }
        }
        Book::Keys => keep_if(retained(KeyRecord::decode_last_update(value)?, info, now)),
        Book::Protocols => keep_if(retained(
            ProtocolsRecord::decode(value)?.last_update,
            info,
            now,
        )),
        Book::Identify => keep_if(retained(
            IdentifyRecord::decode(value)?.last_update,
            info,
            now,
        )),
        Book::Metadata => keep_if(retained(
            MetadataRecord::decode(value)?.last_update,
            info,
            now,
        )),
        Book::Scores => keep_if(retained(
            ScoreRecord::decode(value)?.last_update,
            config.score_retention(),
            now,
        )),
        Book::PeerBans | Book::IpBans => keep_if(retained(
            BanRecord::decode(value)?.last_update,
            config.ban_retention(),
            now,
        )),
        Book::BlockedPeers | Book::BlockedIps | Book::BlockedSubnets => GcAction::Keep,
    })
}

/// The smallest key after `key` in RocksDB's bytewise order.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = Vec::with_capacity(key.len() + 1);
    next.extend_from_slice(key);
    next.push(0);
    next
}

impl PeerStore {
    /// Deletes expired records; the node calls this every
    /// [`Config::gc_interval`](crate::Config::gc_interval) (op-node: 2 h).
    ///
    /// - Addresses: expired addresses are dropped, and a peer with none left is deleted.
    /// - Scores: deleted [`Config::score_retention`] after their last update (op-node
    ///   `RetainScore`, 600 slots).
    /// - Peer and IP bans: deleted [`Config::ban_retention`] (7 days) after their last update;
    ///   a ban whose expiry has passed but is still retained is left for the gater, which
    ///   deletes it when it next checks it, as op-node's expiry gater does.
    /// - Keys, protocols, identify, metadata: deleted [`Config::peer_info_retention`] (7 days)
    ///   after their last update.
    /// - Block lists: never.
    ///
    /// A run stops after [`Config::gc_max_deletes_per_run`] deletes or
    /// [`Config::gc_max_scanned_per_run`] records examined, and the next run resumes where it
    /// stopped; a run that reaches the end starts the next one from the beginning. Records
    /// that do not decode are reported and left alone: a newer build may be able to read them.
    pub fn gc(&self) -> Result<GcReport, Error> {
        let mut cursor = self.gc_cursor();
        let config = self.config();
        let max_deletes = config.gc_max_deletes_per_run() as u64;
        let max_scanned = config.gc_max_scanned_per_run() as u64;
        let mut report = GcReport::default();
        while report.deleted < max_deletes && report.scanned < max_scanned {
            let Some(&book) = Book::EXPIRING.get(cursor.book) else {
                *cursor = GcCursor::default();
                report.pass_complete = true;
                break;
            };
            if self.gc_chunk(book, &mut cursor, &mut report, max_deletes, max_scanned)? {
                cursor.book += 1;
                cursor.next_key = None;
            }
        }
        // A run that stopped exactly at the end of the last book completes the pass too.
        if cursor.book >= Book::EXPIRING.len() {
            *cursor = GcCursor::default();
            report.pass_complete = true;
        }
        tracing::debug!(target: TARGET, ?report, "peer store gc");
        Ok(report)
    }

    /// Examines up to [`GC_CHUNK`] records of `book` from the cursor under the write lock, and
    /// applies its deletes and rewrites in one batch. Returns whether the book is exhausted.
    fn gc_chunk(
        &self,
        book: Book,
        cursor: &mut GcCursor,
        report: &mut GcReport,
        max_deletes: u64,
        max_scanned: u64,
    ) -> Result<bool, Error> {
        let cf = self.cf(book)?;
        let _guard = self.write_guard();
        let now = self.now();
        let mode = match &cursor.next_key {
            Some(key) => IteratorMode::From(key, Direction::Forward),
            None => IteratorMode::Start,
        };
        let mut batch = WriteBatch::default();
        let mut exhausted = true;
        for (examined, item) in self.db().iterator_cf(cf, mode).enumerate() {
            if examined == GC_CHUNK
                || report.deleted >= max_deletes
                || report.scanned >= max_scanned
            {
                exhausted = false;
                break;
            }
            let (key, value) = item?;
            report.scanned += 1;
            match decide(book, &value, now, self.config()) {
                Ok(GcAction::Keep) => {}
                Ok(GcAction::Delete) => {
                    batch.delete_cf(cf, &key);
                    report.deleted += 1;
                }
                Ok(GcAction::Rewrite(bytes)) => {
                    batch.put_cf(cf, &key, bytes);
                    report.rewritten += 1;
                }
                Err(error) => {
                    report.corrupt += 1;
                    self.report_corrupt(book, &key, &error);
                }
            }
            cursor.next_key = Some(successor(&key));
        }
        self.write_batch(batch)?;
        Ok(exhausted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_is_the_next_key() {
        assert_eq!(successor(b"ab"), b"ab\0");
        assert!(successor(b"ab").as_slice() > b"ab".as_slice());
        assert!(successor(b"ab").as_slice() < b"ab\0\0".as_slice());
        assert!(successor(b"ab").as_slice() < b"ac".as_slice());
    }
}
