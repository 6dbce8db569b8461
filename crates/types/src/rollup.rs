//! The part of an op-node `rollup.json` that P2P needs: chain id, genesis, block time, and the
//! hardfork schedule that picks topics and payload versions.

use serde::{Deserialize, Serialize};

use crate::{error::RollupConfigError, payload::PayloadVersion, topic::BlocksTopic};

/// An OP Stack hardfork that matters to P2P, in activation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hardfork {
    /// Regolith.
    Regolith,
    /// Canyon: payloads gain withdrawals (topic v2).
    Canyon,
    /// Delta.
    Delta,
    /// Ecotone: blob gas fields and the parent beacon root (topic v3).
    Ecotone,
    /// Fjord.
    Fjord,
    /// Granite.
    Granite,
    /// Holocene.
    Holocene,
    /// Isthmus: `withdrawalsRoot` (topic v4).
    Isthmus,
    /// Jovian: `blobGasUsed` carries the DA footprint and may be non-zero.
    Jovian,
}

impl Hardfork {
    /// Every fork, in activation order.
    pub const ALL: [Self; 9] = [
        Self::Regolith,
        Self::Canyon,
        Self::Delta,
        Self::Ecotone,
        Self::Fjord,
        Self::Granite,
        Self::Holocene,
        Self::Isthmus,
        Self::Jovian,
    ];
}

/// The L2 genesis block, as in `rollup.json`'s `genesis.l2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GenesisBlock {
    /// L2 genesis block number.
    pub number: u64,
}

/// `rollup.json`'s `genesis`, reduced to what P2P reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Genesis {
    /// The L2 genesis block.
    pub l2: GenesisBlock,
    /// Unix time of the L2 genesis block.
    pub l2_time: u64,
}

/// The P2P subset of an op-node rollup config. Unknown fields of a full `rollup.json` are
/// ignored; an absent fork time means the fork is not scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RollupConfig {
    /// Genesis block and time.
    pub genesis: Genesis,
    /// Seconds per L2 block.
    pub block_time: u64,
    /// L2 chain id: names the topics and the sync protocol, and is part of the signing hash.
    pub l2_chain_id: u64,
    /// Regolith activation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regolith_time: Option<u64>,
    /// Canyon activation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canyon_time: Option<u64>,
    /// Delta activation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_time: Option<u64>,
    /// Ecotone activation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecotone_time: Option<u64>,
    /// Fjord activation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fjord_time: Option<u64>,
    /// Granite activation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granite_time: Option<u64>,
    /// Holocene activation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holocene_time: Option<u64>,
    /// Isthmus activation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isthmus_time: Option<u64>,
    /// Jovian activation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jovian_time: Option<u64>,
}

impl RollupConfig {
    /// Parses the contents of a `rollup.json` and checks what P2P relies on.
    pub fn from_json(json: &str) -> Result<Self, RollupConfigError> {
        let config: Self = serde_json::from_str(json)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the invariants the schedule arithmetic relies on.
    pub fn validate(&self) -> Result<(), RollupConfigError> {
        if self.block_time == 0 {
            return Err(RollupConfigError::ZeroBlockTime);
        }
        if self.l2_chain_id == 0 {
            return Err(RollupConfigError::ZeroChainId);
        }
        Ok(())
    }

    /// The activation time of `fork`, if scheduled.
    pub const fn activation_time(&self, fork: Hardfork) -> Option<u64> {
        match fork {
            Hardfork::Regolith => self.regolith_time,
            Hardfork::Canyon => self.canyon_time,
            Hardfork::Delta => self.delta_time,
            Hardfork::Ecotone => self.ecotone_time,
            Hardfork::Fjord => self.fjord_time,
            Hardfork::Granite => self.granite_time,
            Hardfork::Holocene => self.holocene_time,
            Hardfork::Isthmus => self.isthmus_time,
            Hardfork::Jovian => self.jovian_time,
        }
    }

    /// Whether `fork` is active for a block with this `timestamp`.
    pub const fn is_active(&self, fork: Hardfork, timestamp: u64) -> bool {
        match self.activation_time(fork) {
            Some(t) => timestamp >= t,
            None => false,
        }
    }

    /// The payload version, and so the topic, of a block with this `timestamp` (op-node's
    /// `publishRawSignedPayload`): Isthmus → V4, Ecotone → V3, Canyon → V2, else V1.
    pub const fn payload_version(&self, timestamp: u64) -> PayloadVersion {
        if self.is_active(Hardfork::Isthmus, timestamp) {
            PayloadVersion::V4
        } else if self.is_active(Hardfork::Ecotone, timestamp) {
            PayloadVersion::V3
        } else if self.is_active(Hardfork::Canyon, timestamp) {
            PayloadVersion::V2
        } else {
            PayloadVersion::V1
        }
    }

    /// The topic a block with this `timestamp` is published on.
    pub const fn blocks_topic(&self, timestamp: u64) -> BlocksTopic {
        BlocksTopic::new(self.l2_chain_id, self.payload_version(timestamp))
    }

    /// The timestamp block `number` has on this chain (op-node `TimestampForBlock`), or `None`
    /// for a block before genesis or past `u64` time.
    pub const fn timestamp_for_block(&self, number: u64) -> Option<u64> {
        match number.checked_sub(self.genesis.l2.number) {
            Some(blocks) => match blocks.checked_mul(self.block_time) {
                Some(secs) => self.genesis.l2_time.checked_add(secs),
                None => None,
            },
            None => None,
        }
    }

    /// The number of the block due at wall-clock `now` (op-node `TargetBlockNumber`), or `None`
    /// before genesis time.
    pub const fn target_block_number(&self, now: u64) -> Option<u64> {
        match now.checked_sub(self.genesis.l2_time) {
            // `checked_div` only fails on a zero block time, which `validate` rules out.
            Some(elapsed) => match elapsed.checked_div(self.block_time) {
                Some(blocks) => self.genesis.l2.number.checked_add(blocks),
                None => None,
            },
            None => None,
        }
    }
}
