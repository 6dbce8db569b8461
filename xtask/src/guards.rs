//! Checks that keep the crates usable one at a time: `deps` (what the lower crates may pull
//! in), `deny` (bans, licenses and sources of the whole graph), `features` (every library crate
//! builds alone with each of its features) and `package` (every crate packages as it would be
//! published).

use std::{
    env, fs,
    path::{Component, Path, PathBuf},
    time::Instant,
};

use crate::{
    Error, Result, cargo, display,
    metadata::{Package, workspace_packages},
    output, run,
};

/// Crates that must build without RocksDB, libclang or the libp2p facade, so that another node
/// can take them without a C++ build and with only the libp2p crates it already uses.
const GUARDED: &[&str] = &[
    "op-p2p-types",
    "op-p2p-api",
    "op-p2p-gossip",
    "op-p2p-gating",
    "op-p2p-reqresp-sync",
    "op-p2p-discovery",
];

/// What the guarded crates must not depend on: RocksDB and its C++ build (`bindgen` and
/// `clang-sys` need libclang), and the `libp2p` facade crate.
const FORBIDDEN: &[&str] = &[
    "rocksdb",
    "librocksdb-sys",
    "bindgen",
    "clang-sys",
    "libp2p",
];

/// Fails if a guarded crate's dependency tree (normal dependencies and their build
/// dependencies, default features, no dev-dependencies) contains a forbidden crate.
///
/// Build edges are followed because `bindgen` and `clang-sys` are build dependencies (of
/// `librocksdb-sys`): following only normal edges would never see them.
pub(crate) fn deps() -> Result {
    println!(
        "checking that {} depend on none of {} (cargo tree -e normal,build, default features)",
        GUARDED.join(", "),
        FORBIDDEN.join(", ")
    );
    let names: Vec<String> = workspace_packages()?.into_iter().map(|p| p.name).collect();
    let mut offenders = Vec::new();
    for &guarded in GUARDED {
        if !names.iter().any(|n| n == guarded) {
            println!("    {guarded:<22} skipped: no such package in this workspace (yet)");
            continue;
        }
        let mut cmd = cargo(&[
            "tree",
            "--locked",
            "-p",
            guarded,
            "-e",
            "normal,build",
            "--prefix",
            "depth",
            "--format",
            "{p}",
        ])?;
        let tree = output(&mut cmd)?;
        let paths = forbidden_paths(&tree);
        if paths.is_empty() {
            println!("    {guarded:<22} ok");
        } else {
            println!("    {guarded:<22} FORBIDDEN DEPENDENCIES:");
            for path in &paths {
                println!("        {path}");
            }
            offenders.push(guarded);
        }
    }
    if offenders.is_empty() {
        Ok(())
    } else {
        Err(Error::Check(format!(
            "{} must not depend on {} (the paths above show how they get there)",
            offenders.join(", "),
            FORBIDDEN.join(", ")
        )))
    }
}

/// The first path from the root to each forbidden crate in `cargo tree --prefix depth` output
/// (lines like `3librocksdb-sys v0.19.0`), as `a -> b -> c`.
fn forbidden_paths(tree: &str) -> Vec<String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut paths = Vec::new();
    for line in tree.lines() {
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(depth) = line[..digits].parse::<usize>() else {
            continue;
        };
        let Some(name) = line[digits..].split_whitespace().next() else {
            continue;
        };
        stack.truncate(depth);
        stack.push(name);
        if FORBIDDEN.contains(&name) && !seen.contains(&name) {
            seen.push(name);
            paths.push(stack.join(" -> "));
        }
    }
    paths
}

/// The cargo-deny release CI installs (`cargo install --locked`, from crates.io): pinned so a
/// new release cannot change what CI checks. Installing it took 3 min 33 s on the 2-core machine
/// (141 crates); a machine that has it skips that.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// `cargo deny check bans licenses sources` with `deny.toml`, installing cargo-deny first if
/// this version is missing. Not `advisories`: the RustSec database is fetched from GitHub,
/// which CI cannot reach.
pub(crate) fn deny() -> Result {
    let installed = cargo(&["deny", "--version"])
        .ok()
        .and_then(|mut cmd| cmd.stderr(std::process::Stdio::null()).output().ok())
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let wanted = format!("cargo-deny {CARGO_DENY_VERSION}");
    if installed.as_deref() == Some(wanted.as_str()) {
        println!("{wanted} is installed");
    } else {
        println!(
            "{} found; installing {wanted} from crates.io (about 3.5 min on 2 cores)",
            installed.as_deref().unwrap_or("no cargo-deny")
        );
        let mut install = cargo(&[
            "install",
            "--locked",
            &format!("cargo-deny@{CARGO_DENY_VERSION}"),
        ])?;
        println!("--> {}", display(&install));
        run(&mut install)?;
    }
    let mut check = cargo(&[
        "deny",
        "--locked",
        "check",
        "--hide-inclusion-graph",
        "bans",
        "licenses",
        "sources",
    ])?;
    println!("--> {}", display(&check));
    run(&mut check)
}

/// The feature sets `cargo hack check --each-feature` would check for `pkg`: default features,
/// no features, each feature alone, and all features when there are two or more.
fn feature_sets(pkg: &Package) -> Vec<Vec<String>> {
    let owned = |args: &[&str]| args.iter().map(|&a| a.to_owned()).collect::<Vec<_>>();
    let mut sets = vec![Vec::new()];
    if !pkg.default_features.is_empty() {
        sets.push(owned(&["--no-default-features"]));
    }
    for feature in &pkg.features {
        sets.push(owned(&["--no-default-features", "--features", feature]));
    }
    if pkg.features.len() >= 2 {
        sets.push(owned(&["--all-features"]));
    }
    sets
}

/// `cargo hack check --each-feature --no-dev-deps` over the library crates, without installing
/// cargo-hack.
///
/// Why not cargo-hack itself: it runs the same per-package `cargo check`s (no cheaper), and a
/// fresh CI machine would first spend a minute compiling it (`cargo install --locked
/// cargo-hack`: 58 s, 33 crates, on the 2-core machine); xtask already reads `cargo metadata`,
/// so the loop is a few lines. Measured: 91 s right after a cold clippy, 2.7 s warm. Each check is
/// `cargo rustc --profile check -p <crate> --lib … -- -D warnings`: `--lib` leaves dev-
/// dependencies out of the build and out of feature resolution (resolver 2), like
/// `--no-dev-deps`, and `-D warnings` reaches only the checked crate, so an import left unused by
/// a feature combination fails here while dependencies keep the artifacts clippy and the tests
/// share (a RUSTFLAGS change would rebuild everything, RocksDB's C++ included). Checking one
/// crate at a time also catches a dependency feature that a crate uses but only gets from
/// workspace feature unification.
pub(crate) fn features() -> Result {
    let packages: Vec<Package> = workspace_packages()?
        .into_iter()
        .filter(Package::is_library)
        .collect();
    println!(
        "checking each library crate alone with its feature combinations: {}",
        packages
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut failures = Vec::new();
    for pkg in &packages {
        for set in feature_sets(pkg) {
            let mut cmd = cargo(&[
                "rustc",
                "--profile",
                "check",
                "--locked",
                "-p",
                &pkg.name,
                "--lib",
            ])?;
            cmd.args(&set).args(["--", "-D", "warnings"]);
            let label = if set.is_empty() {
                format!("{} (default features)", pkg.name)
            } else {
                format!("{} {}", pkg.name, set.join(" "))
            };
            println!("--> {}", display(&cmd));
            let start = Instant::now();
            let result = run(&mut cmd);
            println!(
                "--> {label}: {} in {:.1}s",
                if result.is_ok() { "ok" } else { "FAILED" },
                start.elapsed().as_secs_f64()
            );
            if result.is_err() {
                failures.push(label);
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Check(format!(
            "these crate/feature combinations do not build on their own: {}",
            failures.join("; ")
        )))
    }
}

/// The root manifest's `[profile.*]` settings as `--config` values, e.g.
/// `profile.dev.package.librocksdb-sys.debug=false`.
///
/// `cargo package` verifies each crate as a workspace of its own, which does not see the root
/// manifest's profiles; with different profile settings RocksDB's build-script run gets another
/// hash and its C++ is compiled once more (measured: it was). Passed as `--config`, they make the
/// verify builds share RocksDB (and the rest) with clippy and the tests. Handles the one-line
/// `key = value` form the root manifest uses.
fn profile_settings(manifest: &str) -> Vec<String> {
    let mut table: Option<&str> = None;
    let mut settings = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            table = header
                .strip_suffix(']')
                .filter(|t| !t.starts_with('[') && t.starts_with("profile."));
            continue;
        }
        let Some(table) = table else { continue };
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), strip_comment(value).trim());
        if key.is_empty() || key.starts_with('#') || value.is_empty() {
            continue;
        }
        settings.push(format!("{table}.{key}={value}"));
    }
    settings
}

/// `value` without a trailing `# comment` (a `#` inside a string stays).
fn strip_comment(value: &str) -> &str {
    let mut in_string = None;
    for (i, c) in value.char_indices() {
        match (c, in_string) {
            ('"' | '\'', None) => in_string = Some(c),
            (c, Some(quote)) if c == quote => in_string = None,
            ('#', None) => return &value[..i],
            _ => {}
        }
    }
    value
}

/// Makes the verification builds compile what is packaged now. The packaged crates reach the
/// verification through a local registry overlay, and cargo treats registry sources as
/// immutable: an unchanged version (0.1.0 on every run) would reuse the sources extracted and the
/// artifacts built by an earlier run, verifying old code. So the overlay's extracted sources
/// (`$CARGO_HOME/registry/src/-<hash>/<name>-<version>`) and the fingerprints of every build of
/// these crates are removed first; the workspace crates rebuild in a minute (CI's fresh clone
/// rebuilds them anyway), RocksDB and the other registry crates are untouched.
fn forget_packaged_builds(names: &[&str]) -> Result {
    let home = env::var_os("CARGO_HOME").map_or_else(
        || PathBuf::from(env::var_os("HOME").unwrap_or_default()).join(".cargo"),
        PathBuf::from,
    );
    let target = env::var_os("CARGO_TARGET_DIR").map_or_else(
        || crate::workspace_root().map(|root| root.join("target")),
        |dir| Ok(PathBuf::from(dir)),
    )?;
    let overlay_sources = fs::read_dir(home.join("registry/src"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('-'))
        .map(|e| e.path());
    let fingerprints = ["debug", "release"]
        .into_iter()
        .map(|profile| target.join(profile).join(".fingerprint"));
    for dir in overlay_sources.chain(fingerprints) {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if names.iter().any(|n| file.starts_with(&format!("{n}-"))) {
                fs::remove_dir_all(entry.path()).map_err(|e| {
                    Error::Setup(format!("cannot remove {}: {e}", entry.path().display()))
                })?;
            }
        }
    }
    Ok(())
}

/// How much `cargo xtask package` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Metadata, file lists and the `.crate` files (`cargo package --no-verify`): seconds.
    No,
    /// Also build every packaged crate from its `.crate` file, as `cargo publish` does.
    Yes,
}

/// `cargo package` for every publishable crate, in one invocation so that crates which depend
/// on each other resolve through cargo's local registry overlay (cargo lays it only over
/// publishable packages: with `publish = false` the dependents look for their workspace
/// dependencies on crates.io and fail). Before that, per crate: the metadata crates.io shows
/// (description, license, repository, readme) and no packaged source that reads a file outside
/// the crate's directory (tests of a published crate run without the rest of the repository).
pub(crate) fn package(verify: Verify) -> Result {
    let packages: Vec<Package> = workspace_packages()?
        .into_iter()
        .filter(|p| p.name != "xtask")
        .collect();
    println!(
        "checking the crates' package metadata and files, then `cargo package`{}",
        if verify == Verify::Yes {
            " with verification builds"
        } else {
            " --no-verify"
        }
    );
    let mut problems = Vec::new();
    let mut selected = Vec::new();
    for pkg in &packages {
        if !pkg.publishable {
            if pkg.is_library() {
                problems.push(format!(
                    "{}: `publish = false`, so neither it nor the crates that depend on it can be \
                     packaged",
                    pkg.name
                ));
            } else {
                println!("    {:<22} skipped: publish = false", pkg.name);
            }
            continue;
        }
        selected.push(pkg.name.as_str());
        let before = problems.len();
        for (field, value) in [
            ("description", &pkg.description),
            ("license", &pkg.license),
            ("repository", &pkg.repository),
            ("readme", &pkg.readme),
        ] {
            if value.is_none() {
                problems.push(format!("{}: no `{field}` in Cargo.toml", pkg.name));
            }
        }
        if pkg.versioned_self_dev_dep {
            problems.push(format!(
                "{0}: its dev-dependency on itself has a version (from [workspace.dependencies]), \
                 so the packaged crate needs {0} from crates.io; declare it path-only, e.g. \
                 `{0} = {{ path = \".\", features = [...] }}`, and cargo drops it from the package",
                pkg.name
            ));
        }
        let mut cmd = cargo(&["package", "--list", "--allow-dirty", "-p", &pkg.name])?;
        let files = output(&mut cmd)?;
        let files: Vec<&str> = files.lines().collect();
        if let Some(readme) = &pkg.readme
            && !files.contains(&readme.as_str())
        {
            problems.push(format!("{}: readme {readme} is not packaged", pkg.name));
        }
        for file in files.iter().filter(|f| f.ends_with(".rs")) {
            let Ok(source) = fs::read_to_string(pkg.dir.join(file)) else {
                continue;
            };
            for (line, literal) in outside_paths(file, &source) {
                problems.push(format!(
                    "{}: {file}:{line}: \"{literal}\" points outside the crate's directory, \
                     which is all a packaged crate has",
                    pkg.name
                ));
            }
        }
        if problems.len() == before {
            println!("    {:<22} ok: {} files", pkg.name, files.len());
        }
    }
    for problem in &problems {
        println!("    {problem}");
    }

    // Run even after problems above, so one run reports everything.
    let mut cmd = cargo(&["package", "--allow-dirty", "--locked"])?;
    for name in &selected {
        cmd.args(["-p", name]);
    }
    match verify {
        Verify::No => {
            cmd.arg("--no-verify");
        }
        Verify::Yes => {
            forget_packaged_builds(&selected)?;
            let root = crate::workspace_root()?.join("Cargo.toml");
            let manifest = fs::read_to_string(&root)
                .map_err(|e| Error::Setup(format!("cannot read {}: {e}", root.display())))?;
            for setting in profile_settings(&manifest) {
                cmd.args(["--config", &setting]);
            }
        }
    }
    println!("--> {}", display(&cmd));
    let packaged = run(&mut cmd);
    match (problems.len(), packaged) {
        (0, result) => result,
        (n, Ok(())) => Err(Error::Check(format!(
            "{n} packaging problem(s), listed above"
        ))),
        (n, Err(err)) => Err(Error::Check(format!(
            "{n} packaging problem(s), listed above, and {err}"
        ))),
    }
}

/// String literals in `source` (the packaged file `file`, relative to the crate root) that name
/// a path outside the crate: `"../…"` resolved from the file's directory (`include_str!` and
/// friends), and `"/../…"` or `"{}/../…"` near `CARGO_MANIFEST_DIR` resolved from the crate
/// root. A heuristic for the usual ways tests reach test data; returns (line number, literal).
fn outside_paths(file: &str, source: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for literal in line.split('"').skip(1).step_by(2) {
            let (base, rel) = if literal.starts_with("../") {
                (
                    Path::new(file).parent().unwrap_or_else(|| Path::new("")),
                    literal,
                )
            } else if let Some(rel) = literal
                .strip_prefix("{}/")
                .or_else(|| literal.strip_prefix('/'))
                .filter(|rel| rel.starts_with("../"))
            {
                let near = lines[i.saturating_sub(3)..(i + 4).min(lines.len())]
                    .iter()
                    .any(|l| l.contains("CARGO_MANIFEST_DIR"));
                if !near {
                    continue;
                }
                (Path::new(""), rel)
            } else {
                continue;
            };
            if escapes(base, rel) {
                found.push((i + 1, literal.to_owned()));
            }
        }
    }
    found
}

/// Whether `rel`, taken from the crate-relative directory `base`, leaves the crate.
fn escapes(base: &Path, rel: &str) -> bool {
    let mut depth: isize = base
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count()
        .try_into()
        .unwrap_or(isize::MAX);
    for part in rel.split('/') {
        match part {
            ".." => depth -= 1,
            "" | "." => {}
            _ => depth += 1,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{forbidden_paths, outside_paths, profile_settings};

    #[test]
    fn root_profiles_as_config_values() {
        let manifest = r#"
[workspace.package]
version = "0.1.0"

[profile.dev]
# Line tables keep backtraces useful.
debug = "line-tables-only"   # a comment with a "quote"

[profile.dev.build-override]
debug = true

[profile.dev.package.librocksdb-sys]
debug = false

[[bench]]
name = "x"
"#;
        assert_eq!(
            profile_settings(manifest),
            [
                "profile.dev.debug=\"line-tables-only\"",
                "profile.dev.build-override.debug=true",
                "profile.dev.package.librocksdb-sys.debug=false",
            ]
        );
        assert_eq!(
            profile_settings("[profile.x]\nstrip = \"a#b\" # c\n"),
            ["profile.x.strip=\"a#b\""]
        );
    }

    #[test]
    fn first_path_to_each_forbidden_crate() {
        let tree = "\
0op-p2p-gossip v0.1.0 (/w/crates/gossip)
1hashlink v0.12.2
1op-p2p-peerstore v0.1.0 (/w/crates/peerstore)
2rocksdb v0.25.0
3librocksdb-sys v0.19.0+11.8.1
4bindgen v0.72.1
5clang-sys v1.9.1
4clang-sys v1.9.1
1libp2p-core v0.44.0
1other v1.0.0
2rocksdb v0.25.0 (*)
";
        assert_eq!(
            forbidden_paths(tree),
            [
                "op-p2p-gossip -> op-p2p-peerstore -> rocksdb",
                "op-p2p-gossip -> op-p2p-peerstore -> rocksdb -> librocksdb-sys",
                "op-p2p-gossip -> op-p2p-peerstore -> rocksdb -> librocksdb-sys -> bindgen",
                "op-p2p-gossip -> op-p2p-peerstore -> rocksdb -> librocksdb-sys -> bindgen -> \
                 clang-sys",
            ]
        );
        assert!(forbidden_paths("0op-p2p-types v0.1.0\n1libp2p-identity v0.3.0\n").is_empty());
        assert_eq!(forbidden_paths("0a v1\n1libp2p v0.56.0\n"), ["a -> libp2p"]);
    }

    #[test]
    fn paths_outside_the_crate() {
        let include = "let c = include_str!(\"../../testdata/rollup.json\");\n";
        assert!(outside_paths("tests/it/rejects.rs", include).is_empty());
        assert_eq!(
            outside_paths("tests/it.rs", include),
            [(1, "../../testdata/rollup.json".to_owned())]
        );
        let concat = "let p = concat!(\n    env!(\"CARGO_MANIFEST_DIR\"),\n    \
                      \"/../types/testdata/gossip_valid.json\"\n);\n";
        assert_eq!(
            outside_paths("tests/it/vectors.rs", concat),
            [(3, "/../types/testdata/gossip_valid.json".to_owned())]
        );
        let format = "format!(\"{}/../types/testdata/{name}\", env!(\"CARGO_MANIFEST_DIR\"))";
        assert_eq!(outside_paths("tests/it/codec.rs", format).len(), 1);
        let inside = "format!(\"{}/testdata/x\", env!(\"CARGO_MANIFEST_DIR\"))";
        assert!(outside_paths("tests/it/codec.rs", inside).is_empty());
        let no_manifest_dir = "format!(\"{}/../x\", dir.display())";
        assert!(outside_paths("src/lib.rs", no_manifest_dir).is_empty());
        let comment = "// see \"../../../shared/x\"";
        assert!(outside_paths("src/lib.rs", comment).is_empty());
    }
}
