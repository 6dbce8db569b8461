//! Records that do not decode are skipped and counted; a store of another schema version, or a
//! database that is not a peer store, refuses to open; the on-disk bytes are what the README
//! documents.

use std::net::{IpAddr, Ipv4Addr};

use op_p2p_peerstore::{Error, PeerStore, ReqRespEvent, SCHEMA_VERSION};
use tempfile::TempDir;

use crate::{clock, open, peer, raw_db};

#[test]
fn undecodable_records_are_skipped_and_counted() {
    let dir = TempDir::new().unwrap();
    let clock = clock(1_000);
    {
        let store = open(dir.path(), &clock);
        for i in 0..3 {
            store.set_peer_ban(&peer(i), Some(2_000 + i)).unwrap();
        }
        store
            .record_req_resp(&peer(0), ReqRespEvent::ValidResponse)
            .unwrap();
        store.set_peer_blocked(&peer(0), true).unwrap();
    }
    {
        let db = raw_db(dir.path());
        let bans = db.cf_handle("peer_bans").unwrap();
        // A garbage value under a valid key, overwriting peer 1's ban.
        db.put_cf(bans, peer(1).to_bytes(), b"\xffgarbage").unwrap();
        // A valid value (version 1, expiry, last update) under a key that is no peer id.
        let mut value = vec![1];
        value.extend_from_slice(&5u64.to_le_bytes());
        value.extend_from_slice(&1_000u64.to_le_bytes());
        db.put_cf(bans, b"not a peer id", value).unwrap();
        // A truncated score record and an address record claiming more entries than it has.
        db.put_cf(
            db.cf_handle("scores").unwrap(),
            peer(0).to_bytes(),
            [1, 0, 0],
        )
        .unwrap();
        db.put_cf(
            db.cf_handle("addrs").unwrap(),
            peer(5).to_bytes(),
            [1, 9, 0],
        )
        .unwrap();
        db.put_cf(
            db.cf_handle("blocked_peers").unwrap(),
            peer(6).to_bytes(),
            [],
        )
        .unwrap();
    }

    let store = open(dir.path(), &clock);
    assert_eq!(store.decode_failures(), 0, "opening reads no records");
    assert_eq!(store.peer_ban(&peer(1)).unwrap(), None);
    assert_eq!(store.decode_failures(), 1);
    // The listing skips both bad entries and still has the good ones.
    let mut bans = store.peer_bans().unwrap();
    bans.sort();
    let mut expected = vec![(peer(0), 2_000), (peer(2), 2_002)];
    expected.sort();
    assert_eq!(bans, expected);
    assert_eq!(store.decode_failures(), 3);
    assert_eq!(store.peer_ban(&peer(2)).unwrap(), Some(2_002));
    // Unreadable scores read as unknown (zeros); the next update starts a fresh record.
    assert_eq!(store.peer_score(&peer(0)).unwrap(), 0.0);
    assert_eq!(
        store
            .record_req_resp(&peer(0), ReqRespEvent::ValidResponse)
            .unwrap()
            .valid_responses,
        1.0
    );
    assert!(store.addrs(&peer(5)).unwrap().is_empty());
    assert_eq!(store.blocked_peers().unwrap(), [peer(0)]);
    assert_eq!(store.decode_failures(), 7);

    // GC reports the bad records and leaves them (a newer build may read them).
    let report = store.gc().unwrap();
    assert_eq!((report.corrupt, report.deleted), (2, 0));
    assert_eq!(store.decode_failures(), 9);
}

#[test]
fn a_store_of_another_schema_version_does_not_open() {
    let dir = TempDir::new().unwrap();
    let clock = clock(1);
    open(dir.path(), &clock)
        .set_peer_ban(&peer(1), Some(5))
        .unwrap();
    {
        let mut db = raw_db(dir.path());
        let meta = db.cf_handle("meta").unwrap();
        assert_eq!(
            db.get_cf(meta, b"schema_version").unwrap().unwrap(),
            SCHEMA_VERSION.to_le_bytes()
        );
        db.put_cf(meta, b"schema_version", (SCHEMA_VERSION + 1).to_le_bytes())
            .unwrap();
        // A newer schema may add column families: still the schema error, not RocksDB's
        // "column families not opened".
        db.create_cf("future_book", &rocksdb::Options::default())
            .unwrap();
    }
    let err = PeerStore::open(dir.path(), Default::default(), clock.clone()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::IncompatibleSchema { found, expected }
                if found == SCHEMA_VERSION + 1 && expected == SCHEMA_VERSION
        ),
        "{err}"
    );
    assert!(err.to_string().contains("schema version 2"), "{err}");

    // Restoring the version makes it open again, the records intact.
    {
        let db = raw_db(dir.path());
        let meta = db.cf_handle("meta").unwrap();
        db.put_cf(meta, b"schema_version", SCHEMA_VERSION.to_le_bytes())
            .unwrap();
    }
    assert_eq!(
        open(dir.path(), &clock).peer_ban(&peer(1)).unwrap(),
        Some(5)
    );
}

#[test]
fn a_malformed_schema_version_does_not_open() {
    let dir = TempDir::new().unwrap();
    let clock = clock(1);
    drop(open(dir.path(), &clock));
    {
        let db = raw_db(dir.path());
        db.put_cf(db.cf_handle("meta").unwrap(), b"schema_version", [1, 0])
            .unwrap();
    }
    let err = PeerStore::open(dir.path(), Default::default(), clock).unwrap_err();
    assert!(
        matches!(err, Error::CorruptSchemaVersion { len: 2 }),
        "{err}"
    );
}

#[test]
fn a_database_that_is_not_a_peer_store_does_not_open() {
    let dir = TempDir::new().unwrap();
    {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        let db = rocksdb::DB::open(&opts, dir.path()).unwrap();
        db.put(b"some", b"thing").unwrap();
    }
    let err = PeerStore::open(dir.path(), Default::default(), clock(1)).unwrap_err();
    assert!(
        matches!(err, Error::IncompatibleSchema { found: 0, .. }),
        "{err}"
    );
}

#[test]
fn on_disk_layout_is_as_documented() {
    let dir = TempDir::new().unwrap();
    let now = 0x0102_0304;
    let clock = clock(now);
    {
        let store = open(dir.path(), &clock);
        store.set_peer_ban(&peer(1), Some(0x0a0b)).unwrap();
        store
            .set_ip_ban(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), Some(7))
            .unwrap();
        store
            .set_subnet_blocked("192.168.0.0/16".parse().unwrap(), true)
            .unwrap();
    }
    let db = raw_db(dir.path());
    let mut names = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
    names.sort();
    assert_eq!(
        names,
        [
            "addrs",
            "blocked_ips",
            "blocked_peers",
            "blocked_subnets",
            "default",
            "identify",
            "ip_bans",
            "keys",
            "meta",
            "metadata",
            "peer_bans",
            "protocols",
            "scores"
        ]
    );
    let now_le = now.to_le_bytes();
    // Peer ban: key = raw peer id; value = version 1, expiry u64 LE, last update u64 LE.
    let mut ban = vec![1];
    ban.extend_from_slice(&0x0a0bu64.to_le_bytes());
    ban.extend_from_slice(&now_le);
    assert_eq!(
        db.get_cf(db.cf_handle("peer_bans").unwrap(), peer(1).to_bytes())
            .unwrap()
            .unwrap(),
        ban
    );
    // IP ban: key = 16 bytes, IPv4 mapped.
    let ip_key = Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped().octets();
    let mut ip_ban = vec![1];
    ip_ban.extend_from_slice(&7u64.to_le_bytes());
    ip_ban.extend_from_slice(&now_le);
    assert_eq!(
        db.get_cf(db.cf_handle("ip_bans").unwrap(), ip_key)
            .unwrap()
            .unwrap(),
        ip_ban
    );
    // Subnet: mapped network address then the IPv6 prefix length (96 + 16); value = version,
    // time blocked.
    let mut subnet_key = Ipv4Addr::new(192, 168, 0, 0)
        .to_ipv6_mapped()
        .octets()
        .to_vec();
    subnet_key.push(112);
    let mut block = vec![1];
    block.extend_from_slice(&now_le);
    assert_eq!(
        db.get_cf(db.cf_handle("blocked_subnets").unwrap(), subnet_key)
            .unwrap()
            .unwrap(),
        block
    );
}
