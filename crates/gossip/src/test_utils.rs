//! In-process test networks and block builders (feature `test-utils`).
//!
//! A [`TestNode`] is a gossip [`Behaviour`] in the workspace's test swarm (`op-p2p-api`'s
//! `test_utils`: TCP + noise + yamux on 127.0.0.1), on its own task. The task only forwards the behaviour's events to channels and runs test
//! commands: all gossip logic is in the behaviour, as in the node binary. Tests talk to it
//! through channels; every wait is event-driven and bounded by [`TIMEOUT`].

use std::{
    collections::HashSet,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::StreamExt as _;
use libp2p_core::Multiaddr;
use libp2p_gossipsub::{MessageId, PublishError, TopicHash};
use libp2p_identity::PeerId;
use libp2p_swarm::{Swarm, SwarmEvent};
use op_p2p_types::{
    Address, B256, BlockSigner, Bytes, ExecutionPayload, ExecutionPayloadEnvelope, RollupConfig,
    U256,
};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use op_p2p_api::{Clock, ManualClock, MemoryScoreBook, UnsafePayload};

use crate::{
    Behaviour, Config, Event, GossipCounters, Reported, Services, UnsafeBlockSigner,
    router::blocks_topic_hashes,
};

/// The chain id of test networks.
pub const CHAIN_ID: u64 = 901;
/// The fixed "now" of test validators (unix seconds); test blocks carry this timestamp.
pub const NOW: u64 = 1_750_000_000;
/// The bound on every wait in a test network.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A rollup with 2 s blocks and every fork up to Isthmus active from genesis; Jovian not
/// scheduled. Blocks are V4.
pub fn rollup() -> RollupConfig {
    RollupConfig {
        block_time: 2,
        l2_chain_id: CHAIN_ID,
        regolith_time: Some(0),
        canyon_time: Some(0),
        delta_time: Some(0),
        ecotone_time: Some(0),
        fjord_time: Some(0),
        granite_time: Some(0),
        holocene_time: Some(0),
        isthmus_time: Some(0),
        ..Default::default()
    }
}

/// The test sequencer key, `0x01…01` (address `0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1`).
pub fn sequencer() -> BlockSigner {
    BlockSigner::new(B256::repeat_byte(1)).expect("0x01…01 is a valid secret key")
}

/// A small valid V4 block at `number` with `timestamp`; `salt` makes distinct blocks at one
/// height.
pub fn block(number: u64, timestamp: u64, salt: u8) -> ExecutionPayloadEnvelope {
    block_with_transactions(
        number,
        timestamp,
        salt,
        vec![Bytes::from_static(&[0x7e, 1, 2, 3])],
    )
}

/// A valid V4 block with the given transactions.
pub fn block_with_transactions(
    number: u64,
    timestamp: u64,
    salt: u8,
    transactions: Vec<Bytes>,
) -> ExecutionPayloadEnvelope {
    let mut envelope = ExecutionPayloadEnvelope {
        parent_beacon_block_root: Some(B256::repeat_byte(0xbb)),
        execution_payload: ExecutionPayload {
            parent_hash: B256::from(U256::from(number.saturating_sub(1))),
            fee_recipient: Address::repeat_byte(0x42),
            state_root: B256::repeat_byte(salt),
            receipts_root: B256::repeat_byte(3),
            prev_randao: B256::repeat_byte(4),
            block_number: number,
            gas_limit: 60_000_000,
            gas_used: 21_000,
            timestamp,
            extra_data: Bytes::from_static(&[0, 0, 0, 0, 0xfa, 0, 0, 0, 6]),
            base_fee_per_gas: U256::from(252u64),
            transactions,
            withdrawals: Some(vec![]),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            withdrawals_root: Some(B256::repeat_byte(5)),
            ..Default::default()
        },
    };
    envelope.execution_payload.block_hash = envelope
        .compute_block_hash()
        .expect("a u64 base fee always hashes");
    envelope
}

/// `count` transactions shaped like EIP-1559 calls, ~480 bytes each on average: random-looking
/// addresses, values and signatures, and calldata that is partly ABI zero padding, from a fixed
/// seed. 250 of them make a realistic ~120 KB Isthmus block.
pub fn realistic_transactions(count: usize) -> Vec<Bytes> {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    (0..count)
        .map(|_| {
            let mut tx = vec![0x02, 0xf9, 0x01, 0xd0];
            rng.fill(&mut tx, 20 + 32 + 12);
            let words = 6 + (rng.next() % 10) as usize;
            for _ in 0..words {
                let significant = (rng.next() % 33) as usize;
                tx.extend(std::iter::repeat_n(0, 32 - significant));
                rng.fill(&mut tx, significant);
            }
            rng.fill(&mut tx, 65);
            Bytes::from(tx)
        })
        .collect()
}

struct XorShift(u64);

impl XorShift {
    const fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn fill(&mut self, buf: &mut Vec<u8>, n: usize) {
        buf.extend((0..n).map(|_| self.next() as u8));
    }
}

/// Awaits `future` for at most [`TIMEOUT`], panicking with `what` when it does not finish.
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(TIMEOUT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {TIMEOUT:?}: {what}"),
    }
}

type Reply<T> = oneshot::Sender<T>;

enum Command {
    Dial(Multiaddr, Reply<()>),
    WaitSubscribed(PeerId, Reply<()>),
    Publish(
        Box<ExecutionPayloadEnvelope>,
        Reply<Result<MessageId, crate::Error>>,
    ),
    PublishRaw(TopicHash, Vec<u8>, Reply<Result<MessageId, PublishError>>),
    PeerScore(PeerId, Reply<Option<f64>>),
    IpColocationFactor(PeerId, Reply<f64>),
    ConnectedPeers(Reply<usize>),
    InspectScores(Reply<()>),
}

/// A gossip node in this process, on its own task.
///
/// It validates against [`rollup`] at the fixed time [`NOW`], expecting blocks signed by
/// [`sequencer`], and publishes with that key. The task stops when the node is dropped.
#[derive(Debug)]
pub struct TestNode {
    /// The node's peer id.
    pub peer_id: PeerId,
    /// Its loopback listen address.
    pub address: Multiaddr,
    /// Accepted blocks, as the application would receive them.
    pub deliveries: mpsc::Receiver<UnsafePayload>,
    /// Every result reported to gossipsub, in order (a bounded log: a node whose reports are
    /// not read stops logging after 4096).
    pub reports: mpsc::Receiver<Reported>,
    /// The node's metrics.
    pub counters: Arc<GossipCounters>,
    /// The node's score book.
    pub score_book: Arc<MemoryScoreBook>,
    /// The expected block signer, for rotation.
    pub signer: UnsafeBlockSigner,
    /// Peers this node cut off for flooding ([`Event::FloodCutOff`]).
    cut_offs: Arc<AtomicUsize>,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestNode {
    /// Starts a node with `config`, listening on an ephemeral port of 127.0.0.1.
    pub async fn spawn(config: Config) -> Self {
        Self::spawn_with_clock(config, Arc::new(ManualClock::new(NOW))).await
    }

    /// [`Self::spawn`] validating at the time `clock` tells (a shared [`ManualClock`] to move
    /// time, or one set apart to give a node a skewed clock).
    pub async fn spawn_with_clock(config: Config, clock: Arc<dyn Clock>) -> Self {
        let signer = UnsafeBlockSigner::new(sequencer().address());
        let counters = Arc::new(GossipCounters::new());
        let score_book = Arc::new(MemoryScoreBook::new());
        let services = Services {
            clock,
            score_book: score_book.clone(),
            metrics: counters.clone(),
        };
        let behaviour = Behaviour::new(&config, rollup(), signer.clone(), services)
            .expect("test config is valid");
        // The workspace's one test swarm: TCP + noise + yamux on 127.0.0.1, as the node runs.
        let mut swarm = op_p2p_api::test_utils::tcp_swarm(|_| behaviour);
        let address = op_p2p_api::test_utils::listen_local(&mut swarm).await;
        let peer_id = *swarm.local_peer_id();

        let (commands, command_rx) = mpsc::channel(64);
        let (report_tx, reports) = mpsc::channel(4096);
        let (delivery_tx, deliveries) = mpsc::channel(1024);
        let cut_offs = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(run(
            swarm,
            command_rx,
            report_tx,
            delivery_tx,
            Arc::clone(&cut_offs),
        ));
        Self {
            peer_id,
            address,
            deliveries,
            reports,
            counters,
            score_book,
            signer,
            cut_offs,
            commands,
            task,
        }
    }

    async fn call<T>(&self, what: &str, command: impl FnOnce(Reply<T>) -> Command) -> T {
        let (reply, response) = oneshot::channel();
        within(what, async {
            self.commands
                .send(command(reply))
                .await
                .unwrap_or_else(|_| panic!("node task stopped: {what}"));
            response
                .await
                .unwrap_or_else(|_| panic!("node task dropped the reply: {what}"))
        })
        .await
    }

    /// Dials `other` and waits until each side has seen the other subscribe to all four blocks
    /// topics. gossipsub grafts a subscribing peer into a mesh below Dlo at once, so the two are
    /// then mesh peers on every blocks topic.
    pub async fn connect(&self, other: &Self) {
        self.call("dial", |r| Command::Dial(other.address.clone(), r))
            .await;
        tokio::join!(
            self.call("subscriptions", |r| Command::WaitSubscribed(
                other.peer_id,
                r
            )),
            other.call("subscriptions", |r| Command::WaitSubscribed(
                self.peer_id,
                r
            )),
        );
    }

    /// Signs `envelope` with [`sequencer`] and publishes it.
    pub async fn publish(
        &self,
        envelope: &ExecutionPayloadEnvelope,
    ) -> Result<MessageId, crate::Error> {
        self.call("publish", |r| {
            Command::Publish(Box::new(envelope.clone()), r)
        })
        .await
    }

    /// Publishes raw `data` on `topic`, bypassing every check (a rogue peer).
    pub async fn publish_raw(
        &self,
        topic: TopicHash,
        data: Vec<u8>,
    ) -> Result<MessageId, PublishError> {
        self.call("publish raw", |r| Command::PublishRaw(topic, data, r))
            .await
    }

    /// How many peers this node cut off for flooding so far.
    pub fn flood_cut_offs(&self) -> usize {
        self.cut_offs.load(Ordering::Relaxed)
    }

    /// This node's gossipsub score of `peer` (`None` when scoring is off).
    pub async fn peer_score(&self, peer: PeerId) -> Option<f64> {
        self.call("peer score", |r| Command::PeerScore(peer, r))
            .await
    }

    /// This node's IP colocation factor of `peer` (see [`Behaviour::ip_colocation_factor`]).
    pub async fn ip_colocation_factor(&self, peer: PeerId) -> f64 {
        self.call("colocation", |r| Command::IpColocationFactor(peer, r))
            .await
    }

    /// The peers this node has a connection to.
    pub async fn connected_peers(&self) -> usize {
        self.call("connected peers", Command::ConnectedPeers).await
    }

    /// Runs the periodic score inspection now.
    pub async fn inspect_scores(&self) {
        self.call("inspect scores", Command::InspectScores).await;
    }

    /// The next accepted block.
    pub async fn next_delivery(&mut self) -> UnsafePayload {
        within("delivery", self.deliveries.recv())
            .await
            .expect("node task stopped")
    }

    /// The next result reported to gossipsub.
    pub async fn next_report(&mut self) -> Reported {
        within("report", self.reports.recv())
            .await
            .expect("node task stopped")
    }
}

/// The node's task: drives the swarm, forwards the behaviour's events to the test's channels,
/// and runs test commands. It holds no gossip logic.
async fn run(
    mut swarm: Swarm<Behaviour>,
    mut commands: mpsc::Receiver<Command>,
    reports: mpsc::Sender<Reported>,
    deliveries: mpsc::Sender<UnsafePayload>,
    cut_offs: Arc<AtomicUsize>,
) {
    let topics: HashSet<TopicHash> = blocks_topic_hashes(CHAIN_ID).into_iter().collect();
    let mut waiting: Vec<(PeerId, Reply<()>)> = Vec::new();
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                // Full test channels only lose observations, never a gossipsub answer.
                SwarmEvent::Behaviour(Event::Validated(reported)) => {
                    let _ = reports.try_send(reported);
                }
                SwarmEvent::Behaviour(Event::Block(payload)) => {
                    let _ = deliveries.try_send(*payload);
                }
                SwarmEvent::Behaviour(Event::FloodCutOff { .. }) => {
                    cut_offs.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            },
            command = commands.recv() => {
                let Some(command) = command else { break };
                let behaviour = swarm.behaviour_mut();
                match command {
                    Command::Dial(address, reply) => {
                        swarm.dial(address).expect("loopback addresses are dialable");
                        let _ = reply.send(());
                    }
                    Command::WaitSubscribed(peer, reply) => waiting.push((peer, reply)),
                    Command::Publish(envelope, reply) => {
                        let _ = reply.send(behaviour.publish(&sequencer(), &envelope));
                    }
                    Command::PublishRaw(topic, data, reply) => {
                        let _ = reply.send(behaviour.gossipsub_mut().publish(topic, data));
                    }
                    Command::PeerScore(peer, reply) => {
                        let _ = reply.send(behaviour.peer_score(&peer));
                    }
                    Command::IpColocationFactor(peer, reply) => {
                        let _ = reply.send(behaviour.ip_colocation_factor(&peer));
                    }
                    Command::ConnectedPeers(reply) => {
                        let _ = reply.send(swarm.connected_peers().count());
                    }
                    Command::InspectScores(reply) => {
                        behaviour.inspect_scores();
                        let _ = reply.send(());
                    }
                }
            }
        }
        // Resolve subscription waits after whatever just happened.
        if !waiting.is_empty() {
            let subscribed: HashSet<PeerId> = swarm
                .behaviour()
                .gossipsub()
                .all_peers()
                .filter(|(_, peer_topics)| topics.iter().all(|t| peer_topics.contains(&t)))
                .map(|(peer, _)| *peer)
                .collect();
            let (done, still): (Vec<_>, Vec<_>) = waiting
                .into_iter()
                .partition(|(peer, _)| subscribed.contains(peer));
            waiting = still;
            for (_, reply) in done {
                let _ = reply.send(());
            }
        }
    }
}
