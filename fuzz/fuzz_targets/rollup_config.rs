//! The operator's `--rollup.config` file (op-node's `rollup.json`).
//!
//! Input: the file's bytes. Runs the types crate's parser (`RollupConfig::from_json`) and the
//! node's (`Chain::from_json`, which also reads `genesis.l2.hash`), compiled here from the
//! node's own source file so this target needs neither the node binary crate nor RocksDB. A
//! parsed config must serialize back to JSON that parses to the same value, and its schedule
//! arithmetic must not panic at any timestamp.
#![no_main]

use libfuzzer_sys::fuzz_target;
use op_p2p_types::{Hardfork, RollupConfig};

/// The node's rollup.json reader, exactly as the node binary compiles it.
#[allow(dead_code, unreachable_pub)]
#[path = "../../crates/node/src/rollup.rs"]
mod rollup;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(config) = RollupConfig::from_json(text) {
        let json = serde_json::to_string(&config).expect("a parsed config serializes");
        assert_eq!(RollupConfig::from_json(&json).expect("re-parses"), config);
        for timestamp in [0, 1, config.genesis.l2_time, u64::MAX] {
            let _ = config.payload_version(timestamp);
            let _ = config.blocks_topic(timestamp);
            let _ = config.target_block_number(timestamp);
            let _ = config.timestamp_for_block(timestamp);
            for fork in Hardfork::ALL {
                let _ = config.is_active(fork, timestamp);
            }
        }
    }
    if let Ok(chain) = rollup::Chain::from_json(text) {
        assert_eq!(
            rollup::Chain::from_json(&chain.to_json()).expect("re-parses"),
            chain
        );
    }
});
