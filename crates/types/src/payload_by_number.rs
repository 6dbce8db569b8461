//! `payload_by_number` wire pieces (spec §4.1): the request, the response header, result codes,
//! and the snappy *framed* body with its raw and decoded caps. Streams and deadlines belong to
//! the sync crate; everything here works on bytes already read.

use std::io::Read;

use alloy_primitives::Bytes;

use crate::{
    error::ResponseError,
    gossip::MAX_GOSSIP_SIZE,
    payload::{ExecutionPayloadEnvelope, PayloadVersion},
    rollup::{Hardfork, RollupConfig},
};

/// Length of a request: the block number as u64 little-endian.
pub const REQUEST_LEN: usize = 8;

/// Cap on the raw (still framed) response body a client reads (op-node `io.LimitReader` with
/// `maxGossipSize`).
pub const MAX_RESPONSE_RAW_BYTES: usize = MAX_GOSSIP_SIZE;

/// Cap on the decoded response body.
pub const MAX_RESPONSE_DECODED_BYTES: usize = MAX_GOSSIP_SIZE;

/// Encodes a request for block `number`.
pub const fn encode_request(number: u64) -> [u8; REQUEST_LEN] {
    number.to_le_bytes()
}

/// Decodes a request; anything but exactly 8 bytes is invalid.
pub fn decode_request(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_le_bytes)
}

/// The first byte of every response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// 0: the payload follows.
    Success,
    /// 1: the server does not have the block.
    NotFound,
    /// 2: before genesis, beyond the wall-clock target block, or before genesis time.
    InvalidRequest,
    /// 3: any other failure, including rate-limit timeouts.
    Unknown,
    /// A code op-node never sends (4–255; 128+ are reserved by the spec).
    Other(u8),
}

impl ResultCode {
    /// The wire byte.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::NotFound => 1,
            Self::InvalidRequest => 2,
            Self::Unknown => 3,
            Self::Other(code) => code,
        }
    }
}

impl From<u8> for ResultCode {
    fn from(code: u8) -> Self {
        match code {
            0 => Self::Success,
            1 => Self::NotFound,
            2 => Self::InvalidRequest,
            3 => Self::Unknown,
            other => Self::Other(other),
        }
    }
}

/// The u32 little-endian version after a success byte.
///
/// Decision: op-node sends version 1 for every Ecotone-or-later block, Isthmus included, and
/// rejects any other version; the spec's version 2 is never used. We follow op-node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseVersion {
    /// 0: a bare payload (pre-Ecotone), decoded as V2 if Canyon is active at the requested
    /// block's timestamp, else V1.
    Payload,
    /// 1: parent beacon block root ++ payload (Ecotone on), decoded as V4 if Isthmus is active
    /// at the requested block's timestamp, else V3.
    Envelope,
}

impl ResponseVersion {
    /// The wire value.
    pub const fn as_u32(self) -> u32 {
        match self {
            Self::Payload => 0,
            Self::Envelope => 1,
        }
    }

    /// The wire value parsed; op-node knows only 0 and 1.
    pub const fn from_u32(version: u32) -> Result<Self, ResponseError> {
        match version {
            0 => Ok(Self::Payload),
            1 => Ok(Self::Envelope),
            other => Err(ResponseError::UnknownVersion(other)),
        }
    }

    /// The version a server sends for a payload with this `timestamp`.
    pub const fn for_timestamp(config: &RollupConfig, timestamp: u64) -> Self {
        if config.is_active(Hardfork::Ecotone, timestamp) {
            Self::Envelope
        } else {
            Self::Payload
        }
    }

    /// The payload layout a client decodes a response for block `number` with.
    pub const fn payload_version(
        self,
        config: &RollupConfig,
        number: u64,
    ) -> Result<PayloadVersion, ResponseError> {
        let Some(timestamp) = config.timestamp_for_block(number) else {
            return Err(ResponseError::NoTimestamp(number));
        };
        Ok(match self {
            Self::Payload if config.is_active(Hardfork::Canyon, timestamp) => PayloadVersion::V2,
            Self::Payload => PayloadVersion::V1,
            Self::Envelope if config.is_active(Hardfork::Isthmus, timestamp) => PayloadVersion::V4,
            Self::Envelope => PayloadVersion::V3,
        })
    }
}

/// Compresses `body` in the snappy framed format, as golang/snappy's buffered writer does:
/// a stream identifier, then chunks of at most 64 KiB, each compressed unless that saves less
/// than 1/8, each with a masked CRC-32C.
pub fn encode_framed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 2 + 64);
    snap::read::FrameEncoder::new(body)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| unreachable!("framing an in-memory buffer cannot fail: {e}"));
    out
}

/// The most a single bounded read step asks for ([`read_window`]).
pub const READ_CHUNK: usize = 64 * 1024;

/// Grows `buf` for the next read of at most [`READ_CHUNK`] bytes without its capacity passing
/// `limit`, and returns the zeroed window to read into; `None` when `buf` already holds `limit`
/// bytes. Buffers grow by doubling, clamped to the limit, and only the next window is zeroed:
/// the one growth rule of every bounded reader here (a response stream, a framed body), so a
/// peer's claims never size an allocation.
pub fn read_window(buf: &mut Vec<u8>, limit: usize) -> Option<std::ops::Range<usize>> {
    let len = buf.len();
    if len >= limit {
        return None;
    }
    if len == buf.capacity() {
        let target = len.saturating_mul(2).clamp(READ_CHUNK.min(limit), limit);
        buf.reserve_exact(target - len);
    }
    let end = buf.capacity().min(limit).min(len + READ_CHUNK);
    buf.resize(end, 0);
    Some(len..end)
}

/// Decodes a snappy framed body (golang/snappy's `NewBufferedWriter` output) into at most
/// `max_decoded` bytes. Memory is the output, its capacity capped at `max_decoded + 1`, plus the
/// decoder's fixed 64 KiB buffers; a small body claiming a huge output (a snappy bomb) fails at
/// the cap. The one decoder of response bodies: the sync codec, the operator report and
/// [`decode_response`] all use it.
pub fn decode_framed(raw: &[u8], max_decoded: usize) -> Result<Vec<u8>, ResponseError> {
    let limit = max_decoded.saturating_add(1);
    let mut decoder = snap::read::FrameDecoder::new(raw);
    let mut out = Vec::new();
    loop {
        let Some(window) = read_window(&mut out, limit) else {
            return Err(ResponseError::DecodedTooLarge(max_decoded));
        };
        let start = window.start;
        let n = decoder
            .read(&mut out[window])
            .map_err(|e| ResponseError::Framing(e.to_string()))?;
        out.truncate(start + n);
        if n == 0 {
            return Ok(out);
        }
    }
}

/// A complete success response for `envelope`: result byte 0, the version for its timestamp,
/// and the framed body.
pub fn encode_response(config: &RollupConfig, envelope: &ExecutionPayloadEnvelope) -> Vec<u8> {
    let version = ResponseVersion::for_timestamp(config, envelope.execution_payload.timestamp);
    encode_success_response(version, envelope)
}

/// A complete success response for `envelope` sent as `version`: result byte 0, the u32 LE
/// version, and the framed body (the bare payload for version 0, the envelope for version 1).
pub fn encode_success_response(
    version: ResponseVersion,
    envelope: &ExecutionPayloadEnvelope,
) -> Vec<u8> {
    let body = match version {
        ResponseVersion::Envelope => envelope.encode_ssz(),
        ResponseVersion::Payload => envelope.execution_payload.encode_ssz(),
    };
    let framed = encode_framed(&body);
    let mut out = Vec::with_capacity(5 + framed.len());
    out.push(ResultCode::Success.as_u8());
    out.extend_from_slice(&version.as_u32().to_le_bytes());
    out.extend_from_slice(&framed);
    out
}

/// A complete error response: the code alone.
pub const fn encode_error_response(code: ResultCode) -> [u8; 1] {
    [code.as_u8()]
}

/// Decodes the already-unframed `body` of a version-`version` response for block `requested`
/// and verifies it as op-node's client does: the block number must be the one requested and the
/// block hash must recompute. There is no signature: trust comes from the hash chain.
pub fn decode_response_body(
    config: &RollupConfig,
    requested: u64,
    version: ResponseVersion,
    body: &Bytes,
) -> Result<ExecutionPayloadEnvelope, ResponseError> {
    let payload_version = version.payload_version(config, requested)?;
    let envelope = ExecutionPayloadEnvelope::decode_ssz(payload_version, body)?;
    let got = envelope.execution_payload.block_number;
    if got != requested {
        return Err(ResponseError::WrongNumber { requested, got });
    }
    envelope.check_block_hash()?;
    Ok(envelope)
}

/// Decodes and verifies a whole response stream (everything the server wrote until EOF) for
/// block `requested`, with the 10 MiB raw and decoded caps.
pub fn decode_response(
    config: &RollupConfig,
    requested: u64,
    stream: &[u8],
) -> Result<ExecutionPayloadEnvelope, ResponseError> {
    let (&code, rest) = stream.split_first().ok_or(ResponseError::Empty)?;
    if code != ResultCode::Success.as_u8() {
        return Err(ResponseError::ResultCode(code));
    }
    let (version, raw) = rest
        .split_first_chunk::<4>()
        .ok_or(ResponseError::TruncatedVersion)?;
    let version = ResponseVersion::from_u32(u32::from_le_bytes(*version))?;
    if raw.len() > MAX_RESPONSE_RAW_BYTES {
        return Err(ResponseError::RawTooLarge(MAX_RESPONSE_RAW_BYTES));
    }
    let body = decode_framed(raw, MAX_RESPONSE_DECODED_BYTES)?;
    decode_response_body(config, requested, version, &Bytes::from(body))
}
