//! The embedding example (`examples/embed.rs`) as a test: two nodes built only from op-p2p's
//! crates exchange a gossip block and a payload_by_number response over real TCP.

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/embed.rs"]
mod example;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_embedded_nodes_exchange_a_gossip_block_and_a_synced_one() {
    let (gossiped, synced) =
        tokio::time::timeout(std::time::Duration::from_secs(60), example::exchange())
            .await
            .expect("the exchange finishes within 60 s")
            .expect("the exchange succeeds");
    assert_eq!(gossiped.block_ref().number, 2);
    assert_eq!(synced.block_ref().number, 1);
    // The synced block is the gossiped one's parent, served by the peer that gossiped it.
    assert_eq!(synced.block_ref().hash, gossiped.block_ref().parent_hash);
    assert_eq!(synced.peer, gossiped.peer);
}
