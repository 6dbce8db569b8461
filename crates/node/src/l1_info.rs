//! L1-info deposits: the first transaction of every OP Stack L2 block, in the form the rollup's
//! fork schedule gives the block (op-node `derive.L1InfoDeposit`), for a synthetic L1 chain.
//!
//! A real OP client reads its `L2BlockInfo` (L1 origin and sequence number) from this
//! transaction of every unsafe block, and kona treats one it cannot decode as a critical engine
//! error; so the sequencer's blocks carry a real one. There is no L1 behind this node: the L1
//! origin comes from [`synthetic_l1_info`], a chain of made-up L1 blocks every 12 s from the L2
//! genesis time, with the devnet's system config values.
//!
//! The transaction itself (RLP, EIP-2718 type `0x7e`, the L1-info source-hash domain) is
//! op-alloy-consensus's `TxDeposit` and `L1InfoDepositSource`. The calldata is written here:
//! the only Rust decoder/encoder of these layouts on crates.io is kona-protocol, which is built
//! on alloy 1.x and would bring in a second alloy tree.
//!
//! | Form    | Selector     | Bytes | Used from                                  |
//! |---------|--------------|-------|--------------------------------------------|
//! | Bedrock | `0x015d8eb9` | 260   | genesis (ABI-encoded `setL1BlockValues`)   |
//! | Ecotone | `0x440a5e20` | 164   | the block after Ecotone's activation block |
//! | Isthmus | `0x098999be` | 176   | the block after Isthmus's activation block |
//! | Jovian  | `0x3db6be2b` | 178   | the block after Jovian's activation block  |

use alloy_eips::eip2718::Encodable2718 as _;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use op_alloy_consensus::{L1InfoDepositSource, TxDeposit};
use op_p2p_types::{Hardfork, RollupConfig};

/// The depositor account of L1-info deposits.
pub(crate) const L1_INFO_DEPOSITOR: Address =
    address!("0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001");
/// The `L1Block` predeploy, target of L1-info deposits.
pub(crate) const L1_BLOCK_PREDEPLOY: Address =
    address!("0x4200000000000000000000000000000000000015");
/// Gas of the L1-info deposit from Regolith on (op-node `RegolithSystemTxGas`), when it stopped
/// being a system transaction.
pub(crate) const REGOLITH_SYSTEM_TX_GAS: u64 = 1_000_000;
/// Gas of the pre-Regolith L1-info system transaction.
pub(crate) const BEDROCK_SYSTEM_TX_GAS: u64 = 150_000_000;
/// op-node's `DAFootprintGasScalarDefault`: what a zero system-config value becomes.
pub(crate) const DA_FOOTPRINT_GAS_SCALAR_DEFAULT: u16 = 400;

/// Seconds between the synthetic L1 blocks (Ethereum's slot time).
pub(crate) const L1_BLOCK_TIME: u64 = 12;
/// The number of the synthetic L1 block at the L2 genesis time.
pub(crate) const L1_GENESIS_NUMBER: u64 = 1_000;
/// The devnet's batcher (the OP Stack local devnet's batcher account).
pub(crate) const DEVNET_BATCHER: Address = address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");
/// The devnet's pre-Ecotone fee overhead and scalar (OP Mainnet's Bedrock values).
pub(crate) const DEVNET_L1_FEE_OVERHEAD: u64 = 188;
/// See [`DEVNET_L1_FEE_OVERHEAD`].
pub(crate) const DEVNET_L1_FEE_SCALAR: u64 = 684_000;
/// The devnet's Ecotone base-fee scalar (a live chain's value).
pub(crate) const DEVNET_BASE_FEE_SCALAR: u32 = 2_269;
/// The devnet's Ecotone blob-base-fee scalar (a live chain's value).
pub(crate) const DEVNET_BLOB_BASE_FEE_SCALAR: u32 = 1_055_762;

/// The calldata layout of an L1-info deposit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum L1InfoForm {
    /// `setL1BlockValues(uint64,uint64,uint256,bytes32,uint64,bytes32,uint256,uint256)`.
    Bedrock,
    /// `setL1BlockValuesEcotone()`, packed.
    Ecotone,
    /// `setL1BlockValuesIsthmus()`: Ecotone's plus the operator fee.
    Isthmus,
    /// `setL1BlockValuesJovian()`: Isthmus's plus the DA footprint gas scalar.
    Jovian,
}

impl L1InfoForm {
    /// The form of the L2 block with `l2_timestamp` (op-node `L1InfoDeposit`): a fork's form is
    /// used from the block *after* its activation block on, because the activation block runs
    /// before the `L1Block` contract is upgraded.
    pub(crate) fn at(rollup: &RollupConfig, l2_timestamp: u64) -> Self {
        if active_after_first_block(rollup, Hardfork::Jovian, l2_timestamp) {
            Self::Jovian
        } else if active_after_first_block(rollup, Hardfork::Isthmus, l2_timestamp) {
            Self::Isthmus
        } else if active_after_first_block(rollup, Hardfork::Ecotone, l2_timestamp) {
            Self::Ecotone
        } else {
            Self::Bedrock
        }
    }

    /// The 4-byte selector: keccak256 of the function signature, truncated.
    pub(crate) const fn selector(self) -> [u8; 4] {
        match self {
            Self::Bedrock => [0x01, 0x5d, 0x8e, 0xb9],
            Self::Ecotone => [0x44, 0x0a, 0x5e, 0x20],
            Self::Isthmus => [0x09, 0x89, 0x99, 0xbe],
            Self::Jovian => [0x3d, 0xb6, 0xbe, 0x2b],
        }
    }

    /// The calldata length in bytes.
    pub(crate) const fn len(self) -> usize {
        match self {
            Self::Bedrock => 4 + 32 * 8,
            Self::Ecotone => 4 + 32 * 5,
            Self::Isthmus => 4 + 32 * 5 + 4 + 8,
            Self::Jovian => 4 + 32 * 5 + 4 + 8 + 2,
        }
    }
}

/// op-node's `is<Fork>ButNotFirstBlock`: `fork` is active at `t` and `t` is not its activation
/// block (the first block whose timestamp reaches the fork time).
fn active_after_first_block(rollup: &RollupConfig, fork: Hardfork, t: u64) -> bool {
    let activation_block = t >= rollup.block_time && !rollup.is_active(fork, t - rollup.block_time);
    rollup.is_active(fork, t) && !activation_block
}

/// What an L1-info deposit tells the `L1Block` predeploy: the L1 origin, the block's position in
/// its epoch, and the system config's fee values. Fields a form does not carry are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct L1BlockInfo {
    /// L1 origin number.
    pub(crate) number: u64,
    /// L1 origin timestamp.
    pub(crate) time: u64,
    /// L1 origin base fee.
    pub(crate) base_fee: U256,
    /// L1 origin hash.
    pub(crate) block_hash: B256,
    /// L2 blocks since the first one with this L1 origin.
    pub(crate) sequence_number: u64,
    /// The batcher (the system config's `batcherHash`, version 0).
    pub(crate) batcher_address: Address,
    /// Bedrock only: the L1 fee overhead.
    pub(crate) l1_fee_overhead: B256,
    /// Bedrock only: the L1 fee scalar.
    pub(crate) l1_fee_scalar: B256,
    /// Ecotone on: the L1 origin's blob base fee (1 before L1 Cancun).
    pub(crate) blob_base_fee: U256,
    /// Ecotone on.
    pub(crate) base_fee_scalar: u32,
    /// Ecotone on.
    pub(crate) blob_base_fee_scalar: u32,
    /// Isthmus on.
    pub(crate) operator_fee_scalar: u32,
    /// Isthmus on.
    pub(crate) operator_fee_constant: u64,
    /// Jovian on.
    pub(crate) da_footprint_gas_scalar: u16,
}

impl L1BlockInfo {
    /// The deposit's calldata in `form` (op-node's `marshalBinary<Form>`).
    pub(crate) fn calldata(&self, form: L1InfoForm) -> Vec<u8> {
        let mut out = Vec::with_capacity(form.len());
        out.extend_from_slice(&form.selector());
        if form == L1InfoForm::Bedrock {
            out.extend_from_slice(&U256::from(self.number).to_be_bytes::<32>());
            out.extend_from_slice(&U256::from(self.time).to_be_bytes::<32>());
            out.extend_from_slice(&self.base_fee.to_be_bytes::<32>());
            out.extend_from_slice(self.block_hash.as_slice());
            out.extend_from_slice(&U256::from(self.sequence_number).to_be_bytes::<32>());
            out.extend_from_slice(self.batcher_address.into_word().as_slice());
            out.extend_from_slice(self.l1_fee_overhead.as_slice());
            out.extend_from_slice(self.l1_fee_scalar.as_slice());
            return out;
        }
        out.extend_from_slice(&self.base_fee_scalar.to_be_bytes());
        out.extend_from_slice(&self.blob_base_fee_scalar.to_be_bytes());
        out.extend_from_slice(&self.sequence_number.to_be_bytes());
        out.extend_from_slice(&self.time.to_be_bytes());
        out.extend_from_slice(&self.number.to_be_bytes());
        out.extend_from_slice(&self.base_fee.to_be_bytes::<32>());
        out.extend_from_slice(&self.blob_base_fee.to_be_bytes::<32>());
        out.extend_from_slice(self.block_hash.as_slice());
        out.extend_from_slice(self.batcher_address.into_word().as_slice());
        if matches!(form, L1InfoForm::Isthmus | L1InfoForm::Jovian) {
            out.extend_from_slice(&self.operator_fee_scalar.to_be_bytes());
            out.extend_from_slice(&self.operator_fee_constant.to_be_bytes());
        }
        if form == L1InfoForm::Jovian {
            out.extend_from_slice(&self.da_footprint_gas_scalar.to_be_bytes());
        }
        out
    }

    /// The deposit's source hash: the L1-info domain (1) over the L1 origin hash and the
    /// sequence number.
    pub(crate) fn source_hash(&self) -> B256 {
        L1InfoDepositSource::new(self.block_hash, self.sequence_number).source_hash()
    }
}

/// The L1-info deposit of the L2 block with `l2_timestamp`, EIP-2718 encoded: `0x7e ‖
/// rlp([sourceHash, from, to, mint, value, gas, isSystemTx, data])`, in the form the schedule
/// gives the block; from Regolith on 1,000,000 gas and not a system transaction.
pub(crate) fn l1_info_deposit(
    rollup: &RollupConfig,
    info: &L1BlockInfo,
    l2_timestamp: u64,
) -> Bytes {
    let regolith = rollup.is_active(Hardfork::Regolith, l2_timestamp);
    let tx = TxDeposit {
        source_hash: info.source_hash(),
        from: L1_INFO_DEPOSITOR,
        to: TxKind::Call(L1_BLOCK_PREDEPLOY),
        mint: 0,
        value: U256::ZERO,
        gas_limit: if regolith {
            REGOLITH_SYSTEM_TX_GAS
        } else {
            BEDROCK_SYSTEM_TX_GAS
        },
        is_system_transaction: !regolith,
        input: info.calldata(L1InfoForm::at(rollup, l2_timestamp)).into(),
    };
    tx.encoded_2718().into()
}

/// The L1-info fields of the L2 block with `l2_timestamp` on the synthetic L1 chain: its origin
/// is the newest synthetic L1 block not after it (a sequencer adopting each L1 block at once),
/// so the origin advances every [`L1_BLOCK_TIME`] seconds and the sequence number counts the
/// L2 blocks since, from 0. With L2 blocks longer than that, the L1 blocks come one per L2
/// block instead, as derivation lets an origin advance by one L1 block per L2 block at most.
/// Every value is a pure function of the rollup config and the timestamp, so every node
/// computes the same.
pub(crate) fn synthetic_l1_info(rollup: &RollupConfig, l2_timestamp: u64) -> L1BlockInfo {
    let genesis_time = rollup.genesis.l2_time;
    let l1_block_time = L1_BLOCK_TIME.max(rollup.block_time);
    let epoch = l2_timestamp.saturating_sub(genesis_time) / l1_block_time;
    let time = genesis_time.saturating_add(epoch.saturating_mul(l1_block_time));
    let number = L1_GENESIS_NUMBER.saturating_add(epoch);
    let block_hash = synthetic_l1_hash(rollup, number);
    // Fees that move from block to block as L1's do: 1-5 gwei base fee, a small blob fee.
    let seed = u64::from_be_bytes(block_hash[..8].try_into().unwrap_or_default());
    L1BlockInfo {
        number,
        time,
        base_fee: U256::from(1_000_000_000 + seed % 4_000_000_000),
        block_hash,
        sequence_number: l2_timestamp.saturating_sub(time) / rollup.block_time.max(1),
        batcher_address: DEVNET_BATCHER,
        l1_fee_overhead: U256::from(DEVNET_L1_FEE_OVERHEAD).into(),
        l1_fee_scalar: U256::from(DEVNET_L1_FEE_SCALAR).into(),
        blob_base_fee: U256::from(1 + (seed >> 32) % 1_000),
        base_fee_scalar: DEVNET_BASE_FEE_SCALAR,
        blob_base_fee_scalar: DEVNET_BLOB_BASE_FEE_SCALAR,
        operator_fee_scalar: 0,
        operator_fee_constant: 0,
        da_footprint_gas_scalar: DA_FOOTPRINT_GAS_SCALAR_DEFAULT,
    }
}

/// The hash of synthetic L1 block `number` of this rollup (its chain id and genesis time, so
/// two devnets never share an L1).
fn synthetic_l1_hash(rollup: &RollupConfig, number: u64) -> B256 {
    let mut preimage = b"op-p2p synthetic L1 block".to_vec();
    preimage.extend_from_slice(&rollup.l2_chain_id.to_be_bytes());
    preimage.extend_from_slice(&rollup.genesis.l2_time.to_be_bytes());
    preimage.extend_from_slice(&number.to_be_bytes());
    keccak256(preimage)
}

#[cfg(test)]
mod tests;
