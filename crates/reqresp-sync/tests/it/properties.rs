//! Property tests of the codec's readers: whatever a peer writes, however the transport splits
//! it, `read_request` and `read_response` return the same answer as the byte decoders in
//! `op-p2p-types` (`decode_request`, `decode_response`): a value or a typed error, never a panic.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use futures::{AsyncRead, executor::block_on};
use op_p2p_reqresp_sync::{Request, RequestError, Response, read_request, read_response};
use op_p2p_types::{ResponseError, RollupConfig, decode_request, decode_response};
use proptest::{prelude::*, sample::Index};

use crate::codec::{hex, schedule_for, successes};

/// A stream that hands out at most `chunk` bytes per read, as a transport may.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let n = buf.len().min(self.chunk).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(n))
    }
}

fn read(
    stream: &[u8],
    chunk: usize,
    rollup: &RollupConfig,
    requested: u64,
) -> io::Result<Response> {
    let mut io = Chunked {
        data: stream,
        chunk,
    };
    block_on(read_response(&mut io, rollup, requested))
}

/// The streaming reader and the byte decoder agree on `stream`.
fn agree(
    stream: &[u8],
    chunk: usize,
    rollup: &RollupConfig,
    requested: u64,
) -> Result<(), TestCaseError> {
    let bytes = decode_response(rollup, requested, stream);
    let streamed = read(stream, chunk, rollup, requested);
    match (&bytes, &streamed) {
        (Ok(envelope), Ok(Response::Payload { envelope: read, .. })) => {
            prop_assert_eq!(envelope, read.as_ref());
        }
        (Err(ResponseError::ResultCode(code)), Ok(Response::Error(read))) => {
            prop_assert_eq!(*code, read.as_u8());
        }
        (Err(_), Err(_)) => {}
        _ => prop_assert!(
            false,
            "decode_response {bytes:?} but read_response {streamed:?}"
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Requests: exactly 8 bytes are a block number, anything else is malformed with the
    /// length read (at most 9: the reader stops there).
    #[test]
    fn requests_agree_with_the_byte_decoder(
        bytes in prop::collection::vec(any::<u8>(), 0..24),
        chunk in 1usize..10,
    ) {
        let mut io = Chunked { data: &bytes, chunk };
        let read = block_on(read_request(&mut io)).unwrap();
        match decode_request(&bytes) {
            Some(number) => prop_assert_eq!(read, Request::Number(number)),
            None => prop_assert_eq!(
                read,
                Request::Malformed(RequestError::WrongLength(bytes.len().min(9)))
            ),
        }
    }

    /// Arbitrary streams, and each success vector with one edit, split arbitrarily: the same
    /// answer as the byte decoder.
    #[test]
    fn responses_agree_with_the_byte_decoder(
        garbage in prop::collection::vec(any::<u8>(), 0..600),
        which in any::<Index>(),
        at in any::<Index>(),
        byte in any::<u8>(),
        cut in any::<Index>(),
        chunk in 1usize..70_000,
    ) {
        let vectors = successes();
        let vector = &vectors[which.index(vectors.len())];
        let rollup = schedule_for(vector);
        let requested = vector["requested_block_number"].as_u64().unwrap();
        agree(&garbage, chunk, &rollup, requested)?;

        let stream = hex(&vector["response_hex"]);
        // Untouched, it reads as the payload whatever the chunking.
        let whole = read(&stream, chunk, &rollup, requested);
        prop_assert!(matches!(whole, Ok(Response::Payload { .. })), "{:?}", whole);
        let mut edited = stream.clone();
        let i = at.index(edited.len());
        edited[i] ^= byte.max(1);
        agree(&edited, chunk, &rollup, requested)?;
        let truncated = &stream[..cut.index(stream.len())];
        agree(truncated, chunk, &rollup, requested)?;
    }
}
