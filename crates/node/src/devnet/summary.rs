//! What the devnet reports: who holds which block, propagation latencies, and the final table.
//!
//! Propagation latency of a block at a node = the time the node stored it (from gossip) minus
//! the time the sequencer handed it to gossipsub (its store time if it did not say), both read
//! from the nodes' status files in microseconds (every node runs on this machine, so they
//! share a clock). The sequencer's own work before the publish (building, storing, signing) is
//! not propagation and is left out.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use crate::status::{BlockStatus, Status};

/// One node's view as the devnet summarises it.
#[derive(Debug, Clone)]
pub(crate) struct NodeRow {
    /// Node number.
    pub(crate) index: usize,
    /// `sequencer`, `verifier` or `late joiner`.
    pub(crate) role: String,
    /// Its last status (none if it never wrote one).
    pub(crate) status: Option<Status>,
    /// How long after its start it first had the target number of peers.
    pub(crate) connected_after: Option<Duration>,
    /// Its peak resident memory (VmHWM), KiB, read before it was stopped (Linux).
    pub(crate) peak_rss_kib: Option<u64>,
}

/// The canonical chain: the sequencer's blocks 1..=blocks, number → (hash, published at µs).
pub(crate) type Canonical = HashMap<u64, (String, u64)>;

/// The sequencer's blocks up to `blocks`.
pub(crate) fn canonical(sequencer: &Status, blocks: u64) -> Canonical {
    sequencer
        .blocks
        .iter()
        .filter(|b| b.number >= 1 && b.number <= blocks)
        .map(|b| {
            (
                b.number,
                (b.hash.clone(), b.published_us.unwrap_or(b.received_us)),
            )
        })
        .collect()
}

/// The block numbers in 1..=`blocks` that `status` does not hold with the canonical hash.
pub(crate) fn missing(status: &Status, canonical: &Canonical, blocks: u64) -> Vec<u64> {
    let held: HashMap<u64, &str> = status
        .blocks
        .iter()
        .map(|b| (b.number, b.hash.as_str()))
        .collect();
    (1..=blocks)
        .filter(|n| match (held.get(n), canonical.get(n)) {
            (Some(hash), Some((canonical, _))) => hash != canonical,
            _ => true,
        })
        .collect()
}

/// Status files list only the node's last `STATUS_MAX_BLOCKS` blocks, and a node prunes its
/// payloads below its retention (`p2p.sync.retention`, genesis kept); for longer runs (a soak)
/// the devnet keeps the blocks it saw in earlier reads of `status`'s file, `previous`, at the
/// heights the new read no longer lists. (A height it still lists is the new read's: a reorg
/// replaces, never adds.)
pub(crate) fn keep_older_blocks(status: &mut Status, previous: Vec<BlockStatus>) {
    let listed: HashSet<u64> = status.blocks.iter().map(|b| b.number).collect();
    status
        .blocks
        .extend(previous.into_iter().filter(|b| !listed.contains(&b.number)));
}

/// Whether `status` holds block `number` with the canonical hash; with its store time (µs).
pub(crate) fn holds(status: &Status, number: u64, hash: &str) -> Option<u64> {
    status
        .blocks
        .iter()
        .find(|b| b.number == number && b.hash == hash)
        .map(|b| b.received_us)
}

/// Propagation latencies of the gossip blocks at one node, µs.
pub(crate) fn latencies(status: &Status, canonical: &Canonical) -> Vec<u64> {
    let mut out: Vec<u64> = status
        .blocks
        .iter()
        .filter(|b| b.origin == "gossip")
        .filter_map(|b| {
            let (hash, built) = canonical.get(&b.number)?;
            (*hash == b.hash).then(|| b.received_us.saturating_sub(*built))
        })
        .collect();
    out.sort_unstable();
    out
}

/// The `p`-th percentile (nearest rank) of sorted `values`.
pub(crate) fn percentile(sorted: &[u64], p: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let len = sorted.len() as u64;
    let rank = (p * len).div_ceil(100).clamp(1, len);
    usize::try_from(rank - 1)
        .ok()
        .and_then(|i| sorted.get(i))
        .copied()
}

/// The final table, one row per node; `target` is the peer count the "time to N peers"
/// column measures.
pub(crate) fn table(rows: &[NodeRow], canonical: &Canonical, blocks: u64, target: usize) -> String {
    let mut out = format!(
        "| node | role | peer id | head | blocks | via gossip | via sync | p50 latency | p99 latency | peers | via discovery | time to {target} peers | bans | peak RSS |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let Some(s) = &row.status else {
            out.push_str(&format!(
                "| {} | {} | - | - | - | - | - | - | - | - | - | - | - | - |\n",
                row.index, row.role
            ));
            continue;
        };
        let discovered = s
            .discovery
            .as_ref()
            .map_or_else(|| "off".to_owned(), |d| d.connected.to_string());
        let connected_after = row
            .connected_after
            .map_or_else(|| "-".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
        let held = blocks - missing(s, canonical, blocks).len() as u64;
        let lat = latencies(s, canonical);
        let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), format_us);
        let rss = row.peak_rss_kib.map_or_else(
            || "-".to_owned(),
            |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
        );
        out.push_str(&format!(
            "| {} | {} | {} | {} | {held}/{blocks} | {} | {} | {} | {} | {} | {discovered} | {connected_after} | {} | {rss} |\n",
            row.index,
            row.role,
            short_id(&s.peer_id),
            s.head.number,
            s.blocks_via_gossip,
            s.blocks_via_sync,
            ms(percentile(&lat, 50)),
            ms(percentile(&lat, 99)),
            s.peers,
            s.bans.len(),
        ));
    }
    out
}

/// A latency in µs as milliseconds with two decimals (`0.87 ms`): a loopback hop is well under
/// a millisecond.
pub(crate) fn format_us(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

/// `12D3…wXyZ`: enough of a peer id to tell nodes apart.
pub(crate) fn short_id(id: &str) -> String {
    if id.len() <= 12 {
        return id.to_owned();
    }
    format!("{}…{}", &id[..6], &id[id.len() - 4..])
}

/// `0x1234…abcd`.
pub(crate) fn short_hash(hash: &str) -> String {
    if hash.len() <= 14 {
        return hash.to_owned();
    }
    format!("{}…{}", &hash[..6], &hash[hash.len() - 4..])
}

/// A run of numbers as ranges: `1-4, 7`.
pub(crate) fn ranges(numbers: &[u64]) -> String {
    let mut parts = Vec::new();
    let mut iter = numbers.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn status(blocks: &[(u64, &str, &str, u64)]) -> Status {
        Status {
            peer_id: "12D3KooWabcdefghijklmnop".into(),
            pid: 1,
            chain_id: 901,
            role: "verifier".into(),
            listen_addrs: vec![],
            sync: "on".into(),
            head: BlockStatus {
                number: 0,
                hash: String::new(),
                origin: String::new(),
                received_us: 0,
                published_us: None,
                from: None,
            },
            blocks: blocks
                .iter()
                .map(|(n, h, o, t)| BlockStatus {
                    number: *n,
                    hash: (*h).into(),
                    origin: (*o).into(),
                    received_us: *t,
                    published_us: None,
                    from: None,
                })
                .collect(),
            blocks_via_gossip: 0,
            blocks_via_sync: 0,
            blocks_local: 0,
            gaps_unfilled: 0,
            gap: 0,
            sync_peers: 0,
            gossip: crate::status::GossipStatus::default(),
            peers: 1,
            connected: vec![],
            bans: vec![],
            scores: vec![],
            discovery: None,
            tasks: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn latency_missing_and_percentiles() {
        let seq = status(&[
            (1, "a", "local", 1000),
            (2, "b", "local", 2000),
            (3, "c", "local", 3000),
        ]);
        let mut canonical = canonical(&seq, 3);
        let node = status(&[
            (1, "a", "gossip", 1010),
            (2, "x", "gossip", 2005),
            (3, "c", "gossip", 3030),
        ]);
        assert_eq!(missing(&node, &canonical, 3), [2]);
        assert_eq!(latencies(&node, &canonical), [10, 30]);
        assert_eq!(percentile(&[10, 30], 50), Some(10));
        assert_eq!(percentile(&[10, 30], 99), Some(30));
        assert_eq!(percentile(&[], 50), None);
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50), Some(50));
        assert_eq!(percentile(&sorted, 99), Some(99));
        assert_eq!(holds(&node, 3, "c"), Some(3030));
        // Where the sequencer says when it published, latency runs from there.
        let mut published = seq.clone();
        published.blocks[2].published_us = Some(3020);
        assert_eq!(super::canonical(&published, 3)[&3].1, 3020);
        canonical = super::canonical(&seq, 3);
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
        let rows = [NodeRow {
            index: 1,
            role: "verifier".into(),
            status: Some(node),
            connected_after: Some(Duration::from_millis(4200)),
            peak_rss_kib: Some(40_960),
        }];
        let table = table(&rows, &canonical, 3, 4);
        assert!(table.contains("| 2/3 |"), "{table}");
        assert!(table.contains("| 0.01 ms | 0.03 ms |"), "{table}");
        assert!(table.contains("| off | 4.2 s | 0 | 40.0 MiB |"), "{table}");
    }

    #[test]
    fn older_blocks_are_kept_across_status_reads() {
        let mut first = status(&[(1, "0xa", "gossip", 10), (2, "0xb", "gossip", 11)]);
        let mut second = status(&[(2, "0xb", "gossip", 11), (3, "0xc", "gossip", 12)]);
        keep_older_blocks(&mut second, std::mem::take(&mut first.blocks));
        let mut numbers: Vec<u64> = second.blocks.iter().map(|b| b.number).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, [1, 2, 3]);
        assert_eq!(holds(&second, 1, "0xa"), Some(10));
    }

    /// A node that pruned below its retention still lists genesis: the pruned heights are
    /// kept from the earlier read all the same, and a height listed again (a reorg) is the new
    /// read's only.
    #[test]
    fn pruned_blocks_are_kept_across_status_reads_beside_genesis() {
        let first = status(&[
            (0, "0x0", "genesis", 0),
            (1, "0xa", "gossip", 10),
            (2, "0xb", "gossip", 11),
        ]);
        let mut second = status(&[
            (0, "0x0", "genesis", 0),
            (2, "0xbb", "gossip", 13),
            (3, "0xc", "gossip", 12),
        ]);
        keep_older_blocks(&mut second, first.blocks);
        let mut numbers: Vec<u64> = second.blocks.iter().map(|b| b.number).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, [0, 1, 2, 3]);
        assert_eq!(holds(&second, 1, "0xa"), Some(10));
        assert_eq!(holds(&second, 2, "0xbb"), Some(13));
        assert_eq!(holds(&second, 2, "0xb"), None);
    }
}
