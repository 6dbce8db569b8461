//! op-node's peer filter (`FilterEnodes`) and record-to-address mapping (`enrToAddrInfo`):
//! which discovered records are dialled, and where.

use std::net::IpAddr;

use discv5::Enr;
use ipnet::IpNet;
use libp2p_core::{Multiaddr, multiaddr::Protocol};
use libp2p_identity::{PeerId, PublicKey};
use op_p2p_api::{DiscoveryRecord, PeerMetadata};

use crate::{
    key,
    opstack::{OPSTACK_ENR_KEY, OPSTACK_VERSION, OpStackEnr},
};

/// Why a discovered record is not dialled. Each is counted ([`crate::DiscoveryCounters`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// No `opstack` entry: not an OP Stack node (an L1 node, say).
    NoOpStack,
    /// An `opstack` entry that does not decode (bad RLP, a truncated or overflowing uvarint).
    Malformed,
    /// Another chain's node.
    OtherChain,
    /// An `opstack` version other than 0.
    Version,
    /// No TCP port: nothing to dial.
    NoTcp,
    /// No IP address: nothing to dial.
    NoIp,
    /// A key that is not secp256k1: no libp2p peer id.
    KeyType,
    /// Outside `p2p.netrestrict`.
    Netrestrict,
}

impl SkipReason {
    /// Every reason, in counter order.
    pub const ALL: [Self; 8] = [
        Self::NoOpStack,
        Self::Malformed,
        Self::OtherChain,
        Self::Version,
        Self::NoTcp,
        Self::NoIp,
        Self::KeyType,
        Self::Netrestrict,
    ];

    /// A short stable name (for logs and metrics labels).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoOpStack => "no_opstack",
            Self::Malformed => "malformed_opstack",
            Self::OtherChain => "other_chain",
            Self::Version => "version",
            Self::NoTcp => "no_tcp",
            Self::NoIp => "no_ip",
            Self::KeyType => "key_type",
            Self::Netrestrict => "netrestrict",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A record that passed the filter: what the dial loop needs and what the peer book stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredPeer {
    /// The peer id of the record's key.
    pub peer_id: PeerId,
    /// The record's key as a libp2p key.
    pub public_key: PublicKey,
    /// `/ip4|ip6/<ip>/tcp/<tcp>/p2p/<peer id>`.
    pub addr: Multiaddr,
    /// The record as text (`enr:…`).
    pub enr: String,
    /// Its `opstack` chain id (ours).
    pub chain_id: u64,
}

impl DiscoveredPeer {
    /// What the peer book keeps of it (the address without its `/p2p/` suffix, as the book
    /// keeps addresses).
    pub fn to_record(&self) -> DiscoveryRecord {
        let mut addr = self.addr.clone();
        if matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
            addr.pop();
        }
        DiscoveryRecord {
            public_key: self.public_key.clone(),
            addr,
            metadata: PeerMetadata {
                enr: self.enr.clone(),
                chain_id: self.chain_id,
            },
        }
    }
}

/// op-node's filter: a decodable `opstack` entry with our chain id and version 0, and a TCP
/// port; then its address mapping: an IP and a secp256k1 key.
pub fn check_record(enr: &Enr, chain_id: u64) -> Result<DiscoveredPeer, SkipReason> {
    let raw = enr
        .get_raw_rlp(OPSTACK_ENR_KEY)
        .ok_or(SkipReason::NoOpStack)?;
    let entry = OpStackEnr::decode(raw).map_err(|_| SkipReason::Malformed)?;
    if entry.chain_id != chain_id {
        return Err(SkipReason::OtherChain);
    }
    if entry.version != OPSTACK_VERSION {
        return Err(SkipReason::Version);
    }
    let (ip, tcp) = tcp_endpoint(enr)?;
    let public_key = key::libp2p_public_key(&enr.public_key()).ok_or(SkipReason::KeyType)?;
    let peer_id = public_key.to_peer_id();
    Ok(DiscoveredPeer {
        addr: Multiaddr::empty()
            .with(ip.into())
            .with(Protocol::Tcp(tcp))
            .with(Protocol::P2p(peer_id)),
        peer_id,
        public_key,
        enr: enr.to_base64(),
        chain_id: entry.chain_id,
    })
}

/// The record's IP and TCP port: IPv4 with `tcp` first, else IPv6 with `tcp6` (or `tcp`).
fn tcp_endpoint(enr: &Enr) -> Result<(IpAddr, u16), SkipReason> {
    let tcp4 = enr.tcp4().filter(|p| *p != 0);
    let tcp6 = enr.tcp6().filter(|p| *p != 0).or(tcp4);
    match (enr.ip4(), enr.ip6()) {
        (Some(ip), _) if tcp4.is_some() => Ok((ip.into(), tcp4.unwrap_or_default())),
        (_, Some(ip)) if tcp6.is_some() => Ok((ip.into(), tcp6.unwrap_or_default())),
        (None, None) if tcp4.is_some() || tcp6.is_some() => Err(SkipReason::NoIp),
        _ => Err(SkipReason::NoTcp),
    }
}

/// Whether `enr`'s IP is inside `netrestrict` (always, with no restriction). A record without
/// an IP is inside: it is skipped as [`SkipReason::NoIp`] anyway.
pub fn within_netrestrict(enr: &Enr, netrestrict: &[IpNet]) -> bool {
    if netrestrict.is_empty() {
        return true;
    }
    let ips = enr
        .ip4()
        .map(IpAddr::from)
        .into_iter()
        .chain(enr.ip6().map(IpAddr::from));
    let mut any = false;
    for ip in ips {
        any = true;
        if netrestrict.iter().any(|net| net.contains(&ip)) {
            return true;
        }
    }
    !any
}

/// The filter the discv5 task applies to every record it considers: `p2p.netrestrict` (unless
/// the record is a configured bootnode), then [`check_record`]; every skip is counted.
#[derive(Debug, Clone)]
pub struct RecordFilter {
    /// Our chain id.
    pub chain_id: u64,
    /// `p2p.netrestrict`; empty = no restriction.
    pub netrestrict: Vec<IpNet>,
}

impl RecordFilter {
    /// The dialable peer of `enr`, or `None` (counted in `counters`).
    pub fn check(
        &self,
        enr: &Enr,
        bootnode: bool,
        counters: &crate::DiscoveryCounters,
    ) -> Option<DiscoveredPeer> {
        let result = if !bootnode && !within_netrestrict(enr, &self.netrestrict) {
            Err(SkipReason::Netrestrict)
        } else {
            check_record(enr, self.chain_id)
        };
        match result {
            Ok(peer) => Some(peer),
            Err(reason) => {
                counters.record_skipped(reason);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use enr::CombinedKey;

    use super::*;
    use crate::{DiscoveryCounters, OpStackEnr};

    fn record(opstack: Option<Vec<u8>>, tcp: Option<u16>) -> Enr {
        let key = CombinedKey::generate_secp256k1();
        let mut builder = Enr::builder();
        builder.ip4("10.1.2.3".parse().unwrap()).udp4(30303);
        if let Some(tcp) = tcp {
            builder.tcp4(tcp);
        }
        if let Some(raw) = opstack {
            builder.add_value_rlp("opstack", alloy_rlp::Bytes::from(raw));
        }
        builder.build(&key).unwrap()
    }

    #[test]
    fn each_case_is_skipped_and_counted() {
        let counters = DiscoveryCounters::new();
        let filter = RecordFilter {
            chain_id: 8453,
            netrestrict: Vec::new(),
        };
        let ours = OpStackEnr::new(8453).encode();
        let cases = [
            (record(None, Some(9222)), SkipReason::NoOpStack),
            (
                record(Some(OpStackEnr::new(10).encode()), Some(9222)),
                SkipReason::OtherChain,
            ),
            (
                record(
                    Some(
                        OpStackEnr {
                            chain_id: 8453,
                            version: 1,
                        }
                        .encode(),
                    ),
                    Some(9222),
                ),
                SkipReason::Version,
            ),
            (record(Some(ours.clone()), None), SkipReason::NoTcp),
            // A uvarint whose continuation bit runs off the end of the value.
            (
                record(Some(vec![0x82, 0x85, 0xc2]), Some(9222)),
                SkipReason::Malformed,
            ),
        ];
        for (enr, reason) in &cases {
            assert_eq!(check_record(enr, 8453), Err(*reason));
            assert_eq!(filter.check(enr, false, &counters), None);
            assert_eq!(counters.skipped(*reason), 1, "{reason:?}");
        }
        assert_eq!(counters.skipped_total(), cases.len() as u64);

        let good = record(Some(ours), Some(9222));
        let peer = filter.check(&good, false, &counters).unwrap();
        assert_eq!(
            peer.addr.to_string(),
            format!("/ip4/10.1.2.3/tcp/9222/p2p/{}", peer.peer_id)
        );

        let restricted = RecordFilter {
            chain_id: 8453,
            netrestrict: vec!["192.168.0.0/16".parse().unwrap()],
        };
        assert_eq!(restricted.check(&good, false, &counters), None);
        assert_eq!(counters.skipped(SkipReason::Netrestrict), 1);
        assert!(
            restricted.check(&good, true, &counters).is_some(),
            "bootnodes are exempt"
        );
        let inside = RecordFilter {
            chain_id: 8453,
            netrestrict: vec!["10.0.0.0/8".parse().unwrap()],
        };
        assert!(inside.check(&good, false, &counters).is_some());
    }

    #[test]
    fn an_ipv6_record_maps_to_ip6() {
        let key = CombinedKey::generate_secp256k1();
        let mut builder = Enr::builder();
        builder
            .ip6("2001:db8::1".parse().unwrap())
            .tcp6(9333)
            .add_value_rlp(
                "opstack",
                alloy_rlp::Bytes::from(OpStackEnr::new(10).encode()),
            );
        let enr = builder.build(&key).unwrap();
        let peer = check_record(&enr, 10).unwrap();
        assert!(
            peer.addr
                .to_string()
                .starts_with("/ip6/2001:db8::1/tcp/9333/p2p/")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

        /// Records off the network: arbitrary RLP, and a valid signed record with one byte
        /// changed, decode to a record or an error, and op-node's filter answers for whatever
        /// decodes, never panicking. A record that passes carries our chain id.
        #[test]
        fn arbitrary_records_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            byte in proptest::prelude::any::<u8>(),
            chain_id in proptest::prop_oneof![proptest::strategy::Just(8453u64), proptest::prelude::any::<u64>()],
            version in 0u64..2,
        ) {
            use alloy_rlp::{Decodable as _, Encodable as _};
            let mut input = bytes.as_slice();
            if let Ok(enr) = Enr::decode(&mut input) {
                let _ = check_record(&enr, 8453);
            }
            let good = record(Some(OpStackEnr { chain_id, version }.encode()), Some(9222));
            let mut rlp = Vec::new();
            good.encode(&mut rlp);
            let i = at.index(rlp.len());
            rlp[i] = byte;
            let mut input = rlp.as_slice();
            if let Ok(enr) = Enr::decode(&mut input)
                && let Ok(peer) = check_record(&enr, 8453)
            {
                proptest::prop_assert_eq!(peer.chain_id, 8453);
            }
        }
    }
}
