//! Configuration: op-node's constants (spec §4.2, §4.3) as documented defaults, with consuming
//! `with_*` setters for the few a node operator or a test may change.

use std::time::Duration;

use crate::rate_limit::Quota;

/// Server: requests per second served to all peers together (op-node
/// `globalServerBlocksRateLimit`).
pub const SERVER_GLOBAL_RATE: u32 = 20;
/// Server: burst of the global limit (`globalServerBlocksBurst`).
pub const SERVER_GLOBAL_BURST: u32 = 40;
/// Server: requests per second served to one peer (`peerServerBlocksRateLimit`).
pub const SERVER_PEER_RATE: u32 = 4;
/// Server: burst of the per-peer limit (`peerServerBlocksBurst`).
pub const SERVER_PEER_BURST: u32 = 15;
/// Server: how many peers' rate-limit state is kept (op-node's LRU of 1000). A peer evicted
/// from it starts again with a full bucket, as in op-node.
pub const SERVER_PEER_LIMITERS: usize = 1000;
/// Server: the longest a request may wait for rate-limit tokens and the payload together
/// (`maxThrottleDelay`); a request that would wait longer is answered with code 3 at once.
pub const MAX_THROTTLE_DELAY: Duration = Duration::from_secs(20);
/// Server: deadline for reading the 8-byte request (`serverReadRequestTimeout`).
pub const SERVER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Server: deadline for writing the response (`serverWriteChunkTimeout`).
pub const SERVER_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Client: requests per second to all peers together (op-node's client `globalRL`).
pub const CLIENT_GLOBAL_RATE: u32 = 20;
/// Client: burst of the global client limit.
pub const CLIENT_GLOBAL_BURST: u32 = 40;
/// Client: requests per second to one peer, the server's per-peer limit mirrored so we are never
/// throttled by an op-node server.
pub const CLIENT_PEER_RATE: u32 = 4;
/// Client: burst of the per-peer client limit.
pub const CLIENT_PEER_BURST: u32 = 15;
/// Client: extra per-peer tokens a peer loop waits for and spends after a failed request
/// (`clientErrRateCost`): a peer that has been kept busy is asked again only after ~3.75 s.
pub const CLIENT_ERROR_RATE_COST: u32 = 15;
/// Client: deadline for writing the request (`clientWriteRequestTimeout`).
pub const CLIENT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Client: deadline for reading the whole response (`clientReadResponsetimeout`).
pub const CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Client: op-node opens the stream with a 5 s timeout (`streamTimeout`). request-response
/// 0.30 gives no hook for the substream upgrade timeout, so here opening is bounded by
/// libp2p-swarm's default of 10 s; the outcome of a peer that never accepts the stream (a failed
/// request, the error score, the back-off) is op-node's.
pub const CLIENT_OPEN_STREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// Client: capacity of the queue of block numbers waiting for a free peer (op-node's
/// `peerRequests` channel). A range request schedules non-blockingly until it is full.
pub const REQUEST_QUEUE_SIZE: usize = 128;
/// Client: capacity of the queue of trusted payloads waiting for the sink (op-node's `results`
/// channel, which also carries re-queued parents).
pub const PROMOTION_QUEUE_SIZE: usize = 128;
/// Client: payloads held until their hash is trusted (op-node's quarantine LRU).
pub const QUARANTINE_SIZE: usize = 100;
/// Client: hashes known to be canonical (op-node's trusted LRU).
pub const TRUSTED_SIZE: usize = 10_000;
/// Client: a range whose start block is older than this is not synced over req-resp
/// (op-node's `OpNode.RequestL2Range`: 12 h; older gaps are for execution-layer sync).
pub const MAX_RANGE_AGE: Duration = Duration::from_secs(12 * 60 * 60);

/// Both roles: streams in flight per connection, inbound and outbound together
/// (request-response's `max_concurrent_streams`); a stream over the bound is dropped unread.
///
/// Decision: op-node has no such bound of its own. 256 is well above what the per-peer limit
/// lets wait at once (15 + 4/s × 20 s = 95 requests; any more are answered with code 3 at once)
/// and below yamux's per-connection stream cap (512), so well-behaved bursts are never dropped
/// while a peer opening streams it never writes to holds at most 256 small futures for 10 s.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: usize = 256;

/// Both roles: request-response's own per-stream timeout, a backstop behind our deadlines. It
/// runs in real time on libp2p's timer; our deadlines run on the injected [`Clock`](crate::Clock).
/// It covers a server stream's read (10 s), throttle and fetch (20 s) and write (10 s), plus
/// slack.
pub const STREAM_BACKSTOP_TIMEOUT: Duration = Duration::from_secs(45);

/// Configuration of [`Behaviour`](crate::Behaviour). `Default` is op-node's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub(crate) server_global: Quota,
    pub(crate) server_peer: Quota,
    pub(crate) max_throttle_delay: Duration,
    pub(crate) server_read_timeout: Duration,
    pub(crate) server_write_timeout: Duration,
    pub(crate) answer_with_slash: bool,
    pub(crate) client_global: Quota,
    pub(crate) client_peer: Quota,
    pub(crate) client_error_cost: u32,
    pub(crate) client_write_timeout: Duration,
    pub(crate) client_read_timeout: Duration,
    pub(crate) only_static: bool,
    pub(crate) max_range_age: Duration,
    pub(crate) max_concurrent_streams: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server_global: Quota::per_second(SERVER_GLOBAL_RATE, SERVER_GLOBAL_BURST),
            server_peer: Quota::per_second(SERVER_PEER_RATE, SERVER_PEER_BURST),
            max_throttle_delay: MAX_THROTTLE_DELAY,
            server_read_timeout: SERVER_READ_TIMEOUT,
            server_write_timeout: SERVER_WRITE_TIMEOUT,
            answer_with_slash: false,
            client_global: Quota::per_second(CLIENT_GLOBAL_RATE, CLIENT_GLOBAL_BURST),
            client_peer: Quota::per_second(CLIENT_PEER_RATE, CLIENT_PEER_BURST),
            client_error_cost: CLIENT_ERROR_RATE_COST,
            client_write_timeout: CLIENT_WRITE_TIMEOUT,
            client_read_timeout: CLIENT_READ_TIMEOUT,
            only_static: false,
            max_range_age: MAX_RANGE_AGE,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
        }
    }
}

impl Config {
    /// Server rate limits: shared by all peers, and per peer.
    pub const fn with_server_rate_limits(mut self, global: Quota, per_peer: Quota) -> Self {
        self.server_global = global;
        self.server_peer = per_peer;
        self
    }

    /// Client rate limits: shared by all peer loops, and per peer.
    pub const fn with_client_rate_limits(mut self, global: Quota, per_peer: Quota) -> Self {
        self.client_global = global;
        self.client_peer = per_peer;
        self
    }

    /// Also answer requests on the spec's protocol id with a trailing slash
    /// ([`payload_by_number_protocol_id_with_slash`](op_p2p_types::payload_by_number_protocol_id_with_slash)),
    /// as kona's client uses. Off by default: op-node neither serves nor requests it. Requests
    /// always go out on op-node's id.
    pub const fn with_answer_with_slash(mut self, yes: bool) -> Self {
        self.answer_with_slash = yes;
        self
    }

    /// op-node's `p2p.sync.onlyreqtostatic`: only static peers (see
    /// [`Behaviour::set_static`](crate::Behaviour::set_static)) are sent requests.
    pub const fn with_only_static(mut self, yes: bool) -> Self {
        self.only_static = yes;
        self
    }

    /// Streams in flight per connection ([`DEFAULT_MAX_CONCURRENT_STREAMS`]).
    pub const fn with_max_concurrent_streams(mut self, streams: usize) -> Self {
        self.max_concurrent_streams = streams;
        self
    }

    /// The server's maximum throttle delay ([`MAX_THROTTLE_DELAY`]).
    pub const fn with_max_throttle_delay(mut self, delay: Duration) -> Self {
        self.max_throttle_delay = delay;
        self
    }

    /// The server's global rate limit.
    pub const fn server_global(&self) -> Quota {
        self.server_global
    }

    /// The server's per-peer rate limit.
    pub const fn server_peer(&self) -> Quota {
        self.server_peer
    }

    /// The client's global rate limit.
    pub const fn client_global(&self) -> Quota {
        self.client_global
    }

    /// The client's per-peer rate limit.
    pub const fn client_peer(&self) -> Quota {
        self.client_peer
    }

    /// Whether only static peers are sent requests.
    pub const fn only_static(&self) -> bool {
        self.only_static
    }
}
