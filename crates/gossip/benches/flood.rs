//! Honest propagation while a peer floods blocks signed by its own key (issue 13 §1, test d).
//!
//! Such a block costs the receiver a keccak over the body and one ecrecover before it is
//! rejected as `WrongSigner`, and, since that reject depends on the signer we hold, it costs the
//! flooder no score (it cannot be told apart from an honest relayer during a signer rotation).
//! What protects honest blocks is the bound on the validation work one peer can cause
//! (`Config::validation_queue_per_peer`) and the pipeline serving peers in turn.
//!
//! Network: sequencer S and flooder F, each connected to verifier V only (real TCP, noise,
//! yamux, gossipsub, pipeline; all in this process: S and V on one 2-worker runtime, F and its
//! publishing loop on a runtime of its own thread, so that it does not take V's workers). S publishes a small
//! block every `GAP`; the time until V delivers it is taken, `SAMPLES` blocks per scenario:
//! 1. baseline: no flood;
//! 2. flood: F publishes pre-signed blocks of its own key as fast as its task can, defaults
//!    (per-peer bound 16, flood cut-off on: F is disconnected once it keeps overflowing it);
//! 3. the same flood with the cut-off off (the bound alone);
//! 4. a flood paced under the cut-off: 1,000 messages a second, which V validates as fast as
//!    they come, so F is never refused and never cut off;
//! 5. flood, per-peer bound 256 and no cut-off (the whole queue: no per-peer bound, peers still
//!    served in turn).
//!
//! Prints p50/p99/max per scenario, V's counts of wrong-signer rejects and per-peer refusals,
//! and whether F was cut off.
//! The flooder's own work (its gossipsub, message ids) still runs on the same two cores, which a
//! remote attacker's would not: the flood rows overstate the cost.
//!
//! Run: `cargo bench -p op-p2p-gossip --bench flood` (part of `cargo xtask bench gossip`).

// A bench is a test harness: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use op_p2p_gossip::{
    Config, Reason,
    test_utils::{CHAIN_ID, NOW, TestNode, block},
    topic_hash,
};
use op_p2p_types::{B256, BlockSigner, BlocksTopic, PayloadVersion, SignedBlockMessage};

/// Honest blocks timed per scenario.
const SAMPLES: usize = 1000;
/// Time between honest blocks.
const GAP: Duration = Duration::from_millis(10);
/// Distinct flood messages signed beforehand (each is sent once: a repeat would be dropped by
/// gossipsub's seen cache before validation).
const FLOOD_MESSAGES: usize = 60_000;
/// An honest block not delivered by then is counted as lost (V ignored it: its queue was full).
const LOST_AFTER: Duration = Duration::from_secs(2);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// How F sends.
#[derive(Clone, Copy)]
enum Flood {
    /// As fast as its task can.
    Full,
    /// `n` messages every `FLOOD_TICK`.
    Paced(usize),
}

/// The pacing tick of [`Flood::Paced`].
const FLOOD_TICK: Duration = Duration::from_millis(10);

async fn scenario(
    name: &str,
    config: Config,
    flood: Option<(Flood, Arc<Vec<Vec<u8>>>)>,
    attacker: &tokio::runtime::Handle,
) {
    let sequencer = TestNode::spawn(Config::default()).await;
    let mut verifier = TestNode::spawn(config).await;
    // The flooder's swarm task is spawned on the attacker's runtime.
    let flooder = attacker
        .spawn(TestNode::spawn(Config::default()))
        .await
        .unwrap();
    sequencer.connect(&verifier).await;
    flooder.connect(&verifier).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let flooding = flood.map(|(pace, messages)| {
        let stop = stop.clone();
        let topic = topic_hash(BlocksTopic::new(CHAIN_ID, PayloadVersion::V4));
        attacker.spawn(async move {
            let mut sent = 0usize;
            let mut tick = tokio::time::interval(FLOOD_TICK);
            for batch in messages.chunks(match pace {
                Flood::Full => 1,
                Flood::Paced(n) => n,
            }) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if matches!(pace, Flood::Paced(_)) {
                    tick.tick().await;
                }
                for data in batch {
                    // Refused once V cut F off (no peer left) or its queue towards V is
                    // full; the flooder just goes on.
                    if flooder
                        .publish_raw(topic.clone(), data.clone())
                        .await
                        .is_ok()
                    {
                        sent += 1;
                    }
                }
            }
            (sent, flooder)
        })
    });

    let mut samples = Vec::with_capacity(SAMPLES);
    let mut lost = 0usize;
    let started = Instant::now();
    for n in 0..SAMPLES as u64 {
        tokio::time::sleep(GAP).await;
        let envelope = block(1_000_000 + n, NOW, 0);
        let start = Instant::now();
        sequencer.publish(&envelope).await.unwrap();
        let delivered = tokio::time::timeout(LOST_AFTER, async {
            while let Some(got) = verifier.deliveries.recv().await {
                if got.envelope == envelope {
                    return;
                }
            }
        })
        .await;
        match delivered {
            Ok(()) => samples.push(start.elapsed()),
            Err(_) => lost += 1,
        }
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let sent = match flooding {
        Some(task) => task.await.unwrap().0,
        None => 0,
    };
    samples.sort();
    if samples.is_empty() {
        samples.push(LOST_AFTER);
    }
    let c = &verifier.counters;
    let cut_off = verifier.flood_cut_offs();
    println!(
        "{name:<40} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  lost {lost:>3} | flood sent {:>6} ({:>6.0}/s), \
         V checked {:>6} wrong-signer, refused {:>6} (peer busy) {:>6} (queue full), cut off {cut_off}",
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(samples[samples.len() - 1]),
        sent,
        sent as f64 / elapsed.as_secs_f64(),
        c.reason(Reason::WrongSigner),
        c.reason(Reason::PeerBusy),
        c.reason(Reason::QueueFull),
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Valid blocks, signed by the flooder's own key (not the sequencer's).
    let key = BlockSigner::new(B256::repeat_byte(0x66)).unwrap();
    let flood: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..FLOOD_MESSAGES as u64)
            .map(|n| SignedBlockMessage::sign(&key, CHAIN_ID, &block(n + 1, NOW, 7)).encode())
            .collect(),
    );
    println!(
        "flood message: {} bytes on the wire; honest: one {}-byte block every {GAP:?}, {SAMPLES} blocks",
        flood[0].len(),
        flood[0].len()
    );
    let attacker = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let a = attacker.handle();
    rt.block_on(async {
        for _ in 0..2 {
            let defaults = Config::default();
            let no_cutoff = Config::default().with_flood_cutoff(None);
            scenario("baseline (no flood)", defaults.clone(), None, a).await;
            let full = Some((Flood::Full, flood.clone()));
            scenario(
                "flood (defaults: bound 16, cut-off)",
                defaults.clone(),
                full.clone(),
                a,
            )
            .await;
            scenario(
                "flood, bound 16, no cut-off",
                no_cutoff.clone(),
                full.clone(),
                a,
            )
            .await;
            let paced = Some((Flood::Paced(10), flood.clone()));
            scenario("flood paced 1,000/s (defaults)", defaults, paced, a).await;
            let unbounded = no_cutoff.with_validation_queue_per_peer(256);
            scenario("flood, bound 256, no cut-off", unbounded, full, a).await;
        }
    });
}
