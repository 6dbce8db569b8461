//! [`FairQueue`]: the validation pipeline's waiting messages, one FIFO per forwarding peer,
//! served round-robin, so a peer that floods us waits behind its own messages, not in front of
//! everyone else's.

use std::collections::{HashMap, VecDeque, hash_map::Entry};

use libp2p_identity::PeerId;

use crate::pipeline::ValidationRequest;

/// Waiting validation requests, one FIFO per peer, taken from the peers in turn.
///
/// With one FIFO for all peers (what go-libp2p-pubsub has), a peer sending bursts of messages
/// that are expensive to reject (a valid-looking block signed by its own key costs a keccak
/// over the body and one ecrecover, and no score, see [`crate::Blame`]) puts every honest
/// block behind its burst. Served in turn, an honest block waits for at most one message of
/// each other busy peer per free validation slot.
#[derive(Debug, Default)]
pub(crate) struct FairQueue {
    queues: HashMap<PeerId, VecDeque<ValidationRequest>>,
    /// Peers with waiting requests, in the order they are served next.
    turn: VecDeque<PeerId>,
    len: usize,
}

impl FairQueue {
    /// Requests waiting, over all peers.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// Queues `request` behind the earlier requests of the same peer.
    pub(crate) fn push(&mut self, request: ValidationRequest) {
        self.len += 1;
        match self.queues.entry(request.source) {
            Entry::Occupied(mut queue) => queue.get_mut().push_back(request),
            Entry::Vacant(slot) => {
                self.turn.push_back(*slot.key());
                slot.insert(VecDeque::from([request]));
            }
        }
    }

    /// The oldest request of the peer whose turn it is; that peer goes to the back of the line.
    pub(crate) fn pop(&mut self) -> Option<ValidationRequest> {
        let peer = self.turn.pop_front()?;
        let Entry::Occupied(mut queue) = self.queues.entry(peer) else {
            // Every peer in `turn` has a non-empty queue; nothing to serve otherwise.
            return None;
        };
        let request = queue.get_mut().pop_front();
        if queue.get().is_empty() {
            queue.remove();
        } else {
            self.turn.push_back(peer);
        }
        if request.is_some() {
            self.len -= 1;
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use libp2p_gossipsub::{MessageId, TopicHash};

    use super::*;

    fn request(source: PeerId, n: u8) -> ValidationRequest {
        ValidationRequest {
            message_id: MessageId::new(&[n]),
            source,
            topic: TopicHash::from_raw("t"),
            data: vec![n],
            decompressed: None,
        }
    }

    #[test]
    fn peers_are_served_in_turn_each_in_arrival_order() {
        let (flooder, honest, other) = (PeerId::random(), PeerId::random(), PeerId::random());
        let mut queue = FairQueue::default();
        for n in 0..5 {
            queue.push(request(flooder, n));
        }
        queue.push(request(honest, 10));
        queue.push(request(other, 20));
        queue.push(request(honest, 11));
        assert_eq!(queue.len(), 8);
        let order: Vec<u8> = std::iter::from_fn(|| queue.pop())
            .map(|r| r.data[0])
            .collect();
        assert_eq!(order, [0, 10, 20, 1, 11, 2, 3, 4]);
        assert_eq!(queue.len(), 0);
        assert!(queue.pop().is_none());
        // A peer that drained comes back at the end of the line.
        queue.push(request(flooder, 5));
        queue.push(request(honest, 12));
        queue.push(request(flooder, 6));
        let order: Vec<u8> = std::iter::from_fn(|| queue.pop())
            .map(|r| r.data[0])
            .collect();
        assert_eq!(order, [5, 12, 6]);
    }
}
