//! Conversions to and from `alloy-rpc-types-engine` payloads (feature `engine`), so alloy users
//! can hand payloads to and from an execution client without field-by-field copying.
//!
//! alloy has no type for OP's V4 payload (its `ExecutionPayloadV4` is Ethereum's Amsterdam
//! payload), so V4 converts through [`ExecutionPayloadV3`] plus `withdrawals_root`.

use alloy_rpc_types_engine::{ExecutionPayloadV1, ExecutionPayloadV2, ExecutionPayloadV3};

use crate::payload::{ExecutionPayload, PayloadVersion};

impl From<ExecutionPayloadV1> for ExecutionPayload {
    fn from(p: ExecutionPayloadV1) -> Self {
        Self {
            parent_hash: p.parent_hash,
            fee_recipient: p.fee_recipient,
            state_root: p.state_root,
            receipts_root: p.receipts_root,
            logs_bloom: p.logs_bloom,
            prev_randao: p.prev_randao,
            block_number: p.block_number,
            gas_limit: p.gas_limit,
            gas_used: p.gas_used,
            timestamp: p.timestamp,
            extra_data: p.extra_data,
            base_fee_per_gas: p.base_fee_per_gas,
            block_hash: p.block_hash,
            transactions: p.transactions,
            withdrawals: None,
            blob_gas_used: None,
            excess_blob_gas: None,
            withdrawals_root: None,
        }
    }
}

impl From<ExecutionPayloadV2> for ExecutionPayload {
    fn from(p: ExecutionPayloadV2) -> Self {
        Self {
            withdrawals: Some(p.withdrawals),
            ..p.payload_inner.into()
        }
    }
}

impl From<ExecutionPayloadV3> for ExecutionPayload {
    fn from(p: ExecutionPayloadV3) -> Self {
        Self {
            blob_gas_used: Some(p.blob_gas_used),
            excess_blob_gas: Some(p.excess_blob_gas),
            ..p.payload_inner.into()
        }
    }
}

impl From<ExecutionPayload> for ExecutionPayloadV1 {
    /// Drops the fields V1 lacks.
    fn from(p: ExecutionPayload) -> Self {
        Self {
            parent_hash: p.parent_hash,
            fee_recipient: p.fee_recipient,
            state_root: p.state_root,
            receipts_root: p.receipts_root,
            logs_bloom: p.logs_bloom,
            prev_randao: p.prev_randao,
            block_number: p.block_number,
            gas_limit: p.gas_limit,
            gas_used: p.gas_used,
            timestamp: p.timestamp,
            extra_data: p.extra_data,
            base_fee_per_gas: p.base_fee_per_gas,
            block_hash: p.block_hash,
            transactions: p.transactions,
        }
    }
}

impl From<ExecutionPayload> for ExecutionPayloadV2 {
    /// Missing withdrawals become an empty list; fields V2 lacks are dropped.
    fn from(mut p: ExecutionPayload) -> Self {
        let withdrawals = p.withdrawals.take().unwrap_or_default();
        Self {
            payload_inner: p.into(),
            withdrawals,
        }
    }
}

impl From<ExecutionPayload> for ExecutionPayloadV3 {
    /// Missing blob gas fields become zero; `withdrawals_root` is dropped (see the module docs).
    fn from(p: ExecutionPayload) -> Self {
        let blob_gas_used = p.blob_gas_used.unwrap_or_default();
        let excess_blob_gas = p.excess_blob_gas.unwrap_or_default();
        Self {
            payload_inner: p.into(),
            blob_gas_used,
            excess_blob_gas,
        }
    }
}

impl From<ExecutionPayload> for alloy_rpc_types_engine::ExecutionPayload {
    /// The alloy payload enum at the version closest to [`ExecutionPayload::version`] (V4 maps
    /// to V3).
    fn from(p: ExecutionPayload) -> Self {
        match p.version() {
            PayloadVersion::V1 => Self::V1(p.into()),
            PayloadVersion::V2 => Self::V2(p.into()),
            PayloadVersion::V3 | PayloadVersion::V4 => Self::V3(p.into()),
        }
    }
}

impl From<alloy_rpc_types_engine::ExecutionPayload> for ExecutionPayload {
    fn from(p: alloy_rpc_types_engine::ExecutionPayload) -> Self {
        match p {
            alloy_rpc_types_engine::ExecutionPayload::V1(p) => p.into(),
            alloy_rpc_types_engine::ExecutionPayload::V2(p) => p.into(),
            alloy_rpc_types_engine::ExecutionPayload::V3(p) => p.into(),
            // Ethereum's Amsterdam payload: OP Stack has no such block; its V3 part is kept.
            alloy_rpc_types_engine::ExecutionPayload::V4(p) => p.payload_inner.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_eips::eip4895::Withdrawal;
    use alloy_primitives::{Address, B256, Bytes, U256};

    use super::*;

    fn payload(version: PayloadVersion) -> ExecutionPayload {
        ExecutionPayload {
            parent_hash: B256::repeat_byte(1),
            fee_recipient: Address::repeat_byte(2),
            block_number: 7,
            timestamp: 9,
            extra_data: Bytes::from_static(b"x"),
            base_fee_per_gas: U256::from(3),
            transactions: vec![Bytes::from_static(&[0x7e, 1])],
            withdrawals: (version >= PayloadVersion::V2).then(|| {
                vec![Withdrawal {
                    index: 1,
                    validator_index: 2,
                    address: Address::ZERO,
                    amount: 3,
                }]
            }),
            blob_gas_used: (version >= PayloadVersion::V3).then_some(4),
            excess_blob_gas: (version >= PayloadVersion::V3).then_some(0),
            ..Default::default()
        }
    }

    #[test]
    fn v1_v2_v3_round_trip_through_alloy() {
        for version in [PayloadVersion::V1, PayloadVersion::V2, PayloadVersion::V3] {
            let ours = payload(version);
            let alloy: alloy_rpc_types_engine::ExecutionPayload = ours.clone().into();
            let expected_variant = match version {
                PayloadVersion::V1 => {
                    matches!(alloy, alloy_rpc_types_engine::ExecutionPayload::V1(_))
                }
                PayloadVersion::V2 => {
                    matches!(alloy, alloy_rpc_types_engine::ExecutionPayload::V2(_))
                }
                _ => matches!(alloy, alloy_rpc_types_engine::ExecutionPayload::V3(_)),
            };
            assert!(expected_variant, "{version:?}");
            assert_eq!(ExecutionPayload::from(alloy), ours);
        }
    }

    #[test]
    fn v4_keeps_everything_but_the_withdrawals_root() {
        let mut v4 = payload(PayloadVersion::V3);
        v4.withdrawals_root = Some(B256::repeat_byte(9));
        let alloy = ExecutionPayloadV3::from(v4.clone());
        let back = ExecutionPayload::from(alloy);
        assert_eq!(
            back,
            ExecutionPayload {
                withdrawals_root: None,
                ..v4
            }
        );
    }
}
