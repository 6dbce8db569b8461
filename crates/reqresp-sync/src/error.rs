//! The crate's errors: what a server read instead of a request, why a stream failed inside the
//! codec, why one of our requests failed, and what the source of served payloads can report.

use std::{fmt, io};

use op_p2p_types::{ResponseError, ResultCode};

/// What a server read instead of a valid request. op-node answers these with code 3 (unknown
/// error) and so do we.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The client closed its side after other than 8 bytes. `9` stands for "more than 8": the
    /// server reads at most 9 bytes (`take(9)`) and never buffers more.
    #[error("request has {0} bytes, not 8")]
    WrongLength(usize),
    /// The request was not complete (8 bytes and the client's half-close) within the server's
    /// read deadline.
    #[error("request not read within the deadline")]
    Timeout,
}

/// The step of a request-response exchange a deadline applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Server: reading the request.
    ReadRequest,
    /// Server: writing the response.
    WriteResponse,
    /// Client: writing the request.
    WriteRequest,
    /// Client: reading the response.
    ReadResponse,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ReadRequest => "read request",
            Self::WriteResponse => "write response",
            Self::WriteRequest => "write request",
            Self::ReadResponse => "read response",
        })
    }
}

/// A stream failure decided by the [`Codec`](crate::Codec), carried inside the [`io::Error`]
/// that request-response's codec interface requires (recover it with
/// [`CodecError::from_io`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The deadline of this step passed.
    #[error("{0} deadline passed")]
    Deadline(Phase),
    /// The response is not a valid answer to the request: an empty stream, a truncated version,
    /// an unknown version, a body over the raw or decoded cap, corrupt snappy framing, a body
    /// that is not a payload, the wrong block, or a wrong block hash.
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// A response was read on a codec that wrote no request (request-response reads each
    /// response with the codec clone that wrote the request; see the crate docs).
    #[error("no request was written on this stream")]
    NoRequest,
    /// A [`Request::Malformed`](crate::Request::Malformed) cannot be sent.
    #[error("a malformed request cannot be sent")]
    Unsendable,
}

impl CodecError {
    /// Wraps the error in the [`io::Error`] the codec interface returns.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match self {
            Self::Deadline(_) => io::ErrorKind::TimedOut,
            Self::Unsendable => io::ErrorKind::InvalidInput,
            Self::Response(_) | Self::NoRequest => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }

    /// Recovers the codec's error from an [`io::Error`], or gives the I/O error back.
    pub fn from_io(error: io::Error) -> Result<Self, io::Error> {
        if error
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<Self>().is_some())
        {
            if let Some(inner) = error.into_inner()
                && let Ok(codec) = inner.downcast::<Self>()
            {
                return Ok(*codec);
            }
            // Unreachable: the check above saw a `CodecError` inside.
            return Err(io::Error::other("codec error lost in unwrapping"));
        }
        Err(error)
    }
}

/// Why one of our requests failed. Every failure but [`RequestFailure::Code`] with
/// [`ResultCode::NotFound`] and [`RequestFailure::UnsupportedProtocols`] counts as an error
/// response in the peer's score (op-node's `onResponseError`).
#[derive(Debug, thiserror::Error)]
pub enum RequestFailure {
    /// The server answered with a non-zero result code.
    #[error("peer answered result code {}", .0.as_u8())]
    Code(ResultCode),
    /// The codec failed the stream: a deadline passed or the response was invalid.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// request-response's backstop timeout ([`STREAM_BACKSTOP_TIMEOUT`](crate::STREAM_BACKSTOP_TIMEOUT))
    /// or the stream negotiation timeout passed.
    #[error("stream timed out")]
    Timeout,
    /// The connection closed before the response was read.
    #[error("connection closed before the response")]
    ConnectionClosed,
    /// The peer does not speak `payload_by_number`: multistream-select refused the protocol.
    /// Not an error response (op-node scores it as one; see the crate docs): the peer is not
    /// asked again while connected, and the number goes back to the queue for another peer.
    #[error("peer does not support payload_by_number")]
    UnsupportedProtocols,
    /// A dial for the request failed (the client only asks connected peers, so this means the
    /// connection went away as the request was sent).
    #[error("dial failed")]
    DialFailure,
    /// The stream failed underneath the codec (reset, closed early).
    #[error("stream error: {0}")]
    Io(#[source] io::Error),
}

/// A failure of a [`PayloadSource`](crate::PayloadSource): the server answers code 3 (unknown
/// error). "Not found" is `Ok(None)`, not an error.
#[derive(Debug, thiserror::Error)]
#[error("payload source failed: {0}")]
pub struct SourceError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl SourceError {
    /// Wraps any error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}

/// A [`Behaviour`](crate::Behaviour) that cannot be built or a range that cannot be requested.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The rollup config is unusable (zero block time or chain id).
    #[error(transparent)]
    RollupConfig(#[from] op_p2p_types::RollupConfigError),
    /// The protocol id derived from the chain id is not a valid libp2p protocol.
    #[error("invalid protocol id: {0}")]
    ProtocolId(String),
    /// The range's start block is older than [`MAX_RANGE_AGE`](crate::MAX_RANGE_AGE): op-node
    /// leaves such gaps to execution-layer sync.
    #[error("range start (block {number}, time {timestamp}) is older than the maximum age")]
    RangeTooOld {
        /// The start block's number.
        number: u64,
        /// The start block's timestamp.
        timestamp: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_errors_survive_io_wrapping() {
        let io = CodecError::Deadline(Phase::ReadResponse).into_io();
        assert_eq!(io.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            CodecError::from_io(io).unwrap(),
            CodecError::Deadline(Phase::ReadResponse)
        );
        let plain = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(
            CodecError::from_io(plain).unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
        let other = io::Error::other("x");
        assert!(CodecError::from_io(other).is_err());
    }
}
