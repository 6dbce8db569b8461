//! The client half (spec §4.3): range requests turned into per-number work, one request at a
//! time per peer under client-side rate limits, and verified payloads held in quarantine until
//! a trusted hash links them to the chain.

use std::{
    collections::{BinaryHeap, HashMap, HashSet, VecDeque},
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::channel::mpsc;
use hashlink::LruCache;
use libp2p_identity::PeerId;
use libp2p_request_response::OutboundRequestId;
use op_p2p_api::{ReqRespEvent, ScoreBook, UnsafePayload};
use op_p2p_types::{B256, BlockRef, ExecutionPayloadEnvelope, ResultCode};
use tracing::{debug, warn};

use crate::{
    TARGET,
    config::{Config, PROMOTION_QUEUE_SIZE, QUARANTINE_SIZE, REQUEST_QUEUE_SIZE, TRUSTED_SIZE},
    error::{Error, RequestFailure},
    event::Event,
    metrics::{Metrics, Role, client_result_code},
    quarantine::{Entry, Quarantine},
    rate_limit::{Quota, TokenBucket},
};

/// The sending half of the node's unsafe-payload channel: [`UnsafePayload`]s, the type gossip
/// emits too (op-node's `OnUnsafeL2Payload(ctx, from, envelope)`), so one channel can carry
/// both. Promotion waits while it is full
/// (payloads stay in quarantine meanwhile), so it must be bounded, as every channel here.
pub type PayloadSink = mpsc::Sender<UnsafePayload>;

/// How many (number, peer) refusals are remembered: far more than the quarantine can reject
/// before the numbers involved are synced.
const REFUSED_SIZE: usize = 1024;

/// Identifies the range request a queued number belongs to, so "not found" can cancel it.
type RangeId = u64;

/// A number waiting for a free peer. Ordered by number: the highest goes first, because
/// promotion walks down from the trusted end and a missing high block holds up everything below
/// it. (op-node's queue is a FIFO channel; see the crate docs.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
    number: u64,
    range: RangeId,
}

/// A request on the wire.
#[derive(Debug, Clone, Copy)]
struct Sent {
    peer: PeerId,
    number: u64,
    range: RangeId,
    started: Duration,
}

/// One connected peer's loop (op-node's `peerLoop`), as a state machine: wait for the global
/// token, then the peer's token, then take work; after a failure first wait for extra tokens.
#[derive(Debug)]
struct PeerLoop {
    limiter: TokenBucket,
    state: LoopState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoopState {
    /// At `at`, take the next step.
    Waiting { at: Duration, then: Step },
    /// Holding its tokens, waiting for a number.
    Ready,
    /// One request in flight.
    Busy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Take the failure back-off's extra tokens from the peer's bucket.
    Backoff,
    /// Take a token from the global bucket.
    Global,
    /// Take a token from the peer's bucket.
    Peer,
    /// Become ready for work.
    Ready,
}

/// The client state.
pub(crate) struct Client {
    global: TokenBucket,
    peer_quota: Quota,
    error_cost: u32,
    only_static: bool,
    max_range_age: Duration,
    statics: HashSet<PeerId>,
    connected: HashSet<PeerId>,
    /// Connected peers that do not serve payload_by_number (identify said so, or they refused
    /// the protocol): they get no loop and are never asked. Cleared when the peer disconnects
    /// and when identify reports the protocol.
    not_serving: HashSet<PeerId>,
    loops: HashMap<PeerId, PeerLoop>,
    ready: VecDeque<PeerId>,
    queue: BinaryHeap<Queued>,
    /// Numbers queued or on the wire, and the range each belongs to.
    in_flight: HashMap<u64, RangeId>,
    sent: HashMap<OutboundRequestId, Sent>,
    next_range: RangeId,
    quarantine: Quarantine,
    trusted: LruCache<B256, ()>,
    promotions: VecDeque<B256>,
    /// (number, peer) pairs whose payload was rejected: the number is not handed to that peer
    /// again, so a fast liar cannot keep answering the block everything below waits for.
    refused: LruCache<(u64, PeerId), ()>,
    /// The number [`Client::next_dispatch`] took off the queue, until it is sent.
    taken: Option<Queued>,
    sink: PayloadSink,
    scores: Arc<dyn ScoreBook>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("peers", &self.loops.len())
            .field("queued", &self.queue.len())
            .field("in_flight", &self.in_flight.len())
            .field("quarantine", &self.quarantine.len())
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(config: &Config, scores: Arc<dyn ScoreBook>, sink: PayloadSink) -> Self {
        Self {
            global: TokenBucket::new(config.client_global),
            peer_quota: config.client_peer,
            error_cost: config.client_error_cost,
            only_static: config.only_static,
            max_range_age: config.max_range_age,
            statics: HashSet::new(),
            connected: HashSet::new(),
            not_serving: HashSet::new(),
            loops: HashMap::new(),
            ready: VecDeque::new(),
            queue: BinaryHeap::new(),
            in_flight: HashMap::new(),
            sent: HashMap::new(),
            next_range: 0,
            quarantine: Quarantine::new(QUARANTINE_SIZE),
            trusted: LruCache::new(TRUSTED_SIZE),
            promotions: VecDeque::new(),
            refused: LruCache::new(REFUSED_SIZE),
            taken: None,
            sink,
            scores,
        }
    }

    // ---- peers ----------------------------------------------------------------------------

    pub(crate) fn peer_connected(&mut self, peer: PeerId, now: Duration) {
        self.connected.insert(peer);
        self.start_loop(peer, now);
    }

    pub(crate) fn peer_disconnected(&mut self, peer: &PeerId) {
        self.connected.remove(peer);
        self.not_serving.remove(peer);
        self.loops.remove(peer);
    }

    /// Records whether the connected `peer` serves payload_by_number: a peer that does not
    /// loses its loop and is not asked again (a request already on the wire completes); a peer
    /// that does gets its loop back. Returns whether `peer` was just found not to serve.
    pub(crate) fn set_serving(&mut self, peer: PeerId, serves: bool, now: Duration) -> bool {
        if !self.connected.contains(&peer) {
            return false;
        }
        if serves {
            if self.not_serving.remove(&peer) {
                self.start_loop(peer, now);
            }
            false
        } else if self.not_serving.insert(peer) {
            self.loops.remove(&peer);
            true
        } else {
            false
        }
    }

    /// Whether the connected `peer` is known not to serve payload_by_number.
    pub(crate) fn is_not_serving(&self, peer: &PeerId) -> bool {
        self.not_serving.contains(peer)
    }

    pub(crate) fn set_static(&mut self, peer: PeerId, is_static: bool, now: Duration) {
        if is_static {
            self.statics.insert(peer);
            if self.connected.contains(&peer) {
                self.start_loop(peer, now);
            }
        } else {
            self.statics.remove(&peer);
            if self.only_static {
                self.loops.remove(&peer);
            }
        }
    }

    pub(crate) fn is_static(&self, peer: &PeerId) -> bool {
        self.statics.contains(peer)
    }

    /// Peers with a loop: connected, and static if only static peers are asked.
    pub(crate) fn sync_peers(&self) -> usize {
        self.loops.len()
    }

    fn start_loop(&mut self, peer: PeerId, now: Duration) {
        if (self.only_static && !self.statics.contains(&peer)) || self.not_serving.contains(&peer) {
            return;
        }
        self.loops.entry(peer).or_insert_with(|| PeerLoop {
            limiter: TokenBucket::new(self.peer_quota),
            state: LoopState::Waiting {
                at: now,
                then: Step::Global,
            },
        });
    }

    // ---- ranges ---------------------------------------------------------------------------

    /// op-node's `onRangeRequest`: trust `end` and its parent, then walk down from `end − 1` to
    /// `start + 1`, promoting trusted quarantined payloads, skipping quarantined and in-flight
    /// numbers, and queueing the rest until the queue is full. Returns how many were queued.
    ///
    /// Decision (beyond op-node): an untrusted payload quarantined at `end − 1` conflicts with
    /// `end`'s trusted parent hash, so it is rejected (its peer scored) and the number asked
    /// again. op-node skips it, which stalls the range until quarantine pressure evicts it.
    pub(crate) fn request_range(
        &mut self,
        start: BlockRef,
        end: BlockRef,
        unix_now: u64,
        events: &mut VecDeque<Event>,
        metrics: &dyn Metrics,
    ) -> Result<usize, Error> {
        if start.timestamp.saturating_add(self.max_range_age.as_secs()) < unix_now {
            return Err(Error::RangeTooOld {
                number: start.number,
                timestamp: start.timestamp,
            });
        }
        self.trust(end.hash);
        self.trust(end.parent_hash);
        let range = self.next_range;
        self.next_range += 1;
        let mut queued = 0;
        let mut number = end.number;
        while number > start.number.saturating_add(1) {
            number -= 1;
            if let Some(hash) = self.quarantine.at(number) {
                if self.trusted.contains_key(&hash) {
                    self.queue_promotion(hash);
                    continue;
                }
                if number + 1 != end.number {
                    // Don't fetch what we have a candidate for; promotion will evict it if it
                    // turns out to conflict.
                    continue;
                }
                self.evict(hash, events, metrics);
            }
            if self.in_flight.contains_key(&number) {
                continue;
            }
            if self.queue.len() >= REQUEST_QUEUE_SIZE {
                debug!(target: TARGET, number, "request queue full; the rest of the range waits for the next range request");
                break;
            }
            self.queue.push(Queued { number, range });
            self.in_flight.insert(number, range);
            queued += 1;
        }
        Ok(queued)
    }

    /// Numbers queued and not yet sent.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Payloads in quarantine.
    pub(crate) fn quarantined(&self) -> usize {
        self.quarantine.len()
    }

    /// Drops the range's queued numbers (op-node drops them as peers dequeue them); numbers of
    /// the range already on the wire complete normally.
    fn cancel_range(&mut self, range: RangeId) {
        let queue = std::mem::take(&mut self.queue);
        for queued in queue {
            if queued.range == range {
                self.in_flight.remove(&queued.number);
            } else {
                self.queue.push(queued);
            }
        }
    }

    // ---- scheduling ------------------------------------------------------------------------

    /// Moves every peer loop whose wait is over to its next step.
    pub(crate) fn run_due(&mut self, now: Duration) {
        for (peer, lp) in &mut self.loops {
            while let LoopState::Waiting { at, then } = lp.state {
                if at > now {
                    break;
                }
                lp.state = match then {
                    Step::Backoff => LoopState::Waiting {
                        at: lp.limiter.reserve(now, self.error_cost),
                        then: Step::Global,
                    },
                    Step::Global => LoopState::Waiting {
                        at: self.global.reserve(now, 1),
                        then: Step::Peer,
                    },
                    Step::Peer => LoopState::Waiting {
                        at: lp.limiter.reserve(now, 1),
                        then: Step::Ready,
                    },
                    Step::Ready => {
                        self.ready.push_back(*peer);
                        LoopState::Ready
                    }
                };
            }
        }
    }

    /// The next request to send: for the longest-ready peer, the highest queued number it may
    /// take (not one whose payload from it was rejected).
    pub(crate) fn next_dispatch(&mut self) -> Option<(PeerId, u64)> {
        if self.queue.is_empty() {
            return None;
        }
        let mut idle = Vec::new();
        let mut found = None;
        while let Some(peer) = self.ready.pop_front() {
            if !self
                .loops
                .get(&peer)
                .is_some_and(|lp| lp.state == LoopState::Ready)
            {
                continue;
            }
            if let Some(queued) = self.take_for(peer) {
                found = Some((peer, queued));
                break;
            }
            idle.push(peer);
        }
        for peer in idle.into_iter().rev() {
            self.ready.push_front(peer);
        }
        let (peer, queued) = found?;
        self.taken = Some(queued);
        Some((peer, queued.number))
    }

    /// Pops the highest queued number `peer` may take.
    fn take_for(&mut self, peer: PeerId) -> Option<Queued> {
        let mut refused = Vec::new();
        let mut found = None;
        while let Some(queued) = self.queue.pop() {
            if self.refused.contains_key(&(queued.number, peer)) {
                refused.push(queued);
            } else {
                found = Some(queued);
                break;
            }
        }
        self.queue.extend(refused);
        found
    }

    /// The request for the number [`next_dispatch`](Self::next_dispatch) returned went out.
    pub(crate) fn dispatched(&mut self, peer: PeerId, request: OutboundRequestId, now: Duration) {
        let Some(queued) = self.taken.take() else {
            return;
        };
        if let Some(lp) = self.loops.get_mut(&peer) {
            lp.state = LoopState::Busy;
        }
        self.sent.insert(
            request,
            Sent {
                peer,
                number: queued.number,
                range: queued.range,
                started: now,
            },
        );
    }

    /// When the next peer loop wakes up.
    pub(crate) fn next_wake(&self) -> Option<Duration> {
        self.loops
            .values()
            .filter_map(|lp| match lp.state {
                LoopState::Waiting { at, .. } => Some(at),
                LoopState::Ready | LoopState::Busy => None,
            })
            .min()
    }

    // ---- results ---------------------------------------------------------------------------

    /// A verified payload came back for `request`.
    pub(crate) fn on_payload(
        &mut self,
        request: OutboundRequestId,
        envelope: ExecutionPayloadEnvelope,
        now: Duration,
        events: &mut VecDeque<Event>,
        metrics: &dyn Metrics,
    ) {
        let Some(sent) = self.finish(request, now, true) else {
            return;
        };
        metrics.request(
            Role::Client,
            sent.number,
            client_result_code(Some(ResultCode::Success)),
            now.saturating_sub(sent.started),
        );
        self.score(sent.peer, ReqRespEvent::ValidResponse);
        let hash = envelope.execution_payload.block_hash;
        events.push_back(Event::Response {
            peer: sent.peer,
            number: sent.number,
            result: Ok(hash),
        });
        // op-node's onResult: always into quarantine first, then promote if trusted.
        let entry = Entry {
            peer: sent.peer,
            envelope,
        };
        if let Some((old, evicted)) = self.quarantine.insert(hash, entry) {
            self.rejected(old, evicted, events);
        }
        metrics.quarantine_size(self.quarantine.len());
        if self.trusted.contains_key(&hash) {
            self.queue_promotion(hash);
        }
    }

    /// `request` failed.
    pub(crate) fn on_failure(
        &mut self,
        request: OutboundRequestId,
        failure: RequestFailure,
        now: Duration,
        events: &mut VecDeque<Event>,
        metrics: &dyn Metrics,
    ) {
        let Some(sent) = self.finish(request, now, false) else {
            return;
        };
        if matches!(failure, RequestFailure::UnsupportedProtocols) {
            self.on_unsupported(sent, now, events, metrics);
            return;
        }
        let code = match &failure {
            RequestFailure::Code(code) => Some(*code),
            _ => None,
        };
        metrics.request(
            Role::Client,
            sent.number,
            client_result_code(code),
            now.saturating_sub(sent.started),
        );
        if code == Some(ResultCode::NotFound) {
            // op-node: no penalty, and the whole range is cancelled.
            debug!(target: TARGET, peer = %sent.peer, number = sent.number, "peer does not have the block; cancelling its range");
            self.cancel_range(sent.range);
            events.push_back(Event::RangeCancelled {
                peer: sent.peer,
                number: sent.number,
            });
        } else {
            debug!(target: TARGET, peer = %sent.peer, number = sent.number, error = %failure, "sync request failed");
            self.score(sent.peer, ReqRespEvent::ErrorResponse);
        }
        events.push_back(Event::Response {
            peer: sent.peer,
            number: sent.number,
            result: Err(failure),
        });
    }

    /// The peer refused the protocol (multistream-select found no common protocol): it does
    /// not serve payload_by_number. Decision (departs from op-node, which scores this as an
    /// error response and keeps asking): no score, no back-off, the peer is not asked again
    /// while connected, and the number goes back to the queue for a peer that serves. Many
    /// nodes on live networks run clients without this protocol; scoring them pushed honest
    /// gossip peers below zero and out of the mesh.
    fn on_unsupported(
        &mut self,
        sent: Sent,
        now: Duration,
        events: &mut VecDeque<Event>,
        metrics: &dyn Metrics,
    ) {
        metrics.unsupported(sent.number, now.saturating_sub(sent.started));
        debug!(target: TARGET, peer = %sent.peer, number = sent.number, "peer does not serve payload_by_number; not asking it again");
        if !self.in_flight.contains_key(&sent.number) && self.queue.len() < REQUEST_QUEUE_SIZE {
            self.queue.push(Queued {
                number: sent.number,
                range: sent.range,
            });
            self.in_flight.insert(sent.number, sent.range);
        }
        events.push_back(Event::Response {
            peer: sent.peer,
            number: sent.number,
            result: Err(RequestFailure::UnsupportedProtocols),
        });
        if self.set_serving(sent.peer, false, now) {
            events.push_back(Event::NotServing { peer: sent.peer });
        }
    }

    /// Clears the request's bookkeeping and restarts its peer's loop.
    fn finish(&mut self, request: OutboundRequestId, now: Duration, ok: bool) -> Option<Sent> {
        let sent = self.sent.remove(&request)?;
        self.in_flight.remove(&sent.number);
        if let Some(lp) = self.loops.get_mut(&sent.peer)
            && lp.state == LoopState::Busy
        {
            lp.state = LoopState::Waiting {
                at: now,
                then: if ok { Step::Global } else { Step::Backoff },
            };
        }
        Some(sent)
    }

    // ---- promotion -------------------------------------------------------------------------

    /// Hands trusted payloads to the sink while it has room, each followed by its parent if
    /// quarantined (op-node's `promote`/`tryPromote`, without recursion).
    pub(crate) fn poll_promotions(
        &mut self,
        cx: &mut Context<'_>,
        events: &mut VecDeque<Event>,
        metrics: &dyn Metrics,
    ) {
        while let Some(&hash) = self.promotions.front() {
            match self.sink.poll_ready(cx) {
                Poll::Pending => return,
                Poll::Ready(Err(_)) => {
                    warn!(target: TARGET, "payload sink closed; dropping promotions");
                    self.promotions.clear();
                    return;
                }
                Poll::Ready(Ok(())) => {}
            }
            self.promotions.pop_front();
            if !self.trusted.contains_key(&hash) {
                // Trust was evicted from the 10,000-hash LRU since queueing; leave it be.
                continue;
            }
            let Some(entry) = self.quarantine.remove(&hash) else {
                continue;
            };
            let number = entry.number();
            let parent = entry.envelope.execution_payload.parent_hash;
            let peer = entry.peer;
            if self
                .sink
                .start_send(UnsafePayload {
                    peer,
                    envelope: entry.envelope,
                })
                .is_err()
            {
                warn!(target: TARGET, "payload sink closed; dropping promotions");
                self.promotions.clear();
                return;
            }
            events.push_back(Event::Promoted { peer, number, hash });
            self.trust(hash);
            self.trust(parent);
            if self.quarantine.contains(&parent) {
                self.queue_promotion(parent);
            }
            if let Some(conflict) = number.checked_sub(1).and_then(|n| self.quarantine.at(n))
                && conflict != parent
            {
                // What sits at number − 1 is not the parent: clear it so the parent is fetched.
                self.evict(conflict, events, metrics);
            }
            metrics.quarantine_size(self.quarantine.len());
        }
    }

    fn queue_promotion(&mut self, hash: B256) {
        if self.promotions.len() < PROMOTION_QUEUE_SIZE {
            self.promotions.push_back(hash);
        } else {
            // op-node drops it too; the next range request finds it trusted in quarantine.
            debug!(target: TARGET, %hash, "promotion queue full");
        }
    }

    fn trust(&mut self, hash: B256) {
        self.trusted.insert(hash, ());
    }

    fn evict(&mut self, hash: B256, events: &mut VecDeque<Event>, metrics: &dyn Metrics) {
        if let Some(entry) = self.quarantine.remove(&hash) {
            self.rejected(hash, entry, events);
            metrics.quarantine_size(self.quarantine.len());
        }
    }

    /// A payload left quarantine other than by promotion: if it was never trusted, its peer
    /// served a block that did not turn out canonical (op-node's `onRejectedPayload`).
    fn rejected(&mut self, hash: B256, entry: Entry, events: &mut VecDeque<Event>) {
        if self.trusted.contains_key(&hash) {
            return;
        }
        debug!(target: TARGET, peer = %entry.peer, number = entry.number(), %hash, "rejecting untrusted payload");
        self.refused.insert((entry.number(), entry.peer), ());
        self.score(entry.peer, ReqRespEvent::RejectedPayload);
        events.push_back(Event::Rejected {
            peer: entry.peer,
            number: entry.number(),
            hash,
        });
    }

    fn score(&self, peer: PeerId, event: ReqRespEvent) {
        self.scores.record_req_resp(&peer, event);
    }
}

#[cfg(test)]
mod tests {

    use op_p2p_api::MemoryScoreBook;
    use op_p2p_types::ExecutionPayload;

    use super::*;
    use crate::{config::MAX_RANGE_AGE, metrics::NoMetrics};

    const NOW: u64 = 1_800_000_000;

    fn client() -> (Client, Arc<MemoryScoreBook>) {
        let book = Arc::new(MemoryScoreBook::new());
        let (sink, _) = mpsc::channel(1);
        (Client::new(&Config::default(), book.clone(), sink), book)
    }

    fn at(number: u64) -> BlockRef {
        BlockRef {
            number,
            hash: B256::with_last_byte(number as u8),
            parent_hash: B256::with_last_byte((number as u8).wrapping_sub(1)),
            timestamp: NOW,
        }
    }

    fn range(c: &mut Client, start: u64, end: u64) -> Result<usize, Error> {
        c.request_range(at(start), at(end), NOW, &mut VecDeque::new(), &NoMetrics)
    }

    fn queued(c: &Client) -> Vec<u64> {
        let mut numbers: Vec<u64> = c.queue.iter().map(|q| q.number).collect();
        numbers.sort_unstable_by(|a, b| b.cmp(a));
        numbers
    }

    #[test]
    fn a_range_walks_down_from_end_minus_one_until_the_queue_is_full() {
        let (mut c, _) = client();
        assert_eq!(range(&mut c, 100, 105).unwrap(), 4);
        assert_eq!(queued(&c), vec![104, 103, 102, 101]);
        // Queued numbers are in flight: asking again schedules nothing new.
        assert_eq!(range(&mut c, 100, 105).unwrap(), 0);
        // A wider range only adds what is missing, up to the queue's bound.
        assert_eq!(range(&mut c, 0, 250).unwrap(), REQUEST_QUEUE_SIZE - 4);
        assert_eq!(c.queue.len(), REQUEST_QUEUE_SIZE);
        assert_eq!(queued(&c)[..3], [249, 248, 247]);
        // Nothing between start and end.
        assert_eq!(range(&mut c, 300, 301).unwrap(), 0);
        assert_eq!(range(&mut c, 301, 300).unwrap(), 0);
    }

    #[test]
    fn old_ranges_are_refused() {
        let (mut c, _) = client();
        let old = BlockRef {
            timestamp: NOW - MAX_RANGE_AGE.as_secs() - 1,
            ..at(1)
        };
        assert!(matches!(
            c.request_range(old, at(10), NOW, &mut VecDeque::new(), &NoMetrics),
            Err(Error::RangeTooOld { number: 1, .. })
        ));
        let recent = BlockRef {
            timestamp: NOW - MAX_RANGE_AGE.as_secs(),
            ..at(1)
        };
        assert_eq!(
            c.request_range(recent, at(10), NOW, &mut VecDeque::new(), &NoMetrics)
                .unwrap(),
            8
        );
    }

    #[test]
    fn a_quarantined_conflict_below_the_trusted_end_is_rejected_and_asked_again() {
        let (mut c, store) = client();
        let liar = PeerId::random();
        let lie = ExecutionPayloadEnvelope {
            parent_beacon_block_root: None,
            execution_payload: ExecutionPayload {
                block_number: 9,
                block_hash: B256::repeat_byte(0xee),
                ..Default::default()
            },
        };
        let other = ExecutionPayloadEnvelope {
            parent_beacon_block_root: None,
            execution_payload: ExecutionPayload {
                block_number: 5,
                block_hash: B256::repeat_byte(0x55),
                ..Default::default()
            },
        };
        for (hash, envelope) in [
            (B256::repeat_byte(0xee), lie),
            (B256::repeat_byte(0x55), other),
        ] {
            c.quarantine.insert(
                hash,
                Entry {
                    peer: liar,
                    envelope,
                },
            );
        }
        let mut events = VecDeque::new();
        let queued = c
            .request_range(at(0), at(10), NOW, &mut events, &NoMetrics)
            .unwrap();
        // 9 was rejected and queued again; 5 is an untrusted candidate and skipped.
        assert_eq!(queued, 8);
        assert!(!queued_numbers(&c).contains(&5));
        assert!(queued_numbers(&c).contains(&9));
        assert!(matches!(
            events.pop_front(),
            Some(Event::Rejected { peer, number: 9, .. }) if peer == liar
        ));
        assert_eq!(store.peer_scores(&liar).req_resp.rejected_payloads, 1.0);
        assert_eq!(c.quarantined(), 1);
    }

    fn queued_numbers(c: &Client) -> Vec<u64> {
        queued(c)
    }

    #[test]
    fn peers_that_do_not_serve_get_no_loop_until_they_do_or_reconnect() {
        let (mut c, _) = client();
        let peer = PeerId::random();
        // Not connected: nothing to record.
        assert!(!c.set_serving(peer, false, Duration::ZERO));
        assert!(!c.is_not_serving(&peer));
        c.peer_connected(peer, Duration::ZERO);
        assert_eq!(c.sync_peers(), 1);
        assert!(c.set_serving(peer, false, Duration::ZERO));
        assert!(!c.set_serving(peer, false, Duration::ZERO), "reported once");
        assert_eq!(c.sync_peers(), 0);
        // Static or not, a peer that does not serve is not asked.
        c.set_static(peer, true, Duration::ZERO);
        assert_eq!(c.sync_peers(), 0);
        // identify now lists the protocol.
        assert!(!c.set_serving(peer, true, Duration::ZERO));
        assert_eq!(c.sync_peers(), 1);
        // A reconnect starts afresh.
        assert!(c.set_serving(peer, false, Duration::ZERO));
        c.peer_disconnected(&peer);
        c.peer_connected(peer, Duration::ZERO);
        assert!(!c.is_not_serving(&peer));
        assert_eq!(c.sync_peers(), 1);
    }

    #[test]
    fn peers_wait_for_global_then_peer_tokens_then_back_off_after_failures() {
        let (mut c, _) = client();
        let peer = PeerId::random();
        c.peer_connected(peer, Duration::ZERO);
        c.run_due(Duration::ZERO);
        assert_eq!(c.loops[&peer].state, LoopState::Ready);
        // A failure spends 15 extra tokens: with 14 left, the 15th is back at 250 ms and all
        // 15 are taken, so the next request waits for one more token (500 ms).
        c.loops.get_mut(&peer).unwrap().state = LoopState::Waiting {
            at: Duration::ZERO,
            then: Step::Backoff,
        };
        c.run_due(Duration::ZERO);
        assert_eq!(c.next_wake(), Some(Duration::from_millis(250)));
        c.run_due(Duration::from_millis(250));
        assert_eq!(c.next_wake(), Some(Duration::from_millis(500)));
        c.run_due(Duration::from_millis(500));
        assert_eq!(c.loops[&peer].state, LoopState::Ready);
        // A peer that has been busy (an empty bucket) waits 15 × 250 ms = 3.75 s.
        c.loops.get_mut(&peer).unwrap().state = LoopState::Waiting {
            at: Duration::from_millis(500),
            then: Step::Backoff,
        };
        c.run_due(Duration::from_millis(500));
        assert_eq!(c.next_wake(), Some(Duration::from_millis(500 + 3750)));
        c.peer_disconnected(&peer);
        assert_eq!(c.sync_peers(), 0);
    }
}
