//! Retention: what pruning keeps, deletes and leaves alone.

use std::sync::Arc;

use op_p2p_peerstore::{PeerStore, SystemClock};
use op_p2p_types::{B256, ExecutionPayloadEnvelope};

use super::{
    retention::MAX_PRUNED_PER_INSERT,
    tests::{chain, db_config, genesis, orphan, rollup, sibling},
    *,
};
use crate::sequencer::build_payload;

fn open(db: PeerStore, blocks: u64) -> PayloadStore {
    PayloadStore::open(db, genesis(), Retention::blocks(blocks)).unwrap()
}

fn memory_store(blocks: u64) -> PayloadStore {
    open(
        PeerStore::open_in_memory(db_config(), Arc::new(SystemClock::new())).unwrap(),
        blocks,
    )
}

/// Records in one of the store's column families.
fn records(store: &PayloadStore, cf: &'static str) -> usize {
    let db = store.inner.store.db();
    db.iterator_cf(store.cf(cf).unwrap(), IteratorMode::Start)
        .count()
}

/// `n` blocks chained on `parent`.
fn chain_on(parent: BlockRef, n: u64) -> Vec<ExecutionPayloadEnvelope> {
    let mut parent = parent;
    (0..n)
        .map(|_| {
            let block = build_payload(&rollup(), &parent).unwrap().unwrap();
            parent = BlockRef::of(&block);
            block
        })
        .collect()
}

fn hash(block: &ExecutionPayloadEnvelope) -> B256 {
    block.execution_payload.block_hash
}

/// Each head move prunes the heights that fell more than N below: the head and the N below it
/// stay and are served, older payloads, index entries and height records are gone, the gap
/// check sees nothing, the all-time counts keep counting, and an old block is not stored again.
#[test]
fn pruning_keeps_the_head_and_n_below_it() {
    let store = memory_store(3);
    let blocks = chain(10);
    for (i, block) in blocks.iter().enumerate() {
        store.insert(block, Origin::Gossip, 1).unwrap();
        let head = i as u64 + 1;
        let lowest = head.saturating_sub(3).max(1);
        assert_eq!(store.state().lowest_kept(store.inner.retention), lowest);
        for (j, block) in blocks[..=i].iter().enumerate() {
            let number = j as u64 + 1;
            let kept = number >= lowest;
            assert_eq!(
                store.payload_by_number(number).unwrap().is_some(),
                kept,
                "#{number} at head {head}"
            );
            assert_eq!(store.payload_by_hash(&hash(block)).unwrap().is_some(), kept);
        }
        assert_eq!(store.gap().unwrap(), None);
    }
    assert_eq!(number(&store), 10);
    for cf in [PAYLOADS_CF, PAYLOAD_INDEX_CF, PAYLOAD_HEIGHTS_CF] {
        assert_eq!(records(&store, cf), 4, "{cf}: 7..=10");
    }
    let entries = store.recent_entries(100).unwrap();
    assert_eq!(
        entries.iter().map(|e| e.block.number).collect::<Vec<_>>(),
        [7, 8, 9, 10]
    );
    assert_eq!(store.counts().gossip, 10, "all time, pruned included");

    assert_eq!(
        store.insert(&blocks[2], Origin::Sync, 2).unwrap(),
        Inserted::BelowRetention
    );
    assert_eq!(store.counts().sync, 0);
    assert_eq!(records(&store, PAYLOADS_CF), 4);
}

/// Payloads the index does not name (reorged out, off our chain) are pruned by height too, and
/// a reorg that moves the head down never un-prunes or prunes what it keeps.
#[test]
fn reorged_out_and_unlinked_payloads_are_pruned_too() {
    let store = memory_store(2);
    let blocks = chain(4);
    for block in &blocks {
        store.insert(block, Origin::Gossip, 1).unwrap();
    }
    // Pruned below 2 now; a sibling of #3 reorgs the head down to it.
    let other = sibling(&blocks[2]);
    assert!(matches!(
        store.insert(&other, Origin::Gossip, 2).unwrap(),
        Inserted::Reorged { .. }
    ));
    assert_eq!(store.state().pruned_below, 2);
    assert!(store.payload_by_number(2).unwrap().is_some());
    // An orphan at #3: stored by hash only.
    let orphan = orphan(&blocks[2]);
    assert_eq!(
        store.insert(&orphan, Origin::Gossip, 3).unwrap(),
        Inserted::Unlinked
    );
    assert_eq!(
        records(&store, PAYLOADS_CF),
        5,
        "#2, #3, #4, #3', the orphan (#1 gone)"
    );

    // The new branch grows to #8: everything below #6 goes, whichever branch.
    for block in chain_on(BlockRef::of(&other), 5) {
        store.insert(&block, Origin::Gossip, 4).unwrap();
    }
    assert_eq!(number(&store), 8);
    for block in [&blocks[1], &blocks[2], &blocks[3], &other, &orphan] {
        assert_eq!(store.payload_by_hash(&hash(block)).unwrap(), None);
    }
    for cf in [PAYLOADS_CF, PAYLOAD_INDEX_CF, PAYLOAD_HEIGHTS_CF] {
        assert_eq!(records(&store, cf), 3, "{cf}: 6..=8");
    }
}

/// A gap is above the head, never in pruned history; a head that jumps up a long gap prunes
/// what fell below, the block that closed the gap included, in bounded steps.
#[test]
fn gaps_are_unaffected_and_a_long_jump_prunes_the_block_that_closed_it() {
    let store = memory_store(2);
    let blocks = chain(30);
    for block in &blocks[..5] {
        store.insert(block, Origin::Gossip, 1).unwrap();
    }
    assert_eq!(
        store.insert(&blocks[29], Origin::Gossip, 1).unwrap(),
        Inserted::Ahead
    );
    let (start, end) = store.gap().unwrap().unwrap();
    assert_eq!((start.number, end.number), (5, 30));
    // Sync fills from the top down; the lowest one links everything up.
    for block in blocks[6..29].iter().rev() {
        assert_eq!(
            store.insert(block, Origin::Sync, 2).unwrap(),
            Inserted::Ahead
        );
        assert_eq!(store.gap().unwrap().unwrap().0.number, 5);
    }
    assert_eq!(
        store.insert(&blocks[5], Origin::Sync, 3).unwrap(),
        Inserted::Extended {
            head: BlockRef::of(&blocks[29])
        }
    );
    assert_eq!(store.gap().unwrap(), None);
    assert_eq!(store.state().pruned_below, 28);
    assert_eq!(store.payload_by_hash(&hash(&blocks[5])).unwrap(), None);
    for cf in [PAYLOADS_CF, PAYLOAD_INDEX_CF, PAYLOAD_HEIGHTS_CF] {
        assert_eq!(records(&store, cf), 3, "{cf}: 28..=30");
    }
}

/// The mark survives a restart; a store kept forever (or with a longer retention) is pruned
/// down to a shorter one at most [`MAX_PRUNED_PER_INSERT`] heights per insert; genesis stays.
#[test]
fn pruning_survives_reopen_and_works_off_a_backlog_in_steps() {
    let dir = tempfile::tempdir().unwrap();
    let open_disk = |blocks| {
        open(
            PeerStore::open(dir.path(), db_config(), Arc::new(SystemClock::new())).unwrap(),
            blocks,
        )
    };
    let total = MAX_PRUNED_PER_INSERT + 40;
    let blocks = chain(total + 2);
    {
        let store = open_disk(0);
        for block in &blocks[..total as usize] {
            store.insert(block, Origin::Gossip, 1).unwrap();
        }
        assert_eq!(records(&store, PAYLOADS_CF), total as usize, "0 keeps all");
    }
    {
        let store = open_disk(10);
        assert_eq!(store.state().pruned_below, 1);
        assert_eq!(store.state().lowest_kept(store.inner.retention), total - 10);
        // Nothing is pruned until the head moves, then one bounded step per move.
        assert_eq!(records(&store, PAYLOADS_CF), total as usize);
        store
            .insert(&blocks[total as usize], Origin::Gossip, 2)
            .unwrap();
        assert_eq!(store.state().pruned_below, 1 + MAX_PRUNED_PER_INSERT);
        assert_eq!(
            records(&store, PAYLOADS_CF),
            (total + 1 - MAX_PRUNED_PER_INSERT) as usize
        );
    }
    let store = open_disk(10);
    assert_eq!(store.state().pruned_below, 1 + MAX_PRUNED_PER_INSERT);
    assert_eq!(number(&store), total + 1);
    store
        .insert(&blocks[total as usize + 1], Origin::Gossip, 3)
        .unwrap();
    let head = total + 2;
    assert_eq!(store.state().pruned_below, head - 10);
    for cf in [PAYLOADS_CF, PAYLOAD_INDEX_CF, PAYLOAD_HEIGHTS_CF] {
        assert_eq!(records(&store, cf), 11, "{cf}: the head and 10 below");
    }
    assert_eq!(store.counts().gossip, head);
    assert_eq!(
        store.insert(&blocks[0], Origin::Gossip, 4).unwrap(),
        Inserted::BelowRetention
    );
}

/// The genesis block is never pruned: it is served as op-node serves it from its engine.
#[test]
fn the_genesis_block_is_kept() {
    let rollup = rollup();
    let genesis_block = crate::sequencer::genesis_payload(&rollup).unwrap();
    let db = PeerStore::open_in_memory(db_config(), Arc::new(SystemClock::new())).unwrap();
    let store = PayloadStore::open(db, BlockRef::of(&genesis_block), Retention::blocks(1)).unwrap();
    assert!(store.store_genesis(&genesis_block).unwrap());
    for block in chain_on(BlockRef::of(&genesis_block), 5) {
        store.insert(&block, Origin::Gossip, 1).unwrap();
    }
    assert_eq!(store.payload_by_number(0).unwrap(), Some(genesis_block));
    assert_eq!(store.payload_by_number(3).unwrap(), None);
    assert!(store.payload_by_number(4).unwrap().is_some());
    assert_eq!(records(&store, PAYLOADS_CF), 3, "genesis, #4, #5");
}

fn number(store: &PayloadStore) -> u64 {
    store.head().number
}
