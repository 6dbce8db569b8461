//! `payload_by_number` request-response sync for op-p2p: op-node's server and client (spec §4),
//! byte-compatible with Go op-node, as one rust-libp2p [`NetworkBehaviour`](libp2p_swarm::NetworkBehaviour).
//!
//! - [`Codec`]: the wire format on libp2p-request-response. Request: 8 bytes little-endian, then
//!   the client's half-close. Response: a result byte; on success a u32 LE version and the snappy
//!   framed SSZ body until EOF. Reads go through `take()` limits into buffers that never grow past
//!   the 10 MiB raw and decoded caps; every failure is a typed [`CodecError`].
//! - [`Behaviour`]: the server and the client on one request-response behaviour, driven by the
//!   node's single swarm task.
//!   - Server: payloads from a [`PayloadSource`]; per-peer (4/s, burst 15, LRU of 1000 peers, a
//!     new peer's first request reserved) and global (20/s, burst 40) token buckets with a 20 s
//!     maximum throttle delay; 10 s read and write deadlines; a bound on streams per connection;
//!     op-node's range checks and result codes; version 0 before Ecotone, 1 from Ecotone on.
//!   - Client: [`Behaviour::request_range`] as op-node's `RequestL2Range`; one request at a time per
//!     connected peer under client-side limits (20/s global, 4/s per peer, 15 extra tokens after a
//!     failure); every response verified (number, block hash); results quarantined until a
//!     trusted hash links them to the chain, then handed to the [`PayloadSink`] the node's gossip
//!     path feeds too; outcomes scored in the peer store (valid response, error response, rejected
//!     payload; "not found" costs nothing and cancels the range). Peers that do not serve the
//!     protocol ([`Behaviour::set_peer_protocols`] from identify, or a refused protocol) are not
//!     asked and not scored.
//! - [`Metrics`] hooks, [`Event`]s for logs and tests, and [`ResponseReport`] for operators (the
//!   logic of `op-p2p sync decode-response` and `op-p2p sync fetch`).
//!
//! All time is injected through a [`Clock`]: rate limits, deadlines and the wall-clock range check
//! run on it, and waiting means a scheduled wake-up, never a blocked task. Tests drive a
//! [`ManualClock`] by hand.
//!
//! # Example
//! A server and a client, wired as a node wires them (the swarm and transport are omitted).
//! ```
//! use std::sync::Arc;
//!
//! use futures::channel::mpsc;
//! use op_p2p_api::MemoryScoreBook;
//! use op_p2p_reqresp_sync::{Behaviour, BlockRef, Config, MemorySource, SystemClock};
//! use op_p2p_types::{B256, Genesis, GenesisBlock, RollupConfig};
//!
//! let rollup = RollupConfig {
//!     genesis: Genesis { l2: GenesisBlock { number: 0 }, l2_time: 1_700_000_000 },
//!     block_time: 2,
//!     l2_chain_id: 10,
//!     ..Default::default()
//! };
//! // Scores in memory; a node that keeps them across restarts passes `op-p2p-peerstore`'s books.
//! let store = Arc::new(MemoryScoreBook::new());
//! // The node's unsafe-payload channel: gossip and sync both send into it.
//! let (sink, _payloads) = mpsc::channel(64);
//! let mut sync = Behaviour::new(
//!     Config::default(),
//!     rollup,
//!     store,
//!     sink,
//!     Some(MemorySource::new()), // serve from a store; `None::<NoSource>` for a client only
//!     Arc::new(SystemClock::new()),
//! )?;
//! assert_eq!(sync.protocol().as_ref(), "/opstack/req/payload_by_number/10/0");
//!
//! // The driver found a gap between the unsafe head (100) and the lowest queued payload (105).
//! let head = BlockRef { number: 100, timestamp: 1_800_000_000, ..Default::default() };
//! let end = BlockRef { number: 105, hash: B256::repeat_byte(5), parent_hash: B256::repeat_byte(4), timestamp: 1_800_000_010 };
//! # let head = BlockRef { timestamp: u64::MAX / 2, ..head };
//! assert_eq!(sync.request_range(head, end)?, 4); // 104, 103, 102, 101
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # request-response and op-node's stream handling
//! libp2p-request-response fits: its handler writes the request and half-closes the stream, and
//! closes the stream after the response, exactly op-node's exchange. Where its model differs:
//! - **Reading the request.** op-node reads 8 bytes and closes its read side; request-response
//!   hands the codec the stream, which reads through `take(9)` until EOF and accepts exactly 8
//!   bytes. A client that never half-closes waits out the read deadline (op-node clients always
//!   half-close).
//! - **Errors.** A malformed or late request is not a stream failure but
//!   [`Request::Malformed`], so the server still answers code 3 as op-node does; an error response
//!   is the single result byte, then request-response closes the stream.
//! - **Verification inside the codec.** `read_response` is not told the request; the handler
//!   (0.30) uses one codec clone per outbound stream for `write_request` and `read_response`, so
//!   the codec remembers the number and verifies there, on the connection's task.
//! - **Deadlines.** The codec runs op-node's read and write deadlines on the injected clock;
//!   request-response's own per-stream timeout is only a real-time backstop
//!   ([`STREAM_BACKSTOP_TIMEOUT`]). Opening a stream is bounded by libp2p-swarm's 10 s substream
//!   timeout, which request-response gives no way to set, not op-node's 5 s
//!   ([`CLIENT_OPEN_STREAM_TIMEOUT`]).
//! - **Concurrency.** Streams are bounded per connection ([`DEFAULT_MAX_CONCURRENT_STREAMS`]);
//!   a stream over the bound is dropped unread. The node should raise libp2p-swarm's limit of 128
//!   streams negotiating at once if bursts larger than that are to reach the bound.
//!
//! # Where this differs from op-node
//! - **Throttling order.** The server applies a peer's own limit before the global one (op-node
//!   takes the global token first and holds a lock while the peer waits), so one peer's backlog
//!   cannot starve the others; a request that would wait past the 20 s throttle delay is answered
//!   with code 3 at once, as op-node's `Wait` under its deadline does.
//! - **Throttling after reading.** op-node throttles before it reads the request; request-response
//!   reads first. Every request still costs a token, malformed ones included.
//! - **Scheduling.** Queued numbers are served highest first (op-node: FIFO), because promotion
//!   walks down from the trusted end: the highest missing block holds up everything below it.
//! - **Conflicts.** An untrusted payload quarantined at `end − 1` conflicts with the range's trusted
//!   end and is rejected when the range is requested (op-node skips it until quarantine pressure
//!   evicts it), and a number whose payload from a peer was rejected is not handed to that peer
//!   again, so a fast liar cannot hold the top block.
//! - **Peers that do not serve payload_by_number.** op-node opens a stream to every connected
//!   peer; when the peer does not speak the protocol the stream fails ("protocol not
//!   supported"), which op-node scores as an error response, backs off and asks again. Many
//!   nodes on live OP networks run clients without this protocol (or op-node with
//!   `--p2p.sync.req-resp=false`): measured with such a peer as the only peer of a late joiner,
//!   every request failed that way, its application score went negative, gossipsub pruned it
//!   from the mesh and the late joiner stopped receiving blocks after ~28 s. Here a peer whose
//!   identify protocols lack the id ([`Behaviour::set_peer_protocols`]) is never asked, and a
//!   request refused with request-response's `UnsupportedProtocols` (identify had not arrived
//!   yet) marks the peer as not serving: no score, no back-off, the number goes back to the
//!   queue for another peer, and the peer is not asked again until it reconnects or identify
//!   reports the protocol. We do not wait for identify before the first request: identify
//!   arrives within a round trip, and the one refused request costs nothing. Counted as
//!   `result_code="unsupported"` in `p2p_req_total` ([`Metrics::unsupported`]; op-node counts
//!   it under `"1"`).
//! - **Metrics.** The server reports the code it sent (op-node always reports 0); the client keeps
//!   op-node's labels ([`client_result_code`]), plus `unsupported` (above).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod behaviour;
mod client;
mod codec;
mod config;
mod error;
mod event;
mod metrics;
mod quarantine;
mod rate_limit;
mod read;
mod report;
mod server;
mod source;

/// The clock, block reference and received-payload types this API is written in, defined once in
/// `op-p2p-api` and `op-p2p-types` and re-exported so dependents need no version matching.
pub use op_p2p_api::{Clock, ManualClock, ScoreBook, Sleep, SystemClock, UnsafePayload};
pub use op_p2p_types::BlockRef;

/// The tracing target of this crate.
const TARGET: &str = "op_p2p::sync";

pub use self::{
    behaviour::Behaviour,
    client::PayloadSink,
    codec::{Codec, Request, Response, read_request, read_response},
    config::{
        CLIENT_ERROR_RATE_COST, CLIENT_GLOBAL_BURST, CLIENT_GLOBAL_RATE,
        CLIENT_OPEN_STREAM_TIMEOUT, CLIENT_PEER_BURST, CLIENT_PEER_RATE, CLIENT_READ_TIMEOUT,
        CLIENT_WRITE_TIMEOUT, Config, DEFAULT_MAX_CONCURRENT_STREAMS, MAX_RANGE_AGE,
        MAX_THROTTLE_DELAY, PROMOTION_QUEUE_SIZE, QUARANTINE_SIZE, REQUEST_QUEUE_SIZE,
        SERVER_GLOBAL_BURST, SERVER_GLOBAL_RATE, SERVER_PEER_BURST, SERVER_PEER_LIMITERS,
        SERVER_PEER_RATE, SERVER_READ_TIMEOUT, SERVER_WRITE_TIMEOUT, STREAM_BACKSTOP_TIMEOUT,
        TRUSTED_SIZE,
    },
    error::{CodecError, Error, Phase, RequestError, RequestFailure, SourceError},
    event::Event,
    metrics::{
        Metrics, NoMetrics, PrometheusMetrics, REQ_DURATION_BUCKETS, Role,
        UNSUPPORTED_RESULT_LABEL, client_result_code,
    },
    rate_limit::Quota,
    report::{ReportCodec, ResponseReport, Verdict, report_behaviour, request_report},
    source::{MemorySource, NoSource, PayloadSource},
};
