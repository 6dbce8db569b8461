//! Bootnodes (`p2p.bootnodes`): ENR text (`enr:…`) or enode URLs
//! (`enode://<pubkey>@<host>:<tcp>?discport=<udp>`), comma separated, as op-node takes them.
//!
//! An ENR goes straight into the discv5 table. An enode URL carries no signed record, so the
//! service resolves its host name (off the swarm task, with tokio's resolver) and asks the node
//! for its ENR over discv5 (`request_enr`, reth's way), then adds what it answers.

use std::{fmt, str::FromStr};

use discv5::Enr;
use libp2p_identity::PeerId;

use crate::error::Error;

/// One bootnode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootnode {
    /// A signed node record.
    Enr(Enr),
    /// An enode URL: a key and an address, no record.
    Enode(Enode),
}

/// An enode URL's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enode {
    /// The peer id of its secp256k1 key.
    pub peer_id: PeerId,
    /// The host: an IP address or a DNS name.
    pub host: String,
    /// The TCP port.
    pub tcp: u16,
    /// The discovery (UDP) port: `discport`, else the TCP port.
    pub udp: u16,
}

impl fmt::Display for Bootnode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Enr(enr) => write!(f, "{}", enr.to_base64()),
            Self::Enode(enode) => write!(
                f,
                "enode {}@{}:{} (udp {})",
                enode.peer_id, enode.host, enode.tcp, enode.udp
            ),
        }
    }
}

fn refuse(text: &str, reason: impl Into<String>) -> Error {
    let mut shown: String = text.chars().take(80).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    Error::Bootnode {
        text: shown,
        reason: reason.into(),
    }
}

impl FromStr for Bootnode {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text.starts_with("enr:") {
            return Enr::from_str(text)
                .map(Self::Enr)
                .map_err(|e| refuse(text, format!("not a valid ENR: {e}")));
        }
        if let Some(rest) = text.strip_prefix("enode://") {
            return parse_enode(text, rest).map(Self::Enode);
        }
        Err(refuse(text, "expected enr:… or enode://…"))
    }
}

fn parse_enode(text: &str, rest: &str) -> Result<Enode, Error> {
    let (key_hex, address) = rest
        .split_once('@')
        .ok_or_else(|| refuse(text, "no @host:port"))?;
    let (address, query) = match address.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (address, None),
    };
    let mut key = [0u8; 65];
    key[0] = 0x04;
    hex::decode_to_slice(key_hex, &mut key[1..])
        .map_err(|_| refuse(text, "the key must be 128 hex digits"))?;
    let public = libp2p_identity::secp256k1::PublicKey::try_from_bytes(&key)
        .map_err(|_| refuse(text, "not a secp256k1 public key"))?;
    let peer_id = libp2p_identity::PublicKey::from(public).to_peer_id();
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| refuse(text, "no port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(refuse(text, "no host"));
    }
    let tcp: u16 = port.parse().map_err(|_| refuse(text, "bad port"))?;
    let mut udp = tcp;
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        if let Some(value) = pair.strip_prefix("discport=") {
            udp = value.parse().map_err(|_| refuse(text, "bad discport"))?;
        }
    }
    Ok(Enode {
        peer_id,
        host: host.to_owned(),
        tcp,
        udp,
    })
}

/// Parses `p2p.bootnodes`: comma-separated entries, blanks ignored.
pub fn parse_bootnodes<S: AsRef<str>>(entries: &[S]) -> Result<Vec<Bootnode>, Error> {
    entries
        .iter()
        .flat_map(|e| e.as_ref().split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(Bootnode::from_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // A bootnode from op-node's `DefaultBootnodes`.
    const ENODE: &str = "enode://b97abcc7011d06299c4bc44742be4a0e631a1a2925a2992adcfe80ed86bec5ff0ddf1b90d015f2dbb5e305560e12c9873b2dad72d84d131ac4be9f2a4c74b763@52.14.30.39:9222";
    // A Base bootnode from op-node's `DefaultBootnodes`.
    const ENR: &str = "enr:-J24QNz9lbrKbN4iSmmjtnr7SjUMk4zB7f1krHZcTZx-JRKZd0kA2gjufUROD6T3sOWDVDnFJRvqBBo62zuF-hYCohOGAYiOoEyEgmlkgnY0gmlwhAPniryHb3BzdGFja4OFQgCJc2VjcDI1NmsxoQKNVFlCxh_B-716tTs-h1vMzZkSs1FTu_OYTNjgufplG4N0Y3CCJAaDdWRwgiQG";

    #[test]
    fn an_enode_url_and_an_enr_parse() {
        let nodes = parse_bootnodes(&[format!("{ENODE}?discport=30306, {ENR}")]).unwrap();
        assert_eq!(nodes.len(), 2);
        match &nodes[0] {
            Bootnode::Enode(e) => {
                assert_eq!(e.host, "52.14.30.39");
                assert_eq!(e.tcp, 9222);
                assert_eq!(e.udp, 30306);
            }
            other => panic!("{other:?}"),
        }
        match &nodes[1] {
            Bootnode::Enr(enr) => {
                let entry = crate::OpStackEnr::decode(enr.get_raw_rlp("opstack").unwrap());
                assert_eq!(entry.unwrap().chain_id, 8453);
                assert_eq!(enr.tcp4(), Some(9222));
            }
            other => panic!("{other:?}"),
        }
        let host = parse_bootnodes(&[ENODE.replace("52.14.30.39", "boot.example.org")]).unwrap();
        assert!(
            matches!(&host[0], Bootnode::Enode(e) if e.host == "boot.example.org" && e.udp == 9222)
        );
    }

    #[test]
    fn bad_bootnodes_are_refused() {
        for bad in [
            "enr:-garbage",
            "enode://abcd@1.2.3.4:30303",
            "enode://b97abcc7011d06299c4bc44742be4a0e631a1a2925a2992adcfe80ed86bec5ff0ddf1b90d015f2dbb5e305560e12c9873b2dad72d84d131ac4be9f2a4c74b763@1.2.3.4",
            "/ip4/1.2.3.4/tcp/9222",
        ] {
            assert!(parse_bootnodes(&[bad]).is_err(), "{bad}");
        }
        assert!(parse_bootnodes::<&str>(&[" , "]).unwrap().is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

        /// Operator text: arbitrary strings, and the known-good bootnodes with one edit, are
        /// bootnodes or an error, never a panic.
        #[test]
        fn arbitrary_text_never_panics(
            text in ".{0,200}",
            which in proptest::prelude::any::<bool>(),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
            insert in "[-_a-zA-Z0-9:@?=.,/ ]{0,6}",
        ) {
            let _ = parse_bootnodes(&[text.as_str()]);
            let good = if which { ENR } else { ENODE };
            let at = cut.index(good.len());
            for edited in [
                format!("{}{insert}{}", &good[..at], &good[at..]),
                format!("{}{}", &good[..at], &good[at + 1..]),
            ] {
                // A record prints as its `enr:` text, which parses to the same record (an
                // enode URL prints for logs only).
                for node in parse_bootnodes(&[edited.as_str()]).unwrap_or_default() {
                    if let Bootnode::Enr(_) = &node {
                        let again = parse_bootnodes(&[node.to_string()]).unwrap();
                        proptest::prop_assert_eq!(again, vec![node]);
                    }
                }
            }
        }
    }
}
