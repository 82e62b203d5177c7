//! `.timeindex`: (timestamp i64 BE, offset - base_offset as u32 BE), timestamps strictly increasing. An entry
//! (t, o) says: the largest timestamp among offsets up to o is t, first reached at o.

use std::io;
use std::path::Path;

use super::mmap_index::MmapIndex;

const ENTRY: usize = 12;

pub(crate) struct TimeIndex {
    idx: MmapIndex,
    base_offset: i64,
}

impl TimeIndex {
    pub fn open(path: &Path, base_offset: i64) -> io::Result<Self> {
        Ok(TimeIndex { idx: MmapIndex::open(path, ENTRY)?, base_offset })
    }

    fn get(&self, i: usize) -> (i64, i64) {
        decode_entry(self.idx.entry(i), self.base_offset)
    }

    pub fn last_entry(&self) -> Option<(i64, i64)> {
        self.idx.entries().checked_sub(1).map(|i| self.get(i))
    }

    /// Appends (timestamp, offset) unless it would not raise the indexed maximum. False only when full.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> bool {
        if self.last_entry().is_some_and(|(t, _)| timestamp <= t) {
            return true;
        }
        let mut e = [0u8; ENTRY];
        e[0..8].copy_from_slice(&timestamp.to_be_bytes());
        e[8..12].copy_from_slice(&((offset - self.base_offset) as u32).to_be_bytes());
        self.idx.push(&e)
    }

    /// The offset to start scanning from for the first record with timestamp >= `ts`: the offset of the largest
    /// entry whose timestamp is strictly below `ts` (every record before it is older than `ts`), else base.
    /// Strictly below, because records before an entry equal to `ts` may carry `ts` too.
    pub fn lookup(&self, ts: i64) -> i64 {
        let (mut lo, mut hi) = (0, self.idx.entries());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.get(mid).0 < ts {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            self.base_offset
        } else {
            self.get(lo - 1).1
        }
    }

    /// Same policy as `OffsetIndex::sanitize`: increasing timestamps and offsets below `next_offset`.
    pub fn sanitize(&mut self, next_offset: i64) -> bool {
        let mut prev: Option<(i64, i64)> = None;
        for i in 0..self.idx.entries() {
            let (ts, off) = self.get(i);
            let ok = off < next_offset && !matches!(prev, Some((pt, po)) if ts <= pt || off < po);
            if !ok {
                let zero_tail = self.idx.zero_from(i);
                self.idx.truncate_entries(i);
                return zero_tail;
            }
            prev = Some((ts, off));
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

/// One `.timeindex` entry: (timestamp, absolute offset).
pub(crate) fn decode_entry(e: &[u8], base_offset: i64) -> (i64, i64) {
    let ts = i64::from_be_bytes(e[0..8].try_into().unwrap());
    let rel = u32::from_be_bytes(e[8..12].try_into().unwrap());
    (ts, base_offset + rel as i64)
}

pub(crate) const ENTRY_SIZE: usize = ENTRY;
