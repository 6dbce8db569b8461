//! `op-p2p node`'s remote-signer flags: op-node's `signer.*` (`op-service/signer/cli.go`,
//! `op-service/tls/cli.go`) with their `OP_NODE_SIGNER_*` environment variables, plus the
//! admin-RPC and sequencer switches op-node has outside the P2P group.

use std::{path::PathBuf, time::Duration};

use clap::{ArgAction, Args, builder::BoolishValueParser};
use op_p2p_types::Address;

use crate::duration::parse_go_duration;

/// A remote block signer (op-signer) instead of `p2p.sequencer.key`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Remote signer (op-node flags)")]
pub(crate) struct SignerArgs {
    /// op-signer's JSON-RPC endpoint (http:// or https://). With --signer.address, blocks are
    /// signed there instead of with --p2p.sequencer.key.
    #[arg(
        long = "signer.endpoint",
        env = "OP_NODE_SIGNER_ENDPOINT",
        value_name = "URL"
    )]
    pub(crate) endpoint: Option<String>,

    /// The address the remote signer signs for; every signature it returns must recover to
    /// it, or the block is not published.
    #[arg(
        long = "signer.address",
        env = "OP_NODE_SIGNER_ADDRESS",
        value_name = "ADDR"
    )]
    pub(crate) address: Option<Address>,

    /// An HTTP header for the signer, `key=value`; repeat the flag for more (the environment
    /// variable takes them comma separated).
    #[arg(
        long = "signer.header",
        env = "OP_NODE_SIGNER_HEADER",
        value_name = "KEY=VALUE",
        value_delimiter = ',',
        action = ArgAction::Append,
        hide_env_values = true
    )]
    pub(crate) headers: Vec<String>,

    /// Mutual TLS with an https:// endpoint: trust --signer.tls.ca and present
    /// --signer.tls.cert/--signer.tls.key.
    #[arg(long = "signer.tls.enabled", env = "OP_NODE_SIGNER_TLS_ENABLED",
        action = ArgAction::Set, num_args = 0..=1, require_equals = true,
        default_value = "true", default_missing_value = "true",
        value_parser = BoolishValueParser::new())]
    pub(crate) tls_enabled: bool,

    /// The CA certificate (PEM) the signer's server certificate must chain to.
    #[arg(
        long = "signer.tls.ca",
        env = "OP_NODE_SIGNER_TLS_CA",
        value_name = "PATH",
        default_value = "tls/ca.crt"
    )]
    pub(crate) tls_ca: PathBuf,

    /// The client certificate (PEM) presented to the signer.
    #[arg(
        long = "signer.tls.cert",
        env = "OP_NODE_SIGNER_TLS_CERT",
        value_name = "PATH",
        default_value = "tls/tls.crt"
    )]
    pub(crate) tls_cert: PathBuf,

    /// The client certificate's private key (PEM).
    #[arg(
        long = "signer.tls.key",
        env = "OP_NODE_SIGNER_TLS_KEY",
        value_name = "PATH",
        default_value = "tls/tls.key"
    )]
    pub(crate) tls_key: PathBuf,

    /// op-p2p: how long one signing request may take before the block is given up
    /// (op-node bounds it by the caller's context).
    #[arg(long = "signer.timeout", value_name = "DURATION", default_value = "5s",
        value_parser = parse_go_duration)]
    pub(crate) timeout: Duration,

    /// op-p2p: sign with `opsigner_signBlockPayloadV2` (hex domain, decimal chain id) instead
    /// of op-node's `opsigner_signBlockPayload`.
    #[arg(long = "signer.v2")]
    pub(crate) v2: bool,

    /// Serve the `admin_*` namespace (admin_postUnsafePayload) on the RPC.
    #[arg(long = "rpc.enable-admin", env = "OP_NODE_RPC_ENABLE_ADMIN",
        action = ArgAction::Set, num_args = 0..=1, require_equals = true,
        default_value = "false", default_missing_value = "true",
        value_parser = BoolishValueParser::new())]
    pub(crate) enable_admin: bool,

    /// Hold the block signer but build no blocks: blocks are only published through
    /// admin_postUnsafePayload (op-node's flag of the same name starts the sequencer stopped).
    #[arg(long = "sequencer.stopped", env = "OP_NODE_SEQUENCER_STOPPED",
        action = ArgAction::Set, num_args = 0..=1, require_equals = true,
        default_value = "false", default_missing_value = "true",
        value_parser = BoolishValueParser::new())]
    pub(crate) sequencer_stopped: bool,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        signer: SignerArgs,
    }

    #[test]
    fn op_nodes_names_environment_and_defaults() {
        let command = Wrapper::command();
        let env = |long: &str| {
            command
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .and_then(|a| a.get_env())
                .and_then(|e| e.to_str())
                .map(str::to_owned)
        };
        for (flag, var) in [
            ("signer.endpoint", "OP_NODE_SIGNER_ENDPOINT"),
            ("signer.address", "OP_NODE_SIGNER_ADDRESS"),
            ("signer.header", "OP_NODE_SIGNER_HEADER"),
            ("signer.tls.enabled", "OP_NODE_SIGNER_TLS_ENABLED"),
            ("signer.tls.ca", "OP_NODE_SIGNER_TLS_CA"),
            ("signer.tls.cert", "OP_NODE_SIGNER_TLS_CERT"),
            ("signer.tls.key", "OP_NODE_SIGNER_TLS_KEY"),
            ("rpc.enable-admin", "OP_NODE_RPC_ENABLE_ADMIN"),
        ] {
            assert_eq!(env(flag).as_deref(), Some(var), "{flag}");
        }
        let parsed = Wrapper::try_parse_from(["node"]).unwrap().signer;
        assert!(parsed.endpoint.is_none() && parsed.address.is_none());
        assert!(parsed.tls_enabled);
        assert_eq!(parsed.tls_ca, PathBuf::from("tls/ca.crt"));
        assert_eq!(parsed.tls_cert, PathBuf::from("tls/tls.crt"));
        assert_eq!(parsed.tls_key, PathBuf::from("tls/tls.key"));
        assert!(!parsed.enable_admin && !parsed.sequencer_stopped && !parsed.v2);
        let parsed = Wrapper::try_parse_from([
            "node",
            "--signer.header",
            "a=1",
            "--signer.header",
            "b=2",
            "--signer.tls.enabled=false",
            "--rpc.enable-admin",
        ])
        .unwrap()
        .signer;
        assert_eq!(parsed.headers, ["a=1", "b=2"]);
        assert!(!parsed.tls_enabled);
        assert!(parsed.enable_admin);
    }
}
