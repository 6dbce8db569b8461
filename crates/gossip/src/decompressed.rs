//! [`Decompressed`]: the decompressed bytes the message id function produced, kept by message
//! id until the behaviour hands the message to validation, so each message is decompressed
//! once.
//!
//! op-node's message id hashes the decompressed message (spec §1.4), so gossipsub's id function
//! decompresses every message it receives; validation needs the same bytes. gossipsub calls the
//! id function and emits the message in the same `handle_received_message`, so the entry a
//! message needs is among the last few inserted. The id is a SHA-256 of the topic and the
//! decompressed bytes, so the entry found under a message's id is exactly its decompressed
//! data. Entries no message claims (duplicates gossipsub drops after computing their id, our own
//! publications) age out of a small FIFO; a message whose entry aged out is decompressed again
//! by the validator, with the same verdict.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
};

use libp2p_gossipsub::{Message, MessageId};
use op_p2p_types::{Bytes, MAX_GOSSIP_SIZE, message_id_with};

/// Entries kept at most.
const MAX_ENTRIES: usize = 16;
/// Ids remembered as already kept (or taken), so that the copies of a message other peers send
/// (gossipsub computes their id, then drops them as duplicates) are not copied out again.
const RECENT_IDS: usize = 64;
/// Decompressed bytes kept at most: two of the largest messages.
const MAX_BYTES: usize = 2 * MAX_GOSSIP_SIZE;

/// Called with a message's raw length as it arrives, before its id is computed.
type ArrivalHook = Arc<dyn Fn(usize) + Send + Sync>;

/// The decompressed messages, shared by the id function and the behaviour.
#[derive(Clone, Default)]
pub(crate) struct Decompressed {
    entries: Arc<Mutex<Entries>>,
    on_arrival: Option<ArrivalHook>,
}

impl std::fmt::Debug for Decompressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressed")
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Entries {
    entries: VecDeque<(MessageId, Bytes)>,
    bytes: usize,
    recent: VecDeque<MessageId>,
}

impl Decompressed {
    /// A cache whose id function first calls `on_arrival` with the raw length of each message
    /// (the behaviour wakes the validator's helper core for a large one).
    pub(crate) fn with_arrival_hook(on_arrival: impl Fn(usize) + Send + Sync + 'static) -> Self {
        Self {
            entries: Arc::default(),
            on_arrival: Some(Arc::new(on_arrival)),
        }
    }

    /// gossipsub's message id function: op-node's id, keeping the decompressed bytes of a
    /// message not seen lately (one copy out of the id function's reused buffer).
    pub(crate) fn message_id_fn(&self) -> impl Fn(&Message) -> MessageId + Send + Sync + 'static {
        let this = self.clone();
        move |message: &Message| {
            if let Some(on_arrival) = &this.on_arrival {
                on_arrival(message.data.len());
            }
            let id = message_id_with(message.topic.as_str(), &message.data, |id, bytes| {
                this.keep(MessageId::new(id), bytes);
            });
            MessageId::new(&id)
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Only whole entries are pushed and popped; a panic elsewhere leaves them consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn keep(&self, id: MessageId, bytes: &[u8]) {
        let mut e = self.entries();
        if e.recent.contains(&id) {
            return;
        }
        if e.recent.len() == RECENT_IDS {
            e.recent.pop_front();
        }
        e.recent.push_back(id.clone());
        e.bytes += bytes.len();
        e.entries.push_back((id, Bytes::copy_from_slice(bytes)));
        while e.entries.len() > MAX_ENTRIES || e.bytes > MAX_BYTES {
            let Some((_, old)) = e.entries.pop_front() else {
                break;
            };
            e.bytes -= old.len();
        }
    }

    /// Takes the decompressed bytes of message `id`, if still kept.
    pub(crate) fn take(&self, id: &MessageId) -> Option<Bytes> {
        let mut e = self.entries();
        let index = e.entries.iter().rposition(|(known, _)| known == id)?;
        let (_, data) = e.entries.remove(index)?;
        e.bytes -= data.len();
        Some(data)
    }
}

#[cfg(test)]
mod tests {
    use libp2p_gossipsub::TopicHash;
    use op_p2p_types::message_id;

    use super::*;

    fn message(data: Vec<u8>) -> Message {
        Message {
            source: None,
            data,
            sequence_number: None,
            topic: TopicHash::from_raw("/optimism/10/3/blocks"),
        }
    }

    #[test]
    fn keeps_op_nodes_id_and_the_bytes_of_valid_snappy() {
        let cache = Decompressed::default();
        let id_fn = cache.message_id_fn();
        let raw = snap::raw::Encoder::new().compress_vec(&[7; 100]).unwrap();
        let id = id_fn(&message(raw.clone()));
        assert_eq!(id.0, message_id("/optimism/10/3/blocks", &raw).to_vec());
        assert_eq!(cache.take(&id), Some(Bytes::from(vec![7u8; 100])));
        assert_eq!(cache.take(&id), None, "taken once");
        // A later copy of the same message (a duplicate gossipsub drops) is not kept again.
        assert_eq!(id_fn(&message(raw)), id);
        assert_eq!(cache.take(&id), None);

        // Invalid snappy: op-node's invalid-snappy id, nothing kept.
        let id = id_fn(&message(vec![0xff, 0xff, 0xff]));
        assert_eq!(
            id.0,
            message_id("/optimism/10/3/blocks", &[0xff, 0xff, 0xff]).to_vec()
        );
        assert_eq!(cache.take(&id), None);
    }

    #[test]
    fn old_entries_age_out() {
        let cache = Decompressed::default();
        let id_fn = cache.message_id_fn();
        let ids: Vec<MessageId> = (0..=MAX_ENTRIES as u32)
            .map(|i| {
                let raw = snap::raw::Encoder::new()
                    .compress_vec(&i.to_le_bytes())
                    .unwrap();
                id_fn(&message(raw))
            })
            .collect();
        assert_eq!(cache.take(&ids[0]), None);
        assert!(cache.take(&ids[MAX_ENTRIES]).is_some());
        assert_eq!(cache.entries().entries.len(), MAX_ENTRIES - 1);
    }
}
