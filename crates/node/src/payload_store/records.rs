//! The payload store's column families and byte layouts. Every value starts with a format
//! version byte, so a later layout can be read next to this one.

use op_p2p_types::{B256, Bytes, ExecutionPayloadEnvelope, PayloadVersion};

use op_p2p_types::BlockRef;

/// Block hash → the payload: `[1][payload version 1..=4][envelope SSZ]` (the SSZ the gossip
/// message signs: parent beacon root ++ payload for V3/V4).
pub(crate) const PAYLOADS_CF: &str = "payloads";
/// Block number (8 bytes big-endian, so keys sort by number) → the block the unsafe chain has
/// at that height: `[2][hash 32][parent 32][timestamp u64][origin u8][received_us u64]`
/// (format 1, still read, had the receive time in milliseconds).
pub(crate) const PAYLOAD_INDEX_CF: &str = "payload_index";
/// Fixed keys: [`HEAD_KEY`], [`COUNTS_KEY`] and [`PRUNED_BELOW_KEY`].
pub(crate) const PAYLOAD_META_CF: &str = "payload_meta";
/// Block number (8 bytes big-endian) ++ block hash (32) → nothing: every payload in
/// [`PAYLOADS_CF`] but the genesis block's, by height, so pruning finds the payloads the index
/// does not name (reorged out, off our chain, replaced while waiting above the head). Payloads
/// stored by builds before it have no record here; pruning reaches those through the index.
pub(crate) const PAYLOAD_HEIGHTS_CF: &str = "payload_heights";
/// The payload store's column families, created in the node's peer-store database.
pub(crate) const COLUMN_FAMILIES: [&str; 4] = [
    PAYLOADS_CF,
    PAYLOAD_INDEX_CF,
    PAYLOAD_META_CF,
    PAYLOAD_HEIGHTS_CF,
];

/// The unsafe head: `[1][number u64][hash 32][parent 32][timestamp u64]`.
pub(crate) const HEAD_KEY: &[u8] = b"unsafe_head";
/// Payloads stored, by origin: `[1][local u64][gossip u64][sync u64]`.
pub(crate) const COUNTS_KEY: &[u8] = b"counts";
/// Where pruning has got to: `[1][number u64]`, every height above genesis and below it is
/// gone. Absent: nothing pruned yet.
pub(crate) const PRUNED_BELOW_KEY: &[u8] = b"pruned_below";

/// The record format this build writes (and reads) for every value but index entries.
const FORMAT: u8 = 1;
/// The index entry format this build writes: the receive time in microseconds.
const INDEX_FORMAT: u8 = 2;
/// The index entry format of earlier builds, read still: the receive time in milliseconds.
const INDEX_FORMAT_MS: u8 = 1;

/// How a payload reached the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Origin {
    /// Built by this node's sequencer.
    Local,
    /// Accepted from gossip.
    Gossip,
    /// Fetched with payload_by_number.
    Sync,
    /// The L2 genesis block, stored at startup (the devnet's; see
    /// [`super::PayloadStore::store_genesis`]). Not counted in [`Counts`].
    Genesis,
}

impl Origin {
    const fn byte(self) -> u8 {
        match self {
            Self::Local => 0,
            Self::Gossip => 1,
            Self::Sync => 2,
            Self::Genesis => 3,
        }
    }

    const fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Local),
            1 => Some(Self::Gossip),
            2 => Some(Self::Sync),
            3 => Some(Self::Genesis),
            _ => None,
        }
    }

    /// The name used in logs and the status file.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Gossip => "gossip",
            Self::Sync => "sync",
            Self::Genesis => "genesis",
        }
    }
}

/// One height of the unsafe chain index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    /// The block.
    pub(crate) block: BlockRef,
    /// How it arrived.
    pub(crate) origin: Origin,
    /// When it arrived, unix microseconds.
    pub(crate) received_us: u64,
}

/// Stored payloads by origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counts {
    /// Built here.
    pub(crate) local: u64,
    /// From gossip.
    pub(crate) gossip: u64,
    /// From payload_by_number.
    pub(crate) sync: u64,
}

impl Counts {
    /// Counts one more payload from `origin`.
    pub(crate) fn add(&mut self, origin: Origin) {
        let n = match origin {
            Origin::Local => &mut self.local,
            Origin::Gossip => &mut self.gossip,
            Origin::Sync => &mut self.sync,
            Origin::Genesis => return,
        };
        *n = n.saturating_add(1);
    }
}

/// The key of block `number` in [`PAYLOAD_INDEX_CF`].
pub(crate) const fn number_key(number: u64) -> [u8; 8] {
    number.to_be_bytes()
}

/// The number in an index key.
pub(crate) fn number_of_key(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// The key of the payload `hash` at `number` in [`PAYLOAD_HEIGHTS_CF`]; all of one height sort
/// together, heights in order, so the [`number_key`]s of two heights bound the keys between.
pub(crate) fn height_key(number: u64, hash: &B256) -> [u8; 40] {
    let mut key = [0; 40];
    key[..8].copy_from_slice(&number_key(number));
    key[8..].copy_from_slice(hash.as_slice());
    key
}

/// The block hash in a [`height_key`].
pub(crate) fn hash_of_height_key(key: &[u8]) -> Option<B256> {
    let bytes: &[u8; 40] = key.try_into().ok()?;
    Some(B256::from_slice(&bytes[8..]))
}

/// Encodes the pruning mark.
pub(crate) fn encode_pruned_below(number: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    out.push(FORMAT);
    out.extend_from_slice(&number.to_le_bytes());
    out
}

/// Decodes the pruning mark.
pub(crate) fn decode_pruned_below(value: &[u8]) -> Option<u64> {
    let mut r = Reader(value);
    if r.byte()? != FORMAT {
        return None;
    }
    let number = r.u64()?;
    r.done().then_some(number)
}

/// A little cursor over a value.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_le_bytes)
    }

    fn b256(&mut self) -> Option<B256> {
        self.take::<32>().map(B256::from)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| b)
    }

    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

/// Encodes a payload record.
pub(crate) fn encode_payload(envelope: &ExecutionPayloadEnvelope) -> Vec<u8> {
    let mut out = vec![FORMAT, envelope.version() as u8];
    envelope.encode_ssz_to(&mut out);
    out
}

/// Decodes a payload record; `None` if it is not one.
pub(crate) fn decode_payload(value: &[u8]) -> Option<ExecutionPayloadEnvelope> {
    let [format, version, ssz @ ..] = value else {
        return None;
    };
    if *format != FORMAT {
        return None;
    }
    let version = PayloadVersion::ALL
        .into_iter()
        .find(|v| *v as u8 == *version)?;
    ExecutionPayloadEnvelope::decode_ssz(version, &Bytes::copy_from_slice(ssz)).ok()
}

/// Encodes an index entry (the number is the key).
pub(crate) fn encode_entry(entry: &IndexEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(82);
    out.push(INDEX_FORMAT);
    out.extend_from_slice(entry.block.hash.as_slice());
    out.extend_from_slice(entry.block.parent_hash.as_slice());
    out.extend_from_slice(&entry.block.timestamp.to_le_bytes());
    out.push(entry.origin.byte());
    out.extend_from_slice(&entry.received_us.to_le_bytes());
    out
}

/// Decodes the index entry of block `number`.
pub(crate) fn decode_entry(number: u64, value: &[u8]) -> Option<IndexEntry> {
    let mut r = Reader(value);
    let format = r.byte()?;
    if format != INDEX_FORMAT && format != INDEX_FORMAT_MS {
        return None;
    }
    let hash = r.b256()?;
    let parent_hash = r.b256()?;
    let timestamp = r.u64()?;
    let origin = Origin::from_byte(r.byte()?)?;
    let received = r.u64()?;
    let received_us = if format == INDEX_FORMAT_MS {
        received.saturating_mul(1000)
    } else {
        received
    };
    r.done().then_some(IndexEntry {
        block: BlockRef {
            number,
            hash,
            parent_hash,
            timestamp,
        },
        origin,
        received_us,
    })
}

/// Encodes the head record.
pub(crate) fn encode_head(head: &BlockRef) -> Vec<u8> {
    let mut out = Vec::with_capacity(81);
    out.push(FORMAT);
    out.extend_from_slice(&head.number.to_le_bytes());
    out.extend_from_slice(head.hash.as_slice());
    out.extend_from_slice(head.parent_hash.as_slice());
    out.extend_from_slice(&head.timestamp.to_le_bytes());
    out
}

/// Decodes the head record.
pub(crate) fn decode_head(value: &[u8]) -> Option<BlockRef> {
    let mut r = Reader(value);
    if r.byte()? != FORMAT {
        return None;
    }
    let head = BlockRef {
        number: r.u64()?,
        hash: r.b256()?,
        parent_hash: r.b256()?,
        timestamp: r.u64()?,
    };
    r.done().then_some(head)
}

/// Encodes the counters.
pub(crate) fn encode_counts(counts: &Counts) -> Vec<u8> {
    let mut out = Vec::with_capacity(25);
    out.push(FORMAT);
    for n in [counts.local, counts.gossip, counts.sync] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out
}

/// Decodes the counters.
pub(crate) fn decode_counts(value: &[u8]) -> Option<Counts> {
    let mut r = Reader(value);
    if r.byte()? != FORMAT {
        return None;
    }
    let counts = Counts {
        local: r.u64()?,
        gossip: r.u64()?,
        sync: r.u64()?,
    };
    r.done().then_some(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_reject_other_formats() {
        let entry = IndexEntry {
            block: BlockRef {
                number: 9,
                hash: B256::repeat_byte(1),
                parent_hash: B256::repeat_byte(2),
                timestamp: 77,
            },
            origin: Origin::Sync,
            received_us: 1_234,
        };
        let bytes = encode_entry(&entry);
        assert_eq!(bytes.len(), 82);
        assert_eq!(decode_entry(9, &bytes), Some(entry));
        assert_eq!(decode_entry(9, &bytes[1..]), None);
        let mut other = bytes.clone();
        other[0] = 3;
        assert_eq!(decode_entry(9, &other), None);
        // An entry written by an earlier build: format 1, milliseconds.
        let mut old = bytes;
        old[0] = 1;
        assert_eq!(
            decode_entry(9, &old).map(|e| e.received_us),
            Some(1_234_000)
        );

        assert_eq!(decode_head(&encode_head(&entry.block)), Some(entry.block));
        let counts = Counts {
            local: 1,
            gossip: 2,
            sync: 3,
        };
        assert_eq!(decode_counts(&encode_counts(&counts)), Some(counts));
        assert_eq!(number_of_key(&number_key(42)), Some(42));
        assert!(number_key(1) < number_key(256), "keys sort by number");

        let hash = B256::repeat_byte(0xff);
        let key = height_key(255, &hash);
        assert_eq!(hash_of_height_key(&key), Some(hash));
        assert_eq!(hash_of_height_key(&key[1..]), None);
        assert!(number_key(255).as_slice() <= key.as_slice());
        assert!(
            key.as_slice() < number_key(256).as_slice(),
            "a height sorts below the next"
        );
        assert_eq!(decode_pruned_below(&encode_pruned_below(77)), Some(77));
        assert_eq!(decode_pruned_below(&encode_pruned_below(77)[1..]), None);
    }
}
