//! Integration tests: the codec against the shared vectors and hostile streams, and real swarms
//! over TCP on 127.0.0.1 for the server and client, all on injected time.
#![allow(clippy::unwrap_used)]

mod alloc;
mod codec;
mod common;
mod not_serving;
mod options;
mod properties;
mod report;
mod server;
mod sync;
