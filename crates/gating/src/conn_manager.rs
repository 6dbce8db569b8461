//! The connection manager (spec §8): keeps the number of connected peers between op-node's low
//! and high water marks by trimming the least valuable peers, never the protected ones, and
//! keeps the static peers connected.
//!
//! go-libp2p's `connmgr` as op-node configures it, as a
//! [`NetworkBehaviour`](libp2p_swarm::NetworkBehaviour) with a dummy handler: when more than
//! [`Config::high_water`] peers are connected it closes peers down to [`Config::low_water`],
//! choosing among peers whose grace period has passed, lowest score first, then the longest
//! connected; peers protected under any tag ([`STATIC_TAG`], [`API_PROTECTED_TAG`], …) are
//! never closed. Scores come from a [`ScoreBook`](op_p2p_api::ScoreBook)
//! ([`Behaviour::with_score_book`], read at trim time) or are pushed with
//! [`Behaviour::set_score`].
//!
//! Static peers ([`Behaviour::add_static_peer`]) are protected under [`STATIC_TAG`], dialled at
//! once and redialled while disconnected.
//!
//! # Where this differs from op-node
//! - **Static peers are redialled with a per-peer exponential backoff**, from
//!   [`STATIC_INITIAL_BACKOFF`] (1 s) doubling to [`STATIC_MAX_BACKOFF`] (1 min) and reset once
//!   the peer connects. op-node's `monitorStaticPeers` redials every disconnected static peer
//!   on a fixed one-minute tick: here a peer that restarts is back within a second or two, and
//!   one that stays down is still tried only once a minute.
//! - **Trimming reads the score book when it trims**: each candidate's last gossip score
//!   snapshot, so the order is as fresh as the book (15 s snapshots), not as old as the last
//!   time something pushed a score into the manager.
//! - **The static peer's address is not written to a peer book** by this behaviour (op-node
//!   adds it to its peer store for 7 days); the dial carries it, and the node may record it.

mod behaviour;
mod config;
mod static_peers;

pub use self::{
    behaviour::{API_PROTECTED_TAG, Behaviour, STATIC_TAG, TRIM_INTERVAL},
    config::{Config, DEFAULT_GRACE_PERIOD, DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER},
    static_peers::{STATIC_INITIAL_BACKOFF, STATIC_MAX_BACKOFF},
};
