//! Synthetic user transactions (`--sequencer.block-bytes`, the devnet's `--block-bytes`), so
//! that devnet blocks are the size of a busy chain's (OP Mainnet's run at ~100-150 KB) and
//! gossip, compression and sync carry realistic loads.
//!
//! Each is a signed EIP-1559 transaction (alloy-consensus's `TxEip1559`, EIP-2718 encoded) from
//! a fixed devnet account to a made-up contract, with ABI-shaped calldata: a selector and 32-byte
//! words that are partly zero padding, as real calls are, so they compress as real blocks do.
//! Nothing executes them; their signatures recover to [`user_account`], and the block counts
//! their intrinsic gas.

use alloy_consensus::{SignableTransaction as _, Signed, TxEip1559};
use alloy_eips::eip2718::Encodable2718 as _;
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, keccak256};
use op_p2p_types::BlockSigner;

/// Gas every transaction costs before its calldata (EIP-2028).
const TX_BASE_GAS: u64 = 21_000;
/// Calldata gas per zero byte and per non-zero byte (EIP-2028).
const ZERO_BYTE_GAS: u64 = 4;
/// See [`ZERO_BYTE_GAS`].
const NONZERO_BYTE_GAS: u64 = 16;
/// Calldata words per transaction: 4 to 19, so transactions are 200-700 bytes.
const MIN_WORDS: u64 = 4;
/// See [`MIN_WORDS`].
const WORD_SPREAD: u64 = 16;
/// Priority fee and fee cap, wei.
const PRIORITY_FEE: u128 = 1_000_000;
/// See [`PRIORITY_FEE`].
const MAX_FEE: u128 = 2_000_000_000;

/// The devnet account that sends the synthetic transactions: a fixed, public test key.
pub(crate) fn user_account() -> Option<BlockSigner> {
    BlockSigner::new(keccak256(b"op-p2p devnet user account")).ok()
}

/// Synthetic transactions for block `number` of chain `chain_id`, adding up to about `bytes`
/// bytes (the last one may go over by one transaction) and at most `gas` intrinsic gas;
/// returns them and the gas they use. Deterministic: the same block gets the same ones.
pub(crate) fn user_transactions(
    chain_id: u64,
    number: u64,
    bytes: usize,
    gas: u64,
) -> (Vec<Bytes>, u64) {
    let Some(signer) = user_account() else {
        return (Vec::new(), 0);
    };
    // A small deterministic generator: the bytes only have to look like transactions.
    let mut rng = XorShift(
        u64::from_be_bytes(
            keccak256(number.to_be_bytes())[..8]
                .try_into()
                .unwrap_or([1; 8]),
        ) | 1,
    );
    let (mut out, mut total, mut used) = (Vec::new(), 0usize, 0u64);
    // Nonces continue from block to block: one sender, at most this many per block.
    let mut nonce = number.saturating_mul(10_000);
    while total < bytes {
        let input = calldata(&mut rng);
        let cost = intrinsic_gas(&input);
        if used.saturating_add(cost) > gas {
            break;
        }
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: cost + 50_000,
            max_fee_per_gas: MAX_FEE,
            max_priority_fee_per_gas: PRIORITY_FEE,
            to: TxKind::Call(Address::from_word(B256::from(U256::from(rng.next())))),
            value: U256::from(rng.next() % 1_000_000_000_000),
            access_list: Default::default(),
            input: input.into(),
        };
        let hash = tx.signature_hash();
        let Ok(signature) = Signature::from_raw_array(&signer.sign_hash(hash)) else {
            break;
        };
        let encoded: Bytes = Signed::new_unhashed(tx, signature).encoded_2718().into();
        total += encoded.len();
        used += cost;
        nonce += 1;
        out.push(encoded);
    }
    (out, used)
}

/// A selector and ABI words, each with 0 to 32 significant bytes behind zero padding.
fn calldata(rng: &mut XorShift) -> Vec<u8> {
    let words = MIN_WORDS + rng.next() % WORD_SPREAD;
    let mut out = rng.next().to_be_bytes()[..4].to_vec();
    for _ in 0..words {
        let significant = (rng.next() % 33) as usize;
        out.extend(std::iter::repeat_n(0, 32 - significant));
        out.extend((0..significant).map(|_| rng.next() as u8));
    }
    out
}

/// EIP-2028 intrinsic gas of a call with `input`.
fn intrinsic_gas(input: &[u8]) -> u64 {
    input.iter().fold(TX_BASE_GAS, |gas, b| {
        gas + if *b == 0 {
            ZERO_BYTE_GAS
        } else {
            NONZERO_BYTE_GAS
        }
    })
}

/// xorshift64: deterministic filler bytes, not randomness anyone relies on.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[cfg(test)]
mod tests {
    use alloy_consensus::{Transaction as _, TxEnvelope};
    use alloy_eips::eip2718::Decodable2718 as _;

    use super::*;

    #[test]
    fn fill_about_the_requested_bytes_with_signed_eip1559_transactions() {
        let (txs, gas) = user_transactions(901, 7, 120_000, 30_000_000);
        let total: usize = txs.iter().map(|tx| tx.len()).sum();
        assert!((120_000..121_000).contains(&total), "{total} bytes");
        assert!(txs.len() > 150, "{} transactions", txs.len());
        let sender = user_account().unwrap().address();
        let mut expected_gas = 0;
        for (i, raw) in txs.iter().enumerate() {
            let envelope = TxEnvelope::decode_2718(&mut &raw[..]).unwrap();
            let TxEnvelope::Eip1559(signed) = &envelope else {
                panic!("not EIP-1559: {envelope:?}");
            };
            let sig = signed.signature();
            let mut raw_sig = [0u8; 65];
            raw_sig[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
            raw_sig[32..64].copy_from_slice(&sig.s().to_be_bytes::<32>());
            raw_sig[64] = u8::from(sig.v());
            let signer = op_p2p_types::recover_signer(signed.signature_hash(), &raw_sig);
            assert_eq!(signer.unwrap(), sender);
            assert_eq!(signed.tx().chain_id, 901);
            assert_eq!(signed.tx().nonce, 70_000 + i as u64);
            expected_gas += intrinsic_gas(signed.tx().input());
        }
        assert_eq!(gas, expected_gas);
        // Deterministic per block, different across blocks.
        assert_eq!(user_transactions(901, 7, 120_000, 30_000_000).0, txs);
        assert_ne!(user_transactions(901, 8, 120_000, 30_000_000).0[0], txs[0]);
    }

    #[test]
    fn zero_bytes_or_no_gas_means_none() {
        assert_eq!(user_transactions(901, 1, 0, 30_000_000), (Vec::new(), 0));
        assert_eq!(user_transactions(901, 1, 120_000, 20_000), (Vec::new(), 0));
    }
}
