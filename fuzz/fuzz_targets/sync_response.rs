//! `payload_by_number` response streams, as a server would write them.
//!
//! Input: 8 bytes of requested block number (little-endian), one byte of fork flags (bit 0
//! Canyon, bit 1 Ecotone, bit 2 Isthmus, each active from genesis; bit 3 schedules them all at
//! a later time instead), then the whole response stream. Decodes and verifies the response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use op_p2p_types::{RollupConfig, decode_response};

fuzz_target!(|input: &[u8]| {
    let Some((number, rest)) = input.split_first_chunk::<8>() else {
        return;
    };
    let Some((&flags, stream)) = rest.split_first() else {
        return;
    };
    let requested = u64::from_le_bytes(*number);
    let at = if flags & 8 == 0 { 0 } else { 1_000 };
    let fork = |bit: u8| (flags & bit != 0).then_some(at);
    let config = RollupConfig {
        block_time: 2,
        l2_chain_id: 10,
        canyon_time: fork(1),
        ecotone_time: fork(2),
        isthmus_time: fork(4),
        ..Default::default()
    };
    let _ = decode_response(&config, requested, stream);
});
