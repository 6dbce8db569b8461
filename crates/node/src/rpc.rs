//! The operator RPC: op-node's `opp2p_*` JSON-RPC namespace and `/healthz`, on one port
//! (`--rpc.addr`, `--rpc.port`), HTTP and WebSocket (jsonrpsee).
//!
//! - [`api`]: the 17 methods, registered on a jsonrpsee `RpcModule`;
//! - [`params`]: positional parameters with geth's error codes and messages;
//! - [`types`]: the result types, field for field as op-node's JSON;
//! - [`swarm_side`]: what the swarm task answers ([`Request`]s sent through the
//!   [`NodeHandle`], one oneshot reply each; nothing on the swarm task
//!   waits, and peer-store reads run on tokio's blocking pool);
//! - [`healthz`]: the `/healthz` route in front of jsonrpsee;
//! - [`admin`]: `admin_postUnsafePayload`, with `--rpc.enable-admin` (op-node's flag), over
//!   [`payload_json`], the Engine API JSON envelope.
//!
//! # Where this differs from op-node
//! - **`--rpc.addr` defaults to 127.0.0.1** (op-node: 0.0.0.0, with a TODO to switch to
//!   127.0.0.1): the `opp2p_*` methods can block peers and dial, and op-node serves them without
//!   authentication.
//! - **WebSocket is served on the same port** (op-node's main RPC is HTTP only).
//! - **Connections and batches are bounded**: at most [`MAX_CONNECTIONS`] connections and
//!   [`MAX_BATCH`] calls per batch (op-node: unbounded). The body limit is geth's 5 MiB.
//! - **Blocking a peer, IP or subnet closes its live connections** (op-node's gater only refuses
//!   new ones): issue 12 asks for it, and the gating behaviour does it for every block.
//! - **Subnet masks are checked**: a mask that is not 4 or 16 bytes of contiguous ones is
//!   `invalid request` (op-node stores any mask).
//! - `opp2p_self.protocols` is `null` (rust-libp2p does not list the local protocols), and
//!   `opp2p_disconnectPeer` forgets the peer's addresses but keeps its identify record.

mod admin;
mod api;
mod healthz;
mod params;
mod payload_json;
mod swarm_side;
mod types;

use std::{net::SocketAddr, sync::Arc};

use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use libp2p_identity::PublicKey;
use op_p2p_peerstore::Books;
use tracing::{info, warn};

pub(crate) use self::{
    admin::AdminParts,
    api::{Backend, DiscoveryTable},
    swarm_side::{Request, SwarmSide},
};
use crate::handle::NodeHandle;

/// op-node's RPC port (`rpc.port`).
pub(crate) const DEFAULT_RPC_PORT: u16 = 9545;
/// geth's request body limit (`defaultBodyLimit`, 5 MiB); larger bodies get HTTP 413.
pub(crate) const MAX_REQUEST_BODY: u32 = 5 * 1024 * 1024;
/// The largest response: `opp2p_peers(false)` of a peer store with thousands of peers fits.
pub(crate) const MAX_RESPONSE_BODY: u32 = 16 * 1024 * 1024;
/// Concurrent HTTP and WebSocket connections (jsonrpsee's default); more are refused.
pub(crate) const MAX_CONNECTIONS: u32 = 100;
/// Calls in one batch.
pub(crate) const MAX_BATCH: u32 = 100;

/// The tracing target of the RPC server.
const TARGET: &str = "op_p2p::rpc";

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
#[error("--rpc.addr/--rpc.port: cannot serve the RPC on {addr}: {source}")]
pub(crate) struct RpcError {
    /// The address.
    addr: SocketAddr,
    /// Why.
    source: std::io::Error,
}

impl RpcError {
    /// `addr` cannot be served.
    pub(crate) fn new(addr: SocketAddr, source: std::io::Error) -> Self {
        Self { addr, source }
    }
}

/// What the methods work with.
#[derive(Debug)]
pub(crate) struct Parts {
    /// The swarm task.
    pub(crate) handle: NodeHandle,
    /// The peer store's books (read off the swarm task).
    pub(crate) books: Books,
    /// Our public key (for `opp2p_self`'s node id).
    pub(crate) local_key: PublicKey,
    /// Our identify agent.
    pub(crate) user_agent: String,
    /// The discv5 table, when discovery runs; `None` answers op-node's `discovery disabled`.
    pub(crate) discovery: Option<Arc<dyn DiscoveryTable>>,
    /// The `admin` namespace, with `--rpc.enable-admin`.
    pub(crate) admin: Option<AdminParts>,
}

/// Binds `addr` and serves the RPC until the returned handle is stopped; returns the bound
/// address too (`--rpc.port 0` picks a free port).
pub(crate) async fn serve(
    addr: SocketAddr,
    mut parts: Parts,
) -> Result<(SocketAddr, ServerHandle), RpcError> {
    let config = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BODY)
        .max_response_body_size(MAX_RESPONSE_BODY)
        .max_connections(MAX_CONNECTIONS)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH))
        .build();
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(
            tower::ServiceBuilder::new().layer(healthz::HealthzLayer::new(&healthz::app_version())),
        )
        .build(addr)
        .await
        .map_err(|source| RpcError { addr, source })?;
    let bound = server
        .local_addr()
        .map_err(|source| RpcError { addr, source })?;
    let admin = parts.admin.take().map(admin::module);
    let mut module = api::module(Backend::new(parts));
    let namespaces = if let Some(admin) = admin {
        // Distinct names: `admin_*` against `opp2p_*`.
        module
            .merge(admin)
            .map_err(|e| RpcError::new(addr, std::io::Error::other(e.to_string())))?;
        "opp2p_*, admin_*"
    } else {
        "opp2p_*"
    };
    let handle = server.start(module);
    info!(target: TARGET, addr = %bound, namespaces, "RPC server listening (HTTP and WebSocket, /healthz)");
    if !bound.ip().is_loopback() {
        // op-node serves the same methods unauthenticated on 0.0.0.0 by default; say so once.
        warn!(
            target: TARGET,
            addr = %bound,
            "the opp2p_* RPC is reachable beyond this host and has no authentication: anyone \
             who can connect can block peers and dial"
        );
    }
    Ok((bound, handle))
}
