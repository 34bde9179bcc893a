//! The heap snapshot file (`.mlh`, container kind 2).
//!
//! Chunks, in this order (a reader accepts `STRS`, `TYPE`, `NODE`, `EDGE`
//! in any interleaving after `META`; unknown tags are skipped so that later
//! versions may add chunks):
//!
//! ```text
//! META  python str | pid | unix_time_ns | rss_bytes | strings_included u8 |
//!       hostname (u8 present, str) | argv (u8 present, count, str*) |
//!       node_count | edge_count | string_count | type_count | root_count
//! STRS  str*                       (string table in id order; str = len bytes)
//! TYPE  (module, qualname)*        (string ids)
//! NODE  (addr_delta_zigzag, type, shallow, owned - shallow, refcount,
//!        flags u8, name, out_degree)*       (node table in id order)
//! EDGE  (target u32le, packed_label u32le)* (edges in source order)
//! ROOT  (kind u8, name, node, missing)*
//! ```
//! Unmarked numbers are LEB128 varints. A typical node is 10–16 bytes and
//! an edge exactly 8 before compression.

use std::io::{Read, Write};

use memlens_heap::{HeapSnapshot, Root, RootKind, SnapshotMeta, SnapshotParts, TypeInfo};

use crate::container::{ContainerReader, ContainerWriter, FileKind, Limits};
use crate::error::FormatError;
use crate::varint::{put, Cursor};

const NODES_PER_CHUNK: usize = 1 << 16;
const EDGES_PER_CHUNK: usize = 1 << 20;
const STRING_CHUNK_BYTES: usize = 4 << 20;

/// Sizes of a written snapshot, before and after compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Uncompressed bytes of the node table.
    pub node_bytes: u64,
    /// Uncompressed bytes of the edges.
    pub edge_bytes: u64,
    /// Uncompressed bytes of everything (nodes, edges, strings, types, roots, meta).
    pub raw_bytes: u64,
    /// Bytes of the file.
    pub file_bytes: u64,
}

/// Writes a snapshot chunk by chunk: memory beyond the snapshot is one chunk.
#[derive(Debug)]
pub struct SnapshotWriter<W: Write> {
    out: ContainerWriter<W>,
    stats: WriteStats,
}

impl<W: Write> SnapshotWriter<W> {
    /// Starts a heap snapshot file on `out`.
    pub fn new(out: W) -> Result<Self, FormatError> {
        Ok(SnapshotWriter {
            out: ContainerWriter::new(out, FileKind::HeapSnapshot)?,
            stats: WriteStats::default(),
        })
    }

    fn chunk(&mut self, tag: [u8; 4], data: &[u8]) -> Result<(), FormatError> {
        self.stats.raw_bytes += data.len() as u64;
        self.out.chunk(tag, data)
    }

    /// Writes the whole snapshot and the end marker; returns the output and sizes.
    pub fn write(mut self, snap: &HeapSnapshot) -> Result<(W, WriteStats), FormatError> {
        let mut buf = Vec::new();
        write_meta(&mut buf, snap);
        self.chunk(*b"META", &buf)?;

        buf.clear();
        for s in snap.strings() {
            put(&mut buf, s.len() as u64);
            buf.extend_from_slice(s.as_bytes());
            if buf.len() >= STRING_CHUNK_BYTES {
                self.chunk(*b"STRS", &buf)?;
                buf.clear();
            }
        }
        if !buf.is_empty() {
            self.chunk(*b"STRS", &buf)?;
        }

        buf.clear();
        for t in snap.types() {
            put(&mut buf, t.module as u64);
            put(&mut buf, t.qualname as u64);
        }
        self.chunk(*b"TYPE", &buf)?;

        let (offsets, targets, labels) = snap.forward_csr();
        let cols = snap.node_columns();
        let (addrs, type_of, shallow, owned) = (cols.addr, cols.type_of, cols.shallow, cols.owned);
        let (refcount, flags, name) = (cols.refcount, cols.flags, cols.name);
        let mut prev_addr = 0u64;
        for start in (0..snap.node_count()).step_by(NODES_PER_CHUNK) {
            buf.clear();
            for i in start..(start + NODES_PER_CHUNK).min(snap.node_count()) {
                let delta = addrs[i].wrapping_sub(prev_addr) as i64;
                prev_addr = addrs[i];
                put(&mut buf, ((delta << 1) ^ (delta >> 63)) as u64);
                put(&mut buf, type_of[i] as u64);
                put(&mut buf, shallow[i]);
                put(&mut buf, owned[i] - shallow[i]);
                put(&mut buf, refcount[i] as u64);
                buf.push(flags[i]);
                put(&mut buf, name[i] as u64);
                put(&mut buf, offsets[i + 1] - offsets[i]);
            }
            self.stats.node_bytes += buf.len() as u64;
            self.chunk(*b"NODE", &buf)?;
        }

        for start in (0..targets.len()).step_by(EDGES_PER_CHUNK) {
            buf.clear();
            let end = (start + EDGES_PER_CHUNK).min(targets.len());
            for (t, l) in targets[start..end].iter().zip(&labels[start..end]) {
                buf.extend_from_slice(&t.to_le_bytes());
                buf.extend_from_slice(&l.to_le_bytes());
            }
            self.stats.edge_bytes += buf.len() as u64;
            self.chunk(*b"EDGE", &buf)?;
        }

        buf.clear();
        for r in snap.roots() {
            buf.push(r.kind as u8);
            put(&mut buf, r.name as u64);
            put(&mut buf, r.node as u64);
            put(&mut buf, r.missing as u64);
        }
        self.chunk(*b"ROOT", &buf)?;
        let (out, bytes) = self.out.finish()?;
        self.stats.file_bytes = bytes;
        Ok((out, self.stats))
    }
}

fn write_meta(buf: &mut Vec<u8>, snap: &HeapSnapshot) {
    let m = snap.meta();
    let put_str = |buf: &mut Vec<u8>, s: &str| {
        put(buf, s.len() as u64);
        buf.extend_from_slice(s.as_bytes());
    };
    put_str(buf, &m.python);
    put(buf, m.pid as u64);
    put(buf, m.unix_time_ns);
    put(buf, m.rss_bytes);
    buf.push(m.strings_included as u8);
    match &m.hostname {
        Some(h) => {
            buf.push(1);
            put_str(buf, h);
        }
        None => buf.push(0),
    }
    match &m.argv {
        Some(argv) => {
            buf.push(1);
            put(buf, argv.len() as u64);
            for a in argv {
                put_str(buf, a);
            }
        }
        None => buf.push(0),
    }
    for count in [
        snap.node_count(),
        snap.edge_count(),
        snap.strings().len(),
        snap.types().len(),
        snap.roots().len(),
    ] {
        put(buf, count as u64);
    }
}

/// Writes `snap` to `out` as a `.mlh` file.
pub fn write_snapshot<W: Write>(snap: &HeapSnapshot, out: W) -> Result<WriteStats, FormatError> {
    SnapshotWriter::new(out)?
        .write(snap)
        .map(|(_, stats)| stats)
}

/// Reads a `.mlh` file with the default [`Limits`].
pub fn read_snapshot<R: Read>(input: R) -> Result<HeapSnapshot, FormatError> {
    read_snapshot_with(input, Limits::default())
}

struct Counts {
    nodes: u64,
    edges: u64,
    strings: u64,
    types: u64,
    roots: u64,
}

/// Reads a `.mlh` file, holding it to `limits`.
pub fn read_snapshot_with<R: Read>(input: R, limits: Limits) -> Result<HeapSnapshot, FormatError> {
    let mut reader = ContainerReader::open(input, FileKind::HeapSnapshot, limits)?;
    let mut parts = SnapshotParts::default();
    let mut counts: Option<Counts> = None;
    let mut degrees: Vec<u64> = Vec::new();
    let mut prev_addr = 0u64;
    while let Some(chunk) = reader.next_chunk()? {
        let offset = chunk.offset;
        let mut c = Cursor::new(&chunk.data);
        let corrupt = |what: &'static str, detail: &str| FormatError::Corrupt {
            what,
            offset,
            detail: detail.to_owned(),
        };
        let Some(counts) = counts.as_ref() else {
            if &chunk.tag != b"META" {
                return Err(corrupt("snapshot", "the first chunk is not META"));
            }
            let (meta, read) = read_meta(&mut c).map_err(|e| corrupt("META chunk", e))?;
            // Reserve from declared counts only up to a bound: they are unverified.
            let cap = |n: u64| n.min(1 << 20) as usize;
            parts.addr.reserve(cap(read.nodes));
            parts.targets.reserve(cap(read.edges));
            parts.strings.reserve(cap(read.strings));
            parts.meta = meta;
            counts = Some(read);
            continue;
        };
        match &chunk.tag {
            b"META" => return Err(corrupt("snapshot", "a second META chunk")),
            b"STRS" => {
                while !c.is_empty() {
                    let s = c.str().map_err(|e| corrupt("STRS chunk", e))?;
                    parts.strings.push(s.into());
                }
                if parts.strings.len() as u64 > counts.strings {
                    return Err(corrupt("STRS chunk", "more strings than META declares"));
                }
            }
            b"TYPE" => {
                while !c.is_empty() {
                    let module = c.varint_u32().map_err(|e| corrupt("TYPE chunk", e))?;
                    let qualname = c.varint_u32().map_err(|e| corrupt("TYPE chunk", e))?;
                    parts.types.push(TypeInfo { module, qualname });
                }
                if parts.types.len() as u64 > counts.types {
                    return Err(corrupt("TYPE chunk", "more types than META declares"));
                }
            }
            b"NODE" => {
                while !c.is_empty() {
                    read_node(&mut c, &mut parts, &mut degrees, &mut prev_addr)
                        .map_err(|e| corrupt("NODE chunk", e))?;
                }
                if parts.addr.len() as u64 > counts.nodes {
                    return Err(corrupt("NODE chunk", "more nodes than META declares"));
                }
            }
            b"EDGE" => {
                if c.remaining() % 8 != 0 {
                    return Err(corrupt("EDGE chunk", "length is not a multiple of 8"));
                }
                while !c.is_empty() {
                    parts
                        .targets
                        .push(c.u32().map_err(|e| corrupt("EDGE chunk", e))?);
                    parts
                        .labels
                        .push(c.u32().map_err(|e| corrupt("EDGE chunk", e))?);
                }
                if parts.targets.len() as u64 > counts.edges {
                    return Err(corrupt("EDGE chunk", "more edges than META declares"));
                }
            }
            b"ROOT" => {
                while !c.is_empty() {
                    let root = read_root(&mut c).map_err(|e| corrupt("ROOT chunk", e))?;
                    parts.roots.push(root);
                }
                if parts.roots.len() as u64 > counts.roots {
                    return Err(corrupt("ROOT chunk", "more roots than META declares"));
                }
            }
            _ => {}
        }
    }
    let corrupt = |detail: String| FormatError::Corrupt {
        what: "snapshot",
        offset: 0,
        detail,
    };
    let Some(counts) = counts else {
        return Err(corrupt("no META chunk".into()));
    };
    let found = [
        ("nodes", counts.nodes, parts.addr.len()),
        ("edges", counts.edges, parts.targets.len()),
        ("strings", counts.strings, parts.strings.len()),
        ("types", counts.types, parts.types.len()),
        ("roots", counts.roots, parts.roots.len()),
    ];
    for (what, declared, got) in found {
        if declared != got as u64 {
            return Err(corrupt(format!(
                "META declares {declared} {what}, the file holds {got}"
            )));
        }
    }
    let mut offsets = Vec::with_capacity(degrees.len() + 1);
    let mut total = 0u64;
    offsets.push(0);
    for d in degrees {
        total = total.saturating_add(d);
        offsets.push(total);
    }
    parts.offsets = offsets;
    HeapSnapshot::from_parts(parts).map_err(|e| corrupt(e.0))
}

fn read_meta(c: &mut Cursor<'_>) -> Result<(SnapshotMeta, Counts), &'static str> {
    let python = c.str()?.to_owned();
    let pid = c.varint_u32()?;
    let unix_time_ns = c.varint()?;
    let rss_bytes = c.varint()?;
    let strings_included = c.u8()? != 0;
    let hostname = match c.u8()? {
        0 => None,
        _ => Some(c.str()?.to_owned()),
    };
    let argv = match c.u8()? {
        0 => None,
        _ => {
            let n = c.varint()?;
            let mut argv = Vec::new();
            for _ in 0..n {
                argv.push(c.str()?.to_owned());
            }
            Some(argv)
        }
    };
    let counts = Counts {
        nodes: c.varint()?,
        edges: c.varint()?,
        strings: c.varint()?,
        types: c.varint()?,
        roots: c.varint()?,
    };
    if counts.nodes > u32::MAX as u64 {
        return Err("more nodes than 32-bit ids can name");
    }
    let meta = SnapshotMeta {
        python,
        pid,
        unix_time_ns,
        rss_bytes,
        strings_included,
        hostname,
        argv,
    };
    Ok((meta, counts))
}

fn read_node(
    c: &mut Cursor<'_>,
    parts: &mut SnapshotParts,
    degrees: &mut Vec<u64>,
    prev_addr: &mut u64,
) -> Result<(), &'static str> {
    let zz = c.varint()?;
    let delta = ((zz >> 1) as i64) ^ -((zz & 1) as i64);
    let addr = prev_addr.wrapping_add(delta as u64);
    *prev_addr = addr;
    let ty = c.varint_u32()?;
    let shallow = c.varint()?;
    let extra = c.varint()?;
    let refcount = c.varint_u32()?;
    let flags = c.u8()?;
    let name = c.varint_u32()?;
    let degree = c.varint()?;
    parts.addr.push(addr);
    parts.type_of.push(ty);
    parts.shallow.push(shallow);
    parts
        .owned
        .push(shallow.checked_add(extra).ok_or("owned size overflows")?);
    parts.refcount.push(refcount);
    parts.flags.push(flags);
    parts.name.push(name);
    degrees.push(degree);
    Ok(())
}

fn read_root(c: &mut Cursor<'_>) -> Result<Root, &'static str> {
    let kind = RootKind::from_code(c.u8()?).ok_or("unknown root kind")?;
    Ok(Root {
        kind,
        name: c.varint_u32()?,
        node: c.varint_u32()?,
        missing: c.varint_u32()?,
    })
}
