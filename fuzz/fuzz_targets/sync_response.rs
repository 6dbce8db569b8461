//! `payload_by_number` response streams, as a server would write them.
//!
//! Input: 8 bytes of requested block number (little-endian), one byte of fork flags (bit 0
//! Canyon, bit 1 Ecotone, bit 2 Isthmus, each active from genesis; bit 3 schedules them all at
//! a later time instead), then the whole response stream.
//!
//! Runs both decoders of a response: the byte-slice one in `op-p2p-types` (`decode_response`)
//! and the streaming reader the node's sync client uses (`op_p2p_reqresp_sync::read_response`,
//! bounded reads of the result code, version and framed body). Each must return a verified
//! payload or a typed error, and they must agree.
#![no_main]

use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;
use op_p2p_reqresp_sync::{Response, read_response};
use op_p2p_types::{ResponseError, RollupConfig, decode_response};

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
    let bytes = decode_response(&config, requested, stream);
    let mut reader = stream;
    let streamed = block_on(read_response(&mut reader, &config, requested));
    match (&bytes, &streamed) {
        (Ok(envelope), Ok(Response::Payload { envelope: read, .. })) => {
            assert_eq!(envelope, read.as_ref());
            assert_eq!(envelope.execution_payload.block_number, requested);
        }
        (Err(ResponseError::ResultCode(code)), Ok(Response::Error(read))) => {
            assert_eq!(*code, read.as_u8());
        }
        (Err(_), Err(_)) => {}
        _ => panic!("decode_response {bytes:?} but read_response {streamed:?}"),
    }
});
