//! The workspace's packages, from `cargo metadata --no-deps`.

use std::path::PathBuf;

use serde_json::Value;

use crate::{Error, Result, cargo};

/// One workspace member, with the manifest fields the checks look at.
#[derive(Debug)]
pub(crate) struct Package {
    pub(crate) name: String,
    /// The directory holding the package's `Cargo.toml`.
    pub(crate) dir: PathBuf,
    /// Feature names other than `default`.
    pub(crate) features: Vec<String>,
    /// What `default` enables (empty when there is no `default` feature).
    pub(crate) default_features: Vec<String>,
    /// Whether the package has a library target.
    pub(crate) is_lib: bool,
    /// False for `publish = false`.
    pub(crate) publishable: bool,
    pub(crate) description: Option<String>,
    pub(crate) license: Option<String>,
    pub(crate) repository: Option<String>,
    /// The readme cargo will package (explicit `readme` or an auto-detected `README.md`).
    pub(crate) readme: Option<String>,
    /// A dev-dependency on the package itself with a version requirement (e.g. to enable a
    /// feature for its own tests): `cargo package` keeps it and then looks for the package on
    /// crates.io. A path-only one (`{ path = "." }`) is dropped from the package instead.
    pub(crate) versioned_self_dev_dep: bool,
}

impl Package {
    /// Library crates: what the feature and packaging checks cover.
    pub(crate) fn is_library(&self) -> bool {
        self.is_lib && self.name != "xtask"
    }
}

/// The workspace members, in `cargo metadata` order.
pub(crate) fn workspace_packages() -> Result<Vec<Package>> {
    let mut cmd = cargo(&["metadata", "--no-deps", "--format-version", "1"])?;
    let line = crate::display(&cmd);
    let text = crate::output(&mut cmd)?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| Error::Setup(format!("`{line}`: {e}")))?;
    let packages = json
        .get("packages")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Setup(format!("`{line}` printed no `packages`")))?;
    packages.iter().map(package).collect()
}

fn package(json: &Value) -> Result<Package> {
    let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
    let name = text("name").ok_or_else(|| Error::Setup("package without a name".to_owned()))?;
    let manifest = text("manifest_path")
        .ok_or_else(|| Error::Setup(format!("package {name} has no manifest_path")))?;
    let dir = PathBuf::from(manifest)
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let mut features = Vec::new();
    let mut default_features = Vec::new();
    for (feature, enables) in json
        .get("features")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if feature == "default" {
            default_features = strings(enables);
        } else {
            features.push(feature.clone());
        }
    }
    let is_lib = json
        .get("targets")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .any(|t| {
            t.get("kind").map(strings).is_some_and(|kinds| {
                kinds
                    .iter()
                    .any(|k| matches!(k.as_str(), "lib" | "rlib" | "dylib" | "proc-macro"))
            })
        });
    // `publish = false` is `[]`; unset or `true` is `null`; a registry list is non-empty.
    let publishable = json
        .get("publish")
        .and_then(Value::as_array)
        .is_none_or(|registries| !registries.is_empty());
    let versioned_self_dev_dep = json
        .get("dependencies")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .any(|dep| {
            let field = |key| dep.get(key).and_then(Value::as_str);
            field("name") == Some(name.as_str())
                && field("kind") == Some("dev")
                && field("req").is_some_and(|req| req != "*")
        });
    Ok(Package {
        versioned_self_dev_dep,
        description: text("description"),
        license: text("license").or_else(|| text("license_file")),
        repository: text("repository"),
        readme: text("readme"),
        name,
        dir,
        features,
        default_features,
        is_lib,
        publishable,
    })
}

/// The strings of an array of strings (other items are skipped); empty for a non-array.
fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}
