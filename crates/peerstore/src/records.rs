//! The value format of every book: one record type per column family, each with its own format
//! version byte (see [`crate::codec`] for why the formats are hand-written).
//!
//! | record | layout after the version byte (`1` for every record today) |
//! |---|---|
//! | [`BanRecord`] | `expiry u64, last_update u64` |
//! | [`BlockRecord`] | `since u64` |
//! | [`AddrRecord`] | `count u16`, then per address `expiry u64, len u16, multiaddr bytes` |
//! | [`KeyRecord`] | `last_update u64`, then the public key's protobuf encoding (the rest) |
//! | [`ProtocolsRecord`] | `last_update u64, count u16`, then per protocol `len u16, UTF-8` |
//! | [`IdentifyRecord`] | `last_update u64, len u16, agent version, len u16, protocol version` |
//! | [`MetadataRecord`] | `last_update u64, chain_id u64, len u16, ENR text` |
//! | [`ScoreRecord`] | `last_update u64`, then 10 × `f64`: gossip total, time in mesh, first message deliveries, mesh message deliveries, invalid message deliveries, IP colocation factor, behavioural penalty, valid responses, error responses, rejected payloads |
//!
//! All integers are little-endian; `f64`s are their IEEE-754 bits, little-endian.

use libp2p_core::Multiaddr;
use libp2p_identity::PublicKey;
use op_p2p_api::{
    BlocksTopicScores, GossipScores, IdentifyInfo, PeerMetadata, PeerScores, ReqRespScores,
};

use crate::{
    codec::{Reader, put_bytes16, put_f64, put_u16, put_u64},
    error::RecordError,
};

/// Most addresses kept per peer; adding more drops the soonest-expiring.
pub const MAX_ADDRS_PER_PEER: usize = 64;
/// Longest multiaddr, in bytes, the address book stores.
pub const MAX_ADDR_LEN: usize = 1024;
/// Most protocols stored per peer (go-libp2p `pstoreds` `MaxProtocols`: 1024).
pub const MAX_PROTOCOLS_PER_PEER: usize = 1024;
/// Longest text field (protocol name, agent or protocol version, ENR), in bytes.
pub const MAX_TEXT_LEN: usize = 1024;

/// The format version every record is written with today.
const V1: u8 = 1;

/// A value type stored in one book.
pub(crate) trait Record: Sized {
    /// The stored bytes.
    fn encode(&self) -> Vec<u8>;
    /// Parses stored bytes; never panics, allocates at most in proportion to `bytes`.
    fn decode(bytes: &[u8]) -> Result<Self, RecordError>;
}

/// A timed ban of a peer or IP (op-node's peer-ban and IP-ban books).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BanRecord {
    /// When the ban ends, unix seconds.
    pub(crate) expiry: u64,
    /// When the record was last written, unix seconds.
    pub(crate) last_update: u64,
}

impl Record for BanRecord {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(17);
        out.push(V1);
        put_u64(&mut out, self.expiry);
        put_u64(&mut out, self.last_update);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::versioned(bytes, V1)?;
        let record = Self {
            expiry: r.u64()?,
            last_update: r.u64()?,
        };
        r.finish()?;
        Ok(record)
    }
}

/// A permanent block-list entry (go-libp2p conngater); the key is what is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockRecord {
    /// When the entry was written, unix seconds; informational.
    pub(crate) since: u64,
}

impl Record for BlockRecord {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9);
        out.push(V1);
        put_u64(&mut out, self.since);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::versioned(bytes, V1)?;
        let record = Self { since: r.u64()? };
        r.finish()?;
        Ok(record)
    }
}

/// One stored address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddrEntry {
    /// The address.
    pub(crate) addr: Multiaddr,
    /// When it expires, unix seconds; `u64::MAX` never does.
    pub(crate) expiry: u64,
}

/// A peer's addresses (the address book).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct AddrRecord {
    /// At most [`MAX_ADDRS_PER_PEER`] distinct addresses, each at most [`MAX_ADDR_LEN`] bytes.
    pub(crate) addrs: Vec<AddrEntry>,
}

impl Record for AddrRecord {
    fn encode(&self) -> Vec<u8> {
        let addrs = self.addrs.get(..MAX_ADDRS_PER_PEER).unwrap_or(&self.addrs);
        let mut out =
            Vec::with_capacity(3 + addrs.iter().map(|e| 10 + e.addr.len()).sum::<usize>());
        out.push(V1);
        // At most MAX_ADDRS_PER_PEER (64) entries: fits a u16.
        put_u16(&mut out, addrs.len() as u16);
        for entry in addrs {
            put_u64(&mut out, entry.expiry);
            put_bytes16(&mut out, entry.addr.as_ref());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::versioned(bytes, V1)?;
        let count = usize::from(r.u16()?);
        check_count("addresses", count, MAX_ADDRS_PER_PEER, 10, r.remaining())?;
        let mut addrs = Vec::with_capacity(count);
        for _ in 0..count {
            let expiry = r.u64()?;
            let raw = r.bytes16("multiaddr", MAX_ADDR_LEN)?;
            let addr =
                Multiaddr::try_from(raw.to_vec()).map_err(|_| RecordError::InvalidMultiaddr)?;
            addrs.push(AddrEntry { addr, expiry });
        }
        r.finish()?;
        Ok(Self { addrs })
    }
}

/// A peer's public key (the key book).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRecord {
    /// When the record was last written, unix seconds.
    pub(crate) last_update: u64,
    /// The key; stored as its libp2p protobuf encoding.
    pub(crate) key: PublicKey,
}

impl KeyRecord {
    /// Reads only the last update, leaving the key undecoded: GC needs no more, and decoding
    /// a secp256k1 key validates a curve point (tens of microseconds per record).
    pub(crate) fn decode_last_update(bytes: &[u8]) -> Result<u64, RecordError> {
        Reader::versioned(bytes, V1)?.u64()
    }
}

impl Record for KeyRecord {
    fn encode(&self) -> Vec<u8> {
        let proto = self.key.encode_protobuf();
        let mut out = Vec::with_capacity(9 + proto.len());
        out.push(V1);
        put_u64(&mut out, self.last_update);
        out.extend_from_slice(&proto);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::versioned(bytes, V1)?;
        let last_update = r.u64()?;
        let key =
            PublicKey::try_decode_protobuf(r.rest()).map_err(|_| RecordError::InvalidPublicKey)?;
        Ok(Self { last_update, key })
    }
}

/// A peer's supported protocols (the protocol book).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ProtocolsRecord {
    /// When the record was last written, unix seconds.
    pub(crate) last_update: u64,
    /// At most [`MAX_PROTOCOLS_PER_PEER`] names, each at most [`MAX_TEXT_LEN`] bytes.
    pub(crate) protocols: Vec<String>,
}

impl Record for ProtocolsRecord {
    fn encode(&self) -> Vec<u8> {
        let protocols = self
            .protocols
            .get(..MAX_PROTOCOLS_PER_PEER)
            .unwrap_or(&self.protocols);
        let mut out = Vec::with_capacity(11 + protocols.iter().map(|p| 2 + p.len()).sum::<usize>());
        out.push(V1);
        put_u64(&mut out, self.last_update);
        // At most MAX_PROTOCOLS_PER_PEER (1024) entries: fits a u16.
        put_u16(&mut out, protocols.len() as u16);
        for protocol in protocols {
            put_bytes16(&mut out, protocol.as_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::versioned(bytes, V1)?;
        let last_update = r.u64()?;
        let count = usize::from(r.u16()?);
        check_count("protocols", count, MAX_PROTOCOLS_PER_PEER, 2, r.remaining())?;
        let mut protocols = Vec::with_capacity(count);
        for _ in 0..count {
            protocols.push(r.str16("protocol", MAX_TEXT_LEN)?.to_owned());
        }
        r.finish()?;
        Ok(Self {
            last_update,
            protocols,
        })
    }
}

/// A peer's identify information (the identify book).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct IdentifyRecord {
    /// When the record was last written, unix seconds.
    pub(crate) last_update: u64,
    /// The information.
    pub(crate) info: IdentifyInfo,
}

impl Record for IdentifyRecord {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            13 + self.info.agent_version.len() + self.info.protocol_version.len(),
        );
        out.push(V1);
        put_u64(&mut out, self.last_update);
        put_bytes16(&mut out, self.info.agent_version.as_bytes());
        put_bytes16(&mut out, self.info.protocol_version.as_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::versioned(bytes, V1)?;
        let last_update = r.u64()?;
        let agent_version = r.str16("agent version", MAX_TEXT_LEN)?.to_owned();
        let protocol_version = r.str16("protocol version", MAX_TEXT_LEN)?.to_owned();
        r.finish()?;
        Ok(Self {
            last_update,
            info: IdentifyInfo {
                agent_version,
                protocol_version,
            },
        })
    }
}

/// A peer's op-node metadata (the metadata book).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct MetadataRecord {
    /// When the record was last written, unix seconds.
    pub(crate) last_update: u64,
    /// The metadata.
    pub(crate) metadata: PeerMetadata,
}

impl Record for MetadataRecord {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(19 + self.metadata.enr.len());
        out.push(V1);
        put_u64(&mut out, self.last_update);
        put_u64(&mut out, self.metadata.chain_id);
        put_bytes16(&mut out, self.metadata.enr.as_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::versioned(bytes, V1)?;
        let last_update = r.u64()?;
        let chain_id = r.u64()?;
        let enr = r.str16("ENR", MAX_TEXT_LEN)?.to_owned();
        r.finish()?;
        Ok(Self {
            last_update,
            metadata: PeerMetadata { enr, chain_id },
        })
    }
}

/// A peer's scores (the score book).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct ScoreRecord {
    /// When the record was last written, unix seconds; retention counts from here.
    pub(crate) last_update: u64,
    /// The scores.
    pub(crate) scores: PeerScores,
}

/// Encoded size of a [`ScoreRecord`]: version, `last_update`, ten `f64`s.
const SCORE_RECORD_LEN: usize = 1 + 8 + 10 * 8;

impl Record for ScoreRecord {
    fn encode(&self) -> Vec<u8> {
        let PeerScores { gossip, req_resp } = &self.scores;
        let mut out = Vec::with_capacity(SCORE_RECORD_LEN);
        out.push(V1);
        put_u64(&mut out, self.last_update);
        for v in [
            gossip.total,
            gossip.blocks.time_in_mesh,
            gossip.blocks.first_message_deliveries,
            gossip.blocks.mesh_message_deliveries,
            gossip.blocks.invalid_message_deliveries,
            gossip.ip_colocation_factor,
            gossip.behavioural_penalty,
            req_resp.valid_responses,
            req_resp.error_responses,
            req_resp.rejected_payloads,
        ] {
            put_f64(&mut out, v);
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::versioned(bytes, V1)?;
        let last_update = r.u64()?;
        let gossip = GossipScores {
            total: r.f64()?,
            blocks: BlocksTopicScores {
                time_in_mesh: r.f64()?,
                first_message_deliveries: r.f64()?,
                mesh_message_deliveries: r.f64()?,
                invalid_message_deliveries: r.f64()?,
            },
            ip_colocation_factor: r.f64()?,
            behavioural_penalty: r.f64()?,
        };
        let req_resp = ReqRespScores {
            valid_responses: r.f64()?,
            error_responses: r.f64()?,
            rejected_payloads: r.f64()?,
        };
        r.finish()?;
        Ok(Self {
            last_update,
            scores: PeerScores { gossip, req_resp },
        })
    }
}

/// Rejects a list count above `max`, or one that cannot fit in the bytes left at `min_entry`
/// bytes per entry, before anything is allocated for it.
fn check_count(
    what: &'static str,
    count: usize,
    max: usize,
    min_entry: usize,
    left: usize,
) -> Result<(), RecordError> {
    if count > max {
        return Err(RecordError::LimitExceeded {
            what,
            len: count,
            max,
        });
    }
    let needed = count * min_entry;
    if needed > left {
        return Err(RecordError::Truncated { needed, left });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use libp2p_core::multiaddr::Protocol;
    use libp2p_identity::secp256k1;
    use proptest::{collection::vec, prelude::*};

    use super::*;

    fn arb_text() -> impl Strategy<Value = String> {
        // Multi-byte characters included, so byte and char lengths differ.
        "[a-zA-Z0-9/._é€-]{0,40}"
    }

    fn arb_multiaddr() -> impl Strategy<Value = Multiaddr> {
        (
            any::<[u8; 4]>(),
            any::<[u8; 16]>(),
            any::<u16>(),
            0u8..4,
            "[a-z]{1,20}",
        )
            .prop_map(|(v4, v6, port, kind, host)| {
                let mut addr = Multiaddr::empty();
                match kind {
                    0 => {
                        addr.push(Protocol::Ip4(Ipv4Addr::from(v4)));
                        addr.push(Protocol::Tcp(port));
                    }
                    1 => {
                        addr.push(Protocol::Ip6(Ipv6Addr::from(v6)));
                        addr.push(Protocol::Udp(port));
                        addr.push(Protocol::QuicV1);
                    }
                    2 => {
                        addr.push(Protocol::Dns4(host.into()));
                        addr.push(Protocol::Tcp(port));
                    }
                    _ => addr.push(Protocol::Memory(u64::from(port))),
                }
                addr
            })
    }

    fn arb_public_key() -> impl Strategy<Value = PublicKey> {
        any::<[u8; 32]>().prop_filter_map("not a secp256k1 scalar", |seed| {
            let secret = secp256k1::SecretKey::try_from_bytes(seed).ok()?;
            Some(PublicKey::from(
                secp256k1::Keypair::from(secret).public().clone(),
            ))
        })
    }

    fn arb_scores() -> impl Strategy<Value = PeerScores> {
        vec(any::<f64>(), 10).prop_map(|v| PeerScores {
            gossip: GossipScores {
                total: v[0],
                blocks: BlocksTopicScores {
                    time_in_mesh: v[1],
                    first_message_deliveries: v[2],
                    mesh_message_deliveries: v[3],
                    invalid_message_deliveries: v[4],
                },
                ip_colocation_factor: v[5],
                behavioural_penalty: v[6],
            },
            req_resp: ReqRespScores {
                valid_responses: v[7],
                error_responses: v[8],
                rejected_payloads: v[9],
            },
        })
    }

    /// Round trip, plus: every strict prefix and every extension by one byte is rejected (the
    /// formats are self-delimiting and exact), and re-encoding is byte-identical.
    fn check_round_trip<R: Record + PartialEq + std::fmt::Debug>(
        record: &R,
    ) -> Result<(), TestCaseError> {
        let bytes = record.encode();
        let decoded = R::decode(&bytes);
        prop_assert_eq!(decoded.as_ref(), Ok(record));
        prop_assert_eq!(decoded.map(|d| d.encode()), Ok(bytes.clone()));
        // The key record's protobuf tail is not length-delimited; a protobuf decoder
        // skips unknown trailing fields, so only prefixes are checked for every record.
        for len in 0..bytes.len() {
            prop_assert!(
                R::decode(&bytes[..len]).is_err(),
                "prefix of {} bytes decoded",
                len
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn ban_round_trip(expiry in any::<u64>(), last_update in any::<u64>()) {
            check_round_trip(&BanRecord { expiry, last_update })?;
        }

        #[test]
        fn block_round_trip(since in any::<u64>()) {
            check_round_trip(&BlockRecord { since })?;
        }

        #[test]
        fn addr_round_trip(entries in vec((arb_multiaddr(), any::<u64>()), 0..8)) {
            let addrs = entries.into_iter().map(|(addr, expiry)| AddrEntry { addr, expiry }).collect();
            check_round_trip(&AddrRecord { addrs })?;
        }

        #[test]
        fn key_round_trip(key in arb_public_key(), last_update in any::<u64>()) {
            let record = KeyRecord { last_update, key };
            check_round_trip(&record)?;
            prop_assert_eq!(KeyRecord::decode_last_update(&record.encode()), Ok(last_update));
        }

        #[test]
        fn protocols_round_trip(protocols in vec(arb_text(), 0..8), last_update in any::<u64>()) {
            check_round_trip(&ProtocolsRecord { last_update, protocols })?;
        }

        #[test]
        fn identify_round_trip(agent_version in arb_text(), protocol_version in arb_text(), last_update in any::<u64>()) {
            check_round_trip(&IdentifyRecord { last_update, info: IdentifyInfo { agent_version, protocol_version } })?;
        }

        #[test]
        fn metadata_round_trip(enr in arb_text(), chain_id in any::<u64>(), last_update in any::<u64>()) {
            check_round_trip(&MetadataRecord { last_update, metadata: PeerMetadata { enr, chain_id } })?;
        }

        #[test]
        fn score_round_trip(scores in arb_scores(), last_update in any::<u64>()) {
            check_round_trip(&ScoreRecord { last_update, scores })?;
        }

        #[test]
        fn decoders_never_panic(mut bytes in vec(any::<u8>(), 0..256), version_one in any::<bool>()) {
            // Half the inputs carry the valid version byte, so the field parsers are reached.
            if version_one && !bytes.is_empty() {
                bytes[0] = V1;
            }
            let _ = BanRecord::decode(&bytes);
            let _ = BlockRecord::decode(&bytes);
            let _ = AddrRecord::decode(&bytes);
            let _ = KeyRecord::decode(&bytes);
            let _ = KeyRecord::decode_last_update(&bytes);
            let _ = ProtocolsRecord::decode(&bytes);
            let _ = IdentifyRecord::decode(&bytes);
            let _ = MetadataRecord::decode(&bytes);
            let _ = ScoreRecord::decode(&bytes);
        }
    }

    #[test]
    fn counts_are_checked_before_allocating() {
        // 65535 addresses claimed in a 3-byte value.
        assert_eq!(
            AddrRecord::decode(&[V1, 0xff, 0xff]),
            Err(RecordError::LimitExceeded {
                what: "addresses",
                len: 65535,
                max: MAX_ADDRS_PER_PEER
            })
        );
        assert_eq!(
            AddrRecord::decode(&[V1, 2, 0, 0]),
            Err(RecordError::Truncated {
                needed: 20,
                left: 1
            })
        );
        let mut protocols = vec![V1];
        protocols.extend_from_slice(&[0; 8]);
        protocols.extend_from_slice(&1000u16.to_le_bytes());
        assert_eq!(
            ProtocolsRecord::decode(&protocols),
            Err(RecordError::Truncated {
                needed: 2000,
                left: 0
            })
        );
    }

    #[test]
    fn ban_record_layout_is_fixed() {
        let bytes = BanRecord {
            expiry: 0x0102,
            last_update: 3,
        }
        .encode();
        assert_eq!(bytes, [1, 2, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ScoreRecord::default().encode().len(), SCORE_RECORD_LEN);
    }
}
