//! Logs: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), structured fields.

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is unset or does not parse.
pub(crate) const DEFAULT_FILTER: &str = "info";

/// Installs the subscriber; a second call (tests) does nothing.
pub(crate) fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
