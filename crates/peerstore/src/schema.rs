//! The on-disk layout: one column family per book, plus `meta` for the schema version.

/// The schema version this build reads and writes, stored little-endian under
/// `schema_version` in the `meta` column family. It changes when column families or key formats
/// change incompatibly; value formats evolve through each record's own version byte instead.
pub const SCHEMA_VERSION: u32 = 1;

/// The column family holding the schema version.
pub(crate) const META_CF: &str = "meta";
/// The schema version's key in [`META_CF`].
pub(crate) const SCHEMA_VERSION_KEY: &[u8] = b"schema_version";

/// One book: a column family with one key and record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Book {
    /// Peer → addresses with expiries.
    Addrs,
    /// Peer → public key.
    Keys,
    /// Peer → supported protocols.
    Protocols,
    /// Peer → identify information.
    Identify,
    /// Peer → op-node metadata (ENR, chain id).
    Metadata,
    /// Peer → gossip and application scores.
    Scores,
    /// Peer → ban expiry.
    PeerBans,
    /// IP → ban expiry.
    IpBans,
    /// Permanently blocked peers.
    BlockedPeers,
    /// Permanently blocked IPs.
    BlockedIps,
    /// Permanently blocked subnets.
    BlockedSubnets,
}

impl Book {
    /// Every book, in column-family creation order.
    pub(crate) const ALL: [Self; 11] = [
        Self::Addrs,
        Self::Keys,
        Self::Protocols,
        Self::Identify,
        Self::Metadata,
        Self::Scores,
        Self::PeerBans,
        Self::IpBans,
        Self::BlockedPeers,
        Self::BlockedIps,
        Self::BlockedSubnets,
    ];

    /// The books GC visits, in the order it visits them; the permanent block lists never
    /// expire.
    pub(crate) const EXPIRING: [Self; 8] = [
        Self::Addrs,
        Self::Keys,
        Self::Protocols,
        Self::Identify,
        Self::Metadata,
        Self::Scores,
        Self::PeerBans,
        Self::IpBans,
    ];

    /// The column family's name (part of the on-disk format).
    pub(crate) const fn cf_name(self) -> &'static str {
        match self {
            Self::Addrs => "addrs",
            Self::Keys => "keys",
            Self::Protocols => "protocols",
            Self::Identify => "identify",
            Self::Metadata => "metadata",
            Self::Scores => "scores",
            Self::PeerBans => "peer_bans",
            Self::IpBans => "ip_bans",
            Self::BlockedPeers => "blocked_peers",
            Self::BlockedIps => "blocked_ips",
            Self::BlockedSubnets => "blocked_subnets",
        }
    }
}
