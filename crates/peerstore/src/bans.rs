//! Timed bans (op-node's peer-ban and IP-ban books) and the permanent block lists (go-libp2p
//! conngater's persisted peers, IPs and subnets).

use std::net::IpAddr;

use ipnet::IpNet;
use libp2p_identity::PeerId;

use crate::{
    error::Error,
    keys::{decode_ip_key, decode_peer_key, decode_subnet_key, ip_key, peer_key, subnet_key},
    records::{BanRecord, BlockRecord},
    schema::Book,
    store::{PeerStore, retained},
};

impl PeerStore {
    /// Bans `peer` until `expiry` (unix seconds), or with `None` deletes its ban record.
    ///
    /// The store only records the expiry: whether a ban is in force is the gater's comparison
    /// with the clock. The record itself is dropped [`Config::ban_retention`](crate::Config)
    /// (7 days) after this write, whatever the expiry, as op-node does.
    pub fn set_peer_ban(&self, peer: &PeerId, expiry: Option<u64>) -> Result<(), Error> {
        self.set_ban(Book::PeerBans, &peer_key(peer), expiry)
    }

    /// The ban expiry stored for `peer`, expired or not; `None` if it has no ban record (or
    /// only one past its retention).
    pub fn peer_ban(&self, peer: &PeerId) -> Result<Option<u64>, Error> {
        self.ban(Book::PeerBans, &peer_key(peer))
    }

    /// Every peer ban stored, including expired bans not yet deleted.
    pub fn peer_bans(&self) -> Result<Vec<(PeerId, u64)>, Error> {
        self.bans(Book::PeerBans, decode_peer_key)
    }

    /// Bans `ip` until `expiry` (unix seconds), or with `None` deletes its ban record. An
    /// IPv4-mapped IPv6 address is its IPv4 address.
    pub fn set_ip_ban(&self, ip: IpAddr, expiry: Option<u64>) -> Result<(), Error> {
        self.set_ban(Book::IpBans, &ip_key(ip), expiry)
    }

    /// The ban expiry stored for `ip` (looked up as IPv4 if IPv4-mapped), expired or not.
    pub fn ip_ban(&self, ip: IpAddr) -> Result<Option<u64>, Error> {
        self.ban(Book::IpBans, &ip_key(ip))
    }

    /// Every IP ban stored, including expired bans not yet deleted; IPv4 bans as IPv4.
    pub fn ip_bans(&self) -> Result<Vec<(IpAddr, u64)>, Error> {
        self.bans(Book::IpBans, decode_ip_key)
    }

    /// Adds `peer` to, or removes it from, the permanent block list.
    pub fn set_peer_blocked(&self, peer: &PeerId, blocked: bool) -> Result<(), Error> {
        self.set_blocked(Book::BlockedPeers, &peer_key(peer), blocked)
    }

    /// Every permanently blocked peer.
    pub fn blocked_peers(&self) -> Result<Vec<PeerId>, Error> {
        self.scan(
            Book::BlockedPeers,
            decode_peer_key,
            |peer, _: BlockRecord| Some(peer),
        )
    }

    /// Adds `ip` to, or removes it from, the permanent block list (IPv4-mapped as IPv4).
    pub fn set_ip_blocked(&self, ip: IpAddr, blocked: bool) -> Result<(), Error> {
        self.set_blocked(Book::BlockedIps, &ip_key(ip), blocked)
    }

    /// Every permanently blocked IP; IPv4 as IPv4.
    pub fn blocked_ips(&self) -> Result<Vec<IpAddr>, Error> {
        self.scan(Book::BlockedIps, decode_ip_key, |ip, _: BlockRecord| {
            Some(ip)
        })
    }

    /// Adds `subnet` to, or removes it from, the permanent block list.
    ///
    /// Subnets are stored by their network address ([`canonical_subnet`](crate::canonical_subnet)):
    /// `10.1.2.3/8` and `10.0.0.0/8` are the same entry, and an IPv6 subnet inside
    /// `::ffff:0:0/96` is the IPv4 subnet it covers.
    pub fn set_subnet_blocked(&self, subnet: IpNet, blocked: bool) -> Result<(), Error> {
        self.set_blocked(Book::BlockedSubnets, &subnet_key(subnet), blocked)
    }

    /// Every permanently blocked subnet, by its network address.
    pub fn blocked_subnets(&self) -> Result<Vec<IpNet>, Error> {
        self.scan(
            Book::BlockedSubnets,
            decode_subnet_key,
            |net, _: BlockRecord| Some(net),
        )
    }

    fn set_ban(&self, book: Book, key: &[u8], expiry: Option<u64>) -> Result<(), Error> {
        let _guard = self.write_guard();
        match expiry {
            Some(expiry) => self.put_record(
                book,
                key,
                &BanRecord {
                    expiry,
                    last_update: self.now(),
                },
            ),
            None => self.delete(book, key),
        }
    }

    fn ban(&self, book: Book, key: &[u8]) -> Result<Option<u64>, Error> {
        let now = self.now();
        let retention = self.config().ban_retention();
        Ok(self
            .get::<BanRecord>(book, key)?
            .filter(|ban| retained(ban.last_update, retention, now))
            .map(|ban| ban.expiry))
    }

    fn bans<K>(
        &self,
        book: Book,
        decode_key: fn(&[u8]) -> Result<K, crate::error::RecordError>,
    ) -> Result<Vec<(K, u64)>, Error> {
        let now = self.now();
        let retention = self.config().ban_retention();
        self.scan(book, decode_key, |k, ban: BanRecord| {
            retained(ban.last_update, retention, now).then_some((k, ban.expiry))
        })
    }

    fn set_blocked(&self, book: Book, key: &[u8], blocked: bool) -> Result<(), Error> {
        let _guard = self.write_guard();
        if blocked {
            self.put_record(book, key, &BlockRecord { since: self.now() })
        } else {
            self.delete(book, key)
        }
    }
}
