//! `cargo xtask soak`: a long devnet run sampled for growth (crates/node/README.md, "Soak").
//!
//! Builds the release binary, runs `op-p2p devnet --nodes N --blocks M --block-time 1 --dir DIR`
//! and, every interval, samples each node process: resident memory and threads
//! (`/proc/PID/status`), open file descriptors (`/proc/PID/fd`), its data directory's size on
//! disk (RocksDB and the discovery table), and the tasks alive on its tokio runtime (the
//! `tasks` field of its status file). Samples go to `DIR/soak.csv`; at the end a table gives,
//! per node and quantity, the first, last and peak value and the least-squares slope per hour
//! over the second half of the run (the first half includes start-up, the fill of caches and
//! RocksDB's first flushes and compactions). Linux only (`/proc`).

use std::{
    fmt::Write as _,
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{Error, Result, cargo, display, flags, run, setup, workspace_root};

/// What is sampled per node, in CSV column order after `elapsed_s,node`.
const QUANTITIES: [(&str, &str); 5] = [
    ("rss_kib", "RSS KiB"),
    ("fds", "open FDs"),
    ("threads", "threads"),
    ("tasks", "tokio tasks"),
    ("disk_kib", "data dir KiB"),
];

/// `cargo xtask soak [--minutes N] [--nodes N] [--interval SECS] [--block-bytes N] [--dir DIR]`.
pub(crate) fn run_soak(args: &[String]) -> Result {
    let mut minutes = 60u64;
    let mut nodes = 5usize;
    let mut interval = 10u64;
    let mut block_bytes = 0u64;
    let mut dir = None;
    for flag in flags::pairs(args)? {
        match flag.name {
            "--minutes" => minutes = flag.number()?,
            "--nodes" => nodes = usize::try_from(flag.number()?).unwrap_or(usize::MAX),
            "--interval" => interval = flag.number()?.max(1),
            // Large blocks fill RocksDB's memtables (4 MiB each) within minutes, so a run of an
            // hour passes many flushes: memory then shows its steady state.
            "--block-bytes" => block_bytes = flag.number()?,
            "--dir" => dir = Some(flag.path()),
            _ => return Err(flag.unknown("soak")),
        }
    }
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join("op-p2p-soak"));
    if dir.exists() {
        fs::remove_dir_all(&dir)
            .map_err(|e| Error::Input(format!("cannot clear {}: {e}", dir.display())))?;
    }
    fs::create_dir_all(&dir)
        .map_err(|e| Error::Input(format!("cannot create {}: {e}", dir.display())))?;

    setup::ensure_system_packages()?;
    let mut build = cargo(&["build", "--release", "-p", "op-p2p-node"])?;
    println!("==> {}", display(&build));
    run(&mut build)?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || workspace_root().map(|r| r.join("target")),
        |t| Ok(PathBuf::from(t)),
    )?;
    let exe = target.join("release").join("op-p2p");

    let blocks = minutes * 60;
    let mut devnet = Command::new(&exe);
    devnet
        .args([
            "devnet",
            "--nodes",
            &nodes.to_string(),
            "--blocks",
            &blocks.to_string(),
        ])
        .args([
            "--block-time",
            "1",
            "--block-bytes",
            &block_bytes.to_string(),
            "--dir",
        ])
        .arg(&dir)
        .stdout(Stdio::from(
            fs::File::create(dir.join("devnet.out"))
                .map_err(|e| Error::Input(format!("cannot create devnet.out: {e}")))?,
        ));
    println!(
        "==> {} (output in {}; samples every {interval} s in {})",
        display(&devnet),
        dir.join("devnet.out").display(),
        dir.join("soak.csv").display()
    );
    let mut child = devnet.spawn().map_err(|source| Error::Spawn {
        cmd: display(&devnet),
        source,
    })?;
    let samples = sample_until_exit(&mut child, &dir, nodes, Duration::from_secs(interval))?;
    let status = child.wait().map_err(|source| Error::Spawn {
        cmd: display(&devnet),
        source,
    })?;
    print!("{}", report(&samples, nodes));
    if !status.success() {
        return Err(Error::Check(format!(
            "the devnet failed ({status}); see {}",
            dir.join("devnet.out").display()
        )));
    }
    Ok(())
}

/// One sample: seconds since start, node, and [`QUANTITIES`] in order.
type Sample = (f64, usize, [f64; QUANTITIES.len()]);

fn sample_until_exit(
    child: &mut Child,
    dir: &Path,
    nodes: usize,
    interval: Duration,
) -> Result<Vec<Sample>> {
    let csv_path = dir.join("soak.csv");
    let mut csv = fs::File::create(&csv_path)
        .map_err(|e| Error::Input(format!("cannot create {}: {e}", csv_path.display())))?;
    let header: Vec<&str> = QUANTITIES.iter().map(|q| q.0).collect();
    let _ = writeln!(csv, "elapsed_s,node,{}", header.join(","));
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut next = start;
    loop {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        if Instant::now() < next {
            thread::sleep(Duration::from_millis(200));
            continue;
        }
        next += interval;
        let elapsed = start.elapsed().as_secs_f64();
        for node in 0..nodes {
            let Some(values) = sample_node(&dir.join(format!("node-{node}"))) else {
                continue;
            };
            let row: Vec<String> = values.iter().map(|v| format!("{v:.0}")).collect();
            let _ = writeln!(csv, "{elapsed:.1},{node},{}", row.join(","));
            samples.push((elapsed, node, values));
        }
    }
    Ok(samples)
}

/// The quantities of one node, from its status file's pid; `None` while it is not running.
fn sample_node(node_dir: &Path) -> Option<[f64; QUANTITIES.len()]> {
    let status: Value =
        serde_json::from_slice(&fs::read(node_dir.join("status.json")).ok()?).ok()?;
    let pid = status.get("pid")?.as_u64()?;
    let proc_status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        proc_status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as f64;
    let tasks = status
        .get("tasks")
        .and_then(Value::as_f64)
        .unwrap_or(f64::NAN);
    Some([
        field("VmRSS:")?,
        fds,
        field("Threads:")?,
        tasks,
        disk_usage(node_dir) as f64 / 1024.0,
    ])
}

/// Bytes allocated on disk under `path` (like `du`: blocks, not lengths).
fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// The summary table: per node and quantity, first, last, peak, and the slope per hour over
/// the second half of the run.
fn report(samples: &[Sample], nodes: usize) -> String {
    let mut out = String::from(
        "\n| node | quantity | first | last | peak | slope per hour (2nd half) |\n|---|---|---:|---:|---:|---:|\n",
    );
    let end = samples.iter().map(|s| s.0).fold(0.0, f64::max);
    for node in 0..nodes {
        let mine: Vec<&Sample> = samples.iter().filter(|s| s.1 == node).collect();
        let (Some(first), Some(last)) = (mine.first(), mine.last()) else {
            continue;
        };
        for (q, (_, label)) in QUANTITIES.iter().enumerate() {
            let peak = mine.iter().map(|s| s.2[q]).fold(f64::MIN, f64::max);
            let half: Vec<(f64, f64)> = mine
                .iter()
                .filter(|s| s.0 >= end / 2.0)
                .map(|s| (s.0 / 3600.0, s.2[q]))
                .collect();
            let _ = writeln!(
                out,
                "| {node} | {label} | {:.0} | {:.0} | {peak:.0} | {:+.1} |",
                first.2[q],
                last.2[q],
                slope(&half)
            );
        }
    }
    out
}

/// Least-squares slope of `points` (x, y); 0 with fewer than two distinct x.
fn slope(points: &[(f64, f64)]) -> f64 {
    let points: Vec<&(f64, f64)> = points.iter().filter(|p| p.1.is_finite()).collect();
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_and_of_noise_around_a_flat_line() {
        assert!((slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]) - 2.0).abs() < 1e-9);
        assert!(slope(&[(0.0, 5.0), (1.0, 4.0), (2.0, 5.0), (3.0, 4.0)]).abs() < 0.5);
        assert_eq!(slope(&[(1.0, 1.0)]), 0.0);
    }

    #[test]
    fn report_uses_the_second_half_for_the_slope() {
        // RSS grows in the first half (start-up), then stays flat.
        let samples: Vec<Sample> = (0..10)
            .map(|i| {
                let t = f64::from(i) * 360.0;
                let rss = if i < 5 { 1000.0 * f64::from(i) } else { 5000.0 };
                (t, 0, [rss, 10.0, 5.0, 7.0, 100.0])
            })
            .collect();
        let table = report(&samples, 1);
        assert!(
            table.contains("| 0 | RSS KiB | 0 | 5000 | 5000 | +0.0 |"),
            "{table}"
        );
    }
}
