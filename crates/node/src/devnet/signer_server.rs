//! `op-p2p devnet --remote-signer`: a small op-signer stand-in the devnet serves in-process, so
//! the sequencer signs through `--signer.endpoint` as a production sequencer does, and the
//! sequencer process never holds the key.
//!
//! It speaks op-signer's block methods (`health_status`, `opsigner_signBlockPayload` with Go's
//! JSON of `BlockPayloadArgs`, `opsigner_signBlockPayloadV2`) over plain HTTP on 127.0.0.1:
//! the devnet runs on one host, so TLS would protect nothing (the node's mutual TLS is tested
//! against an in-test signer in `tests/it/remote_signer.rs`). Like op-signer, it signs only
//! for the address it holds the key of.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use alloy_primitives::hex;
use base64::Engine as _;
use jsonrpsee::{
    RpcModule,
    server::{Server, ServerHandle},
    types::{ErrorObjectOwned, Params},
};
use op_p2p_types::{Address, B256, BlockSigner, signing_hash_with_domain};
use serde_json::Value;

use super::DevnetError;

/// op-signer's health answer here.
const VERSION: &str = concat!("op-p2p devnet signer ", env!("CARGO_PKG_VERSION"));

/// The running signer; stops when dropped.
#[derive(Debug)]
pub(crate) struct DevnetSigner {
    /// `--signer.endpoint` for the sequencer.
    pub(crate) url: String,
    signed: Arc<AtomicU64>,
    handle: ServerHandle,
}

struct Context {
    key: BlockSigner,
    signed: Arc<AtomicU64>,
}

impl DevnetSigner {
    /// Serves signatures by `key` on a free port of 127.0.0.1.
    pub(crate) async fn start(key: BlockSigner) -> Result<Self, DevnetError> {
        let io = |source| DevnetError::Io {
            what: "start the devnet's remote signer on 127.0.0.1".into(),
            source,
        };
        let server = Server::builder().build("127.0.0.1:0").await.map_err(io)?;
        let addr = server.local_addr().map_err(io)?;
        let signed = Arc::new(AtomicU64::new(0));
        let handle = server.start(module(Context {
            key,
            signed: signed.clone(),
        }));
        Ok(Self {
            url: format!("http://{addr}"),
            signed,
            handle,
        })
    }

    /// Signatures handed out so far.
    pub(crate) fn signed(&self) -> u64 {
        self.signed.load(Ordering::Relaxed)
    }
}

impl Drop for DevnetSigner {
    fn drop(&mut self) {
        let _ = self.handle.stop();
    }
}

fn refuse(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32602, message.into(), None::<()>)
}

/// The signing hash a request asks for, checked as op-signer checks it.
fn signing_hash(v2: bool, args: &Value, holder: Address) -> Result<B256, ErrorObjectOwned> {
    let field = |name: &str| {
        args.get(name)
            .ok_or_else(|| refuse(format!("{name} not specified")))
    };
    if let Some(sender) = args.get("senderAddress").filter(|v| !v.is_null()) {
        let sender: Address =
            serde_json::from_value(sender.clone()).map_err(|e| refuse(e.to_string()))?;
        if sender != holder {
            return Err(refuse(format!("no key for sender {sender}")));
        }
    }
    let (domain, chain_id, payload_hash) = if v2 {
        let domain: B256 =
            serde_json::from_value(field("domain")?.clone()).map_err(|e| refuse(e.to_string()))?;
        let chain_id = field("chainId")?
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| refuse("chainId: expected decimal text"))?;
        let hash: B256 = serde_json::from_value(field("payloadHash")?.clone())
            .map_err(|e| refuse(e.to_string()))?;
        (domain, chain_id, hash)
    } else {
        // Go's JSON: `[32]byte` as an array of numbers, `*big.Int` as a number, `[]byte` as
        // base64.
        let domain: Vec<u8> = serde_json::from_value(field("domain")?.clone())
            .map_err(|e| refuse(format!("domain: {e}")))?;
        let domain = B256::try_from(domain.as_slice()).map_err(|_| refuse("domain: 32 bytes"))?;
        let chain_id = field("chainId")?
            .as_u64()
            .ok_or_else(|| refuse("chainId: expected a number"))?;
        let hash = base64::engine::general_purpose::STANDARD
            .decode(field("payloadHash")?.as_str().unwrap_or_default())
            .map_err(|e| refuse(format!("payloadHash: {e}")))?;
        let hash = B256::try_from(hash.as_slice())
            .map_err(|_| refuse("payloadHash has unexpected length"))?;
        (domain, chain_id, hash)
    };
    Ok(signing_hash_with_domain(domain, chain_id, payload_hash))
}

fn module(context: Context) -> RpcModule<Context> {
    let mut module = RpcModule::new(context);
    // Each name is registered once here.
    let _ = module.register_method("health_status", |_, _, _| VERSION);
    for (method, v2) in [
        ("opsigner_signBlockPayload", false),
        ("opsigner_signBlockPayloadV2", true),
    ] {
        let _ = module.register_method(method, move |params: Params<'_>, context, _| {
            let args: Vec<Value> = params.parse()?;
            let args = args.first().ok_or_else(|| refuse("missing argument"))?;
            let hash = signing_hash(v2, args, context.key.address())?;
            context.signed.fetch_add(1, Ordering::Relaxed);
            Ok::<_, ErrorObjectOwned>(hex::encode_prefixed(context.key.sign_hash(hash)))
        });
    }
    module
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use op_p2p_types::{RollupConfig, signing_hash};

    use crate::signer::{RemoteSigner, RemoteSignerSettings, SignerApi};

    use super::*;

    /// The node's remote-signer client against this server, both methods: the signature
    /// recovers to the key's address, and another sender address is refused.
    #[tokio::test]
    async fn the_node_client_signs_through_it() {
        let key = BlockSigner::new(B256::repeat_byte(5)).unwrap();
        let server = DevnetSigner::start(key.clone()).await.unwrap();
        let hash = B256::repeat_byte(0xcd);
        let chain_id = RollupConfig::default().l2_chain_id.max(901);
        for api in [SignerApi::V1, SignerApi::V2] {
            let settings = RemoteSignerSettings {
                endpoint: server.url.clone(),
                address: key.address(),
                headers: Default::default(),
                tls: None,
                timeout: Duration::from_secs(5),
                api,
            };
            let client = RemoteSigner::connect(&settings).await.unwrap();
            let signature = client.sign(chain_id, hash).await.unwrap();
            assert_eq!(signature, key.sign_hash(signing_hash(chain_id, hash)));
            let stranger = RemoteSigner::connect(&RemoteSignerSettings {
                address: Address::repeat_byte(7),
                ..settings
            })
            .await
            .unwrap();
            let error = stranger.sign(chain_id, hash).await.unwrap_err().to_string();
            assert!(error.contains("no key for sender"), "{error}");
        }
        assert_eq!(server.signed(), 2);
    }
}
