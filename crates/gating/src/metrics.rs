//! Counters of gating decisions (spec §7 Metering, §13).

/// A snapshot of the gate's counters, read with [`Behaviour::metrics`](crate::Behaviour::metrics).
///
/// The node exports these as op-node's `p2p_dials{allow}`, `p2p_accepts{allow}`,
/// `p2p_peer_unbans` and `p2p_ip_unbans`. Dials are decisions on our outbound connections
/// (before dialling and once established: op-node's `RecordDial` hooks), accepts are decisions on
/// inbound ones (on the remote address, then on the authenticated peer: op-node's `RecordAccept`
/// hooks), so one connection can be counted twice, as in op-node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Outbound checks that allowed the dial or connection.
    pub dials_allowed: u64,
    /// Outbound checks that denied the dial or connection.
    pub dials_denied: u64,
    /// Inbound checks that allowed the connection.
    pub accepts_allowed: u64,
    /// Inbound checks that denied the connection.
    pub accepts_denied: u64,
    /// Timed peer bans lifted because they expired, and [`unblock_peer`] calls (op-node counts
    /// every `UnblockPeer`, the RPC's `opp2p_unblockPeer` and `opp2p_disconnectPeer`).
    ///
    /// [`unblock_peer`]: crate::Behaviour::unblock_peer
    pub peer_unbans: u64,
    /// Timed IP bans lifted because they expired.
    pub ip_unbans: u64,
}
