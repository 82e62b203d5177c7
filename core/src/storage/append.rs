//! The produce path: producer-state check, offset assignment in place, one write, index update, roll, flush.

use std::io;

use crate::record::{set_log_append_time, stamp_batch, validate_batch, BatchHeader, RecordError, TimestampType};

use super::log::PartitionLog;
use super::producer_state::Prepared;
use super::segment::Segment;
use super::AppendError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The broker time written into the batches with LogAppendTime, else -1 (as in ProduceResponse).
    pub log_append_time: i64,
    pub log_start_offset: i64,
    pub record_count: i64,
}

/// Headers of the concatenated batches. The caller ran `validate_produce_batches`; this only re-reads the
/// headers, so an unvalidated buffer still cannot make us write a partial batch.
fn walk_headers(buf: &[u8]) -> Result<Vec<BatchHeader>, RecordError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let h = BatchHeader::parse(&buf[pos..])?;
        if h.batch_length < 49 || pos + h.total_size() > buf.len() || h.last_offset_delta < 0 {
            return Err(RecordError::CorruptMessage("batch does not fit the buffer".into()));
        }
        pos += h.total_size();
        out.push(h);
    }
    if out.is_empty() {
        return Err(RecordError::InvalidRecord("no batches".into()));
    }
    Ok(out)
}

impl PartitionLog {
    /// Appends already validated batches: idempotence check, then consecutive offsets stamped into `batches`
    /// (plus LogAppendTime if configured), one write to the active segment. A duplicate of one of the
    /// producer's last five batches writes nothing and returns `AppendError::Duplicate` with its offsets.
    pub fn append(&mut self, batches: &mut [u8], leader_epoch: i32, now_ms: i64) -> Result<AppendInfo, AppendError> {
        let mut headers = walk_headers(batches)?;
        // A batch must fit in one segment (Kafka: RecordBatchTooLargeException -> MESSAGE_TOO_LARGE).
        if let Some(h) = headers.iter().find(|h| h.total_size() as u64 > self.config.segment_bytes) {
            let max = self.config.segment_bytes as usize;
            return Err(RecordError::MessageTooLarge { size: h.total_size(), max }.into());
        }
        let base_offset = self.log_end_offset();
        let staged = match self.producers.prepare(&headers, base_offset)? {
            Prepared::Duplicate(m) => {
                return Err(AppendError::Duplicate { base_offset: m.first_offset, last_offset: m.last_offset })
            }
            Prepared::Append(staged) => staged,
        };
        let span = headers.iter().map(|h| h.last_offset_delta as i64 + 1).sum::<i64>();
        self.make_room(batches.len() as u64, headers.len(), span, now_ms)?;

        let log_append_time = match self.config.message_timestamp_type {
            TimestampType::LogAppendTime => now_ms,
            TimestampType::CreateTime => -1,
        };
        let (mut pos, mut offset) = (0, base_offset);
        for h in &mut headers {
            let batch = &mut batches[pos..pos + h.total_size()];
            stamp_batch(batch, offset, leader_epoch);
            if log_append_time >= 0 {
                set_log_append_time(batch, log_append_time);
            }
            *h = BatchHeader::parse(batch)?;
            pos += h.total_size();
            offset = h.next_offset();
        }
        // Before the write: a crash in between leaves an epoch entry at the log end, which load trims.
        self.epochs.assign(leader_epoch, base_offset)?;
        let record_count = self.write_batches(batches, &headers, now_ms)?;
        self.producers.commit(staged);
        Ok(AppendInfo {
            base_offset,
            last_offset: offset - 1,
            log_append_time,
            log_start_offset: self.log_start_offset,
            record_count,
        })
    }

    /// The follower's append (Kafka's `appendAsFollower`): batches fetched from the leader keep the leader's
    /// offsets, epochs and timestamps. Each batch is CRC-checked (the bytes crossed a network), must start at
    /// or after the log end and after the previous batch (a compacted leader log has gaps, never overlaps), and
    /// updates producer state and the leader-epoch cache from its header. Nothing is written unless every batch
    /// passes.
    pub fn append_as_follower(&mut self, batches: &[u8], now_ms: i64) -> Result<AppendInfo, AppendError> {
        let mut headers = Vec::new();
        let mut pos = 0;
        let mut next = self.log_end_offset();
        while pos < batches.len() {
            let h = validate_batch(&batches[pos..], usize::MAX)?;
            if h.base_offset < next {
                return Err(RecordError::CorruptMessage(format!(
                    "replicated batch at offset {} does not follow offset {}", h.base_offset, next
                ))
                .into());
            }
            if h.total_size() as u64 > self.config.segment_bytes {
                return Err(RecordError::MessageTooLarge { size: h.total_size(), max: self.config.segment_bytes as usize }.into());
            }
            next = h.next_offset();
            pos += h.total_size();
            headers.push(h);
        }
        let (Some(first), Some(last)) = (headers.first().copied(), headers.last().copied()) else {
            return Err(RecordError::InvalidRecord("no batches".into()).into());
        };
        let span = last.next_offset() - self.log_end_offset();
        self.make_room(batches.len() as u64, headers.len(), span, now_ms)?;
        for h in &headers {
            self.epochs.assign(h.partition_leader_epoch, h.base_offset)?;
        }
        let record_count = self.write_batches(batches, &headers, now_ms)?;
        for h in &headers {
            self.producers.replay(h);
        }
        Ok(AppendInfo {
            base_offset: first.base_offset,
            last_offset: last.last_offset(),
            log_append_time: -1,
            log_start_offset: self.log_start_offset,
            record_count,
        })
    }

    /// Readies the active segment for `bytes` more: re-grows sealed indexes, rolls when the segment is full.
    fn make_room(&mut self, bytes: u64, batches: usize, offset_span: i64, now_ms: i64) -> io::Result<()> {
        self.reopen_active()?;
        if self.should_roll(bytes, batches, offset_span, now_ms) {
            self.roll()?;
        }
        Ok(())
    }

    /// One write of whole, stamped batches, then the `flush.messages` / `flush.ms` policy. Returns the record
    /// count.
    fn write_batches(&mut self, batches: &[u8], headers: &[BatchHeader], now_ms: i64) -> io::Result<i64> {
        let interval = self.config.index_interval_bytes as u64;
        self.active_mut().append(batches, headers, interval, now_ms)?;
        let record_count: i64 = headers.iter().map(|h| h.records_count as i64).sum();
        self.unflushed_messages += record_count;
        if self.unflushed_messages >= self.config.flush_messages
            || now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms
        {
            let handle = self.flush_handle();
            let flushed = handle.sync()?;
            self.mark_flushed(flushed);
            self.last_flush_ms = now_ms;
        }
        Ok(record_count)
    }

    fn should_roll(&self, bytes: u64, batches: usize, offset_span: i64, now_ms: i64) -> bool {
        let seg = self.active();
        if seg.is_empty() {
            return false;
        }
        let too_big = seg.size + bytes > self.config.segment_bytes;
        let too_old = seg.roll_base_ms.is_some_and(|t| now_ms.saturating_sub(t) >= self.config.segment_ms);
        // Index entries hold offsets relative to the base as u32.
        let offsets_overflow = seg.next_offset + offset_span - seg.base_offset > u32::MAX as i64;
        too_big || too_old || offsets_overflow || !seg.index_has_room(batches)
    }

    /// Seals (trims, fsyncs) the active segment and starts a new one at the log end. Because everything
    /// before the new base is now on disk, the recovery point moves there; producer state is snapshotted so
    /// a restart only replays the new segment.
    pub(super) fn roll(&mut self) -> io::Result<()> {
        let base = self.log_end_offset();
        if !self.active_sealed {
            self.active_mut().seal()?;
        }
        let seg = Segment::create(&self.dir, base, self.config.segment_index_bytes)?;
        self.segments.push(seg);
        self.active_sealed = false;
        self.recovery_point = self.recovery_point.max(base);
        self.producers.write_snapshot(&self.dir, base)?;
        tracing::debug!(dir = %self.dir.display(), base, "rolled segment");
        Ok(())
    }

    /// Re-grows the active segment's indexes after `close` (see `active_sealed`).
    pub(super) fn reopen_active(&mut self) -> io::Result<()> {
        if self.active_sealed {
            let bytes = self.config.segment_index_bytes;
            self.active_mut().make_active(bytes)?;
            self.active_sealed = false;
        }
        Ok(())
    }
}
