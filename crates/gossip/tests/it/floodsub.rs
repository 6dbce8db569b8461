//! Floodsub peers (spec §3.1): op-node's gossipsub speaks `/floodsub/1.0.0` as well, and sends
//! a floodsub peer every message on a topic it subscribed to. A peer that offers only the
//! floodsub protocol id receives our block.

use futures::StreamExt as _;
use libp2p_gossipsub as gossipsub;
use libp2p_swarm::SwarmEvent;
use op_p2p_gossip::{
    Config, gossip_message_id,
    test_utils::{CHAIN_ID, NOW, TestNode, block, within},
    topic_hash,
};
use op_p2p_types::{BlocksTopic, PayloadVersion};
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_floodsub_only_peer_receives_our_blocks() {
    let node = TestNode::spawn(Config::default()).await;
    let topic = topic_hash(BlocksTopic::new(CHAIN_ID, PayloadVersion::V4));

    // A router whose only protocol id is `/floodsub/1.0.0`, accepting unsigned messages.
    let config = gossipsub::ConfigBuilder::default()
        .protocol_id("/floodsub/1.0.0", gossipsub::Version::V1_0)
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .message_id_fn(gossip_message_id)
        .build()
        .unwrap();
    let mut flood = op_p2p_api::test_utils::tcp_swarm(|_| {
        gossipsub::Behaviour::<gossipsub::IdentityTransform, gossipsub::AllowAllSubscriptionFilter>::new(
            gossipsub::MessageAuthenticity::Anonymous,
            config,
        )
        .unwrap()
    });
    flood
        .behaviour_mut()
        .subscribe(&gossipsub::IdentTopic::new(topic.as_str()))
        .unwrap();
    op_p2p_api::test_utils::connect(&mut flood, node.peer_id, node.address.clone()).await;

    // Drive the floodsub peer: report our node's subscription and every message it gets.
    let (events, mut received) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let event = match flood.select_next_some().await {
                SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, topic }) => {
                    Some((peer_id, topic, None))
                }
                SwarmEvent::Behaviour(gossipsub::Event::Message {
                    propagation_source,
                    message_id,
                    message,
                }) => Some((propagation_source, message.topic, Some(message_id))),
                _ => None,
            };
            if let Some(event) = event
                && events.send(event).await.is_err()
            {
                return;
            }
        }
    });
    // Our node's subscription came over the floodsub stream: the protocol was negotiated.
    let (from, _, _) = within("our subscription at the floodsub peer", received.recv())
        .await
        .unwrap();
    assert_eq!(from, node.peer_id);

    // Our node learns the floodsub peer's subscription over the same stream; publish until a
    // block arrives (the first may go out before that subscription is in).
    let delivered = within("a block at the floodsub peer", async {
        for salt in 1u8.. {
            let id = node.publish(&block(100, NOW, salt)).await.unwrap();
            let wait = tokio::time::sleep(std::time::Duration::from_millis(500));
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    event = received.recv() => {
                        if let (peer, t, Some(got)) = event.unwrap() {
                            return (peer, t, got, id);
                        }
                    }
                    () = &mut wait => break,
                }
            }
        }
        unreachable!("salts run out")
    })
    .await;
    let (peer, t, got, published) = delivered;
    assert_eq!((peer, &t), (node.peer_id, &topic));
    assert_eq!(got, published, "the block we published");
}
