//! Full verification of a realistic Isthmus gossip message against its floor.
//!
//! The message: a V4 block of ~250 transactions, ~120 KB decoded. "Full" is what a validator
//! does before its stateful rules: snappy decompression, signer recovery (keccak over the body,
//! one ecrecover), SSZ decoding, and block-hash recomputation (transactions trie + header).
//! The floor is the sum of the unavoidable parts timed alone: decompression, one keccak pass
//! over the body, one ecrecover, and the transactions trie root.
//!
//! Run: `cargo bench -p op-p2p-types` (or `cargo xtask bench types`).

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use criterion::{Criterion, Throughput};
use op_p2p_types::{
    BlockSigner, ExecutionPayload, ExecutionPayloadEnvelope, PayloadVersion, SignedBlockMessage,
    recover_signer, signing_hash, transactions_root,
};

const CHAIN_ID: u64 = 11_155_420;
const TXS: usize = 250;

/// Deterministic xorshift, so every run benches the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn fill(&mut self, buf: &mut Vec<u8>, n: usize) {
        buf.extend((0..n).map(|_| self.next() as u8));
    }
}

/// A transaction shaped like an EIP-1559 call: a type byte, an RLP prefix, random-looking
/// addresses, values and signature (incompressible), and calldata that is partly ABI zero
/// padding (compressible), ~480 bytes on average.
fn transaction(rng: &mut Rng) -> Bytes {
    let mut tx = vec![0x02, 0xf9, 0x01, 0xd0];
    rng.fill(&mut tx, 20 + 32 + 12); // to, value, nonce/gas fields
    let words = 6 + (rng.next() % 10) as usize;
    for _ in 0..words {
        let significant = (rng.next() % 33) as usize;
        tx.extend(std::iter::repeat_n(0, 32 - significant));
        rng.fill(&mut tx, significant);
    }
    rng.fill(&mut tx, 65); // y parity, r, s
    Bytes::from(tx)
}

fn message() -> (SignedBlockMessage, Vec<u8>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut env = ExecutionPayloadEnvelope {
        parent_beacon_block_root: Some(B256::repeat_byte(0xbb)),
        execution_payload: ExecutionPayload {
            parent_hash: B256::repeat_byte(1),
            fee_recipient: Address::repeat_byte(0x42),
            state_root: B256::repeat_byte(2),
            receipts_root: B256::repeat_byte(3),
            prev_randao: B256::repeat_byte(4),
            block_number: 30_000_000,
            gas_limit: 60_000_000,
            gas_used: 29_000_000,
            timestamp: 1_750_000_000,
            extra_data: Bytes::from_static(&[0, 0, 0, 0, 0xfa, 0, 0, 0, 6]),
            base_fee_per_gas: U256::from(252u64),
            transactions: (0..TXS).map(|_| transaction(&mut rng)).collect(),
            withdrawals: Some(vec![]),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            withdrawals_root: Some(B256::repeat_byte(5)),
            ..Default::default()
        },
    };
    env.execution_payload.block_hash = env.compute_block_hash().expect("base fee fits");
    let signer = BlockSigner::new(B256::repeat_byte(1)).expect("valid key");
    let msg = SignedBlockMessage::sign(&signer, CHAIN_ID, &env);
    let wire = msg.encode();
    (msg, wire)
}

/// Decompress, then every check one after another on this core.
fn verify_sequential(wire: &[u8]) -> bool {
    let Ok(msg) = SignedBlockMessage::decode(wire) else {
        return false;
    };
    let signer_ok = msg.recover_signer(CHAIN_ID).is_ok();
    let Ok(env) = msg.decode_envelope(PayloadVersion::V4) else {
        return false;
    };
    signer_ok && env.check_block_hash().is_ok()
}

/// Decompress, then the library's `check`, which splits the work over two cores.
fn verify_parallel(wire: &[u8]) -> bool {
    let Ok(msg) = SignedBlockMessage::decode(wire) else {
        return false;
    };
    let checks = msg.check(CHAIN_ID, PayloadVersion::V4);
    checks.signer.is_ok() && matches!(checks.payload, Ok((_, Ok(()))))
}

struct Parts {
    wire: Vec<u8>,
    body: Bytes,
    hash: B256,
    signature: [u8; 65],
    txs: Vec<Bytes>,
}

fn parts() -> Parts {
    let (msg, wire) = message();
    let env = msg
        .decode_envelope(PayloadVersion::V4)
        .expect("valid message");
    Parts {
        body: msg.signed_bytes(),
        hash: signing_hash(CHAIN_ID, msg.payload_hash()),
        signature: *msg.signature(),
        txs: env.execution_payload.transactions,
        wire,
    }
}

type Op<'a> = Box<dyn Fn() + 'a>;

fn ops(p: &Parts) -> Vec<(&'static str, Op<'_>)> {
    vec![
        (
            "floor/snappy_decompress",
            Box::new(|| {
                black_box(
                    snap::raw::Decoder::new()
                        .decompress_vec(black_box(&p.wire))
                        .ok(),
                );
            }),
        ),
        (
            "floor/keccak_body",
            Box::new(|| {
                black_box(keccak256(black_box(&p.body)));
            }),
        ),
        (
            "floor/ecrecover",
            Box::new(|| {
                black_box(recover_signer(black_box(p.hash), &p.signature).ok());
            }),
        ),
        (
            "floor/tx_trie_root",
            Box::new(|| {
                black_box(transactions_root(black_box(&p.txs)));
            }),
        ),
        (
            "full/sequential",
            Box::new(|| assert!(verify_sequential(black_box(&p.wire)))),
        ),
        (
            "full/parallel",
            Box::new(|| assert!(verify_parallel(black_box(&p.wire)))),
        ),
    ]
}

/// Median time per call over `rounds` rounds of `iters` calls: a plain loop for the ratio,
/// since criterion's estimates are not available to the program.
fn median(op: &dyn Fn(), rounds: usize, iters: u32) -> Duration {
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                op();
            }
            start.elapsed() / iters
        })
        .collect();
    samples.sort();
    samples[rounds / 2]
}

fn main() {
    let p = parts();
    let ops = ops(&p);
    println!(
        "message: {} txs, {} bytes decoded, {} bytes on the wire",
        p.txs.len(),
        p.body.len() + 65,
        p.wire.len()
    );

    let mut c = Criterion::default().configure_from_args();
    {
        let mut group = c.benchmark_group("verify_v4_120kb");
        group.throughput(Throughput::Elements(1));
        for (name, op) in &ops {
            group.bench_function(*name, |b| b.iter(op));
        }
        group.finish();
    }
    c.final_summary();

    let times: Vec<(&str, Duration)> = ops
        .iter()
        .map(|(name, op)| (*name, median(op.as_ref(), 31, 50)))
        .collect();
    let floor: Duration = times
        .iter()
        .filter(|(n, _)| n.starts_with("floor/"))
        .map(|(_, t)| *t)
        .sum();
    println!("\nsummary (median of 31 rounds x 50 calls):");
    for (name, t) in &times {
        println!("  {name:<24} {:>9.1} µs", t.as_secs_f64() * 1e6);
    }
    println!(
        "  {:<24} {:>9.1} µs",
        "floor (sum)",
        floor.as_secs_f64() * 1e6
    );
    for (name, t) in times.iter().filter(|(n, _)| n.starts_with("full/")) {
        println!(
            "  {name:<24} {:>9.0} msgs/s, {:.2}x the floor",
            1.0 / t.as_secs_f64(),
            t.as_secs_f64() / floor.as_secs_f64()
        );
    }
}
