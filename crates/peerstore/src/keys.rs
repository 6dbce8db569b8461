//! Column-family keys: raw peer-id bytes, 16-byte IPs, and subnets as IP bytes plus prefix.
//!
//! IPv4 is stored in its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so both families share one
//! key space and an IPv4 address and its mapped form are the same key; reads convert back to
//! IPv4. Subnets follow: an IPv4 subnet `a.b.c.d/n` is stored as `::ffff:a.b.c.d/(96 + n)`.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use libp2p_identity::PeerId;

use crate::error::RecordError;

/// Length of an IP key.
pub(crate) const IP_KEY_LEN: usize = 16;
/// Length of a subnet key: the network address then the prefix length.
pub(crate) const SUBNET_KEY_LEN: usize = 17;
/// Prefix bits of the IPv4-mapped range `::ffff:0:0/96`.
const MAPPED_PREFIX: u8 = 96;

/// The key of a per-peer record: the peer id's raw multihash bytes.
pub(crate) fn peer_key(peer: &PeerId) -> Vec<u8> {
    peer.to_bytes()
}

/// Decodes a per-peer key.
pub(crate) fn decode_peer_key(key: &[u8]) -> Result<PeerId, RecordError> {
    PeerId::from_bytes(key).map_err(|_| RecordError::InvalidPeerId)
}

/// The form an IP is stored and compared in: an IPv4-mapped IPv6 address is its IPv4 address.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The key of an IP record: 16 bytes, IPv4 in its mapped form.
pub(crate) fn ip_key(ip: IpAddr) -> [u8; IP_KEY_LEN] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Decodes an IP key, mapped addresses back to IPv4.
pub(crate) fn decode_ip_key(key: &[u8]) -> Result<IpAddr, RecordError> {
    let octets: [u8; IP_KEY_LEN] = key
        .try_into()
        .map_err(|_| RecordError::InvalidIp(key.len()))?;
    Ok(canonical_ip(IpAddr::V6(Ipv6Addr::from(octets))))
}

/// The form a subnet is stored in: its network address (host bits cleared), and an IPv6 subnet
/// inside `::ffff:0:0/96` as the IPv4 subnet it covers.
pub fn canonical_subnet(net: IpNet) -> IpNet {
    match net.trunc() {
        IpNet::V6(v6) => match (v6.network().to_ipv4_mapped(), v6.prefix_len()) {
            (Some(v4), prefix) if prefix >= MAPPED_PREFIX => {
                Ipv4Net::new(v4, prefix - MAPPED_PREFIX).map_or(IpNet::V6(v6), IpNet::V4)
            }
            _ => IpNet::V6(v6),
        },
        v4 @ IpNet::V4(_) => v4,
    }
}

/// The key of a subnet record: the network address as an IP key, then the IPv6 prefix length.
pub(crate) fn subnet_key(net: IpNet) -> [u8; SUBNET_KEY_LEN] {
    let (ip, prefix) = match canonical_subnet(net) {
        IpNet::V4(v4) => (IpAddr::V4(v4.network()), v4.prefix_len() + MAPPED_PREFIX),
        IpNet::V6(v6) => (IpAddr::V6(v6.network()), v6.prefix_len()),
    };
    let mut key = [0u8; SUBNET_KEY_LEN];
    key[..IP_KEY_LEN].copy_from_slice(&ip_key(ip));
    key[IP_KEY_LEN] = prefix;
    key
}

/// Decodes a subnet key.
pub(crate) fn decode_subnet_key(key: &[u8]) -> Result<IpNet, RecordError> {
    let (&prefix, addr) = key.split_last().ok_or(RecordError::InvalidSubnet)?;
    let octets: [u8; IP_KEY_LEN] = addr.try_into().map_err(|_| RecordError::InvalidSubnet)?;
    let v6 =
        Ipv6Net::new(Ipv6Addr::from(octets), prefix).map_err(|_| RecordError::InvalidSubnet)?;
    Ok(canonical_subnet(IpNet::V6(v6)))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn ipv4_is_stored_mapped_and_read_back_as_ipv4() {
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped());
        assert_eq!(ip_key(v4), ip_key(mapped));
        assert_eq!(decode_ip_key(&ip_key(mapped)), Ok(v4));
        assert_eq!(decode_ip_key(&[0; 4]), Err(RecordError::InvalidIp(4)));
    }

    #[test]
    fn subnets_share_the_mapped_space() {
        let v4: IpNet = "10.1.2.3/8".parse().unwrap();
        let mapped: IpNet = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(subnet_key(v4), subnet_key(mapped));
        assert_eq!(
            decode_subnet_key(&subnet_key(mapped)),
            Ok("10.0.0.0/8".parse().unwrap())
        );
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert_eq!(decode_subnet_key(&subnet_key(v6)), Ok(v6));
        // Below /96 the mapped range is an ordinary IPv6 subnet.
        let wide: IpNet = "::ffff:0:0/95".parse().unwrap();
        assert_eq!(decode_subnet_key(&subnet_key(wide)), Ok(wide.trunc()));
        let mut bad = subnet_key(v6);
        bad[16] = 129;
        assert_eq!(decode_subnet_key(&bad), Err(RecordError::InvalidSubnet));
        assert_eq!(decode_subnet_key(&[]), Err(RecordError::InvalidSubnet));
    }

    proptest! {
        #[test]
        fn ip_keys_round_trip(octets in any::<[u8; 16]>(), v4 in any::<[u8; 4]>()) {
            let v6 = IpAddr::V6(Ipv6Addr::from(octets));
            prop_assert_eq!(decode_ip_key(&ip_key(v6)), Ok(canonical_ip(v6)));
            let v4 = IpAddr::V4(Ipv4Addr::from(v4));
            prop_assert_eq!(decode_ip_key(&ip_key(v4)), Ok(v4));
        }

        #[test]
        fn subnet_keys_round_trip(octets in any::<[u8; 16]>(), p6 in 0u8..=128, v4 in any::<[u8; 4]>(), p4 in 0u8..=32) {
            let v6 = IpNet::V6(Ipv6Net::new(Ipv6Addr::from(octets), p6).unwrap());
            prop_assert_eq!(decode_subnet_key(&subnet_key(v6)), Ok(canonical_subnet(v6)));
            let v4 = IpNet::V4(Ipv4Net::new(Ipv4Addr::from(v4), p4).unwrap());
            prop_assert_eq!(decode_subnet_key(&subnet_key(v4)), Ok(v4.trunc()));
        }

        #[test]
        fn key_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_peer_key(&bytes);
            let _ = decode_ip_key(&bytes);
            let _ = decode_subnet_key(&bytes);
        }
    }
}
