//! Chains, nodes and swarms shared by the tests.

use std::{future::Future, sync::Arc, time::Duration};

use futures::channel::mpsc;
use libp2p_core::Multiaddr;
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{NetworkBehaviour, Swarm};
pub(crate) use op_p2p_api::test_utils::{listen_local as listen, spawn_listening};
use op_p2p_api::{
    MemoryScoreBook,
    test_utils::{self, tcp_swarm_with_key},
};
use op_p2p_reqresp_sync::{Behaviour, BlockRef, Config, ManualClock, MemorySource, UnsafePayload};
use op_p2p_types::{
    B256, Bytes, ExecutionPayload, ExecutionPayloadEnvelope, Genesis, GenesisBlock, RollupConfig,
    U256,
};

/// Every test's overall limit; tests await events and never sleep.
pub(crate) const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Genesis time of the test chain.
pub(crate) const GENESIS_TIME: u64 = 1_700_000_000;

/// The test chain's block time.
pub(crate) const BLOCK_TIME: u64 = 2;

/// The test chain's id.
pub(crate) const CHAIN_ID: u64 = 901;

/// Runs `test` under [`TEST_TIMEOUT`], with logs if `RUST_LOG` is set.
pub(crate) async fn timeout<F: Future>(test: F) -> F::Output {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("test timed out")
}

/// Awaits `f` with the overall limit of one step, for waits inside a test.
pub(crate) async fn within<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The test chain's rollup config: genesis block 0, no hardforks (version 0, V1 payloads).
pub(crate) fn rollup() -> RollupConfig {
    RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            l2_time: GENESIS_TIME,
        },
        block_time: BLOCK_TIME,
        l2_chain_id: CHAIN_ID,
        ..Default::default()
    }
}

/// A clock whose wall time puts the chain's target block at 10,000.
pub(crate) fn clock() -> ManualClock {
    ManualClock::new(GENESIS_TIME + BLOCK_TIME * 10_000)
}

/// One block of the test chain: valid, with a recomputed hash; `salt` makes a different block
/// of the same number and parent.
pub(crate) fn block(number: u64, parent: B256, salt: u8) -> ExecutionPayloadEnvelope {
    let mut envelope = ExecutionPayloadEnvelope {
        parent_beacon_block_root: None,
        execution_payload: ExecutionPayload {
            parent_hash: parent,
            block_number: number,
            gas_limit: 30_000_000,
            gas_used: 21_000,
            timestamp: GENESIS_TIME + BLOCK_TIME * number,
            extra_data: Bytes::from(vec![salt]),
            base_fee_per_gas: U256::from(7),
            transactions: vec![Bytes::from(
                [&[0x02, salt][..], &number.to_le_bytes()].concat(),
            )],
            ..Default::default()
        },
    };
    envelope.execution_payload.block_hash = envelope.compute_block_hash().unwrap();
    envelope
}

/// Blocks `0..=last` of the test chain, linked by parent hash; index = number.
pub(crate) fn chain(last: u64) -> Vec<ExecutionPayloadEnvelope> {
    let mut blocks: Vec<ExecutionPayloadEnvelope> = Vec::new();
    for number in 0..=last {
        let parent = blocks
            .last()
            .map_or(B256::ZERO, |b| b.execution_payload.block_hash);
        blocks.push(block(number, parent, 0));
    }
    blocks
}

/// The driver's reference to a block.
pub(crate) fn block_ref(envelope: &ExecutionPayloadEnvelope) -> BlockRef {
    BlockRef::of(envelope)
}

/// An in-memory score book.
pub(crate) fn store() -> Arc<MemoryScoreBook> {
    Arc::new(MemoryScoreBook::new())
}

/// A sync node as the tests drive it.
pub(crate) type Node = Swarm<Behaviour<MemorySource>>;

/// A sync node: its swarm, its score book, and the receiving end of its payload sink.
pub(crate) struct Parts {
    pub(crate) swarm: Node,
    pub(crate) store: Arc<MemoryScoreBook>,
    pub(crate) sink: mpsc::Receiver<UnsafePayload>,
}

/// A node serving `blocks` (if any) with `config`, on `clock`.
pub(crate) fn node(
    blocks: Option<&[ExecutionPayloadEnvelope]>,
    clock: &ManualClock,
    config: Config,
) -> Parts {
    let store = store();
    let (tx, rx) = mpsc::channel(16);
    let source = blocks.map(|b| b.iter().cloned().collect::<MemorySource>());
    let behaviour = Behaviour::new(
        config,
        rollup(),
        store.clone(),
        tx,
        source,
        Arc::new(clock.clone()),
    )
    .unwrap();
    Parts {
        swarm: swarm(&Keypair::generate_ed25519(), behaviour),
        store,
        sink: rx,
    }
}

/// The workspace's one test swarm (`op_p2p_api::test_utils`): TCP + noise + yamux on
/// 127.0.0.1, negotiating up to 512 inbound streams at once (the default 128 would drop part of
/// a 200-request burst before the sync behaviour sees it).
pub(crate) fn swarm<B: NetworkBehaviour>(keypair: &Keypair, behaviour: B) -> Swarm<B> {
    tcp_swarm_with_key(keypair.clone(), |_| behaviour)
}

/// Dials `addr` and drives `swarm` until the connection to `peer` is established, within the
/// step limit.
pub(crate) async fn connect<B: NetworkBehaviour>(
    swarm: &mut Swarm<B>,
    peer: PeerId,
    addr: Multiaddr,
) {
    within("connection", test_utils::connect(swarm, peer, addr)).await;
}
