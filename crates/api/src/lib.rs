//! The contracts between op-p2p's protocol behaviours and whatever stores their state.
//!
//! The protocol crates (`op-p2p-gossip`, `op-p2p-gating`, `op-p2p-reqresp-sync`) depend on this
//! crate, never on a storage engine: a node that takes gossip alone compiles no database. Each
//! trait comes with an in-memory implementation that is always available; the RocksDB
//! implementations, which survive restarts, are in `op-p2p-peerstore`. The model is
//! rust-libp2p's `misc/peer-store` (a `Store` trait plus a `MemoryStore`) and reth's
//! `network-api` (traits plus a no-op implementation).
//!
//! | trait | read by | memory implementation |
//! |---|---|---|
//! | [`ScoreBook`] | gossip (application scores in, snapshots out), sync (req-resp outcomes), gating (the peer monitor, trimming, decay) | [`MemoryScoreBook`], [`NoopScoreBook`] |
//! | [`GateStore`] | gating (block lists and timed bans) | [`MemoryGateStore`] |
//! | [`PeerBook`] | the node's identify handling, static peers, discovery | [`MemoryPeerBook`] |
//! | [`DiscoveryTableStore`] | discovery (the discv5 table between runs) | [`MemoryDiscoveryTable`] |
//! | [`Clock`] | everything that reads time | [`SystemClock`], [`ManualClock`] |
//!
//! # Nothing waits on the swarm task
//! Behaviours call these traits from the task that drives the swarm, so every trait says what an
//! implementation may do there: score and peer records are queued (and may be dropped and logged
//! under overload, since the next event restores them), gate rules are written at once because
//! a ban must survive a crash right after it is reported, and must be quick. A payload source
//! (`op-p2p-reqresp-sync`) is asynchronous and reads on a blocking thread.
//!
//! Also here, so there is one of each: the score values and op-node's score constants
//! ([`PeerScores`], [`ReqRespEvent`], [`score_decay`]), identify and discovery metadata
//! ([`IdentifyInfo`], [`PeerMetadata`]), and [`UnsafePayload`], the block a peer gave us as
//! gossip and sync both hand it to the application.
//!
//! # Feature flags
//! - `test-utils`: [`test_utils`], real TCP + noise + yamux swarms on tokio and listen, dial and
//!   drive helpers, the one swarm builder of the workspace's tests and benches.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod clock;
mod discovery_table;
mod error;
mod gate_store;
mod info;
mod payload;
mod peer_book;
mod score_book;
mod scores;

#[cfg(feature = "test-utils")]
pub mod test_utils;

pub use self::{
    clock::{Clock, ManualClock, Sleep, SystemClock},
    discovery_table::{
        DiscoveryTableStore, MAX_RECORD_TEXT, MAX_TABLE_RECORDS, MemoryDiscoveryTable,
        retained_records,
    },
    error::Error,
    gate_store::{GateRules, GateStore, MemoryGateStore},
    info::{IdentifyInfo, PeerMetadata},
    payload::UnsafePayload,
    peer_book::{
        DISCOVERED_ADDR_TTL, DiscoveryRecord, IDENTIFY_ADDR_TTL, IdentifyRecord, MemoryPeerBook,
        PeerBook,
    },
    score_book::{MemoryScoreBook, NoopScoreBook, ScoreBook},
    scores::{
        APP_SCORE_DECAY_EPOCHS, BlocksTopicScores, DECAY_TO_ZERO, ERROR_RESPONSE_CAP,
        ERROR_RESPONSE_WEIGHT, GossipScores, PeerScores, REJECTED_PAYLOAD_CAP,
        REJECTED_PAYLOAD_WEIGHT, ReqRespEvent, ReqRespScores, SCORE_RETAIN_EPOCHS, SLOTS_PER_EPOCH,
        VALID_RESPONSE_CAP, VALID_RESPONSE_WEIGHT, score_decay,
    },
};

/// Re-exported so implementers need no version matching with libp2p.
pub use libp2p_core::Multiaddr;
pub use libp2p_identity::{PeerId, PublicKey};
