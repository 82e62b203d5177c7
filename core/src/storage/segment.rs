//! One segment: a `.log` file of whole batches plus its two indexes, and the in-memory facts the log needs
//! about it (end offset, largest timestamp) without rescanning.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::record::{batch_crc, BatchHeader, HEADER_SIZE, LOG_OVERHEAD};

use super::offset_file_name;
use super::offset_index::OffsetIndex;
use super::time_index::TimeIndex;

pub(crate) struct Segment {
    pub base_offset: i64,
    /// Arc'd so reads and fsyncs can run outside the log lock, even after the segment is deleted.
    pub file: Arc<File>,
    log_path: PathBuf,
    /// Bytes of whole batches; the file is never longer after a successful append or recovery.
    pub size: u64,
    index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_index: u64,
    /// Offset after the last batch (== base_offset when empty).
    pub next_offset: i64,
    /// Largest batch max timestamp (-1 when empty) and the last offset of the batch that carried it.
    pub max_timestamp: i64,
    pub offset_of_max_timestamp: i64,
    /// When the segment got its first batch, for `segment.ms`: the broker's clock for segments created by this
    /// process, the first batch's timestamp for reopened ones (the best that survives a restart).
    pub roll_base_ms: Option<i64>,
}

/// Why a scan stopped before the end of the file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ScanEnd {
    Clean,
    Corrupt { position: u64, reason: String },
}

impl Segment {
    fn paths(dir: &Path, base: i64) -> (PathBuf, PathBuf, PathBuf) {
        (
            dir.join(offset_file_name(base, ".log")),
            dir.join(offset_file_name(base, ".index")),
            dir.join(offset_file_name(base, ".timeindex")),
        )
    }

    /// Opens the files of a segment (creating them if absent). In-memory facts are filled by `load`/`recover`.
    pub fn open(dir: &Path, base_offset: i64) -> io::Result<Self> {
        let (log_path, index_path, time_path) = Self::paths(dir, base_offset);
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&log_path)?;
        let size = file.metadata()?.len();
        Ok(Segment {
            base_offset,
            file: Arc::new(file),
            log_path,
            size,
            index: OffsetIndex::open(&index_path, base_offset)?,
            time_index: TimeIndex::open(&time_path, base_offset)?,
            bytes_since_index: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            roll_base_ms: None,
        })
    }

    /// A fresh, empty active segment with preallocated indexes.
    pub fn create(dir: &Path, base_offset: i64, index_bytes: usize) -> io::Result<Self> {
        let mut s = Self::open(dir, base_offset)?;
        s.file.set_len(0)?;
        s.size = 0;
        s.index.clear();
        s.time_index.clear();
        s.make_active(index_bytes)?;
        Ok(s)
    }

    pub fn make_active(&mut self, index_bytes: usize) -> io::Result<()> {
        self.index.preallocate(index_bytes)?;
        self.time_index.preallocate(index_bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Reads the header of the batch starting at `pos`; None at the end of the segment.
    pub fn header_at(&self, pos: u64) -> io::Result<Option<BatchHeader>> {
        if pos >= self.size {
            return Ok(None);
        }
        if self.size - pos < HEADER_SIZE as u64 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "partial batch header in segment"));
        }
        let mut buf = [0u8; HEADER_SIZE];
        self.file.read_exact_at(&mut buf, pos)?;
        BatchHeader::parse(&buf).map(Some).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Position and header of the first batch whose last offset is >= `offset`, via the index then a scan.
    pub fn find_batch(&self, offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        let mut pos = self.index.lookup(offset);
        while let Some(h) = self.header_at(pos)? {
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
            pos += h.total_size() as u64;
        }
        Ok(None)
    }

    /// Scan start for the first record with timestamp >= `ts` (see `TimeIndex::lookup`).
    pub fn timestamp_scan_start(&self, ts: i64) -> u64 {
        self.index.lookup(self.time_index.lookup(ts))
    }

    /// Room for `batches` more index entries; otherwise the log rolls, as Kafka does when an index is full.
    /// The time index keeps one slot spare for the final entry `seal` writes.
    pub fn index_has_room(&self, batches: usize) -> bool {
        self.index.room() >= batches && self.time_index.room() > batches
    }

    /// Writes the bytes of whole, stamped batches at the end in one write. On failure the file is cut back to
    /// its previous length so the log stays a sequence of whole batches.
    pub fn append(&mut self, bytes: &[u8], headers: &[BatchHeader], interval: u64, now_ms: i64) -> io::Result<()> {
        if let Err(e) = self.file.write_all_at(bytes, self.size) {
            let _ = self.file.set_len(self.size);
            return Err(e);
        }
        let mut pos = self.size;
        for h in headers {
            self.track(h, pos, interval);
            pos += h.total_size() as u64;
        }
        self.size = pos;
        self.roll_base_ms.get_or_insert(now_ms);
        Ok(())
    }

    /// In-memory and index bookkeeping for one batch at `pos` (shared by append and recovery).
    fn track(&mut self, h: &BatchHeader, pos: u64, interval: u64) {
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        // Kafka's rule: an entry once more than `interval` bytes were written since the last one, so the first
        // batch is never indexed and every entry's position is > 0 (what `sanitize` relies on).
        if self.bytes_since_index > interval {
            // A full index only costs lookup precision; the log rolls before that matters.
            let _ = self.index.append(h.last_offset(), pos);
            let _ = self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += h.total_size() as u64;
        self.next_offset = h.next_offset();
    }

    /// Rebuilds everything from the `.log`: checks every batch (length, magic, CRC, increasing offsets),
    /// truncates the file at the first bad one, and regenerates both indexes.
    pub fn recover(&mut self, interval: u64, index_bytes: usize) -> io::Result<ScanEnd> {
        self.index.clear();
        self.time_index.clear();
        self.index.preallocate(index_bytes)?;
        self.time_index.preallocate(index_bytes)?;
        self.size = self.file.metadata()?.len();
        self.reset_meta();
        let mut pos = 0u64;
        let mut buf = Vec::new();
        let end = loop {
            match self.check_batch_at(pos, &mut buf)? {
                Ok(None) => break ScanEnd::Clean,
                Ok(Some(h)) => {
                    self.track(&h, pos, interval);
                    if self.roll_base_ms.is_none() {
                        self.roll_base_ms = Some(h.max_timestamp);
                    }
                    pos += h.total_size() as u64;
                }
                Err(reason) => break ScanEnd::Corrupt { position: pos, reason },
            }
        };
        if pos < self.size {
            self.file.set_len(pos)?;
            self.size = pos;
        }
        Ok(end)
    }

    /// Validates the batch at `pos`: Ok(None) at a clean end, Err(reason) when torn or corrupt.
    fn check_batch_at(&self, pos: u64, buf: &mut Vec<u8>) -> io::Result<Result<Option<BatchHeader>, String>> {
        let left = self.size - pos;
        if left == 0 {
            return Ok(Ok(None));
        }
        if left < HEADER_SIZE as u64 {
            return Ok(Err(format!("{left} trailing bytes, less than a batch header")));
        }
        let mut head = [0u8; HEADER_SIZE];
        self.file.read_exact_at(&mut head, pos)?;
        let h = match BatchHeader::parse(&head) {
            Ok(h) => h,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let size = h.batch_length as i64 + LOG_OVERHEAD as i64;
        if size < HEADER_SIZE as i64 || size as u64 > left {
            return Ok(Err(format!("batch length {} does not fit the {left} remaining bytes", h.batch_length)));
        }
        if h.base_offset < self.next_offset || h.last_offset_delta < 0 {
            return Ok(Err(format!("batch offset {} not after {}", h.base_offset, self.next_offset)));
        }
        buf.resize(size as usize, 0);
        self.file.read_exact_at(buf, pos)?;
        if batch_crc(buf) != h.crc {
            return Ok(Err("crc mismatch".into()));
        }
        Ok(Ok(Some(h)))
    }

    fn reset_meta(&mut self) {
        self.bytes_since_index = 0;
        self.next_offset = self.base_offset;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base_offset;
        self.roll_base_ms = None;
    }

    /// Loads a segment trusted to be intact (before the recovery point or after a clean shutdown): checks the
    /// indexes for sanity and finds the end offset by scanning headers from the last index entry. Returns false
    /// when an index failed its check, in which case the caller runs `recover` to rebuild it.
    pub fn load(&mut self) -> io::Result<bool> {
        match self.try_load() {
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Ok(false),
            other => other,
        }
    }

    fn try_load(&mut self) -> io::Result<bool> {
        self.reset_meta();
        let index_ok = self.index.sanitize(self.size);
        let mut pos = self.index.lookup(i64::MAX);
        let mut first = true;
        let mut last = None;
        while let Some(h) = self.header_at(pos)? {
            if first && pos == 0 {
                self.roll_base_ms = Some(h.max_timestamp);
            }
            first = false;
            pos += h.total_size() as u64;
            last = Some(h);
        }
        if pos != self.size {
            return Ok(false);
        }
        if let Some(h) = last {
            self.next_offset = h.next_offset();
        }
        if self.roll_base_ms.is_none() && self.size > 0 {
            self.roll_base_ms = self.header_at(0)?.map(|h| h.max_timestamp);
        }
        let time_ok = self.time_index.sanitize(self.next_offset);
        if let Some((ts, off)) = self.time_index.last_entry() {
            self.max_timestamp = ts;
            self.offset_of_max_timestamp = off;
        }
        // An index entry is added only after `interval` bytes, so the scan above already saw every batch after
        // the last entry; the batch with the largest timestamp could lie there too.
        if let Some(h) = last {
            if h.max_timestamp > self.max_timestamp {
                self.max_timestamp = h.max_timestamp;
                self.offset_of_max_timestamp = h.last_offset();
            }
        }
        Ok(index_ok && time_ok)
    }

    /// The segment stops taking appends: record its max timestamp in the time index (so reopening finds it),
    /// trim both indexes to their entries and fsync everything.
    pub fn seal(&mut self) -> io::Result<()> {
        if self.max_timestamp >= 0 {
            let _ = self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
        }
        self.index.trim()?;
        self.time_index.trim()?;
        self.flush()
    }

    pub fn flush(&self) -> io::Result<()> {
        self.file.sync_data()?;
        self.index.flush()?;
        self.time_index.flush()
    }

    /// Drops every batch at or after `offset` (whole batches: one containing `offset` goes too) and rebuilds.
    pub fn truncate_to(&mut self, offset: i64, interval: u64, index_bytes: usize) -> io::Result<()> {
        let Some((cut, _)) = self.find_batch(offset)? else { return Ok(()) };
        self.file.set_len(cut)?;
        self.recover(interval, index_bytes).map(|_| ())
    }

    /// Removes the files. Open `Arc<File>` handles held by readers stay valid until dropped.
    pub fn delete(self) -> io::Result<()> {
        for p in [self.log_path.as_path(), self.index.path(), self.time_index.path()] {
            match fs::remove_file(p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}
