//! The node's one [`NetworkBehaviour`]: the gates first, then identify, ping and gossip.
//!
//! The derive runs each field's connection hooks in declaration order and stops at the first
//! denial (style §3.1), so the order is deliberate:
//! 1. `gating`: block lists, timed bans, the score gate; refuses before anything else sees a
//!    connection;
//! 2. `conn_manager`: counts and trims only connections every gate allowed;
//! 3. `identify`, `ping`, `gossip` (op-p2p-gossip's behaviour: gossipsub, validation, scores);
//! 4. `sync`: payload_by_number (server and client), present when `p2p.sync.req-resp` is on;
//!    see [`crate::gap`];
//! 5. `discovery`: op-node's dial loop over the records discv5 found (absent with
//!    `p2p.no-discovery`); its dials pass the gates above like any other.

use std::{convert::Infallible, time::Duration};

use libp2p_identify as identify;
use libp2p_identity::Keypair;
use libp2p_ping as ping;
use libp2p_swarm::{NetworkBehaviour, behaviour::toggle::Toggle};
use op_p2p_gating::conn_manager;

use crate::payload_store::PayloadStore;

/// The payload_by_number behaviour, serving from the node's payload store.
pub(crate) type SyncBehaviour = op_p2p_reqresp_sync::Behaviour<PayloadStore>;

/// The identify protocol version: op-node does not set one, so go-libp2p's default applies
/// (`ipfs/0.1.0`; the protocol reference marks this as not confirmed against op-node itself).
pub(crate) const IDENTIFY_PROTOCOL_VERSION: &str = "ipfs/0.1.0";
/// How often a peer is pinged: op-node's ping service interval (`pingInterval`, 3 min).
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(3 * 60);
/// How long a ping may take: go-libp2p's ping timeout (10 s).
pub(crate) const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// The node's behaviour.
#[derive(NetworkBehaviour)]
#[behaviour(to_swarm = "NodeEvent", prelude = "libp2p_swarm::derive_prelude")]
pub(crate) struct NodeBehaviour {
    /// Connection gating: first, so refused connections reach nothing else.
    pub(crate) gating: op_p2p_gating::Behaviour,
    /// The connection manager: water marks, grace period, protected (static) peers.
    pub(crate) conn_manager: conn_manager::Behaviour,
    /// libp2p identify, with op-node's user agent.
    pub(crate) identify: identify::Behaviour,
    /// libp2p ping.
    pub(crate) ping: ping::Behaviour,
    /// Block gossip.
    pub(crate) gossip: op_p2p_gossip::Behaviour,
    /// payload_by_number sync; disabled with `--p2p.sync.req-resp=false`.
    pub(crate) sync: Toggle<SyncBehaviour>,
    /// The discovery dial loop; disabled with `--p2p.no-discovery`.
    pub(crate) discovery: Toggle<op_p2p_discovery::Behaviour>,
}

/// What the behaviour reports to the event loop (the gates report nothing).
#[derive(Debug)]
pub(crate) enum NodeEvent {
    /// identify (boxed: an `Info` is large).
    Identify(Box<identify::Event>),
    /// ping.
    Ping(ping::Event),
    /// Block gossip.
    Gossip(op_p2p_gossip::Event),
    /// payload_by_number sync.
    Sync(op_p2p_reqresp_sync::Event),
}

impl From<Infallible> for NodeEvent {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

impl From<identify::Event> for NodeEvent {
    fn from(event: identify::Event) -> Self {
        Self::Identify(Box::new(event))
    }
}

impl From<ping::Event> for NodeEvent {
    fn from(event: ping::Event) -> Self {
        Self::Ping(event)
    }
}

impl From<op_p2p_reqresp_sync::Event> for NodeEvent {
    fn from(event: op_p2p_reqresp_sync::Event) -> Self {
        Self::Sync(event)
    }
}

impl From<op_p2p_gossip::Event> for NodeEvent {
    fn from(event: op_p2p_gossip::Event) -> Self {
        Self::Gossip(event)
    }
}

/// identify as op-node runs it: go-libp2p's protocol version, `p2p.useragent` as the agent.
pub(crate) fn identify(key: &Keypair, user_agent: &str) -> identify::Behaviour {
    identify::Behaviour::new(
        identify::Config::new(IDENTIFY_PROTOCOL_VERSION.to_owned(), key.public())
            .with_agent_version(user_agent.to_owned()),
    )
}

/// ping at op-node's interval and go-libp2p's timeout.
pub(crate) fn ping() -> ping::Behaviour {
    ping::Behaviour::new(
        ping::Config::new()
            .with_interval(PING_INTERVAL)
            .with_timeout(PING_TIMEOUT),
    )
}
