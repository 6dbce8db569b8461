//! Connection gating and connection management for op-p2p, as rust-libp2p behaviours.
//!
//! rust-libp2p has no connection gater: a [`NetworkBehaviour`](libp2p_swarm::NetworkBehaviour)
//! whose connection hooks return [`ConnectionDenied`](libp2p_swarm::ConnectionDenied) plays that
//! role. This crate has two, both with a dummy connection handler:
//!
//! - [`Behaviour`] (`gating::Behaviour`): op-node's gater chain `Metered(Expiry(Basic))`
//!   (spec §7) in one behaviour:
//!   - *Basic*: permanent block lists of peers, IPs and subnets (CIDR);
//!   - *Expiry*: timed peer and IP bans that lift themselves when they expire (the expired record
//!     is deleted and an unban is counted); a low [reported score](Behaviour::report_score) bans
//!     the peer for an hour unless it is protected, and op-node's peer monitor
//!     ([`Behaviour::with_score_book`]) reports one connected peer's score from a
//!     [`ScoreBook`](op_p2p_api::ScoreBook) every second and decays the connected peers'
//!     application scores once a slot;
//!   - *Metering*: [`Metrics`] counts allowed and denied dials and accepts and the unbans;
//!   - and op-node's unwired scoring gater as an opt-in [minimum score](Config::with_min_score).
//!
//!   Denials are [`Denied`] errors (downcast them from `ConnectionDenied`) with a [`DenyReason`].
//! - [`conn_manager::Behaviour`]: op-node's connection manager (spec §8), trimming the peer count
//!   from the high to the low water mark, sparing protected (static) peers and peers in their
//!   grace period, and dialling and redialling the static peers.
//!
//! Both depend on `op-p2p-api`'s storage traits, never on a database: the rules persist through
//! a [`GateStore`](op_p2p_api::GateStore) (`op-p2p-peerstore`'s RocksDB store in the node, a
//! [`MemoryGateStore`](op_p2p_api::MemoryGateStore) in tests), and time comes from an injected
//! [`Clock`](op_p2p_api::Clock).
//!
//! # Where this differs from op-node
//! - **Inbound is gated as strictly as outbound.** The remote IP is checked before the handshake
//!   (`handle_pending_inbound_connection`), the peer once authenticated; outbound dials are
//!   checked before dialling and again once the peer's identity and address are known, where
//!   op-node lets every outbound connection through its `InterceptSecured`.
//! - **Bans survive restarts** (with a persistent [`GateStore`](op_p2p_api::GateStore)). Blocks
//!   and timed bans are written through the store and loaded into memory at construction; no
//!   connection check touches storage (lifting an expired ban writes its deletion).
//! - **Blocking closes existing connections** of the peer, IP or subnet (op-node's basic gater
//!   leaves them open; its `BanPeer`/`BanIP` close them, as every ban here does).
//! - **The peer monitor and decay run inside the behaviour**, on the injected clock, where
//!   op-node runs them as goroutines beside the host; the monitor reads the score book's last
//!   gossip snapshot, as op-node's does, and bans through the same path as
//!   [`Behaviour::report_score`].
//! - **A dial with a denied address is refused whole**: a rust-libp2p behaviour cannot remove an
//!   address from a dial, so callers filter addresses with [`Behaviour::is_address_allowed`]
//!   where op-node's `InterceptAddrDial` judges each address.
//!
//! # Ordering
//! The derived `NetworkBehaviour` calls each field's connection hooks in declaration order and
//! stops at the first denial, so **the gating behaviour must be the first field**: a behaviour
//! before it would see (and could act on) connections that are about to be refused. The
//! connection manager comes after it, so it only counts connections every gate allowed.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//!
//! use libp2p_swarm::NetworkBehaviour;
//! use op_p2p_api::{MemoryGateStore, MemoryScoreBook, SystemClock};
//! use op_p2p_gating::conn_manager;
//!
//! #[derive(NetworkBehaviour)]
//! #[behaviour(prelude = "libp2p_swarm::derive_prelude")]
//! struct Node {
//!     gating: op_p2p_gating::Behaviour, // first: refuses before anything else sees it
//!     conn_manager: conn_manager::Behaviour,
//!     // identify, ping, gossipsub, sync, …
//! }
//!
//! // The node passes `op-p2p-peerstore`'s RocksDB store here, so bans survive restarts.
//! let store = Arc::new(MemoryGateStore::new());
//! let clock = Arc::new(SystemClock::new());
//! let scores = Arc::new(MemoryScoreBook::new());
//! let slot = Duration::from_secs(2); // the rollup's block time
//! let mut node = Node {
//!     gating: op_p2p_gating::Behaviour::new(store, clock, op_p2p_gating::Config::default())?
//!         .with_score_book(scores.clone(), slot), // the peer monitor
//!     conn_manager: conn_manager::Behaviour::new(conn_manager::Config::default())?
//!         .with_score_book(scores),
//! };
//! node.gating.block_subnet("192.0.2.0/24".parse()?)?;
//! assert!(!node.gating.is_address_allowed(&"/ip4/192.0.2.1/tcp/9222".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod behaviour;
mod config;
pub mod conn_manager;
mod denied;
mod error;
mod ip;
mod metrics;
mod subnets;
mod ticker;

pub use self::{
    behaviour::{Behaviour, MAX_TRACKED_SCORES, PEER_MONITOR_INTERVAL, SWEEP_INTERVAL},
    config::{
        Config, DEFAULT_BAN_DURATION, DEFAULT_BAN_PEERS, DEFAULT_BAN_THRESHOLD, GraylistCutoff,
    },
    denied::{Denied, DenyReason},
    error::Error,
    metrics::Metrics,
};
