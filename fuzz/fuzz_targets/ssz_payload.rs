//! SSZ execution payload envelopes, as signed in gossip and sent as `payload_by_number` bodies.
//!
//! Input: one byte choosing the payload version (1–4), then the envelope bytes (the bare payload
//! for V1/V2, parent beacon block root ++ payload for V3/V4). Decodes; if it decodes, the
//! re-encoding must decode to the same value (and, since SSZ is canonical, be the same bytes),
//! and the block-hash check must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use op_p2p_types::{Bytes, ExecutionPayloadEnvelope, PayloadVersion};

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let version = PayloadVersion::ALL[usize::from(selector % 4)];
    let Ok(envelope) = ExecutionPayloadEnvelope::decode_ssz(version, &Bytes::copy_from_slice(data))
    else {
        return;
    };
    assert_eq!(envelope.version(), version);
    let encoded = envelope.encode_ssz();
    let decoded = ExecutionPayloadEnvelope::decode_ssz(version, &Bytes::from(encoded.clone()))
        .expect("re-encoded envelope decodes");
    assert_eq!(decoded, envelope);
    assert_eq!(encoded, data, "decoding accepted a non-canonical encoding");
    let _ = envelope.check_block_hash();
});
