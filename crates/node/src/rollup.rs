//! Reading `--rollup.config`: op-node's rollup.json, the P2P subset the types crate parses plus
//! the L2 genesis block hash, where the node's unsafe chain starts.
//!
//! This file is also compiled on its own into the `rollup_config` fuzz target (`fuzz/`, with
//! `#[path]`, so fuzzing needs neither this binary crate nor RocksDB): outside its tests it
//! uses only external crates, never `crate::` paths.

use std::{path::Path, str::FromStr as _};

use op_p2p_types::{B256, RollupConfig, RollupConfigError};
use serde_json::Value;

use op_p2p_types::BlockRef;

/// Why the rollup config is unusable.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RollupError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It does not parse, or fails the types crate's checks.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        source: RollupConfigError,
    },
    /// `genesis.l2.hash` is there but not a 32-byte hex hash.
    #[error("{path}: genesis.l2.hash {value:?} is not a 32-byte hex hash")]
    GenesisHash {
        /// The file.
        path: String,
        /// The value found.
        value: String,
    },
}

/// A chain as the node runs it: the rollup config and its L2 genesis block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chain {
    /// The rollup config.
    pub(crate) rollup: RollupConfig,
    /// The L2 genesis block (number, `genesis.l2.hash`, `genesis.l2_time`): the unsafe head of
    /// a node with no blocks yet, so a gap back to genesis is recognised.
    pub(crate) genesis: BlockRef,
}

impl Chain {
    /// Reads and checks the rollup config at `path`.
    pub(crate) fn load(path: &Path) -> Result<Self, RollupError> {
        let shown = path.display().to_string();
        let json = std::fs::read_to_string(path).map_err(|source| RollupError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_json(&json).map_err(|e| match e {
            RollupError::Invalid { source, .. } => RollupError::Invalid {
                path: shown.clone(),
                source,
            },
            RollupError::GenesisHash { value, .. } => RollupError::GenesisHash {
                path: shown.clone(),
                value,
            },
            read @ RollupError::Read { .. } => read,
        })
    }

    /// Parses the contents of a rollup.json. A missing `genesis.l2.hash` (a hand-written
    /// config) reads as zero.
    pub(crate) fn from_json(json: &str) -> Result<Self, RollupError> {
        let rollup = RollupConfig::from_json(json).map_err(|source| RollupError::Invalid {
            path: String::new(),
            source,
        })?;
        // `from_json` has parsed this text already, so it is valid JSON.
        let value: Value = serde_json::from_str(json).unwrap_or(Value::Null);
        let hash = match value.pointer("/genesis/l2/hash") {
            None | Some(Value::Null) => B256::ZERO,
            Some(v) => v
                .as_str()
                .and_then(|s| B256::from_str(s).ok())
                .ok_or_else(|| RollupError::GenesisHash {
                    path: String::new(),
                    value: v.to_string(),
                })?,
        };
        let genesis = BlockRef {
            number: rollup.genesis.l2.number,
            hash,
            parent_hash: B256::ZERO,
            timestamp: rollup.genesis.l2_time,
        };
        Ok(Self { rollup, genesis })
    }

    /// The rollup.json text of this chain: the rollup config with `genesis.l2.hash`.
    pub(crate) fn to_json(&self) -> String {
        let mut value = serde_json::to_value(&self.rollup).unwrap_or(Value::Null);
        if let Some(l2) = value
            .pointer_mut("/genesis/l2")
            .and_then(Value::as_object_mut)
        {
            l2.insert("hash".into(), Value::String(self.genesis.hash.to_string()));
        }
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_the_genesis_hash() {
        let chain = Chain {
            rollup: RollupConfig {
                block_time: 2,
                l2_chain_id: 901,
                isthmus_time: Some(0),
                ..Default::default()
            },
            genesis: BlockRef {
                number: 0,
                hash: B256::repeat_byte(7),
                parent_hash: B256::ZERO,
                timestamp: 0,
            },
        };
        assert_eq!(Chain::from_json(&chain.to_json()).unwrap(), chain);
    }

    #[test]
    fn op_node_rollup_json_fields_are_read() {
        let json = r#"{"genesis":{"l1":{"hash":"0x01","number":1},"l2":{"hash":
            "0x0202020202020202020202020202020202020202020202020202020202020202","number":5},
            "l2_time":100,"system_config":{}},"block_time":2,"l2_chain_id":10}"#;
        let chain = Chain::from_json(json).unwrap();
        assert_eq!(chain.genesis.number, 5);
        assert_eq!(chain.genesis.hash, B256::repeat_byte(2));
        assert_eq!(chain.genesis.timestamp, 100);
        let bad = json.replace("0x0202", "0xzz02");
        assert!(matches!(
            Chain::from_json(&bad),
            Err(RollupError::GenesisHash { .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

        /// The operator's rollup.json: arbitrary text and the OP Mainnet file with one edit are
        /// a chain or a typed error, never a panic; a chain that parses writes JSON that parses
        /// back to it.
        #[test]
        fn rollup_json_never_panics_and_round_trips(
            text in ".{0,200}",
            at in proptest::prelude::any::<proptest::sample::Index>(),
            insert in ".{0,6}",
        ) {
            let _ = Chain::from_json(&text);
            let mainnet = include_str!("../testdata/rollup_op_mainnet.json");
            let boundaries: Vec<usize> = mainnet.char_indices().map(|(i, _)| i).collect();
            let at = boundaries[at.index(boundaries.len())];
            for edited in [
                format!("{}{insert}{}", &mainnet[..at], &mainnet[at..]),
                format!("{}{}", &mainnet[..at], &mainnet[at + 1..]),
            ] {
                if let Ok(chain) = Chain::from_json(&edited) {
                    proptest::prop_assert_eq!(Chain::from_json(&chain.to_json()).unwrap(), chain);
                }
            }
        }
    }
}
