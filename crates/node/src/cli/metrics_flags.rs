//! op-node's metrics flags (`op-service/metrics/cli.go`), with its defaults and environment
//! names.

use std::net::IpAddr;

use clap::{ArgAction, Args, builder::BoolishValueParser};

/// `--metrics.*`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Metrics (op-node flags)")]
pub(crate) struct MetricsArgs {
    /// Serve Prometheus metrics (op-node's `op_node_default_*` names) over HTTP.
    #[arg(long = "metrics.enabled", env = "OP_NODE_METRICS_ENABLED",
        action = ArgAction::Set, num_args = 0..=1, require_equals = true,
        default_value = "false", default_missing_value = "true",
        value_parser = BoolishValueParser::new())]
    pub(crate) enabled: bool,

    /// The metrics listen address.
    #[arg(
        long = "metrics.addr",
        env = "OP_NODE_METRICS_ADDR",
        value_name = "IP",
        default_value = "0.0.0.0"
    )]
    pub(crate) addr: IpAddr,

    /// The metrics listen port (0: any free port, logged at start).
    #[arg(
        long = "metrics.port",
        env = "OP_NODE_METRICS_PORT",
        value_name = "PORT",
        default_value_t = 7300
    )]
    pub(crate) port: u16,
}
