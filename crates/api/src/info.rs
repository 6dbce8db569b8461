//! What the identify and metadata books hold for a peer.

/// A peer's identify information (libp2p identify's `agentVersion` and `protocolVersion`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentifyInfo {
    /// The peer's software, e.g. `optimism`, bounded by the store (the RocksDB store
    /// keeps at most 1024 bytes).
    pub agent_version: String,
    /// The protocol family it speaks, e.g. `ipfs/0.1.0`, bounded by the store.
    pub protocol_version: String,
}

/// op-node's peer metadata (`PeerMetadata`): what discovery learned about a peer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerMetadata {
    /// The peer's ENR in text form (`enr:…`), bounded by the store (the RocksDB store
    /// keeps at most 1024 bytes).
    pub enr: String,
    /// The OP Stack chain id from the ENR's `opstack` entry (op-node `OPStackID`).
    pub chain_id: u64,
}
