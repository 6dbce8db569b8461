//! Extra column families: a caller's own data in the store's database, kept across reopen, next
//! to the books and without disturbing them.

use std::sync::Arc;

use op_p2p_peerstore::{Config, Error, ManualClock, PeerStore};
use tempfile::TempDir;

use crate::{clock, peer};

const PAYLOADS: &str = "test_payloads";

fn config() -> Config {
    Config::default().with_extra_column_families([PAYLOADS, "test_index"])
}

fn open(dir: &std::path::Path, clock: &Arc<ManualClock>) -> PeerStore {
    PeerStore::open(dir, config(), clock.clone()).unwrap()
}

#[test]
fn extra_data_survives_reopen_next_to_the_books() {
    let dir = TempDir::new().unwrap();
    let clock = clock(1_000);
    {
        let store = open(dir.path(), &clock);
        let db = store.db();
        let cf = db.cf_handle(PAYLOADS).unwrap();
        db.put_cf_opt(cf, b"block-1", b"payload", &store.write_options())
            .unwrap();
        store.set_peer_ban(&peer(1), Some(5_000)).unwrap();
        store.flush().unwrap();
    }
    let store = open(dir.path(), &clock);
    let cf = store.db().cf_handle(PAYLOADS).unwrap();
    assert_eq!(
        store.db().get_cf(cf, b"block-1").unwrap().as_deref(),
        Some(&b"payload"[..])
    );
    assert_eq!(store.peer_ban(&peer(1)).unwrap(), Some(5_000));
}

#[test]
fn a_plain_open_still_reads_a_database_with_extra_column_families() {
    let dir = TempDir::new().unwrap();
    let clock = clock(1_000);
    {
        let store = open(dir.path(), &clock);
        let cf = store.db().cf_handle(PAYLOADS).unwrap();
        store.db().put_cf(cf, b"k", b"v").unwrap();
        store.set_peer_ban(&peer(2), Some(9_000)).unwrap();
    }
    let plain = PeerStore::open(dir.path(), Config::default(), clock).unwrap();
    assert_eq!(plain.peer_ban(&peer(2)).unwrap(), Some(9_000));
    // Unknown column families are opened, not dropped.
    assert!(plain.db().cf_handle(PAYLOADS).is_some());
}

#[test]
fn in_memory_stores_have_them_too() {
    let store = PeerStore::open_in_memory(config(), clock(1)).unwrap();
    let cf = store.db().cf_handle("test_index").unwrap();
    store.db().put_cf(cf, b"k", b"v").unwrap();
    store.flush().unwrap();
    assert!(store.db().get_cf(cf, b"k").unwrap().is_some());
}

#[test]
fn book_names_are_reserved() {
    for name in ["meta", "scores", "peer_bans", "default"] {
        let err = PeerStore::open_in_memory(
            Config::default().with_extra_column_families([name]),
            clock(1),
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::ReservedColumnFamily(n) if n == name),
            "{name}: {err}"
        );
    }
    // Repeating a name is harmless.
    PeerStore::open_in_memory(
        Config::default().with_extra_column_families(["x", "x"]),
        clock(1),
    )
    .unwrap();
}
