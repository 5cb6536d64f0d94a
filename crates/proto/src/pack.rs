//! File data packed on the wire: the LZ4 block format (lz4_flex, safe decoding), one chunk at a
//! time, so a stream stays a stream and memory stays bounded.
//!
//! A chunk is sent packed only when that saves at least an eighth of it; data that does not
//! shrink (compressed media, random bytes) goes as it is, and a [`Sampler`] stops trying for a
//! while after such a chunk, so incompressible data costs almost nothing to detect.

use crate::{ProtoError, CHUNK};

/// The LZ4 block format (a bit in the `Codecs` masks).
pub const LZ4: u32 = 1;

/// The codecs this build packs and unpacks.
pub const CODECS: u32 = LZ4;

/// The largest packed form of a chunk of [`CHUNK`] bytes (LZ4's worst case).
pub const MAX_PACKED: usize = CHUNK + CHUNK / 255 + 16;

/// Packs `raw` into `out` (cleared first) when that saves an eighth of it: true then.
pub fn pack(raw: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    if raw.len() < 512 {
        return false;
    }
    out.resize(lz4_flex::block::get_maximum_output_size(raw.len()), 0);
    match lz4_flex::block::compress_into(raw, out) {
        Ok(n) if n < raw.len() - raw.len() / 8 => {
            out.truncate(n);
            true
        }
        _ => {
            out.clear();
            false
        }
    }
}

/// Unpacks a chunk that was `raw_len` bytes, appending it to `out`. Anything else than
/// exactly `raw_len` bytes (at most [`CHUNK`]) is refused: packed data is untrusted input.
pub fn unpack(packed: &[u8], raw_len: u32, out: &mut Vec<u8>) -> Result<(), ProtoError> {
    let n = raw_len as usize;
    if n > CHUNK || packed.len() > MAX_PACKED {
        return Err(ProtoError::BadLength(n));
    }
    let start = out.len();
    out.resize(start + n, 0);
    match lz4_flex::block::decompress_into(packed, &mut out[start..]) {
        Ok(got) if got == n => Ok(()),
        _ => {
            out.truncate(start);
            Err(ProtoError::BadPacking)
        }
    }
}

/// Decides which chunks of a stream are worth trying to pack: every one while they shrink;
/// after one that did not, only every 16th (a file of random bytes is tried 1 in 16).
#[derive(Debug, Default)]
pub struct Sampler {
    skip: u32,
}

impl Sampler {
    /// Packs `raw` into `out` if this chunk is tried and shrinks; true then.
    pub fn pack(&mut self, raw: &[u8], out: &mut Vec<u8>) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            out.clear();
            return false;
        }
        let packed = pack(raw, out);
        if !packed {
            self.skip = 15;
        }
        packed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Vec<u8> {
        let mut v = Vec::new();
        let mut i = 0u64;
        while v.len() < n {
            v.extend_from_slice(
                format!(
                    "2026-12-01T08:00:{:02} INFO request {i} served in {} ms\n",
                    i % 60,
                    i % 97
                )
                .as_bytes(),
            );
            i += 1;
        }
        v.truncate(n);
        v
    }

    fn random(n: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn text_packs_and_comes_back_whole() {
        let raw = text(CHUNK);
        let mut packed = Vec::new();
        assert!(pack(&raw, &mut packed));
        assert!(
            packed.len() < raw.len() / 3,
            "{} of {}",
            packed.len(),
            raw.len()
        );
        let mut back = b"before".to_vec();
        unpack(&packed, raw.len() as u32, &mut back).unwrap();
        assert_eq!(&back[..6], b"before");
        assert_eq!(&back[6..], &raw[..]);
    }

    #[test]
    fn random_bytes_are_sent_as_they_are() {
        let raw = random(CHUNK);
        let mut out = Vec::new();
        assert!(!pack(&raw, &mut out));
        assert!(out.is_empty());
        let mut s = Sampler::default();
        let tried: Vec<bool> = (0..32).map(|_| s.pack(&raw, &mut out)).collect();
        assert!(tried.iter().all(|p| !p));
        // Text after random data is packed again once the sampler tries.
        let t = text(CHUNK);
        let packs = (0..17).filter(|_| s.pack(&t, &mut out)).count();
        assert!(packs >= 1);
    }

    #[test]
    fn a_wrong_length_or_broken_data_is_refused() {
        let raw = text(4096);
        let mut packed = Vec::new();
        assert!(pack(&raw, &mut packed));
        let mut out = Vec::new();
        assert_eq!(unpack(&packed, 4095, &mut out), Err(ProtoError::BadPacking));
        assert!(out.is_empty());
        assert!(unpack(&packed, 4097, &mut out).is_err());
        assert!(unpack(&packed, (CHUNK + 1) as u32, &mut out).is_err());
        assert!(unpack(&packed[..packed.len() / 2], 4096, &mut out).is_err());
        let mut junk = packed.clone();
        for b in junk.iter_mut().step_by(7) {
            *b ^= 0x5a;
        }
        let _ = unpack(&junk, 4096, &mut out); // no panic, whatever it says
        assert!(out.is_empty() || out.len() == 4096);
    }
}
