//! [`Config`]: discovery's settings, defaulting to op-node's (spec §10, §11).

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use ipnet::IpNet;

use crate::bootnode::Bootnode;

/// op-node's `discoverIntervalFast`: below the low water mark, one record per 5 s.
pub const DISCOVER_INTERVAL_FAST: Duration = Duration::from_secs(5);
/// op-node's `discoverIntervalSlow`: at or above the low water mark, one record per 20 s.
pub const DISCOVER_INTERVAL_SLOW: Duration = Duration::from_secs(20);
/// op-node's `tableKickoffDelay`: the table (bootnodes, persisted records) is fed to the dial
/// loop 3 s after start.
pub const TABLE_KICKOFF_DELAY: Duration = Duration::from_secs(3);
/// How often the table is written to its store (and once more at shutdown). geth writes its
/// node database as nodes are seen; a periodic snapshot of the table is the same data with a
/// bounded write rate.
pub const TABLE_SAVE_INTERVAL: Duration = Duration::from_secs(30);

/// What the discv5 service runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The L2 chain id: written in our `opstack` entry, required in every dialled record.
    pub chain_id: u64,
    /// The UDP bind IP (`p2p.listen.ip`, default `0.0.0.0`).
    pub listen_ip: IpAddr,
    /// The UDP port (`p2p.listen.udp`); 0 = an OS-chosen port, as op-node.
    pub listen_udp: u16,
    /// The TCP listen port (`p2p.listen.tcp`): the last fallback for the ENR's `tcp`.
    pub listen_tcp: u16,
    /// The port libp2p actually bound: the ENR's `tcp` unless advertised.
    pub bound_tcp: Option<u16>,
    /// `p2p.advertise.ip` (resolved to an IPv4 by the caller when a host name was given).
    pub advertise_ip: Option<IpAddr>,
    /// `p2p.advertise.tcp`.
    pub advertise_tcp: Option<u16>,
    /// `p2p.advertise.udp`.
    pub advertise_udp: Option<u16>,
    /// Bootnodes (`p2p.bootnodes`, or the network preset's list).
    pub bootnodes: Vec<Bootnode>,
    /// `p2p.netrestrict`: when non-empty, records learnt from other nodes outside these
    /// networks are dropped from the table and never dialled (bootnodes are exempt, as in
    /// geth).
    pub netrestrict: Vec<IpNet>,
    /// One record per this interval below the low water mark.
    pub discover_interval_fast: Duration,
    /// One record per this interval at or above it.
    pub discover_interval_slow: Duration,
    /// When the table is first fed to the dial loop.
    pub table_kickoff_delay: Duration,
    /// How often the table is saved.
    pub table_save_interval: Duration,
}

impl Config {
    /// op-node's defaults for `chain_id`: UDP on `0.0.0.0` at an OS-chosen port, TCP 9222, no
    /// advertised address, no bootnodes, no restriction, op-node's intervals.
    pub fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            listen_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            listen_udp: 0,
            listen_tcp: 9222,
            bound_tcp: None,
            advertise_ip: None,
            advertise_tcp: None,
            advertise_udp: None,
            bootnodes: Vec::new(),
            netrestrict: Vec::new(),
            discover_interval_fast: DISCOVER_INTERVAL_FAST,
            discover_interval_slow: DISCOVER_INTERVAL_SLOW,
            table_kickoff_delay: TABLE_KICKOFF_DELAY,
            table_save_interval: TABLE_SAVE_INTERVAL,
        }
    }

    /// The ENR's `tcp`: advertised, else the bound port, else the listen port (op-node's
    /// order); `None` if all are 0.
    pub fn enr_tcp(&self) -> Option<u16> {
        [self.advertise_tcp, self.bound_tcp, Some(self.listen_tcp)]
            .into_iter()
            .flatten()
            .find(|p| *p != 0)
    }

    /// The ENR's `udp`: advertised, else the listen port, else the port the socket bound.
    pub fn enr_udp(&self, bound_udp: u16) -> u16 {
        [self.advertise_udp, Some(self.listen_udp)]
            .into_iter()
            .flatten()
            .find(|p| *p != 0)
            .unwrap_or(bound_udp)
    }

    /// The ENR's `ip`: advertised, else the listen IP unless it is unspecified (`0.0.0.0`), in
    /// which case discv5's endpoint voting fills it in (geth's endpoint prediction).
    pub fn enr_ip(&self) -> Option<IpAddr> {
        self.advertise_ip
            .or_else(|| (!self.listen_ip.is_unspecified()).then_some(self.listen_ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallbacks_are_op_nodes() {
        let mut c = Config::new(10);
        assert_eq!(c.enr_tcp(), Some(9222));
        c.bound_tcp = Some(40000);
        assert_eq!(c.enr_tcp(), Some(40000));
        c.advertise_tcp = Some(30000);
        assert_eq!(c.enr_tcp(), Some(30000));
        c = Config::new(10);
        c.listen_tcp = 0;
        assert_eq!(c.enr_tcp(), None);
        assert_eq!(c.enr_udp(5555), 5555);
        c.listen_udp = 9000;
        assert_eq!(c.enr_udp(5555), 9000);
        c.advertise_udp = Some(9001);
        assert_eq!(c.enr_udp(5555), 9001);
        assert_eq!(c.enr_ip(), None);
        c.listen_ip = "127.0.0.1".parse().unwrap();
        assert_eq!(c.enr_ip(), Some(c.listen_ip));
        c.advertise_ip = Some("1.2.3.4".parse().unwrap());
        assert_eq!(c.enr_ip(), c.advertise_ip);
    }
}
