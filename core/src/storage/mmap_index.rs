//! A memory-mapped file of fixed-size entries: the common base of `.index` and `.timeindex`.
//!
//! Like Kafka, the active segment's index is preallocated to `segment.index.bytes` (so appends are plain
//! memory stores) and trimmed to its entries when the segment becomes inactive or the log closes, so the file
//! length tells readers (and Kafka's tools) how many entries there are.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

pub(crate) struct MmapIndex {
    path: PathBuf,
    file: File,
    /// None while the file is empty: a zero-length file cannot be mapped.
    mmap: Option<MmapMut>,
    entry_size: usize,
    entries: usize,
}

impl MmapIndex {
    /// Opens (creating if needed). Existing entries are taken from the file length, as Kafka does; callers
    /// then drop trailing garbage with `truncate_entries` (an unclean shutdown leaves zeroed preallocation).
    pub fn open(path: &Path, entry_size: usize) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        let len = file.metadata()?.len() as usize;
        let mut idx = MmapIndex { path: path.to_path_buf(), file, mmap: None, entry_size, entries: len / entry_size };
        idx.remap(len)?;
        Ok(idx)
    }

    fn remap(&mut self, len: usize) -> io::Result<()> {
        self.mmap = None;
        if len > 0 {
            // SAFETY: the file is private to this log directory and only resized through this struct, after
            // dropping the map; nothing else truncates it while mapped.
            self.mmap = Some(unsafe { MmapMut::map_mut(&self.file)? });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Entries the current mapping can hold.
    pub fn capacity(&self) -> usize {
        self.mmap.as_ref().map_or(0, |m| m.len() / self.entry_size)
    }

    pub fn is_full(&self) -> bool {
        self.entries >= self.capacity()
    }

    /// True when every entry from `i` on is zero bytes (an unclean shutdown's untouched preallocation). Compared
    /// in page-sized chunks (memcmp) rather than byte by byte: a preallocated index is megabytes of zeros, and
    /// every partition's indexes are checked at start-up after a crash.
    pub fn zero_from(&self, i: usize) -> bool {
        const ZEROS: [u8; 4096] = [0; 4096];
        let Some(m) = self.mmap.as_ref() else { return true };
        let end = (self.entries * self.entry_size).min(m.len());
        let start = (i * self.entry_size).min(end);
        m[start..end].chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
    }

    pub fn entry(&self, i: usize) -> &[u8] {
        let m = self.mmap.as_ref().expect("entry of an empty index");
        &m[i * self.entry_size..(i + 1) * self.entry_size]
    }

    /// Stores one entry; false when the index is full (the caller rolls the segment).
    pub fn push(&mut self, entry: &[u8]) -> bool {
        debug_assert_eq!(entry.len(), self.entry_size);
        if self.is_full() {
            return false;
        }
        let at = self.entries * self.entry_size;
        self.mmap.as_mut().unwrap()[at..at + self.entry_size].copy_from_slice(entry);
        self.entries += 1;
        true
    }

    /// Forgets entries from `n` on and leaves zeros behind them (so a crash cannot resurrect them). Writing zeros
    /// through the mapping would dirty every page of a preallocated index; instead an already-zero tail is left
    /// alone and any other is cut through the file (truncate and re-extend), which frees blocks instead of
    /// writing them.
    pub fn truncate_entries(&mut self, n: usize) {
        if n >= self.entries {
            return;
        }
        let from = n * self.entry_size;
        let already_zero = self.zero_from(n);
        self.entries = n;
        if already_zero {
            return;
        }
        let len = self.mmap.as_ref().map_or(0, |m| m.len());
        let cut = self.flush().and_then(|_| {
            self.mmap = None;
            self.file.set_len(from as u64)?;
            self.file.set_len(len as u64)?;
            self.remap(len)
        });
        if let Err(e) = cut {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot cut an index through the file; zeroing it in place");
            if self.mmap.is_none() {
                let _ = self.remap(len);
            }
            if let Some(m) = self.mmap.as_mut() {
                let end = m.len();
                m[from.min(end)..end].fill(0);
            }
        }
    }

    /// Grows the file to `max_bytes` (rounded down to whole entries) so appends need no resize.
    pub fn preallocate(&mut self, max_bytes: usize) -> io::Result<()> {
        let len = (max_bytes / self.entry_size).max(self.entries).max(1) * self.entry_size;
        self.flush()?;
        self.mmap = None;
        self.file.set_len(len as u64)?;
        self.remap(len)
    }

    /// Shrinks the file to exactly its entries (segment became inactive or the log is closing).
    pub fn trim(&mut self) -> io::Result<()> {
        let len = self.entries * self.entry_size;
        self.flush()?;
        self.mmap = None;
        self.file.set_len(len as u64)?;
        self.remap(len)
    }

    pub fn flush(&self) -> io::Result<()> {
        if let Some(m) = &self.mmap {
            m.flush()?;
        }
        Ok(())
    }
}
