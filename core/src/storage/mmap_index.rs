//! A memory-mapped file of fixed-size entries: the common base of `.index` and `.timeindex`.
//!
//! Like Kafka, the active segment's index may hold up to `segment.index.bytes` and is trimmed to its entries when
//! the segment becomes inactive or the log closes, so the file length tells readers (and Kafka's tools) how many
//! entries there are. Unlike Kafka, the room ahead of the entries is not one sparse 10 MiB hole: it is reserved
//! on disk (`posix_fallocate`) a chunk at a time as the index fills. A store into a mapped hole on a full
//! filesystem cannot fail with an error — the kernel kills the process with SIGBUS — so every byte an append may
//! write has a block behind it before it is mapped, and a nearly full disk is not consumed by indexes that hold
//! a few entries.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

pub(crate) struct MmapIndex {
    path: PathBuf,
    file: File,
    /// None while the file is empty: a zero-length file cannot be mapped. Covers the whole file.
    mmap: Option<MmapMut>,
    entry_size: usize,
    entries: usize,
    /// How many entries the index may grow to (`segment.index.bytes`); the file holds a reserved prefix of it.
    max_entries: usize,
}

/// Room reserved ahead of the entries each time the index grows: 8192 offset entries, about 32 MiB of log at the
/// default `index.interval.bytes`.
const GROW_BYTES: usize = 64 * 1024;

impl MmapIndex {
    /// Opens (creating if needed). Existing entries are taken from the file length, as Kafka does; callers
    /// then drop trailing garbage with `truncate_entries` (an unclean shutdown leaves zeroed preallocation).
    pub fn open(path: &Path, entry_size: usize) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        let len = file.metadata()?.len() as usize;
        let mut idx = MmapIndex { path: path.to_path_buf(), file, mmap: None, entry_size, entries: len / entry_size, max_entries: len / entry_size };
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

    /// Entries the index may hold (the mapping grows towards it as entries are pushed).
    pub fn capacity(&self) -> usize {
        self.max_entries
    }

    fn mapped_entries(&self) -> usize {
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

    /// Stores one entry; false when the index is full (the caller rolls the segment) or the disk has no room for
    /// it (the entry is skipped: an index is sparse by design, a lookup then scans a little more log).
    pub fn push(&mut self, entry: &[u8]) -> bool {
        debug_assert_eq!(entry.len(), self.entry_size);
        if self.is_full() {
            return false;
        }
        if self.entries >= self.mapped_entries() {
            if let Err(e) = self.grow() {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot grow an index; entry skipped");
                return false;
            }
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
            // Re-extended with reserved blocks, not a hole.
            let len = self.reserve(from, len)?;
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

    /// Lets the index hold up to `max_bytes` (rounded down to whole entries) and reserves the first chunk.
    pub fn preallocate(&mut self, max_bytes: usize) -> io::Result<()> {
        self.max_entries = (max_bytes / self.entry_size).max(self.entries).max(1);
        self.flush()?;
        self.mmap = None;
        let want = (self.entries * self.entry_size + GROW_BYTES).min(self.max_entries * self.entry_size);
        let len = self.reserve(self.entries * self.entry_size, want)?;
        self.remap(len)
    }

    /// Maps one more reserved chunk (the entries have reached the end of the mapping).
    fn grow(&mut self) -> io::Result<()> {
        let have = self.mapped_entries() * self.entry_size;
        let want = (have + GROW_BYTES).min(self.max_entries * self.entry_size);
        self.flush()?;
        self.mmap = None;
        let len = self.reserve(have, want);
        // Map what the file has even when the reservation failed, so the entries stay readable.
        let mapped = self.remap(self.file.metadata()?.len() as usize);
        let len = len?;
        mapped?;
        if len <= have {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        Ok(())
    }

    /// Makes the file `len` bytes long with real blocks behind `from..len`. On a full disk it settles for less
    /// (halving the request down to nothing past `from`) and returns the length the file has.
    fn reserve(&mut self, from: usize, len: usize) -> io::Result<usize> {
        let mut want = len;
        loop {
            if want <= from {
                self.file.set_len(from as u64)?;
                return Ok(from);
            }
            // SAFETY: a plain syscall on a descriptor this struct owns; both values are below i64::MAX.
            let rc = unsafe {
                libc::posix_fallocate(
                    std::os::fd::AsRawFd::as_raw_fd(&self.file),
                    from as libc::off_t,
                    (want - from) as libc::off_t,
                )
            };
            match rc {
                0 => {
                    // fallocate extends the file to `want` but never shrinks it: cut what a longer file had.
                    self.file.set_len(want as u64)?;
                    return Ok(want);
                }
                // A filesystem without fallocate: a plain (sparse) extension, as Kafka does everywhere.
                libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL => {
                    self.file.set_len(want as u64)?;
                    return Ok(want);
                }
                libc::ENOSPC => {
                    let half = from + ((want - from) / 2 / self.entry_size) * self.entry_size;
                    want = if half >= want { from } else { half };
                }
                e => return Err(io::Error::from_raw_os_error(e)),
            }
        }
    }

    /// Shrinks the file to exactly its entries (segment became inactive or the log is closing).
    pub fn trim(&mut self) -> io::Result<()> {
        self.max_entries = self.entries;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// Bytes the file really has on disk (a sparse hole has none).
    fn allocated(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().blocks() * 512
    }

    fn file_len(path: &Path) -> usize {
        std::fs::metadata(path).unwrap().len() as usize
    }

    #[test]
    fn grows_a_reserved_chunk_at_a_time_up_to_its_maximum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.index");
        let mut idx = MmapIndex::open(&path, 8).unwrap();
        idx.preallocate(1 << 20).unwrap();
        assert_eq!(idx.capacity(), (1 << 20) / 8);
        assert_eq!(file_len(&path), GROW_BYTES, "only the first chunk is on disk");
        assert!(allocated(&path) >= GROW_BYTES as u64, "the first chunk is sparse");
        let n = (1 << 20) / 8;
        for i in 0..n as u64 {
            assert!(idx.push(&i.to_be_bytes()), "entry {i}");
        }
        assert!(idx.is_full());
        assert!(!idx.push(&0u64.to_be_bytes()));
        assert_eq!(file_len(&path), 1 << 20);
        assert!(allocated(&path) >= 1 << 20, "grown index is sparse");
        assert_eq!(idx.entry(n - 1), &((n - 1) as u64).to_be_bytes());
    }

    #[test]
    fn a_cut_leaves_zeros_backed_by_blocks_and_trim_keeps_the_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.timeindex");
        let mut idx = MmapIndex::open(&path, 12).unwrap();
        idx.preallocate(120_000).unwrap();
        for i in 1..=1000u64 {
            let mut e = [0u8; 12];
            e[..8].copy_from_slice(&i.to_be_bytes());
            assert!(idx.push(&e));
        }
        idx.truncate_entries(10);
        assert_eq!(idx.entries(), 10);
        assert!(idx.zero_from(10));
        let len = file_len(&path);
        assert!(allocated(&path) >= len as u64, "re-extended index is sparse");
        idx.trim().unwrap();
        assert_eq!(file_len(&path), 120);
        drop(idx);
        let idx = MmapIndex::open(&path, 12).unwrap();
        assert_eq!(idx.entries(), 10);
        assert_eq!(&idx.entry(9)[..8], &10u64.to_be_bytes());
    }
}
