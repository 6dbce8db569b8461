//! Where a server's payloads come from: a trait, so a node can serve from its own store or from
//! an execution client (op-node calls `eth_getBlockByNumber`).

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{Arc, RwLock},
};

use op_p2p_types::ExecutionPayloadEnvelope;

use crate::error::SourceError;

/// The payloads a `payload_by_number` server serves.
///
/// The server calls it only for numbers that passed the range checks (not before genesis, not
/// beyond the wall-clock target block), at most once per admitted request, and abandons the
/// call (drops the future) when the request's 20 s budget runs out.
///
/// # On the swarm task
/// The behaviour polls the returned future from its `poll`, on the task that drives the swarm,
/// so the future must never block: a read from disk or a database runs on a blocking thread
/// (`tokio::task::spawn_blocking`, as the node's RocksDB payload store does) or is truly
/// asynchronous (an RPC to an execution client). A slow source then delays only its own
/// responses; a test runs a source taking 500 ms per read next to gossip and sees no effect on
/// gossip latency.
pub trait PayloadSource: Send + Sync + 'static {
    /// The payload of block `number`: `Ok(None)` if this node does not have it (answered with
    /// code 1, "not found"), `Err` for anything else (code 3).
    ///
    /// Any block the source knows may be served, unsafe ones included, as op-node does.
    fn payload_by_number(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<ExecutionPayloadEnvelope>, SourceError>> + Send;
}

/// A shared source: several servers (or a server and the node) can serve one store.
impl<T: PayloadSource> PayloadSource for Arc<T> {
    fn payload_by_number(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<ExecutionPayloadEnvelope>, SourceError>> + Send {
        (**self).payload_by_number(number)
    }
}

/// No payloads: a [`Behaviour`](crate::Behaviour) built with it and no source only requests
/// (op-node registers its server only when it has an L2 data source).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSource;

impl PayloadSource for NoSource {
    async fn payload_by_number(
        &self,
        _: u64,
    ) -> Result<Option<ExecutionPayloadEnvelope>, SourceError> {
        Ok(None)
    }
}

/// Payloads held in memory, keyed by block number; for tests, benches and devnets.
#[derive(Debug, Default)]
pub struct MemorySource {
    payloads: RwLock<BTreeMap<u64, ExecutionPayloadEnvelope>>,
}

impl MemorySource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the payload at its block number.
    pub fn insert(&self, envelope: ExecutionPayloadEnvelope) {
        let number = envelope.execution_payload.block_number;
        self.write().insert(number, envelope);
    }

    /// How many payloads are held.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no payloads are held.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u64, ExecutionPayloadEnvelope>> {
        // A map is consistent after any panic: every update is a single insert.
        self.payloads
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u64, ExecutionPayloadEnvelope>> {
        self.payloads
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl FromIterator<ExecutionPayloadEnvelope> for MemorySource {
    fn from_iter<I: IntoIterator<Item = ExecutionPayloadEnvelope>>(iter: I) -> Self {
        let source = Self::new();
        for envelope in iter {
            source.insert(envelope);
        }
        source
    }
}

impl PayloadSource for MemorySource {
    async fn payload_by_number(
        &self,
        number: u64,
    ) -> Result<Option<ExecutionPayloadEnvelope>, SourceError> {
        Ok(self.read().get(&number).cloned())
    }
}
