//! The behaviour's message handling without a network: exactly one report per message, accepted
//! blocks emitted, and pending messages answered when the pipeline stops. (Moved here from the
//! integration tests of the former `Driver`, whose logic the behaviour now owns.)

use std::sync::{Arc, Mutex, mpsc as std_mpsc};

use libp2p_gossipsub::{self as gossipsub, MessageId, TopicHash};
use libp2p_identity::PeerId;
use op_p2p_api::ManualClock;
use op_p2p_types::{BlocksTopic, PayloadVersion, SignedBlockMessage};
use tokio::sync::mpsc;

use super::*;
use crate::FloodCutoff;
use crate::{
    GossipCounters, Validate, Verdict,
    router::{new_gossipsub, topic_hash},
    test_utils::{CHAIN_ID, NOW, block, rollup, sequencer, within},
};

fn message_event(i: u8, data: Vec<u8>) -> gossipsub::Event {
    message_from(PeerId::random(), i, data)
}

fn message_from(source: PeerId, i: u8, data: Vec<u8>) -> gossipsub::Event {
    gossipsub::Event::Message {
        propagation_source: source,
        message_id: MessageId::new(&[i]),
        message: gossipsub::Message {
            source: None,
            data,
            sequence_number: None,
            topic: topic_hash(BlocksTopic::new(CHAIN_ID, PayloadVersion::V4)),
        },
    }
}

fn behaviour_with<V: Validate>(
    validator: Arc<V>,
    config: &Config,
    metrics: Arc<GossipCounters>,
) -> Behaviour {
    let services = Services {
        clock: Arc::new(ManualClock::new(NOW)),
        metrics,
        ..Services::default()
    };
    let (pipeline, results) = ValidationPipeline::spawn(
        validator,
        Arc::clone(&services.clock),
        Arc::clone(&services.metrics),
        config,
    );
    Behaviour::from_parts(
        new_gossipsub(config, &rollup()).unwrap(),
        pipeline,
        results,
        Publisher::new(rollup()),
        services,
        config,
    )
}

/// Waits for the next result from the pipeline and hands it to the behaviour, as its `poll`
/// does.
async fn next_result(behaviour: &mut Behaviour) {
    let result = within("result", behaviour.results.recv()).await.unwrap();
    behaviour.on_validation_result(result);
}

fn drain(behaviour: &mut Behaviour) -> (Vec<Reported>, Vec<UnsafePayload>) {
    let mut reports = Vec::new();
    let mut blocks = Vec::new();
    for event in behaviour.events.drain(..) {
        match event {
            Event::Validated(r) => reports.push(r),
            Event::Block(b) => blocks.push(*b),
            _ => {}
        }
    }
    (reports, blocks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_answered_once_and_accepted_blocks_are_emitted() {
    let config = Config::default()
        .with_validation_concurrency(1)
        .with_validation_queue_size(1);
    let counters = Arc::new(GossipCounters::new());
    let validator = Arc::new(crate::Validator::new(
        rollup(),
        UnsafeBlockSigner::new(sequencer().address()),
        std::time::Duration::from_secs(60),
    ));
    let mut behaviour = behaviour_with(validator, &config, counters.clone());
    // Three messages into a queue of one with one worker: at least the third may be refused at
    // once; every message is answered exactly once either way.
    for i in 0..3u8 {
        let data =
            SignedBlockMessage::sign(&sequencer(), CHAIN_ID, &block(u64::from(i) + 1, NOW, 1))
                .encode();
        behaviour.on_gossipsub_event(message_event(i, data));
    }
    while behaviour.pending() > 0 {
        next_result(&mut behaviour).await;
    }
    let (reports, blocks) = drain(&mut behaviour);
    let mut ids: Vec<u8> = reports.iter().map(|r| r.message_id.0[0]).collect();
    ids.sort_unstable();
    assert_eq!(ids, [0, 1, 2]);
    for r in &reports {
        assert!(
            r.reason.is_none() || r.reason == Some(Reason::QueueFull),
            "{r:?}"
        );
        // The router never received these messages from the network.
        assert!(!r.in_cache);
    }
    let accepted = reports
        .iter()
        .filter(|r| r.outcome == Outcome::Accept)
        .count();
    assert!(accepted >= 1);
    assert_eq!(counters.reported_not_in_cache(), 3);
    // Every accepted block is emitted once, with the peer it came from.
    assert_eq!(blocks.len(), accepted);
    for b in &blocks {
        assert!(b.envelope.execution_payload.block_number <= 3);
        assert!(
            reports
                .iter()
                .any(|r| r.source == b.peer && r.outcome == Outcome::Accept)
        );
    }
    // Delivery to the application is the embedder's to count (the node counts its forwards),
    // so emitting does not count it: no block is counted twice.
    assert_eq!(counters.delivered(), 0);
    // A result for a message not pending is dropped, not reported twice.
    behaviour.on_validation_result(ValidationResult {
        message_id: MessageId::new(&[0]),
        source: PeerId::random(),
        outcome: Outcome::Accept,
        reason: None,
        envelope: None,
    });
    assert!(behaviour.events.is_empty());
}

/// A validator that reports its start and then waits to be released.
struct Gate {
    started: mpsc::Sender<()>,
    release: Mutex<std_mpsc::Receiver<()>>,
}

impl Validate for Gate {
    fn validate(&self, _topic: &TopicHash, _data: &[u8], _now: u64) -> Verdict {
        let _ = self.started.try_send(());
        let _ = self
            .release
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .recv();
        Verdict::failed(Reason::Panic)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_messages_are_answered_when_the_pipeline_stops() {
    let (started, mut started_rx) = mpsc::channel(1);
    let (release, release_rx) = std_mpsc::channel();
    let gate = Arc::new(Gate {
        started,
        release: Mutex::new(release_rx),
    });
    let mut behaviour = behaviour_with(gate, &Config::default(), Arc::new(GossipCounters::new()));
    behaviour.on_gossipsub_event(message_event(7, vec![]));
    assert!(behaviour.events.is_empty());
    within("a check to start", started_rx.recv()).await.unwrap();
    behaviour.on_pipeline_closed();
    let (reports, _) = drain(&mut behaviour);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].outcome, Outcome::Ignore);
    assert_eq!(reports[0].reason, Some(Reason::PipelineClosed));
    assert_eq!(behaviour.pending(), 0);
    drop(release);
}

/// One peer can have at most `validation_queue_per_peer` messages waiting or in validation;
/// its further messages are ignored at once, and other peers' messages still get in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_is_bounded_and_others_still_get_in() {
    let (started, mut started_rx) = mpsc::channel(64);
    let (release, release_rx) = std_mpsc::channel();
    let gate = Arc::new(Gate {
        started,
        release: Mutex::new(release_rx),
    });
    let config = Config::default()
        .with_validation_concurrency(1)
        .with_validation_queue_per_peer(3);
    let counters = Arc::new(GossipCounters::new());
    let mut behaviour = behaviour_with(gate, &config, counters.clone());
    let (flooder, honest) = (PeerId::random(), PeerId::random());
    for i in 0..20u8 {
        behaviour.on_gossipsub_event(message_from(flooder, i, vec![i]));
    }
    behaviour.on_gossipsub_event(message_from(honest, 100, vec![100]));
    assert_eq!(behaviour.pending(), 4, "3 of the flooder's, 1 honest");
    let (reports, _) = drain(&mut behaviour);
    assert_eq!(reports.len(), 17);
    for r in &reports {
        assert_eq!(r.source, flooder);
        assert_eq!(r.reason, Some(Reason::PeerBusy));
        assert_eq!((r.outcome, r.reported), (Outcome::Ignore, Outcome::Ignore));
    }
    assert_eq!(counters.reason(Reason::PeerBusy), 17);
    // The gate's verdict is a panic: op-node's reject, our fault, so reported as an ignore.
    within("a check to start", started_rx.recv()).await.unwrap();
    for _ in 0..4 {
        release.send(()).unwrap();
        next_result(&mut behaviour).await;
    }
    let (reports, _) = drain(&mut behaviour);
    assert_eq!(reports.len(), 4);
    for r in &reports {
        assert_eq!(r.reason, Some(Reason::Panic));
        assert_eq!((r.outcome, r.reported), (Outcome::Reject, Outcome::Ignore));
    }
    // Peers are served in turn: the honest message arrived last but is not served last. (It
    // comes second or third: the flooder's first message may already be running when the
    // others arrive.)
    let order: Vec<PeerId> = reports.iter().map(|r| r.source).collect();
    let at = order.iter().position(|p| *p == honest).unwrap();
    assert!(at == 1 || at == 2, "{order:?}");
    // Once answered, the flooder may send again.
    behaviour.on_gossipsub_event(message_from(flooder, 50, vec![50]));
    assert_eq!(behaviour.pending(), 1);
    release.send(()).unwrap();
    next_result(&mut behaviour).await;
}

/// A peer that keeps overflowing its bound (here 4 refusals within 10 s) is reported and its
/// connections are closed; a peer refused less often, or more slowly, is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_overflowing_its_bound_again_and_again_is_cut_off() {
    let (started, _started_rx) = mpsc::channel(64);
    let (_release, release_rx) = std_mpsc::channel();
    let gate = Arc::new(Gate {
        started,
        release: Mutex::new(release_rx),
    });
    let config = Config::default()
        .with_validation_concurrency(1)
        .with_validation_queue_per_peer(2)
        .with_flood_cutoff(Some(FloodCutoff {
            refusals: 4,
            window: Duration::from_secs(10),
        }));
    let mut behaviour = behaviour_with(gate, &config, Arc::new(GossipCounters::new()));
    let (flooder, slow) = (PeerId::random(), PeerId::random());
    // `slow`: 2 admitted, 3 refused: under the cut-off.
    for i in 0..5u8 {
        behaviour.on_gossipsub_event(message_from(slow, 200 + i, vec![i]));
    }
    // The flooder: 2 admitted, the 4th refusal cuts it off, the 5th starts a new count.
    for i in 0..7u8 {
        behaviour.on_gossipsub_event(message_from(flooder, i, vec![i]));
    }
    let cut: Vec<(PeerId, u32)> = behaviour
        .events
        .iter()
        .filter_map(|e| match e {
            Event::FloodCutOff { peer, refusals } => Some((*peer, *refusals)),
            _ => None,
        })
        .collect();
    assert_eq!(cut, vec![(flooder, 4)]);
    behaviour.events.clear();
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    match behaviour.poll(&mut cx) {
        Poll::Ready(ToSwarm::CloseConnection {
            peer_id,
            connection: CloseConnection::All,
        }) => assert_eq!(peer_id, flooder),
        Poll::Ready(_) => panic!("expected the flooder's connections closed, got another action"),
        Poll::Pending => panic!("expected the flooder's connections closed, got nothing"),
    }
}

#[tokio::test]
async fn publishing_without_peers_fails_and_emits_nothing() {
    let mut behaviour = Behaviour::new(
        &Config::default(),
        rollup(),
        UnsafeBlockSigner::new(sequencer().address()),
        Services::default(),
    )
    .unwrap();
    let envelope = block(1, NOW, 1);
    // No peers: gossipsub refuses (insufficient peers), and nothing is emitted.
    assert!(behaviour.publish(&sequencer(), &envelope).is_err());
    assert!(behaviour.events.is_empty());
}
