//! [`FloodGuard`]: cuts off a peer that keeps overflowing its per-peer validation bound.
//!
//! The per-peer bound ([`crate::Config::validation_queue_per_peer`]) and the fair queue cap the
//! *validation* work a flooder causes, but not the rest of its traffic: every message it sends
//! is still read, decoded and given a message id (a decompression and a SHA-256) on the swarm
//! task before the bound refuses it. Measured with a peer publishing its own-key blocks as fast
//! as it could (`benches/flood.rs`), that traffic alone took honest p99 to 2.6–5× its baseline.
//! A flood of own-key blocks costs no score (it is blamed on our signer, see [`crate::Blame`]),
//! so gossipsub's scoring never stops it; this does.
//!
//! What it punishes is a rate, not content, and a rate no honest peer reaches whatever our
//! state: gossipsub forwards each message at most once per peer, and an honest peer forwards
//! only what it validated, so its distinct messages follow the chain: one block per block time
//! (1 s or more on every OP chain), at most 6 distinct blocks per height pass the per-height
//! rule. A refusal needs [`crate::Config::validation_queue_per_peer`] (16) of the peer's
//! messages already waiting; [`FloodCutoff::DEFAULT`] then asks for 64 refusals within 10 s, so
//! even with our validation stalled for the whole window an honest peer would have to send
//! 80 distinct blocks in 10 s, beyond the 6 a second the per-height rule lets through at 1 s
//! blocks. A flooder reaches it within milliseconds.

use std::{collections::HashMap, time::Duration};

use libp2p_identity::PeerId;

/// When a peer is cut off for flooding: `refusals` per-peer-bound refusals within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodCutoff {
    /// Refusals ([`crate::Reason::PeerBusy`]) that cut the peer off.
    pub refusals: u32,
    /// The window they are counted in, from the first refusal of the window.
    pub window: Duration,
}

impl FloodCutoff {
    /// 64 refusals within 10 s (see the module docs for why no honest peer reaches it).
    pub const DEFAULT: Self = Self {
        refusals: 64,
        window: Duration::from_secs(10),
    };
}

impl Default for FloodCutoff {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Per-peer refusal counts in the current window.
#[derive(Debug)]
pub(crate) struct FloodGuard {
    cutoff: FloodCutoff,
    /// Per peer: the monotonic time its window opened, and its refusals since.
    windows: HashMap<PeerId, (Duration, u32)>,
}

impl FloodGuard {
    pub(crate) fn new(cutoff: FloodCutoff) -> Self {
        Self {
            cutoff,
            windows: HashMap::new(),
        }
    }

    /// Counts one refusal of `peer` at monotonic time `now`; returns the refusals in its window
    /// when this one reaches the cut-off (the peer's count then starts again).
    pub(crate) fn refused(&mut self, peer: PeerId, now: Duration) -> Option<u32> {
        let (opened, count) = self.windows.entry(peer).or_insert((now, 0));
        if now.saturating_sub(*opened) >= self.cutoff.window {
            *opened = now;
            *count = 0;
        }
        *count += 1;
        if *count < self.cutoff.refusals.max(1) {
            return None;
        }
        let count = *count;
        self.windows.remove(&peer);
        Some(count)
    }

    /// Forgets `peer` (its last connection closed).
    pub(crate) fn forget(&mut self, peer: &PeerId) {
        self.windows.remove(peer);
    }

    /// Peers with a refusal window open.
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.windows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn guard() -> FloodGuard {
        FloodGuard::new(FloodCutoff {
            refusals: 4,
            window: 10 * SECOND,
        })
    }

    #[test]
    fn cuts_off_at_the_threshold_within_the_window() {
        let mut guard = guard();
        let peer = PeerId::random();
        for _ in 0..3 {
            assert_eq!(guard.refused(peer, SECOND), None);
        }
        assert_eq!(guard.refused(peer, 9 * SECOND), Some(4));
        // Counting starts again after a cut-off.
        assert_eq!(guard.refused(peer, 9 * SECOND), None);
    }

    #[test]
    fn refusals_spread_over_windows_never_cut_off() {
        let mut guard = guard();
        let peer = PeerId::random();
        for window in 0..100u32 {
            for _ in 0..3 {
                assert_eq!(guard.refused(peer, window * 10 * SECOND), None);
            }
        }
    }

    #[test]
    fn peers_are_counted_apart_and_forgotten() {
        let mut guard = guard();
        let (a, b) = (PeerId::random(), PeerId::random());
        for _ in 0..3 {
            assert_eq!(guard.refused(a, SECOND), None);
            assert_eq!(guard.refused(b, SECOND), None);
        }
        guard.forget(&a);
        assert_eq!(guard.tracked(), 1);
        assert_eq!(guard.refused(a, SECOND), None);
        assert_eq!(guard.refused(b, SECOND), Some(4));
    }
}
