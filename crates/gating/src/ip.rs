//! The one IP of a multiaddr, in the form every rule is stored and checked in.

use std::net::IpAddr;

use ipnet::IpNet;
use libp2p_core::{Multiaddr, multiaddr::Protocol};

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4
/// peer) become their IPv4 form, so one rule covers both spellings of an address, as the peer
/// store does for its IP-ban book.
pub(crate) fn normalize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// A subnet with its host bits cleared; an IPv4-mapped IPv6 subnet of prefix ≥ 96
/// (`::ffff:10.0.0.0/104`) becomes the IPv4 subnet it denotes (`10.0.0.0/8`), matching
/// [`normalize_ip`].
pub(crate) fn normalize_subnet(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.network().to_ipv4_mapped()
        && let Ok(v4net) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(v4net.trunc());
    }
    net.trunc()
}

/// The IP the multiaddr starts from (its first `/ip4` or `/ip6` component), normalized; `None`
/// for addresses without one (`/dns`, `/memory`), which IP rules cannot judge.
pub(crate) fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|protocol| match protocol {
        Protocol::Ip4(ip) => Some(normalize_ip(IpAddr::V4(ip))),
        Protocol::Ip6(ip) => Some(normalize_ip(IpAddr::V6(ip))),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn mapped_ipv6_becomes_ipv4() {
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        assert_eq!(
            normalize_ip(mapped),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))
        );
        let native = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(normalize_ip(native), native);
    }

    #[test]
    fn mapped_subnet_becomes_ipv4_subnet() {
        let net: IpNet = "::ffff:10.1.2.3/104".parse().unwrap();
        assert_eq!(
            normalize_subnet(net),
            "10.0.0.0/8".parse::<IpNet>().unwrap()
        );
        // Below /96 the subnet spans more than the mapped range: it stays IPv6 (truncated).
        let wide: IpNet = "::ffff:0:0/80".parse().unwrap();
        assert_eq!(normalize_subnet(wide), "::/80".parse::<IpNet>().unwrap());
        let host_bits: IpNet = "10.1.2.3/16".parse().unwrap();
        assert_eq!(
            normalize_subnet(host_bits),
            "10.1.0.0/16".parse::<IpNet>().unwrap()
        );
    }

    #[test]
    fn ip_of_reads_the_first_ip_component() {
        let v4: Multiaddr = "/ip4/10.0.0.1/tcp/9222".parse().unwrap();
        assert_eq!(ip_of(&v4), Some("10.0.0.1".parse().unwrap()));
        let mapped: Multiaddr = "/ip6/::ffff:10.0.0.1/tcp/9222".parse().unwrap();
        assert_eq!(ip_of(&mapped), Some("10.0.0.1".parse().unwrap()));
        let dns: Multiaddr = "/dns4/example.com/tcp/9222".parse().unwrap();
        assert_eq!(ip_of(&dns), None);
    }
}
