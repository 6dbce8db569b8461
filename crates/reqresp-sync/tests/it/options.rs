//! Options and hooks: static-only requests, the trailing-slash protocol id, metrics.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{StreamExt, channel::mpsc};
use libp2p_identity::Keypair;
use libp2p_request_response::{self as request_response, OutboundFailure, ProtocolSupport};
use libp2p_swarm::{StreamProtocol, SwarmEvent};
use op_p2p_reqresp_sync::{
    Behaviour, Codec, Config, Event, ManualClock, MemorySource, Metrics, Request, Response, Role,
};
use op_p2p_types::{payload_by_number_protocol_id, payload_by_number_protocol_id_with_slash};

use crate::{
    common::{
        CHAIN_ID, Parts, block_ref, chain, clock, connect, node, rollup, spawn_listening, store,
        swarm, timeout, within,
    },
    sync::{assert_promoted_in_parent_order, drive},
};

#[tokio::test]
async fn only_static_peers_are_asked_when_configured() {
    timeout(async {
        let clock = clock();
        let blocks = chain(30);
        let server = node(Some(&blocks), &clock, Config::default());
        let (server_id, addr) = spawn_listening(server.swarm).await;
        let mut client = node(None, &clock, Config::default().with_only_static(true));
        connect(&mut client.swarm, server_id, addr).await;
        assert_eq!(client.swarm.behaviour().sync_peers(), 0);

        client.swarm.behaviour_mut().set_static(server_id, true);
        assert!(client.swarm.behaviour().is_static(&server_id));
        assert_eq!(client.swarm.behaviour().sync_peers(), 1);
        let promoted = drive(
            &mut client,
            &clock,
            block_ref(&blocks[10]),
            block_ref(&blocks[20]),
            9,
            |_, _| {},
        )
        .await;
        assert_promoted_in_parent_order(&promoted, &blocks, 11, 19);

        client.swarm.behaviour_mut().set_static(server_id, false);
        assert_eq!(client.swarm.behaviour().sync_peers(), 0);
    })
    .await;
}

/// Sends one request on `protocol` to a server answering (or not) the trailing-slash id.
async fn ask_on(protocol: String, answer_with_slash: bool) -> Result<Response, OutboundFailure> {
    let clock = clock();
    let server = node(
        Some(&chain(5)),
        &clock,
        Config::default().with_answer_with_slash(answer_with_slash),
    );
    let (server_id, addr) = spawn_listening(server.swarm).await;
    let codec = Codec::new(
        Arc::new(rollup()),
        &Config::default(),
        Arc::new(ManualClock::new(0)),
    );
    let mut client = swarm(
        &Keypair::generate_ed25519(),
        request_response::Behaviour::with_codec(
            codec,
            [(
                StreamProtocol::try_from_owned(protocol).unwrap(),
                ProtocolSupport::Outbound,
            )],
            request_response::Config::default(),
        ),
    );
    connect(&mut client, server_id, addr).await;
    client
        .behaviour_mut()
        .send_request(&server_id, Request::Number(3));
    within("the answer", async {
        loop {
            match client.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. },
                    ..
                }) => return Ok(response),
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    error, ..
                }) => return Err(error),
                _ => {}
            }
        }
    })
    .await
}

#[tokio::test]
async fn the_trailing_slash_id_is_answered_only_when_enabled() {
    timeout(async {
        let slash = payload_by_number_protocol_id_with_slash(CHAIN_ID);
        assert!(matches!(
            ask_on(slash.clone(), true).await,
            Ok(Response::Payload { .. })
        ));
        assert!(matches!(
            ask_on(slash, false).await,
            Err(OutboundFailure::UnsupportedProtocols)
        ));
        // op-node's id is always answered.
        assert!(matches!(
            ask_on(payload_by_number_protocol_id(CHAIN_ID), false).await,
            Ok(Response::Payload { .. })
        ));
    })
    .await;
}

/// Records every measurement.
#[derive(Debug, Clone, Default)]
struct Recorder {
    requests: Arc<Mutex<Vec<(Role, u64, u8)>>>,
    quarantine: Arc<Mutex<Vec<usize>>>,
}

impl Metrics for Recorder {
    fn request(&self, role: Role, number: u64, result_code: u8, _: Duration) {
        self.requests
            .lock()
            .unwrap()
            .push((role, number, result_code));
    }

    fn quarantine_size(&self, size: usize) {
        self.quarantine.lock().unwrap().push(size);
    }
}

#[tokio::test]
async fn metrics_count_requests_by_role_and_code_and_the_quarantine() {
    timeout(async {
        let clock = clock();
        let blocks = chain(30);
        let served = Recorder::default();
        let server = Behaviour::new(
            Config::default(),
            rollup(),
            store(),
            mpsc::channel(1).0,
            Some(blocks.iter().cloned().collect::<MemorySource>()),
            Arc::new(clock.clone()),
        )
        .unwrap()
        .with_metrics(served.clone());
        let (server_id, addr) = spawn_listening(swarm(&Keypair::generate_ed25519(), server)).await;

        let requested = Recorder::default();
        let (tx, rx) = mpsc::channel(16);
        let behaviour = Behaviour::new(
            Config::default(),
            rollup(),
            store(),
            tx,
            Some(MemorySource::new()),
            Arc::new(clock.clone()),
        )
        .unwrap()
        .with_metrics(requested.clone());
        let mut client = Parts {
            swarm: swarm(&Keypair::generate_ed25519(), behaviour),
            store: store(),
            sink: rx,
        };
        connect(&mut client.swarm, server_id, addr).await;
        let promoted = drive(
            &mut client,
            &clock,
            block_ref(&blocks[10]),
            block_ref(&blocks[20]),
            9,
            |event, _| {
                assert!(
                    matches!(
                        event,
                        Event::Response { result: Ok(_), .. } | Event::Promoted { .. }
                    ),
                    "{event:?}"
                );
            },
        )
        .await;
        assert_eq!(promoted.len(), 9);

        let mut client_side = requested.requests.lock().unwrap().clone();
        client_side.sort();
        assert_eq!(
            client_side,
            (11..=19).map(|n| (Role::Client, n, 0)).collect::<Vec<_>>()
        );
        assert_eq!(requested.quarantine.lock().unwrap().last(), Some(&0));
        // The server recorded each answer as it handed it over, before the client read it.
        let mut server_side = served.requests.lock().unwrap().clone();
        server_side.sort();
        assert_eq!(
            server_side,
            (11..=19).map(|n| (Role::Server, n, 0)).collect::<Vec<_>>()
        );
    })
    .await;
}
