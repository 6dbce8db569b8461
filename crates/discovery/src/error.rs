//! The crate's one error type.

/// Why discovery could not start, or a bootnode did not parse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node key is not secp256k1 (op-node's only key type; the ENR needs it).
    #[error("the node key must be secp256k1")]
    KeyType,
    /// A bootnode is neither an ENR (`enr:…`) nor an enode URL (`enode://…`).
    #[error("bootnode {text:?}: {reason}")]
    Bootnode {
        /// The text given (shortened).
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The local ENR could not be built or signed.
    #[error("local ENR: {0}")]
    LocalEnr(String),
    /// No TCP port for the local ENR (op-node: "no TCP port to put in ENR").
    #[error("no TCP port to put in the local ENR")]
    NoTcpPort,
    /// The UDP socket could not be bound.
    #[error("discv5 UDP socket {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// discv5 refused to start.
    #[error("discv5: {0}")]
    Discv5(String),
    /// The discovery table could not be loaded.
    #[error("discovery table: {0}")]
    Table(#[from] op_p2p_api::Error),
}
