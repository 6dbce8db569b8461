//! The bounded channel from the discv5 task to the dial behaviour, and the little state both
//! read: the counters and whether the node is below its low water mark.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use futures::channel::mpsc;

use crate::{filter::DiscoveredPeer, metrics::DiscoveryCounters};

/// Accepted records waiting for the dial behaviour. The table kickoff sends the whole table at
/// once; beyond this, records are dropped and counted (op-node's producer waits on a 3-record
/// buffer instead; a dropped record comes back with a later lookup).
pub const RECORD_CHANNEL_SIZE: usize = 256;

/// What the discv5 task and the dial behaviour share.
#[derive(Debug)]
pub struct Shared {
    counters: DiscoveryCounters,
    below_low_water: AtomicBool,
}

impl Shared {
    /// The counters.
    pub fn counters(&self) -> &DiscoveryCounters {
        &self.counters
    }

    /// Whether the dial behaviour last saw fewer connected peers than `p2p.peers.lo`: the
    /// discv5 task then uses the fast discover interval.
    pub fn below_low_water(&self) -> bool {
        self.below_low_water.load(Ordering::Relaxed)
    }

    pub(crate) fn set_below_low_water(&self, below: bool) {
        self.below_low_water.store(below, Ordering::Relaxed);
    }
}

/// The discv5 task's end: accepted records go in.
#[derive(Debug, Clone)]
pub struct RecordSink {
    tx: mpsc::Sender<DiscoveredPeer>,
    shared: Arc<Shared>,
}

/// The dial behaviour's end.
#[derive(Debug)]
pub struct RecordSource {
    pub(crate) rx: mpsc::Receiver<DiscoveredPeer>,
    pub(crate) shared: Arc<Shared>,
}

/// A linked pair: give the sink to [`crate::Discovery::start`] and the source to
/// [`crate::Behaviour::new`].
pub fn link() -> (RecordSink, RecordSource) {
    let (tx, rx) = mpsc::channel(RECORD_CHANNEL_SIZE);
    let shared = Arc::new(Shared {
        counters: DiscoveryCounters::new(),
        below_low_water: AtomicBool::new(true),
    });
    (
        RecordSink {
            tx,
            shared: shared.clone(),
        },
        RecordSource { rx, shared },
    )
}

impl RecordSink {
    /// The shared state.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Hands a record to the dial behaviour without waiting; counts it as accepted, or as
    /// dropped when the channel is full. Returns false once the behaviour is gone.
    pub(crate) fn offer(&mut self, peer: DiscoveredPeer) -> bool {
        match self.tx.try_send(peer) {
            Ok(()) => {
                self.shared.counters.record_accepted();
                true
            }
            Err(e) if e.is_full() => {
                self.shared.counters.record_dropped();
                true
            }
            Err(_) => false,
        }
    }
}

impl RecordSource {
    /// The shared state.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}
