//! The metrics HTTP server (`--metrics.enabled`): answers every path with the text exposition,
//! as op-node's handler does (it is passed as the whole server handler).
//!
//! hyper 1 (HTTP/1 only) with hyper-util's tokio glue: the HTTP stack jsonrpsee already brings
//! into the node, so the server adds no new crates to a build with the RPC server. Bounded:
//! at most [`MAX_CONNECTIONS`] connections at once (more wait in the kernel's backlog), a
//! request head must arrive within [`HEADER_TIMEOUT`].

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use http_body_util::Full;
use hyper::{Request, Response, body::Bytes, header, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::{encoding::text::encode_registry, registry::Registry};
use tokio::{net::TcpListener, sync::Semaphore, task::JoinHandle};
use tracing::{debug, info, warn};

/// The tracing target.
const TARGET: &str = "op_p2p::metrics";
/// Scrapes served at once.
pub(crate) const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send its request head (op-node's `ReadHeaderTimeout`).
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The classic Prometheus text format: its parser accepts counter samples without `_total`
/// (op-node's `p2p_dials` and co.), which the OpenMetrics parser might not.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds `addr` and serves `registry` until the returned task is aborted.
pub(crate) async fn start(
    addr: SocketAddr,
    registry: Arc<Registry>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    info!(target: TARGET, addr = %bound, "metrics server listening");
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let task = tokio::spawn(async move {
        loop {
            let Ok(permit) = limit.clone().acquire_owned().await else {
                return;
            };
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    warn!(target: TARGET, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let registry = registry.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let registry = registry.clone();
                    async move { Ok::<_, Infallible>(respond(&registry, &request)) }
                });
                if let Err(error) = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    debug!(target: TARGET, %peer, %error, "metrics connection");
                }
                drop(permit);
            });
        }
    });
    Ok((bound, task))
}

/// The exposition, whatever the path or method (op-node's handler ignores both).
fn respond<B>(registry: &Registry, _request: &Request<B>) -> Response<Full<Bytes>> {
    let mut text = String::new();
    let (status, body) = match encode_registry(&mut text, registry) {
        Ok(()) => (200, text),
        Err(_) => (500, "cannot encode metrics\n".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(CONTENT_TYPE),
    );
    response
}
