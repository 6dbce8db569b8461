//! `op-p2p node`'s RPC flags: op-node's `rpc.addr` and `rpc.port` with their `OP_NODE_RPC_*`
//! environment variables.

use std::net::IpAddr;

use clap::Args;

use crate::rpc::DEFAULT_RPC_PORT;

/// Where the operator RPC (`opp2p_*`, `/healthz`) listens.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "RPC (op-node flags)")]
pub(crate) struct RpcArgs {
    /// RPC listening address, HTTP and WebSocket. Defaults to 127.0.0.1 where op-node's
    /// default is 0.0.0.0: the opp2p_* methods block peers and dial, without authentication.
    #[arg(
        long = "rpc.addr",
        env = "OP_NODE_RPC_ADDR",
        value_name = "IP",
        default_value = "127.0.0.1"
    )]
    pub(crate) addr: IpAddr,

    /// RPC listening port (0: any free port, logged at start).
    #[arg(long = "rpc.port", env = "OP_NODE_RPC_PORT", value_name = "PORT",
        default_value_t = DEFAULT_RPC_PORT)]
    pub(crate) port: u16,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        rpc: RpcArgs,
    }

    #[test]
    fn op_nodes_names_and_port_with_a_loopback_default() {
        let command = Wrapper::command();
        let env = |long: &str| {
            command
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .and_then(|a| a.get_env())
                .and_then(|e| e.to_str())
                .map(str::to_owned)
        };
        assert_eq!(env("rpc.addr").as_deref(), Some("OP_NODE_RPC_ADDR"));
        assert_eq!(env("rpc.port").as_deref(), Some("OP_NODE_RPC_PORT"));
        let parsed = Wrapper::try_parse_from(["node"]).unwrap();
        assert_eq!(parsed.rpc.addr, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(parsed.rpc.port, 9545);
        let parsed =
            Wrapper::try_parse_from(["node", "--rpc.addr", "0.0.0.0", "--rpc.port", "0"]).unwrap();
        assert_eq!(parsed.rpc.addr, IpAddr::from([0, 0, 0, 0]));
        assert_eq!(parsed.rpc.port, 0);
        assert!(Wrapper::try_parse_from(["node", "--rpc.addr", "localhost:1"]).is_err());
    }
}
