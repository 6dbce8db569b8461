//! The op-signer client (`op-service/signer/client.go`): JSON-RPC over HTTP(S) with
//! jsonrpsee's HTTP client, one positional argument object per call.
//!
//! - `health_status` at start, within 3 s (op-node's `pingVersion`): a node whose signer is
//!   unreachable — wrong URL, refused client certificate — stops at start with the reason.
//! - `opsigner_signBlockPayload` (op-node's choice, "since the server may not support V2
//!   yet"), with Go's JSON of `BlockPayloadArgs`: `domain` a `[32]byte` (a JSON array of 32
//!   numbers), `chainId` a `*big.Int` (a bare JSON number), `payloadHash` a `[]byte` (standard
//!   base64), `senderAddress` hex. The answer is `hexutil.Bytes`, 65 bytes.
//! - `opsigner_signBlockPayloadV2` with `--signer.v2`: `BlockPayloadArgsV2`, `domain` and
//!   `payloadHash` hex `bytes32`, `chainId` decimal text (`eth.ChainID.MarshalText`).

use std::time::Duration;

use alloy_primitives::hex;
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use jsonrpsee::{
    core::{ClientError, client::ClientT as _, params::ArrayParams},
    http_client::{HttpClient, HttpClientBuilder},
};
use op_p2p_types::{Address, B256, SIGNATURE_LEN, SIGNING_DOMAIN_BLOCKS_V1};
use serde::Serialize;

use super::{SignError, tls};

/// op-node's `pingVersion` timeout.
pub(crate) const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest answer kept in an error message.
const MAX_ANSWER_IN_ERROR: usize = 200;

/// op-signer's method for block payloads.
pub(crate) const METHOD_V1: &str = "opsigner_signBlockPayload";
/// The V2 method (fixed JSON encoding).
pub(crate) const METHOD_V2: &str = "opsigner_signBlockPayloadV2";
/// op-signer's health method.
pub(crate) const METHOD_HEALTH: &str = "health_status";

/// Which signing method to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignerApi {
    /// `opsigner_signBlockPayload` (op-node's).
    V1,
    /// `opsigner_signBlockPayloadV2`.
    V2,
}

impl SignerApi {
    const fn method(self) -> &'static str {
        match self {
            Self::V1 => METHOD_V1,
            Self::V2 => METHOD_V2,
        }
    }
}

/// The checked `signer.*` flags.
#[derive(Debug, Clone)]
pub(crate) struct RemoteSignerSettings {
    /// `signer.endpoint`.
    pub(crate) endpoint: String,
    /// `signer.address`.
    pub(crate) address: Address,
    /// `signer.header`, parsed.
    pub(crate) headers: HeaderMap,
    /// Mutual TLS material, for an https endpoint with `signer.tls.enabled`.
    pub(crate) tls: Option<tls::TlsFiles>,
    /// `signer.timeout`.
    pub(crate) timeout: Duration,
    /// `signer.v2`.
    pub(crate) api: SignerApi,
}

/// Why the remote signer cannot be used; the node does not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RemoteSignerError {
    /// TLS material unusable.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The client cannot be built (a malformed URL).
    #[error("--signer.endpoint {endpoint}: {reason}")]
    Client {
        /// The endpoint.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// `health_status` failed.
    #[error("--signer.endpoint {endpoint}: the signer does not answer health_status: {source}")]
    Health {
        /// The endpoint.
        endpoint: String,
        /// Why.
        source: SignError,
    },
}

/// A connected op-signer.
#[derive(Debug)]
pub(crate) struct RemoteSigner {
    client: HttpClient,
    endpoint: String,
    address: Address,
    timeout: Duration,
    api: SignerApi,
}

/// Go's JSON of `signer.BlockPayloadArgs`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BlockPayloadArgs {
    /// `[32]byte`: Go encodes byte arrays as arrays of numbers.
    domain: [u8; 32],
    /// `*big.Int`: a JSON number.
    chain_id: u64,
    /// `[]byte`: Go encodes byte slices as standard base64.
    payload_hash: String,
    /// `*common.Address`.
    sender_address: Address,
}

/// Go's JSON of `signer.BlockPayloadArgsV2`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BlockPayloadArgsV2 {
    /// `eth.Bytes32`: hex.
    domain: B256,
    /// `eth.ChainID`: decimal text.
    chain_id: String,
    /// `common.Hash`: hex.
    payload_hash: B256,
    /// `*common.Address`.
    sender_address: Address,
}

impl RemoteSigner {
    /// Builds the client and checks the signer answers `health_status`.
    pub(crate) async fn connect(
        settings: &RemoteSignerSettings,
    ) -> Result<Self, RemoteSignerError> {
        // Each call bounds itself (`HEALTH_TIMEOUT`, `timeout`); the client's own bound is the
        // longer of the two, so a short `--signer.timeout` does not cut the start-up check.
        let mut builder = HttpClientBuilder::default()
            .request_timeout(settings.timeout.max(HEALTH_TIMEOUT))
            .set_headers(settings.headers.clone());
        if let Some(files) = &settings.tls {
            builder = builder.with_custom_cert_store(tls::client_config(files)?);
        }
        let client = builder
            .build(&settings.endpoint)
            .map_err(|e| RemoteSignerError::Client {
                endpoint: settings.endpoint.clone(),
                reason: e.to_string(),
            })?;
        let signer = Self {
            client,
            endpoint: settings.endpoint.clone(),
            address: settings.address,
            timeout: settings.timeout,
            api: settings.api,
        };
        signer
            .health()
            .await
            .map_err(|source| RemoteSignerError::Health {
                endpoint: settings.endpoint.clone(),
                source,
            })?;
        Ok(signer)
    }

    /// `signer.address`.
    pub(crate) const fn address(&self) -> Address {
        self.address
    }

    /// The endpoint, for logs.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `health_status`: the signer's version string.
    pub(crate) async fn health(&self) -> Result<String, SignError> {
        let call = self
            .client
            .request::<String, _>(METHOD_HEALTH, ArrayParams::new());
        match tokio::time::timeout(HEALTH_TIMEOUT, call).await {
            Ok(result) => result.map_err(|e| self.error(METHOD_HEALTH, e, HEALTH_TIMEOUT)),
            Err(_) => Err(SignError::Timeout {
                endpoint: self.endpoint.clone(),
                timeout: HEALTH_TIMEOUT,
            }),
        }
    }

    /// Asks for the signature of `payload_hash` on chain `chain_id` (blocks-v1 domain).
    pub(crate) async fn sign(
        &self,
        chain_id: u64,
        payload_hash: B256,
    ) -> Result<[u8; SIGNATURE_LEN], SignError> {
        let method = self.api.method();
        let mut params = ArrayParams::new();
        let inserted = match self.api {
            SignerApi::V1 => params.insert(BlockPayloadArgs {
                domain: SIGNING_DOMAIN_BLOCKS_V1.0,
                chain_id,
                payload_hash: base64::engine::general_purpose::STANDARD.encode(payload_hash),
                sender_address: self.address,
            }),
            SignerApi::V2 => params.insert(BlockPayloadArgsV2 {
                domain: SIGNING_DOMAIN_BLOCKS_V1,
                chain_id: chain_id.to_string(),
                payload_hash,
                sender_address: self.address,
            }),
        };
        inserted.map_err(|e| SignError::Request {
            endpoint: self.endpoint.clone(),
            method,
            reason: e.to_string(),
        })?;
        // jsonrpsee's request timeout covers the HTTP exchange; this one covers everything
        // (connecting included), so a stalled signer never holds the sequencer longer.
        let answer = tokio::time::timeout(
            self.timeout,
            self.client.request::<String, _>(method, params),
        )
        .await
        .map_err(|_| SignError::Timeout {
            endpoint: self.endpoint.clone(),
            timeout: self.timeout,
        })?
        .map_err(|e| self.error(method, e, self.timeout))?;
        parse_signature(&answer).ok_or_else(|| SignError::Malformed {
            endpoint: self.endpoint.clone(),
            answer: answer.chars().take(MAX_ANSWER_IN_ERROR).collect(),
        })
    }

    fn error(&self, method: &'static str, error: ClientError, timeout: Duration) -> SignError {
        match error {
            ClientError::RequestTimeout => SignError::Timeout {
                endpoint: self.endpoint.clone(),
                timeout,
            },
            other => SignError::Request {
                endpoint: self.endpoint.clone(),
                method,
                reason: error_chain(&other),
            },
        }
    }
}

/// `0x` + 130 hex digits.
fn parse_signature(answer: &str) -> Option<[u8; SIGNATURE_LEN]> {
    let bytes = hex::decode(answer.trim()).ok()?;
    bytes.try_into().ok()
}

/// The error and its sources, so a TLS alert under a transport error is visible.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Parses `signer.header` values (`key=value`, split at the first `=`). op-node drops a
/// value without `=`; here it is refused, with the header named.
pub(crate) fn parse_headers(values: &[String]) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for value in values {
        let Some((key, val)) = value.split_once('=') else {
            return Err(format!("{value:?} is not key=value"));
        };
        let name = HeaderName::from_bytes(key.trim().as_bytes())
            .map_err(|_| format!("{key:?} is not an HTTP header name"))?;
        let val = HeaderValue::from_str(val)
            .map_err(|_| format!("the value of {key:?} is not a valid HTTP header value"))?;
        // `http.Header.Set`: a repeated key keeps the last value.
        headers.insert(name, val);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_arguments_are_gos_json() {
        let args = BlockPayloadArgs {
            domain: [0; 32],
            chain_id: 901,
            payload_hash: base64::engine::general_purpose::STANDARD.encode([0xab; 32]),
            sender_address: Address::repeat_byte(0x11),
        };
        let json = serde_json::to_value(&args).unwrap();
        assert_eq!(json["domain"], serde_json::json!(vec![0; 32]));
        assert_eq!(json["chainId"], serde_json::json!(901));
        assert_eq!(
            json["payloadHash"],
            "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="
        );
        assert_eq!(
            json["senderAddress"].as_str().unwrap().to_lowercase(),
            format!("0x{}", "11".repeat(20))
        );
    }

    #[test]
    fn v2_arguments_are_gos_json() {
        let args = BlockPayloadArgsV2 {
            domain: B256::ZERO,
            chain_id: 901.to_string(),
            payload_hash: B256::repeat_byte(0xab),
            sender_address: Address::repeat_byte(0x11),
        };
        let json = serde_json::to_value(&args).unwrap();
        assert_eq!(json["domain"], format!("0x{}", "00".repeat(32)));
        assert_eq!(json["chainId"], "901");
        assert_eq!(json["payloadHash"], format!("0x{}", "ab".repeat(32)));
    }

    #[test]
    fn signatures_are_65_hex_bytes() {
        let hex65 = format!("0x{}", "01".repeat(65));
        assert_eq!(parse_signature(&hex65), Some([1; 65]));
        assert_eq!(parse_signature(&hex65[2..]), Some([1; 65]));
        assert_eq!(parse_signature(&format!("0x{}", "01".repeat(64))), None);
        assert_eq!(parse_signature("0xzz"), None);
    }

    #[test]
    fn headers_are_key_value() {
        let h = parse_headers(&["Authorization=Bearer a=b".into(), "X-A=1".into()]).unwrap();
        assert_eq!(h["authorization"], "Bearer a=b");
        assert_eq!(h["x-a"], "1");
        assert!(parse_headers(&["novalue".into()]).is_err());
        assert!(parse_headers(&["bad name=1".into()]).is_err());
    }
}
