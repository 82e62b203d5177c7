//! Log compaction (`cleanup.policy=compact`), following Kafka's `LogCleaner` semantics.
//!
//! What is cleaned: the closed segments in front of the first uncleanable offset, which is the active
//! segment's base offset, or earlier the base of the first segment holding a record newer than
//! `min.compaction.lag.ms` (judged by the segment's largest timestamp, as Kafka does). The active segment is
//! never touched.
//!
//! What survives, per batch, in offset order:
//! - a record whose key has no later record in the cleanable range; records without a key are dropped (Kafka
//!   counts them as invalid; produce-time `record::validate_keys_for_compaction` keeps new ones out);
//! - a tombstone (null value) until its batch's delete horizon passes. The horizon is Kafka's (>= 2.8,
//!   KIP-534): the first clean that retains a tombstone rewrites its batch with attribute bit 6 set and
//!   `baseTimestamp = now + delete.retention.ms`; a later clean after that time drops the tombstone;
//! - control batches are copied unchanged (this broker has no transaction coordinator yet, so markers and
//!   aborted data are not interpreted);
//! - the last batch of each producer id in the whole log, even when all its records go: it is then kept as an
//!   empty batch (header only, count 0), as Kafka does, so rebuilding producer state from the log still sees
//!   the producer's epoch and last sequence.
//!
//! A batch that loses records (or gains a horizon) is re-encoded with the same codec by `record::rebuild_batch`,
//! keeping its base offset, last offset delta and producer fields, so each record keeps its offset and
//! offsets have gaps wherever whole batches went. Unchanged batches are copied byte for byte; a segment with
//! no change is not rewritten at all.
//!
//! Crash safety, per segment (no grouping of small segments): the new content is written to
//! `<base>.log.cleaned` and fsynced, renamed to `<base>.log.swap` (directory fsynced), then the old indexes are
//! deleted and the swap file renamed over `<base>.log` (atomic replace), and the indexes are rebuilt from it.
//! On open (`recovery.rs`), `.cleaned` files are deleted (the original is intact) and `.swap` files are
//! completed (old indexes removed, renamed to `.log`, indexes rebuilt). A closed segment whose records all go
//! is deleted outright (safe at any point: everything in it is superseded by later records); the first
//! segment is kept, as an empty file, so the log start offset does not move.
//!
//! The cleaner runs under the log's lock (the caller's mutex), so appends to that partition wait for it. The
//! offset map (key -> latest offset) is built over the whole cleanable range, in memory; Kafka bounds it by
//! `log.cleaner.dedupe.buffer.size` instead.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::Bytes;

use crate::record::{rebuild_batch, records, BatchHeader, Record, RecordError};

use super::log::PartitionLog;
use super::offset_file_name;
use super::segment::Segment;

/// What one `PartitionLog::clean` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Segments rewritten through the `.cleaned` / `.swap` protocol.
    pub segments_rewritten: usize,
    /// Closed segments deleted because nothing in them survived.
    pub segments_deleted: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub records_read: u64,
    pub records_removed: u64,
    pub tombstones_removed: u64,
    /// The new clean point: everything below it has been cleaned (the first uncleanable offset).
    pub clean_point: i64,
}

fn invalid(e: RecordError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn remove_if_exists(p: &Path) -> io::Result<()> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

pub(crate) const CLEANED_SUFFIX: &str = ".log.cleaned";
pub(crate) const SWAP_SUFFIX: &str = ".log.swap";

#[cfg(test)]
thread_local! {
    /// Test hook: the swap step (1: `.cleaned` written, 2: renamed to `.swap`, 3: old indexes deleted) after
    /// which `clean` fails as if the process had died there.
    pub(crate) static CRASH_AFTER_STEP: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
}

fn crash_point(_step: u8) -> io::Result<()> {
    #[cfg(test)]
    if CRASH_AFTER_STEP.with(|c| c.get()) == _step {
        return Err(io::Error::other(format!("injected crash after swap step {_step}")));
    }
    Ok(())
}

/// Calls `f` with each batch header and its bytes in `seg`.
fn for_each_batch(seg: &Segment, mut f: impl FnMut(BatchHeader, Bytes) -> io::Result<()>) -> io::Result<()> {
    let mut pos = 0u64;
    while let Some(h) = seg.header_at(pos)? {
        let mut buf = vec![0u8; h.total_size()];
        seg.file.read_exact_at(&mut buf, pos)?;
        pos += buf.len() as u64;
        f(h, Bytes::from(buf))?;
    }
    Ok(())
}

fn decode_all(batch: Bytes) -> io::Result<Vec<Record>> {
    records(batch).map_err(invalid)?.collect::<Result<Vec<_>, _>>().map_err(invalid)
}

impl PartitionLog {
    /// Offset below which everything has been cleaned (Kafka's `cleaner-offset-checkpoint` entry).
    pub fn cleaner_checkpoint(&self) -> i64 {
        self.cleaner_checkpoint
    }

    /// Applies a clean point read from the `cleaner-offset-checkpoint` after `open`. Because the tombstone
    /// horizons in already cleaned batches are not known without a scan, the next cleaner pass may clean once
    /// even if the log is not dirty, to drop tombstones whose horizon passed.
    pub fn restore_cleaner_checkpoint(&mut self, offset: i64) {
        self.cleaner_checkpoint = offset.clamp(self.log_start_offset, self.log_end_offset());
        if self.cleaner_checkpoint > self.segments[0].base_offset {
            self.tombstone_horizon = Some(i64::MIN);
        }
    }

    /// How many leading segments may be cleaned now: closed ones, up to the first holding a record newer than
    /// `min.compaction.lag.ms`.
    fn cleanable_segment_count(&self, now_ms: i64) -> usize {
        let lag = self.config.min_compaction_lag_ms;
        let closed = self.segments.len() - 1;
        self.segments[..closed]
            .iter()
            .position(|s| lag > 0 && s.max_timestamp > now_ms.saturating_sub(lag))
            .unwrap_or(closed)
    }

    /// Kafka's dirty ratio: bytes of cleanable segments not yet cleaned / bytes of all cleanable segments.
    pub fn dirty_ratio(&self, now_ms: i64) -> f64 {
        let k = self.cleanable_segment_count(now_ms);
        let total: u64 = self.segments[..k].iter().map(|s| s.size).sum();
        if total == 0 {
            return 0.0;
        }
        let dirty: u64 = self.segments[..k].iter().filter(|s| s.next_offset > self.cleaner_checkpoint).map(|s| s.size).sum();
        dirty as f64 / total as f64
    }

    /// Whether the cleaner should run on this log: the policy compacts and either the dirty ratio reached
    /// `min.cleanable.dirty.ratio` (with something dirty at all), or a retained tombstone's delete horizon
    /// has passed.
    pub fn needs_cleaning(&self, now_ms: i64) -> bool {
        if !self.config.cleanup_policy.compacts() || self.cleanable_segment_count(now_ms) == 0 {
            return false;
        }
        let ratio = self.dirty_ratio(now_ms);
        (ratio > 0.0 && ratio >= self.config.min_cleanable_dirty_ratio)
            || self.tombstone_horizon.is_some_and(|h| now_ms >= h)
    }

    /// Compacts the cleanable segments (see the module docs), whatever the dirty ratio and policy; the
    /// `LogManager` decides when. Returns what it did; the clean point moves to the first uncleanable offset.
    pub fn clean(&mut self, now_ms: i64) -> io::Result<CleanStats> {
        let k = self.cleanable_segment_count(now_ms);
        let mut stats = CleanStats { clean_point: self.cleaner_checkpoint, ..CleanStats::default() };
        if k == 0 {
            return Ok(stats);
        }
        let end = self.segments[k].base_offset;

        // Pass 1: latest offset of every key in the cleanable range; last batch of every producer in the log.
        let mut latest: HashMap<Bytes, i64> = HashMap::new();
        for seg in &self.segments[..k] {
            for_each_batch(seg, |h, bytes| {
                if !h.is_control() {
                    for r in decode_all(bytes)? {
                        if let Some(key) = r.key {
                            latest.insert(Bytes::copy_from_slice(&key), r.offset);
                        }
                    }
                }
                Ok(())
            })?;
        }
        let mut last_batch_of: HashMap<i64, i64> = HashMap::new();
        for seg in &self.segments {
            let mut pos = 0u64;
            while let Some(h) = seg.header_at(pos)? {
                if h.has_producer_id() {
                    last_batch_of.insert(h.producer_id, h.base_offset);
                }
                pos += h.total_size() as u64;
            }
        }

        // Pass 2: rewrite segment by segment.
        let delete_retention = self.config.delete_retention_ms;
        let mut next_horizon: Option<i64> = None;
        let mut i = 0;
        let mut remaining = k;
        while remaining > 0 {
            remaining -= 1;
            let base = self.segments[i].base_offset;
            let cleaned_path = self.dir.join(offset_file_name(base, CLEANED_SUFFIX));
            let mut out = BufWriter::new(
                OpenOptions::new().write(true).create(true).truncate(true).open(&cleaned_path)?,
            );
            let (mut changed, mut written) = (false, 0u64);
            stats.bytes_before += self.segments[i].size;
            for_each_batch(&self.segments[i], |h, bytes| {
                if h.is_control() {
                    written += bytes.len() as u64;
                    return out.write_all(&bytes);
                }
                let all = decode_all(bytes.clone())?;
                stats.records_read += all.len() as u64;
                let horizon_passed = h.has_delete_horizon() && now_ms >= h.base_timestamp;
                let mut kept = Vec::with_capacity(all.len());
                let mut tombstones = false;
                for r in &all {
                    let Some(key) = &r.key else { continue };
                    if latest.get(key).is_some_and(|&l| l > r.offset) {
                        continue;
                    }
                    if r.value.is_none() {
                        if horizon_passed {
                            stats.tombstones_removed += 1;
                            continue;
                        }
                        tombstones = true;
                    }
                    kept.push(r.clone());
                }
                stats.records_removed += (all.len() - kept.len()) as u64;
                let new_horizon = (tombstones && !h.has_delete_horizon()).then(|| now_ms.saturating_add(delete_retention));
                if tombstones {
                    let hz = new_horizon.unwrap_or(h.base_timestamp);
                    next_horizon = Some(next_horizon.map_or(hz, |n| n.min(hz)));
                }
                let producer_last = h.has_producer_id() && last_batch_of.get(&h.producer_id) == Some(&h.base_offset);
                // This also drops an empty batch kept by an earlier clean once its producer wrote a later one.
                if kept.is_empty() && !producer_last {
                    changed = true;
                    return Ok(());
                }
                if kept.len() == all.len() && new_horizon.is_none() {
                    written += bytes.len() as u64;
                    return out.write_all(&bytes);
                }
                changed = true;
                let rebuilt = rebuild_batch(&h, &kept, new_horizon).map_err(invalid)?;
                written += rebuilt.len() as u64;
                out.write_all(&rebuilt)
            })?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            if !changed {
                drop(file);
                fs::remove_file(&cleaned_path)?;
                stats.bytes_after += self.segments[i].size;
                i += 1;
                continue;
            }
            stats.bytes_after += written;
            if written == 0 && i > 0 {
                drop(file);
                fs::remove_file(&cleaned_path)?;
                self.segments.remove(i).delete()?;
                stats.segments_deleted += 1;
                continue;
            }
            file.sync_all()?;
            drop(file);
            crash_point(1)?;
            self.swap_in_cleaned(i)?;
            stats.segments_rewritten += 1;
            i += 1;
        }
        self.cleaner_checkpoint = self.cleaner_checkpoint.max(end);
        self.tombstone_horizon = next_horizon;
        stats.clean_point = self.cleaner_checkpoint;
        tracing::debug!(dir = %self.dir.display(), ?stats, "cleaned log");
        Ok(stats)
    }

    /// Replaces segment `i` with its fsynced `.cleaned` file (see the module docs for the protocol).
    fn swap_in_cleaned(&mut self, i: usize) -> io::Result<()> {
        let base = self.segments[i].base_offset;
        let cleaned = self.dir.join(offset_file_name(base, CLEANED_SUFFIX));
        let swap = self.dir.join(offset_file_name(base, SWAP_SUFFIX));
        fs::rename(&cleaned, &swap)?;
        sync_dir(&self.dir)?;
        crash_point(2)?;
        // The old segment's index maps stay valid on the unlinked files until it is dropped below.
        remove_if_exists(&self.dir.join(offset_file_name(base, ".index")))?;
        remove_if_exists(&self.dir.join(offset_file_name(base, ".timeindex")))?;
        crash_point(3)?;
        complete_swap(&self.dir, base)?;
        let mut seg = Segment::open(&self.dir, base)?;
        seg.recover(self.config.index_interval_bytes as u64, self.config.segment_index_bytes)?;
        seg.seal()?;
        self.segments[i] = seg;
        Ok(())
    }
}

/// Finishes an interrupted cleaner swap for the segment at `base`: the old indexes go, the `.swap` file
/// replaces the `.log` (the caller rebuilds the indexes).
pub(crate) fn complete_swap(dir: &Path, base: i64) -> io::Result<()> {
    remove_if_exists(&dir.join(offset_file_name(base, ".index")))?;
    remove_if_exists(&dir.join(offset_file_name(base, ".timeindex")))?;
    fs::rename(dir.join(offset_file_name(base, SWAP_SUFFIX)), dir.join(offset_file_name(base, ".log")))?;
    sync_dir(dir)
}
