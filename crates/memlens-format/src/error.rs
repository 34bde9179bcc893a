//! The error every reader and writer of the container returns.

/// What was wrong with a file; every message says where and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with the memlens magic bytes.
    #[error("not a memlens file (no MLNS header): was it written by memlens?")]
    NotMemlens,
    /// The file was written by a newer memlens.
    #[error("file format version {found} is newer than this memlens reads ({supported}): upgrade memlens")]
    UnsupportedVersion {
        /// Version in the file.
        found: u16,
        /// Newest version this build reads.
        supported: u16,
    },
    /// The file is a memlens file of another kind.
    #[error("this is a memlens {found} file, not a {expected} file")]
    WrongKind {
        /// The kind asked for.
        expected: &'static str,
        /// The kind found.
        found: String,
    },
    /// The file ends before its end marker.
    #[error("file is truncated at byte {offset} (no end marker): was the writer interrupted?")]
    Truncated {
        /// Where the data stopped.
        offset: u64,
    },
    /// A chunk's checksum does not match its bytes.
    #[error("chunk {tag} at byte {offset} is corrupt (checksum mismatch)")]
    Checksum {
        /// The chunk's tag.
        tag: String,
        /// Where the chunk starts.
        offset: u64,
    },
    /// A declared length exceeds a limit or the data available.
    #[error("chunk {tag} at byte {offset} declares {declared} bytes, over the limit of {limit}")]
    TooLarge {
        /// The chunk's tag.
        tag: String,
        /// Where the chunk starts.
        offset: u64,
        /// The declared length.
        declared: u64,
        /// The limit.
        limit: u64,
    },
    /// The bytes are well framed but their content is inconsistent.
    #[error("corrupt {what} at byte {offset}: {detail}")]
    Corrupt {
        /// Which structure.
        what: &'static str,
        /// Where its chunk starts.
        offset: u64,
        /// What is inconsistent.
        detail: String,
    },
}

/// Displays a chunk tag as its four ASCII letters when it has them.
pub(crate) fn tag_name(tag: u32) -> String {
    let bytes = tag.to_le_bytes();
    if bytes.iter().all(|b| b.is_ascii_alphanumeric()) {
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        format!("{tag:#010x}")
    }
}
