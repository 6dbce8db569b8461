//! Project commands, run as `cargo xtask <command>` (the alias lives in `.cargo/config.toml`).
//!
//! This crate keeps its dependencies to `serde_json` (for `cargo metadata`): it is the first thing
//! compiled in every CI run.
//!
//! - `cargo xtask devnet [ARGS...]`: system setup, then `cargo run --release -p op-p2p-node --
//!   devnet ARGS...`.
//! - `cargo xtask ci`: system setup, format check, the dependency guard, the packaging and
//!   per-feature checks, clippy, tests, doc tests, docs and a short run of every fuzz target,
//!   stopping at the first failure. This
//!   is the command CI runs (through `.ci/run`).
//! - `cargo xtask setup`: only the system setup (see [`setup`]).
//! - `cargo xtask deps`, `deny`, `features`, `package [--no-verify]`: one check each (see
//!   [`guards`]).
//! - `cargo xtask bench [CRATE...] [-- CRITERION_ARGS...]`: criterion benchmarks.
//! - `cargo xtask fuzz [--seconds N] [--runs N] [TARGET...]`: builds and runs the cargo-fuzz
//!   targets in `fuzz/` under memory caps (see [`fuzz`]); `cargo xtask fuzz-seeds` rewrites
//!   their committed seed corpora.
//! - `cargo xtask hops DIR`: the per-hop latency breakdown of a devnet run (see [`hops`]).
//! - `cargo xtask bench-net [--nodes N] [--blocks N] [--block-bytes N] [--dir DIR]`: propagation
//!   at scale, 50 nodes by default (see [`bench_net`]).
//! - `cargo xtask soak [--minutes N] [--nodes N] [--interval SECS] [--block-bytes N] [--dir DIR]`: a long devnet
//!   run sampled for growth (see [`soak`]).

mod bench_net;
mod flags;
mod fuzz;
mod guards;
mod hops;
mod metadata;
mod setup;
mod soak;

use std::{
    env,
    ffi::OsString,
    fmt, io,
    path::{Path, PathBuf},
    process::{Command, ExitCode, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use guards::Verify;

const USAGE: &str = "\
Usage: cargo xtask <COMMAND>

Commands:
  devnet [ARGS...]               setup, then `cargo run --release -p op-p2p-node -- devnet ARGS`
                                 (5 local node processes gossip 30 blocks; ARGS: `devnet --help`)
  ci                             setup, fmt check, deps, deny, package, features, clippy,
                                 tests (nextest if installed), doc tests, rustdoc with
                                 -D warnings, then every fuzz target for 20 s; stops at the
                                 first failure
  setup                          check for the system packages the build needs (C and C++
                                 compilers, libclang, clang) and apt-get install the missing ones
                                 (as root or with `sudo -n`; else print the command to run)
  deps                           fail if op-p2p-types, -api, -gossip, -gating, -reqresp-sync or
                                 -discovery depends on rocksdb, librocksdb-sys, bindgen, clang-sys
                                 or libp2p
  deny                           cargo deny check bans licenses sources (installs cargo-deny
                                 0.20.2 with `cargo install --locked` if missing)
  features                       check each library crate alone with default features, no
                                 features and each feature (like `cargo hack --each-feature`)
  package [--no-verify]          metadata and file checks, then `cargo package` for every
                                 publishable crate, building each from its .crate file
                                 (`--no-verify`: packages only, seconds)
  bench [CRATE...] [-- ARGS...]  cargo bench for op-p2p-<CRATE> (default: the whole workspace);
                                 ARGS after `--` go to criterion, e.g. `--save-baseline main`
  fuzz [--seconds N] [--runs N] [TARGET...]
                                 build the cargo-fuzz targets in fuzz/ and run each (default:
                                 all, 60 s each) with libFuzzer's RSS and malloc limits; prints
                                 executions, exec/s, peak RSS and crashes per target; fails on
                                 any crash (installs nightly and cargo-fuzz if missing)
  fuzz-seeds                     rewrite fuzz/seeds/ from crates/types/testdata and
                                 crates/node/testdata
  hops DIR                       per-hop latency breakdown (p50/p99 per stage) of an
                                 `op-p2p devnet --dir DIR` run logged with RUST_LOG=info,
                                 gossip::hop=debug,op_p2p::node=debug,op_p2p::app=debug
  bench-net [--nodes N] [--blocks N] [--block-bytes N] [--dir DIR]
                                 release devnet of N nodes (50) through discovery, 1 s blocks
                                 of B bytes (120000) for N blocks (120); prints propagation
                                 latency p50/p99/max over all deliveries and per hop count,
                                 and peak RSS per node; output in DIR/devnet.out, per-node
                                 table in DIR/nodes.md (DIR: $TMPDIR/op-p2p-bench-net)
  soak [--minutes N] [--nodes N] [--interval SECS] [--block-bytes N] [--dir DIR]
                                 release devnet at 1 s blocks for N minutes (60), sampling each
                                 node's RSS, FDs, threads, tokio tasks and data dir size every
                                 SECS (10) into DIR/soak.csv; prints first/last/peak and the
                                 slope per hour over the second half
  help                           print this text

Environment:
  CARGO                          cargo binary to run (set by `cargo xtask`; default: cargo)
  XTASK_NO_INSTALL               if set, setup prints the apt-get command instead of running it
";

/// Why an xtask command failed.
#[derive(Debug)]
enum Error {
    /// Bad command line.
    Usage(String),
    /// A command could not be started at all.
    Spawn { cmd: String, source: io::Error },
    /// A command ran and exited unsuccessfully.
    Failed { cmd: String, status: ExitStatus },
    /// Something the command needs is missing; the message says how to get it.
    Setup(String),
    /// A project check found problems; they were printed above the message.
    Check(String),
    /// A file the command reads is missing or not what it expects.
    Input(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(msg) => write!(f, "{msg}\n\n{USAGE}"),
            Self::Spawn { cmd, source } => write!(f, "could not run `{cmd}`: {source}"),
            Self::Failed { cmd, status } => write!(f, "`{cmd}` failed ({status})"),
            Self::Setup(msg) | Self::Check(msg) | Self::Input(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}

type Result<T = ()> = std::result::Result<T, Error>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some("devnet") => devnet(&args[1..]),
        Some("ci") if args.len() == 1 => ci(),
        Some("setup") if args.len() == 1 => setup::ensure_system_packages(),
        Some("deps") if args.len() == 1 => guards::deps(),
        Some("deny") if args.len() == 1 => guards::deny(),
        Some("features") if args.len() == 1 => guards::features(),
        Some("package") if args.len() == 1 => guards::package(Verify::Yes),
        Some("package") if args.len() == 2 && args[1] == "--no-verify" => {
            guards::package(Verify::No)
        }
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("fuzz-seeds") if args.len() == 1 => fuzz::seeds(),
        Some("hops") if args.len() == 2 => hops::run(Path::new(&args[1])),
        Some("soak") => soak::run_soak(&args[1..]),
        Some("bench-net") => bench_net::run_bench_net(&args[1..]),
        Some(other) => Err(Error::Usage(format!(
            "unknown command or arguments: {other:?}"
        ))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err}");
            match err {
                Error::Usage(_) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// The workspace root: commands run from here whatever the caller's directory.
///
/// `cargo run` sets `CARGO_MANIFEST_DIR` at run time too; that value is preferred over the
/// compile-time one so a binary reused from a shared target dir never points at an old checkout.
fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir.parent().map(Path::to_path_buf).ok_or_else(|| {
        Error::Setup(format!(
            "xtask manifest dir {} has no parent",
            manifest_dir.display()
        ))
    })
}

/// The cargo binary to run: `$CARGO` (set by cargo for `cargo xtask`), else `cargo` on `PATH`.
fn cargo_bin() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// A `cargo <args>` command run from the workspace root.
fn cargo(args: &[&str]) -> Result<Command> {
    let mut cmd = Command::new(cargo_bin());
    cmd.args(args).current_dir(workspace_root()?);
    Ok(cmd)
}

/// The command line as the user would type it, for headers and error messages.
fn display(cmd: &Command) -> String {
    let mut line: String = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={:?} ", k.to_string_lossy(), v?)))
        .collect();
    let program = Path::new(cmd.get_program());
    // Show `cargo`, not the toolchain path `$CARGO` points at.
    let program = program.file_name().unwrap_or(program.as_os_str());
    line.push_str(&program.to_string_lossy());
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `cmd` with inherited stdio and fails unless it exits successfully.
/// Runs `cmd`, echoing its stderr only if it fails, and returns its stdout.
fn output(cmd: &mut Command) -> Result<String> {
    let line = display(cmd);
    let out = cmd.output().map_err(|source| Error::Spawn {
        cmd: line.clone(),
        source,
    })?;
    if !out.status.success() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        return Err(Error::Failed {
            cmd: line,
            status: out.status,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run(cmd: &mut Command) -> Result {
    let line = display(cmd);
    let status = cmd.status().map_err(|source| Error::Spawn {
        cmd: line.clone(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed { cmd: line, status })
    }
}

/// Whether `cmd` runs and exits successfully, with all output discarded.
fn probe(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// One CI step: a name for the summary and what it runs.
struct Step {
    name: &'static str,
    action: Action,
}

enum Action {
    /// `cargo <args>` with extra environment variables.
    Cargo {
        args: &'static [&'static str],
        envs: &'static [(&'static str, &'static str)],
    },
    /// An xtask function that prints its own progress.
    Task(fn() -> Result),
}

impl Step {
    const fn cargo(name: &'static str, args: &'static [&'static str]) -> Self {
        Self {
            name,
            action: Action::Cargo { args, envs: &[] },
        }
    }

    const fn task(name: &'static str, task: fn() -> Result) -> Self {
        Self {
            name,
            action: Action::Task(task),
        }
    }

    fn run(&self) -> Result {
        match &self.action {
            Action::Cargo { args, envs } => {
                let mut cmd = cargo(args)?;
                cmd.envs(envs.iter().copied());
                println!("\n==> [{}] {}", self.name, display(&cmd));
                run(&mut cmd)
            }
            Action::Task(task) => {
                println!("\n==> [{}] cargo xtask {}", self.name, self.name);
                task()
            }
        }
    }
}

/// What happened to a step, for the summary table.
enum Outcome {
    Ok(Duration),
    Failed(Duration),
    Skipped,
}

fn ci() -> Result {
    let has_nextest = cargo(&["nextest", "--version"]).is_ok_and(|mut cmd| probe(&mut cmd));

    let mut steps = vec![
        Step::task("setup", setup::ensure_system_packages),
        Step::cargo("fmt", &["fmt", "--all", "--check"]),
        // The guards are cheap (no build, or check builds that clippy reuses) and say more
        // precisely what is wrong than a later failure would, so they go first.
        Step::task("deps", guards::deps),
        Step::task("deny", guards::deny),
        // With verification: building every packaged crate from its `.crate` file costs ~25 s
        // warm and 1-2 min on top of a cold run, since it shares RocksDB and most dependencies
        // with clippy and the tests (see `guards::profile_settings`).
        Step::task("package", || guards::package(Verify::Yes)),
        Step::task("features", guards::features),
        Step::cargo(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
        ),
    ];
    if has_nextest {
        steps.push(Step::cargo(
            "test (nextest)",
            &[
                "nextest",
                "run",
                "--workspace",
                "--all-features",
                "--locked",
            ],
        ));
        // nextest does not run doctests.
        steps.push(Step::cargo(
            "doctest",
            &["test", "--workspace", "--all-features", "--doc", "--locked"],
        ));
    } else {
        println!(
            "xtask: cargo-nextest not found, falling back to `cargo test` (includes doctests)"
        );
        steps.push(Step::cargo(
            "test",
            &["test", "--workspace", "--all-features", "--locked"],
        ));
    }
    steps.push(Step {
        name: "doc",
        action: Action::Cargo {
            args: &[
                "doc",
                "--workspace",
                "--no-deps",
                "--all-features",
                "--locked",
            ],
            envs: &[("RUSTDOCFLAGS", "-D warnings")],
        },
    });
    // Last: the longest step, and only worth running once everything above is green.
    steps.push(Step::task("fuzz", ci_fuzz));

    let total = Instant::now();
    let mut outcomes = Vec::with_capacity(steps.len());
    let mut failure = None;
    for step in &steps {
        if failure.is_some() {
            outcomes.push(Outcome::Skipped);
            continue;
        }
        let start = Instant::now();
        let result = step.run();
        let elapsed = start.elapsed();
        match result {
            Ok(()) => {
                println!("==> [{}] ok in {:.1}s", step.name, elapsed.as_secs_f64());
                outcomes.push(Outcome::Ok(elapsed));
            }
            Err(err) => {
                println!(
                    "==> [{}] FAILED in {:.1}s",
                    step.name,
                    elapsed.as_secs_f64()
                );
                outcomes.push(Outcome::Failed(elapsed));
                failure = Some(err);
            }
        }
    }

    println!("\n{:<16} {:<8} {:>9}", "step", "status", "seconds");
    for (step, outcome) in steps.iter().zip(&outcomes) {
        let (status, secs) = match outcome {
            Outcome::Ok(d) => ("ok", format!("{:.1}", d.as_secs_f64())),
            Outcome::Failed(d) => ("FAILED", format!("{:.1}", d.as_secs_f64())),
            Outcome::Skipped => ("skipped", "-".to_owned()),
        };
        println!("{:<16} {status:<8} {secs:>9}", step.name);
    }
    println!(
        "{:<16} {:<8} {:>9.1}",
        "total",
        "",
        total.elapsed().as_secs_f64()
    );

    failure.map_or(Ok(()), Err)
}

/// Seconds each fuzz target runs in CI. Cold, the step costs the nightly toolchain and
/// cargo-fuzz installs (~1-2 min), the sanitizer build of the targets (7.3 min measured on the
/// shared 2-core machine) and 8 targets x (this + ~3 s start-up); warm, ~3.5 min. The campaign
/// behind the README's table is separate (`cargo xtask fuzz --runs 10000000`).
const CI_FUZZ_SECONDS: u64 = 20;

/// The CI fuzz step: every target for [`CI_FUZZ_SECONDS`].
fn ci_fuzz() -> Result {
    fuzz::fuzz(&["--seconds".to_owned(), CI_FUZZ_SECONDS.to_string()])
}

/// The local devnet: system setup, then the node binary's `devnet` command in release mode.
fn devnet(args: &[String]) -> Result {
    setup::ensure_system_packages()?;
    let mut cmd = cargo(&["run", "--release", "-p", "op-p2p-node", "--", "devnet"])?;
    cmd.args(args);
    println!("==> {}", display(&cmd));
    run(&mut cmd)
}

fn bench(args: &[String]) -> Result {
    let (crates, passthrough) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    if let Some(flag) = crates.iter().find(|c| c.starts_with('-')) {
        return Err(Error::Usage(format!(
            "unexpected option {flag:?} (criterion options go after `--`)"
        )));
    }
    // `--bench '*'` selects only `[[bench]]` targets: the libtest harnesses of lib and bin
    // targets would reject criterion's options (e.g. `--save-baseline`).
    let selections: Vec<Vec<String>> = if crates.is_empty() {
        vec![vec!["--workspace".to_owned()]]
    } else {
        crates
            .iter()
            .map(|c| {
                let package = if c.starts_with("op-p2p-") {
                    c.clone()
                } else {
                    format!("op-p2p-{c}")
                };
                vec!["-p".to_owned(), package]
            })
            .collect()
    };
    // The benches build RocksDB (peerstore) and secp256k1's C.
    setup::ensure_system_packages()?;
    for selection in selections {
        let mut cmd = cargo(&["bench"])?;
        cmd.args(selection).args(["--bench", "*"]);
        if !passthrough.is_empty() {
            cmd.arg("--").args(passthrough);
        }
        println!("==> {}", display(&cmd));
        run(&mut cmd)?;
    }
    Ok(())
}
