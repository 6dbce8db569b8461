//! The `opstack` ENR entry (op-node `OpStackENRData`, spec §10.1): which OP Stack chain a node
//! serves, so discovery never dials a node of another chain.
//!
//! The value is an RLP byte string holding `uvarint(chain id) ++ uvarint(version)`, uvarint being
//! Go's `binary.PutUvarint` (LEB128). op-node always writes version 0; decoding reads the two
//! numbers and ignores whatever follows them. Base mainnet (8453) is `83 85 42 00`.

use alloy_rlp::Header;

/// The ENR key of the entry.
pub const OPSTACK_ENR_KEY: &str = "opstack";

/// The only version op-node writes and accepts (spec §14.7: the written spec says "current or
/// future", op-node's filter requires exactly 0; we follow op-node).
pub const OPSTACK_VERSION: u64 = 0;

/// The longest uvarint Go accepts for a u64 (`binary.MaxVarintLen64`).
const MAX_VARINT_LEN: usize = 10;

/// The content of an `opstack` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpStackEnr {
    /// The L2 chain id.
    pub chain_id: u64,
    /// The entry's version (0 for every op-node).
    pub version: u64,
}

/// Why an `opstack` value did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpStackDecodeError {
    /// The value is not an RLP byte string (a list, a non-canonical header, a truncated one).
    #[error("opstack entry is not an RLP byte string")]
    NotBytes,
    /// A uvarint is cut off.
    #[error("opstack entry: uvarint truncated")]
    Truncated,
    /// A uvarint does not fit a u64 (Go's `binary.ReadUvarint` overflow).
    #[error("opstack entry: uvarint overflows u64")]
    Overflow,
}

impl OpStackEnr {
    /// The entry op-node writes for `chain_id`: version 0.
    pub fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            version: OPSTACK_VERSION,
        }
    }

    /// The payload inside the RLP string: `uvarint(chain id) ++ uvarint(version)`.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 * MAX_VARINT_LEN);
        put_uvarint(&mut out, self.chain_id);
        put_uvarint(&mut out, self.version);
        out
    }

    /// The entry's full value: the payload as an RLP byte string.
    pub fn encode(&self) -> Vec<u8> {
        let payload = self.payload();
        let mut out = Vec::with_capacity(payload.len() + 1);
        alloy_rlp::Encodable::encode(&payload.as_slice(), &mut out);
        out
    }

    /// Decodes an entry's value (its raw RLP, as `Enr::get_raw_rlp` returns it), ignoring
    /// trailing bytes inside the string as op-node does.
    pub fn decode(rlp: &[u8]) -> Result<Self, OpStackDecodeError> {
        let mut buf = rlp;
        let payload =
            Header::decode_bytes(&mut buf, false).map_err(|_| OpStackDecodeError::NotBytes)?;
        let mut rest = payload;
        let chain_id = read_uvarint(&mut rest)?;
        let version = read_uvarint(&mut rest)?;
        Ok(Self { chain_id, version })
    }
}

/// Go's `binary.PutUvarint`. Hand-written because Go's decoder also accepts non-minimal
/// encodings (which the `unsigned-varint` crate refuses), and matching op-node byte for byte
/// matters more here than reuse: the whole codec is a dozen lines.
fn put_uvarint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Go's `binary.ReadUvarint`: LEB128, at most 10 bytes, the 10th at most 1; non-minimal forms
/// accepted.
fn read_uvarint(buf: &mut &[u8]) -> Result<u64, OpStackDecodeError> {
    let mut value = 0u64;
    let mut shift = 0u32;
    for index in 0..MAX_VARINT_LEN {
        let (&byte, rest) = buf.split_first().ok_or(OpStackDecodeError::Truncated)?;
        *buf = rest;
        if byte < 0x80 {
            if index == MAX_VARINT_LEN - 1 && byte > 1 {
                return Err(OpStackDecodeError::Overflow);
            }
            return Ok(value | (u64::from(byte) << shift));
        }
        value |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    Err(OpStackDecodeError::Overflow)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn base_mainnet_is_op_nodes_bytes() {
        assert_eq!(OpStackEnr::new(8453).encode(), [0x83, 0x85, 0x42, 0x00]);
        assert_eq!(
            OpStackEnr::decode(&[0x83, 0x85, 0x42, 0x00]),
            Ok(OpStackEnr::new(8453))
        );
        // OP Mainnet: chain 10 is a single byte, version 0 another: a two-byte string.
        assert_eq!(OpStackEnr::new(10).encode(), [0x82, 0x0a, 0x00]);
    }

    #[test]
    fn trailing_bytes_are_ignored_and_bad_values_refused() {
        assert_eq!(
            OpStackEnr::decode(&[0x85, 0x85, 0x42, 0x01, 0xff, 0xff]),
            Ok(OpStackEnr {
                chain_id: 8453,
                version: 1
            })
        );
        // Go accepts a non-minimal uvarint (0x80 0x00 = 0).
        assert_eq!(
            OpStackEnr::decode(&[0x83, 0x0a, 0x80, 0x00]),
            Ok(OpStackEnr::new(10))
        );
        assert_eq!(
            OpStackEnr::decode(&[0x81]),
            Err(OpStackDecodeError::NotBytes)
        );
        assert_eq!(
            OpStackEnr::decode(&[0xc2, 0x0a, 0x00]),
            Err(OpStackDecodeError::NotBytes)
        );
        assert_eq!(
            OpStackEnr::decode(&[0x81, 0x85]),
            Err(OpStackDecodeError::Truncated)
        );
        assert_eq!(
            OpStackEnr::decode(&[0x82, 0x0a, 0x80]),
            Err(OpStackDecodeError::Truncated)
        );
        let mut overflow = vec![0x8a];
        overflow.extend([0xff; 9]);
        overflow.push(0x02);
        assert_eq!(
            OpStackEnr::decode(&overflow),
            Err(OpStackDecodeError::Overflow)
        );
        let mut max = vec![0x8a];
        max.extend([0xff; 9]);
        max.push(0x01);
        assert_eq!(
            OpStackEnr::decode(&max),
            Err(OpStackDecodeError::Truncated),
            "u64::MAX decodes; the version is then missing"
        );
    }

    proptest! {
        #[test]
        fn round_trips(chain_id in any::<u64>(), version in any::<u64>(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
            let entry = OpStackEnr { chain_id, version };
            prop_assert_eq!(OpStackEnr::decode(&entry.encode()), Ok(entry));
            let mut payload = entry.payload();
            payload.extend(tail);
            let mut rlp = Vec::new();
            alloy_rlp::Encodable::encode(&payload.as_slice(), &mut rlp);
            prop_assert_eq!(OpStackEnr::decode(&rlp), Ok(entry));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = OpStackEnr::decode(&bytes);
        }
    }
}
