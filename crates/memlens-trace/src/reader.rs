//! Reads capture files block by block, validating everything.
//!
//! A capture whose process was killed ends without an end frame, possibly
//! inside a frame: the reader returns every complete block and then reports
//! the cut through [`CaptureReader::ending`] rather than failing. Anything
//! else that is wrong — magic, version, a length out of bounds, a checksum,
//! an undecodable block — is an [`Error`].
//!
//! ```no_run
//! # fn main() -> memlens_trace::Result<()> {
//! use memlens_trace::reader::{CaptureReader, Record};
//! let mut reader = CaptureReader::open("memlens-app.123.mlc".as_ref())?;
//! let mut allocations = 0;
//! while let Some(block) = reader.next_block()? {
//!     let mut records = block.records()?;
//!     while let Some(record) = records.next()? {
//!         if let Record::Alloc(_) = record {
//!             allocations += 1;
//!         }
//!     }
//! }
//! println!("{allocations} allocations, {:?}", reader.ending());
//! # Ok(()) }
//! ```

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::events::{
    AllocEvent, Allocator, Frame, FrameId, FreeEvent, StackId, ThreadId, UnmapEvent, NUMPY_DOMAIN,
    PYTHON_DOMAIN,
};
use crate::format::{self, def, op, AddressCoder, Cursor, Header};

/// One thing a capture recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A code location (announced before any stack uses it).
    Frame {
        /// Its id in this capture.
        id: FrameId,
        /// Function, file and line.
        frame: Frame<'a>,
    },
    /// A call chain: `frame` called from `parent`.
    Stack {
        /// Its id in this capture.
        id: StackId,
        /// The calling chain, `None` for an outermost frame.
        parent: Option<StackId>,
        /// The innermost frame.
        frame: FrameId,
    },
    /// A thread and its name.
    Thread {
        /// Its id in this capture.
        id: ThreadId,
        /// Its name when the capture knew it.
        name: &'a str,
    },
    /// A block allocated.
    Alloc(AllocEvent),
    /// A block freed.
    Free(FreeEvent),
    /// A range of anonymous mappings given back.
    Unmap(UnmapEvent),
    /// A point in time, nanoseconds since the capture started.
    Tick {
        /// Nanoseconds since the start.
        ns: u64,
    },
    /// The writer fell behind and lost this many events here.
    Dropped {
        /// Events lost.
        events: u64,
    },
}

/// How the capture ended, known once every block has been read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The process closed the capture normally.
    Complete {
        /// Events written.
        events: u64,
        /// Events dropped because the writer fell behind.
        dropped: u64,
        /// Nanoseconds from start to end.
        end_ns: u64,
    },
    /// The file stops early (the process was killed, or the file was cut):
    /// everything before `offset` was read.
    Cut {
        /// Bytes of the file that were read.
        offset: u64,
        /// Why the file is considered cut.
        reason: String,
    },
}

/// Reads a capture block by block.
pub struct CaptureReader<R> {
    source: R,
    header: Header,
    offset: u64,
    blocks: u64,
    ending: Option<Ending>,
}

fn read_up_to(source: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl CaptureReader<BufReader<File>> {
    /// Opens a capture file and reads its header.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path)
            .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
        CaptureReader::new(BufReader::with_capacity(1 << 20, file))
            .map_err(|e| e.with_context(path.display()))
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the header from `source`.
    pub fn new(mut source: R) -> Result<Self> {
        let io = |e| Error::io("cannot read the capture header", e);
        let mut fixed = [0u8; 14];
        let got = read_up_to(&mut source, &mut fixed).map_err(io)?;
        if got < format::MAGIC.len() || fixed[..8] != format::MAGIC {
            return Err(Error::new(
                ErrorKind::NotACapture,
                "not a memlens capture (the file does not start with the capture magic)",
            ));
        }
        if got < fixed.len() {
            return Err(Error::new(
                ErrorKind::Truncated,
                "the capture ends inside its header",
            ));
        }
        let version = u16::from_le_bytes([fixed[8], fixed[9]]);
        if !(format::OLDEST_READABLE_VERSION..=format::FORMAT_VERSION).contains(&version) {
            return Err(Error::new(
                ErrorKind::UnsupportedVersion,
                format!(
                    "capture format version {version}; this memlens reads versions {} to {} (use the memlens that wrote it)",
                    format::OLDEST_READABLE_VERSION,
                    format::FORMAT_VERSION
                ),
            ));
        }
        let header_len = u32::from_le_bytes([fixed[10], fixed[11], fixed[12], fixed[13]]);
        if header_len > format::MAX_HEADER_BYTES {
            return Err(Error::corrupt(format!(
                "header length {header_len} is out of bounds"
            )));
        }
        let mut body = vec![0u8; header_len as usize + 4];
        let got = read_up_to(&mut source, &mut body).map_err(io)?;
        if got < body.len() {
            return Err(Error::new(
                ErrorKind::Truncated,
                "the capture ends inside its header",
            ));
        }
        let (body, crc) = body.split_at(header_len as usize);
        if crc32c::crc32c(body).to_le_bytes() != crc {
            return Err(Error::corrupt("header checksum mismatch"));
        }
        let header = Header::decode(body)?;
        Ok(CaptureReader {
            source,
            header,
            offset: 18 + u64::from(header_len),
            blocks: 0,
            ending: None,
        })
    }

    /// What the capture says about its process.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Bytes consumed so far (for progress).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How the capture ended; `None` until [`CaptureReader::next_block`] has returned `Ok(None)`.
    pub fn ending(&self) -> Option<&Ending> {
        self.ending.as_ref()
    }

    fn cut(&mut self, reason: String) -> Result<Option<Block>> {
        self.ending = Some(Ending::Cut {
            offset: self.offset,
            reason,
        });
        Ok(None)
    }

    /// The next block of records; `Ok(None)` at the end of the capture,
    /// whether it ended normally or was cut.
    pub fn next_block(&mut self) -> Result<Option<Block>> {
        if self.ending.is_some() {
            return Ok(None);
        }
        let at = self.offset;
        let corrupt = |what: String| Error::corrupt(format!("frame at byte {at}: {what}"));
        let mut head = [0u8; format::FRAME_HEADER_LEN];
        let got = read_up_to(&mut self.source, &mut head)
            .map_err(|e| Error::io("cannot read the capture", e))?;
        if got == 0 {
            let blocks = self.blocks;
            return self.cut(format!(
                "no end frame after {blocks} complete blocks (the process did not finish)"
            ));
        }
        if got < head.len() {
            return self.cut(format!(
                "torn frame header at byte {at} after {} complete blocks",
                self.blocks
            ));
        }
        let kind = head[0];
        let stored = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        let raw = u32::from_le_bytes([head[5], head[6], head[7], head[8]]);
        let crc = u32::from_le_bytes([head[9], head[10], head[11], head[12]]);
        if kind != format::FRAME_EVENTS && kind != format::FRAME_END {
            return Err(corrupt(format!("unknown frame kind {kind}")));
        }
        if stored > format::MAX_FRAME_BYTES || raw > format::MAX_FRAME_BYTES {
            return Err(corrupt(format!(
                "frame lengths {stored}/{raw} are out of bounds"
            )));
        }
        let mut payload = Vec::new();
        let got = (&mut self.source)
            .take(u64::from(stored))
            .read_to_end(&mut payload)
            .map_err(|e| Error::io("cannot read the capture", e))?;
        if got < stored as usize {
            return self.cut(format!(
                "torn frame at byte {at} ({got} of {stored} bytes) after {} complete blocks",
                self.blocks
            ));
        }
        let computed = crc32c::crc32c_append(crc32c::crc32c(&head[..9]), &payload);
        if computed != crc {
            return Err(corrupt("checksum mismatch".into()));
        }
        let data = zstd::bulk::decompress(&payload, raw as usize)
            .map_err(|e| corrupt(format!("cannot decompress ({e})")))?;
        if data.len() != raw as usize {
            return Err(corrupt(format!(
                "decompressed to {} bytes, header says {raw}",
                data.len()
            )));
        }
        self.offset += (format::FRAME_HEADER_LEN + stored as usize) as u64;
        if kind == format::FRAME_END {
            let mut cur = Cursor::new(&data, "end frame");
            let events = cur.varint()?;
            let dropped = cur.varint()?;
            let end_ns = cur.varint()?;
            self.ending = Some(Ending::Complete {
                events,
                dropped,
                end_ns,
            });
            return Ok(None);
        }
        self.blocks += 1;
        let block =
            Block::parse(data).map_err(|e| e.with_context(format!("block at byte {at}")))?;
        Ok(Some(block))
    }
}

/// One decompressed block.
pub struct Block {
    data: Vec<u8>,
    end_ns: u64,
}

impl Block {
    fn parse(data: Vec<u8>) -> Result<Block> {
        let block = Block { end_ns: 0, data };
        let end_ns = block.records()?.end_ns;
        Ok(Block { end_ns, ..block })
    }

    /// When the block was sealed, nanoseconds since the capture started.
    pub fn end_ns(&self) -> u64 {
        self.end_ns
    }

    /// The block's raw columns by name (definitions, opcodes, addresses,
    /// sizes, stack ids, extras), for studies of the format's size.
    pub fn columns(&self) -> Result<Vec<(&'static str, &[u8])>> {
        let mut top = Cursor::new(&self.data, "block");
        top.varint()?;
        let defs = top.column()?;
        top.varint()?;
        let mut out = vec![("definitions", defs)];
        for name in ["opcodes", "addresses", "sizes", "stack ids", "extras"] {
            out.push((name, top.column()?));
        }
        Ok(out)
    }

    /// Its records: definitions first, then events in order.
    pub fn records(&self) -> Result<Records<'_>> {
        let mut top = Cursor::new(&self.data, "block");
        let end_ns = top.varint()?;
        let defs = top.column()?;
        let n_ops = top.varint()?;
        let ops = top.column()?;
        if n_ops != ops.len() as u64 {
            return Err(Error::corrupt(format!(
                "block says {n_ops} records but holds {} opcodes",
                ops.len()
            )));
        }
        let addrs = top.column()?;
        let sizes = top.column()?;
        let stacks = top.column()?;
        let misc = top.column()?;
        Ok(Records {
            end_ns,
            defs: Cursor::new(defs, "definitions"),
            ops: Cursor::new(ops, "opcodes"),
            addrs: Cursor::new(addrs, "addresses"),
            sizes: Cursor::new(sizes, "sizes"),
            stacks: Cursor::new(stacks, "stack ids"),
            misc: Cursor::new(misc, "block extras"),
            addresses: AddressCoder::default(),
            thread: ThreadId(0),
        })
    }
}

/// Iterates over a block's records.
pub struct Records<'a> {
    end_ns: u64,
    defs: Cursor<'a>,
    ops: Cursor<'a>,
    addrs: Cursor<'a>,
    sizes: Cursor<'a>,
    stacks: Cursor<'a>,
    misc: Cursor<'a>,
    addresses: AddressCoder,
    thread: ThreadId,
}

fn allocator(code: u8) -> Result<Allocator> {
    Ok(match code {
        0 => Allocator::PyRaw,
        1 => Allocator::PyMem,
        2 => Allocator::PyObject,
        3 => Allocator::Native,
        4 => Allocator::Mmap,
        5 => Allocator::NumpyData,
        other => return Err(Error::corrupt(format!("unknown allocator {other}"))),
    })
}

fn default_domain(allocator: Allocator) -> u32 {
    if allocator == Allocator::NumpyData {
        NUMPY_DOMAIN
    } else {
        PYTHON_DOMAIN
    }
}

impl<'a> Records<'a> {
    /// The next record, `Ok(None)` after the last one.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Record<'a>>> {
        if !self.defs.is_empty() {
            let record = match self.defs.byte()? {
                def::FRAME => {
                    let id = FrameId(self.defs.varint_u32()?);
                    let function = self.defs.string()?;
                    let filename = self.defs.string()?;
                    let line = self.defs.varint_u32()?;
                    Record::Frame {
                        id,
                        frame: Frame {
                            function,
                            filename,
                            line,
                        },
                    }
                }
                def::STACK => {
                    let id = StackId(self.defs.varint_u32()?);
                    let parent = match self.defs.varint()? {
                        0 => None,
                        p => {
                            Some(StackId(u32::try_from(p - 1).map_err(|_| {
                                Error::corrupt("stack parent id out of range")
                            })?))
                        }
                    };
                    let frame = FrameId(self.defs.varint_u32()?);
                    Record::Stack { id, parent, frame }
                }
                def::THREAD => {
                    let id = ThreadId(self.defs.varint_u32()?);
                    Record::Thread {
                        id,
                        name: self.defs.string()?,
                    }
                }
                other => return Err(Error::corrupt(format!("unknown definition tag {other}"))),
            };
            return Ok(Some(record));
        }
        loop {
            if self.ops.is_empty() {
                if !(self.addrs.is_empty()
                    && self.sizes.is_empty()
                    && self.stacks.is_empty()
                    && self.misc.is_empty())
                {
                    return Err(Error::corrupt(
                        "block columns hold more values than its records use",
                    ));
                }
                return Ok(None);
            }
            let code = self.ops.byte()?;
            let record = match code & !7 {
                op::ALLOC | op::ALLOC_IN_DOMAIN => {
                    let allocator = allocator(code & 7)?;
                    let domain = if code & !7 == op::ALLOC {
                        default_domain(allocator)
                    } else {
                        self.misc.varint_u32()?
                    };
                    let address = self.addresses.decode(&mut self.addrs, true)?;
                    let size = self.sizes.varint()?;
                    let stack = StackId(self.stacks.varint_u32()?);
                    Record::Alloc(AllocEvent {
                        address,
                        size,
                        allocator,
                        domain,
                        thread: self.thread,
                        stack,
                    })
                }
                op::FREE | op::FREE_IN_DOMAIN => {
                    let allocator = allocator(code & 7)?;
                    let domain = if code & !7 == op::FREE {
                        default_domain(allocator)
                    } else {
                        self.misc.varint_u32()?
                    };
                    let address = self.addresses.decode(&mut self.addrs, false)?;
                    Record::Free(FreeEvent {
                        address,
                        allocator,
                        domain,
                    })
                }
                _ => match code {
                    op::SWITCH_THREAD => {
                        self.thread = ThreadId(self.misc.varint_u32()?);
                        continue;
                    }
                    op::TICK => Record::Tick {
                        ns: self.misc.varint()?,
                    },
                    op::DROPPED => Record::Dropped {
                        events: self.misc.varint()?,
                    },
                    op::UNMAP => Record::Unmap(UnmapEvent {
                        address: self.addresses.decode(&mut self.addrs, false)?,
                        size: self.sizes.varint()?,
                    }),
                    other => return Err(Error::corrupt(format!("unknown opcode {other}"))),
                },
            };
            return Ok(Some(record));
        }
    }
}
