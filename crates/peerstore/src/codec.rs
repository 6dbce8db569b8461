//! The byte-level helpers every record format is written with.
//!
//! Values are hand-written, versioned binary: the first byte is the record's format version,
//! then fixed-width little-endian fields and `u16`-length-prefixed byte strings. Why not a serde
//! format crate: the layout is a handful of fixed fields that must stay byte-stable on disk
//! across releases and dependency upgrades, a hand-written layout says exactly what is on disk
//! (and the README documents it), and encoding is a few `extend_from_slice` calls with no
//! allocation beyond the output. Decoding checks every length against the bytes actually left
//! before allocating, so a corrupt value costs at most its own size.

use crate::error::RecordError;

/// Appends a `u64`, little-endian.
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends an `f64` as its IEEE-754 bits, little-endian (exact round trip, NaN included).
pub(crate) fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

/// Appends a `u16`, little-endian.
pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a byte string with a `u16` length prefix. Callers check lengths against their
/// limits (all below `u16::MAX`) before encoding; a longer string is cut at `u16::MAX` rather
/// than written with a wrong prefix.
pub(crate) fn put_bytes16(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    put_u16(out, len);
    out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or(bytes));
}

/// A cursor over one stored value.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Checks the format version byte and returns a reader over the rest.
    pub(crate) fn versioned(bytes: &'a [u8], version: u8) -> Result<Self, RecordError> {
        match bytes.split_first() {
            None => Err(RecordError::Empty),
            Some((&v, rest)) if v == version => Ok(Self { buf: rest }),
            Some((&v, _)) => Err(RecordError::UnknownVersion(v)),
        }
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.buf.len() < n {
            return Err(RecordError::Truncated {
                needed: n,
                left: self.buf.len(),
            });
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let bytes = self.take(N)?;
        let mut arr = [0u8; N];
        arr.copy_from_slice(bytes);
        Ok(arr)
    }

    /// Reads a little-endian `u16`.
    pub(crate) fn u16(&mut self) -> Result<u16, RecordError> {
        self.array().map(u16::from_le_bytes)
    }

    /// Reads a little-endian `u64`.
    pub(crate) fn u64(&mut self) -> Result<u64, RecordError> {
        self.array().map(u64::from_le_bytes)
    }

    /// Reads a little-endian `f64`.
    pub(crate) fn f64(&mut self) -> Result<f64, RecordError> {
        self.u64().map(f64::from_bits)
    }

    /// Reads a `u16`-length-prefixed byte string of at most `max` bytes.
    pub(crate) fn bytes16(
        &mut self,
        what: &'static str,
        max: usize,
    ) -> Result<&'a [u8], RecordError> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(RecordError::LimitExceeded { what, len, max });
        }
        self.take(len)
    }

    /// Reads a `u16`-length-prefixed UTF-8 string of at most `max` bytes.
    pub(crate) fn str16(&mut self, what: &'static str, max: usize) -> Result<&'a str, RecordError> {
        std::str::from_utf8(self.bytes16(what, max)?).map_err(|_| RecordError::InvalidUtf8)
    }

    /// The bytes not yet read, consuming them.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Bytes left.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Fails if bytes remain: a value must be exactly its fields.
    pub(crate) fn finish(self) -> Result<(), RecordError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(RecordError::TrailingBytes(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_checks_version_lengths_and_trailing_bytes() {
        assert_eq!(Reader::versioned(&[], 1).unwrap_err(), RecordError::Empty);
        assert_eq!(
            Reader::versioned(&[2], 1).unwrap_err(),
            RecordError::UnknownVersion(2)
        );
        let mut r = Reader::versioned(&[1, 5, 0, b'a'], 1).unwrap();
        assert_eq!(
            r.bytes16("x", 10).unwrap_err(),
            RecordError::Truncated { needed: 5, left: 1 }
        );
        let mut r = Reader::versioned(&[1, 5, 0], 1).unwrap();
        assert_eq!(
            r.bytes16("x", 4).unwrap_err(),
            RecordError::LimitExceeded {
                what: "x",
                len: 5,
                max: 4
            }
        );
        let mut r = Reader::versioned(&[1, 1, 0, 0xff, 9], 1).unwrap();
        assert_eq!(r.str16("x", 4).unwrap_err(), RecordError::InvalidUtf8);
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.finish().unwrap_err(), RecordError::TrailingBytes(1));
    }

    #[test]
    fn writers_are_little_endian() {
        let mut out = Vec::new();
        put_u64(&mut out, 0x0102_0304_0506_0708);
        put_u16(&mut out, 0x0a0b);
        put_bytes16(&mut out, b"hi");
        put_f64(&mut out, 1.0);
        assert_eq!(
            out,
            [
                8, 7, 6, 5, 4, 3, 2, 1, 0x0b, 0x0a, 2, 0, b'h', b'i', 0, 0, 0, 0, 0, 0, 0xf0, 0x3f
            ]
        );
    }
}
