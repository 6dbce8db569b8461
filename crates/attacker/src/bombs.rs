//! Kind `snappy-bomb`: gossip messages that break the size rules of the blocks topics (spec §4:
//! the snappy header's decoded length ≤ 10 MiB, the raw frame ≤ 10 MiB, the decoded message ≥
//! 65 + payload bytes). Every message carries a counter, so none is a duplicate that gossipsub
//! would drop before validation.

/// op-node's `maxGossipSize`: the frame cap and the decoded-length cap.
pub(crate) const MAX_GOSSIP_SIZE: usize = 10 * 1024 * 1024;
/// What the header of a header bomb claims: the ~428 MiB of the 2026 incident.
const BOMB_CLAIM: u64 = 428 * 1024 * 1024;
/// Room for gossipsub's protobuf envelope inside the 10 MiB frame (topic, field tags, and
/// whatever control messages share the RPC: 4 KiB was measured to be too little).
const ENVELOPE_ROOM: usize = 64 * 1024;

/// The shapes, sent round robin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A snappy header claiming [`BOMB_CLAIM`] bytes, then junk up to just under the frame cap:
    /// the most bytes a receiver reads per message without its codec refusing the frame.
    HeaderBomb,
    /// Valid snappy of 10 MiB + 1 bytes (small on the wire): one byte over the decoded cap.
    OverByOne,
    /// A frame of 10 MiB + 1 bytes: over gossipsub's `max_transmit_size`, refused by the codec.
    OversizedFrame,
    /// Messages too small to hold a signature: empty, a zero length, an unterminated varint,
    /// and valid snappy of 64 bytes.
    Tiny,
}

impl Shape {
    /// The shapes of kind `snappy-bomb`, in sending order: the ones a receiver's codec lets
    /// through, so the sender keeps its stream (an oversized frame makes the receiver drop the
    /// stream, and after a few the sender's gossipsub gives up on the connection).
    pub(crate) const BOMBS: [Self; 3] = [Self::HeaderBomb, Self::OverByOne, Self::Tiny];
    /// Kind `oversized-frame`.
    pub(crate) const OVERSIZED: [Self; 1] = [Self::OversizedFrame];

    /// The `n`-th message of this shape.
    pub(crate) fn message(self, n: u64) -> Vec<u8> {
        match self {
            Self::HeaderBomb => {
                let mut data = varint(BOMB_CLAIM);
                data.extend_from_slice(&n.to_le_bytes());
                data.resize(MAX_GOSSIP_SIZE - ENVELOPE_ROOM, 0xa5);
                data
            }
            Self::OverByOne => compress(MAX_GOSSIP_SIZE + 1, n),
            Self::OversizedFrame => {
                let mut data = n.to_le_bytes().to_vec();
                data.resize(MAX_GOSSIP_SIZE + 1, 0x5a);
                data
            }
            Self::Tiny => match n % 4 {
                0 => Vec::new(),
                1 => vec![0x00],
                2 => vec![0x80, 0x80, 0x80],
                _ => compress(64, n),
            },
        }
    }
}

/// Snappy (block format) of `len` bytes that start with the counter `n`.
fn compress(len: usize, n: u64) -> Vec<u8> {
    let mut raw = vec![0u8; len];
    let head = n.to_le_bytes();
    let k = head.len().min(len);
    raw[..k].copy_from_slice(&head[..k]);
    // Only fails for inputs above snappy's 4 GiB limit.
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// An unsigned LEB128 varint (snappy's length header).
fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_break_the_rule_they_name() {
        let header = Shape::HeaderBomb.message(1);
        assert!(header.len() < MAX_GOSSIP_SIZE);
        let claimed = snap::raw::decompress_len(&header).unwrap();
        assert_eq!(claimed as u64, BOMB_CLAIM);

        let over = Shape::OverByOne.message(2);
        assert!(over.len() < MAX_GOSSIP_SIZE / 10);
        assert_eq!(
            snap::raw::decompress_len(&over).unwrap(),
            MAX_GOSSIP_SIZE + 1
        );

        assert_eq!(Shape::OversizedFrame.message(3).len(), MAX_GOSSIP_SIZE + 1);

        for n in 0..4 {
            let tiny = Shape::Tiny.message(n);
            let decoded = snap::raw::decompress_len(&tiny).unwrap_or(0);
            assert!(decoded < 65, "{n}: {decoded}");
        }
        // Distinct per counter, so no message is a duplicate.
        assert_ne!(Shape::OverByOne.message(1), Shape::OverByOne.message(2));
        assert_ne!(Shape::HeaderBomb.message(1), Shape::HeaderBomb.message(2));
    }
}
