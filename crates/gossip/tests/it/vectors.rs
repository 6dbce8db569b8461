//! Every gossip vector of the project's shared set gets its expected verdict through the
//! validator configured as the vector says (chain id, topic version, signer, now, Jovian).

use std::{fs, str::FromStr, time::Duration};

use libp2p_gossipsub::TopicHash;
use op_p2p_gossip::{Outcome, UnsafeBlockSigner, Validate, Validator, gossip_message_id};
use op_p2p_types::{Address, B256, PayloadVersion, RollupConfig};
use serde_json::Value;

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap().trim_start_matches("0x")).unwrap()
}

fn expected_outcome(result: &str) -> Outcome {
    match result {
        "ACCEPT" => Outcome::Accept,
        "IGNORE" => Outcome::Ignore,
        "REJECT" => Outcome::Reject,
        other => panic!("unknown expected result {other}"),
    }
}

#[test]
fn every_gossip_vector_gets_its_expected_verdict() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/gossip_valid.json");
    let file: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 12);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let chain_id = v["chain_id"].as_u64().unwrap();
        let version = PayloadVersion::ALL
            [usize::try_from(v["topic_payload_version"].as_u64().unwrap()).unwrap() - 1];
        let signer =
            Address::from_str(v["configured_sequencer_address"].as_str().unwrap()).unwrap();
        let now = v["validation_now_unix"].as_u64().unwrap();
        let rollup = RollupConfig {
            l2_chain_id: chain_id,
            block_time: 2,
            jovian_time: v["jovian_active"].as_bool().unwrap().then_some(0),
            ..Default::default()
        };
        let validator = Validator::new(
            rollup,
            UnsafeBlockSigner::new(signer),
            Duration::from_secs(60),
        );
        let topic = TopicHash::from_raw(v["topic"].as_str().unwrap());
        assert_eq!(validator.version_of(&topic), Some(version), "{name}");
        let data = hex(&v["message_hex"]);
        let e = &v["expected"];

        let verdict = validator.validate(&topic, &data, now);
        assert_eq!(
            verdict.outcome(),
            expected_outcome(e["result"].as_str().unwrap()),
            "{name}: {:?}",
            verdict.reason
        );
        assert_eq!(verdict.signer, Some(signer), "{name}: signer");
        let payload = &verdict.envelope.as_ref().unwrap().execution_payload;
        assert_eq!(
            payload.block_hash,
            B256::from_slice(&hex(&e["payload"]["block_hash"])),
            "{name}"
        );
        assert_eq!(
            payload.block_number,
            e["payload"]["block_number"].as_u64().unwrap(),
            "{name}"
        );

        // gossipsub's message id is op-node's topic-bound one.
        let id = gossip_message_id(&libp2p_gossipsub::Message {
            source: None,
            data: data.clone(),
            sequence_number: None,
            topic: topic.clone(),
        });
        assert_eq!(id.0, hex(&e["message_id"]), "{name}: message id");

        // A second sighting of the same block is a duplicate.
        let again = validator.validate(&topic, &data, now);
        assert_eq!(again.outcome(), Outcome::Ignore, "{name}");
    }
}
