//! Blocked subnets, indexed by prefix length so a lookup costs one hash probe per distinct prefix
//! length in use (at most 33 for IPv4, 129 for IPv6) however many subnets are blocked.

use std::{
    collections::HashSet,
    hash::Hash,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// A set of subnets answering "which blocked subnet contains this IP?".
///
/// A linear scan over 1k CIDR rules costs microseconds on every inbound connection; here each
/// prefix length in use has its own set of network addresses (the IP with host bits cleared), so
/// a lookup masks the IP once per prefix length and probes that set.
#[derive(Debug, Default, Clone)]
pub(crate) struct SubnetSet {
    v4: PrefixTable<u32>,
    v6: PrefixTable<u128>,
}

impl SubnetSet {
    /// Adds `net` (its host bits are cleared); returns whether it was new.
    pub(crate) fn insert(&mut self, net: IpNet) -> bool {
        match net.trunc() {
            IpNet::V4(n) => self.v4.insert(n.prefix_len(), n.network().to_bits()),
            IpNet::V6(n) => self.v6.insert(n.prefix_len(), n.network().to_bits()),
        }
    }

    /// Removes `net` (its host bits are cleared); returns whether it was present.
    pub(crate) fn remove(&mut self, net: IpNet) -> bool {
        match net.trunc() {
            IpNet::V4(n) => self.v4.remove(n.prefix_len(), n.network().to_bits()),
            IpNet::V6(n) => self.v6.remove(n.prefix_len(), n.network().to_bits()),
        }
    }

    /// The most specific subnet in the set that contains `ip`. IPv4 addresses match only IPv4
    /// subnets: callers normalize IPv4-mapped IPv6 addresses and subnets to IPv4 first.
    pub(crate) fn matching(&self, ip: IpAddr) -> Option<IpNet> {
        match ip {
            IpAddr::V4(ip) => self
                .v4
                .matching(ip.to_bits(), mask_v4)
                .and_then(|(len, net)| {
                    Ipv4Net::new(Ipv4Addr::from_bits(net), len)
                        .ok()
                        .map(IpNet::V4)
                }),
            IpAddr::V6(ip) => self
                .v6
                .matching(ip.to_bits(), mask_v6)
                .and_then(|(len, net)| {
                    Ipv6Net::new(Ipv6Addr::from_bits(net), len)
                        .ok()
                        .map(IpNet::V6)
                }),
        }
    }

    /// Every subnet in the set.
    pub(crate) fn iter(&self) -> impl Iterator<Item = IpNet> + '_ {
        let v4 = self.v4.iter().filter_map(|(len, net)| {
            Ipv4Net::new(Ipv4Addr::from_bits(net), len)
                .ok()
                .map(IpNet::V4)
        });
        let v6 = self.v6.iter().filter_map(|(len, net)| {
            Ipv6Net::new(Ipv6Addr::from_bits(net), len)
                .ok()
                .map(IpNet::V6)
        });
        v4.chain(v6)
    }

    /// The number of subnets in the set.
    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

/// Network addresses grouped by prefix length, longest prefix first.
#[derive(Debug, Clone)]
struct PrefixTable<K> {
    by_len: Vec<(u8, HashSet<K>)>,
}

impl<K> Default for PrefixTable<K> {
    fn default() -> Self {
        Self { by_len: Vec::new() }
    }
}

impl<K: Copy + Eq + Hash> PrefixTable<K> {
    fn insert(&mut self, len: u8, network: K) -> bool {
        // Sorted by descending prefix length so `matching` finds the most specific subnet first.
        match self.by_len.binary_search_by(|(l, _)| len.cmp(l)) {
            Ok(i) => self.by_len[i].1.insert(network),
            Err(i) => {
                self.by_len.insert(i, (len, HashSet::from([network])));
                true
            }
        }
    }

    fn remove(&mut self, len: u8, network: K) -> bool {
        let Ok(i) = self.by_len.binary_search_by(|(l, _)| len.cmp(l)) else {
            return false;
        };
        let removed = self.by_len[i].1.remove(&network);
        if self.by_len[i].1.is_empty() {
            self.by_len.remove(i);
        }
        removed
    }

    fn matching(&self, ip: K, mask: impl Fn(K, u8) -> K) -> Option<(u8, K)> {
        self.by_len.iter().find_map(|(len, networks)| {
            let network = mask(ip, *len);
            networks.contains(&network).then_some((*len, network))
        })
    }

    fn iter(&self) -> impl Iterator<Item = (u8, K)> + '_ {
        self.by_len
            .iter()
            .flat_map(|(len, networks)| networks.iter().map(|n| (*len, *n)))
    }

    fn len(&self) -> usize {
        self.by_len.iter().map(|(_, n)| n.len()).sum()
    }
}

/// `ip` with all but its first `len` bits cleared.
fn mask_v4(ip: u32, len: u8) -> u32 {
    ip & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

/// `ip` with all but its first `len` bits cleared.
fn mask_v6(ip: u128, len: u8) -> u128 {
    ip & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn matches_by_prefix() {
        let mut set = SubnetSet::default();
        assert!(set.insert(net("10.0.0.0/8")));
        assert!(set.insert(net("192.168.1.0/24")));
        assert!(set.insert(net("2001:db8::/32")));
        assert_eq!(set.matching(ip("10.255.1.2")), Some(net("10.0.0.0/8")));
        assert_eq!(
            set.matching(ip("192.168.1.77")),
            Some(net("192.168.1.0/24"))
        );
        assert_eq!(set.matching(ip("192.168.2.1")), None);
        assert_eq!(set.matching(ip("11.0.0.1")), None);
        assert_eq!(
            set.matching(ip("2001:db8:1::5")),
            Some(net("2001:db8::/32"))
        );
        assert_eq!(set.matching(ip("2001:db9::1")), None);
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn most_specific_subnet_wins_and_host_bits_are_cleared() {
        let mut set = SubnetSet::default();
        set.insert(net("10.0.0.0/8"));
        // Host bits are cleared on insert, so this is 10.1.0.0/16.
        set.insert(net("10.1.2.3/16"));
        assert!(
            !set.insert(net("10.1.0.0/16")),
            "same subnet after truncation"
        );
        assert_eq!(set.matching(ip("10.1.9.9")), Some(net("10.1.0.0/16")));
        assert_eq!(set.matching(ip("10.2.9.9")), Some(net("10.0.0.0/8")));
    }

    #[test]
    fn edge_prefix_lengths() {
        let mut set = SubnetSet::default();
        set.insert(net("203.0.113.9/32"));
        assert_eq!(set.matching(ip("203.0.113.9")), Some(net("203.0.113.9/32")));
        assert_eq!(set.matching(ip("203.0.113.8")), None);
        set.insert(net("0.0.0.0/0"));
        assert_eq!(set.matching(ip("1.2.3.4")), Some(net("0.0.0.0/0")));
        // An IPv4 /0 does not cover IPv6.
        assert_eq!(set.matching(ip("::1")), None);
        set.insert(net("::/0"));
        assert_eq!(set.matching(ip("::1")), Some(net("::/0")));
    }

    #[test]
    fn remove_and_iter() {
        let mut set = SubnetSet::default();
        set.insert(net("10.0.0.0/8"));
        set.insert(net("fd00::/8"));
        assert!(set.remove(net("10.0.0.0/8")));
        assert!(!set.remove(net("10.0.0.0/8")));
        assert!(!set.remove(net("172.16.0.0/12")));
        assert_eq!(set.matching(ip("10.0.0.1")), None);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![net("fd00::/8")]);
    }
}
