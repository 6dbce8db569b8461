//! SSZ encoding of execution payloads and envelopes, byte-compatible with op-node's hand-written
//! `op-service/eth/ssz.go` (spec §12.1).
//!
//! The container (fixed fields and offsets) goes through `ethereum_ssz`. The transactions list is
//! walked here by hand, for two reasons `ethereum_ssz` cannot serve: op-node's 2^20 limit and
//! error cases must be matched exactly, and each transaction must come out as a zero-copy slice
//! of the message buffer (its `Decode` trait only sees a borrowed `&[u8]`, so it would copy every
//! transaction of a 10 MiB block).

use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{Address, B256, Bloom, Bytes, U256};
use ssz::{BYTES_PER_LENGTH_OFFSET, Decode, SszDecoderBuilder, SszEncoder};

use crate::{
    error::SszError,
    payload::{
        ExecutionPayload, ExecutionPayloadEnvelope, MAX_EXTRA_DATA_BYTES,
        MAX_TRANSACTIONS_PER_PAYLOAD, MAX_WITHDRAWALS_PER_PAYLOAD, PayloadVersion,
        WITHDRAWAL_SSZ_LEN,
    },
};

impl ExecutionPayload {
    /// Decodes a bare SSZ payload of `version`. Transactions and extra data are slices of
    /// `bytes`, not copies.
    pub fn decode_ssz(version: PayloadVersion, bytes: &Bytes) -> Result<Self, SszError> {
        let fixed = version.ssz_fixed_len();
        if bytes.len() < fixed {
            return Err(SszError::TooShort {
                len: bytes.len(),
                fixed,
            });
        }
        let mut builder = SszDecoderBuilder::new(bytes);
        builder.register_type::<B256>()?; // parent_hash
        builder.register_type::<Address>()?; // fee_recipient
        builder.register_type::<B256>()?; // state_root
        builder.register_type::<B256>()?; // receipts_root
        builder.register_type::<Bloom>()?; // logs_bloom
        builder.register_type::<B256>()?; // prev_randao
        for _ in 0..4 {
            builder.register_type::<u64>()?; // number, gas limit, gas used, timestamp
        }
        builder.register_anonymous_variable_length_item()?; // extra_data
        builder.register_type::<U256>()?; // base_fee_per_gas
        builder.register_type::<B256>()?; // block_hash
        builder.register_anonymous_variable_length_item()?; // transactions
        if version >= PayloadVersion::V2 {
            builder.register_anonymous_variable_length_item()?; // withdrawals
        }
        if version >= PayloadVersion::V3 {
            builder.register_type::<u64>()?; // blob_gas_used
            builder.register_type::<u64>()?; // excess_blob_gas
        }
        if version >= PayloadVersion::V4 {
            builder.register_type::<B256>()?; // withdrawals_root
        }
        // `build` checks op-node's offset rules: extraData's offset equals the fixed size, and
        // each later offset is no smaller than the one before and within the payload.
        let mut d = builder.build()?;

        let parent_hash = d.decode_next()?;
        let fee_recipient = d.decode_next()?;
        let state_root = d.decode_next()?;
        let receipts_root = d.decode_next()?;
        let logs_bloom = d.decode_next()?;
        let prev_randao = d.decode_next()?;
        let block_number = d.decode_next()?;
        let gas_limit = d.decode_next()?;
        let gas_used = d.decode_next()?;
        let timestamp = d.decode_next()?;
        let extra_data: &[u8] = d.decode_next_with(Ok)?;
        if extra_data.len() > MAX_EXTRA_DATA_BYTES {
            return Err(SszError::ExtraDataTooLong(extra_data.len()));
        }
        let extra_data = Bytes(bytes.0.slice_ref(extra_data));
        let base_fee_per_gas = d.decode_next()?;
        let block_hash = d.decode_next()?;
        let transactions = decode_transactions(bytes, d.decode_next_with(Ok)?)?;
        let withdrawals = if version >= PayloadVersion::V2 {
            Some(decode_withdrawals(d.decode_next_with(Ok)?)?)
        } else {
            None
        };
        let (blob_gas_used, excess_blob_gas) = if version >= PayloadVersion::V3 {
            (Some(d.decode_next()?), Some(d.decode_next()?))
        } else {
            (None, None)
        };
        let withdrawals_root = if version >= PayloadVersion::V4 {
            Some(d.decode_next()?)
        } else {
            None
        };

        Ok(Self {
            parent_hash,
            fee_recipient,
            state_root,
            receipts_root,
            logs_bloom,
            prev_randao,
            block_number,
            gas_limit,
            gas_used,
            timestamp,
            extra_data,
            base_fee_per_gas,
            block_hash,
            transactions,
            withdrawals,
            blob_gas_used,
            excess_blob_gas,
            withdrawals_root,
        })
    }

    /// Appends the SSZ encoding at [`Self::version`] to `buf`.
    ///
    /// Encoding does not enforce the decode limits: a payload with 33 bytes of extra data
    /// encodes, and then fails to decode, as it would in op-node.
    pub fn encode_ssz_to(&self, buf: &mut Vec<u8>) {
        let version = self.version();
        buf.reserve(self.ssz_len());
        let mut enc = SszEncoder::container(buf, version.ssz_fixed_len());
        enc.append(&self.parent_hash);
        enc.append(&self.fee_recipient);
        enc.append(&self.state_root);
        enc.append(&self.receipts_root);
        enc.append(&self.logs_bloom);
        enc.append(&self.prev_randao);
        enc.append(&self.block_number);
        enc.append(&self.gas_limit);
        enc.append(&self.gas_used);
        enc.append(&self.timestamp);
        enc.append_parameterized(false, |b| b.extend_from_slice(&self.extra_data));
        enc.append(&self.base_fee_per_gas);
        enc.append(&self.block_hash);
        enc.append_parameterized(false, |b| encode_transactions(&self.transactions, b));
        if version >= PayloadVersion::V2 {
            let withdrawals = self.withdrawals.as_deref().unwrap_or_default();
            enc.append_parameterized(false, |b| encode_withdrawals(withdrawals, b));
        }
        if version >= PayloadVersion::V3 {
            enc.append(&self.blob_gas_used.unwrap_or_default());
            enc.append(&self.excess_blob_gas.unwrap_or_default());
        }
        if version >= PayloadVersion::V4 {
            enc.append(&self.withdrawals_root.unwrap_or_default());
        }
        enc.finalize();
    }

    /// The SSZ encoding at [`Self::version`].
    pub fn encode_ssz(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.encode_ssz_to(&mut buf);
        buf
    }

    /// Length of the SSZ encoding at [`Self::version`].
    pub fn ssz_len(&self) -> usize {
        let txs: usize = self
            .transactions
            .iter()
            .map(|tx| BYTES_PER_LENGTH_OFFSET + tx.len())
            .sum();
        let withdrawals = self.withdrawals.as_ref().map_or(0, Vec::len) * WITHDRAWAL_SSZ_LEN;
        self.version().ssz_fixed_len() + self.extra_data.len() + txs + withdrawals
    }
}

impl ExecutionPayloadEnvelope {
    /// Decodes the bytes signed in a gossip message or sent as a `payload_by_number` body:
    /// the bare payload for v1/v2, the 32-byte parent beacon block root followed directly by the
    /// payload for v3/v4. The envelope is a plain concatenation, not an SSZ container.
    pub fn decode_ssz(version: PayloadVersion, bytes: &Bytes) -> Result<Self, SszError> {
        if !version.has_parent_beacon_root() {
            return Ok(Self {
                parent_beacon_block_root: None,
                execution_payload: ExecutionPayload::decode_ssz(version, bytes)?,
            });
        }
        let Some(root) = bytes.get(..32) else {
            return Err(SszError::EnvelopeTooShort { len: bytes.len() });
        };
        Ok(Self {
            parent_beacon_block_root: Some(B256::from_slice(root)),
            execution_payload: ExecutionPayload::decode_ssz(version, &bytes.slice(32..))?,
        })
    }

    /// Appends the encoding [`Self::decode_ssz`] reads, at [`Self::version`].
    pub fn encode_ssz_to(&self, buf: &mut Vec<u8>) {
        if self.version().has_parent_beacon_root() {
            buf.extend_from_slice(self.parent_beacon_block_root.unwrap_or_default().as_slice());
        }
        self.execution_payload.encode_ssz_to(buf);
    }

    /// The encoding [`Self::decode_ssz`] reads, at [`Self::version`].
    pub fn encode_ssz(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(32 + self.execution_payload.ssz_len());
        self.encode_ssz_to(&mut buf);
        buf
    }
}

/// Walks the transactions offset table (op-node `unmarshalTransactions`).
fn decode_transactions(whole: &Bytes, section: &[u8]) -> Result<Vec<Bytes>, SszError> {
    if section.is_empty() {
        return Ok(Vec::new());
    }
    let bad = |what: &str| SszError::TransactionOffsets(what.to_owned());
    let first = ssz::read_offset(section)?;
    if !first.is_multiple_of(BYTES_PER_LENGTH_OFFSET) {
        return Err(bad("first offset is not a multiple of 4"));
    }
    if first == 0 {
        return Err(bad("non-empty section with zero transactions"));
    }
    if first > section.len() {
        return Err(bad("first offset beyond the section"));
    }
    let count = first / BYTES_PER_LENGTH_OFFSET;
    if count > MAX_TRANSACTIONS_PER_PAYLOAD {
        return Err(SszError::TooManyTransactions(count));
    }
    // `count` is bounded by the section length / 4, so this allocation is bounded by the input.
    let mut txs = Vec::with_capacity(count);
    let mut start = first;
    for i in 1..=count {
        let end = if i == count {
            section.len()
        } else {
            let end = ssz::read_offset(&section[i * BYTES_PER_LENGTH_OFFSET..])?;
            if end < start {
                return Err(bad("offsets decrease"));
            }
            if end > section.len() {
                return Err(bad("offset beyond the section"));
            }
            end
        };
        txs.push(Bytes(whole.0.slice_ref(&section[start..end])));
        start = end;
    }
    Ok(txs)
}

fn decode_withdrawals(section: &[u8]) -> Result<Vec<Withdrawal>, SszError> {
    if !section.len().is_multiple_of(WITHDRAWAL_SSZ_LEN) {
        return Err(SszError::WithdrawalsLength(section.len()));
    }
    let count = section.len() / WITHDRAWAL_SSZ_LEN;
    if count > MAX_WITHDRAWALS_PER_PAYLOAD {
        return Err(SszError::TooManyWithdrawals(count));
    }
    section
        .chunks_exact(WITHDRAWAL_SSZ_LEN)
        .map(|w| {
            Ok(Withdrawal {
                index: u64::from_ssz_bytes(&w[0..8])?,
                validator_index: u64::from_ssz_bytes(&w[8..16])?,
                address: Address::from_ssz_bytes(&w[16..36])?,
                amount: u64::from_ssz_bytes(&w[36..44])?,
            })
        })
        .collect()
}

fn encode_transactions(txs: &[Bytes], buf: &mut Vec<u8>) {
    let mut offset = txs.len() * BYTES_PER_LENGTH_OFFSET;
    for tx in txs {
        buf.extend_from_slice(&ssz::encode_length(offset));
        offset += tx.len();
    }
    for tx in txs {
        buf.extend_from_slice(tx);
    }
}

fn encode_withdrawals(withdrawals: &[Withdrawal], buf: &mut Vec<u8>) {
    for w in withdrawals {
        buf.extend_from_slice(&w.index.to_le_bytes());
        buf.extend_from_slice(&w.validator_index.to_le_bytes());
        buf.extend_from_slice(w.address.as_slice());
        buf.extend_from_slice(&w.amount.to_le_bytes());
    }
}
