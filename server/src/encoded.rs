//! Answers kept encoded as served: the JSON and, once, its gzip, so a large answer asked for
//! again (hot spots at scale 20 are megabytes of GeoJSON) is not compressed again for each
//! request on the async runtime. Also the gzip of the vector tiles and the reading of
//! `Accept-Encoding` they share.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// A JSON answer and its gzip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The JSON text.
    pub json: Bytes,
    /// The same, gzipped.
    pub gzip: Bytes,
}

impl Encoded {
    /// `json` and its gzip (CPU-bound for a large answer: call it off the async runtime).
    pub fn new(json: String) -> Self {
        let gzip = gzip(json.as_bytes());
        Self { json: Bytes::from(json), gzip }
    }

    /// The answer of `content_type` for a request with headers `req`: gzipped when it accepts
    /// gzip (the compression layer leaves an encoded answer alone), never cached unchecked.
    pub fn respond(&self, req: &HeaderMap, content_type: &'static str) -> Response {
        respond_with(req, content_type, || self.gzip.clone(), || self.json.clone())
    }
}

/// The answer of `content_type` for a request with headers `req`: `gzip()` with its encoding
/// said when the request accepts gzip (the compression layer leaves an encoded answer alone),
/// else `json()`; never cached unchecked. Only the body sent is made.
pub fn respond_with(
    req: &HeaderMap,
    content_type: &'static str,
    gzip: impl FnOnce() -> Bytes,
    json: impl FnOnce() -> Bytes,
) -> Response {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if accepts_gzip(req) {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (h, gzip()).into_response()
    } else {
        (h, json()).into_response()
    }
}

/// Whether `Accept-Encoding` allows gzip (`gzip` or `*` with a non-zero q).
pub fn accepts_gzip(req: &HeaderMap) -> bool {
    req.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q =
            parts.filter_map(|p| p.trim().strip_prefix("q=")).find_map(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
        (coding == "gzip" || coding == "x-gzip" || coding == "*") && q > 0.0
    })
}

/// Level 2 of zlib-rs (its "fast" strategy): on the scale-20 city's grid tiles about 2% larger
/// than level 6 in 35% less time; level 1 ("quick", static Huffman codes only) is faster still but
/// 16% larger, which phones on mobile data pay for.
const GZIP_LEVEL: u32 = 2;

thread_local! {
    /// A deflate stream per thread, reset for each use: setting one up allocates and clears some
    /// 256 KiB of tables, which costs more than compressing a small tile.
    static DEFLATE: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::new(GZIP_LEVEL), false));
}

/// Bodies of at least two pieces of this size are deflated piece by piece on every core, as
/// pigz does (each piece without the one before as its dictionary: some bytes larger, about
/// half the time on two cores for a city's hot spots, 16 MiB of JSON).
const PIECE: usize = 4 << 20;

/// Deflates `piece` onto `out` with this thread's stream: the last piece ends the stream, an
/// earlier one ends on a byte boundary (a sync flush: an empty stored block), so that pieces
/// deflated apart, one after another, are one deflate stream. False if deflate failed.
fn deflate_piece(piece: &[u8], last: bool, out: &mut Vec<u8>) -> bool {
    let flush = if last { flate2::FlushCompress::Finish } else { flate2::FlushCompress::Sync };
    DEFLATE.with_borrow_mut(|d| {
        d.reset();
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(64));
            }
            let read = d.total_in() as usize;
            match d.compress_vec(&piece[read..], out, flush) {
                Ok(flate2::Status::StreamEnd) => return true,
                // A sync flush is done once all is read and the output was not filled.
                Ok(_) if !last && d.total_in() as usize == piece.len() && out.len() < out.capacity() => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    })
}

/// Bytes deflated on their own as one piece of a longer gzip member ([`gzip_of`]): ended on a
/// byte boundary, so pieces deflated apart (in parallel, or kept from an earlier answer whose
/// part they were) are one deflate stream one after another, with their CRC-32 and length.
#[derive(Debug, Clone)]
pub struct Piece {
    deflated: Bytes,
    crc: crc32fast::Hasher,
    len: usize,
}

impl Piece {
    /// `bytes` deflated as a piece (CPU-bound: about a millisecond for 100 KB of JSON).
    pub fn new(bytes: &[u8]) -> Self {
        let mut deflated = Vec::with_capacity(bytes.len() / 2 + 64);
        if !deflate_piece(bytes, false, &mut deflated) {
            // Not seen: deflate into a growing vector does not fail. Stored (uncompressed)
            // blocks, to be sure, end on a byte boundary as a sync flush does.
            deflated = stored(bytes);
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(bytes);
        Self { deflated: Bytes::from(deflated), crc, len: bytes.len() }
    }

    /// Its deflated size.
    pub fn deflated_len(&self) -> usize {
        self.deflated.len()
    }
}

/// `bytes` as non-final stored deflate blocks (RFC 1951, 3.2.4): deflate that cannot fail.
fn stored(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 5 * (bytes.len() / 65_535 + 1));
    for chunk in bytes.chunks(65_535).chain(bytes.is_empty().then_some(&[][..])) {
        let n = chunk.len() as u16;
        out.push(0);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// One gzip member (RFC 1952) of `pieces`, then `last`: header, the pieces' deflate, `last`
/// deflated to the stream's end, and the CRC-32 and length of it all, combined from the pieces'.
pub fn gzip_of<'a>(pieces: impl IntoIterator<Item = &'a Piece>, last: &[u8]) -> Bytes {
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let pieces: Vec<&Piece> = pieces.into_iter().collect();
    let size = pieces.iter().map(|p| p.deflated.len()).sum::<usize>() + last.len() / 2 + 64;
    let mut out = Vec::with_capacity(HEADER.len() + size);
    out.extend_from_slice(&HEADER);
    let (mut crc, mut len) = (crc32fast::Hasher::new(), 0usize);
    for p in pieces {
        out.extend_from_slice(&p.deflated);
        crc.combine(&p.crc);
        len += p.len;
    }
    let mark = out.len();
    if !deflate_piece(last, true, &mut out) {
        // Not seen (as above): `last` stored, then an empty final stored block.
        out.truncate(mark);
        out.extend_from_slice(&stored(last));
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    crc.update(last);
    len += last.len();
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    // ISIZE is the length modulo 2^32.
    out.extend_from_slice(&(len as u32).to_le_bytes());
    Bytes::from(out)
}

/// `bytes` as a gzip member (RFC 1952): header, raw deflate, CRC-32 and length.
pub fn gzip(bytes: &[u8]) -> Bytes {
    use rayon::prelude::*;
    if bytes.len() < 2 * PIECE {
        return gzip_of([], bytes);
    }
    let last = (bytes.len() - 1) / PIECE * PIECE;
    let pieces: Vec<Piece> = bytes[..last].par_chunks(PIECE).map(Piece::new).collect();
    gzip_of(&pieces, &bytes[last..])
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use axum::http::HeaderName;

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn gzip_round_trips_with_one_stream_reused() {
        use std::io::Read;
        let big: Vec<u8> = (0..300_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        // In pieces: text-like bytes over two, three and a half, and exactly three pieces.
        let (mut x, alphabet) = (0x2545_f491_4f6c_dd1d_u64, b"0123456789.,:{}[]\"abcdefghij");
        let huge: Vec<u8> = (0..3 * PIECE + PIECE / 2)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                alphabet[(x % alphabet.len() as u64) as usize]
            })
            .collect();
        let pieces = [&huge[..2 * PIECE], &huge[..], &huge[..3 * PIECE]];
        for bytes in [&b""[..], b"a", &big, b"abcabcabc", &big[..70_000]].into_iter().chain(pieces) {
            let gz = gzip(bytes);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
            assert_eq!(back, bytes);
            assert_eq!(gzip(bytes), gz, "the same bytes every time");
            assert!(
                bytes.len() < PIECE || gz.len() < bytes.len() * 3 / 4,
                "compressed: {} of {}",
                gz.len(),
                bytes.len()
            );
        }
    }

    /// `gz` gunzipped (test helper of the modules whose answers are kept gzipped).
    pub(crate) fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut back).unwrap();
        back
    }

    #[test]
    fn pieces_deflated_apart_and_kept_are_one_gzip_with_what_ends_it() {
        let text: Vec<u8> =
            (0..200_000u32).flat_map(|i| format!("{{\"grid\":{i},\"rate\":0.{}}},", i % 97).into_bytes()).collect();
        let parts: Vec<&[u8]> = text.chunks(70_001).collect();
        let pieces: Vec<Piece> = parts.iter().map(|p| Piece::new(p)).collect();
        for n in 0..=pieces.len() {
            let end = b"]}";
            let gz = gzip_of(&pieces[..n], end);
            let mut want = parts[..n].concat();
            want.extend_from_slice(end);
            assert_eq!(gunzip(&gz), want, "{n} pieces");
        }
        // A piece kept is taken again as it is, among new ones, in any order.
        let again = gzip_of([&pieces[2], &Piece::new(b"[1,"), &pieces[0]], b"2]");
        assert_eq!(gunzip(&again), [parts[2], b"[1,", parts[0], b"2]"].concat());
        assert!(pieces.iter().map(Piece::deflated_len).sum::<usize>() < text.len() / 4, "compressed");
    }

    #[test]
    fn stored_blocks_are_deflate_too() {
        // What a piece falls back to if deflate ever failed: checked by hand-made gzip members.
        for bytes in [&b""[..], b"abc", &vec![7u8; 200_000]] {
            let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
            gz.extend_from_slice(&stored(bytes));
            gz.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
            gz.extend_from_slice(&crc32fast::hash(bytes).to_le_bytes());
            gz.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            assert_eq!(gunzip(&gz), bytes);
        }
    }

    #[test]
    fn gzip_is_negotiated_by_accept_encoding() {
        assert!(accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "gzip, deflate, br")])));
        assert!(accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "br;q=1, gzip;q=0.5")])));
        assert!(accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "*")])));
        assert!(!accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "identity")])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
