//! The per-peer books of the libp2p peerstore: addresses, public keys, protocols, identify
//! information, and op-node's metadata.

use std::time::Duration;

use libp2p_core::Multiaddr;
use libp2p_identity::{PeerId, PublicKey};
use op_p2p_api::{IdentifyInfo, PeerMetadata};

use crate::{
    error::{Error, RecordError},
    keys::{decode_peer_key, peer_key},
    records::{
        AddrEntry, AddrRecord, IdentifyRecord, KeyRecord, MAX_ADDR_LEN, MAX_ADDRS_PER_PEER,
        MAX_PROTOCOLS_PER_PEER, MAX_TEXT_LEN, MetadataRecord, ProtocolsRecord,
    },
    schema::Book,
    store::{PeerStore, retained},
};

/// The expiry of something stored at `now` for `ttl`: a partial second counts as a whole one,
/// and `Duration::MAX` (or anything past `u64::MAX` seconds) never expires.
fn expiry_at(now: u64, ttl: Duration) -> u64 {
    let secs = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0));
    now.saturating_add(secs)
}

/// Whether an address with this expiry is still valid at `now`.
fn addr_live(expiry: u64, now: u64) -> bool {
    expiry > now
}

fn check_len(what: &'static str, len: usize, max: usize) -> Result<(), Error> {
    if len > max {
        return Err(Error::LimitExceeded { what, len, max });
    }
    Ok(())
}

/// Keeps the [`MAX_ADDRS_PER_PEER`] longest-lived addresses, in their stored order.
fn cap_addrs(addrs: &mut Vec<AddrEntry>) {
    if addrs.len() <= MAX_ADDRS_PER_PEER {
        return;
    }
    let mut order: Vec<usize> = (0..addrs.len()).collect();
    // Longest-lived first; among equals, the earlier-stored first.
    order.sort_by(|&a, &b| addrs[b].expiry.cmp(&addrs[a].expiry).then(a.cmp(&b)));
    let mut keep = vec![false; addrs.len()];
    for &i in order.iter().take(MAX_ADDRS_PER_PEER) {
        keep[i] = true;
    }
    let mut i = 0;
    addrs.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

impl PeerStore {
    /// Adds addresses for `peer`, valid for `ttl` (`Duration::MAX`: permanent). An address
    /// already stored keeps the later of its two expiries, as go-libp2p's `AddAddrs`; a zero
    /// `ttl` adds nothing. Past [`MAX_ADDRS_PER_PEER`] the soonest-expiring addresses are
    /// dropped.
    pub fn add_addrs(
        &self,
        peer: &PeerId,
        addrs: &[Multiaddr],
        ttl: Duration,
    ) -> Result<(), Error> {
        if ttl.is_zero() || addrs.is_empty() {
            return Ok(());
        }
        self.update_addrs(peer, addrs, ttl, |entry, expiry| {
            entry.expiry = entry.expiry.max(expiry)
        })
    }

    /// Sets the expiry of the given addresses of `peer` to `now + ttl`, replacing what was
    /// stored (go-libp2p's `SetAddrs`); a zero `ttl` removes them. Other addresses are
    /// untouched.
    pub fn set_addrs(
        &self,
        peer: &PeerId,
        addrs: &[Multiaddr],
        ttl: Duration,
    ) -> Result<(), Error> {
        if addrs.is_empty() {
            return Ok(());
        }
        self.update_addrs(peer, addrs, ttl, |entry, expiry| entry.expiry = expiry)
    }

    /// Removes every address of `peer`.
    pub fn clear_addrs(&self, peer: &PeerId) -> Result<(), Error> {
        let _guard = self.write_guard();
        self.delete(Book::Addrs, &peer_key(peer))
    }

    /// The unexpired addresses of `peer`, in the order they were first added.
    pub fn addrs(&self, peer: &PeerId) -> Result<Vec<Multiaddr>, Error> {
        let now = self.now();
        Ok(self
            .get::<AddrRecord>(Book::Addrs, &peer_key(peer))?
            .map(|record| {
                record
                    .addrs
                    .into_iter()
                    .filter(|e| addr_live(e.expiry, now))
                    .map(|e| e.addr)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Every peer with at least one unexpired address.
    pub fn peers_with_addrs(&self) -> Result<Vec<PeerId>, Error> {
        let now = self.now();
        self.scan(Book::Addrs, decode_peer_key, |peer, record: AddrRecord| {
            record
                .addrs
                .iter()
                .any(|e| addr_live(e.expiry, now))
                .then_some(peer)
        })
    }

    fn update_addrs(
        &self,
        peer: &PeerId,
        addrs: &[Multiaddr],
        ttl: Duration,
        merge: impl Fn(&mut AddrEntry, u64),
    ) -> Result<(), Error> {
        for addr in addrs {
            check_len("multiaddr bytes", addr.len(), MAX_ADDR_LEN)?;
        }
        let key = peer_key(peer);
        let _guard = self.write_guard();
        let now = self.now();
        let expiry = expiry_at(now, ttl);
        let mut record = self
            .get::<AddrRecord>(Book::Addrs, &key)?
            .unwrap_or_default();
        for addr in addrs {
            match record.addrs.iter_mut().find(|e| e.addr == *addr) {
                Some(entry) => merge(entry, expiry),
                None => record.addrs.push(AddrEntry {
                    addr: addr.clone(),
                    expiry,
                }),
            }
        }
        record.addrs.retain(|e| addr_live(e.expiry, now));
        cap_addrs(&mut record.addrs);
        if record.addrs.is_empty() {
            self.delete(Book::Addrs, &key)
        } else {
            self.put_record(Book::Addrs, &key, &record)
        }
    }

    /// Stores the public key of `peer`; fails with [`Error::KeyMismatch`] if the key is not
    /// that peer's.
    pub fn set_public_key(&self, peer: &PeerId, key: &PublicKey) -> Result<(), Error> {
        let key_peer = key.to_peer_id();
        if key_peer != *peer {
            return Err(Error::KeyMismatch {
                key_peer: Box::new(key_peer),
            });
        }
        let _guard = self.write_guard();
        let record = KeyRecord {
            last_update: self.now(),
            key: key.clone(),
        };
        self.put_record(Book::Keys, &peer_key(peer), &record)
    }

    /// The stored public key of `peer`, if any.
    pub fn public_key(&self, peer: &PeerId) -> Result<Option<PublicKey>, Error> {
        let key = peer_key(peer);
        let retention = self.config().peer_info_retention();
        let now = self.now();
        let Some(record) = self.get::<KeyRecord>(Book::Keys, &key)? else {
            return Ok(None);
        };
        if record.key.to_peer_id() != *peer {
            self.report_corrupt(Book::Keys, &key, &RecordError::KeyMismatch);
            return Ok(None);
        }
        Ok(retained(record.last_update, retention, now).then_some(record.key))
    }

    /// Replaces the protocols `peer` supports (duplicates dropped, order kept); an empty list
    /// deletes the record. At most [`MAX_PROTOCOLS_PER_PEER`] distinct names of at most
    /// [`MAX_TEXT_LEN`] bytes, as go-libp2p's `ErrTooManyProtocols`.
    pub fn set_protocols<S: AsRef<str>>(
        &self,
        peer: &PeerId,
        protocols: &[S],
    ) -> Result<(), Error> {
        let mut unique: Vec<String> = Vec::new();
        for protocol in protocols {
            let protocol = protocol.as_ref();
            check_len("protocol name bytes", protocol.len(), MAX_TEXT_LEN)?;
            if !unique.iter().any(|p| p == protocol) {
                check_len("protocols", unique.len() + 1, MAX_PROTOCOLS_PER_PEER)?;
                unique.push(protocol.to_owned());
            }
        }
        let key = peer_key(peer);
        let _guard = self.write_guard();
        if unique.is_empty() {
            return self.delete(Book::Protocols, &key);
        }
        let record = ProtocolsRecord {
            last_update: self.now(),
            protocols: unique,
        };
        self.put_record(Book::Protocols, &key, &record)
    }

    /// The protocols `peer` supports; empty if unknown.
    pub fn protocols(&self, peer: &PeerId) -> Result<Vec<String>, Error> {
        let retention = self.config().peer_info_retention();
        let now = self.now();
        Ok(self
            .get::<ProtocolsRecord>(Book::Protocols, &peer_key(peer))?
            .filter(|r| retained(r.last_update, retention, now))
            .map(|r| r.protocols)
            .unwrap_or_default())
    }

    /// Stores `peer`'s identify information.
    pub fn set_identify(&self, peer: &PeerId, info: &IdentifyInfo) -> Result<(), Error> {
        check_len(
            "agent version bytes",
            info.agent_version.len(),
            MAX_TEXT_LEN,
        )?;
        check_len(
            "protocol version bytes",
            info.protocol_version.len(),
            MAX_TEXT_LEN,
        )?;
        let _guard = self.write_guard();
        let record = IdentifyRecord {
            last_update: self.now(),
            info: info.clone(),
        };
        self.put_record(Book::Identify, &peer_key(peer), &record)
    }

    /// `peer`'s identify information, if known.
    pub fn identify(&self, peer: &PeerId) -> Result<Option<IdentifyInfo>, Error> {
        let retention = self.config().peer_info_retention();
        let now = self.now();
        Ok(self
            .get::<IdentifyRecord>(Book::Identify, &peer_key(peer))?
            .filter(|r| retained(r.last_update, retention, now))
            .map(|r| r.info))
    }

    /// Stores `peer`'s op-node metadata (op-node's metadata book).
    pub fn set_metadata(&self, peer: &PeerId, metadata: &PeerMetadata) -> Result<(), Error> {
        check_len("ENR bytes", metadata.enr.len(), MAX_TEXT_LEN)?;
        let _guard = self.write_guard();
        let record = MetadataRecord {
            last_update: self.now(),
            metadata: metadata.clone(),
        };
        self.put_record(Book::Metadata, &peer_key(peer), &record)
    }

    /// `peer`'s op-node metadata, if known and updated within
    /// [`Config::peer_info_retention`](crate::Config::peer_info_retention) (7 days, op-node's
    /// metadata expiry).
    pub fn metadata(&self, peer: &PeerId) -> Result<Option<PeerMetadata>, Error> {
        let retention = self.config().peer_info_retention();
        let now = self.now();
        Ok(self
            .get::<MetadataRecord>(Book::Metadata, &peer_key(peer))?
            .filter(|r| retained(r.last_update, retention, now))
            .map(|r| r.metadata))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_rounds_partial_seconds_up_and_saturates() {
        assert_eq!(expiry_at(10, Duration::from_millis(1)), 11);
        assert_eq!(expiry_at(10, Duration::from_secs(5)), 15);
        assert_eq!(expiry_at(10, Duration::MAX), u64::MAX);
        assert!(addr_live(11, 10));
        assert!(!addr_live(10, 10));
    }

    #[test]
    fn cap_keeps_longest_lived_in_order() {
        let addr = |i: u64| -> Multiaddr { format!("/memory/{i}").parse().unwrap() };
        let mut addrs: Vec<AddrEntry> = (0..(MAX_ADDRS_PER_PEER as u64 + 3))
            .map(|i| AddrEntry {
                addr: addr(i),
                expiry: if [5, 17, 33].contains(&i) { 1 } else { 100 + i },
            })
            .collect();
        cap_addrs(&mut addrs);
        assert_eq!(addrs.len(), MAX_ADDRS_PER_PEER);
        // 5, 17 and 33 had the earliest expiry and went; the rest kept their order.
        assert!(addrs.iter().all(|e| e.expiry > 1));
        assert!(addrs.windows(2).all(|w| w[0].expiry < w[1].expiry));
    }
}
