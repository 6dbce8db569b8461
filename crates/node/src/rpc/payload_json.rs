//! An execution payload envelope in the Engine API JSON format, as op-node's
//! `eth.ExecutionPayloadEnvelope` reads it for `admin_postUnsafePayload`:
//! `{"parentBeaconBlockRoot": …, "executionPayload": {…}}`, camelCase fields, quantities as
//! `0x` hex, data as `0x` hex. The version follows from the fields present, as op-node's:
//! `withdrawals` (V2), `blobGasUsed` + `excessBlobGas` (V3), `withdrawalsRoot` (V4, Isthmus).
//!
//! Hand-written over serde rather than through `alloy-rpc-types-engine`: alloy has no OP V4
//! payload (its `ExecutionPayloadV4` is Ethereum's), and its serde feature would rebuild the
//! alloy crates the protocol crates share with other features.

use alloy_primitives::U256;
use op_p2p_types::{
    Address, B256, Bloom, Bytes, ExecutionPayload, ExecutionPayloadEnvelope,
    MAX_TRANSACTIONS_PER_PAYLOAD, MAX_WITHDRAWALS_PER_PAYLOAD, Withdrawal,
};
use serde::{Deserialize, Deserializer, de::Error as _};

/// geth's `hexutil.Uint64`: a JSON string `0x…`, no leading zeros (ruint's own serde also
/// takes bare numbers and decimal text, which op-node refuses).
#[derive(Debug, Clone, Copy)]
struct Quantity(u64);

/// geth's `hexutil.Big` for `baseFeePerGas`: a JSON string `0x…`, at most 256 bits.
#[derive(Debug, Clone, Copy)]
struct BigQuantity(U256);

/// The hex digits of a quantity, as geth's `checkNumberText` accepts them.
fn quantity_digits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .ok_or_else(|| D::Error::custom(format!("hex string without 0x prefix: {text:?}")))?;
    if digits.is_empty() {
        return Err(D::Error::custom("hex string \"0x\""));
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(D::Error::custom(format!(
            "hex number with leading zero digits: {text:?}"
        )));
    }
    Ok(digits.to_owned())
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let digits = quantity_digits(deserializer)?;
        u64::from_str_radix(&digits, 16)
            .map(Self)
            .map_err(|e| D::Error::custom(format!("hex number 0x{digits}: {e}")))
    }
}

impl<'de> Deserialize<'de> for BigQuantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let digits = quantity_digits(deserializer)?;
        U256::from_str_radix(&digits, 16)
            .map(Self)
            .map_err(|e| D::Error::custom(format!("hex number 0x{digits}: {e}")))
    }
}

/// `eth.ExecutionPayloadEnvelope`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EnvelopeJson {
    #[serde(default)]
    parent_beacon_block_root: Option<B256>,
    execution_payload: PayloadJson,
}

/// `eth.ExecutionPayload`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PayloadJson {
    parent_hash: B256,
    fee_recipient: Address,
    state_root: B256,
    receipts_root: B256,
    logs_bloom: Bloom,
    prev_randao: B256,
    block_number: Quantity,
    gas_limit: Quantity,
    gas_used: Quantity,
    timestamp: Quantity,
    extra_data: Bytes,
    base_fee_per_gas: BigQuantity,
    block_hash: B256,
    transactions: Vec<Bytes>,
    #[serde(default)]
    withdrawals: Option<Vec<WithdrawalJson>>,
    #[serde(default)]
    blob_gas_used: Option<Quantity>,
    #[serde(default)]
    excess_blob_gas: Option<Quantity>,
    #[serde(default)]
    withdrawals_root: Option<B256>,
}

/// An EIP-4895 withdrawal (`types.Withdrawal`'s JSON).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WithdrawalJson {
    index: Quantity,
    validator_index: Quantity,
    address: Address,
    amount: Quantity,
}

/// Why a JSON envelope is not a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PayloadJsonError {
    /// More transactions or withdrawals than an SSZ payload can carry.
    #[error("{what}: {len} entries, at most {max}")]
    TooMany {
        /// Which list.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl EnvelopeJson {
    /// The payload, with the list limits of the SSZ layout checked.
    pub(crate) fn into_envelope(self) -> Result<ExecutionPayloadEnvelope, PayloadJsonError> {
        let p = self.execution_payload;
        if p.transactions.len() > MAX_TRANSACTIONS_PER_PAYLOAD {
            return Err(PayloadJsonError::TooMany {
                what: "transactions",
                len: p.transactions.len(),
                max: MAX_TRANSACTIONS_PER_PAYLOAD,
            });
        }
        if let Some(w) = &p.withdrawals
            && w.len() > MAX_WITHDRAWALS_PER_PAYLOAD
        {
            return Err(PayloadJsonError::TooMany {
                what: "withdrawals",
                len: w.len(),
                max: MAX_WITHDRAWALS_PER_PAYLOAD,
            });
        }
        Ok(ExecutionPayloadEnvelope {
            parent_beacon_block_root: self.parent_beacon_block_root,
            execution_payload: ExecutionPayload {
                parent_hash: p.parent_hash,
                fee_recipient: p.fee_recipient,
                state_root: p.state_root,
                receipts_root: p.receipts_root,
                logs_bloom: p.logs_bloom,
                prev_randao: p.prev_randao,
                block_number: p.block_number.0,
                gas_limit: p.gas_limit.0,
                gas_used: p.gas_used.0,
                timestamp: p.timestamp.0,
                extra_data: p.extra_data,
                base_fee_per_gas: p.base_fee_per_gas.0,
                block_hash: p.block_hash,
                transactions: p.transactions,
                withdrawals: p.withdrawals.map(|list| {
                    list.into_iter()
                        .map(|w| Withdrawal {
                            index: w.index.0,
                            validator_index: w.validator_index.0,
                            address: w.address,
                            amount: w.amount.0,
                        })
                        .collect()
                }),
                blob_gas_used: p.blob_gas_used.map(|v| v.0),
                excess_blob_gas: p.excess_blob_gas.map(|v| v.0),
                withdrawals_root: p.withdrawals_root,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use op_p2p_types::PayloadVersion;
    use proptest::prelude::*;

    use super::*;

    fn json(extra: &str, beacon: bool) -> String {
        let beacon = if beacon {
            format!(r#""parentBeaconBlockRoot": "0x{}","#, "22".repeat(32))
        } else {
            String::new()
        };
        format!(
            r#"{{{beacon} "executionPayload": {{
                "parentHash": "0x{h}", "feeRecipient": "0x{a}", "stateRoot": "0x{h}",
                "receiptsRoot": "0x{h}", "logsBloom": "0x{bloom}", "prevRandao": "0x{h}",
                "blockNumber": "0x10", "gasLimit": "0x1c9c380", "gasUsed": "0x0",
                "timestamp": "0x64", "extraData": "0x", "baseFeePerGas": "0x3b9aca00",
                "blockHash": "0x{h}", "transactions": ["0x7e01"] {extra} }} }}"#,
            h = "11".repeat(32),
            a = "42".repeat(20),
            bloom = "00".repeat(256),
        )
    }

    fn parse(text: &str) -> Result<ExecutionPayloadEnvelope, String> {
        serde_json::from_str::<EnvelopeJson>(text)
            .map_err(|e| e.to_string())?
            .into_envelope()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn each_version_from_its_fields() {
        let v1 = parse(&json("", false)).unwrap();
        assert_eq!(v1.version(), PayloadVersion::V1);
        let p = &v1.execution_payload;
        assert_eq!(
            (p.block_number, p.gas_limit, p.timestamp),
            (16, 30_000_000, 100)
        );
        assert_eq!(p.base_fee_per_gas, U256::from(1_000_000_000u64));
        assert_eq!(p.transactions, [Bytes::from(vec![0x7e, 0x01])]);
        let v2 = parse(&json(r#", "withdrawals": []"#, false)).unwrap();
        assert_eq!(v2.version(), PayloadVersion::V2);
        let v3 = parse(&json(
            r#", "withdrawals": [], "blobGasUsed": "0x0", "excessBlobGas": "0x0""#,
            true,
        ))
        .unwrap();
        assert_eq!(v3.version(), PayloadVersion::V3);
        assert_eq!(v3.parent_beacon_block_root, Some(B256::repeat_byte(0x22)));
        let v4 = parse(&json(
            &format!(
                r#", "withdrawals": [], "blobGasUsed": "0x0", "excessBlobGas": "0x0",
                "withdrawalsRoot": "0x{}""#,
                "33".repeat(32)
            ),
            true,
        ))
        .unwrap();
        assert_eq!(v4.version(), PayloadVersion::V4);
    }

    #[test]
    fn malformed_fields_are_refused() {
        // A missing field, an unknown field, a quantity that is not hex, a short hash.
        assert!(parse(&json("", false).replace(r#""gasUsed": "0x0","#, "")).is_err());
        assert!(parse(&json(r#", "surprise": 1"#, false)).is_err());
        assert!(parse(&json("", false).replace(r#""0x64""#, "100")).is_err());
        assert!(parse(&json("", false).replace(&"11".repeat(32), "11")).is_err());
        assert!(parse(&json("", false).replace(r#""0x64""#, r#""0x064""#)).is_err());
        assert!(parse(&json("", false).replace(r#""0x64""#, r#""64""#)).is_err());
        assert!(
            parse(
                &json("", false).replace(r#""0x3b9aca00""#, &format!(r#""0x1{}""#, "0".repeat(64)))
            )
            .is_err()
        );
        let withdrawal = r#", "withdrawals": [{"index": "0x1", "validatorIndex": "0x2",
            "address": "0x4242424242424242424242424242424242424242", "amount": "0x3"}]"#;
        let w = parse(&json(withdrawal, false)).unwrap();
        assert_eq!(
            w.execution_payload.withdrawals.unwrap()[0].validator_index,
            2
        );
    }

    proptest! {
        /// Arbitrary text never panics the parser, and what parses converts or says why not.
        #[test]
        fn arbitrary_json_never_panics(text in ".{0,400}") {
            if let Ok(envelope) = serde_json::from_str::<EnvelopeJson>(&text) {
                let _ = envelope.into_envelope();
            }
        }

        /// Field values survive the round trip through the JSON text.
        #[test]
        fn quantities_round_trip(number in any::<u64>(), time in any::<u64>()) {
            let text = json("", false)
                .replace(r#""blockNumber": "0x10""#, &format!(r#""blockNumber": "{:#x}""#, number))
                .replace(r#""timestamp": "0x64""#, &format!(r#""timestamp": "{:#x}""#, time));
            let envelope = parse(&text).unwrap();
            prop_assert_eq!(envelope.execution_payload.block_number, number);
            prop_assert_eq!(envelope.execution_payload.timestamp, time);
        }
    }
}
