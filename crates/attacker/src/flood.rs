//! Kind `conn-flood`: many TCP connections that start the node's handshake and stall. Each
//! connection sends multistream-select's header and the `/noise` proposal, then the length
//! prefix of noise's first message (claiming 32 bytes) and only 8 of them, and never reads or
//! sends again: the node holds a socket and a pending upgrade until its upgrade timeout
//! (`p2p.timeout.dial`, 10 s) closes it, and then the connection is opened again at once (a
//! reconnect storm). No libp2p here: a half-open handshake is exactly what a libp2p dialer
//! never sends.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use libp2p_core::{Multiaddr, multiaddr::Protocol};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpSocket, TcpStream},
    time::Instant,
};

/// A connection's opening bytes: multistream-select 1.0 (uvarint-length-prefixed lines), the
/// noise proposal, and a truncated noise XX message 1 (2-byte length 32, then 8 bytes).
const OPENING: &[u8] =
    b"\x13/multistream/1.0.0\n\x07/noise\n\x00\x20\x01\x02\x03\x04\x05\x06\x07\x08";
/// Pause after a failed connect or a close by the node before reconnecting: a storm of ~1,000
/// reconnects a second at 1,000 connections, without spinning the shared test machine.
const RETRY: Duration = Duration::from_secs(1);

/// Counters of the flood.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Connections established.
    pub(crate) connects: AtomicU64,
    /// Of them, closed by the node.
    pub(crate) closed_by_node: AtomicU64,
    /// Connect attempts that failed.
    pub(crate) connect_errors: AtomicU64,
    /// Connections open now.
    pub(crate) open: AtomicUsize,
    /// The most open at once.
    pub(crate) max_open: AtomicUsize,
}

impl Counters {
    /// The counters as report fields.
    pub(crate) fn fields(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("connects", self.connects.load(Ordering::Relaxed).into()),
            (
                "closed_by_node",
                self.closed_by_node.load(Ordering::Relaxed).into(),
            ),
            (
                "connect_errors",
                self.connect_errors.load(Ordering::Relaxed).into(),
            ),
            ("open", self.open.load(Ordering::Relaxed).into()),
            ("max_open", self.max_open.load(Ordering::Relaxed).into()),
        ]
    }
}

/// The TCP address of a `/ip4/…/tcp/…` multiaddr.
pub(crate) fn socket_addr(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for protocol in addr.iter() {
        match protocol {
            Protocol::Ip4(a) => ip = Some(a.into()),
            Protocol::Ip6(a) => ip = Some(a.into()),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

/// Keeps `connections` half-open handshakes against `target` until `end`.
pub(crate) async fn run(
    target: SocketAddr,
    source: Option<IpAddr>,
    connections: usize,
    end: Instant,
    counters: Arc<Counters>,
) {
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(hold(target, source, end, counters.clone())))
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// Connects from `source` (another loopback address stands for another host in tests).
async fn connect(target: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect(target).await;
    };
    let socket = if source.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(target).await
}

/// One slot of the flood: connect, open, stall until the node closes; again until `end`.
async fn hold(target: SocketAddr, source: Option<IpAddr>, end: Instant, counters: Arc<Counters>) {
    while Instant::now() < end {
        let Ok(Ok(mut stream)) = tokio::time::timeout_at(end, connect(target, source)).await else {
            counters.connect_errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(RETRY).await;
            continue;
        };
        counters.connects.fetch_add(1, Ordering::Relaxed);
        let open = counters.open.fetch_add(1, Ordering::Relaxed) + 1;
        counters.max_open.fetch_max(open, Ordering::Relaxed);
        let _ = stream.write_all(OPENING).await;
        // Read (and drop) the node's answers until it closes the connection or the time is up.
        let mut buf = [0u8; 256];
        let closed = loop {
            match tokio::time::timeout_at(end, stream.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break true,
                Ok(Ok(_)) => {}
                Err(_) => break false,
            }
        };
        counters.open.fetch_sub(1, Ordering::Relaxed);
        if closed {
            counters.closed_by_node.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(RETRY).await;
        }
    }
}
