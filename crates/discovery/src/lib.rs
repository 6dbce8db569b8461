//! Peer discovery for op-p2p: discv5 with op-node's `opstack` ENR entry, its peer filter, and
//! its dial loop (spec §10).
//!
//! Two halves joined by a bounded channel ([`link`]):
//! - [`Discovery`]: the discv5 service on its own tokio task (discv5 runs its own tasks and
//!   wants an async caller). It binds UDP, signs the local ENR with the node's secp256k1 key
//!   ([`build_local_enr`]: `id`, `secp256k1`, `ip`, `tcp`, `udp`, [`OpStackEnr`]), loads the
//!   persisted table ([`DiscoveryTableStore`](op_p2p_api::DiscoveryTableStore)) and the
//!   [`Bootnode`]s, and feeds records that pass op-node's filter ([`check_record`]) to the dial
//!   loop: the table 3 s after start, then one per discover tick. A [`DiscoveryHandle`] gives
//!   the node the local ENR and the table.
//! - [`Behaviour`]: the dial loop as a `NetworkBehaviour` on the swarm task, storing records in
//!   the [`PeerBook`](op_p2p_api::PeerBook) and dialling below `p2p.peers.lo` through
//!   `ToSwarm::Dial`, so every gate of the swarm applies.
//!
//! Nothing here blocks the swarm task: the behaviour only reads its channel and its memory.
//! [`DiscoveryCounters`] counts accepted records, every skip reason, dials and their outcomes.
//!
//! The crate depends on `op-p2p-api`'s traits, never on a database: the RocksDB table store is
//! `op-p2p-peerstore`'s `DiscoveryTable`.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod behaviour;
mod bootnode;
mod config;
mod error;
mod filter;
mod key;
mod link;
mod local_enr;
mod metrics;
mod opstack;
mod service;

pub use self::{
    behaviour::{
        Behaviour, COLLECTIVE_DIAL_TIMEOUT, CONNECT_INTERVAL_FAST, CONNECT_INTERVAL_SLOW,
        CONNECTION_WORKERS, DENIED_BACKOFF, DIAL_TIMEOUT, DialConfig, MAX_CANDIDATES,
    },
    bootnode::{Bootnode, Enode, parse_bootnodes},
    config::{
        Config, DISCOVER_INTERVAL_FAST, DISCOVER_INTERVAL_SLOW, TABLE_KICKOFF_DELAY,
        TABLE_SAVE_INTERVAL,
    },
    error::Error,
    filter::{DiscoveredPeer, RecordFilter, SkipReason, check_record, within_netrestrict},
    key::{enr_key, libp2p_public_key, node_id, peer_id},
    link::{RECORD_CHANNEL_SIZE, RecordSink, RecordSource, Shared, link},
    local_enr::build_local_enr,
    metrics::{DiscoveryCounters, register_metrics},
    opstack::{OPSTACK_ENR_KEY, OPSTACK_VERSION, OpStackDecodeError, OpStackEnr},
    service::{Discovery, DiscoveryHandle},
};

/// The ENR type and key types, re-exported so embedders need no version matching.
pub use discv5::Enr;
pub use enr::{CombinedKey, CombinedPublicKey, NodeId};
