//! Bounded reading: whole streams and snappy framed bodies read into buffers that never grow
//! past their cap, whatever the peer sends or claims.

use std::io;

use futures::{AsyncRead, AsyncReadExt};
use op_p2p_types::read_window;

/// Reads `io` to EOF into a buffer of at most `max` bytes; `Ok(None)` if the stream has more
/// (at most `max + 1` bytes are ever read or allocated).
pub(crate) async fn read_to_end_capped<R: AsyncRead + Unpin>(
    io: &mut R,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    let limit = max.saturating_add(1);
    let mut buf = Vec::new();
    loop {
        let Some(window) = read_window(&mut buf, limit) else {
            return Ok(None);
        };
        let start = window.start;
        let n = match io.read(&mut buf[window]).await {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        buf.truncate(start + n);
        if n == 0 {
            return Ok(Some(buf));
        }
    }
}

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
pub(crate) async fn read_full<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match io.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use futures::{executor::block_on, io::Cursor};
    use op_p2p_types::{ResponseError, encode_framed};

    use super::*;

    #[test]
    fn reads_whole_streams_up_to_the_cap() {
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let read = block_on(read_to_end_capped(&mut Cursor::new(&data), data.len())).unwrap();
        assert_eq!(read.as_deref(), Some(&data[..]));
        let over = block_on(read_to_end_capped(&mut Cursor::new(&data), data.len() - 1)).unwrap();
        assert_eq!(over, None);
        let empty = block_on(read_to_end_capped(&mut Cursor::new(&[]), 10)).unwrap();
        assert_eq!(empty, Some(vec![]));
        // A zero cap reads nothing but detects one byte.
        assert_eq!(
            block_on(read_to_end_capped(&mut Cursor::new(&[1]), 0)).unwrap(),
            None
        );
    }

    #[test]
    fn buffers_never_exceed_the_cap() {
        let mut buf = Vec::new();
        let limit = 100_001;
        while let Some(w) = read_window(&mut buf, limit) {
            let end = w.end;
            buf.truncate(end);
            assert!(buf.capacity() <= limit);
        }
        assert_eq!(buf.len(), limit);
    }

    #[test]
    fn unframes_with_the_decoded_cap() {
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8).collect();
        let framed = encode_framed(&body);
        assert_eq!(
            op_p2p_types::decode_framed(&framed, body.len()).unwrap(),
            body
        );
        assert_eq!(
            op_p2p_types::decode_framed(&framed, body.len() - 1),
            Err(ResponseError::DecodedTooLarge(body.len() - 1))
        );
        assert!(matches!(
            op_p2p_types::decode_framed(&framed[..framed.len() - 1], body.len()),
            Err(ResponseError::Framing(_))
        ));
    }

    #[test]
    fn read_full_stops_at_eof() {
        let mut buf = [0u8; 9];
        let n = block_on(read_full(&mut Cursor::new(&[1, 2, 3]), &mut buf)).unwrap();
        assert_eq!(n, 3);
        assert_eq!(&buf[..3], &[1, 2, 3]);
    }
}
