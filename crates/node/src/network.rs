//! `--network <name>`: the built-in chains, so that `op-p2p node --network op-mainnet` needs
//! no rollup.json (op-node's `--network`, `OP_NODE_NETWORK`).
//!
//! A preset is what a rollup.json would give this node (chain id, L2 genesis, block time,
//! every hardfork time the rollup config models), plus the chain's unsafe block signer and
//! op-node's default bootnodes. The data is checked in ([`presets`], [`bootnodes`]), each value
//! with the registry commit and file it came from: node configuration, so it lives here and
//! not in a protocol crate.
//!
//! Names are op-node's (`chaincfg.AvailableNetworks`: the registry's `<chain>-<superchain>`),
//! matched case-insensitively, with op-node's legacy aliases `mainnet` and `sepolia`.

mod bootnodes;
mod presets;

use op_p2p_types::{Address, B256, BlockRef, RollupConfig};

use crate::rollup::Chain;

/// Where a preset's values come from: a file of `github.com/ethereum-optimism/superchain-registry`
/// at a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Source {
    /// The registry commit.
    pub(crate) commit: &'static str,
    /// The chain's TOML file in it.
    pub(crate) path: &'static str,
}

/// One built-in network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetworkPreset {
    /// op-node's `--network` name, e.g. `op-mainnet`.
    pub(crate) name: &'static str,
    /// The registry's display name, e.g. `OP Mainnet`.
    pub(crate) chain_name: &'static str,
    /// Where the values come from.
    pub(crate) source: Source,
    /// Chain id, L2 genesis number and time, block time, hardfork times.
    pub(crate) rollup: RollupConfig,
    /// The L2 genesis block hash (`genesis.l2.hash`).
    pub(crate) genesis_hash: B256,
    /// The unsafe block signer the registry lists (`addresses.json`, `UnsafeBlockSigner`).
    /// op-node reads the live value from the L1 SystemConfig; a chain that rotates its signer
    /// after the registry commit needs `--p2p.unsafe-block-signer`, which overrides this.
    pub(crate) unsafe_block_signer: Address,
}

impl NetworkPreset {
    /// The chain as `--rollup.config` would load it: the same [`Chain`] a rollup.json with
    /// these values gives.
    pub(crate) fn chain(&self) -> Chain {
        Chain {
            rollup: self.rollup.clone(),
            genesis: BlockRef {
                number: self.rollup.genesis.l2.number,
                hash: self.genesis_hash,
                parent_hash: B256::ZERO,
                timestamp: self.rollup.genesis.l2_time,
            },
        }
    }

    /// The discv5 bootnodes of this network, as enode URLs and ENR texts: op-node's
    /// [`default_bootnodes`], the one list it has for every OP network.
    pub(crate) fn bootnodes(&self) -> &'static [&'static str] {
        default_bootnodes()
    }
}

/// op-node's `DefaultBootnodes`, as enode URLs and ENR texts (parsing them is discovery's
/// job). op-node uses them whenever `p2p.bootnodes` is empty, whether the chain came from
/// `--network` or from `--rollup.config` (`loadDiscoveryOpts`); this node uses them only with
/// `--network` (see `NodeConfig::from_args`).
pub(crate) fn default_bootnodes() -> &'static [&'static str] {
    &bootnodes::OP_NODE_BOOTNODES
}

/// Every preset.
pub(crate) fn all() -> &'static [NetworkPreset] {
    &presets::ALL
}

/// The preset op-node would pick for `--network name`: case-insensitive, `mainnet` and
/// `sepolia` meaning `op-mainnet` and `op-sepolia` (op-node's `handleLegacyName`).
pub(crate) fn find(name: &str) -> Option<&'static NetworkPreset> {
    let name = name.trim();
    let name = match name {
        "mainnet" => "op-mainnet",
        "sepolia" => "op-sepolia",
        other => other,
    };
    all().iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The names `--network` accepts, comma separated (for error messages).
pub(crate) fn names() -> String {
    all().iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

/// clap's parser of `--network`.
pub(crate) fn parse(name: &str) -> Result<&'static NetworkPreset, String> {
    find(name).ok_or_else(|| format!("unknown network {name:?}; known: {}", names()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use alloy_primitives::{address, b256};
    use op_p2p_types::Hardfork;

    use super::*;

    /// Values typed from the registry files (not copied from the presets), so a wrong preset
    /// fails here: chain id, genesis number and hash, genesis time, block time, Ecotone,
    /// Isthmus and Jovian times, signer.
    struct Pinned {
        name: &'static str,
        chain_id: u64,
        genesis_number: u64,
        genesis_hash: B256,
        genesis_time: u64,
        block_time: u64,
        ecotone: u64,
        isthmus: u64,
        jovian: u64,
        signer: Address,
    }

    fn check(pinned: &Pinned) {
        let p = find(pinned.name).unwrap();
        let r = &p.rollup;
        assert_eq!(r.l2_chain_id, pinned.chain_id, "{}", pinned.name);
        assert_eq!(
            r.genesis.l2.number, pinned.genesis_number,
            "{}",
            pinned.name
        );
        assert_eq!(p.genesis_hash, pinned.genesis_hash, "{}", pinned.name);
        assert_eq!(r.genesis.l2_time, pinned.genesis_time, "{}", pinned.name);
        assert_eq!(r.block_time, pinned.block_time, "{}", pinned.name);
        assert_eq!(r.ecotone_time, Some(pinned.ecotone), "{}", pinned.name);
        assert_eq!(r.isthmus_time, Some(pinned.isthmus), "{}", pinned.name);
        assert_eq!(r.jovian_time, Some(pinned.jovian), "{}", pinned.name);
        assert_eq!(p.unsafe_block_signer, pinned.signer, "{}", pinned.name);
    }

    #[test]
    fn op_mainnet_is_pinned() {
        // superchain/configs/mainnet/op.toml, addresses.json "10" @ 8336d2ae.
        check(&Pinned {
            name: "op-mainnet",
            chain_id: 10,
            genesis_number: 105235063,
            genesis_hash: b256!(
                "0xdbf6a80fef073de06add9b0d14026d6e5a86c85f6d102c36d3d8e9cf89c2afd3"
            ),
            genesis_time: 1686068903,
            block_time: 2,
            ecotone: 1710374401,
            isthmus: 1746806401,
            jovian: 1764691201,
            signer: address!("0xAAAA45d9549EDA09E70937013520214382Ffc4A2"),
        });
    }

    #[test]
    fn base_mainnet_is_pinned() {
        // superchain/configs/mainnet/base.toml, addresses.json "8453" @ 5b055be4.
        check(&Pinned {
            name: "base-mainnet",
            chain_id: 8453,
            genesis_number: 0,
            genesis_hash: b256!(
                "0xf712aa9241cc24369b143cf6dce85f0902a9731e70d66818a3a5845b296c73dd"
            ),
            genesis_time: 1686789347,
            block_time: 2,
            ecotone: 1710374401,
            isthmus: 1746806401,
            jovian: 1764691201,
            signer: address!("0xAf6E19BE0F9cE7f8afd49a1824851023A8249e8a"),
        });
    }

    #[test]
    fn every_preset_is_a_valid_distinct_chain() {
        let mut names = HashSet::new();
        let mut ids = HashSet::new();
        for p in all() {
            p.rollup.validate().unwrap();
            assert!(names.insert(p.name), "{} twice", p.name);
            assert!(
                ids.insert(p.rollup.l2_chain_id),
                "{} reuses a chain id",
                p.name
            );
            assert_ne!(p.genesis_hash, B256::ZERO, "{}", p.name);
            assert_ne!(p.unsafe_block_signer, Address::ZERO, "{}", p.name);
            // Forks scheduled in order, each one present (every preset is past Jovian).
            let times: Vec<u64> = Hardfork::ALL
                .iter()
                .map(|f| p.rollup.activation_time(*f).unwrap())
                .collect();
            assert!(
                times.windows(2).all(|w| w[0] <= w[1]),
                "{}: {times:?}",
                p.name
            );
            assert_eq!(p.rollup.activation_time(Hardfork::Regolith), Some(0));
            assert_eq!(p.source.commit.len(), 40, "{}", p.name);
            assert!(p.source.path.ends_with(".toml"), "{}", p.name);
        }
        for required in [
            "op-mainnet",
            "op-sepolia",
            "base-mainnet",
            "base-sepolia",
            "unichain-mainnet",
            "ink-mainnet",
            "soneium-mainnet",
        ] {
            assert!(names.contains(required), "{required} missing");
        }
    }

    #[test]
    fn names_are_op_nodes() {
        assert_eq!(find("OP-Mainnet").unwrap().rollup.l2_chain_id, 10);
        assert_eq!(find("mainnet").unwrap().name, "op-mainnet");
        assert_eq!(find("sepolia").unwrap().name, "op-sepolia");
        assert_eq!(find("base-sepolia").unwrap().rollup.l2_chain_id, 84532);
        assert!(find("base").is_none());
        assert!(find("").is_none());
        let e = parse("op-mainet").unwrap_err();
        assert!(
            e.contains("op-mainet") && e.contains("soneium-mainnet"),
            "{e}"
        );
    }

    #[test]
    fn a_preset_is_the_chain_its_rollup_json_would_be() {
        let p = find("op-mainnet").unwrap();
        let chain = p.chain();
        assert_eq!(chain.genesis.number, 105235063);
        assert_eq!(chain.genesis.hash, p.genesis_hash);
        assert_eq!(chain.genesis.timestamp, 1686068903);
        // Written out as rollup.json and read back through --rollup.config's parser.
        assert_eq!(Chain::from_json(&chain.to_json()).unwrap(), chain);
        assert_eq!(
            chain.rollup.blocks_topic(1764691201).to_string(),
            "/optimism/10/3/blocks"
        );
    }

    #[test]
    fn bootnodes_are_op_nodes_list() {
        let p = find("unichain-mainnet").unwrap();
        let boot = p.bootnodes();
        assert_eq!(boot.len(), 8);
        assert_eq!(boot, find("op-mainnet").unwrap().bootnodes());
        let unique: HashSet<_> = boot.iter().collect();
        assert_eq!(unique.len(), boot.len());
        assert_eq!(boot.iter().filter(|b| b.starts_with("enode://")).count(), 3);
        assert_eq!(boot.iter().filter(|b| b.starts_with("enr:-")).count(), 5);
    }
}
