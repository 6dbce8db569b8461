//! [`Config`]: the gossip settings op-node exposes, with op-node's defaults, and the gossipsub
//! router configuration built from them (spec §3.1).

use std::time::Duration;

use libp2p_gossipsub as gossipsub;
use op_p2p_types::{MAX_GOSSIP_SIZE, message_id};

use crate::{error::Error, flood_guard::FloodCutoff, peer_score::ScoringMode};

/// Mesh degree D (op-node `DefaultMeshD`, flag `p2p.gossip.mesh.d`).
pub const DEFAULT_MESH_D: usize = 8;
/// Lower mesh bound Dlo (op-node `DefaultMeshDlo`, flag `p2p.gossip.mesh.lo`).
pub const DEFAULT_MESH_DLO: usize = 6;
/// Upper mesh bound Dhi (op-node `DefaultMeshDhi`, flag `p2p.gossip.mesh.dhi`).
pub const DEFAULT_MESH_DHI: usize = 12;
/// Gossip emission degree Dlazy (op-node `DefaultMeshDlazy`, flag `p2p.gossip.mesh.dlazy`).
pub const DEFAULT_MESH_DLAZY: usize = 6;
/// The largest value op-node's `Config.Check` allows for D, Dlo, Dhi and Dlazy (the smallest is 1).
pub const MAX_MESH_PARAMETER: usize = 1000;
/// Peers kept by score when pruning an oversubscribed mesh (go-libp2p-pubsub default Dscore).
pub const MESH_DSCORE: usize = 4;
/// Outbound peers kept in the mesh (go-libp2p-pubsub default Dout). Lowered to fit a smaller D,
/// since rust-libp2p requires `Dout <= Dlo` and `2 * Dout <= D`.
pub const MESH_DOUT: usize = 2;

/// Heartbeat interval (op-node `gossipHeartbeat`).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);
/// Delay before the first heartbeat (go-libp2p-pubsub default; rust-libp2p's is 5 s).
pub const HEARTBEAT_INITIAL_DELAY: Duration = Duration::from_millis(100);
/// How long fanout state for a topic we publish to but are not subscribed to lives (op-node).
pub const FANOUT_TTL: Duration = Duration::from_secs(24);
/// Heartbeats of messages kept in the message cache (op-node `HistoryLength`).
pub const HISTORY_LENGTH: usize = 12;
/// Heartbeats of the message cache advertised in IHAVE gossip (op-node `HistoryGossip`).
pub const HISTORY_GOSSIP: usize = 3;
/// How long a message id stays in the seen cache: 130 heartbeats of 500 ms (op-node
/// `seenMessagesTTL`).
pub const SEEN_MESSAGES_TTL: Duration = Duration::from_millis(130 * 500);
/// Share of non-mesh peers gossip is emitted to (go-libp2p-pubsub default).
pub const GOSSIP_FACTOR: f64 = 0.25;
/// How often a peer may IWANT the same message (go-libp2p-pubsub default).
pub const GOSSIP_RETRANSMISSION: u32 = 3;
/// Backoff after a PRUNE (go-libp2p-pubsub default).
pub const PRUNE_BACKOFF: Duration = Duration::from_secs(60);
/// Backoff after unsubscribing (go-libp2p-pubsub default).
pub const UNSUBSCRIBE_BACKOFF: Duration = Duration::from_secs(10);
/// Heartbeats between reconnection attempts to direct peers (go-libp2p-pubsub
/// `DirectConnectTicks`).
pub const DIRECT_CONNECT_TICKS: u64 = 300;
/// Heartbeats between opportunistic grafts (go-libp2p-pubsub default).
pub const OPPORTUNISTIC_GRAFT_TICKS: u64 = 60;
/// Peers grafted per opportunistic graft (go-libp2p-pubsub default).
pub const OPPORTUNISTIC_GRAFT_PEERS: usize = 2;
/// A GRAFT this soon after a PRUNE earns an extra behaviour penalty (go-libp2p-pubsub default).
pub const GRAFT_FLOOD_THRESHOLD: Duration = Duration::from_secs(10);
/// Message ids accepted from, or sent to, one peer in IHAVE per heartbeat (go-libp2p-pubsub
/// `MaxIHaveLength`; rust-libp2p's `max_control_messages_sent`).
pub const MAX_IHAVE_LENGTH: usize = 5000;
/// IHAVE messages accepted from one peer per heartbeat (go-libp2p-pubsub `MaxIHaveMessages`).
pub const MAX_IHAVE_MESSAGES: usize = 10;
/// How long a peer has to deliver a message it advertised (go-libp2p-pubsub default).
pub const IWANT_FOLLOWUP_TIME: Duration = Duration::from_secs(3);
/// Messages at least this large trigger IDONTWANT (go-libp2p-pubsub default; rust-libp2p's is
/// 1000).
pub const IDONTWANT_MESSAGE_THRESHOLD: usize = 1024;

/// Default for how far in the past a block's timestamp may lie (op-node
/// `p2p.gossip.timestamp.threshold`).
pub const DEFAULT_TIMESTAMP_THRESHOLD: Duration = Duration::from_secs(60);
/// Validations that run at once (op-node's per-topic validator concurrency).
pub const DEFAULT_VALIDATION_CONCURRENCY: usize = 4;
/// How long one validation may take before the message is ignored (op-node's validator
/// timeout, which op-node itself never enforces because its validator ignores the context).
pub const DEFAULT_VALIDATION_TIMEOUT: Duration = Duration::from_secs(3);
/// Messages waiting for validation before new ones are ignored (op-node
/// `WithValidateQueueSize`).
pub const DEFAULT_VALIDATION_QUEUE_SIZE: usize = 256;
/// Messages one peer may have waiting for or in validation before its further messages are
/// ignored ([`crate::Reason::PeerBusy`]). Not an op-node setting: op-node bounds validation
/// globally only, so one peer can fill its whole queue.
pub const DEFAULT_VALIDATION_QUEUE_PER_PEER: usize = 16;
/// Messages buffered for sending to one peer (op-node `WithPeerOutboundQueueSize`; in
/// rust-libp2p the per-connection handler queue).
pub const DEFAULT_PEER_OUTBOUND_QUEUE_SIZE: usize = 256;
/// How often gossip scores are snapshot into the score book and application scores pushed into
/// gossipsub (op-node `peerScoreInspectFrequency`).
pub const SCORE_INSPECT_INTERVAL: Duration = Duration::from_secs(15);

/// The gossip settings, defaulting to op-node's.
///
/// Build with [`Config::default`] and the `with_*` setters; [`Config::validate`] checks the
/// invariants op-node's `Config.Check` and rust-libp2p enforce.
///
/// go-libp2p-pubsub's global validate throttle (512 validations in flight) has no separate
/// knob here: the behaviour keeps at most [`Self::validation_queue_size`] messages waiting for
/// or in validation, at most [`Self::validation_queue_per_peer`] of them from one peer.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Mesh degree D.
    pub mesh_d: usize,
    /// Lower mesh bound Dlo.
    pub mesh_dlo: usize,
    /// Upper mesh bound Dhi.
    pub mesh_dhi: usize,
    /// Gossip degree Dlazy.
    pub mesh_dlazy: usize,
    /// Send our own blocks to every subscribed peer instead of the mesh only (op-node
    /// `p2p.gossip.mesh.floodpublish`, default off).
    pub flood_publish: bool,
    /// Peer scoring (op-node `p2p.scoring`, default light).
    pub scoring: ScoringMode,
    /// Score invalid deliveries (P4) on the blocks topics. On by default; a deliberate
    /// difference from op-node, see [`crate::peer_score_params`]. Has no effect when
    /// [`Self::scoring`] is [`ScoringMode::None`].
    pub invalid_message_scoring: bool,
    /// How far in the past a block's timestamp may lie.
    pub timestamp_threshold: Duration,
    /// Validations that run at once.
    pub validation_concurrency: usize,
    /// How long one validation may take before the message is ignored.
    pub validation_timeout: Duration,
    /// Messages waiting for validation before new ones are ignored.
    pub validation_queue_size: usize,
    /// Messages one peer may have waiting for or in validation before its further messages are
    /// ignored; the pipeline also serves peers in turn, so a peer flooding blocks (say, signed
    /// by its own key, which costs us a signature recovery each and no score) gets at most its
    /// share of the validation work. Our addition; op-node has no per-peer bound.
    pub validation_queue_per_peer: usize,
    /// When a peer that keeps overflowing [`Self::validation_queue_per_peer`] is disconnected
    /// and reported ([`crate::Event::FloodCutOff`]); `None` only refuses its excess. Our
    /// addition, like the per-peer bound: see [`FloodCutoff`] for why no honest peer reaches it.
    pub flood_cutoff: Option<FloodCutoff>,
    /// Messages buffered for sending to one peer.
    pub peer_outbound_queue_size: usize,
    /// How often application scores go into gossipsub and gossip score snapshots into the
    /// score book (op-node's `peerScoreInspectFrequency`, 15 s).
    pub score_inspect_interval: Duration,
    /// IPs exempt from the IP-colocation penalty (P6). Empty, as op-node's. Loopback addresses
    /// need no entry: like go-libp2p-pubsub, P6 skips them (see [`crate::IpColocation`]). For
    /// operators whose peers reach them through one address that is not loopback (a NAT).
    pub ip_colocation_whitelist: Vec<std::net::IpAddr>,
    /// Count loopback addresses in P6. Off, as go-libp2p-pubsub (which skips loopback
    /// connections); for tests that check the colocation count on 127.0.0.1.
    pub ip_colocation_count_loopback: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mesh_d: DEFAULT_MESH_D,
            mesh_dlo: DEFAULT_MESH_DLO,
            mesh_dhi: DEFAULT_MESH_DHI,
            mesh_dlazy: DEFAULT_MESH_DLAZY,
            flood_publish: false,
            scoring: ScoringMode::Light,
            invalid_message_scoring: true,
            timestamp_threshold: DEFAULT_TIMESTAMP_THRESHOLD,
            validation_concurrency: DEFAULT_VALIDATION_CONCURRENCY,
            validation_timeout: DEFAULT_VALIDATION_TIMEOUT,
            validation_queue_size: DEFAULT_VALIDATION_QUEUE_SIZE,
            validation_queue_per_peer: DEFAULT_VALIDATION_QUEUE_PER_PEER,
            flood_cutoff: Some(FloodCutoff::DEFAULT),
            peer_outbound_queue_size: DEFAULT_PEER_OUTBOUND_QUEUE_SIZE,
            score_inspect_interval: SCORE_INSPECT_INTERVAL,
            ip_colocation_whitelist: Vec::new(),
            ip_colocation_count_loopback: false,
        }
    }
}

impl Config {
    /// Sets D, Dlo, Dhi and Dlazy.
    pub const fn with_mesh(mut self, d: usize, dlo: usize, dhi: usize, dlazy: usize) -> Self {
        self.mesh_d = d;
        self.mesh_dlo = dlo;
        self.mesh_dhi = dhi;
        self.mesh_dlazy = dlazy;
        self
    }

    /// Sets how often scores are inspected (zero is taken as op-node's 15 s).
    pub const fn with_score_inspect_interval(mut self, interval: Duration) -> Self {
        self.score_inspect_interval = if interval.is_zero() {
            SCORE_INSPECT_INTERVAL
        } else {
            interval
        };
        self
    }

    /// Exempts `ips` from the IP-colocation penalty (see [`Self::ip_colocation_whitelist`]).
    pub fn with_ip_colocation_whitelist(mut self, ips: Vec<std::net::IpAddr>) -> Self {
        self.ip_colocation_whitelist = ips;
        self
    }

    /// Counts loopback addresses in the IP-colocation penalty (see
    /// [`Self::ip_colocation_count_loopback`]).
    pub const fn with_ip_colocation_count_loopback(mut self, on: bool) -> Self {
        self.ip_colocation_count_loopback = on;
        self
    }

    /// Sets how many messages one peer may have waiting for or in validation.
    pub const fn with_validation_queue_per_peer(mut self, size: usize) -> Self {
        self.validation_queue_per_peer = size;
        self
    }

    /// Sets when a flooding peer is cut off (`None`: never, only its excess is refused).
    pub const fn with_flood_cutoff(mut self, cutoff: Option<FloodCutoff>) -> Self {
        self.flood_cutoff = cutoff;
        self
    }

    /// Turns flood publishing on or off.
    pub const fn with_flood_publish(mut self, on: bool) -> Self {
        self.flood_publish = on;
        self
    }

    /// Sets the peer-scoring mode.
    pub const fn with_scoring(mut self, scoring: ScoringMode) -> Self {
        self.scoring = scoring;
        self
    }

    /// Turns invalid-delivery (P4) scoring on the blocks topics on or off.
    pub const fn with_invalid_message_scoring(mut self, on: bool) -> Self {
        self.invalid_message_scoring = on;
        self
    }

    /// Sets how far in the past a block's timestamp may lie.
    pub const fn with_timestamp_threshold(mut self, threshold: Duration) -> Self {
        self.timestamp_threshold = threshold;
        self
    }

    /// Sets how many validations run at once.
    pub const fn with_validation_concurrency(mut self, concurrency: usize) -> Self {
        self.validation_concurrency = concurrency;
        self
    }

    /// Sets how long one validation may take.
    pub const fn with_validation_timeout(mut self, timeout: Duration) -> Self {
        self.validation_timeout = timeout;
        self
    }

    /// Sets how many messages may wait for validation.
    pub const fn with_validation_queue_size(mut self, size: usize) -> Self {
        self.validation_queue_size = size;
        self
    }

    /// Sets how many messages are buffered for sending to one peer.
    pub const fn with_peer_outbound_queue_size(mut self, size: usize) -> Self {
        self.peer_outbound_queue_size = size;
        self
    }

    /// Checks op-node's bounds (each mesh parameter in 1..=1000) and the ordering gossipsub
    /// needs (Dlo ≤ D ≤ Dhi), and that every queue, the concurrency and the timeout are
    /// non-zero.
    pub fn validate(&self) -> Result<(), Error> {
        for (name, value) in [
            ("D", self.mesh_d),
            ("Dlo", self.mesh_dlo),
            ("Dhi", self.mesh_dhi),
            ("Dlazy", self.mesh_dlazy),
        ] {
            if !(1..=MAX_MESH_PARAMETER).contains(&value) {
                return Err(Error::MeshParameterOutOfRange { name, value });
            }
        }
        if !(self.mesh_dlo <= self.mesh_d && self.mesh_d <= self.mesh_dhi) {
            return Err(Error::MeshOrder {
                dlo: self.mesh_dlo,
                d: self.mesh_d,
                dhi: self.mesh_dhi,
            });
        }
        for (name, value) in [
            ("validation concurrency", self.validation_concurrency),
            ("validation queue size", self.validation_queue_size),
            ("validation queue per peer", self.validation_queue_per_peer),
            ("peer outbound queue size", self.peer_outbound_queue_size),
        ] {
            if value == 0 {
                return Err(Error::Zero(name));
            }
        }
        if self.validation_timeout.is_zero() {
            return Err(Error::Zero("validation timeout"));
        }
        if let Some(cutoff) = self.flood_cutoff {
            if cutoff.refusals == 0 {
                return Err(Error::Zero("flood cut-off refusals"));
            }
            if cutoff.window.is_zero() {
                return Err(Error::Zero("flood cut-off window"));
            }
        }
        Ok(())
    }

    /// The gossipsub router configuration (spec §3.1): op-node's mesh, heartbeat, history,
    /// seen-cache and publish settings, go-libp2p-pubsub's defaults where op-node keeps them,
    /// floodsub support (`/floodsub/1.0.0` next to `/meshsub/1.x`), anonymous messages with strict no-sign validation, manual validation, the 10 MiB limit
    /// and op-node's topic-bound message id.
    pub fn gossipsub_config(&self) -> Result<gossipsub::Config, Error> {
        self.gossipsub_config_with_id(gossip_message_id)
    }

    /// [`Self::gossipsub_config`] with `message_id` as the id function (which must compute
    /// [`gossip_message_id`]; the behaviour's also keeps the decompressed bytes).
    pub(crate) fn gossipsub_config_with_id(
        &self,
        message_id: impl Fn(&gossipsub::Message) -> gossipsub::MessageId + Send + Sync + 'static,
    ) -> Result<gossipsub::Config, Error> {
        self.validate()?;
        let dout = MESH_DOUT.min(self.mesh_dlo).min(self.mesh_d / 2);
        let config = gossipsub::ConfigBuilder::default()
            .mesh_n(self.mesh_d)
            .mesh_n_low(self.mesh_dlo)
            .mesh_n_high(self.mesh_dhi)
            .gossip_lazy(self.mesh_dlazy)
            .mesh_outbound_min(dout)
            .retain_scores(MESH_DSCORE)
            .heartbeat_interval(HEARTBEAT_INTERVAL)
            .heartbeat_initial_delay(HEARTBEAT_INITIAL_DELAY)
            .fanout_ttl(FANOUT_TTL)
            .history_length(HISTORY_LENGTH)
            .history_gossip(HISTORY_GOSSIP)
            .duplicate_cache_time(SEEN_MESSAGES_TTL)
            .flood_publish(self.flood_publish)
            .gossip_factor(GOSSIP_FACTOR)
            .gossip_retransimission(GOSSIP_RETRANSMISSION)
            .prune_backoff(PRUNE_BACKOFF)
            .unsubscribe_backoff(UNSUBSCRIBE_BACKOFF)
            .check_explicit_peers_ticks(DIRECT_CONNECT_TICKS)
            .opportunistic_graft_ticks(OPPORTUNISTIC_GRAFT_TICKS)
            .opportunistic_graft_peers(OPPORTUNISTIC_GRAFT_PEERS)
            .graft_flood_threshold(GRAFT_FLOOD_THRESHOLD)
            .max_control_messages_sent(MAX_IHAVE_LENGTH)
            .max_ihave_messages_heartbeat(MAX_IHAVE_MESSAGES)
            .iwant_followup_time(IWANT_FOLLOWUP_TIME)
            .idontwant_message_size_threshold(IDONTWANT_MESSAGE_THRESHOLD)
            .connection_handler_queue_len(self.peer_outbound_queue_size)
            .max_transmit_size(MAX_GOSSIP_SIZE)
            // op-node: `WithNoAuthor` + `StrictNoSign`. Peer exchange stays off (the default).
            .validation_mode(gossipsub::ValidationMode::Anonymous)
            .validate_messages()
            .message_id_fn(message_id)
            // go-libp2p-pubsub's gossipsub also speaks `/floodsub/1.0.0`, so op-node advertises
            // it and floods floodsub peers every message of the topics they subscribe to.
            .support_floodsub()
            .build()?;
        Ok(config)
    }
}

/// op-node's message id for a gossipsub message: a pure function of its topic and data.
pub fn gossip_message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    gossipsub::MessageId::new(&message_id(message.topic.as_str(), &message.data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_op_nodes() {
        let config = Config::default();
        assert_eq!(
            (
                config.mesh_d,
                config.mesh_dlo,
                config.mesh_dhi,
                config.mesh_dlazy
            ),
            (8, 6, 12, 6)
        );
        assert!(!config.flood_publish);
        assert_eq!(config.timestamp_threshold, Duration::from_secs(60));
        assert_eq!(SEEN_MESSAGES_TTL, Duration::from_secs(65));

        let gs = config.gossipsub_config().unwrap();
        assert_eq!(gs.mesh_n(), 8);
        assert_eq!(gs.mesh_n_low(), 6);
        assert_eq!(gs.mesh_n_high(), 12);
        assert_eq!(gs.gossip_lazy(), 6);
        assert_eq!(gs.mesh_outbound_min(), 2);
        assert_eq!(gs.retain_scores(), 4);
        assert_eq!(gs.heartbeat_interval(), Duration::from_millis(500));
        assert_eq!(gs.fanout_ttl(), Duration::from_secs(24));
        assert_eq!(gs.history_length(), 12);
        assert_eq!(gs.history_gossip(), 3);
        assert_eq!(gs.duplicate_cache_time(), Duration::from_secs(65));
        assert!(!gs.flood_publish());
        assert!(!gs.do_px());
        assert!(gs.validate_messages());
        assert!(matches!(
            gs.validation_mode(),
            gossipsub::ValidationMode::Anonymous
        ));
        assert_eq!(gs.max_transmit_size(), 10 * 1024 * 1024);
        assert_eq!(gs.connection_handler_queue_len(), 256);
        assert!(gs.support_floodsub());
    }

    #[test]
    fn message_id_is_op_nodes() {
        let message = gossipsub::Message {
            source: None,
            data: vec![1, 2, 3],
            sequence_number: None,
            topic: gossipsub::TopicHash::from_raw("/optimism/10/3/blocks"),
        };
        let id = gossip_message_id(&message);
        assert_eq!(
            id.0,
            message_id("/optimism/10/3/blocks", &[1, 2, 3]).to_vec()
        );
    }

    #[test]
    fn validate_checks_op_node_bounds_and_order() {
        assert!(matches!(
            Config::default().with_mesh(0, 0, 12, 6).validate(),
            Err(Error::MeshParameterOutOfRange { name: "D", .. })
        ));
        assert!(matches!(
            Config::default().with_mesh(8, 6, 1001, 6).validate(),
            Err(Error::MeshParameterOutOfRange { name: "Dhi", .. })
        ));
        assert!(matches!(
            Config::default().with_mesh(8, 9, 12, 6).validate(),
            Err(Error::MeshOrder { .. })
        ));
        assert!(matches!(
            Config::default().with_validation_concurrency(0).validate(),
            Err(Error::Zero(_))
        ));
        assert!(matches!(
            Config::default()
                .with_validation_timeout(Duration::ZERO)
                .validate(),
            Err(Error::Zero("validation timeout"))
        ));
        // A tiny mesh still builds: Dout shrinks to fit.
        let gs = Config::default()
            .with_mesh(1, 1, 1, 1)
            .gossipsub_config()
            .unwrap();
        assert_eq!(gs.mesh_outbound_min(), 0);
    }
}
