//! The connection manager (spec §8): keeps the number of connected peers between op-node's low
//! and high water marks by trimming the least valuable peers, never the protected ones.
//!
//! go-libp2p's `connmgr` as op-node configures it, as a
//! [`NetworkBehaviour`](libp2p_swarm::NetworkBehaviour) with a dummy handler: when more than
//! [`Config::high_water`] peers are connected it closes peers down to [`Config::low_water`],
//! choosing among peers whose grace period has passed, lowest score first, then the longest
//! connected; peers protected under any tag ([`STATIC_TAG`], [`API_PROTECTED_TAG`], …) are
//! never closed.

mod behaviour;
mod config;

pub use self::{
    behaviour::{API_PROTECTED_TAG, Behaviour, STATIC_TAG, TRIM_INTERVAL},
    config::{Config, DEFAULT_GRACE_PERIOD, DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER},
};
