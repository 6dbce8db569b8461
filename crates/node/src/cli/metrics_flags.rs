//! op-node's metrics flags (`op-service/metrics/cli.go`), with its defaults and environment
//! names.

use std::net::IpAddr;

use clap::{ArgAction, Args, builder::BoolishValueParser};

/// `--metrics.*`. The fields carry the `metrics_` prefix because clap ids are field names and
/// must be unique across the flattened groups (`--rpc.addr` is `addr`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Metrics (op-node flags)")]
pub(crate) struct MetricsArgs {
    /// Serve Prometheus metrics (op-node's `op_node_default_*` names) over HTTP.
    #[arg(long = "metrics.enabled", env = "OP_NODE_METRICS_ENABLED",
        action = ArgAction::Set, num_args = 0..=1, require_equals = true,
        default_value = "false", default_missing_value = "true",
        value_parser = BoolishValueParser::new())]
    pub(crate) metrics_enabled: bool,

    /// The metrics listen address.
    #[arg(
        long = "metrics.addr",
        env = "OP_NODE_METRICS_ADDR",
        value_name = "IP",
        default_value = "0.0.0.0"
    )]
    pub(crate) metrics_addr: IpAddr,

    /// The metrics listen port (0: any free port, logged at start).
    #[arg(
        long = "metrics.port",
        env = "OP_NODE_METRICS_PORT",
        value_name = "PORT",
        default_value_t = 7300
    )]
    pub(crate) metrics_port: u16,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use crate::cli::{Cli, Command};

    #[test]
    fn op_node_flags_and_defaults() {
        // Also clap's own checks of the whole command line (unique ids across groups).
        Cli::command().debug_assert();
        let parse = |extra: &[&str]| {
            let mut args = vec!["op-p2p", "node", "--network", "op-mainnet"];
            args.extend(extra);
            match Cli::try_parse_from(args).expect("parses").command {
                Command::Node(node) => node.metrics,
                _ => unreachable!("node command"),
            }
        };
        let defaults = parse(&[]);
        assert!(!defaults.metrics_enabled);
        assert_eq!(defaults.metrics_addr.to_string(), "0.0.0.0");
        assert_eq!(defaults.metrics_port, 7300);
        let set = parse(&[
            "--metrics.enabled",
            "--metrics.addr",
            "127.0.0.1",
            "--metrics.port",
            "9",
        ]);
        assert!(set.metrics_enabled);
        assert_eq!(set.metrics_addr.to_string(), "127.0.0.1");
        assert_eq!(set.metrics_port, 9);
        assert!(!parse(&["--metrics.enabled=false"]).metrics_enabled);
    }
}
