//! Kinds `sync-flood` and `slow-reader`: `payload_by_number` from `--identities` peer ids at once
//! (each its own connection), `--streams` requests in flight per identity.
//!
//! - `sync-flood`: request, read the whole response, again at once; block numbers cycle over
//!   `1..=--max-block`, so most requests make the node fetch a stored block.
//! - `slow-reader`: request, read the result byte, then hold the stream unread for
//!   [`HOLD`] (longer than the server's 10 s write deadline) before dropping it and asking again:
//!   a response larger than the stream's flow-control window (yamux: 256 KiB) leaves the server
//!   stuck in its write until its deadline.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::{AsyncReadExt as _, AsyncWriteExt as _};
use libp2p_identity::PeerId;
use libp2p_swarm::StreamProtocol;
use tokio::time::Instant;

/// How long a slow reader holds a stream it does not read.
pub(crate) const HOLD: Duration = Duration::from_secs(15);
/// The most response bytes a flooder reads (the response cap is 10 MiB).
const READ_CAP: u64 = 11 * 1024 * 1024;
/// The bound on one request, after which the stream is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause after a failed stream, so a refused identity does not spin.
const BACKOFF: Duration = Duration::from_millis(200);

/// Counters over every identity.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Streams opened and requests written.
    pub(crate) requests: AtomicU64,
    /// Responses by result code 0..=3 and "other".
    pub(crate) codes: [AtomicU64; 5],
    /// Response bytes read.
    pub(crate) bytes: AtomicU64,
    /// Streams that could not be opened, or failed before a result byte.
    pub(crate) stream_errors: AtomicU64,
    /// Streams held unread now (`slow-reader`).
    pub(crate) held: AtomicUsize,
    /// The most held at once.
    pub(crate) max_held: AtomicUsize,
}

impl Counters {
    pub(crate) fn fields(&self) -> Vec<(&'static str, serde_json::Value)> {
        let code = |i: usize| self.codes[i].load(Ordering::Relaxed);
        vec![
            ("requests", self.requests.load(Ordering::Relaxed).into()),
            ("success", code(0).into()),
            ("not_found", code(1).into()),
            ("invalid_request", code(2).into()),
            ("unknown", code(3).into()),
            ("other_code", code(4).into()),
            ("bytes", self.bytes.load(Ordering::Relaxed).into()),
            (
                "stream_errors",
                self.stream_errors.load(Ordering::Relaxed).into(),
            ),
            ("held", self.held.load(Ordering::Relaxed).into()),
            ("max_held", self.max_held.load(Ordering::Relaxed).into()),
        ]
    }

    fn code(&self, byte: u8) {
        self.codes[usize::from(byte.min(4))].fetch_add(1, Ordering::Relaxed);
    }
}

/// What each request stream does with the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Read it all.
    Flood,
    /// Read the result byte, then hold the stream unread.
    Slow,
}

/// One slot of one identity (`control`, a clone per slot; `connected` while its connection is
/// up): requests on `protocol` to `target` until `end`, block numbers from `first + 1` on.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn slot(
    mut control: libp2p_stream::Control,
    connected: Arc<AtomicBool>,
    target: PeerId,
    protocol: StreamProtocol,
    mode: Mode,
    first: u64,
    max_block: u64,
    end: Instant,
    counters: Arc<Counters>,
) {
    let mut number = first;
    while Instant::now() < end {
        number = number % max_block.max(1) + 1;
        if !connected.load(Ordering::Relaxed) {
            tokio::time::sleep(BACKOFF).await;
            continue;
        }
        let opened = tokio::time::timeout(
            Duration::from_secs(10),
            control.open_stream(target, protocol.clone()),
        )
        .await;
        let Ok(Ok(mut stream)) = opened else {
            counters.stream_errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(BACKOFF).await;
            continue;
        };
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let exchange = async {
            stream.write_all(&number.to_le_bytes()).await?;
            stream.close().await?;
            let mut code = [0u8; 1];
            stream.read_exact(&mut code).await?;
            counters.code(code[0]);
            counters.bytes.fetch_add(1, Ordering::Relaxed);
            if mode == Mode::Flood {
                let mut sink = futures::io::sink();
                let read = futures::io::copy((&mut stream).take(READ_CAP), &mut sink).await?;
                counters.bytes.fetch_add(read, Ordering::Relaxed);
            }
            std::io::Result::Ok(())
        };
        match tokio::time::timeout_at(Instant::now() + REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(())) => {}
            _ => {
                counters.stream_errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        }
        if mode == Mode::Slow {
            let held = counters.held.fetch_add(1, Ordering::Relaxed) + 1;
            counters.max_held.fetch_max(held, Ordering::Relaxed);
            tokio::time::sleep_until((Instant::now() + HOLD).min(end)).await;
            counters.held.fetch_sub(1, Ordering::Relaxed);
        }
        drop(stream);
    }
}
