//! The one error a storage trait returns.

/// A storage operation behind one of this crate's traits failed.
///
/// The traits are implemented by other crates (RocksDB in `op-p2p-peerstore`), so the cause is
/// carried as a boxed error; callers log it, count it, or fail closed, and never need to match
/// on the engine's own error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage engine failed (I/O, a full disk, a value over a record limit).
    #[error("storage: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    /// Wraps an engine's error.
    pub fn storage(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Storage(Box::new(error))
    }
}
