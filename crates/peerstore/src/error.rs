//! Why a store operation failed, and why a stored record did not decode.

use libp2p_identity::PeerId;

/// A peer store operation that failed.
///
/// Records that fail to decode are not errors: they are logged, counted
/// ([`PeerStore::decode_failures`](crate::PeerStore::decode_failures)) and skipped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// RocksDB failed (I/O, a lock held by another process, corruption RocksDB itself detects).
    #[error("rocksdb: {0}")]
    RocksDb(#[from] rocksdb::Error),
    /// The store was written with a schema version this build does not read. Version 0 means
    /// the database has records but no version at all: it is not a peer store.
    #[error("peer store schema version {found}, this build reads version {expected}")]
    IncompatibleSchema {
        /// The version in the store's `meta` column family.
        found: u32,
        /// The version this build reads and writes.
        expected: u32,
    },
    /// The schema version record exists but is not a 4-byte little-endian integer.
    #[error("schema version record is {len} bytes, expected 4")]
    CorruptSchemaVersion {
        /// Its length.
        len: usize,
    },
    /// A column family the schema requires is missing from the open database; cannot happen
    /// after a successful open.
    #[error("column family {0} is missing")]
    MissingColumnFamily(&'static str),
    /// An extra column family (see
    /// [`Config::with_extra_column_families`](crate::Config::with_extra_column_families)) has a
    /// name the store uses for its own books, or RocksDB's `default`.
    #[error("column family name {0:?} is reserved by the peer store")]
    ReservedColumnFamily(String),
    /// The writer thread of [`Books`](crate::Books) could not be started.
    #[error("starting the peer store writer thread: {0}")]
    Thread(#[source] std::io::Error),
    /// A value to store is larger than its record format allows.
    #[error("{what}: {len} exceeds the limit of {max}")]
    LimitExceeded {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A public key stored for a peer does not hash to that peer's id.
    #[error("public key belongs to {key_peer}, not to the peer it was stored for")]
    KeyMismatch {
        /// The peer the key belongs to (boxed: a `PeerId` is 80 bytes, and every result of
        /// the store carries this error type).
        key_peer: Box<PeerId>,
    },
}

/// A stored key or value that does not decode: reported, counted and skipped, never returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RecordError {
    /// The value is empty: no format version byte.
    #[error("empty value")]
    Empty,
    /// The format version byte is not one this build reads.
    #[error("unknown record format version {0}")]
    UnknownVersion(u8),
    /// The value ends inside a field.
    #[error("truncated: needed {needed} more bytes, {left} left")]
    Truncated {
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes left.
        left: usize,
    },
    /// Bytes remain after the last field.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// A text field is not UTF-8.
    #[error("text field is not UTF-8")]
    InvalidUtf8,
    /// A list or text field is longer than the record format allows.
    #[error("{what}: {len} exceeds the limit of {max}")]
    LimitExceeded {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A stored multiaddr does not parse.
    #[error("invalid multiaddr")]
    InvalidMultiaddr,
    /// A stored public key does not decode (or is of a key type this build lacks).
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A stored public key does not hash to the peer it is stored under.
    #[error("public key does not match the peer id")]
    KeyMismatch,
    /// A key is not a valid peer id.
    #[error("key is not a peer id")]
    InvalidPeerId,
    /// An IP key is not 16 bytes.
    #[error("IP key is {0} bytes, expected 16")]
    InvalidIp(usize),
    /// A subnet key is not 17 bytes or its prefix length is out of range.
    #[error("invalid subnet key")]
    InvalidSubnet,
}
