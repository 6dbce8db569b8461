//! `op-p2p-attacker`: a hostile peer as a process, for the attack tests of op-p2p (issue 14).
//!
//! It dials running nodes over the node's own stack (TCP, noise, yamux, gossipsub with op-node's
//! anonymous messages), misbehaves for `--seconds`, redials whenever it is cut off, and prints
//! what happened as JSON lines on stdout (`started`, `connected`, `closed`, `dial_error`, then
//! `done` with counters), so a test can tell when it was disconnected and whether it got back
//! in. Not a node and not published: it exists to be pointed at `op-p2p node` processes.
//!
//! Kinds:
//! - `idle`: connects and subscribes to the blocks topics, sends nothing (a baseline peer);
//! - `snappy-bomb`: header bombs, 10 MiB + 1 decoded, 10 MiB + 1 frames and tiny messages on
//!   the four blocks topics, paced at `--rate` bytes a second ([`bombs`]);
//! - `oversized-frame`: 10 MiB + 1 byte frames, which the receiver's codec must refuse;
//! - `conn-flood`: `--connections` TCP connections that stall mid-handshake, reopened as soon
//!   as the node closes them ([`flood`]);
//! - `forged-signature`: block messages whose signature recovers no key or a random one, at
//!   `--messages` a second on the four blocks topics ([`forged`]);
//! - `own-key`: block messages validly signed by the attacker's own key (not the unsafe block
//!   signer), likewise;
//! - `replay-topic`: every block the node gossips to us, sent back on the three other version
//!   topics ([`replay`]);
//! - `malleate`: every block the node gossips to us, sent back with its signature's malleated
//!   twin `(r, n − s, v ^ 1)`;
//! - `sync-flood`: `payload_by_number` requests from `--identities` peer ids at once,
//!   `--streams` in flight each, every response read ([`sync`]);
//! - `slow-reader`: the same, but each response is left unread after its first byte;
//! - `iwant-flood`: IWANT for unknown message ids on a hand-written gossipsub stream,
//!   `--iwant-ids` per RPC ([`control`]);
//! - `graft-spam`: PRUNE ourselves with a backoff, then GRAFT on every topic, 20 times a second.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod bombs;
mod control;
mod flood;
mod forged;
mod raw;
mod replay;
mod report;
mod swarm;
mod sync;

use std::{sync::Arc, time::Duration};

use clap::{Parser, ValueEnum};
use futures::StreamExt as _;
use libp2p_core::{Multiaddr, multiaddr::Protocol};
use libp2p_gossipsub::{Event as GossipEvent, IdentTopic, PublishError};
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{StreamProtocol, SwarmEvent};

use crate::{bombs::Shape, report::Report};

/// A hostile peer, bounded in time.
#[derive(Debug, Parser)]
#[command(name = "op-p2p-attacker", version)]
struct Args {
    /// What to do.
    #[arg(long, value_enum)]
    kind: Kind,
    /// A node to attack, `/ip4/…/tcp/…/p2p/<peer id>` (repeatable).
    #[arg(long = "target", required = true)]
    targets: Vec<Multiaddr>,
    /// The L2 chain id of the blocks topics.
    #[arg(long, default_value_t = 901)]
    chain_id: u64,
    /// How long to attack.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Bytes of gossip data a second (`snappy-bomb`).
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    rate: u64,
    /// Connections of `conn-flood`.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// The local address `conn-flood` connects from (e.g. another loopback address, to stand
    /// for another host); the system's choice if unset.
    #[arg(long)]
    source_ip: Option<std::net::IpAddr>,
    /// How long to wait before redialling a target that cut us off.
    #[arg(long, default_value_t = 1000)]
    redial_ms: u64,
    /// Block messages a second (`forged-signature`, `own-key`).
    #[arg(long, default_value_t = 2000)]
    messages: u64,
    /// Peer identities at once (`sync-flood`, `slow-reader`).
    #[arg(long, default_value_t = 20)]
    identities: usize,
    /// Requests in flight per identity (`sync-flood`, `slow-reader`).
    #[arg(long, default_value_t = 16)]
    streams: usize,
    /// The highest block number requested (`sync-flood`, `slow-reader`).
    #[arg(long, default_value_t = 40)]
    max_block: u64,
    /// Message ids per IWANT RPC (`iwant-flood`); the default is the most the node's gossipsub
    /// codec accepts in one RPC, more gets the stream closed.
    #[arg(long, default_value_t = control::IWANT_IDS)]
    iwant_ids: usize,
}

/// The attack kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// Connect and stay quiet.
    Idle,
    /// Oversized and undersized messages on the blocks topics.
    SnappyBomb,
    /// Frames over the 10 MiB cap on the blocks topics.
    OversizedFrame,
    /// `--connections` TCP connections with half-open noise handshakes, reopened as they close.
    ConnFlood,
    /// Signatures that recover no key or a random key.
    ForgedSignature,
    /// Blocks validly signed by the attacker's own key.
    OwnKey,
    /// The node's blocks sent back on the other version topics.
    ReplayTopic,
    /// The node's blocks sent back with a malleated signature.
    Malleate,
    /// payload_by_number from many identities, responses read.
    SyncFlood,
    /// payload_by_number from many identities, responses never read.
    SlowReader,
    /// IWANT for unknown message ids.
    IwantFlood,
    /// GRAFT while backing off.
    GraftSpam,
}

impl Kind {
    /// Whether the kind is run on raw streams ([`raw`]) rather than the gossipsub swarm.
    const fn is_raw(self) -> bool {
        matches!(
            self,
            Self::SyncFlood | Self::SlowReader | Self::IwantFlood | Self::GraftSpam
        )
    }
}

/// How often the pacer publishes.
const TICK: Duration = Duration::from_millis(50);

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(error) = run(args).await {
        eprintln!("op-p2p-attacker: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.kind == Kind::ConnFlood {
        return run_flood(&args).await;
    }
    if args.kind.is_raw() {
        return run_raw(&args).await;
    }
    let mut report = Report::new();
    let key = Keypair::generate_secp256k1();
    // The block kinds publish at full speed: a deeper queue, so the node's reading is the
    // bound, not ours.
    let queue_len = match args.kind {
        Kind::ForgedSignature | Kind::OwnKey | Kind::ReplayTopic | Kind::Malleate => 1024,
        _ => 16,
    };
    let mut swarm = swarm::build(&key, queue_len)?;
    let own_signer = key
        .clone()
        .try_into_secp256k1()
        .ok()
        .and_then(|k| forged::signer(k.secret().to_bytes()))
        .ok_or("no secp256k1 identity")?;
    report.line(
        "started",
        &[("peer_id", swarm.local_peer_id().to_string().into())],
    );
    // V1 to V4 (`0` to `3`).
    let topics: Vec<IdentTopic> = (0..4)
        .map(|v| IdentTopic::new(format!("/optimism/{}/{v}/blocks", args.chain_id)))
        .collect();
    for topic in &topics {
        swarm.behaviour_mut().subscribe(topic)?;
    }
    for target in &args.targets {
        swarm.dial(target.clone())?;
    }

    let end = tokio::time::Instant::now() + Duration::from_secs(args.seconds);
    let mut tick = tokio::time::interval(TICK);
    let redial_every = Duration::from_millis(args.redial_ms.max(1));
    let mut redial =
        tokio::time::interval_at(tokio::time::Instant::now() + redial_every, redial_every);
    let shapes: &[Shape] = match args.kind {
        Kind::SnappyBomb => &Shape::BOMBS,
        Kind::OversizedFrame => &Shape::OVERSIZED,
        _ => &[],
    };
    let forging = matches!(args.kind, Kind::ForgedSignature | Kind::OwnKey);
    let per_tick = if forging {
        // Messages, not bytes.
        args.messages.saturating_mul(TICK.as_millis() as u64) / 1000
    } else {
        args.rate.saturating_mul(TICK.as_millis() as u64) / 1000
    };
    let mut received = 0u64;
    let mut allowance: i64 = 0;
    let mut n: u64 = 0;
    let mut connected = 0usize;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(end) => break,
            _ = tick.tick(), if (forging || !shapes.is_empty()) && connected > 0 => {
                allowance = allowance.saturating_add(per_tick as i64).min(per_tick as i64 * 4);
                while allowance > 0 {
                    let data = match args.kind {
                        Kind::ForgedSignature => forged::forged(n),
                        Kind::OwnKey => forged::own_key(&own_signer, args.chain_id, n),
                        _ => {
                            let count = shapes.len() as u64;
                            shapes[(n % count) as usize].message(n / count)
                        }
                    };
                    let topic = topics[(n % topics.len() as u64) as usize].clone();
                    n += 1;
                    let len = data.len();
                    allowance -= if forging { 1 } else { len as i64 };
                    match swarm.behaviour_mut().publish(topic, data) {
                        Ok(_) => report.published(len),
                        // Nobody subscribed yet, or our small queues are full: wait a tick.
                        Err(
                            PublishError::NoPeersSubscribedToTopic
                            | PublishError::AllQueuesFull(_),
                        ) => {
                            report.publish_error();
                            break;
                        }
                        Err(_) => report.publish_error(),
                    }
                }
            }
            _ = redial.tick() => {
                if connected == 0 {
                    for target in &args.targets {
                        report.redial();
                        let _ = swarm.dial(target.clone());
                    }
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    connected += 1;
                    report.line("connected", &[("peer", peer_id.to_string().into())]);
                }
                SwarmEvent::ConnectionClosed { peer_id, cause, .. } => {
                    connected = connected.saturating_sub(1);
                    let cause = cause.map_or_else(|| "closed".to_owned(), |c| c.to_string());
                    report.line("closed", &[
                        ("peer", peer_id.to_string().into()),
                        ("cause", cause.into()),
                    ]);
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    report.line("dial_error", &[("error", error.to_string().into())]);
                }
                SwarmEvent::Behaviour(GossipEvent::Message { message, .. }) => {
                    received += 1;
                    let Some(index) = topics.iter().position(|t| t.hash() == message.topic)
                    else {
                        continue;
                    };
                    let sends: Vec<(usize, Vec<u8>)> = match args.kind {
                        Kind::ReplayTopic => (0..topics.len())
                            .filter(|i| *i != index)
                            .map(|i| (i, message.data.clone()))
                            .collect(),
                        Kind::Malleate => replay::malleate(&message.data)
                            .map(|twin| vec![(index, twin)])
                            .unwrap_or_default(),
                        _ => Vec::new(),
                    };
                    for (i, data) in sends {
                        let len = data.len();
                        match swarm.behaviour_mut().publish(topics[i].clone(), data) {
                            Ok(_) => report.published(len),
                            Err(_) => report.publish_error(),
                        }
                    }
                }
                _ => {}
            },
        }
    }
    report.done_with(&[("received", received.into())]);
    Ok(())
}

/// The peer id at the end of a `/…/p2p/<id>` target.
fn target_peer(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

/// The raw-stream kinds against the first target.
async fn run_raw(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let report = Report::new();
    let addr = args.targets.first().ok_or("no target")?.clone();
    let target = target_peer(&addr).ok_or("the target needs its /p2p/<peer id>")?;
    let end = tokio::time::Instant::now() + Duration::from_secs(args.seconds);
    let redial = Duration::from_millis(args.redial_ms.max(1));
    let connections = Arc::new(raw::Connections::default());
    let sync_counters = Arc::new(sync::Counters::default());
    let control_counters = Arc::new(control::Counters::default());
    let identities = match args.kind {
        Kind::SyncFlood | Kind::SlowReader => args.identities.max(1),
        _ => 1,
    };
    let protocol = StreamProtocol::try_from_owned(format!(
        "/opstack/req/payload_by_number/{}/0",
        args.chain_id
    ))?;
    let topics: Vec<String> = (0..4)
        .map(|v| format!("/optimism/{}/{v}/blocks", args.chain_id))
        .collect();
    let mut peers = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..identities {
        let drain = control_counters.clone();
        let control_kind = matches!(args.kind, Kind::IwantFlood | Kind::GraftSpam);
        let peer = raw::RawPeer::spawn(addr.clone(), end, redial, connections.clone(), |c| {
            if control_kind {
                control::drain_inbound(c, drain);
            }
        })?;
        match args.kind {
            Kind::SyncFlood | Kind::SlowReader => {
                let mode = if args.kind == Kind::SyncFlood {
                    sync::Mode::Flood
                } else {
                    sync::Mode::Slow
                };
                for s in 0..args.streams.max(1) {
                    tasks.push(tokio::spawn(sync::slot(
                        peer.control.clone(),
                        peer.connected.clone(),
                        target,
                        protocol.clone(),
                        mode,
                        (i * args.streams + s) as u64,
                        args.max_block,
                        end,
                        sync_counters.clone(),
                    )));
                }
            }
            _ => {
                let abuse = if args.kind == Kind::IwantFlood {
                    control::Abuse::Iwant {
                        ids: args.iwant_ids.max(1),
                    }
                } else {
                    control::Abuse::Graft
                };
                tasks.push(tokio::spawn(control::run(
                    peer.control.clone(),
                    peer.connected.clone(),
                    target,
                    topics.clone(),
                    abuse,
                    args.rate,
                    end,
                    control_counters.clone(),
                )));
            }
        }
        peers.push(peer.id.to_string());
    }
    report.line(
        "started",
        &[
            ("peer_id", peers.first().cloned().unwrap_or_default().into()),
            ("peer_ids", peers.into()),
        ],
    );
    let fields = || {
        let mut fields = connections.fields();
        if matches!(args.kind, Kind::SyncFlood | Kind::SlowReader) {
            fields.extend(sync_counters.fields());
        } else {
            fields.extend(control_counters.fields());
        }
        fields
    };
    // Progress once a second, so a test can follow the attack.
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    while tokio::time::Instant::now() < end {
        progress.tick().await;
        report.line("progress", &fields());
    }
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    report.line("done", &fields());
    Ok(())
}

/// Kind `conn-flood` against the first target.
async fn run_flood(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let report = Report::new();
    let target = args
        .targets
        .first()
        .and_then(flood::socket_addr)
        .ok_or("conn-flood needs a /ip4/…/tcp/… target")?;
    report.line("started", &[("target", target.to_string().into())]);
    let end = tokio::time::Instant::now() + Duration::from_secs(args.seconds);
    let counters = Arc::new(flood::Counters::default());
    let flood = tokio::spawn(flood::run(
        target,
        args.source_ip,
        args.connections,
        end,
        counters.clone(),
    ));
    // Progress once a second, so a test can tell when the flood holds.
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    while !flood.is_finished() {
        progress.tick().await;
        report.line("progress", &counters.fields());
    }
    report.line("done", &counters.fields());
    Ok(())
}
