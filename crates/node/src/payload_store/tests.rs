//! The unsafe chain rules of the payload store.

use std::sync::Arc;

use op_p2p_peerstore::{Config, PeerStore, SystemClock};
use op_p2p_types::{B256, ExecutionPayloadEnvelope, RollupConfig};

use super::*;
use crate::sequencer::build_payload;

pub(super) fn rollup() -> RollupConfig {
    RollupConfig {
        block_time: 2,
        l2_chain_id: 901,
        canyon_time: Some(0),
        ecotone_time: Some(0),
        isthmus_time: Some(0),
        ..Default::default()
    }
}

pub(super) fn genesis() -> BlockRef {
    BlockRef {
        number: 0,
        hash: B256::repeat_byte(0x99),
        parent_hash: B256::ZERO,
        timestamp: 0,
    }
}

/// Blocks 1..=n chained from genesis.
pub(super) fn chain(n: u64) -> Vec<ExecutionPayloadEnvelope> {
    let mut parent = genesis();
    (0..n)
        .map(|_| {
            let block = build_payload(&rollup(), &parent).unwrap().unwrap();
            parent = BlockRef::of(&block);
            block
        })
        .collect()
}

/// A different block at the same height as `block`, on the same parent.
pub(super) fn sibling(block: &ExecutionPayloadEnvelope) -> ExecutionPayloadEnvelope {
    let mut other = block.clone();
    other.execution_payload.state_root = B256::repeat_byte(0xee);
    other.execution_payload.block_hash = other.compute_block_hash().unwrap();
    other
}

/// `block` on a parent nobody has: stored by hash only ([`Inserted::Unlinked`]).
pub(super) fn orphan(block: &ExecutionPayloadEnvelope) -> ExecutionPayloadEnvelope {
    let mut orphan = block.clone();
    orphan.execution_payload.parent_hash = B256::repeat_byte(1);
    orphan.execution_payload.block_hash = orphan.compute_block_hash().unwrap();
    orphan
}

pub(super) fn db_config() -> Config {
    Config::default().with_extra_column_families(COLUMN_FAMILIES)
}

fn memory_store() -> PayloadStore {
    let store = PeerStore::open_in_memory(db_config(), Arc::new(SystemClock::new())).unwrap();
    PayloadStore::open(store, genesis(), Retention::default()).unwrap()
}

fn number(store: &PayloadStore) -> u64 {
    store.head().number
}

#[test]
fn in_order_blocks_extend_the_head() {
    let store = memory_store();
    assert_eq!(store.head(), genesis());
    for (i, block) in chain(3).iter().enumerate() {
        let inserted = store.insert(block, Origin::Gossip, 10).unwrap();
        assert_eq!(
            inserted,
            Inserted::Extended {
                head: BlockRef::of(block)
            }
        );
        assert_eq!(number(&store), i as u64 + 1);
    }
    assert_eq!(
        store.insert(&chain(1)[0], Origin::Gossip, 11).unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(store.counts().gossip, 3);
    assert_eq!(store.gap().unwrap(), None);
}

#[test]
fn a_block_above_head_plus_one_opens_a_gap_that_sync_closes_from_the_top() {
    let store = memory_store();
    let blocks = chain(5);
    assert_eq!(
        store.insert(&blocks[4], Origin::Gossip, 1).unwrap(),
        Inserted::Ahead
    );
    assert_eq!(number(&store), 0);
    let (start, end) = store.gap().unwrap().unwrap();
    assert_eq!(start, genesis());
    assert_eq!(end, BlockRef::of(&blocks[4]));
    // op-node's sync client promotes from the trusted end downwards.
    for block in blocks[1..4].iter().rev() {
        assert_eq!(
            store.insert(block, Origin::Sync, 2).unwrap(),
            Inserted::Ahead
        );
    }
    assert_eq!(store.gap().unwrap().unwrap().1, BlockRef::of(&blocks[1]));
    // The lowest one links everything up to the gossip block.
    assert_eq!(
        store.insert(&blocks[0], Origin::Sync, 3).unwrap(),
        Inserted::Extended {
            head: BlockRef::of(&blocks[4])
        }
    );
    assert_eq!(store.gap().unwrap(), None);
    assert_eq!(store.counts().sync, 4);
    assert_eq!(store.counts().gossip, 1);
}

#[test]
fn the_chain_is_served_up_to_the_head_only() {
    let store = memory_store();
    let blocks = chain(3);
    store.insert(&blocks[0], Origin::Local, 1).unwrap();
    store.insert(&blocks[2], Origin::Gossip, 1).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(
            store.payload_by_number(1).unwrap().as_ref(),
            Some(&blocks[0])
        );
        assert_eq!(store.payload_by_number(2).unwrap(), None);
        // Waiting above the head: not served (not part of our chain yet).
        assert_eq!(store.payload_by_number(3).unwrap(), None);
        assert_eq!(store.payload_by_number(0).unwrap(), None);
    });
}

#[test]
fn a_sibling_of_a_chain_block_reorgs_the_head_to_it() {
    let store = memory_store();
    let blocks = chain(3);
    for block in &blocks {
        store.insert(block, Origin::Gossip, 1).unwrap();
    }
    let other = sibling(&blocks[1]);
    assert_eq!(
        store.insert(&other, Origin::Gossip, 2).unwrap(),
        Inserted::Reorged {
            head: BlockRef::of(&other)
        }
    );
    assert_eq!(store.head(), BlockRef::of(&other));
    assert!(
        store.entry(3).unwrap().is_none(),
        "the old block 3 left the index"
    );
    // A block whose parent we do not know is kept by hash only.
    let orphan = orphan(&blocks[2]);
    assert_eq!(
        store.insert(&orphan, Origin::Gossip, 3).unwrap(),
        Inserted::Unlinked
    );
    assert!(
        store
            .payload_by_hash(&orphan.execution_payload.block_hash)
            .unwrap()
            .is_some()
    );
}

#[test]
fn genesis_and_below_are_not_stored() {
    let store = memory_store();
    let mut block = chain(1).remove(0);
    block.execution_payload.block_number = 0;
    assert_eq!(
        store.insert(&block, Origin::Gossip, 1).unwrap(),
        Inserted::BeforeGenesis
    );
}

#[test]
fn everything_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = chain(4);
    {
        let db = PeerStore::open(dir.path(), db_config(), Arc::new(SystemClock::new())).unwrap();
        let store = PayloadStore::open(db, genesis(), Retention::default()).unwrap();
        for block in &blocks[..3] {
            store.insert(block, Origin::Gossip, 5).unwrap();
        }
        store.insert(&sibling(&blocks[3]), Origin::Sync, 6).unwrap();
    }
    let db = PeerStore::open(dir.path(), db_config(), Arc::new(SystemClock::new())).unwrap();
    let store = PayloadStore::open(db.clone(), genesis(), Retention::default()).unwrap();
    assert_eq!(number(&store), 4);
    assert_eq!(store.counts().gossip, 3);
    assert_eq!(store.counts().sync, 1);
    let entries = store.recent_entries(10).unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0].block, BlockRef::of(&blocks[0]));
    assert_eq!(entries[3].origin, Origin::Sync);
    assert_eq!(store.recent_entries(2).unwrap()[0].block.number, 3);

    // Another chain's genesis above our head is refused.
    let higher = BlockRef {
        number: 10,
        ..genesis()
    };
    assert!(matches!(
        PayloadStore::open(db, higher, Retention::default()),
        Err(StoreError::OtherChain { .. })
    ));
}

/// The genesis block is served when stored: only the genesis the store was opened with, at its
/// height, without moving the head or the counts; blocks on top still link to it.
#[test]
fn the_genesis_payload_is_stored_and_served() {
    let rollup = rollup();
    let genesis_block = crate::sequencer::genesis_payload(&rollup).unwrap();
    let db = PeerStore::open_in_memory(db_config(), Arc::new(SystemClock::new())).unwrap();
    let store = PayloadStore::open(db, BlockRef::of(&genesis_block), Retention::default()).unwrap();
    assert_eq!(store.payload_by_number(0).unwrap(), None);

    // Another block 0 (another chain's genesis) is not stored.
    assert!(!store.store_genesis(&sibling(&genesis_block)).unwrap());
    assert_eq!(store.payload_by_number(0).unwrap(), None);

    assert!(store.store_genesis(&genesis_block).unwrap());
    assert!(store.store_genesis(&genesis_block).unwrap(), "idempotent");
    assert_eq!(
        store.payload_by_number(0).unwrap(),
        Some(genesis_block.clone())
    );
    assert_eq!(store.head(), BlockRef::of(&genesis_block));
    assert_eq!(store.counts(), Counts::default());
    assert_eq!(store.recent_entries(5).unwrap()[0].origin, Origin::Genesis);

    let one = build_payload(&rollup, &store.head()).unwrap().unwrap();
    assert!(matches!(
        store.insert(&one, Origin::Gossip, 1).unwrap(),
        Inserted::Extended { .. }
    ));
    assert_eq!(store.payload_by_number(1).unwrap(), Some(one));
    assert_eq!(store.payload_by_number(0).unwrap(), Some(genesis_block));
    assert_eq!(store.gap().unwrap(), None);
}
