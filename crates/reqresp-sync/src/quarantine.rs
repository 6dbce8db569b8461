//! The client's quarantine (op-node's `quarantine` LRU plus `quarantineByNum`): verified
//! payloads whose hash is not yet trusted, by hash, with an index by number.

use std::collections::HashMap;

use hashlink::LruCache;
use libp2p_identity::PeerId;
use op_p2p_types::{B256, ExecutionPayloadEnvelope};

/// A quarantined payload and the peer that served it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) peer: PeerId,
    pub(crate) envelope: ExecutionPayloadEnvelope,
}

impl Entry {
    pub(crate) const fn number(&self) -> u64 {
        self.envelope.execution_payload.block_number
    }
}

/// An LRU of payloads by block hash. The number index holds the latest payload stored for each
/// number, as op-node's; unlike op-node's, removing an older payload of a number leaves the
/// index of a newer one alone.
#[derive(Debug)]
pub(crate) struct Quarantine {
    entries: LruCache<B256, Entry>,
    by_number: HashMap<u64, B256>,
}

impl Quarantine {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: LruCache::new(capacity.max(1)),
            by_number: HashMap::new(),
        }
    }

    /// Stores `entry` under `hash` as the most recent; returns the least recently used entry if
    /// one had to make room.
    pub(crate) fn insert(&mut self, hash: B256, entry: Entry) -> Option<(B256, Entry)> {
        let mut evicted = None;
        if !self.entries.contains_key(&hash) && self.entries.len() >= self.entries.capacity() {
            evicted = self.entries.remove_lru();
            if let Some((old, e)) = &evicted {
                self.unindex(*old, e.number());
            }
        }
        self.by_number.insert(entry.number(), hash);
        self.entries.insert(hash, entry);
        evicted
    }

    /// Whether a payload with `hash` is held (does not count as a use).
    pub(crate) fn contains(&self, hash: &B256) -> bool {
        self.entries.contains_key(hash)
    }

    /// Removes and returns the payload with `hash`.
    pub(crate) fn remove(&mut self, hash: &B256) -> Option<Entry> {
        let entry = self.entries.remove(hash)?;
        self.unindex(*hash, entry.number());
        Some(entry)
    }

    /// The hash of the latest payload held for `number`.
    pub(crate) fn at(&self, number: u64) -> Option<B256> {
        self.by_number.get(&number).copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn unindex(&mut self, hash: B256, number: u64) {
        if self.by_number.get(&number) == Some(&hash) {
            self.by_number.remove(&number);
        }
    }
}

#[cfg(test)]
mod tests {
    use op_p2p_types::ExecutionPayload;

    use super::*;

    fn entry(number: u64) -> Entry {
        Entry {
            peer: PeerId::random(),
            envelope: ExecutionPayloadEnvelope {
                parent_beacon_block_root: None,
                execution_payload: ExecutionPayload {
                    block_number: number,
                    ..Default::default()
                },
            },
        }
    }

    fn hash(n: u8) -> B256 {
        B256::repeat_byte(n)
    }

    #[test]
    fn evicts_the_least_recently_used() {
        let mut q = Quarantine::new(2);
        assert!(q.insert(hash(1), entry(1)).is_none());
        assert!(q.insert(hash(2), entry(2)).is_none());
        let (old, e) = q.insert(hash(3), entry(3)).unwrap();
        assert_eq!((old, e.number()), (hash(1), 1));
        assert_eq!(q.at(1), None);
        assert_eq!(q.at(3), Some(hash(3)));
        assert_eq!(q.len(), 2);
        // Re-inserting a held hash evicts nothing.
        assert!(q.insert(hash(3), entry(3)).is_none());
    }

    #[test]
    fn the_index_follows_the_latest_payload_of_a_number() {
        let mut q = Quarantine::new(10);
        q.insert(hash(1), entry(7));
        q.insert(hash(2), entry(7));
        assert_eq!(q.at(7), Some(hash(2)));
        // Removing the older one keeps the newer one indexed.
        assert!(q.remove(&hash(1)).is_some());
        assert_eq!(q.at(7), Some(hash(2)));
        assert!(q.remove(&hash(2)).is_some());
        assert_eq!(q.at(7), None);
        assert!(q.remove(&hash(2)).is_none());
        assert!(!q.contains(&hash(2)));
    }
}
