//! The deposits are checked against what this module does not share code with: the selectors
//! against keccak256 of the function signatures, the calldata against the byte offsets of the
//! OP Stack specs' tables (read back below by a reader of its own), the transaction against
//! op-alloy-consensus's `OpTxEnvelope` decoder, the source hash against its formula written
//! out, and the whole encoding against L1-info deposits that op-node produced on live chains.

use alloy_eips::eip2718::Decodable2718 as _;
use alloy_primitives::{Address, B256, U256, b256, hex};
use op_alloy_consensus::OpTxEnvelope;
use op_p2p_types::{Genesis, GenesisBlock, RollupConfig};

use super::*;

/// A rollup with 2 s blocks from genesis at 1_000, Regolith at genesis and the given later
/// forks (`None`: not scheduled).
fn rollup(ecotone: Option<u64>, isthmus: Option<u64>, jovian: Option<u64>) -> RollupConfig {
    RollupConfig {
        block_time: 2,
        l2_chain_id: 901,
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            l2_time: 1_000,
        },
        regolith_time: Some(0),
        canyon_time: Some(0),
        delta_time: Some(0),
        ecotone_time: ecotone,
        fjord_time: ecotone,
        granite_time: ecotone,
        holocene_time: ecotone,
        isthmus_time: isthmus,
        jovian_time: jovian,
    }
}

/// The deposit's fields, as a decoder that knows only the specs' tables reads them.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    source_hash: B256,
    from: Address,
    to: Option<Address>,
    mint: u128,
    value: U256,
    gas: u64,
    is_system: bool,
    selector: [u8; 4],
    info: L1BlockInfo,
}

fn be_u64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes[bytes.len() - 8..].try_into().unwrap())
}

/// Reads calldata by the specs' byte offsets (protocol/deposits.md for Bedrock, then the
/// `l1-attributes.md` of Ecotone, Isthmus and Jovian).
fn read_calldata(data: &[u8]) -> ([u8; 4], L1BlockInfo) {
    let selector: [u8; 4] = data[..4].try_into().unwrap();
    let word = |i: usize| &data[4 + 32 * i..4 + 32 * (i + 1)];
    let mut info = L1BlockInfo::default();
    if data.len() == 260 {
        info.number = be_u64(word(0));
        info.time = be_u64(word(1));
        info.base_fee = U256::from_be_slice(word(2));
        info.block_hash = B256::from_slice(word(3));
        info.sequence_number = be_u64(word(4));
        info.batcher_address = Address::from_slice(&word(5)[12..]);
        info.l1_fee_overhead = B256::from_slice(word(6));
        info.l1_fee_scalar = B256::from_slice(word(7));
        return (selector, info);
    }
    assert!(
        [164, 176, 178].contains(&data.len()),
        "length {}",
        data.len()
    );
    info.base_fee_scalar = u32::from_be_bytes(data[4..8].try_into().unwrap());
    info.blob_base_fee_scalar = u32::from_be_bytes(data[8..12].try_into().unwrap());
    info.sequence_number = be_u64(&data[12..20]);
    info.time = be_u64(&data[20..28]);
    info.number = be_u64(&data[28..36]);
    info.base_fee = U256::from_be_slice(&data[36..68]);
    info.blob_base_fee = U256::from_be_slice(&data[68..100]);
    info.block_hash = B256::from_slice(&data[100..132]);
    assert_eq!(&data[132..144], &[0; 12], "batcherHash version 0");
    info.batcher_address = Address::from_slice(&data[144..164]);
    if data.len() >= 176 {
        info.operator_fee_scalar = u32::from_be_bytes(data[164..168].try_into().unwrap());
        info.operator_fee_constant = be_u64(&data[168..176]);
    }
    if data.len() == 178 {
        info.da_footprint_gas_scalar = u16::from_be_bytes(data[176..178].try_into().unwrap());
    }
    (selector, info)
}

/// Decodes an L1-info deposit with op-alloy-consensus and the spec reader.
fn decode(tx: &[u8]) -> Decoded {
    let envelope = OpTxEnvelope::decode_2718(&mut &tx[..]).expect("a valid EIP-2718 envelope");
    let deposit = envelope.as_deposit().expect("a deposit (type 0x7e)");
    let (selector, info) = read_calldata(&deposit.input);
    Decoded {
        source_hash: deposit.source_hash,
        from: deposit.from,
        to: deposit.to.to().copied(),
        mint: deposit.mint,
        value: deposit.value,
        gas: deposit.gas_limit,
        is_system: deposit.is_system_transaction,
        selector,
        info,
    }
}

/// The L1-info source hash, written out: keccak256(bytes32(1) ‖ keccak256(l1Hash ‖
/// bytes32(seqNumber))).
fn expected_source_hash(l1_hash: B256, seq: u64) -> B256 {
    let mut inner = l1_hash.to_vec();
    inner.extend_from_slice(&U256::from(seq).to_be_bytes::<32>());
    let mut outer = U256::from(1).to_be_bytes::<32>().to_vec();
    outer.extend_from_slice(keccak256(inner).as_slice());
    keccak256(outer)
}

/// Zeroes the fields `form` does not carry.
fn carried(info: L1BlockInfo, form: L1InfoForm) -> L1BlockInfo {
    let mut out = info;
    if form == L1InfoForm::Bedrock {
        out.blob_base_fee = U256::ZERO;
        out.base_fee_scalar = 0;
        out.blob_base_fee_scalar = 0;
    } else {
        out.l1_fee_overhead = B256::ZERO;
        out.l1_fee_scalar = B256::ZERO;
    }
    if matches!(form, L1InfoForm::Bedrock | L1InfoForm::Ecotone) {
        out.operator_fee_scalar = 0;
        out.operator_fee_constant = 0;
    }
    if form != L1InfoForm::Jovian {
        out.da_footprint_gas_scalar = 0;
    }
    out
}

#[test]
fn selectors_are_the_signatures_keccak() {
    for (form, signature) in [
        (
            L1InfoForm::Bedrock,
            "setL1BlockValues(uint64,uint64,uint256,bytes32,uint64,bytes32,uint256,uint256)",
        ),
        (L1InfoForm::Ecotone, "setL1BlockValuesEcotone()"),
        (L1InfoForm::Isthmus, "setL1BlockValuesIsthmus()"),
        (L1InfoForm::Jovian, "setL1BlockValuesJovian()"),
    ] {
        assert_eq!(form.selector(), keccak256(signature)[..4], "{form:?}");
    }
}

/// Per fork: the sequencer's deposit for a block decodes, with an independent decoder, into
/// the fields it was built from, in that fork's form and length.
#[test]
fn each_forks_deposit_decodes_into_its_fields() {
    let cases = [
        (rollup(None, None, None), L1InfoForm::Bedrock, 260),
        (rollup(Some(0), None, None), L1InfoForm::Ecotone, 164),
        (rollup(Some(0), Some(0), None), L1InfoForm::Isthmus, 176),
        (rollup(Some(0), Some(0), Some(0)), L1InfoForm::Jovian, 178),
    ];
    for (rollup, form, len) in cases {
        // Block 7 at 1_014: origin 1_001 (L1 time 1_012), sequence number 1.
        let t = rollup.timestamp_for_block(7).unwrap();
        let mut info = synthetic_l1_info(&rollup, t);
        info.operator_fee_scalar = 0xabcd;
        info.operator_fee_constant = 0xdcba;
        let tx = l1_info_deposit(&rollup, &info, t);
        assert_eq!(tx[0], 0x7e, "{form:?}");
        let decoded = decode(&tx);
        assert_eq!(
            decoded,
            Decoded {
                source_hash: expected_source_hash(info.block_hash, info.sequence_number),
                from: address!("0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001"),
                to: Some(address!("0x4200000000000000000000000000000000000015")),
                mint: 0,
                value: U256::ZERO,
                gas: 1_000_000,
                is_system: false,
                selector: form.selector(),
                info: carried(info, form),
            },
            "{form:?}"
        );
        let envelope = OpTxEnvelope::decode_2718(&mut &tx[..]).unwrap();
        assert_eq!(envelope.as_deposit().unwrap().input.len(), len, "{form:?}");
        assert_eq!(
            (
                decoded.info.number,
                decoded.info.time,
                decoded.info.sequence_number
            ),
            (1_001, 1_012, 1),
            "{form:?}"
        );
    }
}

#[test]
fn before_regolith_it_is_a_system_transaction_with_150m_gas() {
    let mut rollup = rollup(None, None, None);
    rollup.regolith_time = Some(2_000);
    let info = synthetic_l1_info(&rollup, 1_002);
    let decoded = decode(&l1_info_deposit(&rollup, &info, 1_002));
    assert_eq!((decoded.gas, decoded.is_system), (150_000_000, true));
}

/// op-node uses a fork's form from the block after its activation block: the activation block
/// runs before the `L1Block` upgrade.
#[test]
fn the_activation_block_keeps_the_previous_form() {
    // Genesis 1_000, 2 s blocks: Ecotone at 1_004, Isthmus at 1_008, Jovian at 1_012.
    let rollup = rollup(Some(1_004), Some(1_008), Some(1_012));
    let forms: Vec<_> = (1_002..=1_016)
        .step_by(2)
        .map(|t| L1InfoForm::at(&rollup, t))
        .collect();
    use L1InfoForm::*;
    assert_eq!(
        forms,
        [
            Bedrock, Bedrock, Ecotone, Ecotone, Isthmus, Isthmus, Jovian, Jovian
        ]
    );
    // A fork active from genesis has no activation block after genesis.
    let from_genesis = super::tests::rollup(Some(0), Some(0), Some(0));
    assert_eq!(L1InfoForm::at(&from_genesis, 1_002), Jovian);
    // op-node: a timestamp below one block time is never an activation block.
    let early = super::tests::rollup(Some(0), None, None);
    assert_eq!(
        L1InfoForm::at(
            &RollupConfig {
                genesis: Genesis::default(),
                ..early
            },
            1
        ),
        Ecotone
    );
}

/// The synthetic L1 origin advances every 12 s; the sequence number counts the L2 blocks since
/// and restarts at 0 with each new origin.
#[test]
fn sequence_numbers_restart_with_each_l1_origin() {
    let rollup = rollup(Some(0), Some(0), None);
    let infos: Vec<_> = (1..=13)
        .map(|n| synthetic_l1_info(&rollup, rollup.timestamp_for_block(n).unwrap()))
        .collect();
    let seqs: Vec<u64> = infos.iter().map(|i| i.sequence_number).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1]);
    let numbers: Vec<u64> = infos.iter().map(|i| i.number).collect();
    assert_eq!(
        numbers,
        [
            1_000, 1_000, 1_000, 1_000, 1_000, 1_001, 1_001, 1_001, 1_001, 1_001, 1_001, 1_002,
            1_002
        ]
    );
    for (n, info) in (1u64..).zip(&infos) {
        let t = rollup.timestamp_for_block(n).unwrap();
        assert!(info.time <= t && t - info.time < L1_BLOCK_TIME);
        assert_eq!(info.time, 1_000 + 12 * (info.number - 1_000));
        assert!((1_000_000_000u64..5_000_000_000).contains(&info.base_fee.to::<u64>()));
        assert!(info.blob_base_fee >= U256::from(1));
    }
    // One origin, one hash and fee; a new origin, a new hash.
    assert_eq!(infos[0].block_hash, infos[4].block_hash);
    assert_eq!(infos[0].base_fee, infos[4].base_fee);
    assert_ne!(infos[4].block_hash, infos[5].block_hash);
    // L2 blocks longer than L1's: a new origin every block, one L1 block further each time.
    let slow = RollupConfig {
        block_time: 60,
        ..rollup
    };
    let origins: Vec<(u64, u64)> = (1..=3)
        .map(|n| synthetic_l1_info(&slow, slow.timestamp_for_block(n).unwrap()))
        .map(|i| (i.number, i.sequence_number))
        .collect();
    assert_eq!(origins, [(1_001, 0), (1_002, 0), (1_003, 0)]);
    // Another chain has another L1.
    let other = RollupConfig {
        l2_chain_id: 902,
        ..rollup
    };
    assert_ne!(
        synthetic_l1_info(&other, 1_002).block_hash,
        infos[0].block_hash
    );
}

/// An Ecotone L1-info deposit op-node produced on Base mainnet (transaction 0xc468b38a…, L1
/// origin 20,563,189; also a test vector of op-alloy-consensus): decoded, and re-encoded here
/// byte for byte, source hash included.
#[test]
fn reproduces_a_mainnet_ecotone_deposit() {
    let mainnet = hex!(
        "7ef8f8a0417d134467f4737fcdf2475f0ecdd2a0ed6d87ecffc888ba9f60ee7e3b8ac26a94deaddeaddeaddeaddeaddeaddeaddeaddead00019442000000000000000000000000000000000000158080830f424080b8a4440a5e20000008dd00101c1200000000000000040000000066c352bb000000000139c4f500000000000000000000000000000000000000000000000000000000c0cff1460000000000000000000000000000000000000000000000000000000000000001d4c88f4065ac9671e8b1329b90773e89b5ddff9cf8675b2b5e9c1b28320609930000000000000000000000005050f69a9786f081509234f1a7f4684b5e5b76c9"
    );
    let decoded = decode(&mainnet);
    assert_eq!(decoded.selector, L1InfoForm::Ecotone.selector());
    assert_eq!(
        (
            decoded.info.number,
            decoded.info.sequence_number,
            decoded.info.base_fee_scalar
        ),
        (20_563_189, 4, 2_269)
    );
    assert_eq!(
        decoded.source_hash,
        expected_source_hash(decoded.info.block_hash, decoded.info.sequence_number)
    );
    let ecotone = rollup(Some(0), None, None);
    let ours = l1_info_deposit(&ecotone, &decoded.info, 1_002);
    assert_eq!(ours.as_ref(), mainnet.as_slice());
}

/// OP Mainnet Bedrock calldata (L1 block 18,334,955) and an Isthmus vector with operator fees,
/// from kona-protocol's tests: decoded by the spec reader, re-encoded here identically.
#[test]
fn reproduces_bedrock_and_isthmus_calldata_vectors() {
    let bedrock = hex!(
        "015d8eb9000000000000000000000000000000000000000000000000000000000117c4eb0000000000000000000000000000000000000000000000000000000065280377000000000000000000000000000000000000000000000000000000026d05d953392012032675be9f94aae5ab442de73c5f4fb1bf30fa7dd0d2442239899a40fc00000000000000000000000000000000000000000000000000000000000000040000000000000000000000006887246668a3b87f54deb3b94ba47a6f63f3298500000000000000000000000000000000000000000000000000000000000000bc00000000000000000000000000000000000000000000000000000000000a6fe0"
    );
    let isthmus = hex!(
        "098999be00000558000c5fc5000000000000000500000000661c277300000000012bec20000000000000000000000000000000000000000000000000000000026e9f109900000000000000000000000000000000000000000000000000000000000000011c4c84c50740386c7dc081efddd644405f04cde73e30a2e381737acce9f5add30000000000000000000000006887246668a3b87f54deb3b94ba47a6f63f329850000abcd000000000000dcba"
    );
    let (_, info) = read_calldata(&bedrock);
    assert_eq!(
        (info.number, info.time, info.sequence_number),
        (18_334_955, 1_697_121_143, 4)
    );
    assert_eq!(
        info.block_hash,
        b256!("392012032675be9f94aae5ab442de73c5f4fb1bf30fa7dd0d2442239899a40fc")
    );
    assert_eq!(info.calldata(L1InfoForm::Bedrock), bedrock);
    let (_, info) = read_calldata(&isthmus);
    assert_eq!(
        (
            info.operator_fee_scalar,
            info.operator_fee_constant,
            info.base_fee_scalar
        ),
        (0xabcd, 0xdcba, 1_368)
    );
    assert_eq!(info.calldata(L1InfoForm::Isthmus), isthmus);
    // Jovian is Isthmus plus the 2-byte DA footprint scalar.
    let jovian = L1BlockInfo {
        da_footprint_gas_scalar: 400,
        ..info
    }
    .calldata(L1InfoForm::Jovian);
    assert_eq!(&jovian[4..176], &isthmus[4..]);
    assert_eq!(&jovian[176..], &400u16.to_be_bytes());
}

proptest::proptest! {
    /// Any field values, in any form: the calldata has the form's selector and length, and the
    /// spec reader gets back exactly the fields the form carries.
    #[test]
    fn any_fields_round_trip_through_the_spec_reader(
        number: u64, time: u64, base_fee: [u8; 32], block_hash: [u8; 32], seq: u64,
        batcher: [u8; 20], overhead: [u8; 32], scalar: [u8; 32], blob_base_fee: [u8; 32],
        base_fee_scalar: u32, blob_base_fee_scalar: u32, operator_fee_scalar: u32,
        operator_fee_constant: u64, da: u16, form in 0..4usize,
    ) {
        let form = [
            L1InfoForm::Bedrock,
            L1InfoForm::Ecotone,
            L1InfoForm::Isthmus,
            L1InfoForm::Jovian,
        ][form];
        let info = L1BlockInfo {
            number,
            time,
            base_fee: U256::from_be_bytes(base_fee),
            block_hash: B256::from(block_hash),
            sequence_number: seq,
            batcher_address: Address::from(batcher),
            l1_fee_overhead: B256::from(overhead),
            l1_fee_scalar: B256::from(scalar),
            blob_base_fee: U256::from_be_bytes(blob_base_fee),
            base_fee_scalar,
            blob_base_fee_scalar,
            operator_fee_scalar,
            operator_fee_constant,
            da_footprint_gas_scalar: da,
        };
        let data = info.calldata(form);
        proptest::prop_assert_eq!(data.len(), form.len());
        let (selector, read) = read_calldata(&data);
        proptest::prop_assert_eq!(selector, form.selector());
        proptest::prop_assert_eq!(read, carried(info, form));
    }
}
