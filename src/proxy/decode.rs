//! Decoding of inspected bodies. Only the copy triage reads is decoded; the client always gets
//! the upstream's original bytes.
//!
//! Error bodies are small and arrive whole, so gzip and deflate are first decoded in one call by
//! libdeflate, about three times faster than a streaming inflater for a few hundred bytes (the
//! streaming decoder's set-up dominated the gzip-encoded 409 in docs/benchmarks.md). The
//! streaming decoders remain for what that cannot do: output over the limit (a prefix is
//! wanted), multi-member gzip, brotli.

use std::cell::RefCell;
use std::io::Read;

use bytes::Bytes;

/// Decodes `body` per a `Content-Encoding` value (`gzip`, `x-gzip`, `deflate`, `br`, `identity`,
/// or a comma list applied in order), reading at most `limit` decoded bytes. Returns the bytes
/// and whether they are the whole decoded body; `None` for an unknown or corrupt coding. An
/// unencoded body is returned without a copy.
pub fn decode_bytes(encoding: Option<&str>, body: &Bytes, limit: usize) -> Option<(Bytes, bool)> {
    let identity = encoding.is_none_or(|e| {
        e.split(',')
            .all(|c| c.trim().is_empty() || c.trim().eq_ignore_ascii_case("identity"))
    });
    if identity {
        return Some((body.slice(..body.len().min(limit)), body.len() <= limit));
    }
    decode(encoding, body, limit).map(|(b, whole)| (Bytes::from(b), whole))
}

/// As [`decode_bytes`], from and to plain byte buffers.
pub fn decode(encoding: Option<&str>, body: &[u8], limit: usize) -> Option<(Vec<u8>, bool)> {
    let Some(encoding) = encoding else {
        return Some((body[..body.len().min(limit)].to_vec(), body.len() <= limit));
    };
    let mut data = body.to_vec();
    let mut complete = true;
    // Codings are listed in the order they were applied; undo them last to first.
    for coding in encoding
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .rev()
    {
        if let Some(out) = whole_buffer(&coding, &data, limit) {
            data = out;
            continue;
        }
        let (out, whole) = match coding.as_str() {
            "" | "identity" => continue,
            // The `bufread` decoders read the slice in place; the `read` ones would wrap it in a
            // 32 KiB buffer for every small error body.
            "gzip" | "x-gzip" => {
                read_limited(flate2::bufread::MultiGzDecoder::new(&data[..]), limit)?
            }
            "deflate" => {
                // RFC 9110 "deflate" is zlib-wrapped, but some servers send raw deflate.
                read_limited(flate2::bufread::ZlibDecoder::new(&data[..]), limit).or_else(|| {
                    read_limited(flate2::bufread::DeflateDecoder::new(&data[..]), limit)
                })?
            }
            "br" => read_limited(brotli::Decompressor::new(&data[..], 4096), limit)?,
            _ => return None,
        };
        data = out;
        complete &= whole;
    }
    Some((data, complete))
}

/// The most DEFLATE expands its input (a long run of one byte).
const MAX_DEFLATE_RATIO: usize = 1032;

thread_local! {
    static INFLATER: RefCell<libdeflater::Decompressor> =
        RefCell::new(libdeflater::Decompressor::new());
}

/// The whole decoded body, when it fits in `limit` and libdeflate can decode it in one call;
/// `None` hands over to the streaming decoders (which also tell corrupt data apart).
fn whole_buffer(coding: &str, data: &[u8], limit: usize) -> Option<Vec<u8>> {
    use libdeflater::Decompressor;
    type Inflate =
        fn(&mut Decompressor, &[u8], &mut [u8]) -> Result<usize, libdeflater::DecompressionError>;
    let attempts: &[Inflate] = match coding {
        "gzip" | "x-gzip" => {
            // The trailer states the size (mod 2^32), so one exact buffer does. It is only what
            // the bytes say: past what DEFLATE can expand them to (1032 to 1), they are damaged
            // or lie, and the streaming decoder, which allocates as it decodes, tells which.
            let size = data
                .len()
                .checked_sub(4)
                .and_then(|at| data[at..].try_into().ok())
                .map(|b| u32::from_le_bytes(b) as usize)?;
            if size > limit || size > data.len().saturating_mul(MAX_DEFLATE_RATIO) {
                return None;
            }
            let mut out = vec![0; size];
            let n = INFLATER
                .with(|d| d.borrow_mut().gzip_decompress(data, &mut out))
                .ok()?;
            // A short read means more than one member: the streaming decoder reads them all.
            return (n == size).then_some(out);
        }
        "deflate" => &[
            Decompressor::zlib_decompress,
            Decompressor::deflate_decompress,
        ],
        _ => return None,
    };
    for inflate in attempts {
        let mut cap = (data.len() * 4).max(256).min(limit.max(1));
        loop {
            let mut out = vec![0; cap];
            match INFLATER.with(|d| inflate(&mut d.borrow_mut(), data, &mut out)) {
                Ok(n) => {
                    out.truncate(n);
                    return Some(out);
                }
                Err(libdeflater::DecompressionError::InsufficientSpace) if cap < limit => {
                    cap = cap.saturating_mul(4).min(limit);
                }
                Err(_) => break,
            }
        }
    }
    None
}

fn read_limited(reader: impl Read, limit: usize) -> Option<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    // One byte more than the limit tells "exactly at the limit" from "over it".
    let mut r = reader.take(limit as u64 + 1);
    r.read_to_end(&mut out).ok()?;
    let whole = out.len() <= limit;
    out.truncate(limit);
    Some((out, whole))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_and_brotli_decode() {
        let body = br#"{"code":"request.conflict"}"#;
        assert_eq!(
            decode(Some("gzip"), &gzip(body), 1024).unwrap(),
            (body.to_vec(), true)
        );
        let mut br = Vec::new();
        brotli::CompressorWriter::new(&mut br, 4096, 5, 22)
            .write_all(body)
            .unwrap();
        assert_eq!(
            decode(Some("br"), &br, 1024).unwrap(),
            (body.to_vec(), true)
        );
    }

    #[test]
    fn deflate_zlib_and_raw() {
        let body = b"hello hello hello";
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(body).unwrap();
        assert_eq!(
            decode(Some("deflate"), &z.finish().unwrap(), 64).unwrap().0,
            body
        );
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(body).unwrap();
        assert_eq!(
            decode(Some("deflate"), &d.finish().unwrap(), 64).unwrap().0,
            body
        );
    }

    #[test]
    fn what_libdeflate_cannot_do_falls_back_to_streaming() {
        let body = b"one two three four";
        // Two gzip members: both are read.
        let mut two = gzip(&body[..8]);
        two.extend(gzip(&body[8..]));
        assert_eq!(
            decode(Some("gzip"), &two, 1024).unwrap(),
            (body.to_vec(), true)
        );
        // Over the limit: a prefix, marked incomplete, for gzip and deflate alike.
        let big = vec![b'z'; 100_000];
        assert_eq!(
            decode(Some("gzip"), &gzip(&big), 1000).unwrap(),
            (big[..1000].to_vec(), false)
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&big).unwrap();
        assert_eq!(
            decode(Some("deflate"), &z.finish().unwrap(), 1000).unwrap(),
            (big[..1000].to_vec(), false)
        );
        // Exactly at the limit is whole; a deflate body that needs the buffer to grow is whole.
        assert_eq!(
            decode(Some("gzip"), &gzip(&big), 100_000).unwrap(),
            (big.clone(), true)
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&big).unwrap();
        assert_eq!(
            decode(Some("deflate"), &z.finish().unwrap(), 1 << 20).unwrap(),
            (big, true)
        );
        // A lying size trailer does not fool it.
        let mut lie = gzip(body);
        let n = lie.len();
        lie[n - 4..].copy_from_slice(&3u32.to_le_bytes());
        assert!(decode(Some("gzip"), &lie, 1024).is_none());
    }

    #[test]
    fn limit_marks_incomplete_and_unknown_is_none() {
        let body = vec![b'a'; 5000];
        let (out, whole) = decode(Some("gzip"), &gzip(&body), 100).unwrap();
        assert_eq!((out.len(), whole), (100, false));
        assert!(decode(Some("zstd"), b"x", 10).is_none());
        assert!(decode(Some("gzip"), b"not gzip", 10).is_none());
        let plain = Bytes::from_static(b"plain");
        assert_eq!(
            decode_bytes(None, &plain, 3).unwrap(),
            (plain.slice(..3), false)
        );
        assert_eq!(
            decode_bytes(Some("identity"), &plain, 9).unwrap(),
            (plain.clone(), true)
        );
    }
}
