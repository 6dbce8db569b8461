//! The presets' data, generated from the superchain registry's own files (`git show
//! <commit>:<path>` of `github.com/ethereum-optimism/superchain-registry`) and checked in as
//! consts: no registry crate, no build step, and every value is one `git show` away from its
//! source. Per preset: `chain_id`, `block_time`, `[genesis]` (`l2.hash`, `l2.number`,
//! `l2_time`) and `[hardforks]` from the chain's TOML; the signer from
//! `superchain/extra/addresses/addresses.json`, key `<chain id>.UnsafeBlockSigner`, at the same
//! commit.
//!
//! Not carried: the L1 genesis block and the system config (P2P reads neither; the rollup
//! config of this node does not model them), and registry fork entries the rollup config does
//! not model (listed on each preset).

use alloy_primitives::{address, b256};
use op_p2p_types::{Genesis, GenesisBlock, RollupConfig};

use super::{NetworkPreset, Source};

/// The registry commit most presets come from (2026-08-04, "validation: add sepolia standard
/// versions for op-contracts/v8.0.0-pcdtest (#1302)").
const REGISTRY: &str = "8336d2aedd19b87a57b01ae36ba4afef8ea377d0";
/// The last registry commit with Base in it: its child `0d9aefc41de3b6137f6794b82675d4448f62f097`
/// (2026-04-27, "superchain: remove base-mainnet|sepolia|sepolia-dev-0 (#1212)") removed
/// Base's files, so op-node builds from after it no longer know `base-*` networks.
const REGISTRY_WITH_BASE: &str = "5b055be4d294ce43814a44c8839d89b2436dc8aa";
/// The registry has no `regolith_time`: op-node's `LoadOPStackRollupConfig` sets Regolith at
/// genesis (0) for every registry chain, and so does this.
const REGOLITH_TIME: Option<u64> = Some(0);

/// Every preset, in the order `--help` lists them.
pub(super) static ALL: [NetworkPreset; 10] = [
    OP_MAINNET,
    OP_SEPOLIA,
    BASE_MAINNET,
    BASE_SEPOLIA,
    UNICHAIN_MAINNET,
    UNICHAIN_SEPOLIA,
    INK_MAINNET,
    INK_SEPOLIA,
    SONEIUM_MAINNET,
    SONEIUM_MINATO_SEPOLIA,
];

/// OP Mainnet: `superchain/configs/mainnet/op.toml`.
/// Not modelled by the rollup config: `karst_time = 1783526401`, `keep_karst_upgrade_gas = true`.
pub(super) const OP_MAINNET: NetworkPreset = NetworkPreset {
    name: "op-mainnet",
    chain_name: "OP Mainnet",
    source: Source {
        commit: REGISTRY,
        path: "superchain/configs/mainnet/op.toml",
    },
    rollup: RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock {
                number: 105_235_063,
            },
            l2_time: 1_686_068_903,
        },
        block_time: 2,
        l2_chain_id: 10,
        regolith_time: REGOLITH_TIME,
        canyon_time: Some(1_704_992_401),
        delta_time: Some(1_708_560_000),
        ecotone_time: Some(1_710_374_401),
        fjord_time: Some(1_720_627_201),
        granite_time: Some(1_726_070_401),
        holocene_time: Some(1_736_445_601),
        isthmus_time: Some(1_746_806_401),
        jovian_time: Some(1_764_691_201),
    },
    genesis_hash: b256!("dbf6a80fef073de06add9b0d14026d6e5a86c85f6d102c36d3d8e9cf89c2afd3"),
    unsafe_block_signer: address!("AAAA45d9549EDA09E70937013520214382Ffc4A2"),
};

/// OP Sepolia Testnet: `superchain/configs/sepolia/op.toml`.
/// Not modelled by the rollup config: `pectra_blob_schedule_time = 1742486400`, `karst_time = 1781712001`, `keep_karst_upgrade_gas = true`.
pub(super) const OP_SEPOLIA: NetworkPreset = NetworkPreset {
    name: "op-sepolia",
    chain_name: "OP Sepolia Testnet",
    source: Source {
        commit: REGISTRY,
        path: "superchain/configs/sepolia/op.toml",
    },
    rollup: RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            l2_time: 1_691_802_540,
        },
        block_time: 2,
        l2_chain_id: 11_155_420,
        regolith_time: REGOLITH_TIME,
        canyon_time: Some(1_699_981_200),
        delta_time: Some(1_703_203_200),
        ecotone_time: Some(1_708_534_800),
        fjord_time: Some(1_716_998_400),
        granite_time: Some(1_723_478_400),
        holocene_time: Some(1_732_633_200),
        isthmus_time: Some(1_744_905_600),
        jovian_time: Some(1_763_568_001),
    },
    genesis_hash: b256!("102de6ffb001480cc9b8b548fd05c34cd4f46ae4aa91759393db90ea0409887d"),
    unsafe_block_signer: address!("57CACBB0d30b01eb2462e5dC940c161aff3230D3"),
};

/// Base: `superchain/configs/mainnet/base.toml` at [`REGISTRY_WITH_BASE`] (removed from the registry after it).
pub(super) const BASE_MAINNET: NetworkPreset = NetworkPreset {
    name: "base-mainnet",
    chain_name: "Base",
    source: Source {
        commit: REGISTRY_WITH_BASE,
        path: "superchain/configs/mainnet/base.toml",
    },
    rollup: RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            l2_time: 1_686_789_347,
        },
        block_time: 2,
        l2_chain_id: 8453,
        regolith_time: REGOLITH_TIME,
        canyon_time: Some(1_704_992_401),
        delta_time: Some(1_708_560_000),
        ecotone_time: Some(1_710_374_401),
        fjord_time: Some(1_720_627_201),
        granite_time: Some(1_726_070_401),
        holocene_time: Some(1_736_445_601),
        isthmus_time: Some(1_746_806_401),
        jovian_time: Some(1_764_691_201),
    },
    genesis_hash: b256!("f712aa9241cc24369b143cf6dce85f0902a9731e70d66818a3a5845b296c73dd"),
    unsafe_block_signer: address!("Af6E19BE0F9cE7f8afd49a1824851023A8249e8a"),
};

/// Base Sepolia Testnet: `superchain/configs/sepolia/base.toml` at [`REGISTRY_WITH_BASE`] (removed from the registry after it).
/// Not modelled by the rollup config: `pectra_blob_schedule_time = 1742486400`.
pub(super) const BASE_SEPOLIA: NetworkPreset = NetworkPreset {
    name: "base-sepolia",
    chain_name: "Base Sepolia Testnet",
    source: Source {
        commit: REGISTRY_WITH_BASE,
        path: "superchain/configs/sepolia/base.toml",
    },
    rollup: RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            l2_time: 1_695_768_288,
        },
        block_time: 2,
        l2_chain_id: 84532,
        regolith_time: REGOLITH_TIME,
        canyon_time: Some(1_699_981_200),
        delta_time: Some(1_703_203_200),
        ecotone_time: Some(1_708_534_800),
        fjord_time: Some(1_716_998_400),
        granite_time: Some(1_723_478_400),
        holocene_time: Some(1_732_633_200),
        isthmus_time: Some(1_744_905_600),
        jovian_time: Some(1_763_568_001),
    },
    genesis_hash: b256!("0dcc9e089e30b90ddfc55be9a37dd15bc551aeee999d2e2b51414c54eaf934e4"),
    unsafe_block_signer: address!("b830b99c95Ea32300039624Cb567d324D4b1D83C"),
};

/// Unichain: `superchain/configs/mainnet/unichain.toml`.
/// Not modelled by the rollup config: `karst_time = 1783526401`, `keep_karst_upgrade_gas = true`.
pub(super) const UNICHAIN_MAINNET: NetworkPreset = NetworkPreset {
    name: "unichain-mainnet",
    chain_name: "Unichain",
    source: Source {
        commit: REGISTRY,
        path: "superchain/configs/mainnet/unichain.toml",
    },
    rollup: RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            l2_time: 1_730_748_359,
        },
        block_time: 1,
        l2_chain_id: 130,
        regolith_time: REGOLITH_TIME,
        canyon_time: Some(0),
        delta_time: Some(0),
        ecotone_time: Some(0),
        fjord_time: Some(0),
        granite_time: Some(0),
        holocene_time: Some(1_736_445_601),
        isthmus_time: Some(1_746_806_401),
        jovian_time: Some(1_764_691_201),
    },
    genesis_hash: b256!("3425162ddf41a0a1f0106d67b71828c9a9577e6ddeb94e4f33d2cde1fdc3befe"),
    unsafe_block_signer: address!("833C6f278474A78658af91aE8edC926FE33a230e"),
};

/// Unichain Sepolia Testnet: `superchain/configs/sepolia/unichain.toml`.
/// Not modelled by the rollup config: `pectra_blob_schedule_time = 1742486400`, `karst_time = 1781712001`, `keep_karst_upgrade_gas = true`.
pub(super) const UNICHAIN_SEPOLIA: NetworkPreset = NetworkPreset {
    name: "unichain-sepolia",
    chain_name: "Unichain Sepolia Testnet",
    source: Source {
        commit: REGISTRY,
        path: "superchain/configs/sepolia/unichain.toml",
    },
    rollup: RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            l2_time: 1_726_852_428,
        },
        block_time: 1,
        l2_chain_id: 1301,
        regolith_time: REGOLITH_TIME,
        canyon_time: Some(0),
        delta_time: Some(0),
        ecotone_time: Some(0),
        fjord_time: Some(0),
        granite_time: Some(0),
        holocene_time: Some(1_734_559_200),
        isthmus_time: Some(1_744_905_600),
        jovian_time: Some(1_763_568_001),
    },
    genesis_hash: b256!("b7fe0bc9f98ca03294ca0094ff9374cc3e64130b6ec85850d6e260191f48bfe7"),
    unsafe_block_signer: address!("565B71025Ab4de80AcA33c62E51439af56301493"),
};

/// Ink: `superchain/configs/mainnet/ink.toml`.
/// Not modelled by the rollup config: `karst_time = 1783526401`, `keep_karst_upgrade_gas = true`.
pub(super) const INK_MAINNET: NetworkPreset = NetworkPreset {
    name: "ink-mainnet",
    chain_name: "Ink",
    source: Source {
        commit: REGISTRY,
        path: "superchain/configs/mainnet/ink.toml",
    },
    rollup: RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            l2_time: 1_733_498_411,
        },
        block_time: 1,
        l2_chain_id: 57073,
        regolith_time: REGOLITH_TIME,
        canyon_time: Some(0),
        delta_time: Some(0),
        ecotone_time: Some(0),
        fjord_time: Some(0),
        granite_time: Some(0),
        holocene_time: Some(1_742_396_400),
        isthmus_time: Some(1_746_806_401),
        jovian_time: Some(1_764_691_201),
    },
    genesis_hash: b256!("23a2658170ba70d014ba0d0d2709f8fbfe2fa660cd868c5f282f991eecbe38ee"),
    unsafe_block_signer: address!("7b322282DF45E537E5de76D60E1432Db3cF3F8E1"),
};

/// Ink Sepolia: `superchain/configs/sepolia/ink.toml`.
/// Not modelled by the rollup config: `pectra_blob_schedule_time = 1742486400`, `karst_time = 1781712001`, `keep_karst_upgrade_gas = true`.
pub(super) const INK_SEPOLIA: NetworkPreset = NetworkPreset {
    name: "ink-sepolia",
    chain_name: "Ink Sepolia",
    source: Source {
        commit: REGISTRY,
        path: "superchain/configs/sepolia/ink.toml",
    },
    rollup: RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            l2_time: 1_729_003_296,
        },
        block_time: 1,
        l2_chain_id: 763_373,
        regolith_time: REGOLITH_TIME,
        canyon_time: Some(1_699_981_200),
        delta_time: Some(1_703_203_200),
        ecotone_time: Some(1_708_534_800),
        fjord_time: Some(1_716_998_400),
        granite_time: Some(1_723_478_400),
        holocene_time: Some(1_732_633_200),
        isthmus_time: Some(1_744_905_600),
        jovian_time: Some(1_763_568_001),
    },
    genesis_hash: b256!("e5fd5cf0be56af58ad5751b401410d6b7a09d830fa459789746a3d0dd1c79834"),
    unsafe_block_signer: address!("900C36E0CcAC26F9F49ECa6bbD748e347531864b"),
};

/// Soneium: `superchain/configs/mainnet/soneium.toml`.
/// Not modelled by the rollup config: `karst_time = 1783526401`, `keep_karst_upgrade_gas = true`.
pub(super) const SONEIUM_MAINNET: NetworkPreset = NetworkPreset {
    name: "soneium-mainnet",
    chain_name: "Soneium",
    source: Source {
        commit: REGISTRY,
        path: "superchain/configs/mainnet/soneium.toml",
    },
    rollup: RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            l2_time: 1_733_134_751,
        },
        block_time: 2,
        l2_chain_id: 1868,
        regolith_time: REGOLITH_TIME,
        canyon_time: Some(0),
        delta_time: Some(0),
        ecotone_time: Some(0),
        fjord_time: Some(0),
        granite_time: Some(0),
        holocene_time: Some(1_738_573_200),
        isthmus_time: Some(1_746_806_401),
        jovian_time: Some(1_764_691_201),
    },
    genesis_hash: b256!("295d22d269634c7d0055b33b887519362d0b31899e97109d1789a8a168de1b21"),
    unsafe_block_signer: address!("7c2Bd59ee2a2C7391c9A240132f26071e9546262"),
};

/// Soneium Testnet Minato: `superchain/configs/sepolia/soneium-minato.toml`.
/// Not modelled by the rollup config: `pectra_blob_schedule_time = 1742486400`, `karst_time = 1781712001`, `keep_karst_upgrade_gas = true`.
pub(super) const SONEIUM_MINATO_SEPOLIA: NetworkPreset = NetworkPreset {
    name: "soneium-minato-sepolia",
    chain_name: "Soneium Testnet Minato",
    source: Source {
        commit: REGISTRY,
        path: "superchain/configs/sepolia/soneium-minato.toml",
    },
    rollup: RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            l2_time: 1_723_194_336,
        },
        block_time: 2,
        l2_chain_id: 1946,
        regolith_time: REGOLITH_TIME,
        canyon_time: Some(0),
        delta_time: Some(0),
        ecotone_time: Some(0),
        fjord_time: Some(1_730_106_000),
        granite_time: Some(1_730_106_000),
        holocene_time: Some(1_734_685_200),
        isthmus_time: Some(1_744_905_600),
        jovian_time: Some(1_763_568_001),
    },
    genesis_hash: b256!("7ec49d93fa8f47c00e98cc5965cd3903a8faa9238743d2eba0e0550ab4c45c43"),
    unsafe_block_signer: address!("55930859CD7003F32A2ba171297408476532E535"),
};
