//! The op-p2p peer store: everything op-node keeps about peers across restarts, in one RocksDB
//! database.
//!
//! - The libp2p peerstore books: [addresses](PeerStore::add_addrs) with TTL expiry,
//!   [public keys](PeerStore::set_public_key), [protocols](PeerStore::set_protocols), and
//!   [identify information](PeerStore::set_identify).
//! - op-node's extended books (spec §6): [metadata](PeerStore::set_metadata) (ENR, chain id),
//!   the [score book](PeerStore::peer_scores) with the request-response
//!   [application scores](PeerStore::record_req_resp), their per-slot
//!   [decay](PeerStore::decay_app_scores) and retention (spec §5), and the timed
//!   [peer bans](PeerStore::set_peer_ban) and [IP bans](PeerStore::set_ip_ban).
//! - go-libp2p conngater's permanent block lists of [peers](PeerStore::set_peer_blocked),
//!   [IPs](PeerStore::set_ip_blocked) and [subnets](PeerStore::set_subnet_blocked).
//!
//! Time is always injected: the store reads a [`Clock`] (unix seconds), and tests use a
//! [`ManualClock`]. [Garbage collection](PeerStore::gc) is a call the node makes on a schedule
//! ([`Config::gc_interval`], op-node's 2 h), bounded in work per run.
//!
//! [`DiscoveryTable`], the discv5 table between runs, is a separate small RocksDB database at
//! op-node's `p2p.discovery.path` (see its docs for why).
//!
//! # Example
//! ```
//! use std::{sync::Arc, time::Duration};
//!
//! use op_p2p_peerstore::{Config, ManualClock, PeerStore, ReqRespEvent};
//! # use op_p2p_peerstore::PeerId;
//! # let peer = PeerId::from_bytes(&[0x12, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
//! #     15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32])?;
//!
//! let clock = Arc::new(ManualClock::new(1_000));
//! let store = PeerStore::open_in_memory(Config::default(), clock.clone())?;
//!
//! // The ban monitor bans a peer for an hour; the gater compares the expiry with the clock.
//! store.set_peer_ban(&peer, Some(store.now() + 3600))?;
//! assert_eq!(store.peer_ban(&peer)?, Some(4_600));
//!
//! // A rejected sync payload costs 20 points of application score, decaying every slot.
//! store.record_req_resp(&peer, ReqRespEvent::RejectedPayload)?;
//! assert_eq!(store.app_score(&peer)?, -20.0);
//! clock.advance_secs(2);
//! store.decay_app_scores(&[peer])?;
//! assert!(store.app_score(&peer)? > -20.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # On disk
//! One column family per book, plus `meta` holding the [`SCHEMA_VERSION`]; a store written
//! with another version fails to open with [`Error::IncompatibleSchema`]. Keys are raw peer-id
//! bytes, 16-byte IPs (IPv4 in its IPv4-mapped form, so both families share one key space;
//! read back as IPv4), or a subnet's 16 address bytes plus its prefix length. Values are
//! compact hand-written binary, first byte the record's format version; a value that fails to
//! decode is logged, [counted](PeerStore::decode_failures) and skipped, never a panic and never
//! a reason not to open. The crate README has the byte layouts.
//!
//! # Sharing the database
//! A node keeps other data (the payload store) in the same database, so one write-ahead log
//! and one lock cover everything it persists: it names its own column families with
//! [`Config::with_extra_column_families`] and reaches them through [`PeerStore::db`], writing
//! with [`PeerStore::write_options`]. [`PeerStore::flush`] is the clean-shutdown step.
//!
//! # Memory and open files
//! Bounded whatever is stored (a node's payload store holds gigabytes): every column family
//! reads through one LRU block cache ([`Config::with_block_cache_size`], default
//! [`DEFAULT_BLOCK_CACHE_SIZE`]) that holds the SST files' index and filter blocks too, and
//! RocksDB keeps at most 64 files open.
//!
//! # Durability
//! Every write is in RocksDB's write-ahead log when the call returns (handed to the operating
//! system, not fsynced): it survives the process crashing or being killed with SIGKILL, which
//! the tests check. [`Config::with_sync_writes`] fsyncs each write, for power-loss durability
//! at an fsync's cost per write.
//!
//! # Where this differs from op-node
//! - The key, protocol and identify books expire like op-node's metadata book
//!   ([`Config::peer_info_retention`], 7 days after the last update) instead of living until
//!   the peer is removed, so the store does not grow with every peer ever seen.
//! - Decay does not create a zero score record for a connected peer without one (op-node
//!   writes one); both read back as zeros.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bans;
mod books;
mod codec;
mod config;
mod discovery_table;
mod error;
mod gc;
mod keys;
mod limits;
mod peer_books;
mod records;
mod schema;
mod score_book;
mod store;

pub use self::{
    books::{BOOKS_QUEUE, Books, WeakBooks},
    config::{
        Config, DEFAULT_BAN_RETENTION, DEFAULT_BLOCK_CACHE_SIZE, DEFAULT_BLOCK_TIME,
        DEFAULT_GC_INTERVAL, DEFAULT_GC_MAX_DELETES_PER_RUN, DEFAULT_GC_MAX_SCANNED_PER_RUN,
        DEFAULT_PEER_INFO_RETENTION,
    },
    discovery_table::DiscoveryTable,
    error::Error,
    gc::GcReport,
    keys::{canonical_ip, canonical_subnet},
    records::{MAX_ADDR_LEN, MAX_ADDRS_PER_PEER, MAX_PROTOCOLS_PER_PEER, MAX_TEXT_LEN},
    schema::SCHEMA_VERSION,
    store::PeerStore,
};

/// The score values, clock and record types the books hold, defined in `op-p2p-api` and
/// re-exported here so a user of the store alone needs one import.
pub use op_p2p_api::{
    APP_SCORE_DECAY_EPOCHS, BlocksTopicScores, Clock, DECAY_TO_ZERO, ERROR_RESPONSE_CAP,
    ERROR_RESPONSE_WEIGHT, GossipScores, IdentifyInfo, ManualClock, PeerMetadata, PeerScores,
    REJECTED_PAYLOAD_CAP, REJECTED_PAYLOAD_WEIGHT, ReqRespEvent, ReqRespScores,
    SCORE_RETAIN_EPOCHS, SLOTS_PER_EPOCH, SystemClock, VALID_RESPONSE_CAP, VALID_RESPONSE_WEIGHT,
    score_decay,
};

/// The RocksDB binding of [`PeerStore::db`], re-exported so a caller with its own column
/// families needs no version matching.
pub use rocksdb;

/// Re-exported so callers need no version matching with libp2p.
pub use libp2p_core::Multiaddr;
pub use libp2p_identity::{PeerId, PublicKey};
