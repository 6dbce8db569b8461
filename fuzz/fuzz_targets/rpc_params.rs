//! Positional parameters of the operator RPC's `opp2p_*` methods, as a client sends them.
//!
//! Input: one byte choosing the method's arity (0–3), then the JSON text of `params`. Runs the
//! node's parameter parsers (`crates/node/src/rpc/params.rs`, compiled here from the node's own
//! source file so this target needs neither the node binary crate nor RocksDB) on every argument
//! position: each returns a value or a geth-style error object, never a panic. An accepted
//! subnet has its host bits cleared.
#![no_main]

use jsonrpsee::types::Params;
use libfuzzer_sys::fuzz_target;

/// The node's parameter parsers, exactly as the node binary compiles them.
#[allow(dead_code, unreachable_pub)]
#[path = "../../crates/node/src/rpc/params.rs"]
mod params;

fuzz_target!(|input: &[u8]| {
    let Some((&arity, rest)) = input.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let max = usize::from(arity % 4);
    let raw = Params::new(Some(text));
    let Ok(args) = params::Args::parse(&raw, max) else {
        return;
    };
    for index in 0..=max {
        let _ = params::boolean(&args, index);
        let _ = params::peer_id(&args, index);
        let _ = params::ip(&args, index);
        if let Ok(net) = params::subnet(&args, index) {
            assert_eq!(net, net.trunc(), "host bits survived");
        }
        let _ = params::peer_addr(&args, index);
    }
});
