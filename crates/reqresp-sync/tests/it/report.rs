//! The operator reports: the vectors and hostile streams judged as the client judges them, and a
//! report fetched from a live server.

use std::time::Duration;

use futures::StreamExt;
use libp2p_identity::Keypair;
use libp2p_request_response as request_response;
use libp2p_swarm::SwarmEvent;
use op_p2p_reqresp_sync::{Config, ResponseReport, Verdict, report_behaviour};

use crate::common::{
    block_ref, chain, clock, connect, node, rollup, spawn_listening, swarm, timeout, within,
};

#[test]
fn reports_accept_good_payloads_and_explain_rejections() {
    let rollup = rollup();
    let blocks = chain(3);
    let stream = op_p2p_reqresp_sync::Response::payload(&rollup, blocks[2].clone()).encode();

    let report = ResponseReport::decode(&rollup, 2, &stream);
    assert_eq!(report.verdict, Verdict::Accept);
    assert_eq!(report.reason, None);
    assert_eq!(report.result_code, Some(0));
    assert_eq!(report.version, Some(0));
    assert_eq!(report.number, Some(2));
    let b = block_ref(&blocks[2]);
    assert_eq!(report.hash, Some(b.hash.to_string()));
    assert_eq!(report.parent_hash, Some(b.parent_hash.to_string()));
    assert_eq!(report.timestamp, Some(b.timestamp));
    assert_eq!(report.tx_count, Some(1));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "accept");
    assert_eq!(json["reason"], serde_json::Value::Null);
    assert_eq!(json["hash"].as_str().unwrap().len(), 66);

    // The right block asked under another number: decoded, then rejected.
    let wrong = ResponseReport::decode(&rollup, 3, &stream);
    assert_eq!(wrong.verdict, Verdict::Reject);
    assert_eq!(wrong.number, Some(2));
    assert_eq!(wrong.reason.as_deref(), Some("requested block 3, got 2"));

    let not_found = ResponseReport::decode(&rollup, 2, &[1]);
    assert_eq!(not_found.verdict, Verdict::Reject);
    assert_eq!(not_found.result_code, Some(1));
    assert_eq!(not_found.version, None);
    assert!(not_found.reason.unwrap().contains("not found"));

    let empty = ResponseReport::decode(&rollup, 2, &[]);
    assert_eq!(empty.reason.as_deref(), Some("response is empty"));

    let garbage = ResponseReport::decode(&rollup, 2, &[&stream[..], &[0]].concat());
    assert_eq!(garbage.verdict, Verdict::Reject);
    assert_eq!(garbage.version, Some(0));
    assert!(garbage.reason.unwrap().contains("snappy"));
}

#[tokio::test]
async fn a_report_fetched_from_a_live_server() {
    timeout(async {
        let clock = clock();
        let blocks = chain(20);
        let server = node(Some(&blocks), &clock, Config::default());
        let (server_id, addr) = spawn_listening(server.swarm).await;
        let mut fetcher = swarm(
            &Keypair::generate_ed25519(),
            report_behaviour(rollup(), Duration::from_secs(30)).unwrap(),
        );
        connect(&mut fetcher, server_id, addr).await;
        for (number, verdict) in [(7, Verdict::Accept), (50, Verdict::Reject)] {
            fetcher.behaviour_mut().send_request(&server_id, number);
            let report = within("the report", async {
                loop {
                    if let SwarmEvent::Behaviour(request_response::Event::Message {
                        message: request_response::Message::Response { response, .. },
                        ..
                    }) = fetcher.select_next_some().await
                    {
                        return response;
                    }
                }
            })
            .await;
            assert_eq!(report.verdict, verdict, "{report:?}");
            if verdict == Verdict::Accept {
                assert_eq!(
                    report.hash,
                    Some(blocks[7].execution_payload.block_hash.to_string())
                );
            } else {
                assert_eq!(report.result_code, Some(1));
            }
        }
    })
    .await;
}
