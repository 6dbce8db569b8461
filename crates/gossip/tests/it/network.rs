//! Real gossipsub swarms in one process (the workspace's test swarm: TCP + noise + yamux on
//! 127.0.0.1), each driven by its own task. Every wait is event-driven under one timeout.

use op_p2p_api::UnsafePayload;
use op_p2p_gossip::{
    Config, Outcome, Reason, ScoringMode,
    test_utils::{CHAIN_ID, NOW, TestNode, block},
    topic_hash,
};
use op_p2p_types::{BlocksTopic, PayloadVersion};
use tokio::sync::mpsc::error::TryRecvError;

use crate::common::{malleate, other_key, signed, signed_by};

fn topic(version: PayloadVersion) -> libp2p_gossipsub::TopicHash {
    topic_hash(BlocksTopic::new(CHAIN_ID, version))
}

/// A–B–C in a line: A and C are not connected. C validates one message at a time, so its
/// results come out in the order B forwarded the messages (B→C is one ordered stream).
async fn line() -> (TestNode, TestNode, TestNode) {
    let a = TestNode::spawn(Config::default()).await;
    let b = TestNode::spawn(Config::default()).await;
    let c = TestNode::spawn(Config::default().with_validation_concurrency(1)).await;
    a.connect(&b).await;
    b.connect(&c).await;
    (a, b, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_published_by_a_reaches_c_through_b() {
    let (mut a, mut b, mut c) = line().await;
    let envelope = block(100, NOW, 1);
    a.publish(&envelope).await.unwrap();

    let UnsafePayload {
        peer: from,
        envelope: at_b,
    } = b.next_delivery().await;
    assert_eq!((from, &at_b), (a.peer_id, &envelope));
    let UnsafePayload {
        peer: from,
        envelope: at_c,
    } = c.next_delivery().await;
    assert_eq!(
        (from, &at_c),
        (b.peer_id, &envelope),
        "C hears it from B, its only peer"
    );
    // Every hop reported an accept that gossipsub still had cached (so it was relayed).
    for node in [&mut b, &mut c] {
        let report = node.next_report().await;
        assert_eq!((report.outcome, report.in_cache), (Outcome::Accept, true));
    }
    // Our own block is not delivered back to us.
    assert_eq!(a.deliveries.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(a.counters.published(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_of_another_signer_is_rejected_by_b_not_forwarded_and_costs_nothing() {
    let (a, mut b, mut c) = line().await;
    let rogue = TestNode::spawn(Config::default()).await;
    rogue.connect(&b).await;
    assert_eq!(b.peer_score(rogue.peer_id).await, Some(0.0));

    // A valid block signed by the wrong key, injected by the rogue.
    let forged = signed_by(&other_key(), &block(100, NOW, 9));
    let forged_id = rogue
        .publish_raw(topic(PayloadVersion::V4), forged)
        .await
        .unwrap();
    let report = b.next_report().await;
    assert_eq!(report.message_id, forged_id);
    assert_eq!(report.source, rogue.peer_id);
    // op-node's verdict, reported to gossipsub as an ignore: the signer is our state (a peer
    // that learnt a rotated signer before us relays exactly this).
    assert_eq!(
        (report.outcome, report.reported, report.reason),
        (Outcome::Reject, Outcome::Ignore, Some(Reason::WrongSigner))
    );
    assert_eq!(b.counters.reason(Reason::WrongSigner), 1);
    assert_eq!(b.peer_score(rogue.peer_id).await, Some(0.0));
    assert_eq!(b.peer_score(a.peer_id).await, Some(0.0));

    // A valid block from A now reaches C. B dropped the forged one before, B→C is one ordered
    // stream and C validates in order, so C would have answered the forged one first had B
    // forwarded it.
    let valid = block(100, NOW, 1);
    a.publish(&valid).await.unwrap();
    let at_c = c.next_delivery().await.envelope;
    assert_eq!(at_c, valid);
    let first_at_c = c.next_report().await;
    assert_ne!(first_at_c.message_id, forged_id);
    assert_eq!(first_at_c.outcome, Outcome::Accept);
    assert_eq!(c.counters.outcome(Outcome::Reject), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_block_is_rejected_by_b_not_forwarded_and_costs_the_rogue() {
    let (a, mut b, mut c) = line().await;
    let rogue = TestNode::spawn(Config::default()).await;
    rogue.connect(&b).await;

    // Signed by the sequencer, but the block hash does not match the payload: no honest node
    // relays that.
    let mut broken = block(100, NOW, 9);
    broken.execution_payload.block_hash = op_p2p_types::B256::repeat_byte(7);
    let broken_id = rogue
        .publish_raw(topic(PayloadVersion::V4), signed(&broken))
        .await
        .unwrap();
    let report = b.next_report().await;
    assert_eq!(report.message_id, broken_id);
    assert_eq!(
        (report.outcome, report.reported, report.reason),
        (
            Outcome::Reject,
            Outcome::Reject,
            Some(Reason::InvalidBlockHash)
        )
    );

    // P4: the reject cost the rogue −2·1².
    let score = b.peer_score(rogue.peer_id).await.unwrap();
    assert!((-2.0..0.0).contains(&score), "rogue score {score}");
    // The snapshot reaches the score book.
    b.inspect_scores().await;
    let snapshot = b.score_book.gossip_scores(&rogue.peer_id).unwrap();
    assert!(snapshot.total < 0.0);
    // Honest peers keep their score.
    assert_eq!(b.peer_score(a.peer_id).await, Some(0.0));

    let valid = block(100, NOW, 1);
    a.publish(&valid).await.unwrap();
    assert_eq!(c.next_delivery().await.envelope, valid);
    let first_at_c = c.next_report().await;
    assert_ne!(first_at_c.message_id, broken_id);
    assert_eq!(c.counters.outcome(Outcome::Reject), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_p4_a_reject_costs_nothing_as_in_op_node() {
    let config = Config::default().with_invalid_message_scoring(false);
    let mut b = TestNode::spawn(config).await;
    let rogue = TestNode::spawn(Config::default()).await;
    rogue.connect(&b).await;
    // A reject that would cost score with P4 on (see the test above).
    let mut broken = block(100, NOW, 9);
    broken.execution_payload.block_hash = op_p2p_types::B256::repeat_byte(7);
    rogue
        .publish_raw(topic(PayloadVersion::V4), signed(&broken))
        .await
        .unwrap();
    assert_eq!(b.next_report().await.reported, Outcome::Reject);
    assert_eq!(b.peer_score(rogue.peer_id).await, Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_is_ignored() {
    let a = TestNode::spawn(Config::default()).await;
    let mut b = TestNode::spawn(Config::default()).await;
    a.connect(&b).await;
    let envelope = block(100, NOW, 1);
    let data = signed(&envelope);
    a.publish_raw(topic(PayloadVersion::V4), data.clone())
        .await
        .unwrap();
    assert_eq!(b.next_report().await.outcome, Outcome::Accept);

    // The same bytes again never leave A: gossipsub's seen cache knows the id.
    let again = a.publish_raw(topic(PayloadVersion::V4), data.clone()).await;
    assert!(matches!(
        again,
        Err(libp2p_gossipsub::PublishError::Duplicate)
    ));

    // The same block with a malleated signature is a new message id, so it reaches B's
    // validator, which ignores the repeat without penalty.
    a.publish_raw(topic(PayloadVersion::V4), malleate(&data))
        .await
        .unwrap();
    let report = b.next_report().await;
    assert_eq!(
        (report.outcome, report.reason),
        (Outcome::Ignore, Some(Reason::DuplicateBlock))
    );
    assert_eq!(b.peer_score(a.peer_id).await, Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seventh_distinct_block_at_one_height_is_rejected() {
    let (a, mut b, mut c) = line().await;
    for salt in 1..=7 {
        a.publish(&block(200, NOW, salt)).await.unwrap();
        // One at a time, so "the 7th" is the 7th B checks.
        let report = b.next_report().await;
        if salt <= 6 {
            assert_eq!(report.outcome, Outcome::Accept, "block {salt}");
        } else {
            assert_eq!(
                (report.outcome, report.reason),
                (Outcome::Reject, Some(Reason::TooManyBlocksAtHeight))
            );
        }
    }
    // C got the first six and not the seventh: the next block it gets is at the next height.
    a.publish(&block(201, NOW, 1)).await.unwrap();
    for salt in 1..=6 {
        let envelope = c.next_delivery().await.envelope;
        assert_eq!(envelope, block(200, NOW, salt));
    }
    let next = c.next_delivery().await.envelope;
    assert_eq!(next.execution_payload.block_number, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_on_the_wrong_version_topic_cannot_suppress_the_right_one() {
    let (a, mut b, mut c) = line().await;
    let rogue = TestNode::spawn(Config::default()).await;
    rogue.connect(&b).await;

    // The rogue races the sequencer's block onto the v3 topic first, byte for byte.
    let envelope = block(300, NOW, 1);
    let data = signed(&envelope);
    let wrong = rogue
        .publish_raw(topic(PayloadVersion::V3), data.clone())
        .await
        .unwrap();
    let report = b.next_report().await;
    assert_eq!(
        (report.message_id, report.outcome),
        (wrong.clone(), Outcome::Reject)
    );

    // The id is bound to the topic, so the real one is not a "duplicate" of the copy.
    let right = a
        .publish_raw(topic(PayloadVersion::V4), data.clone())
        .await
        .unwrap();
    assert_ne!(right, wrong);
    let at_c = c.next_delivery().await.envelope;
    assert_eq!(at_c, envelope);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_scores_are_pushed_and_snapshots_written() {
    let a = TestNode::spawn(Config::default()).await;
    let b = TestNode::spawn(Config::default()).await;
    a.connect(&b).await;
    for app_score in [-15.0, 3.0] {
        b.score_book.set_app_score(a.peer_id, app_score);
        b.inspect_scores().await;
        assert_eq!(b.peer_score(a.peer_id).await, Some(app_score));
        assert_eq!(
            b.score_book.gossip_scores(&a.peer_id).unwrap().total,
            app_score
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoring_none_turns_scores_off() {
    let a = TestNode::spawn(Config::default()).await;
    let b = TestNode::spawn(Config::default().with_scoring(ScoringMode::None)).await;
    a.connect(&b).await;
    b.score_book.set_app_score(a.peer_id, -15.0);
    b.inspect_scores().await;
    assert_eq!(b.peer_score(a.peer_id).await, None);
    assert_eq!(b.score_book.gossip_scores(&a.peer_id), None);
}
