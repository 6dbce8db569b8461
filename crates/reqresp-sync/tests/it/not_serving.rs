//! Peers that do not serve payload_by_number (other clients, op-node with
//! `--p2p.sync.req-resp=false`): they are not asked, not scored, and the gap waits for a peer
//! that serves.

use std::sync::Arc;

use futures::{StreamExt as _, channel::mpsc};
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{StreamProtocol, SwarmEvent};
use op_p2p_api::ScoreBook as _;
use op_p2p_reqresp_sync::{
    Behaviour, Config, Event, MemorySource, PrometheusMetrics, RequestFailure, Role,
};
use prometheus_client::registry::Registry;

use crate::{
    common::{
        Parts, block_ref, chain, clock, connect, node, rollup, spawn_listening, store, swarm,
        timeout, within,
    },
    sync::{assert_promoted_in_parent_order, drive},
};

/// A client (serving nothing itself) whose metrics the test reads, and its score book.
fn client(clock: &op_p2p_reqresp_sync::ManualClock) -> (Parts, PrometheusMetrics) {
    let metrics = PrometheusMetrics::register(&mut Registry::default());
    let scores = store();
    let (tx, rx) = mpsc::channel(16);
    let behaviour = Behaviour::new(
        Config::default(),
        rollup(),
        scores.clone(),
        tx,
        None::<MemorySource>,
        Arc::new(clock.clone()),
    )
    .unwrap()
    .with_metrics(metrics.clone());
    let parts = Parts {
        swarm: swarm(&Keypair::generate_ed25519(), behaviour),
        store: scores,
        sink: rx,
    };
    (parts, metrics)
}

/// No request of the client went to `peer`.
fn not_from(peer: PeerId) -> impl FnMut(&Event, &mut Parts) {
    move |event, _| {
        if let Event::Response { peer: from, .. } = event {
            assert_ne!(
                *from, peer,
                "a peer that does not serve was asked: {event:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_peer_refusing_the_protocol_is_not_scored_and_the_gap_waits_for_a_server() {
    timeout(async {
        let clock = clock();
        let blocks = chain(30);
        // A client-only node: it speaks payload_by_number outbound only, so it refuses ours.
        let other = node(None, &clock, Config::default());
        let (other_id, other_addr) = spawn_listening(other.swarm).await;
        let (mut client, metrics) = client(&clock);
        connect(&mut client.swarm, other_id, other_addr).await;
        assert_eq!(client.swarm.behaviour().sync_peers(), 1);

        // Identify never ran here: the first request goes out and is refused.
        let queued = client
            .swarm
            .behaviour_mut()
            .request_range(block_ref(&blocks[10]), block_ref(&blocks[20]))
            .unwrap();
        assert_eq!(queued, 9);
        let mut refused = None;
        within("the refusal", async {
            loop {
                let SwarmEvent::Behaviour(event) = client.swarm.select_next_some().await else {
                    continue;
                };
                match event {
                    Event::Response {
                        peer,
                        number,
                        result: Err(RequestFailure::UnsupportedProtocols),
                    } => {
                        assert_eq!(peer, other_id);
                        refused = Some(number);
                    }
                    Event::NotServing { peer } => {
                        assert_eq!(peer, other_id);
                        break;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        })
        .await;
        assert_eq!(refused, Some(19), "the highest number goes first");

        // Not an error response: no score, no back-off, no other request to that peer; the
        // number is queued again for a peer that serves.
        let behaviour = client.swarm.behaviour();
        assert!(behaviour.is_not_serving(&other_id));
        assert_eq!(behaviour.sync_peers(), 0);
        assert_eq!(behaviour.queued_requests(), 9);
        let scores = client.store.peer_scores(&other_id).req_resp;
        assert_eq!(scores.error_responses, 0.0, "{scores:?}");
        assert_eq!(client.store.app_score(&other_id), 0.0);
        assert_eq!(metrics.unsupported_requests(), 1);
        assert_eq!(metrics.requests(Role::Client, 1), 0);

        // A server connects: the gap is filled from it alone.
        let server = node(Some(&blocks[1..]), &clock, Config::default());
        let (server_id, server_addr) = spawn_listening(server.swarm).await;
        connect(&mut client.swarm, server_id, server_addr).await;
        let promoted = drive(
            &mut client,
            &clock,
            block_ref(&blocks[10]),
            block_ref(&blocks[20]),
            9,
            not_from(other_id),
        )
        .await;
        assert_promoted_in_parent_order(&promoted, &blocks, 11, 19);
        assert_eq!(metrics.unsupported_requests(), 1);
        assert_eq!(metrics.requests(Role::Client, 0), 9);
        assert_eq!(
            client.store.peer_scores(&other_id).req_resp.error_responses,
            0.0
        );
        assert!(
            client
                .store
                .peer_scores(&server_id)
                .req_resp
                .valid_responses
                > 0.0
        );
    })
    .await;
}

#[tokio::test]
async fn identify_without_the_protocol_means_no_request_at_all() {
    timeout(async {
        let clock = clock();
        let blocks = chain(30);
        let other = node(None, &clock, Config::default());
        let (other_id, other_addr) = spawn_listening(other.swarm).await;
        let server = node(Some(&blocks[1..]), &clock, Config::default());
        let (server_id, server_addr) = spawn_listening(server.swarm).await;
        let (mut client, metrics) = client(&clock);
        connect(&mut client.swarm, other_id, other_addr).await;
        connect(&mut client.swarm, server_id, server_addr).await;
        assert_eq!(client.swarm.behaviour().sync_peers(), 2);

        // What identify would report: gossip and ping, not payload_by_number; the server's
        // list carries the id.
        let ours = client.swarm.behaviour().protocol().clone();
        let gossip = [
            StreamProtocol::new("/meshsub/1.1.0"),
            StreamProtocol::new("/ipfs/ping/1.0.0"),
        ];
        client
            .swarm
            .behaviour_mut()
            .set_peer_protocols(other_id, &gossip);
        client
            .swarm
            .behaviour_mut()
            .set_peer_protocols(server_id, gossip.iter().chain([&ours]));
        assert!(client.swarm.behaviour().is_not_serving(&other_id));
        assert!(!client.swarm.behaviour().is_not_serving(&server_id));
        assert_eq!(client.swarm.behaviour().sync_peers(), 1);
        let event = within("the not-serving event", async {
            loop {
                if let SwarmEvent::Behaviour(event) = client.swarm.select_next_some().await {
                    return event;
                }
            }
        })
        .await;
        assert!(
            matches!(event, Event::NotServing { peer } if peer == other_id),
            "{event:?}"
        );

        let promoted = drive(
            &mut client,
            &clock,
            block_ref(&blocks[10]),
            block_ref(&blocks[20]),
            9,
            not_from(other_id),
        )
        .await;
        assert_promoted_in_parent_order(&promoted, &blocks, 11, 19);
        assert_eq!(metrics.unsupported_requests(), 0, "nothing was sent to it");
        assert_eq!(client.store.app_score(&other_id), 0.0);

        // An identify push that adds the protocol (the peer turned sync on) brings it back.
        client
            .swarm
            .behaviour_mut()
            .set_peer_protocols(other_id, [&ours]);
        assert!(!client.swarm.behaviour().is_not_serving(&other_id));
        assert_eq!(client.swarm.behaviour().sync_peers(), 2);
    })
    .await;
}
