//! Kinds `iwant-flood` and `graft-spam`: gossipsub control messages written by hand on a raw
//! `/meshsub/1.1.0` stream.
//!
//! Why by hand: rust-libp2p's gossipsub sends control messages only as its own protocol logic
//! decides (IWANT for ids a peer advertised, GRAFT when its mesh needs a peer) and exposes no
//! way to send arbitrary ones; its protobuf types are private. The RPC is a small protobuf
//! (gossipsub's `rpc.proto`), length-prefixed with an unsigned varint per frame, so the few
//! fields used here are encoded directly rather than pulling in a protobuf code generator.
//!
//! - `iwant-flood`: after subscribing, IWANT RPCs of [`IWANT_IDS`] random 20-byte message ids
//!   (ids the node never had), written as fast as the node reads them, paced at `--rate`
//!   bytes a second.
//! - `graft-spam`: subscribe, PRUNE ourselves from every blocks topic with a 60 s backoff (the
//!   node records the backoff), then GRAFT on every topic [`GRAFTS_PER_SECOND`] times a second:
//!   each GRAFT within a backoff is gossipsub's behaviour penalty (P7).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::{AsyncReadExt as _, AsyncWriteExt as _};
use libp2p_identity::PeerId;
use libp2p_swarm::StreamProtocol;
use tokio::time::Instant;

/// The gossipsub protocol spoken (the node also speaks 1.2.0; 1.1.0 has every message used).
pub(crate) const MESHSUB: StreamProtocol = StreamProtocol::new("/meshsub/1.1.0");
/// Message ids per IWANT RPC (~220 KB a frame).
pub(crate) const IWANT_IDS: usize = 10_000;
/// GRAFT RPCs a second.
pub(crate) const GRAFTS_PER_SECOND: u64 = 20;
/// The backoff our PRUNE asks for, seconds.
const PRUNE_BACKOFF_SECS: u64 = 60;

/// Counters of the control kinds.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// RPC frames written.
    pub(crate) rpcs: AtomicU64,
    /// Bytes written.
    pub(crate) bytes: AtomicU64,
    /// Message ids asked for.
    pub(crate) iwant_ids: AtomicU64,
    /// GRAFT control messages sent (one per topic).
    pub(crate) grafts: AtomicU64,
    /// Bytes the node sent us on its own stream (drained unread).
    pub(crate) inbound_bytes: AtomicU64,
    /// Streams that failed to open or broke.
    pub(crate) stream_errors: AtomicU64,
}

impl Counters {
    pub(crate) fn fields(&self) -> Vec<(&'static str, serde_json::Value)> {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            ("rpcs", load(&self.rpcs).into()),
            ("bytes", load(&self.bytes).into()),
            ("iwant_ids", load(&self.iwant_ids).into()),
            ("grafts", load(&self.grafts).into()),
            ("inbound_bytes", load(&self.inbound_bytes).into()),
            ("stream_errors", load(&self.stream_errors).into()),
        ]
    }
}

/// Which control abuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abuse {
    /// IWANT for unknown ids.
    Iwant,
    /// GRAFT while backing off.
    Graft,
}

/// Accepts the node's gossipsub streams on `control` and reads them to nowhere, so its
/// gossipsub keeps the connection enabled (a peer that refuses the protocol is disabled).
pub(crate) fn drain_inbound(control: &mut libp2p_stream::Control, counters: Arc<Counters>) {
    let Ok(mut incoming) = control.accept(MESHSUB) else {
        return;
    };
    tokio::spawn(async move {
        use futures::StreamExt as _;
        while let Some((_, mut stream)) = incoming.next().await {
            let counters = counters.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    counters
                        .inbound_bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
    });
}

/// Writes `abuse` to `target` on a stream of `control` until `end`, reopening the stream
/// whenever it breaks while `connected`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    mut control: libp2p_stream::Control,
    connected: Arc<std::sync::atomic::AtomicBool>,
    target: PeerId,
    topics: Vec<String>,
    abuse: Abuse,
    rate: u64,
    end: Instant,
    counters: Arc<Counters>,
) {
    let mut n = 0u64;
    while Instant::now() < end {
        if !connected.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let Ok(Ok(mut stream)) = tokio::time::timeout(
            Duration::from_secs(10),
            control.open_stream(target, MESHSUB),
        )
        .await
        else {
            counters.stream_errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let write = async {
            let mut frames = vec![subscribe(&topics)];
            if abuse == Abuse::Graft {
                frames.push(prune(&topics, PRUNE_BACKOFF_SECS));
            }
            let started = Instant::now();
            let mut sent_bytes = 0u64;
            loop {
                for frame in frames.drain(..) {
                    stream.write_all(&frame).await?;
                    counters.rpcs.fetch_add(1, Ordering::Relaxed);
                    counters
                        .bytes
                        .fetch_add(frame.len() as u64, Ordering::Relaxed);
                    sent_bytes += frame.len() as u64;
                }
                if Instant::now() >= end {
                    return std::io::Result::Ok(());
                }
                match abuse {
                    Abuse::Iwant => {
                        frames.push(iwant(n));
                        counters
                            .iwant_ids
                            .fetch_add(IWANT_IDS as u64, Ordering::Relaxed);
                        n += 1;
                        // Pace at `rate` bytes a second.
                        let due = started
                            + Duration::from_secs_f64(sent_bytes as f64 / rate.max(1) as f64);
                        tokio::time::sleep_until(due.min(end)).await;
                    }
                    Abuse::Graft => {
                        frames.push(graft(&topics));
                        counters
                            .grafts
                            .fetch_add(topics.len() as u64, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(1000 / GRAFTS_PER_SECOND)).await;
                    }
                }
            }
        };
        if tokio::time::timeout_at(end, write)
            .await
            .is_ok_and(|r| r.is_err())
        {
            counters.stream_errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// RPC { subscriptions: [SubOpts { subscribe: true, topic_id }] } for every topic.
fn subscribe(topics: &[String]) -> Vec<u8> {
    let mut rpc = Vec::new();
    for topic in topics {
        let mut sub = Vec::new();
        varint_field(&mut sub, 1, 1);
        bytes_field(&mut sub, 2, topic.as_bytes());
        bytes_field(&mut rpc, 1, &sub);
    }
    frame(&rpc)
}

/// RPC { control: { iwant: [{ message_ids: IWANT_IDS random ids }] } }.
fn iwant(n: u64) -> Vec<u8> {
    let mut want = Vec::with_capacity(IWANT_IDS * 22);
    for i in 0..IWANT_IDS as u64 {
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(&n.to_le_bytes());
        id[8..16].copy_from_slice(&i.to_le_bytes());
        id[16..].copy_from_slice(b"junk");
        bytes_field(&mut want, 1, &id);
    }
    let mut control = Vec::new();
    bytes_field(&mut control, 2, &want);
    let mut rpc = Vec::new();
    bytes_field(&mut rpc, 3, &control);
    frame(&rpc)
}

/// RPC { control: { graft: [{ topic_id }] for every topic } }.
fn graft(topics: &[String]) -> Vec<u8> {
    let mut control = Vec::new();
    for topic in topics {
        let mut graft = Vec::new();
        bytes_field(&mut graft, 1, topic.as_bytes());
        bytes_field(&mut control, 3, &graft);
    }
    let mut rpc = Vec::new();
    bytes_field(&mut rpc, 3, &control);
    frame(&rpc)
}

/// RPC { control: { prune: [{ topic_id, backoff }] for every topic } }.
fn prune(topics: &[String], backoff_secs: u64) -> Vec<u8> {
    let mut control = Vec::new();
    for topic in topics {
        let mut prune = Vec::new();
        bytes_field(&mut prune, 1, topic.as_bytes());
        varint_field(&mut prune, 3, backoff_secs);
        bytes_field(&mut control, 4, &prune);
    }
    let mut rpc = Vec::new();
    bytes_field(&mut rpc, 3, &control);
    frame(&rpc)
}

/// The uvarint length prefix of gossipsub's codec, then `rpc`.
fn frame(rpc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rpc.len() + 5);
    varint(&mut out, rpc.len() as u64);
    out.extend_from_slice(rpc);
    out
}

/// A varint field (wire type 0).
fn varint_field(out: &mut Vec<u8>, field: u64, value: u64) {
    varint(out, field << 3);
    varint(out, value);
}

/// A length-delimited field (wire type 2).
fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, (field << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_what_protobuf_writes() {
        // RPC { control { graft { topic_id: "t" } } }: 1a 05 1a 03 0a 01 74, length-prefixed.
        assert_eq!(
            graft(&["t".to_owned()]),
            [0x07, 0x1a, 0x05, 0x1a, 0x03, 0x0a, 0x01, b't']
        );
        // RPC { subscriptions { subscribe: true, topic_id: "t" } }.
        assert_eq!(
            subscribe(&["t".to_owned()]),
            [0x07, 0x0a, 0x05, 0x08, 0x01, 0x12, 0x01, b't']
        );
        // RPC { control { prune { topic_id: "t", backoff: 60 } } }.
        assert_eq!(
            prune(&["t".to_owned()], 60),
            [0x09, 0x1a, 0x07, 0x22, 0x05, 0x0a, 0x01, b't', 0x18, 60]
        );
        let want = iwant(1);
        assert!(want.len() > IWANT_IDS * 22 && want.len() < 10 * 1024 * 1024);
    }
}
