//! [`PayloadStore`]: every accepted unsafe payload, by hash and by number, and the unsafe head,
//! in the node's RocksDB database (its own column families next to the peer store's books).
//!
//! # The unsafe chain
//! op-node hands unsafe payloads to its execution engine, which keeps the chain; this node has
//! no engine, so the store keeps the chain itself:
//!
//! - The **head** starts at the L2 genesis block of the rollup config.
//! - A payload whose parent is the head **extends** it; the head then also moves up through any
//!   stored payloads above it that link by parent hash (blocks fetched by sync, newest first,
//!   link up this way when the lowest one arrives).
//! - A payload more than one above the head is stored and indexed **ahead** of the head: that
//!   is op-node's unsafe-payload queue, and the gap below it is what
//!   [`PayloadStore::gap`] reports for the sync client to fill.
//! - A payload at or below the head whose parent is our block one below it **reorgs** the head
//!   to it (op-node's engine makes the newest unsafe payload the head); the blocks above it
//!   leave the index.
//! - Anything else is stored by hash but not indexed.
//!
//! - The **genesis block** is not a payload anyone sends: op-node serves it from its engine.
//!   [`PayloadStore::store_genesis`] stores it (the devnet's synthetic genesis, which each node
//!   rebuilds from the rollup config) when its hash is the rollup config's genesis hash, so that
//!   payload_by_number serves it too.
//!
//! Every insert is one atomic RocksDB write batch, so the head, the index and the payloads agree
//! after a crash at any point.
//!
//! # Retention
//! The store keeps the head and the [`Retention`] below it (`--p2p.sync.retention`, default
//! [`DEFAULT_RETENTION_BLOCKS`]); each insert that moves the head prunes what fell below, in
//! the insert's own write batch (see [`retention`]). A payload below what is kept is not stored
//! ([`Inserted::BelowRetention`]). The counts are of payloads stored over the store's life,
//! pruned ones included.
//!
//! # Serving sync
//! [`PayloadStore::payload_by_number`] is the `PayloadSource` of the payload_by_number server:
//! it answers with the chain's block at that height, up to the head and down to the retention,
//! genesis included when it is stored (op-node serves what its engine has, which is the chain
//! up to the unsafe head); the
//! [`PayloadSource`](op_p2p_reqresp_sync::PayloadSource) impl is that method with the error
//! wrapped.

mod records;
mod retention;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use op_p2p_peerstore::{
    PeerStore,
    rocksdb::{ColumnFamily, Direction, IteratorMode, WriteBatch},
};
use op_p2p_types::ExecutionPayloadEnvelope;
use tracing::{debug, info, warn};

use self::records::{
    COUNTS_KEY, HEAD_KEY, PAYLOAD_HEIGHTS_CF, PAYLOAD_INDEX_CF, PAYLOAD_META_CF, PAYLOADS_CF,
    PRUNED_BELOW_KEY, decode_counts, decode_entry, decode_head, decode_payload,
    decode_pruned_below, encode_counts, encode_entry, encode_head, encode_payload, height_key,
    number_key, number_of_key,
};
pub(crate) use self::{
    records::{COLUMN_FAMILIES, Counts, IndexEntry, Origin},
    retention::{DEFAULT_RETENTION_BLOCKS, Retention},
};
use op_p2p_types::BlockRef;

/// The tracing target of the payload store.
const TARGET: &str = "op_p2p::payloads";

/// A payload store operation that failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// RocksDB failed.
    #[error("payload store: {0}")]
    RocksDb(#[from] op_p2p_peerstore::rocksdb::Error),
    /// The database was opened without the payload store's column families.
    #[error("payload store: column family {0} is missing")]
    MissingColumnFamily(&'static str),
    /// A stored record does not decode.
    #[error("payload store: corrupt {what} record")]
    Corrupt {
        /// Which record.
        what: &'static str,
    },
    /// The stored head belongs to another chain (its genesis is not this rollup config's).
    #[error(
        "payload store: the stored head #{head} is below this chain's genesis #{genesis}; \
         the database belongs to another chain"
    )]
    OtherChain {
        /// The stored head number.
        head: u64,
        /// The configured genesis number.
        genesis: u64,
    },
}

/// What inserting a payload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// The payload extended the head; the head is now `head` (possibly higher than the
    /// payload, if stored payloads above it linked up).
    Extended {
        /// The new head.
        head: BlockRef,
    },
    /// The payload replaced our block at its height; it is the new head.
    Reorged {
        /// The new head.
        head: BlockRef,
    },
    /// The payload is more than one above the head: stored, waiting for the gap below it.
    Ahead,
    /// Stored by hash, not part of the chain (its parent is not ours).
    Unlinked,
    /// Already stored.
    Duplicate,
    /// At or below genesis: not stored.
    BeforeGenesis,
    /// More than the retention below the head (or where pruning has got to): not stored, it
    /// would be pruned at once.
    BelowRetention,
}

impl Inserted {
    /// Whether the payload was stored now (not before, and not refused).
    pub(crate) fn is_new(&self) -> bool {
        !matches!(
            self,
            Self::Duplicate | Self::BeforeGenesis | Self::BelowRetention
        )
    }
}

/// The payload store. Cheap to clone; all clones share the head.
#[derive(Debug, Clone)]
pub(crate) struct PayloadStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: PeerStore,
    genesis: BlockRef,
    retention: Retention,
    /// The head and counters; held across every insert so read-modify-writes do not interleave.
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
struct State {
    head: BlockRef,
    counts: Counts,
    /// Every height above genesis and below this is pruned (genesis + 1: nothing yet).
    pruned_below: u64,
}

impl State {
    /// The lowest height stored, genesis aside: what pruning left, or the retention below the
    /// head when pruning has not caught up with it yet.
    fn lowest_kept(&self, retention: Retention) -> u64 {
        self.pruned_below.max(retention.keep_from(self.head.number))
    }
}

impl PayloadStore {
    /// Opens the payload store in `store`'s database, which must have been opened with
    /// [`COLUMN_FAMILIES`] as extra column families. A store with no head starts at `genesis`.
    /// It keeps `retention` below the head (a store written with a longer one, or none, is
    /// pruned down to it over the next inserts).
    pub(crate) fn open(
        store: PeerStore,
        genesis: BlockRef,
        retention: Retention,
    ) -> Result<Self, StoreError> {
        let unpruned = genesis.number.saturating_add(1);
        let this = Self {
            inner: Arc::new(Inner {
                store,
                genesis,
                retention,
                state: Mutex::new(State {
                    head: genesis,
                    counts: Counts::default(),
                    pruned_below: unpruned,
                }),
            }),
        };
        let meta = this.cf(PAYLOAD_META_CF)?;
        let db = this.inner.store.db();
        let head = match db.get_pinned_cf(meta, HEAD_KEY)? {
            Some(v) => decode_head(&v).ok_or(StoreError::Corrupt { what: "head" })?,
            None => genesis,
        };
        if head.number < genesis.number {
            return Err(StoreError::OtherChain {
                head: head.number,
                genesis: genesis.number,
            });
        }
        let counts = match db.get_pinned_cf(meta, COUNTS_KEY)? {
            Some(v) => decode_counts(&v).ok_or(StoreError::Corrupt { what: "counts" })?,
            None => Counts::default(),
        };
        let pruned_below = match db.get_pinned_cf(meta, PRUNED_BELOW_KEY)? {
            Some(v) => decode_pruned_below(&v).ok_or(StoreError::Corrupt {
                what: "pruning mark",
            })?,
            None => unpruned,
        };
        let state = State {
            head,
            counts,
            pruned_below,
        };
        *this.state() = state;
        info!(
            target: TARGET,
            head = head.number, hash = %head.hash, lowest = state.lowest_kept(retention),
            retention = retention.get(), "payload store open"
        );
        Ok(this)
    }

    /// The unsafe head.
    pub(crate) fn head(&self) -> BlockRef {
        self.state().head
    }

    /// Payloads stored so far, by origin (kept across restarts; pruned payloads still count).
    pub(crate) fn counts(&self) -> Counts {
        self.state().counts
    }

    /// Stores `envelope` as the chain's genesis block, at the genesis height of the index, if it
    /// is the genesis this store was opened with (number and hash); returns whether it did.
    /// Idempotent. The head does not move (it starts at genesis) and the counts do not change.
    pub(crate) fn store_genesis(
        &self,
        envelope: &ExecutionPayloadEnvelope,
    ) -> Result<bool, StoreError> {
        let block = BlockRef::of(envelope);
        let genesis = self.inner.genesis;
        if block.number != genesis.number || block.hash != genesis.hash {
            return Ok(false);
        }
        let _state = self.state();
        let db = self.inner.store.db();
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(PAYLOADS_CF)?, block.hash, encode_payload(envelope));
        let entry = IndexEntry {
            block,
            origin: Origin::Genesis,
            received_us: 0,
        };
        batch.put_cf(
            self.cf(PAYLOAD_INDEX_CF)?,
            number_key(block.number),
            encode_entry(&entry),
        );
        db.write_opt(batch, &self.inner.store.write_options())?;
        info!(target: TARGET, number = block.number, hash = %block.hash, "stored the genesis block");
        Ok(true)
    }

    /// Stores an accepted payload that arrived from `origin` at `received_us` (unix µs) and
    /// moves the head as the module docs describe.
    pub(crate) fn insert(
        &self,
        envelope: &ExecutionPayloadEnvelope,
        origin: Origin,
        received_us: u64,
    ) -> Result<Inserted, StoreError> {
        let block = BlockRef::of(envelope);
        let genesis = self.inner.genesis;
        if block.number <= genesis.number {
            return Ok(Inserted::BeforeGenesis);
        }
        let mut state = self.state();
        if block.number < state.lowest_kept(self.inner.retention) {
            return Ok(Inserted::BelowRetention);
        }
        let db = self.inner.store.db();
        let payloads = self.cf(PAYLOADS_CF)?;
        if db.get_pinned_cf(payloads, block.hash)?.is_some() {
            return Ok(Inserted::Duplicate);
        }
        let index = self.cf(PAYLOAD_INDEX_CF)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(payloads, block.hash, encode_payload(envelope));
        batch.put_cf(
            self.cf(PAYLOAD_HEIGHTS_CF)?,
            height_key(block.number, &block.hash),
            [],
        );
        let entry = IndexEntry {
            block,
            origin,
            received_us,
        };

        let head = state.head;
        let outcome = if block.number == head.number + 1 && block.parent_hash == head.hash {
            batch.put_cf(index, number_key(block.number), encode_entry(&entry));
            Inserted::Extended {
                head: self.walk_up(block)?,
            }
        } else if block.number > head.number + 1 {
            batch.put_cf(index, number_key(block.number), encode_entry(&entry));
            Inserted::Ahead
        } else if block.number <= head.number && self.parent_is_ours(&block)? {
            batch.put_cf(index, number_key(block.number), encode_entry(&entry));
            batch.delete_range_cf(
                index,
                number_key(block.number + 1),
                number_key(head.number + 1),
            );
            Inserted::Reorged { head: block }
        } else {
            Inserted::Unlinked
        };

        let mut next = *state;
        next.counts.add(origin);
        if let Inserted::Extended { head } | Inserted::Reorged { head } = outcome {
            next.head = head;
            let meta = self.cf(PAYLOAD_META_CF)?;
            batch.put_cf(meta, HEAD_KEY, encode_head(&head));
            if let Some(range) = self.prune_range(head, next.pruned_below) {
                self.prune_into(&mut batch, range)?;
                // A head that jumped up a long gap can leave this very payload below the
                // retention: the reads above did not see its writes, so delete it here.
                if (range.from..range.to).contains(&block.number) {
                    batch.delete_cf(payloads, block.hash);
                }
                next.pruned_below = range.to;
            }
        }
        let meta = self.cf(PAYLOAD_META_CF)?;
        batch.put_cf(meta, COUNTS_KEY, encode_counts(&next.counts));
        db.write_opt(batch, &self.inner.store.write_options())?;
        *state = next;

        match outcome {
            Inserted::Reorged { head } => {
                warn!(target: TARGET, number = head.number, hash = %head.hash, "unsafe head reorged");
            }
            Inserted::Unlinked => {
                debug!(target: TARGET, number = block.number, hash = %block.hash, "stored a payload off our chain");
            }
            _ => {}
        }
        Ok(outcome)
    }

    /// From `block` (just indexed, not yet written), follows index entries above it that link
    /// by parent hash; returns the highest.
    fn walk_up(&self, mut block: BlockRef) -> Result<BlockRef, StoreError> {
        while let Some(next) = self.entry(block.number + 1)? {
            if next.block.parent_hash != block.hash {
                break;
            }
            block = next.block;
        }
        Ok(block)
    }

    /// Whether `block`'s parent is our chain's block one below it.
    fn parent_is_ours(&self, block: &BlockRef) -> Result<bool, StoreError> {
        let below = block.number - 1;
        if below == self.inner.genesis.number {
            return Ok(block.parent_hash == self.inner.genesis.hash);
        }
        Ok(self
            .entry(below)?
            .is_some_and(|e| e.block.hash == block.parent_hash))
    }

    /// The index entry at `number`, if any (on the chain or ahead of the head).
    pub(crate) fn entry(&self, number: u64) -> Result<Option<IndexEntry>, StoreError> {
        let index = self.cf(PAYLOAD_INDEX_CF)?;
        match self
            .inner
            .store
            .db()
            .get_pinned_cf(index, number_key(number))?
        {
            Some(v) => Ok(Some(
                decode_entry(number, &v).ok_or(StoreError::Corrupt { what: "index" })?,
            )),
            None => Ok(None),
        }
    }

    /// The gap op-node's driver would ask the sync client to fill
    /// (`checkForGapInUnsafeQueue`): the head, and the lowest payload waiting above it, when
    /// that payload is more than one above the head. Only heights above the head count: the
    /// pruned history below it is never a gap.
    pub(crate) fn gap(&self) -> Result<Option<(BlockRef, BlockRef)>, StoreError> {
        let head = self.head();
        let index = self.cf(PAYLOAD_INDEX_CF)?;
        let from = number_key(head.number + 1);
        let mut iter = self
            .inner
            .store
            .db()
            .iterator_cf(index, IteratorMode::From(&from, Direction::Forward));
        let Some(item) = iter.next() else {
            return Ok(None);
        };
        let (key, value) = item?;
        let number = number_of_key(&key).ok_or(StoreError::Corrupt { what: "index key" })?;
        let end = decode_entry(number, &value).ok_or(StoreError::Corrupt { what: "index" })?;
        Ok((number > head.number + 1).then_some((head, end.block)))
    }

    /// The chain's payload at `number`, up to the head; `None` if we do not have it (above the
    /// head, or pruned below the retention). Reads RocksDB: the payload_by_number server calls
    /// it on a blocking thread.
    pub(crate) fn payload_by_number(
        &self,
        number: u64,
    ) -> Result<Option<ExecutionPayloadEnvelope>, StoreError> {
        if number > self.head().number {
            return Ok(None);
        }
        let Some(entry) = self.entry(number)? else {
            return Ok(None);
        };
        self.payload_by_hash(&entry.block.hash)
    }

    /// A stored payload by block hash.
    pub(crate) fn payload_by_hash(
        &self,
        hash: &op_p2p_types::B256,
    ) -> Result<Option<ExecutionPayloadEnvelope>, StoreError> {
        let payloads = self.cf(PAYLOADS_CF)?;
        match self.inner.store.db().get_pinned_cf(payloads, hash)? {
            Some(v) => Ok(Some(
                decode_payload(&v).ok_or(StoreError::Corrupt { what: "payload" })?,
            )),
            None => Ok(None),
        }
    }

    /// The last `limit` index entries (the chain up to the head, then any waiting above it),
    /// oldest first.
    pub(crate) fn recent_entries(&self, limit: usize) -> Result<Vec<IndexEntry>, StoreError> {
        let index = self.cf(PAYLOAD_INDEX_CF)?;
        let mut out = Vec::with_capacity(limit.min(1024));
        for item in self.inner.store.db().iterator_cf(index, IteratorMode::End) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = item?;
            let number = number_of_key(&key).ok_or(StoreError::Corrupt { what: "index key" })?;
            out.push(decode_entry(number, &value).ok_or(StoreError::Corrupt { what: "index" })?);
        }
        out.reverse();
        Ok(out)
    }

    fn cf(&self, name: &'static str) -> Result<&ColumnFamily, StoreError> {
        self.inner
            .store
            .db()
            .cf_handle(name)
            .ok_or(StoreError::MissingColumnFamily(name))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update replaces the whole state after its write succeeded; a panic cannot
        // leave it half-written.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The payload_by_number server serves the node's unsafe chain from this store.
///
/// The sync behaviour polls this future on the swarm task, so the RocksDB read (a block cache
/// miss is a disk read) runs on tokio's blocking pool: a slow disk delays that one response,
/// never gossip or the other behaviours.
impl op_p2p_reqresp_sync::PayloadSource for PayloadStore {
    async fn payload_by_number(
        &self,
        number: u64,
    ) -> Result<Option<ExecutionPayloadEnvelope>, op_p2p_reqresp_sync::SourceError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.payload_by_number(number))
            .await
            .map_err(op_p2p_reqresp_sync::SourceError::new)?
            .map_err(op_p2p_reqresp_sync::SourceError::new)
    }
}

#[cfg(test)]
mod pruning_tests;
#[cfg(test)]
mod tests;
