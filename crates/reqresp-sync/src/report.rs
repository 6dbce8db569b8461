//! Operator tooling: one response judged exactly as the client judges it, as a serializable
//! report (the logic behind `op-p2p sync decode-response` and `op-p2p sync fetch`).

use std::{io, sync::Arc, time::Duration};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p_request_response::{self as request_response, ProtocolSupport};
use libp2p_swarm::StreamProtocol;
use op_p2p_types::{
    Bytes, ExecutionPayloadEnvelope, MAX_RESPONSE_DECODED_BYTES, MAX_RESPONSE_RAW_BYTES,
    ResponseError, ResponseVersion, ResultCode, RollupConfig, encode_request,
    payload_by_number_protocol_id,
};
use serde::Serialize;

use crate::{error::Error, read::read_to_end_capped};

/// Accept or reject, as the client would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// A payload the client would quarantine: the block requested, with a correct hash.
    Accept,
    /// A failed request.
    Reject,
}

/// What one `payload_by_number` response is, field by field, and whether the client accepts it.
/// Fields the stream did not get far enough to carry are `None` (JSON `null`); hashes are
/// 0x-prefixed hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseReport {
    /// Accept or reject.
    pub verdict: Verdict,
    /// Why it is rejected (`None` when accepted).
    pub reason: Option<String>,
    /// The result byte.
    pub result_code: Option<u8>,
    /// The response version (also when unrecognized).
    pub version: Option<u32>,
    /// The decoded block number.
    pub number: Option<u64>,
    /// The block hash the payload claims.
    pub hash: Option<String>,
    /// The parent hash.
    pub parent_hash: Option<String>,
    /// The block timestamp.
    pub timestamp: Option<u64>,
    /// The number of transactions.
    pub tx_count: Option<usize>,
}

impl ResponseReport {
    /// Judges `stream`, everything a server wrote for a request for block `requested`, as the
    /// client does: result code, version, the raw and decoded caps, snappy framing, SSZ by the
    /// version and the fork at the requested number, the number, the block hash.
    pub fn decode(rollup: &RollupConfig, requested: u64, stream: &[u8]) -> Self {
        let mut report = Self {
            verdict: Verdict::Reject,
            reason: None,
            result_code: None,
            version: None,
            number: None,
            hash: None,
            parent_hash: None,
            timestamp: None,
            tx_count: None,
        };
        match report.fill(rollup, requested, stream) {
            Ok(()) => report.verdict = Verdict::Accept,
            Err(reason) => report.reason = Some(reason),
        }
        report
    }

    fn fill(&mut self, rollup: &RollupConfig, requested: u64, stream: &[u8]) -> Result<(), String> {
        let (&code, rest) = stream
            .split_first()
            .ok_or_else(|| ResponseError::Empty.to_string())?;
        self.result_code = Some(code);
        if code != ResultCode::Success.as_u8() {
            return Err(format!(
                "server returned result code {code} ({})",
                code_name(ResultCode::from(code))
            ));
        }
        let (version, raw) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| ResponseError::TruncatedVersion.to_string())?;
        let version = u32::from_le_bytes(*version);
        self.version = Some(version);
        let version = ResponseVersion::from_u32(version).map_err(|e| e.to_string())?;
        if raw.len() > MAX_RESPONSE_RAW_BYTES {
            return Err(ResponseError::RawTooLarge(MAX_RESPONSE_RAW_BYTES).to_string());
        }
        let ssz = op_p2p_types::decode_framed(raw, MAX_RESPONSE_DECODED_BYTES)
            .map_err(|e| e.to_string())?;
        let layout = version
            .payload_version(rollup, requested)
            .map_err(|e| e.to_string())?;
        let envelope = ExecutionPayloadEnvelope::decode_ssz(layout, &Bytes::from(ssz))
            .map_err(|e| ResponseError::from(e).to_string())?;
        let payload = &envelope.execution_payload;
        self.number = Some(payload.block_number);
        self.hash = Some(payload.block_hash.to_string());
        self.parent_hash = Some(payload.parent_hash.to_string());
        self.timestamp = Some(payload.timestamp);
        self.tx_count = Some(payload.transactions.len());
        if payload.block_number != requested {
            return Err(ResponseError::WrongNumber {
                requested,
                got: payload.block_number,
            }
            .to_string());
        }
        envelope
            .check_block_hash()
            .map_err(|e| ResponseError::from(e).to_string())
    }
}

fn code_name(code: ResultCode) -> &'static str {
    match code {
        ResultCode::Success => "success",
        ResultCode::NotFound => "not found",
        ResultCode::InvalidRequest => "invalid request",
        ResultCode::Unknown => "unknown error",
        ResultCode::Other(c) if c >= 128 => "reserved",
        ResultCode::Other(_) => "unrecognized",
    }
}

/// The most of a response a report reads: the result byte, the version, and one byte past the
/// raw cap, so an oversized body is reported as such without reading further.
const MAX_REPORT_READ: usize = 1 + 4 + MAX_RESPONSE_RAW_BYTES + 1;

/// Sends a request for block `number` on `stream` (8 bytes, then the half-close) and reports
/// on what comes back, reading at most the caps.
pub async fn request_report<T: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut T,
    rollup: &RollupConfig,
    number: u64,
) -> io::Result<ResponseReport> {
    stream.write_all(&encode_request(number)).await?;
    stream.close().await?;
    read_report(stream, rollup, number).await
}

async fn read_report<T: AsyncRead + Unpin>(
    io: &mut T,
    rollup: &RollupConfig,
    number: u64,
) -> io::Result<ResponseReport> {
    let mut limited = io.take(MAX_REPORT_READ as u64);
    let bytes = read_to_end_capped(&mut limited, MAX_REPORT_READ)
        .await?
        .unwrap_or_default();
    Ok(ResponseReport::decode(rollup, number, &bytes))
}

/// A request-response codec for operators' one-off requests (`op-p2p sync fetch`): the request
/// is a block number, the response a [`ResponseReport`] rather than a payload, so a bad answer
/// is described instead of failing the stream. Outbound only.
#[derive(Debug, Clone)]
pub struct ReportCodec {
    rollup: Arc<RollupConfig>,
    requested: Option<u64>,
}

impl ReportCodec {
    /// A codec for `rollup`'s chain.
    pub fn new(rollup: Arc<RollupConfig>) -> Self {
        Self {
            rollup,
            requested: None,
        }
    }
}

impl request_response::Codec for ReportCodec {
    type Protocol = StreamProtocol;
    type Request = u64;
    type Response = ResponseReport;

    async fn read_request<T>(&mut self, _: &StreamProtocol, _: &mut T) -> io::Result<u64>
    where
        T: AsyncRead + Unpin + Send,
    {
        Err(io::ErrorKind::Unsupported.into())
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<ResponseReport>
    where
        T: AsyncRead + Unpin + Send,
    {
        let number = self.requested.take().ok_or(io::ErrorKind::InvalidInput)?;
        read_report(io, &self.rollup.clone(), number).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        number: u64,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.requested = Some(number);
        io.write_all(&encode_request(number)).await?;
        io.flush().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        _: ResponseReport,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// A request-response behaviour that sends one-off report requests on op-node's protocol id
/// (outbound only), with `timeout` for the whole exchange. The node's `sync fetch` command puts
/// it in a swarm, dials the peer, sends the number and prints the report as JSON.
pub fn report_behaviour(
    rollup: RollupConfig,
    timeout: Duration,
) -> Result<request_response::Behaviour<ReportCodec>, Error> {
    rollup.validate()?;
    let protocol =
        StreamProtocol::try_from_owned(payload_by_number_protocol_id(rollup.l2_chain_id))
            .map_err(|e| Error::ProtocolId(e.to_string()))?;
    Ok(request_response::Behaviour::with_codec(
        ReportCodec::new(Arc::new(rollup)),
        [(protocol, ProtocolSupport::Outbound)],
        request_response::Config::default().with_request_timeout(timeout),
    ))
}
