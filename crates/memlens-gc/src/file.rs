//! The GC event log (`.mlg`) on memlens's container.
//!
//! ```text
//! file  := container of kind GcEvents: GCEV* GCMT (exactly one GCMT, anywhere)
//! GCEV  := fields u32le | record*        record := fields × u64le
//! GCMT  := JSON of GcMeta
//! ```
//! A record's first eight fields are, in order: start_ns, end_ns, generation,
//! collected, uncollectable, candidates, thread, rss_bytes; `u64::MAX` in
//! candidates or rss_bytes means "not known". A newer writer may append
//! fields; this reader skips them. Unknown chunk tags are skipped too.

use std::io::{Read, Write};

use memlens_format::{ContainerReader, ContainerWriter, FileKind, FormatError, Limits};

use crate::event::{GcEvent, GcMeta};

/// Fields this build writes per record.
pub const RECORD_FIELDS: u32 = 8;
const MAX_RECORD_FIELDS: u32 = 64;
const EVENTS_TAG: [u8; 4] = *b"GCEV";
const META_TAG: [u8; 4] = *b"GCMT";
const UNKNOWN: u64 = u64::MAX;

/// Why a GC event log could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GcFileError {
    /// The container itself is not readable (not memlens, truncated, corrupt, ...).
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The chunks are intact but what they hold is inconsistent.
    #[error("corrupt GC event log at byte {offset}: {detail}")]
    Corrupt {
        /// Where the chunk starts.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// The metadata could not be encoded.
    #[error("cannot encode the GC log metadata: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A GC event log read back: the run and its collections, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcLog {
    /// The run.
    pub meta: GcMeta,
    /// Every recorded collection.
    pub events: Vec<GcEvent>,
}

/// Streams events into a GC event log; the metadata goes last, so a run's
/// totals (its duration, what was dropped) can be written when it ends.
#[derive(Debug)]
pub struct GcLogWriter<W: Write> {
    container: ContainerWriter<W>,
    buffer: Vec<u8>,
}

impl<W: Write> GcLogWriter<W> {
    /// Writes the file header.
    pub fn new(out: W) -> Result<Self, GcFileError> {
        Ok(GcLogWriter {
            container: ContainerWriter::new(out, FileKind::GcEvents)?,
            buffer: Vec::new(),
        })
    }

    /// Writes `events` as one chunk (nothing when empty).
    pub fn events(&mut self, events: &[GcEvent]) -> Result<(), GcFileError> {
        if events.is_empty() {
            return Ok(());
        }
        self.buffer.clear();
        self.buffer.extend_from_slice(&RECORD_FIELDS.to_le_bytes());
        for e in events {
            for field in [
                e.start_ns,
                e.end_ns,
                u64::from(e.generation),
                e.collected,
                e.uncollectable,
                e.candidates.unwrap_or(UNKNOWN),
                e.thread,
                e.rss_bytes.unwrap_or(UNKNOWN),
            ] {
                self.buffer.extend_from_slice(&field.to_le_bytes());
            }
        }
        self.container.chunk(EVENTS_TAG, &self.buffer)?;
        Ok(())
    }

    /// Writes the metadata and the end marker; returns the output and the
    /// file's size.
    pub fn finish(mut self, meta: &GcMeta) -> Result<(W, u64), GcFileError> {
        let json = serde_json::to_vec(meta)?;
        self.container.chunk(META_TAG, &json)?;
        Ok(self.container.finish()?)
    }
}

/// Writes a whole log at once.
pub fn write_gc_log<W: Write>(
    out: W,
    meta: &GcMeta,
    events: &[GcEvent],
) -> Result<u64, GcFileError> {
    let mut writer = GcLogWriter::new(out)?;
    // Chunks of 64 Ki events keep each well under the reader's chunk limit.
    for part in events.chunks(1 << 16) {
        writer.events(part)?;
    }
    Ok(writer.finish(meta)?.1)
}

/// Reads a GC event log, checking every record.
pub fn read_gc_log<R: Read>(input: R) -> Result<GcLog, GcFileError> {
    let mut reader = ContainerReader::open(input, FileKind::GcEvents, Limits::default())?;
    let mut meta = None;
    let mut events = Vec::new();
    while let Some(chunk) = reader.next_chunk()? {
        let corrupt = |detail: String| GcFileError::Corrupt {
            offset: chunk.offset,
            detail,
        };
        match chunk.tag {
            EVENTS_TAG => decode_events(&chunk.data, &mut events).map_err(corrupt)?,
            META_TAG => {
                if meta.is_some() {
                    return Err(corrupt("a second metadata chunk".into()));
                }
                let decoded: GcMeta = serde_json::from_slice(&chunk.data)
                    .map_err(|e| corrupt(format!("metadata: {e}")))?;
                meta = Some(decoded);
            }
            _ => {}
        }
    }
    let meta = meta.ok_or_else(|| GcFileError::Corrupt {
        offset: 0,
        detail: "no metadata chunk (the run's totals are missing)".into(),
    })?;
    Ok(GcLog { meta, events })
}

fn decode_events(data: &[u8], out: &mut Vec<GcEvent>) -> Result<(), String> {
    let head: [u8; 4] = data
        .get(..4)
        .and_then(|h| h.try_into().ok())
        .ok_or("events chunk is shorter than its field count")?;
    let fields = u32::from_le_bytes(head);
    if !(RECORD_FIELDS..=MAX_RECORD_FIELDS).contains(&fields) {
        return Err(format!(
            "events chunk has {fields} fields per record, expected {RECORD_FIELDS} to {MAX_RECORD_FIELDS}"
        ));
    }
    let record_len = fields as usize * 8;
    let body = &data[4..];
    if body.len() % record_len != 0 {
        return Err(format!(
            "events chunk holds {} bytes, not a whole number of {record_len}-byte records",
            body.len()
        ));
    }
    out.reserve(body.len() / record_len);
    for (index, record) in body.chunks_exact(record_len).enumerate() {
        let mut f = [0u64; RECORD_FIELDS as usize];
        for (slot, bytes) in f.iter_mut().zip(record.chunks_exact(8)) {
            *slot = u64::from_le_bytes(bytes.try_into().map_err(|_| "short field")?);
        }
        let [start_ns, end_ns, generation, collected, uncollectable, candidates, thread, rss] = f;
        if generation > 2 {
            return Err(format!("record {index}: generation {generation} (0 to 2)"));
        }
        if end_ns < start_ns {
            return Err(format!(
                "record {index}: ends at {end_ns} ns, before its start at {start_ns} ns"
            ));
        }
        out.push(GcEvent {
            start_ns,
            end_ns,
            generation: generation as u8,
            collected,
            uncollectable,
            candidates: (candidates != UNKNOWN).then_some(candidates),
            thread,
            rss_bytes: (rss != UNKNOWN).then_some(rss),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(start_ns: u64, generation: u8) -> GcEvent {
        GcEvent {
            start_ns,
            end_ns: start_ns + 1000,
            generation,
            collected: 3,
            uncollectable: 0,
            candidates: None,
            thread: 7,
            rss_bytes: Some(1 << 20),
        }
    }

    #[test]
    fn a_log_comes_back_as_written() {
        let meta = GcMeta {
            python_version: "3.11.7".into(),
            pid: 42,
            duration_ns: 5_000,
            thresholds: vec![700, 10, 10],
            ..GcMeta::default()
        };
        let events = vec![event(0, 0), event(2000, 2)];
        let mut bytes = Vec::new();
        write_gc_log(&mut bytes, &meta, &events).unwrap();
        let log = read_gc_log(&bytes[..]).unwrap();
        assert_eq!(log.meta, meta);
        assert_eq!(log.events, events);
    }

    #[test]
    fn impossible_records_are_named() {
        let mut bad = event(10, 0);
        bad.end_ns = 5;
        let mut bytes = Vec::new();
        write_gc_log(&mut bytes, &GcMeta::default(), &[bad]).unwrap();
        let err = read_gc_log(&bytes[..]).unwrap_err().to_string();
        assert!(err.contains("before its start"), "{err}");

        let mut bytes = Vec::new();
        write_gc_log(&mut bytes, &GcMeta::default(), &[event(0, 3)]).unwrap();
        let err = read_gc_log(&bytes[..]).unwrap_err().to_string();
        assert!(err.contains("generation 3"), "{err}");
    }

    #[test]
    fn a_log_without_metadata_is_refused() {
        let mut w = ContainerWriter::new(Vec::new(), FileKind::GcEvents).unwrap();
        w.chunk(EVENTS_TAG, &RECORD_FIELDS.to_le_bytes()).unwrap();
        let bytes = w.finish().unwrap().0;
        let err = read_gc_log(&bytes[..]).unwrap_err().to_string();
        assert!(err.contains("no metadata"), "{err}");
    }
}
