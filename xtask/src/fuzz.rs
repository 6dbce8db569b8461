//! `cargo xtask fuzz`: builds the cargo-fuzz targets in `fuzz/` and runs each for a while under
//! memory caps, then prints one row per target (executions, exec/s, peak RSS, crashes); and
//! `cargo xtask fuzz-seeds`, which writes the committed seed corpora from the test vectors.
//!
//! What it installs when missing: the nightly toolchain (`rustup toolchain install nightly
//! --profile minimal`; cargo-fuzz needs `-Z` sanitizer flags) and cargo-fuzz (`cargo install
//! cargo-fuzz --version 0.13.2 --locked`). The fuzz build has its own target directory
//! (`$CARGO_TARGET_DIR/fuzz`, else `fuzz/target`): its sanitizer flags would otherwise
//! invalidate the main debug build.
//!
//! Each target runs as `cargo +nightly fuzz run <target> fuzz/corpus/<target> fuzz/seeds/<target>`
//! with libFuzzer's `-rss_limit_mb` and `-malloc_limit_mb`: a decoder whose memory follows a
//! peer's claims instead of its caps shows up as a crash, not only an assertion failure. The
//! first corpus directory (git-ignored) collects what the run finds; the seeds are read only.

use std::{
    env,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

use crate::{Error, Result, cargo, display, probe, run, workspace_root};

/// Every fuzz target, in the order `cargo xtask fuzz` runs them: the `[[bin]]`s of
/// `fuzz/Cargo.toml` (a test checks the two lists agree).
pub(crate) const TARGETS: &[&str] = &[
    "gossip_decode",
    "ssz_payload",
    "sync_request",
    "sync_response",
    "discovery_records",
    "rollup_config",
    "node_key",
    "rpc_params",
];

/// libFuzzer's RSS cap. The decoders' own caps are 10 MiB (a gossip message, a response body);
/// a fuzzer process with AddressSanitizer, its corpus and a 10 MiB decode stays far below this,
/// so hitting it means a decoder allocated on a peer's say-so.
pub(crate) const RSS_LIMIT_MB: u32 = 512;

/// libFuzzer's cap on a single allocation: the 10 MiB decode cap (plus one byte, plus the
/// allocator's rounding) fits; anything above it did not respect a cap.
pub(crate) const MALLOC_LIMIT_MB: u32 = 16;

/// AddressSanitizer keeps freed memory in a quarantine (256 MiB by default) to catch
/// use-after-free; that alone would put a long run's RSS near [`RSS_LIMIT_MB`]. 64 MiB still
/// catches a use shortly after a free (the decoders are safe Rust over C only in secp256k1).
const ASAN_OPTIONS: &str = "quarantine_size_mb=64";

/// The cargo-fuzz release installed when none is found (the one the campaign ran with).
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Seconds per target when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 60;

/// What `cargo xtask fuzz` was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Options {
    /// `-max_total_time` per target.
    pub(crate) seconds: Option<u64>,
    /// `-runs` per target (a campaign: stop after this many executions).
    pub(crate) runs: Option<u64>,
    /// Targets to run; empty means all.
    pub(crate) targets: Vec<String>,
}

impl Options {
    /// Parses `[--seconds N] [--runs N] [TARGET...]`.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut options = Self {
            seconds: None,
            runs: None,
            targets: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut number = |flag: &str| -> Result<u64> {
                let value = args
                    .next()
                    .ok_or_else(|| Error::Usage(format!("{flag} needs a number")))?;
                value
                    .parse()
                    .map_err(|_| Error::Usage(format!("{flag} {value:?}: not a number")))
            };
            match arg.as_str() {
                "--seconds" => options.seconds = Some(number("--seconds")?),
                "--runs" => options.runs = Some(number("--runs")?),
                flag if flag.starts_with('-') => {
                    return Err(Error::Usage(format!("unknown fuzz option {flag:?}")));
                }
                target if TARGETS.contains(&target) => options.targets.push(target.to_owned()),
                other => {
                    return Err(Error::Usage(format!(
                        "unknown fuzz target {other:?} (targets: {})",
                        TARGETS.join(", ")
                    )));
                }
            }
        }
        if options.seconds.is_none() && options.runs.is_none() {
            options.seconds = Some(DEFAULT_SECONDS);
        }
        Ok(options)
    }

    fn targets(&self) -> Vec<&str> {
        if self.targets.is_empty() {
            TARGETS.to_vec()
        } else {
            self.targets.iter().map(String::as_str).collect()
        }
    }
}

/// The final statistics libFuzzer prints with `-print_final_stats=1`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    pub(crate) executions: u64,
    pub(crate) exec_per_sec: u64,
    pub(crate) peak_rss_mb: u64,
    pub(crate) new_units: u64,
}

impl Stats {
    /// Reads the `stat::` lines of a libFuzzer log; falls back to the last `#N` status line
    /// for the execution count if the run died before printing them.
    pub(crate) fn parse(log: &str) -> Self {
        let mut stats = Self::default();
        let mut last_status = 0;
        for line in log.lines() {
            if let Some(rest) = line.strip_prefix("stat::") {
                let Some((key, value)) = rest.split_once(':') else {
                    continue;
                };
                let value = value.trim().parse().unwrap_or(0);
                match key {
                    "number_of_executed_units" => stats.executions = value,
                    "average_exec_per_sec" => stats.exec_per_sec = value,
                    "peak_rss_mb" => stats.peak_rss_mb = value,
                    "new_units_added" => stats.new_units = value,
                    _ => {}
                }
            } else if let Some(rest) = line.strip_prefix('#') {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = digits.parse() {
                    last_status = n;
                }
            }
        }
        if stats.executions == 0 {
            stats.executions = last_status;
        }
        stats
    }
}

/// One target's result.
struct Row {
    target: String,
    stats: Stats,
    seconds: f64,
    crashed: bool,
    log: PathBuf,
}

/// `cargo xtask fuzz [--seconds N] [--runs N] [TARGET...]`.
pub(crate) fn fuzz(args: &[String]) -> Result {
    let options = Options::parse(args)?;
    let root = workspace_root()?;
    let fuzz_dir = root.join("fuzz");
    let target_dir = fuzz_target_dir(&root, env::var_os("CARGO_TARGET_DIR").map(PathBuf::from));
    ensure_tools(&root)?;

    let started = Instant::now();
    let mut build = nightly_cargo(&root, &["fuzz", "build"]);
    build.arg("--target-dir").arg(&target_dir);
    println!("==> {}", display(&build));
    run(&mut build)?;
    println!(
        "==> fuzz build done in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // One log directory per invocation, so a short check never clobbers a running campaign's.
    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let logs = target_dir.join("logs").join(started_at.to_string());
    fs::create_dir_all(&logs).map_err(|e| Error::Input(format!("{}: {e}", logs.display())))?;
    let mut rows = Vec::new();
    for target in options.targets() {
        let corpus = fuzz_dir.join("corpus").join(target);
        let seeds = fuzz_dir.join("seeds").join(target);
        let dict = fuzz_dir.join("dicts").join(format!("{target}.dict"));
        let log = logs.join(format!("{target}.log"));
        let mut cmd = nightly_cargo(&root, &["fuzz", "run"]);
        cmd.arg("--target-dir").arg(&target_dir).arg(target);
        cmd.arg(&corpus);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.arg("--");
        cmd.args(libfuzzer_flags(&options));
        if dict.is_file() {
            cmd.arg(format!("-dict={}", dict.display()));
        }
        if env::var_os("ASAN_OPTIONS").is_none() {
            cmd.env("ASAN_OPTIONS", ASAN_OPTIONS);
        }
        fs::create_dir_all(&corpus)
            .map_err(|e| Error::Input(format!("{}: {e}", corpus.display())))?;
        let file =
            fs::File::create(&log).map_err(|e| Error::Input(format!("{}: {e}", log.display())))?;
        println!("==> {} (log: {})", display(&cmd), log.display());
        let start = Instant::now();
        // libFuzzer reports on stderr; its status lines would drown the table.
        let status = cmd
            .stdout(Stdio::null())
            .stderr(file)
            .status()
            .map_err(|source| Error::Spawn {
                cmd: display(&cmd),
                source,
            })?;
        let seconds = start.elapsed().as_secs_f64();
        let text = fs::read_to_string(&log).unwrap_or_default();
        let stats = Stats::parse(&text);
        let crashed = !status.success();
        if crashed {
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("---- {target}: {status}; last lines of {}:", log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        println!(
            "    {target}: {} executions, {} exec/s, peak RSS {} MiB, {}",
            stats.executions,
            stats.exec_per_sec,
            stats.peak_rss_mb,
            if crashed { "CRASHED" } else { "ok" }
        );
        rows.push(Row {
            target: target.to_owned(),
            stats,
            seconds,
            crashed,
            log,
        });
    }
    print!("\n{}", table(&rows));
    let crashed: Vec<&str> = rows
        .iter()
        .filter(|r| r.crashed)
        .map(|r| r.target.as_str())
        .collect();
    if crashed.is_empty() {
        Ok(())
    } else {
        for row in rows.iter().filter(|r| r.crashed) {
            eprintln!("{}: see {}", row.target, row.log.display());
        }
        Err(Error::Check(format!(
            "fuzz targets crashed: {} (inputs in fuzz/artifacts/<target>/)",
            crashed.join(", ")
        )))
    }
}

/// The libFuzzer options of every run.
fn libfuzzer_flags(options: &Options) -> Vec<String> {
    let mut flags = vec![
        format!("-rss_limit_mb={RSS_LIMIT_MB}"),
        format!("-malloc_limit_mb={MALLOC_LIMIT_MB}"),
        // A decoder stuck for 10 s on one input of a few KiB is a bug too.
        "-timeout=10".to_owned(),
        "-print_final_stats=1".to_owned(),
    ];
    if let Some(seconds) = options.seconds {
        flags.push(format!("-max_total_time={seconds}"));
    }
    if let Some(runs) = options.runs {
        flags.push(format!("-runs={runs}"));
    }
    flags
}

/// The results as a Markdown table (pasted into `fuzz/README.md` after a campaign).
fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| target | executions | exec/s | peak RSS (MiB) | new units | seconds | crashes |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {:.0} | {} |",
            row.target,
            row.stats.executions,
            row.stats.exec_per_sec,
            row.stats.peak_rss_mb,
            row.stats.new_units,
            row.seconds,
            u8::from(row.crashed)
        );
    }
    out
}

/// `$CARGO_TARGET_DIR/fuzz`, else `fuzz/target`: never the main build's directory.
fn fuzz_target_dir(root: &Path, cargo_target_dir: Option<PathBuf>) -> PathBuf {
    cargo_target_dir.map_or_else(|| root.join("fuzz").join("target"), |dir| dir.join("fuzz"))
}

/// `cargo +nightly <args>` from the workspace root. `+nightly` is understood by the rustup proxy
/// only, so this runs `cargo` from `PATH` rather than `$CARGO` (the pinned stable toolchain's).
fn nightly_cargo(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg("+nightly").args(args).current_dir(root);
    cmd
}

/// Installs the nightly toolchain and cargo-fuzz if they are missing.
fn ensure_tools(root: &Path) -> Result {
    if !probe(&mut nightly_cargo(root, &["--version"])) {
        let mut cmd = Command::new("rustup");
        cmd.args(["toolchain", "install", "nightly", "--profile", "minimal"]);
        println!("==> {}", display(&cmd));
        run(&mut cmd).map_err(|e| {
            Error::Setup(format!(
                "{e}\ncargo-fuzz needs a nightly toolchain: rustup toolchain install nightly"
            ))
        })?;
    }
    if !probe(&mut nightly_cargo(root, &["fuzz", "--version"])) {
        // The pinned stable cargo builds it; it runs under any toolchain.
        let mut cmd = cargo(&[
            "install",
            "cargo-fuzz",
            "--version",
            CARGO_FUZZ_VERSION,
            "--locked",
        ])?;
        println!("==> {}", display(&cmd));
        run(&mut cmd)?;
    }
    Ok(())
}

/// `cargo xtask fuzz-seeds`: rewrites `fuzz/seeds/` from the vectors in `crates/types/testdata`
/// (a copy of the shared vector set) and `crates/node/testdata`, plus hand-written inputs for the
/// operator-facing parsers. Each target's input layout is in its file's doc comment.
pub(crate) fn seeds() -> Result {
    let root = workspace_root()?;
    let types = root.join("crates/types/testdata");
    let gossip = read_json(&types.join("gossip_valid.json"))?;
    let sync = read_json(&types.join("payload_by_number.json"))?;
    let rollup_json = read_text(&root.join("crates/node/testdata/rollup_op_mainnet.json"))?;
    let mut set = SeedSet::default();

    for vector in array(&gossip, "vectors")? {
        let name = string(vector, "name")?;
        let version = u8::try_from(number(vector, "topic_payload_version")?)
            .map_err(|_| Error::Input(format!("{name}: bad topic_payload_version")))?;
        let message = hex(string(vector, "message_hex")?)?;
        let decompressed = hex(string(vector, "decompressed_hex")?)?;
        // Large real blocks make slow seeds and raise libFuzzer's max_len: a few KiB suffice.
        if decompressed.len() > MAX_SEED {
            continue;
        }
        let selector = version - 1;
        set.add("gossip_decode", name, [&[selector][..], &message].concat());
        // The signed bytes: after the 65-byte signature.
        let signed = decompressed.get(65..).unwrap_or_default();
        set.add("ssz_payload", name, [&[selector][..], signed].concat());
    }
    // Each version once more with its fixed part only (no transactions): cheap inputs that
    // reach every version's tail fields.
    for version in 1..=4u8 {
        let fixed = [508, 512, 528, 560][usize::from(version - 1)];
        let root_len = if version >= 3 { 32 } else { 0 };
        let mut envelope = vec![0u8; root_len + fixed];
        let extra_data_offset = u32::try_from(fixed).unwrap_or_default().to_le_bytes();
        // extra_data's offset (after 6 fixed fields of 32/20/32/32/256/32 and 4 u64s) and the
        // transactions' (and withdrawals') offsets all point at the end: empty lists.
        let offsets = [436, 504].into_iter().chain((version >= 2).then_some(508));
        for at in offsets {
            envelope[root_len + at..root_len + at + 4].copy_from_slice(&extra_data_offset);
        }
        set.add(
            "ssz_payload",
            &format!("v{version}_empty"),
            [&[version - 1][..], &envelope].concat(),
        );
    }

    for request in array(&sync, "requests")? {
        let bytes = hex(string(request, "request_hex")?)?;
        set.add(
            "sync_request",
            &format!("request_{}", number(request, "block_number")?),
            bytes,
        );
    }
    set.add("sync_request", "short", vec![1, 2, 3]);
    set.add("sync_request", "long", vec![0; 9]);
    for response in array(&sync, "responses")? {
        let name = string(response, "name")?;
        let requested = number(response, "requested_block_number")?;
        let canyon = response["canyon_active_at_requested_block"].as_bool() == Some(true);
        let isthmus = response["isthmus_active_at_requested_block"].as_bool() == Some(true);
        let version_1 = response["expected"]["version"].as_u64() == Some(1);
        // Fork flags of the target: bit 0 Canyon, bit 1 Ecotone, bit 2 Isthmus (from genesis).
        let flags =
            u8::from(canyon || version_1) | u8::from(version_1) << 1 | u8::from(isthmus) << 2;
        let stream = hex(string(response, "response_hex")?)?;
        let input = [&requested.to_le_bytes()[..], &[flags], &stream].concat();
        set.add("sync_response", name, input);
    }

    // discovery_records: 0 = an `opstack` value, 1 = an ENR's RLP, 2 = bootnode text.
    set.add(
        "discovery_records",
        "opstack_8453",
        vec![0, 0x83, 0x85, 0x42, 0x00],
    );
    set.add("discovery_records", "opstack_10", vec![0, 0x82, 0x0a, 0x00]);
    set.add(
        "discovery_records",
        "opstack_trailing",
        vec![0, 0x85, 0x85, 0x42, 0x01, 0xff, 0xff],
    );
    set.add(
        "discovery_records",
        "enr_rlp_base",
        [&[1][..], &base64url(ENR_BASE.trim_start_matches("enr:"))?].concat(),
    );
    set.add(
        "discovery_records",
        "bootnode_enr",
        [b"\x02", ENR_BASE.as_bytes()].concat(),
    );
    set.add(
        "discovery_records",
        "bootnode_enode",
        [b"\x02", ENODE.as_bytes()].concat(),
    );
    set.add(
        "discovery_records",
        "bootnode_enode_discport",
        [b"\x02", ENODE.as_bytes(), b"?discport=30301"].concat(),
    );

    set.add("rollup_config", "op_mainnet", rollup_json.into_bytes());
    set.add(
        "rollup_config",
        "minimal",
        br#"{"genesis":{"l2":{"number":5,"hash":"0x0202020202020202020202020202020202020202020202020202020202020202"},"l2_time":100},"block_time":2,"l2_chain_id":10,"canyon_time":0,"ecotone_time":10,"isthmus_time":20}"#.to_vec(),
    );

    const KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";
    set.add("node_key", "plain", KEY.as_bytes().to_vec());
    set.add(
        "node_key",
        "prefixed_newline",
        format!("0x{KEY}\n").into_bytes(),
    );
    set.add("node_key", "zero", "00".repeat(32).into_bytes());
    set.add(
        "node_key",
        "curve_order",
        b"fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141".to_vec(),
    );

    // rpc_params: arity byte, then the params array of an `opp2p_*` call.
    let peer = "16Uiu2HAmSFtySciQSQdQ2dFJxemRSkpd8G7aDbmFLPTrEcqmsFWM";
    for (name, arity, params) in [
        ("none", 0u8, "[]".to_owned()),
        ("null", 0, "null".to_owned()),
        ("bool", 1, "[true]".to_owned()),
        ("peer_id", 1, format!("[\"{peer}\"]")),
        ("ip4", 1, r#"["10.1.2.3"]"#.to_owned()),
        ("ip6", 1, r#"["2001:db8::1"]"#.to_owned()),
        (
            "subnet4",
            1,
            r#"[{"IP":"10.1.2.3","Mask":"//8AAA=="}]"#.to_owned(),
        ),
        (
            "subnet6",
            1,
            r#"[{"IP":"2001:db8::","Mask":"//////////8AAAAAAAAAAA=="}]"#.to_owned(),
        ),
        (
            "subnet4in6",
            1,
            r#"[{"ip":"10.1.2.3","mask":"/////////////////wAAAA=="}]"#.to_owned(),
        ),
        (
            "peer_addr",
            1,
            format!("[\"/ip4/127.0.0.1/tcp/9222/p2p/{peer}\"]"),
        ),
        (
            "peer_addr_dns",
            1,
            format!("[\"/dns4/node.example/tcp/9222/p2p/{peer}\"]"),
        ),
        ("two", 2, format!("[\"{peer}\", true]")),
        ("too_many", 1, "[1,2]".to_owned()),
        ("object", 1, r#"{"a":1}"#.to_owned()),
    ] {
        set.add(
            "rpc_params",
            name,
            [&[arity][..], params.as_bytes()].concat(),
        );
    }

    let seeds_dir = root.join("fuzz").join("seeds");
    if seeds_dir.exists() {
        fs::remove_dir_all(&seeds_dir)
            .map_err(|e| Error::Input(format!("{}: {e}", seeds_dir.display())))?;
    }
    let mut total = 0;
    for (target, name, bytes) in &set.0 {
        let dir = seeds_dir.join(target);
        fs::create_dir_all(&dir).map_err(|e| Error::Input(format!("{}: {e}", dir.display())))?;
        let path = dir.join(name);
        fs::write(&path, bytes).map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
        total += bytes.len();
    }
    println!(
        "wrote {} seeds ({total} bytes) under {}",
        set.0.len(),
        seeds_dir.display()
    );
    Ok(())
}

/// Seeds above this size are left out (libFuzzer's `max_len` follows the largest seed).
const MAX_SEED: usize = 8 * 1024;

/// Base mainnet's bootnode ENR from op-node (also in the discovery crate's tests).
const ENR_BASE: &str = "enr:-J24QNz9lbrKbN4iSmmjtnr7SjUMk4zB7f1krHZcTZx-JRKZd0kA2gjufUROD6T3sOWDVDnFJRvqBBo62zuF-hYCohOGAYiOoEyEgmlkgnY0gmlwhAPniryHb3BzdGFja4OFQgCJc2VjcDI1NmsxoQKNVFlCxh_B-716tTs-h1vMzZkSs1FTu_OYTNjgufplG4N0Y3CCJAaDdWRwgiQG";
/// An op-node enode bootnode (also in the discovery crate's tests).
const ENODE: &str = "enode://b97abcc7011d06299c4bc44742be4a0e631a1a2925a2992adcfe80ed86bec5ff0ddf1b90d015f2dbb5e305560e12c9873b2dad72d84d131ac4be9f2a4c74b763@52.14.30.39:9222";

/// (target, file name, bytes), in insertion order.
#[derive(Default)]
struct SeedSet(Vec<(String, String, Vec<u8>)>);

impl SeedSet {
    fn add(&mut self, target: &str, name: &str, bytes: Vec<u8>) {
        debug_assert!(TARGETS.contains(&target), "{target}");
        self.0.push((target.to_owned(), name.to_owned(), bytes));
    }
}

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::Input(format!("{}: {e}", path.display())))
}

fn read_json(path: &Path) -> Result<Value> {
    serde_json::from_str(&read_text(path)?)
        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))
}

fn array<'a>(value: &'a Value, key: &str) -> Result<&'a Vec<Value>> {
    value[key]
        .as_array()
        .ok_or_else(|| Error::Input(format!("vectors: `{key}` is not an array")))
}

fn string<'a>(value: &'a Value, key: &str) -> Result<&'a str> {
    value[key]
        .as_str()
        .ok_or_else(|| Error::Input(format!("vectors: `{key}` is not a string")))
}

fn number(value: &Value, key: &str) -> Result<u64> {
    value[key]
        .as_u64()
        .ok_or_else(|| Error::Input(format!("vectors: `{key}` is not a u64")))
}

/// `0x`-prefixed (or bare) hex. Hand-written: xtask keeps its dependencies to serde_json.
pub(crate) fn hex(text: &str) -> Result<Vec<u8>> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
            .ok_or_else(|| Error::Input(format!("not hex: {text:.40}")))
    };
    if !text.len().is_multiple_of(2) {
        return Err(Error::Input(format!("odd-length hex: {text:.40}")));
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| Ok(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Unpadded base64url (an ENR's text form). Hand-written for the same reason as [`hex`].
pub(crate) fn base64url(text: &str) -> Result<Vec<u8>> {
    let value = |c: u8| -> Result<u32> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return Err(Error::Input(format!("not base64url: {text:.40}"))),
        }
        .into())
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        acc = acc << 6 | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from(acc >> bits & 0xff).unwrap_or_default());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let args = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let all = Options::parse(&[]).unwrap();
        assert_eq!(all.seconds, Some(DEFAULT_SECONDS));
        assert_eq!(all.targets(), TARGETS);
        let some = Options::parse(&args("--seconds 5 node_key rpc_params")).unwrap();
        assert_eq!(some.seconds, Some(5));
        assert_eq!(some.targets(), ["node_key", "rpc_params"]);
        let campaign = Options::parse(&args("--runs 10000000 ssz_payload")).unwrap();
        assert_eq!((campaign.seconds, campaign.runs), (None, Some(10_000_000)));
        assert!(libfuzzer_flags(&campaign).contains(&"-runs=10000000".to_owned()));
        for bad in ["--seconds", "--seconds x", "--jobs 2", "no_such_target"] {
            assert!(
                matches!(Options::parse(&args(bad)), Err(Error::Usage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn stats_from_a_log() {
        let log = "#2\tINITED cov: 10\n#1048576\tpulse  cov: 99\n#2000000\tDONE   cov: 100\n\
                   Done 2000000 runs in 61 second(s)\n\
                   stat::number_of_executed_units: 2000000\n\
                   stat::average_exec_per_sec:     32786\n\
                   stat::new_units_added:          17\n\
                   stat::slowest_unit_time_sec:    0\n\
                   stat::peak_rss_mb:              91\n";
        let stats = Stats::parse(log);
        assert_eq!(
            stats,
            Stats {
                executions: 2_000_000,
                exec_per_sec: 32_786,
                peak_rss_mb: 91,
                new_units: 17
            }
        );
        // A run killed before its final stats: the last status line counts.
        assert_eq!(
            Stats::parse("#4096\tpulse\n#8192\tpulse\n==1== ERROR").executions,
            8192
        );
    }

    #[test]
    fn targets_match_the_fuzz_manifest_and_have_seeds() {
        let root = workspace_root().unwrap();
        let manifest = fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
        let mut bins: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|name| *name != "op-p2p-fuzz")
            .collect();
        let mut targets = TARGETS.to_vec();
        bins.sort_unstable();
        targets.sort_unstable();
        assert_eq!(bins, targets);
        for target in TARGETS {
            let source = root.join(format!("fuzz/fuzz_targets/{target}.rs"));
            assert!(source.is_file(), "{}", source.display());
            let seeds = root.join(format!("fuzz/seeds/{target}"));
            let count = fs::read_dir(&seeds).map_or(0, Iterator::count);
            assert!(count > 0, "no seeds in {}", seeds.display());
        }
    }

    #[test]
    fn decoders() {
        assert_eq!(hex("0x00ff10").unwrap(), [0, 255, 16]);
        assert!(hex("0x0").is_err() && hex("zz").is_err());
        // RLP list header of the Base bootnode ENR.
        let rlp = base64url(ENR_BASE.trim_start_matches("enr:")).unwrap();
        assert_eq!(rlp[0], 0xf8);
        assert_eq!(usize::from(rlp[1]) + 2, rlp.len());
        assert_eq!(base64url("AQID").unwrap(), [1, 2, 3]);
    }

    #[test]
    fn fuzz_builds_never_share_the_main_target_dir() {
        let root = Path::new("/repo");
        assert_eq!(fuzz_target_dir(root, None), Path::new("/repo/fuzz/target"));
        let shared = PathBuf::from("/cache/target");
        assert_eq!(
            fuzz_target_dir(root, Some(shared)),
            Path::new("/cache/target/fuzz")
        );
    }
}
