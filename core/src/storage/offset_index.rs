//! Sparse `.index`: (offset - base_offset as u32 BE, file position u32 BE). As in Kafka, an entry names the
//! *last* offset of a batch and that batch's start position, one entry per `index.interval.bytes` of log.

use std::io;
use std::path::Path;

use super::mmap_index::MmapIndex;

const ENTRY: usize = 8;

pub(crate) struct OffsetIndex {
    idx: MmapIndex,
    base_offset: i64,
}

impl OffsetIndex {
    pub fn open(path: &Path, base_offset: i64) -> io::Result<Self> {
        Ok(OffsetIndex { idx: MmapIndex::open(path, ENTRY)?, base_offset })
    }

    fn get(&self, i: usize) -> (i64, u64) {
        decode_entry(self.idx.entry(i), self.base_offset)
    }

    pub fn append(&mut self, offset: i64, position: u64) -> bool {
        let mut e = [0u8; ENTRY];
        e[0..4].copy_from_slice(&((offset - self.base_offset) as u32).to_be_bytes());
        e[4..8].copy_from_slice(&(position as u32).to_be_bytes());
        self.idx.push(&e)
    }

    /// Start position of the scan for `target`: the batch of the largest entry with offset <= target, else 0.
    pub fn lookup(&self, target: i64) -> u64 {
        let (mut lo, mut hi) = (0, self.idx.entries());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.get(mid).0 <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            0
        } else {
            self.get(lo - 1).1
        }
    }

    /// Checks entries against the log: offsets and positions strictly increasing, positions inside the file.
    /// Trailing all-zero entries (preallocation left by a crash) are dropped silently; anything else that
    /// fails is reported so the caller rebuilds the index.
    pub fn sanitize(&mut self, log_size: u64) -> bool {
        let mut prev: Option<(i64, u64)> = None;
        for i in 0..self.idx.entries() {
            let (off, pos) = self.get(i);
            let ok = pos > 0 && pos < log_size && !matches!(prev, Some((po, pp)) if off <= po || pos <= pp);
            if !ok {
                let zero_tail = self.idx.zero_from(i);
                self.idx.truncate_entries(i);
                return zero_tail;
            }
            prev = Some((off, pos));
        }
        true
    }


    pub fn clear(&mut self) {
        self.idx.truncate_entries(0);
    }

    pub fn room(&self) -> usize {
        self.idx.capacity().saturating_sub(self.idx.entries())
    }
    pub fn preallocate(&mut self, max_bytes: usize) -> io::Result<()> {
        self.idx.preallocate(max_bytes)
    }
    pub fn trim(&mut self) -> io::Result<()> {
        self.idx.trim()
    }
    pub fn flush(&self) -> io::Result<()> {
        self.idx.flush()
    }
    pub fn path(&self) -> &Path {
        self.idx.path()
    }
}

/// One `.index` entry: (absolute offset, file position).
pub(crate) fn decode_entry(e: &[u8], base_offset: i64) -> (i64, u64) {
    let rel = u32::from_be_bytes(e[0..4].try_into().unwrap());
    let pos = u32::from_be_bytes(e[4..8].try_into().unwrap());
    (base_offset + rel as i64, pos as u64)
}

pub(crate) const ENTRY_SIZE: usize = ENTRY;
