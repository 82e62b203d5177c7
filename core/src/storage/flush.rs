//! Group commit: capture what must be fsynced under the log lock, fsync without it, then record the result.
//! While one fsync runs, later appends accumulate and ride the next one.

use std::fs::File;
use std::io;
use std::sync::Arc;

use super::log::PartitionLog;

#[derive(Debug, Clone)]
pub struct FlushHandle {
    /// The active segment when captured; earlier segments were fsynced when they rolled.
    file: Arc<File>,
    end_offset: i64,
}

impl FlushHandle {
    /// fsyncs the captured segment; returns the offset below which everything is now durable.
    pub fn sync(&self) -> io::Result<i64> {
        self.file.sync_data()?;
        Ok(self.end_offset)
    }

    pub fn end_offset(&self) -> i64 {
        self.end_offset
    }
}

impl PartitionLog {
    pub fn flush_handle(&self) -> FlushHandle {
        FlushHandle { file: self.active().file.clone(), end_offset: self.log_end_offset() }
    }

    /// Records a completed `FlushHandle::sync`: the recovery point only moves forward, never past the end
    /// (a truncation may have happened while the fsync ran).
    pub fn mark_flushed(&mut self, offset: i64) {
        let end = self.log_end_offset();
        self.recovery_point = self.recovery_point.max(offset.min(end));
        if self.recovery_point >= end {
            self.unflushed_messages = 0;
        }
    }

    /// Synchronous flush of everything appended so far.
    pub fn flush(&mut self) -> io::Result<()> {
        let offset = self.flush_handle().sync()?;
        self.mark_flushed(offset);
        Ok(())
    }
}
