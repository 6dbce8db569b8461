//! The network-wide summary of a devnet run, for large devnets where a row per node says too
//! much: every gossip delivery with its latency and hop count, latency percentiles over all
//! deliveries and per hop count, and per-node figures (peak memory, peers) as min/median/max.
//!
//! Hop counts come from the status files: each gossip block names the peer it came from
//! (gossipsub's propagation source), the sequencer's own block is hop 0, and a node's hop for
//! block n is one more than the hop of the node it got block n from. The links are followed
//! back to a node that built the block (origin `local`); a link to a peer that is not a devnet
//! node, to a node that does not hold the block by gossip, or a loop, leaves the hop unknown
//! rather than guessed.

use std::collections::{BTreeMap, HashMap};

use super::summary::{Canonical, NodeRow, format_us, percentile};
use crate::status::Status;

/// One node's receipt of one canonical block over gossip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// The receiving node.
    pub(crate) node: usize,
    /// The block number.
    pub(crate) number: u64,
    /// From the sequencer's publish to the node's store, µs.
    pub(crate) latency_us: u64,
    /// Gossip hops from the sequencer (1: straight from it); `None` when the chain of
    /// senders cannot be followed back to the sequencer.
    pub(crate) hops: Option<u32>,
}

/// Where a node got a canonical block from, as its status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// It built the block (the sequencer): hop 0.
    Built,
    /// Over gossip from this devnet node.
    Node(usize),
    /// Otherwise: sync, an unknown sender, or no sender recorded.
    Unknown,
}

/// Every gossip delivery of a canonical block to a node in `statuses` (indexed by node), with
/// its latency and hop count.
pub(crate) fn deliveries(statuses: &[Option<Status>], canonical: &Canonical) -> Vec<Delivery> {
    let index_of: HashMap<&str, usize> = statuses
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((s.as_ref()?.peer_id.as_str(), i)))
        .collect();
    // (node, number) → where that node got the canonical block `number`.
    let mut sources: HashMap<(usize, u64), Source> = HashMap::new();
    let mut received: Vec<(usize, u64, u64)> = Vec::new();
    for (node, status) in statuses.iter().enumerate() {
        let Some(status) = status else { continue };
        for block in &status.blocks {
            let Some((hash, published)) = canonical.get(&block.number) else {
                continue;
            };
            if *hash != block.hash {
                continue;
            }
            let source = match (block.origin.as_str(), &block.from) {
                ("local", _) => Source::Built,
                ("gossip", Some(from)) => index_of
                    .get(from.as_str())
                    .map_or(Source::Unknown, |i| Source::Node(*i)),
                _ => Source::Unknown,
            };
            sources.insert((node, block.number), source);
            if block.origin == "gossip" {
                received.push((
                    node,
                    block.number,
                    block.received_us.saturating_sub(*published),
                ));
            }
        }
    }
    let mut out: Vec<Delivery> = received
        .into_iter()
        .map(|(node, number, latency_us)| Delivery {
            node,
            number,
            latency_us,
            hops: hops(&sources, node, number, statuses.len()),
        })
        .collect();
    out.sort_unstable_by_key(|d| (d.number, d.node));
    out
}

/// Follows the senders of block `number` back from `node` to the node that built it; `None`
/// if the chain breaks or loops (no chain is longer than the number of nodes).
fn hops(
    sources: &HashMap<(usize, u64), Source>,
    node: usize,
    number: u64,
    nodes: usize,
) -> Option<u32> {
    let mut at = node;
    for hop in 0..=nodes {
        match sources.get(&(at, number))? {
            Source::Built => return u32::try_from(hop).ok(),
            Source::Node(sender) => at = *sender,
            Source::Unknown => return None,
        }
    }
    None
}

/// min / median / max of `values` (sorted here), `-` when empty.
fn spread(mut values: Vec<u64>, show: impl Fn(u64) -> String) -> [String; 3] {
    values.sort_unstable();
    let at = |p| percentile(&values, p).map_or_else(|| "-".to_owned(), &show);
    [
        values.first().map_or_else(|| "-".to_owned(), |v| show(*v)),
        at(50),
        values.last().map_or_else(|| "-".to_owned(), |v| show(*v)),
    ]
}

/// One latency row: label, count, p50, p99, max.
fn latency_row(out: &mut String, label: &str, mut values: Vec<u64>) {
    values.sort_unstable();
    let show = |p| percentile(&values, p).map_or_else(|| "-".to_owned(), format_us);
    out.push_str(&format!(
        "| {label} | {} | {} | {} | {} |\n",
        values.len(),
        show(50),
        show(99),
        values
            .last()
            .map_or_else(|| "-".to_owned(), |v| format_us(*v)),
    ));
}

/// The aggregate tables: [`latency_table`], then per-node memory and peers as
/// min/median/max.
pub(crate) fn tables(rows: &[NodeRow], deliveries: &[Delivery]) -> String {
    let mut out = latency_table(deliveries);
    out.push_str(&node_table(rows));
    out
}

/// Propagation latency over all gossip `deliveries`, per hop count, and of the last node to
/// get each block.
pub(crate) fn latency_table(deliveries: &[Delivery]) -> String {
    let mut out = String::from(
        "| gossip deliveries (publish → stored) | count | p50 | p99 | max |\n|---|---:|---:|---:|---:|\n",
    );
    latency_row(
        &mut out,
        "all",
        deliveries.iter().map(|d| d.latency_us).collect(),
    );
    let mut by_hop: BTreeMap<Option<u32>, Vec<u64>> = BTreeMap::new();
    for d in deliveries {
        by_hop.entry(d.hops).or_default().push(d.latency_us);
    }
    // Known hop counts in order, unknown last.
    let unknown = by_hop.remove(&None);
    for (hops, values) in by_hop {
        let hops = hops.unwrap_or_default();
        let label = if hops == 1 {
            "1 hop".to_owned()
        } else {
            format!("{hops} hops")
        };
        latency_row(&mut out, &label, values);
    }
    if let Some(values) = unknown {
        latency_row(&mut out, "hop count unknown", values);
    }
    let mut slowest: BTreeMap<u64, u64> = BTreeMap::new();
    for d in deliveries {
        let entry = slowest.entry(d.number).or_default();
        *entry = (*entry).max(d.latency_us);
    }
    latency_row(
        &mut out,
        "last node to get each block",
        slowest.into_values().collect(),
    );
    out
}

/// Peak memory, peers and bans per node, as min/median/max over the nodes.
fn node_table(rows: &[NodeRow]) -> String {
    let mut out = String::from("\n| per node | min | median | max |\n|---|---:|---:|---:|\n");
    let kib = |v: u64| format!("{:.1} MiB", v as f64 / 1024.0);
    let count = |v: u64| v.to_string();
    let statuses = || rows.iter().filter_map(|r| r.status.as_ref());
    let lines: [(&str, [String; 3]); 3] = [
        (
            "peak RSS (VmHWM)",
            spread(rows.iter().filter_map(|r| r.peak_rss_kib).collect(), kib),
        ),
        (
            "peers",
            spread(statuses().map(|s| s.peers as u64).collect(), count),
        ),
        (
            "bans in force",
            spread(statuses().map(|s| s.bans.len() as u64).collect(), count),
        ),
    ];
    for (label, [min, median, max]) in lines {
        out.push_str(&format!("| {label} | {min} | {median} | {max} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::BlockStatus;

    fn block(number: u64, hash: &str, origin: &str, at: u64, from: Option<&str>) -> BlockStatus {
        BlockStatus {
            number,
            hash: hash.into(),
            origin: origin.into(),
            received_us: at,
            published_us: None,
            from: from.map(Into::into),
        }
    }

    fn node(peer: &str, blocks: Vec<BlockStatus>) -> Option<Status> {
        let mut status = super::super::summary::tests::status(&[]);
        status.peer_id = peer.into();
        status.blocks = blocks;
        Some(status)
    }

    fn canonical() -> Canonical {
        [(1, ("0xa".to_owned(), 1000)), (2, ("0xb".to_owned(), 2000))]
            .into_iter()
            .collect()
    }

    #[test]
    fn hop_counts_follow_the_senders_back_to_the_sequencer() {
        // Block 1: seq → n1 → n2 → n3. Block 2: seq → n2 → n1, n3 by sync.
        let statuses = vec![
            node(
                "seq",
                vec![
                    block(1, "0xa", "local", 900, None),
                    block(2, "0xb", "local", 1900, None),
                ],
            ),
            node(
                "n1",
                vec![
                    block(1, "0xa", "gossip", 1100, Some("seq")),
                    block(2, "0xb", "gossip", 2300, Some("n2")),
                ],
            ),
            node(
                "n2",
                vec![
                    block(1, "0xa", "gossip", 1200, Some("n1")),
                    block(2, "0xb", "gossip", 2100, Some("seq")),
                ],
            ),
            node(
                "n3",
                vec![
                    block(1, "0xa", "gossip", 1400, Some("n2")),
                    block(2, "0xb", "sync", 2500, None),
                ],
            ),
        ];
        let got = deliveries(&statuses, &canonical());
        let hops: Vec<(usize, u64, Option<u32>, u64)> = got
            .iter()
            .map(|d| (d.node, d.number, d.hops, d.latency_us))
            .collect();
        assert_eq!(
            hops,
            [
                (1, 1, Some(1), 100),
                (2, 1, Some(2), 200),
                (3, 1, Some(3), 400),
                (1, 2, Some(2), 300),
                (2, 2, Some(1), 100),
            ]
        );
    }

    #[test]
    fn broken_or_looping_chains_leave_the_hop_unknown() {
        let statuses = vec![
            node("seq", vec![block(1, "0xa", "local", 900, None)]),
            // A sender that is not a devnet node.
            node(
                "n1",
                vec![block(1, "0xa", "gossip", 1100, Some("stranger"))],
            ),
            // Got it from n1, whose chain is broken.
            node("n2", vec![block(1, "0xa", "gossip", 1200, Some("n1"))]),
            // A loop between n3 and n4 (impossible for honest nodes; not followed forever).
            node("n3", vec![block(1, "0xa", "gossip", 1300, Some("n4"))]),
            node("n4", vec![block(1, "0xa", "gossip", 1300, Some("n3"))]),
            // The wrong hash is not a delivery of the canonical block.
            node("n5", vec![block(1, "0xf", "gossip", 1300, Some("seq"))]),
            // No sender recorded (a node from before the field existed).
            node("n6", vec![block(1, "0xa", "gossip", 1300, None)]),
        ];
        let got = deliveries(&statuses, &canonical());
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|d| d.hops.is_none()), "{got:?}");
    }

    #[test]
    fn tables_give_percentiles_per_hop_and_spreads_per_node() {
        let deliveries = [
            Delivery {
                node: 1,
                number: 1,
                latency_us: 1000,
                hops: Some(1),
            },
            Delivery {
                node: 2,
                number: 1,
                latency_us: 3000,
                hops: Some(2),
            },
            Delivery {
                node: 3,
                number: 1,
                latency_us: 5000,
                hops: None,
            },
        ];
        let rows: Vec<NodeRow> = [10_240, 20_480, 30_720]
            .into_iter()
            .enumerate()
            .map(|(index, rss)| NodeRow {
                index,
                role: "verifier".into(),
                status: node("p", vec![]),
                connected_after: None,
                peak_rss_kib: Some(rss),
            })
            .collect();
        let text = tables(&rows, &deliveries);
        assert!(
            text.contains("| all | 3 | 3.00 ms | 5.00 ms | 5.00 ms |"),
            "{text}"
        );
        assert!(
            text.contains("| 1 hop | 1 | 1.00 ms | 1.00 ms | 1.00 ms |"),
            "{text}"
        );
        assert!(text.contains("| 2 hops | 1 |"), "{text}");
        assert!(
            text.contains("| hop count unknown | 1 | 5.00 ms |"),
            "{text}"
        );
        assert!(
            text.contains("| last node to get each block | 1 | 5.00 ms |"),
            "{text}"
        );
        assert!(
            text.contains("| peak RSS (VmHWM) | 10.0 MiB | 20.0 MiB | 30.0 MiB |"),
            "{text}"
        );
        assert!(text.contains("| peers | 1 | 1 | 1 |"), "{text}");
    }
}
