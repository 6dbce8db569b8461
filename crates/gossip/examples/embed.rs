//! A minimal OP Stack P2P node built from op-p2p's crates, as a kona- or reth-based node would
//! embed them: its own `#[derive(NetworkBehaviour)]` with op-p2p's gating, gossip and
//! payload_by_number sync, in-memory stores, and TCP + noise + yamux. No swarm loop is copied
//! from op-p2p: each behaviour runs its own timers and pipelines and reports events.
//!
//! `cargo run -p op-p2p-gossip --features test-utils --example embed` starts two such nodes on
//! 127.0.0.1: the first publishes block 2 over gossip, the second receives it, fills the gap
//! below it (block 1) with payload_by_number from the first, and both print what they saw.

use std::{sync::Arc, time::Duration};

use futures::StreamExt as _;
use libp2p_core::{Multiaddr, Transport as _, upgrade::Version};
use libp2p_identity::Keypair;
use libp2p_swarm::{NetworkBehaviour, Swarm, SwarmEvent};
use op_p2p_api::{Clock, MemoryGateStore, MemoryScoreBook, SystemClock, UnsafePayload};
use op_p2p_gossip::{Services, UnsafeBlockSigner, test_utils};
use op_p2p_reqresp_sync::{MemorySource, PayloadSink};
use op_p2p_types::{BlockRef, ExecutionPayloadEnvelope};

/// The application's behaviour: gating first, so refused connections reach nothing else.
#[derive(NetworkBehaviour)]
#[behaviour(prelude = "libp2p_swarm::derive_prelude")]
struct OpP2p {
    gating: op_p2p_gating::Behaviour,
    gossip: op_p2p_gossip::Behaviour,
    sync: op_p2p_reqresp_sync::Behaviour<Arc<MemorySource>>,
}

/// One node: stores in memory, the system clock, the test chain (every fork to Isthmus).
fn node(
    source: Arc<MemorySource>,
    sink: PayloadSink,
) -> Result<Swarm<OpP2p>, Box<dyn std::error::Error>> {
    let key = Keypair::generate_secp256k1();
    let rollup = test_utils::rollup();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let scores = Arc::new(MemoryScoreBook::new());
    let slot = Duration::from_secs(rollup.block_time);
    let behaviour = OpP2p {
        gating: op_p2p_gating::Behaviour::new(
            Arc::new(MemoryGateStore::new()),
            clock.clone(),
            Default::default(),
        )?
        .with_score_book(scores.clone(), slot),
        gossip: op_p2p_gossip::Behaviour::new(
            &Default::default(),
            rollup.clone(),
            UnsafeBlockSigner::new(test_utils::sequencer().address()),
            Services {
                clock: clock.clone(),
                score_book: scores.clone(),
                ..Default::default()
            },
        )?,
        sync: op_p2p_reqresp_sync::Behaviour::new(
            Default::default(),
            rollup,
            scores,
            sink,
            Some(source),
            clock,
        )?,
    };
    let transport = libp2p_tcp::tokio::Transport::new(libp2p_tcp::Config::new().nodelay(true))
        .upgrade(Version::V1)
        .authenticate(libp2p_noise::Config::new(&key)?)
        .multiplex(libp2p_yamux::Config::default())
        .boxed();
    let config = libp2p_swarm::Config::with_tokio_executor()
        .with_idle_connection_timeout(Duration::from_secs(60));
    Ok(Swarm::new(
        transport,
        behaviour,
        key.public().to_peer_id(),
        config,
    ))
}

/// Blocks 1 and 2 of a chain, stamped now so gossip's timestamp window accepts them.
fn chain(now: u64) -> Result<[ExecutionPayloadEnvelope; 2], Box<dyn std::error::Error>> {
    let one = test_utils::block(1, now - 2, 1);
    let mut two = test_utils::block(2, now, 1);
    two.execution_payload.parent_hash = one.execution_payload.block_hash;
    two.execution_payload.block_hash = two.compute_block_hash()?;
    Ok([one, two])
}

/// Runs the two-node exchange; returns the block B got over gossip and the one it synced.
pub async fn exchange() -> Result<(UnsafePayload, UnsafePayload), Box<dyn std::error::Error>> {
    let now = SystemClock::new().unix_time();
    let [one, two] = chain(now)?;
    let served = Arc::new(
        [one.clone(), two.clone()]
            .into_iter()
            .collect::<MemorySource>(),
    );
    let (sink_a, _) = futures::channel::mpsc::channel(16);
    let (sink_b, mut synced) = futures::channel::mpsc::channel(16);
    let mut a = node(served, sink_a)?;
    let mut b = node(Arc::default(), sink_b)?;
    a.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;
    let addr: Multiaddr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = a.select_next_some().await {
            break address;
        }
    };
    b.dial(addr)?;
    let (mut published, mut gossiped) = (false, None);
    loop {
        tokio::select! {
            event = a.select_next_some() => {
                // A sees B subscribe: gossipsub has a peer for the block (retried per topic).
                if let SwarmEvent::Behaviour(OpP2pEvent::Gossip(op_p2p_gossip::Event::Gossipsub(
                    op_p2p_gossip::gossipsub::Event::Subscribed { .. },
                ))) = event && !published {
                    published = a.behaviour_mut().gossip.publish(&test_utils::sequencer(), &two).is_ok();
                }
            }
            event = b.select_next_some() => {
                if let SwarmEvent::Behaviour(OpP2pEvent::Gossip(op_p2p_gossip::Event::Block(block))) = event {
                    // Block 2 is ahead of B's head (0): fetch the gap below it from its peers.
                    let head = BlockRef { number: 0, timestamp: now, ..Default::default() };
                    b.behaviour_mut().sync.request_range(head, block.block_ref())?;
                    gossiped = Some(*block);
                }
            }
            Some(block) = synced.next() => return Ok((gossiped.ok_or("synced before gossip")?, block)),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (gossiped, synced) = tokio::time::timeout(Duration::from_secs(30), exchange()).await??;
    println!(
        "gossip: block {} from {}",
        gossiped.block_ref().number,
        gossiped.peer
    );
    println!(
        "payload_by_number: block {} from {}",
        synced.block_ref().number,
        synced.peer
    );
    Ok(())
}
