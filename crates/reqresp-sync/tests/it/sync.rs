//! The client against real servers: filling a gap, resisting a lying peer, and "not found".

use op_p2p_api::{ScoreBook as _, UnsafePayload};
use std::time::Duration;

use futures::StreamExt;
use libp2p_identity::PeerId;
use libp2p_swarm::SwarmEvent;
use op_p2p_reqresp_sync::{BlockRef, Config, Event, ManualClock, RequestFailure};
use op_p2p_types::{ExecutionPayloadEnvelope, ResultCode};

use crate::common::{
    Parts, block, block_ref, chain, clock, connect, node, spawn_listening, timeout, within,
};

/// How far time moves after each finished request: one client token per peer, so rate limits
/// never stall the tests, while a request on the wire sees at most a few steps of its 10 s
/// deadlines.
const STEP: Duration = Duration::from_millis(250);

/// op-node's driver, emulated: after every finished request (and every rejection) time moves a
/// step and the gap between the unsafe head and the lowest payload the sink delivered is
/// requested again, as `checkForGapInUnsafeQueue` does every two block times. Returns the
/// payloads in the order the sink delivered them.
pub(crate) async fn drive(
    client: &mut Parts,
    clock: &ManualClock,
    head: BlockRef,
    target: BlockRef,
    want: usize,
    mut on_event: impl FnMut(&Event, &mut Parts),
) -> Vec<ExecutionPayloadEnvelope> {
    let mut lowest = target;
    let mut promoted = Vec::new();
    client
        .swarm
        .behaviour_mut()
        .request_range(head, lowest)
        .unwrap();
    within("the gap to fill", async {
        while promoted.len() < want {
            tokio::select! {
                event = client.swarm.select_next_some() => {
                    let SwarmEvent::Behaviour(event) = event else { continue };
                    on_event(&event, client);
                    if matches!(event, Event::Response { .. } | Event::Rejected { .. }) {
                        // The driver sees every payload delivered so far.
                        while let Ok(UnsafePayload { envelope, .. }) = client.sink.try_recv() {
                            lowest = block_ref(&envelope);
                            promoted.push(envelope);
                        }
                        clock.advance(STEP);
                        client.swarm.behaviour_mut().request_range(head, lowest).unwrap();
                    }
                }
                Some(UnsafePayload { envelope, .. }) = client.sink.next() => {
                    lowest = block_ref(&envelope);
                    promoted.push(envelope);
                }
            }
        }
    })
    .await;
    promoted
}

/// The sink received exactly `chain[first..=last]`, from the top down, each the parent of the
/// one before.
pub(crate) fn assert_promoted_in_parent_order(
    promoted: &[ExecutionPayloadEnvelope],
    chain: &[ExecutionPayloadEnvelope],
    first: u64,
    last: u64,
) {
    let numbers: Vec<u64> = promoted
        .iter()
        .map(|e| e.execution_payload.block_number)
        .collect();
    assert_eq!(numbers, (first..=last).rev().collect::<Vec<_>>());
    for pair in promoted.windows(2) {
        assert_eq!(
            pair[0].execution_payload.parent_hash,
            pair[1].execution_payload.block_hash
        );
    }
    for envelope in promoted {
        let n = envelope.execution_payload.block_number as usize;
        assert_eq!(envelope, &chain[n], "block {n} is not the canonical one");
    }
}

#[tokio::test]
async fn fills_the_gap_between_unsafe_head_and_gossip_target() {
    timeout(async {
        let clock = clock();
        let blocks = chain(300);
        let server = node(Some(&blocks[1..]), &clock, Config::default());
        let server_store = server.store.clone();
        let (server_id, addr) = spawn_listening(server.swarm).await;
        let mut client = node(None, &clock, Config::default());
        connect(&mut client.swarm, server_id, addr).await;

        // Unsafe head 100; gossip delivered 300.
        let promoted = drive(
            &mut client,
            &clock,
            block_ref(&blocks[100]),
            block_ref(&blocks[300]),
            199,
            |_, _| {},
        )
        .await;
        assert_promoted_in_parent_order(&promoted, &blocks, 101, 299);
        assert_eq!(client.swarm.behaviour().quarantined(), 0);

        let scores = client.store.peer_scores(&server_id).req_resp;
        assert_eq!(scores.valid_responses, 10.0, "capped at 10");
        assert_eq!(scores.error_responses, 0.0);
        assert_eq!(scores.rejected_payloads, 0.0);
        // The server scores nobody.
        assert!(server_store.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_lying_server_is_scored_and_only_the_honest_chain_promoted() {
    timeout(async {
        let clock = clock();
        let blocks = chain(300);
        // The liar holds a different, valid-looking block 299 (right number, right parent,
        // correct hash of its own contents).
        let mut lies = blocks.clone();
        lies[299] = block(299, blocks[298].execution_payload.block_hash, 0xee);
        let lie_hash = lies[299].execution_payload.block_hash;
        assert_ne!(lie_hash, blocks[299].execution_payload.block_hash);

        let mut servers = Vec::new();
        for held in [&lies, &blocks, &blocks] {
            let server = node(Some(&held[1..]), &clock, Config::default());
            servers.push(spawn_listening(server.swarm).await);
        }
        let (liar, liar_addr) = servers[0].clone();
        let honest: Vec<(PeerId, libp2p_core::Multiaddr)> = servers[1..].to_vec();

        // The liar is connected first, so it is asked for the top block (299) first; the honest
        // servers join once it has answered.
        let mut client = node(None, &clock, Config::default());
        connect(&mut client.swarm, liar, liar_addr).await;
        let mut joined = false;
        let promoted = drive(
            &mut client,
            &clock,
            block_ref(&blocks[100]),
            block_ref(&blocks[300]),
            199,
            |event, client| {
                if let Event::Response {
                    peer,
                    number: 299,
                    result: Ok(hash),
                } = event
                    && *peer == liar
                    && !joined
                {
                    assert_eq!(*hash, lie_hash);
                    joined = true;
                    for (_, addr) in &honest {
                        client.swarm.dial(addr.clone()).unwrap();
                    }
                }
            },
        )
        .await;
        assert!(joined, "the liar was never asked for block 299");
        assert_promoted_in_parent_order(&promoted, &blocks, 101, 299);

        let liar_scores = client.store.peer_scores(&liar).req_resp;
        assert!(
            liar_scores.rejected_payloads >= 1.0,
            "liar not scored: {liar_scores:?}"
        );
        assert!(client.store.app_score(&liar) < 0.0);
        for (peer, _) in &honest {
            let scores = client.store.peer_scores(peer).req_resp;
            assert_eq!(scores.rejected_payloads, 0.0, "{peer}: {scores:?}");
            assert_eq!(scores.error_responses, 0.0, "{peer}: {scores:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn not_found_cancels_the_range_without_penalty() {
    timeout(async {
        let clock = clock();
        let blocks = chain(300);
        // The server knows nothing past block 50.
        let server = node(Some(&blocks[1..=50]), &clock, Config::default());
        let (server_id, addr) = spawn_listening(server.swarm).await;
        let mut client = node(None, &clock, Config::default());
        connect(&mut client.swarm, server_id, addr).await;

        let queued = client
            .swarm
            .behaviour_mut()
            .request_range(block_ref(&blocks[100]), block_ref(&blocks[300]))
            .unwrap();
        assert_eq!(queued, 128, "the queue bounds the first scheduling");

        let mut cancelled = false;
        within("the not-found answer", async {
            loop {
                let SwarmEvent::Behaviour(event) = client.swarm.select_next_some().await else {
                    continue;
                };
                match event {
                    Event::RangeCancelled { peer, number } => {
                        assert_eq!((peer, number), (server_id, 299));
                        cancelled = true;
                    }
                    Event::Response {
                        peer,
                        number,
                        result,
                    } => {
                        assert_eq!((peer, number), (server_id, 299));
                        assert!(
                            matches!(result, Err(RequestFailure::Code(ResultCode::NotFound))),
                            "{result:?}"
                        );
                        break;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        })
        .await;
        assert!(cancelled);
        // Everything else the range queued is gone; nothing more will be asked.
        assert_eq!(client.swarm.behaviour().queued_requests(), 0);
        let scores = client.store.peer_scores(&server_id).req_resp;
        assert_eq!(scores.error_responses, 0.0);
        assert_eq!(scores.valid_responses, 0.0);
        assert_eq!(client.store.app_score(&server_id), 0.0);

        // A later range (the driver's next gap check) is scheduled again.
        let again = client
            .swarm
            .behaviour_mut()
            .request_range(block_ref(&blocks[100]), block_ref(&blocks[300]))
            .unwrap();
        assert_eq!(again, 128);
    })
    .await;
}
