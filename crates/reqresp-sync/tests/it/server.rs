//! The server against hostile clients: rate limits under a 200-request burst, and a stream that
//! never sends its request.

use std::{future, sync::Arc, time::Duration};

use futures::{AsyncRead, AsyncWrite, StreamExt, channel::mpsc};
use libp2p_identity::{Keypair, PeerId};
use libp2p_request_response::{self as request_response, ProtocolSupport};
use libp2p_swarm::{StreamProtocol, SwarmEvent};
use op_p2p_reqresp_sync::{
    Behaviour, Clock, Codec, Config, Event, ManualClock, PayloadSource, Request, SourceError,
};
use op_p2p_types::{ExecutionPayloadEnvelope, ResultCode, payload_by_number_protocol_id};

use crate::common::{
    BLOCK_TIME, CHAIN_ID, GENESIS_TIME, chain, clock, listen, node, rollup, store, swarm, timeout,
    within,
};

fn protocol() -> StreamProtocol {
    StreamProtocol::try_from_owned(payload_by_number_protocol_id(CHAIN_ID)).unwrap()
}

/// A bare request-response client with our codec on a clock that never moves (so its own
/// deadlines never fire), allowed as many streams as it likes.
fn raw_client() -> request_response::Behaviour<Codec> {
    let codec = Codec::new(
        Arc::new(rollup()),
        &Config::default(),
        Arc::new(ManualClock::new(0)),
    );
    request_response::Behaviour::with_codec(
        codec,
        [(protocol(), ProtocolSupport::Outbound)],
        request_response::Config::default()
            .with_request_timeout(Duration::from_secs(120))
            .with_max_concurrent_streams(1000),
    )
}

/// Spawns a raw client that connects to `addr` and sends `count` requests for `number` at once;
/// its responses come back on the returned channel.
fn spawn_requester(
    addr: libp2p_core::Multiaddr,
    count: usize,
    number: u64,
) -> (PeerId, mpsc::Receiver<ResultCode>) {
    let keypair = Keypair::generate_ed25519();
    let peer = keypair.public().to_peer_id();
    let mut swarm = swarm(&keypair, raw_client());
    let (mut tx, rx) = mpsc::channel(256);
    swarm.dial(addr).unwrap();
    tokio::spawn(async move {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    for _ in 0..count {
                        swarm
                            .behaviour_mut()
                            .send_request(&peer_id, Request::Number(number));
                    }
                }
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. },
                    ..
                }) => {
                    let _ = tx.try_send(response.code());
                }
                _ => {}
            }
        }
    });
    (peer, rx)
}

/// Drives the server until it answers `peer`; returns the code.
async fn next_served<S: PayloadSource>(
    server: &mut libp2p_swarm::Swarm<Behaviour<S>>,
    from: PeerId,
) -> ResultCode {
    within("an answer", async {
        loop {
            if let SwarmEvent::Behaviour(Event::Served { peer, code, .. }) =
                server.select_next_some().await
                && peer == from
            {
                return code;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_hammering_peer_is_served_at_its_rate_while_others_are_served() {
    timeout(async {
        let clock = clock();
        let blocks = chain(10);
        let mut server = node(Some(&blocks), &clock, Config::default()).swarm;
        let addr = listen(&mut server).await;

        // 200 requests at once, time standing still.
        let (hammer, _) = spawn_requester(addr.clone(), 200, 5);
        let (mut ok, mut throttled) = (0, 0);
        while ok + throttled < 120 {
            match next_served(&mut server, hammer).await {
                ResultCode::Success => ok += 1,
                ResultCode::Unknown => throttled += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        // The burst of 15 is served at once; 4/s for the 20 s the server will make a request
        // wait admits 80 more, scheduled; the other 105 are refused with code 3 right away.
        assert_eq!((ok, throttled), (15, 105));
        assert_eq!(server.behaviour().pending_inbound(), 80);

        // Another peer is served at once, with the hammer's backlog still waiting.
        let (other, mut other_rx) = spawn_requester(addr, 1, 7);
        assert_eq!(next_served(&mut server, other).await, ResultCode::Success);
        assert_eq!(other_rx.next().await, Some(ResultCode::Success));
        assert_eq!(server.behaviour().pending_inbound(), 80);

        // Each 250 ms releases exactly one of the backlog: 4 per second.
        for k in 1..=80 {
            clock.advance(Duration::from_millis(250));
            assert_eq!(next_served(&mut server, hammer).await, ResultCode::Success);
            assert_eq!(
                server.behaviour().pending_inbound(),
                80 - k,
                "after {k} steps"
            );
        }
        assert_eq!(clock.now(), Duration::from_secs(20));
    })
    .await;
}

/// A codec that opens its stream and never writes the request.
#[derive(Debug, Clone, Default)]
struct Silent;

impl request_response::Codec for Silent {
    type Protocol = StreamProtocol;
    type Request = ();
    type Response = ();

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
    ) -> std::io::Result<()> {
        unreachable!("outbound only")
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
    ) -> std::io::Result<()> {
        future::pending().await
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        (): (),
    ) -> std::io::Result<()> {
        future::pending().await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        (): (),
    ) -> std::io::Result<()> {
        unreachable!("outbound only")
    }
}

#[tokio::test]
async fn a_silent_stream_is_cut_off_at_the_read_deadline() {
    timeout(async {
        let clock = clock();
        let mut server = node(Some(&chain(10)), &clock, Config::default()).swarm;
        let addr = listen(&mut server).await;

        let keypair = Keypair::generate_ed25519();
        let silent = keypair.public().to_peer_id();
        let mut client = swarm(
            &keypair,
            request_response::Behaviour::<Silent>::new(
                [(protocol(), ProtocolSupport::Outbound)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(120)),
            ),
        );
        client.dial(addr).unwrap();
        tokio::spawn(async move {
            loop {
                if let SwarmEvent::ConnectionEstablished { peer_id, .. } =
                    client.select_next_some().await
                {
                    client.behaviour_mut().send_request(&peer_id, ());
                }
            }
        });

        // The server's read deadline is armed once its stream is open.
        within("the read to start", async {
            let armed = clock.wait_for_sleepers(1);
            futures::pin_mut!(armed);
            loop {
                tokio::select! {
                    () = &mut armed => return,
                    event = server.select_next_some() => {
                        assert!(!matches!(event, SwarmEvent::Behaviour(_)), "unexpected {event:?}");
                    }
                }
            }
        })
        .await;
        clock.advance(Duration::from_millis(9_999));
        // Still reading: the deadline has not passed.
        assert_eq!(clock.sleepers(), 1);
        assert_eq!(server.behaviour().pending_inbound(), 0);
        clock.advance(Duration::from_millis(1));
        // Cut off: answered with code 3 (op-node answers a failed read so), no number read.
        let served = within("the cut-off", async {
            loop {
                if let SwarmEvent::Behaviour(event) = server.select_next_some().await {
                    return event;
                }
            }
        })
        .await;
        match served {
            Event::Served { peer, number, code } => {
                assert_eq!((peer, number, code), (silent, None, ResultCode::Unknown));
            }
            other => panic!("unexpected {other:?}"),
        }
    })
    .await;
}

/// A source that fails block 1 and never answers for any other, reporting each call.
#[derive(Debug)]
struct Stuck {
    called: mpsc::Sender<u64>,
}

impl PayloadSource for Stuck {
    async fn payload_by_number(
        &self,
        number: u64,
    ) -> Result<Option<ExecutionPayloadEnvelope>, SourceError> {
        let _ = self.called.clone().try_send(number);
        if number == 1 {
            return Err(SourceError::new("execution client unreachable"));
        }
        future::pending().await
    }
}

#[tokio::test]
async fn source_failures_and_slowness_are_answered_with_code_3() {
    timeout(async {
        let clock = clock();
        let (called_tx, mut called) = mpsc::channel(8);
        let behaviour = Behaviour::new(
            Config::default(),
            rollup(),
            store(),
            mpsc::channel(1).0,
            Some(Stuck { called: called_tx }),
            Arc::new(clock.clone()),
        )
        .unwrap();
        let mut server = swarm(&Keypair::generate_ed25519(), behaviour);
        let addr = listen(&mut server).await;

        // A failing source: code 3 at once.
        let (_, mut answers) = spawn_requester(addr.clone(), 1, 1);
        let code = within("the failure", async {
            loop {
                if let SwarmEvent::Behaviour(Event::Served { code, .. }) =
                    server.select_next_some().await
                {
                    return code;
                }
            }
        })
        .await;
        assert_eq!(code, ResultCode::Unknown);
        assert_eq!(answers.next().await, Some(ResultCode::Unknown));

        // A source that never answers: code 3 when the request's 20 s budget runs out.
        let (slow, mut slow_answers) = spawn_requester(addr, 1, 2);
        within("the source call", async {
            loop {
                tokio::select! {
                    Some(number) = called.next() => if number == 2 { return },
                    event = server.select_next_some() => {
                        assert!(!matches!(event, SwarmEvent::Behaviour(_)), "{event:?}");
                    }
                }
            }
        })
        .await;
        clock.advance(Duration::from_millis(19_999));
        assert_eq!(server.behaviour().pending_inbound(), 1);
        clock.advance(Duration::from_millis(1));
        assert_eq!(next_served(&mut server, slow).await, ResultCode::Unknown);
        assert_eq!(slow_answers.next().await, Some(ResultCode::Unknown));
        assert_eq!(server.behaviour().pending_inbound(), 0);
    })
    .await;
}

#[tokio::test]
async fn nothing_is_served_before_genesis_time() {
    timeout(async {
        // The wall clock reads one block time before genesis.
        let clock = ManualClock::new(GENESIS_TIME - BLOCK_TIME);
        let mut server = node(Some(&chain(10)), &clock, Config::default()).swarm;
        let addr = listen(&mut server).await;
        let (peer, mut answers) = spawn_requester(addr, 1, 0);
        assert_eq!(
            next_served(&mut server, peer).await,
            ResultCode::InvalidRequest
        );
        assert_eq!(answers.next().await, Some(ResultCode::InvalidRequest));
    })
    .await;
}
