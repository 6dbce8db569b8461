//! [`GraylistWatch`]: which peers' live gossip scores to write into the score book between
//! op-node's 15 s score inspections.
//!
//! Why: gating bans a peer that stays below gossipsub's graylist threshold (a graylisted peer's
//! RPCs are dropped unscored, so op-node's −100 ban line is never reached), and it reads the
//! score book. With 15 s snapshots only, a peer graylisted just below the line (−44 after a few
//! invalid messages) decays back above it (P4's counter decays every slot) between two
//! snapshots and is never seen there: it keeps its connection and, once above the line, is
//! heard again. Writing the live score of every peer below the threshold each second lets gating
//! see a graylisting within a second, and writing it once more when the peer leaves the graylist
//! lets it see the recovery as soon.

use std::collections::HashSet;

use libp2p_identity::PeerId;

/// How often the live scores are read ([`GraylistWatch::due`]): gating's monitor checks once a
/// second too.
pub(crate) const GRAYLIST_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The peers seen below the graylist threshold at the last check.
#[derive(Debug)]
pub(crate) struct GraylistWatch {
    threshold: f64,
    below: HashSet<PeerId>,
}

impl GraylistWatch {
    /// Watches for scores below `threshold` (gossipsub's graylist threshold).
    pub(crate) fn new(threshold: f64) -> Self {
        Self {
            threshold,
            below: HashSet::new(),
        }
    }

    /// Of the `connected` peers and those below the threshold at the last check, the ones whose
    /// live score (`score`) goes into the score book now: every peer below the threshold, and
    /// every peer that was below at the last check and no longer is (so the book does not keep
    /// a stale graylisted score for up to 15 s). A disconnected peer stays watched while its
    /// retained score is below, so a reconnect does not find a stale snapshot; gossipsub
    /// forgets it after its retention, scoring it 0, and so does the watch. Costs a set lookup
    /// per peer and a score per watched peer.
    pub(crate) fn due(
        &mut self,
        connected: impl IntoIterator<Item = PeerId>,
        score: impl Fn(&PeerId) -> f64,
    ) -> Vec<(PeerId, f64)> {
        let was_below = std::mem::take(&mut self.below);
        let mut due = Vec::new();
        let candidates = connected
            .into_iter()
            .filter(|peer| !was_below.contains(peer))
            .chain(was_below.iter().copied());
        for peer in candidates {
            let score = score(&peer);
            if score < self.threshold {
                self.below.insert(peer);
                due.push((peer, score));
            } else if was_below.contains(&peer) {
                due.push((peer, score));
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn due(watch: &mut GraylistWatch, scores: &[(PeerId, f64)]) -> Vec<(PeerId, f64)> {
        due_of(watch, scores, scores)
    }

    /// `connected` are the connected peers, `known` every score gossipsub has (0 for others).
    fn due_of(
        watch: &mut GraylistWatch,
        connected: &[(PeerId, f64)],
        known: &[(PeerId, f64)],
    ) -> Vec<(PeerId, f64)> {
        let known: HashMap<_, _> = known.iter().copied().collect();
        let mut due = watch.due(connected.iter().map(|(peer, _)| *peer), |peer| {
            known.get(peer).copied().unwrap_or(0.0)
        });
        due.sort_by(|a, b| a.1.total_cmp(&b.1));
        due
    }

    #[test]
    fn writes_graylisted_peers_each_check_and_a_recovery_once() {
        let mut watch = GraylistWatch::new(-40.0);
        let (honest, rogue) = (PeerId::random(), PeerId::random());
        assert_eq!(due(&mut watch, &[(honest, 0.0), (rogue, -39.9)]), vec![]);
        assert_eq!(
            due(&mut watch, &[(honest, 0.0), (rogue, -44.0)]),
            vec![(rogue, -44.0)]
        );
        // Still below: written again (the value moves as P4 decays).
        assert_eq!(
            due(&mut watch, &[(honest, 0.0), (rogue, -42.0)]),
            vec![(rogue, -42.0)]
        );
        // Back above: written once, then no more.
        assert_eq!(
            due(&mut watch, &[(honest, 0.0), (rogue, -38.0)]),
            vec![(rogue, -38.0)]
        );
        assert_eq!(due(&mut watch, &[(honest, 0.0), (rogue, -37.0)]), vec![]);
    }

    #[test]
    fn a_disconnected_peer_is_watched_until_its_retained_score_recovers() {
        let mut watch = GraylistWatch::new(-40.0);
        let rogue = PeerId::random();
        assert_eq!(due(&mut watch, &[(rogue, -50.0)]), vec![(rogue, -50.0)]);
        // Disconnected, its retained score still below: still written.
        assert_eq!(
            due_of(&mut watch, &[], &[(rogue, -45.0)]),
            vec![(rogue, -45.0)]
        );
        // Retention over: gossipsub scores it 0, written once, then forgotten.
        assert_eq!(due_of(&mut watch, &[], &[]), vec![(rogue, 0.0)]);
        assert_eq!(due_of(&mut watch, &[], &[]), vec![]);
        assert!(watch.below.is_empty());
    }
}
