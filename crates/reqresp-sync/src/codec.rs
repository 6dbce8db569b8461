//! The `payload_by_number` codec for request-response (spec §4.1): exactly op-node's bytes, read
//! through caps and under deadlines on the injected clock.

use std::{future::Future, io, sync::Arc, time::Duration};

use futures::{
    AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
    future::{Either, select},
    pin_mut,
};
use libp2p_swarm::StreamProtocol;
use op_p2p_api::Clock;
use op_p2p_types::{
    Bytes, ExecutionPayloadEnvelope, MAX_RESPONSE_DECODED_BYTES, MAX_RESPONSE_RAW_BYTES,
    REQUEST_LEN, ResponseError, ResponseVersion, ResultCode, RollupConfig, decode_request,
    decode_response_body, encode_request, encode_success_response,
};

use crate::{
    config::Config,
    error::{CodecError, Phase, RequestError},
    read::{read_full, read_to_end_capped},
};

/// A request as the codec sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Block `number`: 8 bytes little-endian, then the client closes its write side.
    Number(u64),
    /// What a server read that is not a request. op-node answers it with code 3, so the codec
    /// hands it to the server instead of failing the stream, and the server answers it.
    Malformed(RequestError),
}

/// A response as the codec sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Result code 0, the version, and the payload.
    ///
    /// Read by a client, the payload is already verified: its number is the one requested and
    /// its block hash recomputes (op-node's `verifyBlock`).
    Payload {
        /// 0 before Ecotone, 1 from Ecotone on (Isthmus included: op-node never sends 2).
        version: ResponseVersion,
        /// The payload (and parent beacon block root from version 1).
        envelope: Box<ExecutionPayloadEnvelope>,
    },
    /// A non-zero result code alone: op-node writes the byte and closes, and its client stops
    /// reading after the byte.
    Error(ResultCode),
}

impl Response {
    /// A success response for `envelope`, with the version its timestamp calls for.
    pub fn payload(rollup: &RollupConfig, envelope: ExecutionPayloadEnvelope) -> Self {
        Self::Payload {
            version: ResponseVersion::for_timestamp(rollup, envelope.execution_payload.timestamp),
            envelope: Box::new(envelope),
        }
    }

    /// The result code this response starts with.
    pub const fn code(&self) -> ResultCode {
        match self {
            Self::Payload { .. } => ResultCode::Success,
            Self::Error(code) => *code,
        }
    }

    /// The bytes a server writes for this response: the result byte, then for a payload the
    /// u32 LE version and the snappy framed SSZ body.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Error(code) => vec![code.as_u8()],
            Self::Payload { version, envelope } => encode_success_response(*version, envelope),
        }
    }
}

/// Deadlines the codec applies, one per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deadlines {
    read_request: Duration,
    write_response: Duration,
    write_request: Duration,
    read_response: Duration,
}

/// The `payload_by_number` [`request_response::Codec`](libp2p_request_response::Codec).
///
/// - Server side, [`read_request`](libp2p_request_response::Codec::read_request) reads through
///   `take(9)` until the client's half-close and accepts exactly 8 bytes; anything else, or no
///   half-close within the read deadline, becomes [`Request::Malformed`], which the server
///   answers with code 3 as op-node does. The response is written under the write deadline.
/// - Client side, the request is written under the write deadline (request-response then
///   half-closes the stream), and the response is read under the read deadline: the result
///   byte; on success the version and the body until EOF, read through
///   `take(MAX_RESPONSE_RAW_BYTES + 1)` into a buffer that never exceeds the cap, unframed into
///   at most [`MAX_RESPONSE_DECODED_BYTES`], decoded by version and verified (number, block
///   hash). Failures are [`CodecError`]s inside the returned [`io::Error`].
///
/// Verification needs the requested number, which request-response does not pass to
/// `read_response`. Its handler (0.30) clones the codec once per outbound stream and calls
/// `write_request` then `read_response` on that clone, so the codec remembers the number it
/// wrote. A clone that wrote nothing fails with [`CodecError::NoRequest`].
#[derive(Debug, Clone)]
pub struct Codec {
    rollup: Arc<RollupConfig>,
    clock: Arc<dyn Clock>,
    deadlines: Deadlines,
    requested: Option<u64>,
}

impl Codec {
    /// A codec for `rollup`'s chain with `config`'s deadlines on `clock`.
    pub fn new(rollup: Arc<RollupConfig>, config: &Config, clock: Arc<dyn Clock>) -> Self {
        Self {
            rollup,
            clock,
            deadlines: Deadlines {
                read_request: config.server_read_timeout,
                write_response: config.server_write_timeout,
                write_request: config.client_write_timeout,
                read_response: config.client_read_timeout,
            },
            requested: None,
        }
    }

    /// Runs `work` under a deadline `timeout` from now on the injected clock.
    async fn deadline<F: Future>(&self, timeout: Duration, work: F) -> Option<F::Output> {
        let sleep = self
            .clock
            .sleep_until(self.clock.now().saturating_add(timeout));
        pin_mut!(work);
        match select(work, sleep).await {
            Either::Left((out, _)) => Some(out),
            Either::Right(((), _)) => None,
        }
    }
}

/// Reads a server's request: at most 9 bytes until EOF, valid only if exactly 8.
pub async fn read_request<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<Request> {
    let mut buf = [0u8; REQUEST_LEN + 1];
    let n = read_full(&mut io.take(REQUEST_LEN as u64 + 1), &mut buf).await?;
    Ok(match decode_request(&buf[..n]) {
        Some(number) => Request::Number(number),
        None => Request::Malformed(RequestError::WrongLength(n)),
    })
}

/// Reads and verifies a response to a request for block `requested`, as op-node's client does
/// (without a deadline; [`Codec`] adds one).
pub async fn read_response<T: AsyncRead + Unpin>(
    io: &mut T,
    rollup: &RollupConfig,
    requested: u64,
) -> io::Result<Response> {
    let invalid = |e: ResponseError| CodecError::Response(e).into_io();
    let mut code = [0u8; 1];
    if read_full(io, &mut code).await? == 0 {
        return Err(invalid(ResponseError::Empty));
    }
    if code[0] != ResultCode::Success.as_u8() {
        return Ok(Response::Error(ResultCode::from(code[0])));
    }
    let mut version = [0u8; 4];
    if read_full(io, &mut version).await? < version.len() {
        return Err(invalid(ResponseError::TruncatedVersion));
    }
    let version = ResponseVersion::from_u32(u32::from_le_bytes(version)).map_err(invalid)?;
    let mut body = io.take(MAX_RESPONSE_RAW_BYTES as u64 + 1);
    let raw = read_to_end_capped(&mut body, MAX_RESPONSE_RAW_BYTES)
        .await?
        .ok_or_else(|| invalid(ResponseError::RawTooLarge(MAX_RESPONSE_RAW_BYTES)))?;
    let ssz = op_p2p_types::decode_framed(&raw, MAX_RESPONSE_DECODED_BYTES).map_err(invalid)?;
    drop(raw);
    let envelope =
        decode_response_body(rollup, requested, version, &Bytes::from(ssz)).map_err(invalid)?;
    Ok(Response::Payload {
        version,
        envelope: Box::new(envelope),
    })
}

impl libp2p_request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        match self
            .deadline(self.deadlines.read_request, read_request(io))
            .await
        {
            Some(request) => request,
            None => Ok(Request::Malformed(RequestError::Timeout)),
        }
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        let requested = self
            .requested
            .take()
            .ok_or_else(|| CodecError::NoRequest.into_io())?;
        let rollup = self.rollup.clone();
        self.deadline(
            self.deadlines.read_response,
            read_response(io, &rollup, requested),
        )
        .await
        .unwrap_or_else(|| Err(CodecError::Deadline(Phase::ReadResponse).into_io()))
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let Request::Number(number) = request else {
            return Err(CodecError::Unsendable.into_io());
        };
        self.requested = Some(number);
        let bytes = encode_request(number);
        let write = async {
            io.write_all(&bytes).await?;
            io.flush().await
        };
        self.deadline(self.deadlines.write_request, write)
            .await
            .unwrap_or_else(|| Err(CodecError::Deadline(Phase::WriteRequest).into_io()))
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        // Encoding (SSZ and snappy) runs here, on the connection's task, not the swarm's.
        let bytes = response.encode();
        let write = async {
            io.write_all(&bytes).await?;
            io.flush().await
        };
        self.deadline(self.deadlines.write_response, write)
            .await
            .unwrap_or_else(|| Err(CodecError::Deadline(Phase::WriteResponse).into_io()))
    }
}
