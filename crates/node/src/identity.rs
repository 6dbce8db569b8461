//! The node's identity: a secp256k1 key in op-node's formats (spec §9), from `p2p.priv.raw` or
//! the key file at `p2p.priv.path`, which is generated on first start.
//!
//! op-node's file is the 32-byte secret as lowercase hex with no `0x` and no newline, mode
//! 0600; when reading it trims whitespace and accepts a `0x` prefix. The same key file works
//! for both nodes.
//!
//! This file is also compiled on its own into the `node_key` fuzz target (`fuzz/`, with
//! `#[path]`, so fuzzing needs neither this binary crate nor RocksDB): outside its tests it
//! uses only external crates, never `crate::` paths.

use std::{
    fs,
    io::{self, Write as _},
    path::{Path, PathBuf},
};

use alloy_primitives::hex;
use libp2p_identity::{Keypair, secp256k1};

/// op-node's `p2p.priv.path` default.
pub(crate) const DEFAULT_PRIV_PATH: &str = "opnode_p2p_priv.txt";

/// Why the node key could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IdentityError {
    /// The text is not 32 bytes of hex.
    #[error("not a hex secp256k1 secret key: {0}")]
    Hex(String),
    /// 32 bytes, but not a valid secp256k1 secret (zero, or not below the curve order).
    #[error("not a valid secp256k1 secret key")]
    InvalidKey,
    /// The key file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The key file is missing and cannot be created.
    #[error("cannot create {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The key file does not hold a key.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents.
        reason: Box<Self>,
    },
}

/// Where the key comes from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `p2p.priv.raw`.
    Raw(String),
    /// `p2p.priv.path`.
    File(PathBuf),
}

impl std::fmt::Debug for KeySource {
    // The raw key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Raw(_) => f.write_str("Raw(<redacted>)"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// Whether the key was read or made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyOrigin {
    /// From `p2p.priv.raw` or an existing file.
    Loaded,
    /// Generated and written to the key file.
    Generated,
}

/// Parses op-node's key text: hex, `0x` optional, surrounding whitespace ignored.
pub(crate) fn parse_key(text: &str) -> Result<Keypair, IdentityError> {
    let text = text.trim();
    let hex_text = text.strip_prefix("0x").unwrap_or(text);
    let mut bytes: [u8; 32] = hex::decode(hex_text)
        .map_err(|e| IdentityError::Hex(e.to_string()))?
        .try_into()
        .map_err(|b: Vec<u8>| IdentityError::Hex(format!("{} bytes, expected 32", b.len())))?;
    let secret =
        secp256k1::SecretKey::try_from_bytes(&mut bytes).map_err(|_| IdentityError::InvalidKey)?;
    Ok(secp256k1::Keypair::from(secret).into())
}

/// The key text op-node writes: lowercase hex of the 32 secret bytes.
pub(crate) fn encode_key(keypair: &secp256k1::Keypair) -> String {
    hex::encode(keypair.secret().to_bytes())
}

/// Loads the node key from `source`, generating the key file if it does not exist.
pub(crate) fn load_or_generate(source: &KeySource) -> Result<(Keypair, KeyOrigin), IdentityError> {
    match source {
        KeySource::Raw(text) => Ok((parse_key(text)?, KeyOrigin::Loaded)),
        KeySource::File(path) => match fs::read_to_string(path) {
            Ok(text) => parse_key(&text)
                .map(|key| (key, KeyOrigin::Loaded))
                .map_err(|reason| IdentityError::File {
                    path: path.clone(),
                    reason: Box::new(reason),
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let keypair = secp256k1::Keypair::generate();
                write_key_file(path, &encode_key(&keypair)).map_err(|source| {
                    IdentityError::Write {
                        path: path.clone(),
                        source,
                    }
                })?;
                Ok((keypair.into(), KeyOrigin::Generated))
            }
            Err(source) => Err(IdentityError::Read {
                path: path.clone(),
                source,
            }),
        },
    }
}

/// Writes a new key file readable by its owner only. Never overwrites: if the file appeared
/// meanwhile, creation fails rather than replacing someone's key.
pub(crate) fn write_key_file(path: &Path, text: &str) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";

    #[test]
    fn op_node_text_forms() {
        let plain = parse_key(KEY).unwrap();
        let prefixed = parse_key(&format!("0x{KEY}\n")).unwrap();
        let spaced = parse_key(&format!("  {KEY}\r\n")).unwrap();
        assert_eq!(plain.public(), prefixed.public());
        assert_eq!(plain.public(), spaced.public());
        assert!(matches!(parse_key("zz"), Err(IdentityError::Hex(_))));
        assert!(matches!(parse_key("0x0101"), Err(IdentityError::Hex(_))));
        assert!(matches!(
            parse_key(&"00".repeat(32)),
            Err(IdentityError::InvalidKey)
        ));
    }

    #[test]
    fn generates_once_with_mode_0600_then_loads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/key.txt");
        let source = KeySource::File(path.clone());
        let (first, origin) = load_or_generate(&source).unwrap();
        assert_eq!(origin, KeyOrigin::Generated);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 64, "hex only, no 0x, no newline: {text:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, origin) = load_or_generate(&source).unwrap();
        assert_eq!(origin, KeyOrigin::Loaded);
        assert_eq!(first.public(), second.public());
    }

    #[test]
    fn a_raw_key_is_never_printed() {
        let shown = format!("{:?}", KeySource::Raw(KEY.into()));
        assert!(!shown.contains("0101"), "{shown}");
    }

    #[test]
    fn a_bad_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.txt");
        fs::write(&path, "not hex\n").unwrap();
        let err = load_or_generate(&KeySource::File(path)).unwrap_err();
        assert!(err.to_string().contains("key.txt"), "{err}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

        /// Key text: arbitrary strings and any 32 bytes in op-node's forms are a key or a typed
        /// error, never a panic; an accepted key is written as 64 lowercase hex digits that
        /// parse to the same key.
        #[test]
        fn key_text_never_panics_and_round_trips(
            text in ".{0,80}",
            bytes in proptest::prelude::any::<[u8; 32]>(),
            prefix in proptest::prop_oneof![proptest::strategy::Just(""), proptest::strategy::Just("0x"), proptest::strategy::Just(" 0x")],
            suffix in "[ \r\n\t]{0,3}",
        ) {
            let _ = parse_key(&text);
            let hex_text = format!("{prefix}{}{suffix}", hex::encode(bytes));
            match parse_key(&hex_text) {
                Ok(key) => {
                    let secp = key.clone().try_into_secp256k1().unwrap();
                    let written = encode_key(&secp);
                    proptest::prop_assert_eq!(written.len(), 64);
                    proptest::prop_assert_eq!(&written, &hex::encode(bytes));
                    proptest::prop_assert_eq!(parse_key(&written).unwrap().public(), key.public());
                }
                // Only zero and values at or above the curve order are refused.
                Err(e) => proptest::prop_assert!(matches!(e, IdentityError::InvalidKey), "{e}"),
            }
        }
    }
}
