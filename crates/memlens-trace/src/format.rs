//! The capture file format (`.mlc`), shared by the writer and the reader.
//!
//! ```text
//! file   := MAGIC version:u16le header_len:u32le header crc32c(header):u32le frame*
//! frame  := kind:u8 stored_len:u32le raw_len:u32le crc32c(kind..payload):u32le payload
//! ```
//!
//! A frame's payload is zstd-compressed. An *events* frame holds one block
//! of records in columns (opcodes, address deltas, sizes, stack ids, and
//! everything else), each column a varint length and its bytes:
//!
//! ```text
//! block  := end_ns defs_len defs n_ops ops addrs sizes stacks misc
//! ```
//!
//! `defs` holds the frame, stack and thread definitions of the block; the
//! reader applies them before the block's events, so a definition is never
//! lost with a dropped block. Addresses are zigzag varints of the difference
//! to the previous address; sizes and ids are plain varints. An *end* frame
//! closes a capture that finished normally; a file without one was cut short
//! (the process was killed) and is read up to its last complete frame.
//!
//! Integers are LEB128 varints unless marked otherwise; strings are a varint
//! byte length and UTF-8 bytes.

use crate::error::{Error, Result};

/// The first bytes of every capture. The high byte catches 7-bit transfers
/// and the CR LF pair catches newline conversion, as in PNG.
pub const MAGIC: [u8; 8] = *b"\x89MLCAP\r\n";

/// The format version this crate writes. Version 2 added the `UNMAP` op;
/// version 1 files (without it) are still read.
pub const FORMAT_VERSION: u16 = 2;

/// The oldest format version this crate reads.
pub const OLDEST_READABLE_VERSION: u16 = 1;

/// Frame kind: a block of events.
pub(crate) const FRAME_EVENTS: u8 = 1;
/// Frame kind: the capture ended normally.
pub(crate) const FRAME_END: u8 = 2;

/// Bytes in a frame header: kind, stored length, raw length, checksum.
pub(crate) const FRAME_HEADER_LEN: usize = 13;

/// No frame payload may exceed this, compressed or not (bounds what a
/// corrupt length can make the reader allocate).
pub const MAX_FRAME_BYTES: u32 = 64 << 20;

/// No header may exceed this.
pub(crate) const MAX_HEADER_BYTES: u32 = 1 << 20;

/// Opcode bases; the low three bits of an event opcode are its allocator.
pub(crate) mod op {
    pub const ALLOC: u8 = 0;
    pub const FREE: u8 = 8;
    pub const ALLOC_IN_DOMAIN: u8 = 16;
    pub const FREE_IN_DOMAIN: u8 = 24;
    pub const SWITCH_THREAD: u8 = 32;
    pub const TICK: u8 = 33;
    pub const DROPPED: u8 = 34;
    /// A range of anonymous mappings given back: address (as a free's) and
    /// length (in the sizes column).
    pub const UNMAP: u8 = 35;
}

/// Definition tags in a block's `defs` column.
pub(crate) mod def {
    pub const FRAME: u8 = 1;
    pub const STACK: u8 = 2;
    pub const THREAD: u8 = 3;
}

/// How allocations were recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every allocation and free.
    Exact,
    /// Poisson sampling by bytes with this mean interval: each byte is
    /// sampled with probability `1 / mean_interval`.
    Sampled {
        /// Mean number of bytes between two samples.
        mean_interval: u64,
    },
}

/// What a capture says about the process that wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The interpreter's version, as `sys.version` starts (`3.11.7`).
    pub python_version: String,
    /// The traced process.
    pub pid: u32,
    /// Its parent.
    pub ppid: u32,
    /// Its command line.
    pub argv: Vec<String>,
    /// Exact or sampled.
    pub mode: Mode,
    /// The deepest stack recorded.
    pub max_frames: u32,
    /// Whether native (malloc, mmap) allocations were traced too.
    pub native: bool,
    /// Wall-clock start, nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
}

impl Header {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        put_str(&mut out, &self.python_version);
        put_varint(&mut out, u64::from(self.pid));
        put_varint(&mut out, u64::from(self.ppid));
        put_varint(&mut out, self.argv.len() as u64);
        for arg in &self.argv {
            put_str(&mut out, arg);
        }
        match self.mode {
            Mode::Exact => {
                out.push(0);
                put_varint(&mut out, 0);
            }
            Mode::Sampled { mean_interval } => {
                out.push(1);
                put_varint(&mut out, mean_interval);
            }
        }
        put_varint(&mut out, u64::from(self.max_frames));
        out.push(u8::from(self.native));
        put_varint(&mut out, self.start_unix_ns);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Header> {
        let mut cur = Cursor::new(bytes, "header");
        let python_version = cur.string()?.to_string();
        let pid = cur.varint_u32()?;
        let ppid = cur.varint_u32()?;
        let argc = cur.varint()?;
        // Each argument takes at least one byte, so a count beyond the bytes left is corrupt.
        if argc > cur.remaining() as u64 {
            return Err(Error::corrupt(format!(
                "header claims {argc} arguments in {} bytes",
                cur.remaining()
            )));
        }
        let mut argv = Vec::with_capacity(argc as usize);
        for _ in 0..argc {
            argv.push(cur.string()?.to_string());
        }
        let mode = match cur.byte()? {
            0 => {
                cur.varint()?;
                Mode::Exact
            }
            1 => {
                let mean_interval = cur.varint()?;
                if mean_interval == 0 {
                    return Err(Error::corrupt(
                        "header: sampled mode with a mean interval of 0 bytes",
                    ));
                }
                Mode::Sampled { mean_interval }
            }
            other => {
                return Err(Error::corrupt(format!(
                    "header: unknown tracing mode {other}"
                )))
            }
        };
        let max_frames = cur.varint_u32()?;
        let native = match cur.byte()? {
            0 => false,
            1 => true,
            other => {
                return Err(Error::corrupt(format!(
                    "header: native flag is {other}, not 0 or 1"
                )))
            }
        };
        let start_unix_ns = cur.varint()?;
        // Fields added by later minor revisions follow; this reader ignores them.
        Ok(Header {
            python_version,
            pid,
            ppid,
            argv,
            mode,
            max_frames,
            native,
            start_unix_ns,
        })
    }
}

/// Appends `value` as an LEB128 varint.
#[inline(always)]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Maps signed to unsigned so that small magnitudes stay small.
#[inline]
pub(crate) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

#[inline]
pub(crate) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// An address difference as stored: allocators align blocks to 8 bytes or
/// more, so an aligned difference is stored divided by 8 (low bit 0), any
/// other as is (low bit 1), both zigzagged.
#[inline]
pub(crate) fn encode_address_delta(delta: u64) -> u64 {
    let signed = delta as i64;
    if signed & 7 == 0 {
        zigzag(signed >> 3) << 1
    } else {
        (zigzag(signed) << 1) | 1
    }
}

#[inline]
pub(crate) fn decode_address_delta(stored: u64) -> u64 {
    if stored & 1 == 0 {
        (unzigzag(stored >> 1) << 3) as u64
    } else {
        unzigzag(stored >> 1) as u64
    }
}

/// How many recent addresses an [`AddressCoder`] remembers per direction.
const RECENT: usize = 32;
/// Slots of the coder's direct-mapped index into each history: a power of
/// two, many times [`RECENT`], so that collisions (which store an address
/// difference where a one-byte back reference would do) are rare.
const INDEX_SLOTS: usize = 1024;
const INDEX_BITS: u32 = INDEX_SLOTS.trailing_zeros();
const _: () = assert!(INDEX_SLOTS.is_power_of_two() && RECENT <= u8::MAX as usize);

/// Codes a block's addresses. Allocators hand out recently freed blocks
/// again, and programs free what they allocated recently, so an allocation's
/// address is first looked up among the last [`RECENT`] freed ones and a
/// free's among the last allocated ones: a hit is stored as how far back it
/// was (1..=RECENT), a miss as 0 followed by the difference to the previous
/// address ([`encode_address_delta`]). Writer and reader run the same coder,
/// so their histories always agree; each block starts a fresh one.
///
/// The writer finds a hit through a small hash index (address → the
/// history slot it was last written to) instead of comparing every slot:
/// one probe per event. An index collision only turns a hit into a miss,
/// which the reader decodes all the same.
#[derive(Default)]
pub(crate) struct AddressCoder {
    last: u64,
    allocated: History,
    freed: History,
}

/// The last [`RECENT`] addresses of one direction, with the writer's index.
#[derive(Clone)]
struct History {
    addresses: [u64; RECENT],
    /// The slot written next (the oldest one).
    at: usize,
    /// By hash of an address: 1 + the slot it was last written to, or 0.
    index: [u8; INDEX_SLOTS],
}

impl Default for History {
    fn default() -> Self {
        History {
            addresses: [0; RECENT],
            at: 0,
            index: [0; INDEX_SLOTS],
        }
    }
}

impl History {
    #[inline(always)]
    fn hash(address: u64) -> usize {
        ((address >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - INDEX_BITS)) as usize
    }

    /// How far back `address` was written (1 = the latest write), if it is
    /// still in the history and the index remembers it.
    #[inline(always)]
    fn find(&self, address: u64) -> Option<usize> {
        let entry = self.index[Self::hash(address)] as usize;
        if entry == 0 {
            return None;
        }
        let slot = (entry - 1) % RECENT;
        if self.addresses[slot] != address {
            return None;
        }
        Some((self.at + RECENT - 1 - slot) % RECENT + 1)
    }

    #[inline(always)]
    fn push(&mut self, address: u64, indexed: bool) {
        let at = self.at % RECENT;
        self.addresses[at] = address;
        if indexed {
            self.index[Self::hash(address)] = at as u8 + 1;
        }
        self.at = (at + 1) % RECENT;
    }

    /// The address written `back` writes ago (1..=RECENT).
    #[inline]
    fn get(&self, back: usize) -> u64 {
        self.addresses[(self.at + RECENT - back) % RECENT]
    }
}

impl AddressCoder {
    #[inline(always)]
    fn encode(&mut self, out: &mut Vec<u8>, address: u64, is_alloc: bool) {
        let search = if is_alloc {
            &self.freed
        } else {
            &self.allocated
        };
        match search.find(address) {
            Some(back) => out.push(back as u8),
            None => {
                out.push(0);
                put_varint(out, encode_address_delta(address.wrapping_sub(self.last)));
            }
        }
        self.remember(address, is_alloc, true);
    }

    #[inline(always)]
    fn remember(&mut self, address: u64, is_alloc: bool, indexed: bool) {
        self.last = address;
        if is_alloc {
            self.allocated.push(address, indexed);
        } else {
            self.freed.push(address, indexed);
        }
    }

    /// Appends an allocation's address.
    #[inline(always)]
    pub(crate) fn encode_alloc(&mut self, out: &mut Vec<u8>, address: u64) {
        self.encode(out, address, true);
    }

    /// Appends a free's address.
    #[inline(always)]
    pub(crate) fn encode_free(&mut self, out: &mut Vec<u8>, address: u64) {
        self.encode(out, address, false);
    }

    /// Reads the next address, of an allocation when `is_alloc`.
    #[inline]
    pub(crate) fn decode(&mut self, cur: &mut Cursor<'_>, is_alloc: bool) -> Result<u64> {
        let back = cur.varint()?;
        let address = if back == 0 {
            self.last.wrapping_add(decode_address_delta(cur.varint()?))
        } else if back as usize <= RECENT {
            let history = if is_alloc {
                &self.freed
            } else {
                &self.allocated
            };
            history.get(back as usize)
        } else {
            return Err(Error::corrupt(format!(
                "addresses: a back reference of {back} exceeds {RECENT}"
            )));
        };
        self.remember(address, is_alloc, false);
        Ok(address)
    }
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A bounds-checked reader over one column; every failure names the column.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Cursor {
            bytes,
            pos: 0,
            what,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn ran_out(&self) -> Error {
        Error::corrupt(format!(
            "{} ends early (at byte {} of {})",
            self.what,
            self.pos,
            self.bytes.len()
        ))
    }

    #[inline]
    pub(crate) fn byte(&mut self) -> Result<u8> {
        match self.bytes.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.ran_out()),
        }
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(Error::corrupt(format!(
                    "{}: varint overflows 64 bits at byte {}",
                    self.what, self.pos
                )));
            }
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
            if shift > 63 {
                return Err(Error::corrupt(format!(
                    "{}: varint longer than 10 bytes at byte {}",
                    self.what, self.pos
                )));
            }
        }
    }

    pub(crate) fn varint_u32(&mut self) -> Result<u32> {
        let value = self.varint()?;
        u32::try_from(value).map_err(|_| {
            Error::corrupt(format!(
                "{}: value {value} does not fit 32 bits at byte {}",
                self.what, self.pos
            ))
        })
    }

    pub(crate) fn take(&mut self, len: u64) -> Result<&'a [u8]> {
        if len > self.remaining() as u64 {
            return Err(Error::corrupt(format!(
                "{}: a length of {len} bytes runs past the end ({} left at byte {})",
                self.what,
                self.remaining(),
                self.pos
            )));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.bytes[start..self.pos])
    }

    pub(crate) fn string(&mut self) -> Result<&'a str> {
        let len = self.varint()?;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map_err(|_| Error::corrupt(format!("{}: a string is not UTF-8", self.what)))
    }

    /// A varint length followed by that many bytes.
    pub(crate) fn column(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_round_trip_at_the_edges() {
        for value in [
            0u64,
            1,
            127,
            128,
            300,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(Cursor::new(&out, "t").varint().unwrap(), value);
        }
        for value in [0i64, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(value)), value);
        }
    }

    #[test]
    fn address_deltas_round_trip_aligned_or_not() {
        for delta in [
            0u64,
            8,
            16,
            u64::MAX - 7,
            1,
            7,
            12345,
            u64::MAX,
            1 << 63,
            (1 << 63) + 8,
        ] {
            assert_eq!(
                decode_address_delta(encode_address_delta(delta)),
                delta,
                "{delta:#x}"
            );
        }
    }

    #[test]
    fn addresses_round_trip_through_the_recent_history() {
        let mut writer = AddressCoder::default();
        let mut out = Vec::new();
        let events: Vec<(u64, bool)> = (0..500u64)
            .flat_map(|i| {
                [
                    (0x7f00_0000 + (i % 7) * 48, true),
                    (0x7f00_0000 + (i % 7) * 48, false),
                    (i * 4097, true),
                ]
            })
            .collect();
        for &(address, is_alloc) in &events {
            if is_alloc {
                writer.encode_alloc(&mut out, address);
            } else {
                writer.encode_free(&mut out, address);
            }
        }
        let mut reader = AddressCoder::default();
        let mut cur = Cursor::new(&out, "addresses");
        for &(address, is_alloc) in &events {
            assert_eq!(reader.decode(&mut cur, is_alloc).unwrap(), address);
        }
        assert!(cur.is_empty());
        assert!(
            out.len() <= 1000 + 500 * 7,
            "the 1000 hits take one byte each (misses up to 7): {} bytes",
            out.len()
        );
    }

    #[test]
    fn an_overlong_varint_is_an_error_not_a_panic() {
        let bytes = [0xffu8; 12];
        assert!(Cursor::new(&bytes, "t").varint().is_err());
        let bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(Cursor::new(&bytes, "t").varint().is_err());
    }

    #[test]
    fn header_round_trips() {
        let header = Header {
            python_version: "3.11.7".into(),
            pid: 42,
            ppid: 1,
            argv: vec!["script.py".into(), "--flag".into()],
            mode: Mode::Sampled {
                mean_interval: 512 * 1024,
            },
            max_frames: 25,
            native: false,
            start_unix_ns: 1_700_000_000_000_000_000,
        };
        assert_eq!(Header::decode(&header.encode()).unwrap(), header);
    }
}
