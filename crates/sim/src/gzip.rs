//! Gzip bodies for the `gzip` and `gzip_bomb` faults.

use std::io::Write;

use flate2::write::{DeflateEncoder, GzEncoder};
use flate2::{Compression, Crc};

/// What a bomb inflates to: spaces keep a streaming JSON parser reading (it skips
/// whitespace) until the client's own size limit stops it.
const FILL: u8 = b' ';

/// Bombs are built from this many filler bytes at a time; bigger than deflate's
/// 32 KiB window so a repeated piece only ever refers back to filler.
const PIECE: usize = 4 << 20;

/// `body` as a gzip stream.
pub(crate) fn compress(body: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        Compression::default(),
    );
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(body);
    gz.finish().unwrap_or_default()
}

/// A gzip stream that inflates to `size` filler bytes, without ever holding them.
///
/// Deflate blocks after a sync flush start on a byte boundary, and a block that only
/// copies from the previous 32 KiB of filler means the same thing wherever it
/// stands. So one piece is compressed once and its bytes are repeated: 4 GiB costs
/// about 4 MB and a few milliseconds instead of compressing 4 GiB.
pub(crate) fn bomb(size: u64) -> Vec<u8> {
    let piece = vec![FILL; PIECE];
    let mut deflate = DeflateEncoder::new(Vec::new(), Compression::best());
    let mut out = Vec::with_capacity((size / 1000) as usize + 1024);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
    let mut crc = Crc::new();

    let rest = (size % PIECE as u64) as usize;
    let pieces = size / PIECE as u64;
    if pieces >= 2 {
        // The first piece has no history to copy from; the second has nothing
        // but filler behind it, as every repetition will.
        let _ = deflate.write_all(&piece);
        let _ = deflate.flush();
        out.append(deflate.get_mut());
        let _ = deflate.write_all(&piece);
        let _ = deflate.flush();
        let repeated = std::mem::take(deflate.get_mut());
        for _ in 1..pieces {
            out.extend_from_slice(&repeated);
        }
        let mut piece_crc = Crc::new();
        piece_crc.update(&piece);
        for _ in 0..pieces {
            crc.combine(&piece_crc);
        }
        let _ = deflate.write_all(&piece[..rest]);
        crc.update(&piece[..rest]);
    } else {
        for _ in 0..pieces {
            let _ = deflate.write_all(&piece);
            crc.update(&piece);
        }
        let _ = deflate.write_all(&piece[..rest]);
        crc.update(&piece[..rest]);
    }
    out.extend_from_slice(&deflate.finish().unwrap_or_default());
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the size modulo 2^32 (RFC 1952).
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out
}
