//! [`App`]: the node's application side, on its own task. It owns the payload store and talks
//! to the swarm task only through a [`NodeHandle`]:
//!
//! - accepted gossip blocks go into the payload store (the gap-fill seam watches what they do
//!   to the unsafe head), and so do blocks the sync client fetched and promoted, with origin
//!   `sync`;
//! - every 2·block_time (op-node's driver), and at once when a gossip block lands ahead of the
//!   head, the gap check hands the missing range to the gap filler;
//! - in sequencer mode, a block every block time: built, stored, signed and published;
//! - control commands from stdin;
//! - the status file.

use std::{future::Future, path::PathBuf, sync::Arc, time::Duration};

use futures::StreamExt as _;
use libp2p_identity::PeerId;
use op_p2p_api::{ScoreBook as _, UnsafePayload};
use op_p2p_gossip::{GossipCounters, Outcome};
use op_p2p_peerstore::Books;
use op_p2p_types::{BlockRef, ExecutionPayloadEnvelope};
use tokio::{
    sync::mpsc,
    time::{Instant, MissedTickBehavior, interval, sleep_until},
};
use tracing::{debug, error, info, warn};

use crate::{
    control::{self, ControlCommand},
    gap::{self, GapFillError, GapTrigger, Scheduled},
    handle::NodeHandle,
    metrics::NodeMetrics,
    payload_store::{Inserted, Origin, PayloadStore},
    recent_blocks::RecentBlocks,
    rollup::Chain,
    sequencer::build_loaded_payload,
    signer::BlockPublisher,
    status::{
        self, BanStatus, DiscoveryStatus, GossipStatus, PeerStatus, STATUS_INTERVAL,
        STATUS_MAX_BLOCKS, SYNC_OFF, SYNC_ON, ScoreStatus, Status,
    },
    wall_clock::{instant_at_unix, now_ms, now_us},
};

/// The tracing target of the application side.
const TARGET: &str = "op_p2p::app";

/// The application side's state.
#[derive(Debug)]
pub(crate) struct App {
    /// The swarm task.
    pub(crate) handle: NodeHandle,
    /// The payload store.
    pub(crate) payloads: PayloadStore,
    /// The peer store's books (the score book, for control reports and the status).
    pub(crate) books: Books,
    /// The chain.
    pub(crate) chain: Chain,
    /// Accepted gossip blocks.
    pub(crate) deliveries: mpsc::Receiver<UnsafePayload>,
    /// Blocks the sync client fetched and promoted; `None` with req-resp sync off.
    pub(crate) synced: Option<futures::channel::mpsc::Receiver<UnsafePayload>>,
    /// Sequencer mode: the last block to produce (`None`: no limit).
    pub(crate) sequencer: Option<Option<u64>>,
    /// Sequencer mode: bytes of synthetic user transactions per block.
    pub(crate) block_bytes: usize,
    /// Signs and publishes the sequencer's blocks (local key or remote signer); `None`
    /// without a block signer.
    pub(crate) publisher: Option<BlockPublisher>,
    /// The unsafe block signer gossip validates against (set by the `signer` control command).
    pub(crate) signer: op_p2p_gossip::UnsafeBlockSigner,
    /// Control commands, with `--control-stdin`.
    pub(crate) control: Option<mpsc::Receiver<ControlCommand>>,
    /// Where the status goes.
    pub(crate) status_file: Option<PathBuf>,
    /// The local peer id, for the status.
    pub(crate) peer_id: String,
    /// Whether req-resp sync is on (for the status).
    pub(crate) sync_on: bool,
    /// Gap ranges the filler refused this run (sync off).
    pub(crate) gaps_unfilled: u64,
    /// The gossip counters.
    pub(crate) gossip: Arc<GossipCounters>,
    /// The discovery service; `None` with `p2p.no-discovery`.
    pub(crate) discovery: Option<op_p2p_discovery::DiscoveryHandle>,
    /// After a block could not be built or stored, the sequencer tries again one block time
    /// later instead of at once (the head did not move, so the block stays due).
    pub(crate) sequencer_retry_at: Option<Instant>,
    /// When the sequencer published its recent blocks and where gossip blocks came from, for
    /// the status.
    pub(crate) recent: RecentBlocks,
    /// The metrics the app moves: received payloads (op-node's `unsafe_payloads_total`,
    /// `refs_*`), propagation delay, the gap.
    pub(crate) metrics: NodeMetrics,
}

impl App {
    /// Runs until `shutdown` resolves, a control `shutdown` arrives, or stdin closes (with
    /// `--control-stdin`); writes the status a last time.
    pub(crate) async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut gap = GapTrigger::new(self.chain.rollup.block_time);
        let mut gap_tick = interval(gap.interval());
        let mut status_tick = interval(STATUS_INTERVAL);
        gap_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        status_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut control = self.control.take();
        let mut deliveries_open = true;
        let mut synced = self.synced.take();
        loop {
            let next_block = self.next_block_due();
            tokio::select! {
                () = &mut shutdown => break,
                delivery = self.deliveries.recv(), if deliveries_open => match delivery {
                    Some(UnsafePayload { peer, envelope }) => {
                        debug!(target: TARGET, %peer, number = envelope.execution_payload.block_number, "gossip block");
                        let stored = self.store(&envelope, Origin::Gossip);
                        if stored.as_ref().is_some_and(Inserted::is_new) {
                            self.note_gossip_source(&envelope, peer);
                        }
                        // A block ahead of the head is a gap: ask at once rather than at the
                        // next periodic check (op-node's 2·block_time tick still runs).
                        if stored == Some(Inserted::Ahead) {
                            self.check_gap(&mut gap).await;
                        }
                    }
                    None => deliveries_open = false,
                },
                payload = recv_synced(&mut synced) => match payload {
                    Some(UnsafePayload { peer, envelope }) => {
                        debug!(target: TARGET, %peer, number = envelope.execution_payload.block_number, "synced block");
                        self.store(&envelope, Origin::Sync);
                    }
                    None => synced = None,
                },
                () = sleep_until(next_block.unwrap_or_else(far_future)), if next_block.is_some() => {
                    self.produce().await;
                }
                _ = gap_tick.tick() => self.check_gap(&mut gap).await,
                _ = status_tick.tick() => self.write_status().await,
                command = recv(&mut control) => match command {
                    Some(ControlCommand::Shutdown) | None => {
                        control::answer("ok shutdown");
                        break;
                    }
                    Some(command) => self.on_control(command).await,
                },
            }
        }
        self.write_status().await;
    }

    /// Stores a payload; logs what it did to the head. Returns what happened, `None` on a
    /// store failure.
    fn store(&self, envelope: &ExecutionPayloadEnvelope, origin: Origin) -> Option<Inserted> {
        let number = envelope.execution_payload.block_number;
        let hash = envelope.execution_payload.block_hash;
        let result = self.payloads.insert(envelope, origin, now_us());
        if origin != Origin::Local {
            // op-node records every payload the network hands over, duplicates too.
            let new = !matches!(result, Ok(Inserted::Duplicate) | Err(_));
            self.metrics.received_payload(envelope, origin, new);
        }
        match &result {
            Ok(Inserted::Extended { head }) => info!(
                target: TARGET,
                number, %hash, origin = origin.as_str(), head = head.number,
                "new unsafe head"
            ),
            Ok(Inserted::Ahead) => info!(
                target: TARGET,
                number, %hash, origin = origin.as_str(), head = self.payloads.head().number,
                "block above the unsafe head: gap"
            ),
            Ok(other) => debug!(target: TARGET, number, %hash, outcome = ?other, "stored"),
            Err(error) => error!(target: TARGET, number, %error, "cannot store a payload"),
        }
        result.ok()
    }

    /// Remembers the peer a newly stored gossip block came from, for the status.
    fn note_gossip_source(&mut self, envelope: &ExecutionPayloadEnvelope, peer: PeerId) {
        let payload = &envelope.execution_payload;
        self.recent
            .gossip_source(payload.block_number, payload.block_hash, peer);
    }

    /// When the sequencer's next block is due, if sequencing.
    fn next_block_due(&self) -> Option<Instant> {
        let last = self.sequencer?;
        let head = self.payloads.head();
        let next = head.number.checked_add(1)?;
        if last.is_some_and(|last| next > last) {
            return None;
        }
        let timestamp = self.chain.rollup.timestamp_for_block(next)?;
        let due = instant_at_unix(timestamp);
        Some(self.sequencer_retry_at.map_or(due, |retry| retry.max(due)))
    }

    /// Builds the next block on the head, stores it, signs and publishes it.
    async fn produce(&mut self) {
        let head = self.payloads.head();
        let envelope = match build_loaded_payload(&self.chain.rollup, &head, self.block_bytes) {
            Some(Ok(envelope)) => envelope,
            Some(Err(error)) => {
                error!(target: TARGET, %error, "cannot build a block");
                self.retry_later();
                return;
            }
            None => {
                error!(target: TARGET, head = head.number, "no timestamp for the next block");
                self.retry_later();
                return;
            }
        };
        let block = BlockRef::of(&envelope);
        if !matches!(
            self.store(&envelope, Origin::Local),
            Some(Inserted::Extended { .. })
        ) {
            self.retry_later();
            return;
        }
        self.sequencer_retry_at = None;
        let Some(publisher) = &self.publisher else {
            return;
        };
        // Signing (a remote signer's round trip included) runs here, on the app task.
        match publisher.sign_and_publish(envelope).await {
            Ok(published_us) => {
                info!(
                    target: TARGET,
                    number = block.number, hash = %block.hash, "published block"
                );
                self.recent.published(block.number, published_us);
            }
            Err(error) => warn!(
                target: TARGET,
                number = block.number, %error, "block stored but not published"
            ),
        }
    }

    fn retry_later(&mut self) {
        let block_time = Duration::from_secs(self.chain.rollup.block_time.max(1));
        self.sequencer_retry_at = Some(Instant::now() + block_time);
    }

    /// op-node's `checkForGapInUnsafeQueue`: a block waiting more than one above the head
    /// means the range between them is requested.
    async fn check_gap(&mut self, trigger: &mut GapTrigger) {
        let gap = match self.payloads.gap() {
            Ok(gap) => {
                self.metrics
                    .set_gap(gap.map_or(0, |(head, above)| gap::missing(head, above)));
                gap
            }
            Err(error) => {
                warn!(target: TARGET, %error, "cannot read the gap");
                return;
            }
        };
        let Some(request) = trigger.check(gap) else {
            return;
        };
        match self.handle.request_range(request.start, request.end).await {
            Ok(Ok(Scheduled { queued, sync_peers })) => {
                if request.new && sync_peers == 0 {
                    // Connected peers may all run without payload_by_number (other clients,
                    // `--p2p.sync.req-resp=false`): they are not asked, and the range waits.
                    warn!(
                        target: TARGET,
                        start = request.start.number, end = request.end.number,
                        missing = request.missing(), queued,
                        "gap below a gossip block waits: no connected peer serves payload_by_number"
                    );
                } else if request.new {
                    info!(
                        target: TARGET,
                        start = request.start.number, end = request.end.number, scheduled = queued,
                        sync_peers, "requested missing blocks"
                    );
                }
            }
            Ok(Err(error @ GapFillError::Unavailable)) => {
                if request.new {
                    self.gaps_unfilled += 1;
                    warn!(
                        target: TARGET,
                        start = request.start.number, end = request.end.number,
                        missing = request.missing(), %error,
                        "cannot fill the gap below a gossip block"
                    );
                }
            }
            Ok(Err(error)) => warn!(target: TARGET, %error, "gap request refused"),
            Err(error) => warn!(target: TARGET, %error, "cannot reach the swarm task"),
        }
    }

    async fn on_control(&self, command: ControlCommand) {
        match command {
            ControlCommand::Ban { peer, duration } => {
                match self.handle.ban_peer(peer, duration).await {
                    Ok(Ok(until)) => {
                        self.write_status().await;
                        control::answer(&format!("ok ban {peer} {until}"));
                    }
                    Ok(Err(error)) => control::answer(&format!("error ban {peer}: {error}")),
                    Err(error) => control::answer(&format!("error ban {peer}: {error}")),
                }
            }
            ControlCommand::Report { peer, event } => {
                // Into the books' memory at once (gossipsub reads it from there) and queued for
                // RocksDB.
                self.books.record_req_resp(&peer, event);
                self.write_status().await;
                control::answer(&format!("ok report {peer}"));
            }
            ControlCommand::Signer(address) => {
                // Blocks of the new signer are accepted from the next message on; the ones
                // rejected meanwhile come back through the gap filler (payload_by_number).
                self.signer.set(address);
                info!(target: TARGET, %address, "unsafe block signer set");
                control::answer(&format!("ok signer {address}"));
            }
            ControlCommand::Shutdown => {}
        }
    }

    async fn write_status(&self) {
        let Some(path) = &self.status_file else {
            return;
        };
        match self.status().await {
            Ok(status) => {
                if let Err(error) = status::write(path, &status) {
                    warn!(target: TARGET, path = %path.display(), %error, "cannot write the status file");
                }
            }
            Err(error) => debug!(target: TARGET, %error, "no status"),
        }
    }

    async fn status(&self) -> Result<Status, Box<dyn std::error::Error>> {
        let network = self.handle.snapshot().await?;
        let head = self.payloads.head();
        let blocks = self.payloads.recent_entries(STATUS_MAX_BLOCKS)?;
        let head_entry = blocks.iter().find(|e| e.block.number == head.number);
        let counts = self.payloads.counts();
        let gap = self
            .payloads
            .gap()?
            .map_or(0, |(head, above)| gap::missing(head, above));
        let scores = self
            .books
            .peer_scores()
            .into_iter()
            .map(|(peer, s)| ScoreStatus {
                peer: peer.to_string(),
                gossip_total: s.gossip.total,
                app: s.req_resp.app_score(),
            })
            .collect();
        let now = self.books.store().now();
        Ok(Status {
            peer_id: self.peer_id.clone(),
            pid: std::process::id(),
            chain_id: self.chain.rollup.l2_chain_id,
            role: if self.sequencer.is_some() {
                "sequencer"
            } else {
                "verifier"
            }
            .into(),
            listen_addrs: network
                .listen_addrs
                .iter()
                .map(ToString::to_string)
                .collect(),
            sync: if self.sync_on { SYNC_ON } else { SYNC_OFF }.into(),
            head: self.recent.status(
                &head,
                head_entry.map_or("genesis", |e| e.origin.as_str()),
                head_entry.map_or(0, |e| e.received_us),
            ),
            blocks: blocks
                .iter()
                .map(|e| {
                    self.recent
                        .status(&e.block, e.origin.as_str(), e.received_us)
                })
                .collect(),
            blocks_via_gossip: counts.gossip,
            blocks_via_sync: counts.sync,
            blocks_local: counts.local,
            gaps_unfilled: self.gaps_unfilled,
            gap,
            sync_peers: network.sync_peers,
            gossip: GossipStatus {
                accepted: self.gossip.outcome(Outcome::Accept),
                ignored: self.gossip.outcome(Outcome::Ignore),
                rejected: self.gossip.outcome(Outcome::Reject),
                published: self.gossip.published(),
                publish_failed: self.gossip.publish_failed(),
            },
            peers: network.peers.len(),
            connected: network
                .peers
                .iter()
                .map(|(peer, score)| PeerStatus {
                    peer: peer.to_string(),
                    score: *score,
                })
                .collect(),
            bans: network
                .bans
                .iter()
                .filter(|(_, until)| *until > now)
                .map(|(peer, until)| BanStatus {
                    peer: peer.to_string(),
                    until: *until,
                })
                .collect(),
            scores,
            discovery: self.discovery_status().await,
            tasks: tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
            updated_ms: now_ms(),
        })
    }

    async fn discovery_status(&self) -> Option<DiscoveryStatus> {
        let handle = self.discovery.as_ref()?;
        let counters = handle.shared().counters();
        let enr = handle
            .local_enr()
            .await
            .unwrap_or_else(|| handle.initial_enr().clone());
        Some(DiscoveryStatus {
            enr: enr.to_base64(),
            udp: handle.udp_addr().to_string(),
            table: handle.table().await.map_or(0, |t| t.len()),
            table_loaded: counters.table_loaded(),
            accepted: counters.accepted(),
            candidates: counters.candidates(),
            skipped: op_p2p_discovery::SkipReason::ALL
                .iter()
                .map(|r| (r.as_str().to_owned(), counters.skipped(*r)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            dials: counters.dials(),
            dial_failures: counters.dial_failures(),
            denied: counters.denied(),
            connected: counters.connected(),
        })
    }
}

/// The next command, or pending forever without a control channel.
async fn recv(control: &mut Option<mpsc::Receiver<ControlCommand>>) -> Option<ControlCommand> {
    match control {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The next synced payload, or pending forever with sync off.
async fn recv_synced(
    synced: &mut Option<futures::channel::mpsc::Receiver<UnsafePayload>>,
) -> Option<UnsafePayload> {
    match synced {
        Some(rx) => rx.next().await,
        None => std::future::pending().await,
    }
}

/// A sleep target that never fires in practice (its branch is disabled anyway).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 60 * 60)
}
