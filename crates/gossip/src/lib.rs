//! OP Stack block gossip on rust-libp2p gossipsub, behaving as op-node does on the wire.
//!
//! - [`Config`]: op-node's gossip settings and defaults, and the gossipsub router config built
//!   from them ([`Config::gossipsub_config`]: D 8 / Dlo 6 / Dhi 12 / Dlazy 6, 500 ms heartbeat,
//!   24 s fanout TTL, history 12/3, 65 s seen cache, no flood publish, no PX, 10 MiB messages,
//!   anonymous messages with strict no-sign validation, manual validation, op-node's
//!   topic-bound [`gossip_message_id`]).
//! - [`Behaviour`]: block gossip as one rust-libp2p `NetworkBehaviour`, composed with
//!   `#[derive(NetworkBehaviour)]`. It wraps the gossipsub router ([`new_gossipsub`]: the
//!   allow-list of the four blocks topics ([`subscription_filter`]), op-node's "light" peer
//!   scoring ([`peer_score_params`]) and a subscription to every blocks topic), validates every
//!   message off the swarm task, answers gossipsub once per message, keeps scores in step with
//!   the [`ScoreBook`](op_p2p_api::ScoreBook), publishes, and emits [`Event`]s: accepted blocks
//!   as [`UnsafePayload`](op_p2p_api::UnsafePayload)s with the peer they came from.
//! - [`Validator`]: every rule of op-node's blocks validator in op-node's order, with op-node's
//!   outcome ([`Outcome`]) and a typed [`Reason`]; time is an argument. The expected signer is an
//!   [`UnsafeBlockSigner`] that can be rotated at run time.
//! - [`ValidationPipeline`]: validation off the swarm task, bounded (queue 256, 16 per peer,
//!   4 at once, peers served in turn), with a 3 s timeout (ignore) and panic isolation (reject).
//! - [`Metrics`]: counters by outcome and reason and validation durations, no per-peer labels.
//!
//! # Bird's eye view
//! ```text
//!              ┌────────────── gossip::Behaviour (on the swarm task) ──────────────┐
//!  network ──▶ │ gossipsub ──Message──▶ try_submit ──▶ ValidationPipeline           │
//!              │     ▲                                  (4 workers, Validator)       │
//!              │     └── report_message_validation_result ◀── results ─────┘       │
//!              └────────────────────────────────┬─────────────────────────────────┘
//!                                               └──▶ Event::Block(UnsafePayload) ──▶ application
//! ```
//!
//! The crate depends on no storage engine: scores go through `op-p2p-api`'s `ScoreBook` trait
//! (the RocksDB implementation is in `op-p2p-peerstore`).
//!
//! # Example
//! Validate a block the way a node does, then see the per-height rule.
//! ```
//! use std::time::Duration;
//!
//! use op_p2p_gossip::{Outcome, Reason, UnsafeBlockSigner, Validator};
//! use op_p2p_types::{
//!     B256, BlockSigner, ExecutionPayload, ExecutionPayloadEnvelope, PayloadVersion,
//!     RollupConfig, SignedBlockMessage,
//! };
//!
//! let rollup = RollupConfig { l2_chain_id: 10, block_time: 2, ..Default::default() };
//! let key = BlockSigner::new(B256::repeat_byte(1))?;
//! let validator = Validator::new(
//!     rollup,
//!     UnsafeBlockSigner::new(key.address()),
//!     Duration::from_secs(60),
//! );
//!
//! let mut block = ExecutionPayloadEnvelope {
//!     parent_beacon_block_root: None,
//!     execution_payload: ExecutionPayload {
//!         block_number: 7,
//!         timestamp: 1_700_000_000,
//!         ..Default::default()
//!     },
//! };
//! block.execution_payload.block_hash = block.compute_block_hash()?;
//! let data = SignedBlockMessage::sign(&key, 10, &block).encode();
//!
//! let now = 1_700_000_001;
//! let verdict = validator.validate_message(PayloadVersion::V1, &data, now);
//! assert_eq!(verdict.outcome(), Outcome::Accept);
//! assert_eq!(verdict.envelope, Some(block));
//!
//! let again = validator.validate_message(PayloadVersion::V1, &data, now);
//! assert_eq!(again.reason, Some(Reason::DuplicateBlock));
//! assert_eq!(again.outcome(), Outcome::Ignore);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where we differ from op-node
//! - **What the score sees** ([`Reason::blame`], [`Reason::reported`]): a reject that depends
//!   on our own state (the signer we hold, our clock, our fork schedule, the blocks we saw at a
//!   height, a panic) is reported to gossipsub as an ignore: not forwarded, no penalty. Only a
//!   reject no honest forwarder can cause (a broken frame, signature bytes, layout, block hash)
//!   is a REJECT. The verdict and the metrics by reason stay op-node's.
//! - **P4 scoring** (on by default, [`Config::invalid_message_scoring`]): op-node scores no
//!   topic. We score invalid deliveries on the four blocks topics (weight −2 per topic, squared
//!   count, 100-epoch decay: 5 rejects put a peer below the −40 graylist threshold); it only
//!   ever counts rejects blamed on the message; see [`peer_score`](crate::peer_score_params).
//!   Local policy only: scores never go on the wire.
//! - **P6 over gossipsub peers** ([`IpColocation`]): go-libp2p-pubsub's count (pubsub peers
//!   only, loopback skipped) instead of rust-libp2p's (every connection), fed through the
//!   application score.
//! - **Bounded work per peer**: at most [`Config::validation_queue_per_peer`] messages of one
//!   peer in validation, and peers served in turn.
//! - **Exact per-height limit**: the record is checked and updated under one lock, so exactly 6
//!   distinct blocks per height pass (op-node: "a few more" under races).
//! - **The timeout is enforced**: op-node's 3 s validator timeout has no effect because its
//!   validator ignores the context; ours ignores a message after 3 s.
//! - **Refusing mis-versioned publishes**: [`Publisher`] refuses a payload whose layout is not
//!   the one scheduled at its timestamp instead of publishing it for every peer to reject.
//! - **Graylisted peers' scores written each second**: besides op-node's 15 s snapshots, the live
//!   score of a peer below the graylist threshold goes into the score book every second, so
//!   gating's graylist cut-off sees it before P4's decay lifts it back above the line.
//! - **Score snapshots carry the total only**: rust-libp2p's gossipsub reports a peer's total
//!   score, not its components, so [`GossipScores`](op_p2p_api::GossipScores) components stay 0.
//! - **Queues**: go-libp2p-pubsub's validate queue (256) and per-peer outbound queue (256) map
//!   to [`Config::validation_queue_size`] and gossipsub's connection-handler queue; its global
//!   validate throttle (512) has no separate equivalent (at most the queue size of messages
//!   wait for or are in validation). IDONTWANT's 3-heartbeat TTL has no rust-libp2p knob.
//!   Floodsub support is on, as in op-node: `/floodsub/1.0.0` is advertised next to
//!   `/meshsub/1.x`, and a floodsub peer gets every message of the topics it subscribes to.
//!
//! Matching op-node where the written spec differs: the topic-bound message id, the signature
//! checked before decoding, Jovian's non-zero `blobGasUsed`, 6 blocks per height, and the zero
//! signer giving ignore.
//!
//! # Feature flags
//! - `test-utils`: [`test_utils`], in-process test networks on the workspace's TCP test swarm
//!   (`op-p2p-api`'s `test-utils`) and block builders.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod behaviour;
mod colocation;
mod config;
mod decompressed;
mod error;
mod fair_queue;
mod flood_guard;
mod graylist_watch;
mod metrics;
mod peer_score;
mod pipeline;
mod publisher;
mod router;
mod seen;
mod signer;
mod two_core;
mod validator;
mod verdict;

#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;

/// The libp2p types this API is written in, re-exported so dependents need no version matching.
pub use libp2p_gossipsub as gossipsub;
pub use libp2p_identity::PeerId;

pub use self::{
    behaviour::{Behaviour, Event, Reported, Services},
    colocation::IpColocation,
    config::{
        Config, DEFAULT_MESH_D, DEFAULT_MESH_DHI, DEFAULT_MESH_DLAZY, DEFAULT_MESH_DLO,
        DEFAULT_PEER_OUTBOUND_QUEUE_SIZE, DEFAULT_TIMESTAMP_THRESHOLD,
        DEFAULT_VALIDATION_CONCURRENCY, DEFAULT_VALIDATION_QUEUE_PER_PEER,
        DEFAULT_VALIDATION_QUEUE_SIZE, DEFAULT_VALIDATION_TIMEOUT, DIRECT_CONNECT_TICKS,
        FANOUT_TTL, GOSSIP_FACTOR, GOSSIP_RETRANSMISSION, GRAFT_FLOOD_THRESHOLD,
        HEARTBEAT_INITIAL_DELAY, HEARTBEAT_INTERVAL, HISTORY_GOSSIP, HISTORY_LENGTH,
        IDONTWANT_MESSAGE_THRESHOLD, IWANT_FOLLOWUP_TIME, MAX_IHAVE_LENGTH, MAX_IHAVE_MESSAGES,
        MAX_MESH_PARAMETER, MESH_DOUT, MESH_DSCORE, OPPORTUNISTIC_GRAFT_PEERS,
        OPPORTUNISTIC_GRAFT_TICKS, PRUNE_BACKOFF, SCORE_INSPECT_INTERVAL, SEEN_MESSAGES_TTL,
        UNSUBSCRIBE_BACKOFF, gossip_message_id,
    },
    error::Error,
    flood_guard::FloodCutoff,
    metrics::{DURATION_BUCKETS, GossipCounters, Metrics, NoopMetrics},
    peer_score::{
        ACCEPT_PX_THRESHOLD, APP_SPECIFIC_WEIGHT, BEHAVIOUR_PENALTY_DECAY_SLOTS,
        BEHAVIOUR_PENALTY_THRESHOLD, BEHAVIOUR_PENALTY_WEIGHT, BLOCKS_TOPIC_WEIGHT, DECAY_TO_ZERO,
        DEFAULT_SLOT, EPOCH_SLOTS, GOSSIP_THRESHOLD, GRAYLIST_THRESHOLD,
        INVALID_MESSAGE_DELIVERIES_DECAY_SLOTS, INVALID_MESSAGE_DELIVERIES_WEIGHT,
        IP_COLOCATION_FACTOR_THRESHOLD, IP_COLOCATION_FACTOR_WEIGHT, OPPORTUNISTIC_GRAFT_THRESHOLD,
        PUBLISH_THRESHOLD, RETAIN_SCORE_SLOTS, ScoringMode, blocks_topic_params, peer_score_params,
        score_decay, slot, thresholds,
    },
    pipeline::{ValidationPipeline, ValidationRequest, ValidationResult},
    publisher::Publisher,
    router::{Gossipsub, blocks_topic_hashes, new_gossipsub, subscription_filter, topic_hash},
    seen::{MAX_BLOCKS_PER_HEIGHT, SEEN_HEIGHTS, SeenBlocks},
    signer::UnsafeBlockSigner,
    validator::{MAX_FUTURE_DRIFT_SECS, QUICK_CHECK_MAX_BYTES, Validate, Validator},
    verdict::{Blame, Outcome, Reason, Verdict},
};
