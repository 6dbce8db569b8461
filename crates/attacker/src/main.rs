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
//!   as the node closes them ([`flood`]).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod bombs;
mod flood;
mod report;
mod swarm;

use std::{sync::Arc, time::Duration};

use clap::{Parser, ValueEnum};
use futures::StreamExt as _;
use libp2p_core::Multiaddr;
use libp2p_gossipsub::{IdentTopic, PublishError};
use libp2p_swarm::SwarmEvent;

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
    let mut report = Report::new();
    let mut swarm = swarm::build()?;
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
        Kind::Idle | Kind::ConnFlood => &[],
        Kind::SnappyBomb => &Shape::BOMBS,
        Kind::OversizedFrame => &Shape::OVERSIZED,
    };
    let per_tick = args.rate.saturating_mul(TICK.as_millis() as u64) / 1000;
    let mut allowance: i64 = 0;
    let mut n: u64 = 0;
    let mut connected = 0usize;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(end) => break,
            _ = tick.tick(), if !shapes.is_empty() && connected > 0 => {
                allowance = allowance.saturating_add(per_tick as i64).min(per_tick as i64 * 4);
                while allowance > 0 {
                    let count = shapes.len() as u64;
                    let data = shapes[(n % count) as usize].message(n / count);
                    let topic = topics[(n % topics.len() as u64) as usize].clone();
                    n += 1;
                    let len = data.len();
                    allowance -= len as i64;
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
                _ => {}
            },
        }
    }
    report.done();
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
