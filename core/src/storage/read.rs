//! The fetch path: locate whole batches under the lock, copy the bytes outside it.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

use crate::record::records;

use super::log::PartitionLog;
use super::segment::Segment;
use super::ReadError;

/// A byte range of one segment file holding whole batches. The `Arc<File>` keeps the data readable even if
/// retention deletes the segment before the broker copies it.
#[derive(Debug, Clone)]
pub struct ReadSlice {
    pub file: Arc<File>,
    pub position: u64,
    pub len: usize,
    /// Base offset of the first batch in the range (the requested offset when empty).
    pub first_offset: i64,
    /// Offset after the last batch in the range (== first_offset when empty).
    pub next_offset: i64,
}

impl ReadSlice {
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the range with pread (no shared file cursor, so concurrent readers are fine).
    pub fn read_bytes(&self) -> io::Result<Bytes> {
        let mut buf = vec![0u8; self.len];
        self.file.read_exact_at(&mut buf, self.position)?;
        Ok(Bytes::from(buf))
    }
}

impl PartitionLog {
    /// Whole batches starting with the one containing `fetch_offset` (in a compacted log, where offsets have
    /// gaps, the first batch after it: `find_batch` looks for the first batch ending at or after it, and an
    /// emptied segment is skipped), up to `max_bytes`; with `min_one_batch`
    /// a first batch larger than `max_bytes` is returned whole (KIP-74). Batches reaching `max_offset_exclusive`
    /// (the high watermark) are never included. Only one segment is read per call, as in Kafka.
    pub fn read(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        max_offset_exclusive: i64,
    ) -> Result<ReadSlice, ReadError> {
        let end = self.log_end_offset();
        if fetch_offset < self.log_start_offset || fetch_offset > end {
            return Err(ReadError::OffsetOutOfRange { offset: fetch_offset, log_start: self.log_start_offset, log_end: end });
        }
        let empty = ReadSlice {
            file: self.active().file.clone(),
            position: self.active().size,
            len: 0,
            first_offset: fetch_offset,
            next_offset: fetch_offset,
        };
        if fetch_offset == end || fetch_offset >= max_offset_exclusive {
            return Ok(empty);
        }
        let first = self.segment_index_for(fetch_offset);
        for seg in &self.segments[first..] {
            let Some((start, first_batch)) = seg.find_batch(fetch_offset)? else { continue };
            let (mut pos, mut len, mut next) = (start, 0usize, first_batch.base_offset);
            while let Some(h) = seg.header_at(pos)? {
                if h.last_offset() >= max_offset_exclusive {
                    break;
                }
                let size = h.total_size();
                if len + size > max_bytes {
                    if len == 0 && min_one_batch {
                        len = size;
                        next = h.next_offset();
                    }
                    break;
                }
                len += size;
                next = h.next_offset();
                pos += size as u64;
            }
            return Ok(ReadSlice { file: seg.file.clone(), position: start, len, first_offset: first_batch.base_offset, next_offset: next });
        }
        Ok(empty)
    }

    /// Index of the segment that would hold `offset`: the last one whose base is <= offset.
    pub(super) fn segment_index_for(&self, offset: i64) -> usize {
        self.segments.partition_point(|s| s.base_offset <= offset).saturating_sub(1)
    }

    /// ListOffsets by timestamp: the first record (offset >= log start) with timestamp >= `ts`, found via the
    /// time index, a header scan, then decoding that one batch. Returns (offset, record timestamp).
    pub fn offset_for_timestamp(&self, ts: i64) -> io::Result<Option<(i64, i64)>> {
        for seg in self.segments.iter().filter(|s| s.max_timestamp >= ts) {
            if let Some(found) = self.first_record_from(seg, ts)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// ListOffsets -3 (MAX_TIMESTAMP): the largest timestamp and the first record carrying it.
    pub fn max_timestamp(&self) -> io::Result<Option<(i64, i64)>> {
        let Some(seg) = self.segments.iter().filter(|s| s.max_timestamp >= 0).max_by_key(|s| s.max_timestamp)
        else {
            return Ok(None);
        };
        Ok(self.first_record_from(seg, seg.max_timestamp)?.map(|(off, t)| (t, off)))
    }

    fn first_record_from(&self, seg: &Segment, ts: i64) -> io::Result<Option<(i64, i64)>> {
        let mut pos = seg.timestamp_scan_start(ts);
        while let Some(h) = seg.header_at(pos)? {
            let size = h.total_size();
            if h.max_timestamp >= ts && h.last_offset() >= self.log_start_offset {
                let mut buf = vec![0u8; size];
                seg.file.read_exact_at(&mut buf, pos)?;
                let iter = records(Bytes::from(buf)).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                for r in iter {
                    let r = r.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    if r.timestamp >= ts && r.offset >= self.log_start_offset {
                        return Ok(Some((r.offset, r.timestamp)));
                    }
                }
            }
            pos += size as u64;
        }
        Ok(None)
    }
}
