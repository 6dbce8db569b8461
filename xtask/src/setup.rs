//! The system packages a build needs beyond rustup's toolchain, found on the machine or
//! installed with apt.
//!
//! - A C compiler (`cc`, or `$CC`) and the C library's headers and start files: rustc links
//!   through `cc`, and the `cc` crate builds secp256k1's C and RocksDB's C++.
//! - A C++ compiler (`c++`, or `$CXX`): RocksDB.
//! - libclang with clang's own headers (`stddef.h` …), and `clang`: librocksdb-sys runs bindgen,
//!   which loads libclang through clang-sys and asks `clang` for the system include paths.
//!
//! A Debian machine with only rustup lacks all of them; the project's CI image has gcc and g++
//! and lacks libclang-dev and clang.

use std::{
    env, fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::{Error, Result, display, probe, run};

/// Set to any value to get the install command printed instead of run.
const NO_INSTALL_VAR: &str = "XTASK_NO_INSTALL";

/// One thing the build needs: where it was found, or the Debian packages that provide it.
struct Requirement {
    what: &'static str,
    found: Option<String>,
    debian: &'static [&'static str],
}

/// Checks for the system packages the build needs and installs the missing ones with apt
/// (as root, or through `sudo -n`); otherwise fails naming the exact command to run.
pub(crate) fn ensure_system_packages() -> Result {
    println!("==> [setup] checking for the system packages the build needs");
    let requirements = detect();
    for req in &requirements {
        match &req.found {
            Some(place) => println!("    {:<28} ok: {place}", req.what),
            None => println!(
                "    {:<28} MISSING (Debian: {})",
                req.what,
                req.debian.join(" ")
            ),
        }
    }
    let missing = missing_packages(&requirements);
    if missing.is_empty() {
        println!("==> [setup] nothing to install");
        return Ok(());
    }

    install(&missing)?;

    let still: Vec<&str> = detect()
        .into_iter()
        .filter(|r| r.found.is_none())
        .map(|r| r.what)
        .collect();
    if still.is_empty() {
        println!("==> [setup] installed {}", missing.join(" "));
        Ok(())
    } else {
        Err(Error::Setup(format!(
            "still missing after installing {}: {}",
            missing.join(" "),
            still.join(", ")
        )))
    }
}

/// The Debian packages to install for what is missing, each once, in a stable order.
fn missing_packages(requirements: &[Requirement]) -> Vec<&'static str> {
    let mut packages: Vec<&'static str> = Vec::new();
    for req in requirements.iter().filter(|r| r.found.is_none()) {
        for pkg in req.debian {
            if !packages.contains(pkg) {
                packages.push(pkg);
            }
        }
    }
    packages
}

fn detect() -> Vec<Requirement> {
    vec![
        Requirement {
            what: "C compiler (cc)",
            found: compiler("CC", "cc"),
            debian: &["gcc"],
        },
        Requirement {
            what: "C library headers",
            found: existing(&["/usr/include/stdio.h"]),
            debian: &["libc6-dev"],
        },
        Requirement {
            what: "C++ compiler (c++)",
            found: compiler("CXX", "c++"),
            debian: &["g++"],
        },
        Requirement {
            what: "libclang",
            found: libclang(),
            debian: &["libclang-dev"],
        },
        Requirement {
            what: "clang headers (stddef.h)",
            found: clang_headers(),
            debian: &["libclang-dev"],
        },
        Requirement {
            what: "clang",
            found: clang(),
            debian: &["clang"],
        },
    ]
}

/// `$var` if set (a name on `PATH` or a path), else `default` on `PATH`.
fn compiler(var: &str, default: &str) -> Option<String> {
    let configured = env::var(var).ok().filter(|v| !v.trim().is_empty());
    // `CC="ccache gcc"` style values: the first word is the program.
    let program = configured
        .as_deref()
        .map_or(default, |v| v.split_whitespace().next().unwrap_or(default));
    let found = if program.contains('/') {
        is_executable(Path::new(program)).then(|| PathBuf::from(program))
    } else {
        on_path(program)
    };
    found.map(|p| match &configured {
        Some(_) => format!("{} (from ${var})", p.display()),
        None => p.display().to_string(),
    })
}

fn existing(paths: &[&str]) -> Option<String> {
    paths
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| (*p).to_owned())
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

/// A file name clang-sys would load: `libclang.so*` or `libclang-<version>.so*`, not
/// `libclang-cpp` (the C++ API, in Debian's base image) nor `libclang_rt` (sanitizer runtimes).
fn is_libclang(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("libclang") else {
        return false;
    };
    let versioned = rest
        .strip_prefix('-')
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
    (rest.starts_with(".so") || versioned) && rest.contains(".so")
}

/// Directories clang-sys searches (besides `LIBCLANG_PATH`), as globs.
const LIBCLANG_DIRS: &[&str] = &[
    "/usr/lib/llvm-*/lib",
    "/usr/lib/*-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
    "/usr/local/llvm*/lib",
];

fn libclang() -> Option<String> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = env::var_os("LIBCLANG_PATH") {
        dirs.push(PathBuf::from(dir));
    }
    dirs.extend(LIBCLANG_DIRS.iter().flat_map(|d| glob(d)));
    for dir in &dirs {
        if dir.is_file()
            && dir
                .file_name()
                .is_some_and(|n| is_libclang(&n.to_string_lossy()))
        {
            return Some(dir.display().to_string());
        }
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| is_libclang(&n.to_string_lossy()))
            })
            .collect();
        names.sort();
        if let Some(first) = names.first() {
            return Some(first.display().to_string());
        }
    }
    // Last resort: the dynamic linker's cache (libclang installed somewhere unusual).
    ldconfig_libclang()
}

fn ldconfig_libclang() -> Option<String> {
    for program in ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"] {
        let Ok(output) = Command::new(program)
            .arg("-p")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
        else {
            continue;
        };
        // Lines look like `\tlibclang-14.so.1 (libc6,x86-64) => /usr/lib/.../libclang-14.so.1`.
        return String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| is_libclang(l.trim_start()))
            .find_map(|l| l.split(" => ").nth(1).map(|p| p.trim().to_owned()));
    }
    None
}

/// clang's builtin headers, which libclang needs to parse any C header.
fn clang_headers() -> Option<String> {
    let mut patterns = vec![
        "/usr/lib/llvm-*/lib/clang/*/include/stddef.h".to_owned(),
        "/usr/lib/clang/*/include/stddef.h".to_owned(),
        "/usr/lib64/clang/*/include/stddef.h".to_owned(),
        "/usr/local/lib/clang/*/include/stddef.h".to_owned(),
    ];
    if let Some(dir) = env::var_os("LIBCLANG_PATH") {
        patterns.push(format!(
            "{}/clang/*/include/stddef.h",
            Path::new(&dir).display()
        ));
    }
    patterns
        .iter()
        .flat_map(|p| glob(p))
        .next()
        .map(|p| p.display().to_string())
}

/// `$CLANG_PATH`, `clang` or a versioned `clang-<N>` on `PATH`.
fn clang() -> Option<String> {
    if let Some(path) = env::var_os("CLANG_PATH") {
        let path = PathBuf::from(path);
        if is_executable(&path) {
            return Some(format!("{} (from $CLANG_PATH)", path.display()));
        }
    }
    if let Some(path) = on_path("clang") {
        return Some(path.display().to_string());
    }
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .filter_map(|dir| fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .strip_prefix("clang-")
                    .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
            }) && is_executable(p)
        })
        .map(|p| p.display().to_string())
}

/// Expands `*` inside path segments (each `*` matches any run of characters in one name).
fn glob(pattern: &str) -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from("/")];
    for segment in pattern.split('/').filter(|s| !s.is_empty()) {
        let mut next = Vec::new();
        for base in &paths {
            if segment.contains('*') {
                let Ok(entries) = fs::read_dir(base) else {
                    continue;
                };
                let mut matched: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok())
                    .filter(|e| wildcard_match(segment, &e.file_name().to_string_lossy()))
                    .map(|e| e.path())
                    .collect();
                // Newest version first (`llvm-19` before `llvm-14`), by reverse name order.
                matched.sort();
                matched.reverse();
                next.extend(matched);
            } else {
                let candidate = base.join(segment);
                if candidate.exists() {
                    next.push(candidate);
                }
            }
        }
        paths = next;
    }
    paths
}

fn wildcard_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

fn is_root() -> bool {
    // `Uid:\treal\teffective\t…` in /proc/self/status; `id -u` where there is no /proc.
    let uid = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|l| {
                l.strip_prefix("Uid:")
                    .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_owned))
            })
        })
        .or_else(|| {
            Command::new("id")
                .arg("-u")
                .stdin(Stdio::null())
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        });
    uid.as_deref() == Some("0")
}

fn install(packages: &[&str]) -> Result {
    let list = packages.join(" ");
    if on_path("apt-get").is_none() {
        return Err(Error::Setup(format!(
            "missing system packages and no apt-get on this machine: install a C and C++ \
             compiler, libclang with clang's headers, and clang with the system's package \
             manager (on Debian/Ubuntu: `apt-get install {list}`); LIBCLANG_PATH may point at \
             a libclang elsewhere"
        )));
    }
    let root = is_root();
    let manual = if root {
        format!("apt-get update && apt-get install -y --no-install-recommends {list}")
    } else {
        format!("sudo apt-get update && sudo apt-get install -y --no-install-recommends {list}")
    };
    if env::var_os(NO_INSTALL_VAR).is_some() {
        return Err(Error::Setup(format!(
            "missing system packages ({NO_INSTALL_VAR} is set, so not installing them); run:\n    \
             {manual}"
        )));
    }
    let sudo = !root;
    if sudo && !probe(Command::new("sudo").args(["-n", "true"])) {
        return Err(Error::Setup(format!(
            "missing system packages, and this user is not root and cannot use `sudo` without a \
             password; run:\n    {manual}"
        )));
    }
    let apt = |args: &[&str]| {
        let mut cmd = if sudo {
            let mut cmd = Command::new("sudo");
            cmd.args(["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
            cmd
        } else {
            let mut cmd = Command::new("apt-get");
            cmd.env("DEBIAN_FRONTEND", "noninteractive");
            cmd
        };
        cmd.args(args).stdin(Stdio::null());
        cmd
    };
    println!("==> [setup] installing {list}");
    let mut update = apt(&["update", "-q"]);
    println!("==> {}", display(&update));
    run(&mut update)?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(packages);
    println!("==> {}", display(&install));
    run(&mut install)
}

#[cfg(test)]
mod tests {
    use super::{Requirement, is_libclang, missing_packages, wildcard_match};

    #[test]
    fn libclang_names() {
        for yes in [
            "libclang.so",
            "libclang.so.1",
            "libclang-14.so.1",
            "libclang-14.so.14.0.6",
            "libclang-19.so",
        ] {
            assert!(is_libclang(yes), "{yes}");
        }
        for no in [
            "libclang-cpp.so.14",
            "libclang-cpp14.so",
            "libclang_rt.asan-x86_64.so",
            "libclang.a",
            "libclangBasic.a",
            "libclang-14.a",
        ] {
            assert!(!is_libclang(no), "{no}");
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("llvm-*", "llvm-14"));
        assert!(wildcard_match("*-linux-gnu", "x86_64-linux-gnu"));
        assert!(wildcard_match("*", "14.0.6"));
        assert!(wildcard_match("llvm*", "llvm"));
        assert!(!wildcard_match("llvm-*", "lib"));
        assert!(!wildcard_match("*-linux-gnu", "x86_64-linux-musl"));
        assert!(wildcard_match("a*b*c", "aXbYc"));
        assert!(!wildcard_match("a*b*c", "aXcYb"));
    }

    #[test]
    fn packages_for_what_is_missing_each_once() {
        let req = |what, found: bool, debian| Requirement {
            what,
            found: found.then(String::new),
            debian,
        };
        let reqs = [
            req("cc", true, &["gcc"][..]),
            req("libclang", false, &["libclang-dev"][..]),
            req("headers", false, &["libclang-dev"][..]),
            req("clang", false, &["clang"][..]),
        ];
        assert_eq!(missing_packages(&reqs), ["libclang-dev", "clang"]);
    }
}
