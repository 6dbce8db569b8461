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
