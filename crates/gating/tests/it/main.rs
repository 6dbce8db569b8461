//! Integration tests: real swarms over TCP on 127.0.0.1, because the IP rules need real IPs.
#![allow(clippy::unwrap_used)]

mod common;
mod conn_manager;
mod gating;
mod monitor;
mod persistence;
