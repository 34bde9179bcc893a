//! The container: header, checksummed zstd chunks, end marker.
//!
//! ```text
//! file   := MAGIC "MLNS" | version u16le | kind u16le | reserved u32le (0)
//!           chunk* end
//! chunk  := tag u32le | stored_len u64le | raw_len u64le | crc32c u32le | payload
//! end    := chunk with tag "END!" whose payload is the number of chunks before it (u64le)
//! ```
//! `payload` is `stored_len` bytes of zstd; it decompresses to exactly
//! `raw_len` bytes. The checksum covers the 20 bytes of tag and lengths
//! followed by the payload, so a flipped length is caught too.

use std::io::{Read, Write};

use crate::error::{tag_name, FormatError};

/// The first four bytes of every memlens file.
pub const MAGIC: [u8; 4] = *b"MLNS";
/// The container version this build writes and the newest it reads.
pub const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: u64 = 12;
const CHUNK_HEAD_LEN: usize = 24;
const END_TAG: u32 = u32::from_le_bytes(*b"END!");

/// What a memlens file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// An allocation capture.
    Capture,
    /// A heap snapshot (`.mlh`).
    HeapSnapshot,
    /// A `memlens.tracemalloc` dump.
    TracemallocDump,
    /// A log of the cyclic garbage collector's collections (`.mlg`).
    GcEvents,
}

impl FileKind {
    fn code(self) -> u16 {
        match self {
            FileKind::Capture => 1,
            FileKind::HeapSnapshot => 2,
            FileKind::TracemallocDump => 3,
            FileKind::GcEvents => 4,
        }
    }

    fn from_code(code: u16) -> Option<FileKind> {
        match code {
            1 => Some(FileKind::Capture),
            2 => Some(FileKind::HeapSnapshot),
            3 => Some(FileKind::TracemallocDump),
            4 => Some(FileKind::GcEvents),
            _ => None,
        }
    }

    /// What users call it, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Capture => "allocation capture",
            FileKind::HeapSnapshot => "heap snapshot",
            FileKind::TracemallocDump => "tracemalloc dump",
            FileKind::GcEvents => "GC event log",
        }
    }
}

/// Bounds a reader holds a file to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest decompressed chunk accepted.
    pub max_chunk_bytes: u64,
    /// Largest number of chunks accepted.
    pub max_chunks: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_chunk_bytes: 256 << 20,
            max_chunks: 1 << 24,
        }
    }
}

/// Writes the header, then chunks, then the end marker on [`finish`](Self::finish).
#[derive(Debug)]
pub struct ContainerWriter<W: Write> {
    out: W,
    chunks: u64,
    bytes: u64,
    level: i32,
}

impl<W: Write> ContainerWriter<W> {
    /// Writes the header of a file of `kind`.
    pub fn new(mut out: W, kind: FileKind) -> Result<Self, FormatError> {
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        header.extend_from_slice(&kind.code().to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        out.write_all(&header)?;
        Ok(ContainerWriter {
            out,
            chunks: 0,
            bytes: HEADER_LEN,
            level: 3,
        })
    }

    /// Compresses and writes one chunk.
    pub fn chunk(&mut self, tag: [u8; 4], data: &[u8]) -> Result<(), FormatError> {
        self.raw_chunk(u32::from_le_bytes(tag), data)?;
        self.chunks += 1;
        Ok(())
    }

    fn raw_chunk(&mut self, tag: u32, data: &[u8]) -> Result<(), FormatError> {
        let payload = zstd::bulk::compress(data, self.level)?;
        let mut head = [0u8; CHUNK_HEAD_LEN];
        head[0..4].copy_from_slice(&tag.to_le_bytes());
        head[4..12].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        head[12..20].copy_from_slice(&(data.len() as u64).to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&head[..20]), &payload);
        head[20..24].copy_from_slice(&crc.to_le_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(&payload)?;
        self.bytes += (CHUNK_HEAD_LEN + payload.len()) as u64;
        Ok(())
    }

    /// Bytes written so far (header and compressed chunks).
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Writes the end marker and flushes; returns the output and the
    /// file's size in bytes.
    pub fn finish(mut self) -> Result<(W, u64), FormatError> {
        self.raw_chunk(END_TAG, &self.chunks.to_le_bytes())?;
        self.out.flush()?;
        Ok((self.out, self.bytes))
    }
}

/// One decompressed chunk.
#[derive(Debug)]
pub struct Chunk {
    /// The tag's four bytes.
    pub tag: [u8; 4],
    /// Byte offset of the chunk header in the file.
    pub offset: u64,
    /// Decompressed payload.
    pub data: Vec<u8>,
}

/// Reads a container chunk by chunk; `next_chunk` returns `None` only
/// after a valid end marker.
#[derive(Debug)]
pub struct ContainerReader<R: Read> {
    input: R,
    limits: Limits,
    offset: u64,
    chunks: u64,
    done: bool,
}

impl<R: Read> ContainerReader<R> {
    /// Reads and checks the header: magic, version and `kind`.
    pub fn open(mut input: R, kind: FileKind, limits: Limits) -> Result<Self, FormatError> {
        let mut header = [0u8; HEADER_LEN as usize];
        let got = read_full(&mut input, &mut header)?;
        if got < 4 || header[..4] != MAGIC {
            return Err(FormatError::NotMemlens);
        }
        if got < header.len() {
            return Err(FormatError::Truncated { offset: got as u64 });
        }
        let version = u16::from_le_bytes([header[4], header[5]]);
        if version == 0 || version > FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let code = u16::from_le_bytes([header[6], header[7]]);
        if FileKind::from_code(code) != Some(kind) {
            return Err(FormatError::WrongKind {
                expected: kind.describe(),
                found: FileKind::from_code(code).map_or_else(
                    || format!("unknown kind {code}"),
                    |k| k.describe().to_owned(),
                ),
            });
        }
        Ok(ContainerReader {
            input,
            limits,
            offset: HEADER_LEN,
            chunks: 0,
            done: false,
        })
    }

    /// The next chunk, or `None` after the end marker.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, FormatError> {
        if self.done {
            return Ok(None);
        }
        let start = self.offset;
        let mut head = [0u8; CHUNK_HEAD_LEN];
        let got = read_full(&mut self.input, &mut head)?;
        if got < CHUNK_HEAD_LEN {
            return Err(FormatError::Truncated {
                offset: start + got as u64,
            });
        }
        let tag = u32::from_le_bytes(head[0..4].try_into().expect("4 bytes"));
        let stored = u64::from_le_bytes(head[4..12].try_into().expect("8 bytes"));
        let raw = u64::from_le_bytes(head[12..20].try_into().expect("8 bytes"));
        let crc = u32::from_le_bytes(head[20..24].try_into().expect("4 bytes"));
        let limit = self.limits.max_chunk_bytes;
        // zstd never expands incompressible data by more than a small margin.
        let stored_limit = limit + limit / 64 + 1024;
        if raw > limit || stored > stored_limit {
            return Err(FormatError::TooLarge {
                tag: tag_name(tag),
                offset: start,
                declared: raw.max(stored),
                limit,
            });
        }
        // Read incrementally: a lying length on a short file costs nothing.
        let mut payload = Vec::new();
        (&mut self.input).take(stored).read_to_end(&mut payload)?;
        if (payload.len() as u64) < stored {
            return Err(FormatError::Truncated {
                offset: start + CHUNK_HEAD_LEN as u64 + payload.len() as u64,
            });
        }
        self.offset = start + CHUNK_HEAD_LEN as u64 + stored;
        if crc32c::crc32c_append(crc32c::crc32c(&head[..20]), &payload) != crc {
            return Err(FormatError::Checksum {
                tag: tag_name(tag),
                offset: start,
            });
        }
        let corrupt = |detail: String| FormatError::Corrupt {
            what: "chunk",
            offset: start,
            detail,
        };
        let mut data = Vec::new();
        let mut decoder = zstd::stream::read::Decoder::new(&payload[..])
            .map_err(|e| corrupt(format!("zstd: {e}")))?;
        (&mut decoder)
            .take(raw + 1)
            .read_to_end(&mut data)
            .map_err(|e| corrupt(format!("zstd: {e}")))?;
        if data.len() as u64 != raw {
            return Err(corrupt(format!(
                "decompresses to {} bytes, header says {raw}",
                data.len()
            )));
        }
        if tag == END_TAG {
            let count = <[u8; 8]>::try_from(&data[..])
                .map(u64::from_le_bytes)
                .map_err(|_| corrupt("end marker is not 8 bytes".into()))?;
            if count != self.chunks {
                return Err(corrupt(format!(
                    "end marker counts {count} chunks, the file has {}",
                    self.chunks
                )));
            }
            self.done = true;
            return Ok(None);
        }
        self.chunks += 1;
        if self.chunks > self.limits.max_chunks {
            return Err(FormatError::TooLarge {
                tag: "chunk count".into(),
                offset: start,
                declared: self.chunks,
                limit: self.limits.max_chunks,
            });
        }
        Ok(Some(Chunk {
            tag: tag.to_le_bytes(),
            offset: start,
            data,
        }))
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, FormatError> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = ContainerWriter::new(Vec::new(), FileKind::HeapSnapshot).unwrap();
        w.chunk(*b"AAAA", b"hello").unwrap();
        w.chunk(*b"BBBB", &[7u8; 1000]).unwrap();
        w.finish().unwrap().0
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Chunk>, FormatError> {
        let mut r = ContainerReader::open(bytes, FileKind::HeapSnapshot, Limits::default())?;
        let mut out = Vec::new();
        while let Some(c) = r.next_chunk()? {
            out.push(c);
        }
        Ok(out)
    }

    #[test]
    fn chunks_come_back_in_order() {
        let chunks = read_all(&sample()).unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(&chunks[0].tag, b"AAAA");
        assert_eq!(chunks[0].data, b"hello");
        assert_eq!(chunks[1].data, vec![7u8; 1000]);
    }

    #[test]
    fn every_truncation_is_detected() {
        let bytes = sample();
        for cut in 0..bytes.len() {
            let err = read_all(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(err, FormatError::Truncated { .. } | FormatError::NotMemlens),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn foreign_wrong_kind_and_newer_files_are_named() {
        assert!(matches!(
            read_all(b"PK\x03\x04 zip file"),
            Err(FormatError::NotMemlens)
        ));
        let mut w = ContainerWriter::new(Vec::new(), FileKind::Capture).unwrap();
        w.chunk(*b"AAAA", b"").unwrap();
        let capture = w.finish().unwrap().0;
        let err = read_all(&capture).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this is a memlens allocation capture file, not a heap snapshot file"
        );
        let w = ContainerWriter::new(Vec::new(), FileKind::GcEvents).unwrap();
        let gc_log = w.finish().unwrap().0;
        assert_eq!(
            read_all(&gc_log).unwrap_err().to_string(),
            "this is a memlens GC event log file, not a heap snapshot file"
        );
        let mut newer = sample();
        newer[4] = 9;
        assert!(matches!(
            read_all(&newer),
            Err(FormatError::UnsupportedVersion { found: 9, .. })
        ));
    }

    #[test]
    fn a_flipped_bit_anywhere_after_the_header_fails_the_checksum_or_framing() {
        let bytes = sample();
        for i in HEADER_LEN as usize..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(read_all(&b).is_err(), "flip at {i} went unnoticed");
        }
    }

    #[test]
    fn a_huge_declared_length_is_refused_without_allocating() {
        let mut bytes = sample();
        bytes[12 + 4..12 + 12].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            read_all(&bytes),
            Err(FormatError::TooLarge { .. })
        ));
        let mut bytes = sample();
        bytes[12 + 4..12 + 12].copy_from_slice(&(1u64 << 20).to_le_bytes());
        assert!(matches!(
            read_all(&bytes),
            Err(FormatError::Truncated { .. })
        ));
    }
}
