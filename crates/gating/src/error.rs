//! Errors of the gating and connection-manager APIs (denials are [`Denied`](crate::Denied)).

/// An operation on the gating or connection-manager state that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The [`GateStore`](op_p2p_api::GateStore) failed to load or persist a block or ban. For
    /// blocks and bans the new rule is already in force in memory when this is returned (the
    /// gate fails closed); it is just not persisted. For unblocks and unbans nothing changed.
    #[error("gate store: {0}")]
    Store(#[from] op_p2p_api::Error),
    /// The connection manager's water marks are invalid: op-node's `Config.Check` requires both
    /// to be non-zero with low ≤ high.
    #[error(
        "invalid connection-manager water marks: low {low}, high {high} (need 0 < low <= high)"
    )]
    InvalidWaterMarks {
        /// The configured low water mark.
        low: usize,
        /// The configured high water mark.
        high: usize,
    },
}
