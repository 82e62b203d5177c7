//! Removing data: retention and DeleteRecords from the front (whole segments), truncation from the back.

use std::io;

use super::log::PartitionLog;
use super::segment::Segment;
use super::ReadError;

impl PartitionLog {
    /// DeleteRecords: moves the log start offset to `offset` (persisted by the caller's checkpoint) and deletes
    /// the segments lying entirely below it. Returns the new log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, ReadError> {
        let end = self.log_end_offset();
        if offset > end || offset < 0 {
            return Err(ReadError::OffsetOutOfRange { offset, log_start: self.log_start_offset, log_end: end });
        }
        if offset > self.log_start_offset {
            self.log_start_offset = offset;
            // A segment goes when the next one starts at or below the new start: all its offsets are gone.
            while self.segments.len() > 1 && self.segments[1].base_offset <= offset {
                self.delete_oldest_segment()?;
            }
            self.epochs.truncate_from_start(self.log_start_offset)?;
        }
        Ok(self.log_start_offset)
    }

    /// Deletes the oldest whole segments beyond `retention.ms` (by the segment's largest timestamp) and
    /// `retention.bytes` (while the log stays at or above the limit without it). The active segment is never
    /// deleted. Returns how many segments went.
    pub fn apply_retention(&mut self, now_ms: i64) -> io::Result<usize> {
        let mut deleted = 0;
        // Kafka: a compact-only topic keeps its segments; the cleaner alone removes data from it.
        if !self.config.cleanup_policy.deletes() {
            return Ok(0);
        }
        if self.config.retention_ms >= 0 {
            let cutoff = now_ms.saturating_sub(self.config.retention_ms);
            while self.segments.len() > 1 && self.segments[0].max_timestamp < cutoff {
                self.delete_oldest_segment()?;
                deleted += 1;
            }
        }
        if self.config.retention_bytes >= 0 {
            let mut excess = self.size_bytes() as i64 - self.config.retention_bytes;
            while self.segments.len() > 1 && excess - self.segments[0].size as i64 >= 0 {
                excess -= self.segments[0].size as i64;
                self.delete_oldest_segment()?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    fn delete_oldest_segment(&mut self) -> io::Result<()> {
        let seg = self.segments.remove(0);
        tracing::debug!(dir = %self.dir.display(), base = seg.base_offset, "deleting segment");
        let first_base = self.segments[0].base_offset;
        self.log_start_offset = self.log_start_offset.max(first_base);
        self.cleaner_checkpoint = self.cleaner_checkpoint.max(self.log_start_offset);
        seg.delete()?;
        self.epochs.truncate_from_start(self.log_start_offset)
    }

    /// Removes every batch at or after `offset` (a batch containing `offset` goes whole, as in Kafka), for
    /// replication's divergence handling. Below the log start, the log is emptied and restarts at `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        let interval = self.config.index_interval_bytes as u64;
        let index_bytes = self.config.segment_index_bytes;
        if offset < self.log_start_offset {
            for seg in self.segments.drain(..) {
                seg.delete()?;
            }
            self.segments.push(Segment::create(&self.dir, offset, index_bytes)?);
            self.log_start_offset = offset;
        } else {
            while self.segments.len() > 1 && self.active().base_offset >= offset {
                let seg = self.segments.pop().expect("len > 1");
                seg.delete()?;
            }
            self.active_mut().truncate_to(offset, interval, index_bytes)?;
            self.active_mut().make_active(index_bytes)?;
        }
        self.active_sealed = false;
        self.recovery_point = self.recovery_point.min(self.log_end_offset());
        self.cleaner_checkpoint = self.cleaner_checkpoint.clamp(self.log_start_offset, self.log_end_offset());
        self.epochs.truncate_from_end(self.log_end_offset())?;
        self.epochs.truncate_from_start(self.log_start_offset)?;
        self.rebuild_producer_state()
    }
}
