//! The server half (spec §4.2): per-peer and global throttling on injected time, range checks,
//! and fetching from the [`PayloadSource`] without ever blocking the swarm task.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::{
    FutureExt, StreamExt,
    future::{BoxFuture, Either, select},
    pin_mut,
    stream::FuturesUnordered,
};
use hashlink::LruCache;
use libp2p_identity::PeerId;
use libp2p_request_response::ResponseChannel;
use op_p2p_api::Clock;
use op_p2p_types::{ResultCode, RollupConfig};
use tracing::debug;

use crate::{
    TARGET,
    codec::{Request, Response},
    config::{Config, SERVER_PEER_LIMITERS},
    error::SourceError,
    rate_limit::{Quota, TokenBucket},
    source::PayloadSource,
};

/// An answer ready to be handed to request-response.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) peer: PeerId,
    pub(crate) number: Option<u64>,
    pub(crate) channel: ResponseChannel<Response>,
    pub(crate) response: Response,
    pub(crate) arrived: Duration,
}

/// An admitted request between its arrival and its answer.
#[derive(Debug)]
struct Inbound {
    peer: PeerId,
    request: Request,
    channel: ResponseChannel<Response>,
    arrived: Duration,
    /// Arrival plus the maximum throttle delay: the request's whole budget, as op-node's
    /// `maxThrottleDelay` context, for waiting on both limiters and the source.
    deadline: Duration,
    next: Step,
}

/// What an [`Inbound`] does when its scheduled time comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Take a global token.
    Global,
    /// Check the range and ask the source.
    Release,
}

/// What the source said, or that the budget ran out first.
enum Fetched {
    Found(Box<op_p2p_types::ExecutionPayloadEnvelope>),
    NotFound,
    Failed(SourceError),
    TimedOut,
}

/// The server: throttles, range checks, fetches.
///
/// Decision: op-node takes the global token first and then the peer's, holding a lock across
/// the peer wait, so one peer's backlog delays everyone. Here the peer's own limit is applied
/// first and the global one only to requests the peer limit let through, so a peer hammering
/// the server spends only its own budget: its excess is answered with code 3 at once, and other
/// peers keep getting global tokens.
pub(crate) struct Server<S> {
    source: Arc<S>,
    rollup: Arc<RollupConfig>,
    clock: Arc<dyn Clock>,
    global: TokenBucket,
    peer_quota: Quota,
    peers: LruCache<PeerId, TokenBucket>,
    max_wait: Duration,
    next_id: u64,
    scheduled: BinaryHeap<Reverse<(Duration, u64)>>,
    inbound: HashMap<u64, Inbound>,
    fetches: FuturesUnordered<BoxFuture<'static, (u64, Fetched)>>,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("peers", &self.peers.len())
            .field("scheduled", &self.scheduled.len())
            .field("fetching", &self.fetches.len())
            .finish_non_exhaustive()
    }
}

impl<S: PayloadSource> Server<S> {
    pub(crate) fn new(
        source: Arc<S>,
        rollup: Arc<RollupConfig>,
        clock: Arc<dyn Clock>,
        config: &Config,
    ) -> Self {
        Self {
            source,
            rollup,
            clock,
            global: TokenBucket::new(config.server_global),
            peer_quota: config.server_peer,
            peers: LruCache::new(SERVER_PEER_LIMITERS),
            max_wait: config.max_throttle_delay,
            next_id: 0,
            scheduled: BinaryHeap::new(),
            inbound: HashMap::new(),
            fetches: FuturesUnordered::new(),
        }
    }

    /// Requests admitted and not yet answered (waiting for tokens or for the source).
    pub(crate) fn pending(&self) -> usize {
        self.inbound.len()
    }

    /// A request arrived: take the peer's token, then the global one, then fetch; each step
    /// that has to wait is scheduled instead. Returns the answer if there is one already.
    pub(crate) fn on_request(
        &mut self,
        peer: PeerId,
        request: Request,
        channel: ResponseChannel<Response>,
    ) -> Option<Answer> {
        let now = self.clock.now();
        let deadline = now.saturating_add(self.max_wait);
        let granted = match self.peers.get_mut(&peer) {
            Some(bucket) => bucket.reserve_by(now, 1, deadline),
            None => {
                // op-node: a new peer's first request reserves its token instead of waiting.
                let mut bucket = TokenBucket::new(self.peer_quota);
                let at = bucket.reserve(now, 1);
                self.peers.insert(peer, bucket);
                Some(at)
            }
        };
        let inbound = Inbound {
            peer,
            request,
            channel,
            arrived: now,
            deadline,
            next: Step::Global,
        };
        let Some(at) = granted else {
            debug!(target: TARGET, %peer, "peer over its rate limit for longer than the throttle delay");
            return Some(answer(inbound, Response::Error(ResultCode::Unknown)));
        };
        self.schedule_or_run(inbound, at)
    }

    /// Runs every scheduled step that is due; returns the answers they produced.
    pub(crate) fn run_due(&mut self, answers: &mut Vec<Answer>) {
        let now = self.clock.now();
        while let Some(Reverse((at, id))) = self.scheduled.peek().copied() {
            if at > now {
                break;
            }
            self.scheduled.pop();
            if let Some(inbound) = self.inbound.remove(&id)
                && let Some(a) = self.step(inbound)
            {
                answers.push(a);
            }
        }
    }

    /// When the next scheduled step is due.
    pub(crate) fn next_wake(&self) -> Option<Duration> {
        self.scheduled.peek().map(|Reverse((at, _))| *at)
    }

    /// The next answer from a finished fetch.
    pub(crate) fn poll_fetches(&mut self, cx: &mut Context<'_>) -> Poll<Answer> {
        while let Poll::Ready(Some((id, fetched))) = self.fetches.poll_next_unpin(cx) {
            let Some(inbound) = self.inbound.remove(&id) else {
                continue;
            };
            let response = match fetched {
                Fetched::Found(envelope) => Response::payload(&self.rollup, *envelope),
                Fetched::NotFound => Response::Error(ResultCode::NotFound),
                Fetched::Failed(e) => {
                    debug!(target: TARGET, peer = %inbound.peer, error = %e, "payload source failed");
                    Response::Error(ResultCode::Unknown)
                }
                Fetched::TimedOut => {
                    debug!(target: TARGET, peer = %inbound.peer, "payload source too slow for the throttle budget");
                    Response::Error(ResultCode::Unknown)
                }
            };
            return Poll::Ready(answer(inbound, response));
        }
        Poll::Pending
    }

    fn schedule_or_run(&mut self, inbound: Inbound, at: Duration) -> Option<Answer> {
        if at > self.clock.now() {
            let id = self.next_id;
            self.next_id += 1;
            self.scheduled.push(Reverse((at, id)));
            self.inbound.insert(id, inbound);
            None
        } else {
            self.step(inbound)
        }
    }

    fn step(&mut self, mut inbound: Inbound) -> Option<Answer> {
        match inbound.next {
            Step::Global => {
                let now = self.clock.now();
                let Some(at) = self.global.reserve_by(now, 1, inbound.deadline) else {
                    debug!(target: TARGET, peer = %inbound.peer, "global rate limit exceeds the throttle delay");
                    return Some(answer(inbound, Response::Error(ResultCode::Unknown)));
                };
                inbound.next = Step::Release;
                self.schedule_or_run(inbound, at)
            }
            Step::Release => self.release(inbound),
        }
    }

    fn release(&mut self, inbound: Inbound) -> Option<Answer> {
        if !inbound.channel.is_open() {
            // The stream is gone (the peer closed it or request-response timed it out).
            return None;
        }
        let number = match inbound.request {
            Request::Malformed(e) => {
                debug!(target: TARGET, peer = %inbound.peer, error = %e, "malformed request");
                return Some(answer(inbound, Response::Error(ResultCode::Unknown)));
            }
            Request::Number(number) => number,
        };
        if !self.in_range(number) {
            return Some(answer(inbound, Response::Error(ResultCode::InvalidRequest)));
        }
        let id = self.next_id;
        self.next_id += 1;
        let source = self.source.clone();
        let budget = self.clock.sleep_until(inbound.deadline);
        self.inbound.insert(id, inbound);
        self.fetches.push(
            async move {
                let fetch = source.payload_by_number(number);
                pin_mut!(fetch);
                let fetched = match select(fetch, budget).await {
                    Either::Left((Ok(Some(envelope)), _)) => Fetched::Found(Box::new(envelope)),
                    Either::Left((Ok(None), _)) => Fetched::NotFound,
                    Either::Left((Err(e), _)) => Fetched::Failed(e),
                    Either::Right(((), _)) => Fetched::TimedOut,
                };
                (id, fetched)
            }
            .boxed(),
        );
        None
    }

    /// op-node's range checks: not before genesis, not beyond the block the wall clock says
    /// the chain can have reached, and not before genesis time.
    fn in_range(&self, number: u64) -> bool {
        if number < self.rollup.genesis.l2.number {
            return false;
        }
        self.rollup
            .target_block_number(self.clock.unix_time())
            .is_some_and(|max| number <= max)
    }
}

fn answer(inbound: Inbound, response: Response) -> Answer {
    Answer {
        peer: inbound.peer,
        number: match inbound.request {
            Request::Number(n) => Some(n),
            Request::Malformed(_) => None,
        },
        channel: inbound.channel,
        response,
        arrived: inbound.arrived,
    }
}
