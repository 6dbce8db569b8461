//! Integration tests of `op-p2p-peerstore`, in one binary (one link per crate).

// Test helpers outside `#[test]` functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod corruption;
mod durability;
mod expiry;
mod extra_column_families;
mod round_trip;

use std::{path::Path, sync::Arc};

use op_p2p_peerstore::{Config, ManualClock, PeerId, PeerStore};

/// A deterministic peer id: a SHA-256 multihash whose digest ends in `i`.
pub(crate) fn peer(i: u64) -> PeerId {
    let mut bytes = vec![0x12, 0x20];
    bytes.extend_from_slice(&[0xab; 24]);
    bytes.extend_from_slice(&i.to_be_bytes());
    PeerId::from_bytes(&bytes).unwrap()
}

/// A manual clock at `now`.
pub(crate) fn clock(now: u64) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(now))
}

/// Opens the store in `dir` with `config` and `clock`.
pub(crate) fn open_with(dir: &Path, config: Config, clock: &Arc<ManualClock>) -> PeerStore {
    PeerStore::open(dir, config, clock.clone()).unwrap()
}

/// Opens the store in `dir` with the default config.
pub(crate) fn open(dir: &Path, clock: &Arc<ManualClock>) -> PeerStore {
    open_with(dir, Config::default(), clock)
}

/// Opens the database in `dir` directly with RocksDB, every column family included, to write
/// what the store's API never would.
pub(crate) fn raw_db(dir: &Path) -> rocksdb::DB {
    let opts = rocksdb::Options::default();
    let names = rocksdb::DB::list_cf(&opts, dir).unwrap();
    rocksdb::DB::open_cf(&opts, dir, names).unwrap()
}
