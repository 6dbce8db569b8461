//! `payload_by_number` requests, as a client would write them to a server.
//!
//! Input: the whole request stream. The server's reader (`op_p2p_reqresp_sync::read_request`,
//! which reads at most 9 bytes) and the byte decoder (`op_p2p_types::decode_request`) must agree:
//! exactly 8 bytes are block number `u64::from_le_bytes`, anything else is malformed with the
//! length read.
#![no_main]

use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;
use op_p2p_reqresp_sync::{Request, RequestError, read_request};
use op_p2p_types::{REQUEST_LEN, decode_request, encode_request};

fuzz_target!(|input: &[u8]| {
    let decoded = decode_request(input);
    let mut stream = input;
    let read = block_on(read_request(&mut stream)).expect("reading a byte slice cannot fail");
    match (decoded, read) {
        (Some(number), Request::Number(read)) => {
            assert_eq!(number, read);
            assert_eq!(encode_request(number), input);
        }
        (None, Request::Malformed(RequestError::WrongLength(n))) => {
            assert_ne!(input.len(), REQUEST_LEN);
            assert_eq!(n, input.len().min(REQUEST_LEN + 1));
        }
        (decoded, read) => panic!("decode_request {decoded:?} but read_request {read:?}"),
    }
});
