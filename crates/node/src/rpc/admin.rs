//! The `admin` namespace, served with `--rpc.enable-admin`: `admin_postUnsafePayload`.
//!
//! op-node's method (`op-node/node/api.go`) checks the block hash and hands the payload to its
//! driver; op-conductor then publishes through `PublishSignedL2Payload`. Here the node is the
//! P2P layer, so the method does what a sequencer does with a payload built elsewhere: checks
//! it, stores it, signs it (local key or remote signer) and publishes it on the topic the fork
//! schedule gives its timestamp. It answers `null` once gossipsub took the block.
//!
//! Refusals, each with its reason and nothing stored or published:
//! - not an envelope in the Engine API JSON format: `-32602 invalid argument 0: …`;
//! - a wrong block hash: op-node's `payload has bad block hash: <given>, actual block hash
//!   is: <computed>`;
//! - a wrong fork shape: the fields make another payload version than the one scheduled at
//!   the timestamp, or a parent beacon block root where the version has none;
//! - anything else every peer's gossip validator would reject (timestamp window, non-empty
//!   withdrawals, non-zero blob gas before Jovian, …), named as the validator names it;
//! - no block signer on this node.

use std::sync::Arc;

use jsonrpsee::{
    RpcModule,
    types::{ErrorObjectOwned, Params},
};
use op_p2p_gossip::Validator;
use op_p2p_types::{BlockHashError, ExecutionPayloadEnvelope, RollupConfig};
use serde_json::Value;
use tracing::{info, warn};

use super::{
    params::{Args, server_error},
    payload_json::EnvelopeJson,
};
use crate::{
    payload_store::{Origin, PayloadStore},
    signer::BlockPublisher,
    wall_clock::{now_ms, now_us},
};

/// The method's name (op-node's).
pub(crate) const POST_UNSAFE_PAYLOAD: &str = "admin_postUnsafePayload";
/// The tracing target.
const TARGET: &str = "op_p2p::rpc::admin";

/// What the admin methods work with.
#[derive(Debug)]
pub(crate) struct AdminParts {
    /// Where posted payloads are stored.
    pub(crate) payloads: PayloadStore,
    /// Signs and publishes; `None` on a node without a block signer.
    pub(crate) publisher: Option<BlockPublisher>,
    /// The chain's fork schedule.
    pub(crate) rollup: RollupConfig,
    /// The rules every peer applies (timestamp window, version rules).
    pub(crate) validator: Validator,
}

/// The `admin` namespace.
pub(crate) fn module(parts: AdminParts) -> RpcModule<AdminParts> {
    let mut module = RpcModule::new(parts);
    let registered = module.register_async_method(
        POST_UNSAFE_PAYLOAD,
        |params: Params<'static>, parts: Arc<AdminParts>, _| async move {
            let args = Args::parse(&params, 1)?;
            let value = args.required(0)?.clone();
            post_unsafe_payload(&parts, value).await
        },
    );
    debug_assert!(registered.is_ok(), "{POST_UNSAFE_PAYLOAD} registered twice");
    module
}

async fn post_unsafe_payload(parts: &AdminParts, value: Value) -> Result<Value, ErrorObjectOwned> {
    let envelope = serde_json::from_value::<EnvelopeJson>(value)
        .map_err(|e| super::params::invalid_argument(0, e))?
        .into_envelope()
        .map_err(|e| super::params::invalid_argument(0, e))?;
    check(parts, &envelope).map_err(|reason| {
        warn!(
            target: TARGET,
            number = envelope.execution_payload.block_number,
            %reason,
            "{POST_UNSAFE_PAYLOAD}: refused"
        );
        server_error(reason)
    })?;
    let Some(publisher) = &parts.publisher else {
        return Err(server_error(
            "no block signer: start the node with --p2p.sequencer.key or --signer.endpoint",
        ));
    };
    let number = envelope.execution_payload.block_number;
    let hash = envelope.execution_payload.block_hash;
    let inserted = parts
        .payloads
        .insert(&envelope, Origin::Local, now_us())
        .map_err(|e| server_error(format!("cannot store the payload: {e}")))?;
    publisher
        .sign_and_publish(envelope)
        .await
        .map_err(|e| server_error(format!("payload {number} ({hash}) stored but {e}")))?;
    info!(
        target: TARGET,
        number, %hash, stored = ?inserted,
        "{POST_UNSAFE_PAYLOAD}: published"
    );
    Ok(Value::Null)
}

/// The checks before anything is stored or signed; the error is the reason.
fn check(parts: &AdminParts, envelope: &ExecutionPayloadEnvelope) -> Result<(), String> {
    let payload = &envelope.execution_payload;
    match envelope.check_block_hash() {
        Ok(()) => {}
        Err(BlockHashError::Mismatch { claimed, computed }) => {
            return Err(format!(
                "payload has bad block hash: {claimed}, actual block hash is: {computed}"
            ));
        }
        Err(e @ BlockHashError::BaseFeeOverflow) => {
            return Err(format!("payload has bad block hash: {e}"));
        }
    }
    let scheduled = parts.rollup.payload_version(payload.timestamp);
    let shape = envelope.version();
    if shape != scheduled {
        return Err(format!(
            "wrong fork shape: the payload's fields make a {shape:?} payload, but the fork \
             active at timestamp {} takes {scheduled:?}",
            payload.timestamp
        ));
    }
    if !shape.has_parent_beacon_root() && envelope.parent_beacon_block_root.is_some() {
        return Err(format!(
            "wrong fork shape: a {shape:?} payload has no parentBeaconBlockRoot"
        ));
    }
    let now = now_ms() / 1000;
    parts
        .validator
        .check_envelope(scheduled, envelope, now)
        .map_err(|reason| {
            format!(
                "payload would be rejected by every peer: {} (timestamp {}, now {now})",
                reason.as_str(),
                payload.timestamp
            )
        })
}
