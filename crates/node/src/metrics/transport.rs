//! [`Metered`]: a stream-muxer wrapper that counts open streams and the bytes read and written
//! on them (op-node's `p2p_stream_count` and `p2p_bandwidth_bytes_total`).
//!
//! go-libp2p reports stream payload bytes (its `BandwidthCounter` sits above the muxer) and
//! notifies every stream open and close. rust-libp2p has no stream notifier, and
//! `libp2p-metrics`' bandwidth transport pulls in the whole metrics crate (tied to its own
//! prometheus-client version) for one wrapper; this ~100-line wrapper of the muxer's
//! substreams gives both numbers at the same layer as go-libp2p: after yamux, so framing and
//! noise overhead are not counted, every protocol's streams are.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use futures::{AsyncRead, AsyncWrite};
use libp2p_core::muxing::{StreamMuxer, StreamMuxerEvent};
use prometheus_client::metrics::gauge::Gauge;

/// What the transport counts; cloned into every connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meter {
    /// Open streams, all protocols (a live gauge).
    pub(crate) streams: Gauge,
    /// Bytes read from streams since start.
    pub(crate) bytes_in: Arc<AtomicU64>,
    /// Bytes written to streams since start.
    pub(crate) bytes_out: Arc<AtomicU64>,
}

impl Meter {
    /// Bytes read and written since start.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (
            self.bytes_in.load(Ordering::Relaxed),
            self.bytes_out.load(Ordering::Relaxed),
        )
    }
}

/// A muxer whose substreams are [`MeteredStream`]s.
#[derive(Debug)]
pub(crate) struct Metered<M> {
    inner: M,
    meter: Meter,
}

impl<M> Metered<M> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: M, meter: Meter) -> Self {
        Self { inner, meter }
    }

    fn wrap<S>(&self, stream: S) -> MeteredStream<S> {
        self.meter.streams.inc();
        MeteredStream {
            inner: stream,
            meter: self.meter.clone(),
        }
    }
}

impl<M> StreamMuxer for Metered<M>
where
    M: StreamMuxer + Unpin,
    M::Substream: Unpin,
{
    type Substream = MeteredStream<M::Substream>;
    type Error = M::Error;

    fn poll_inbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let this = self.get_mut();
        Pin::new(&mut this.inner)
            .poll_inbound(cx)
            .map_ok(|s| this.wrap(s))
    }

    fn poll_outbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let this = self.get_mut();
        Pin::new(&mut this.inner)
            .poll_outbound(cx)
            .map_ok(|s| this.wrap(s))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll(cx)
    }
}

/// A substream that counts its bytes and, when dropped, that it closed.
#[derive(Debug)]
pub(crate) struct MeteredStream<S> {
    inner: S,
    meter: Meter,
}

impl<S> Drop for MeteredStream<S> {
    fn drop(&mut self) {
        self.meter.streams.dec();
    }
}

fn count(counter: &AtomicU64, result: &Poll<io::Result<usize>>) {
    if let Poll::Ready(Ok(n)) = result {
        counter.fetch_add(*n as u64, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for MeteredStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        count(&this.meter.bytes_in, &result);
        result
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_read_vectored(cx, bufs);
        count(&this.meter.bytes_in, &result);
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for MeteredStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        count(&this.meter.bytes_out, &result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        count(&this.meter.bytes_out, &result);
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures::{AsyncReadExt as _, AsyncWriteExt as _, io::Cursor};

    use super::*;

    #[test]
    fn counts_bytes_and_open_streams() {
        let meter = Meter::default();
        let muxer = Metered::new((), meter.clone());
        let mut stream = muxer.wrap(Cursor::new(vec![0u8; 8]));
        assert_eq!(meter.streams.get(), 1);
        futures::executor::block_on(async {
            let mut buf = [0u8; 5];
            stream.read_exact(&mut buf).await.expect("read");
            stream.write_all(b"abc").await.expect("write");
        });
        assert_eq!(meter.totals(), (5, 3));
        drop(stream);
        assert_eq!(meter.streams.get(), 0);
    }
}
