//! Blocks-topic gossip data, as a peer would publish it.
//!
//! Input: one byte choosing the topic (payload version 1–4), then the raw `pubsub.Message.data`.
//! Decodes the message; if it decodes, runs every stateless check (signer recovery, SSZ decode,
//! block-hash recomputation) for that topic, and computes the topic-bound message id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use op_p2p_types::{BlocksTopic, PayloadVersion, SignedBlockMessage, message_id};

const CHAIN_ID: u64 = 10;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let version = PayloadVersion::ALL[usize::from(selector % 4)];
    let topic = BlocksTopic::new(CHAIN_ID, version).to_string();
    let _ = message_id(&topic, data);
    if let Ok(msg) = SignedBlockMessage::decode(data) {
        let _ = msg.check(CHAIN_ID, version);
        // A decoded message re-encodes to data that decodes to the same message.
        let again = SignedBlockMessage::decode(&msg.encode()).expect("re-encoded message decodes");
        assert_eq!(again, msg);
    }
});
