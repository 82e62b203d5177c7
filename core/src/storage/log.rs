//! `PartitionLog`: one partition's ordered segments plus producer state. The broker serialises access with a
//! mutex, so nothing here locks; slow work (fsync, reading fetched bytes) is handed out via `FlushHandle` and
//! `ReadSlice` to run outside that lock.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::leader_epoch::LeaderEpochCache;
use super::producer_state::ProducerStateManager;
use super::segment::Segment;
use super::LogConfig;

pub struct PartitionLog {
    pub(super) dir: PathBuf,
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) config: LogConfig,
    /// Sorted by base offset, never empty; the last one is active (takes appends).
    pub(super) segments: Vec<Segment>,
    pub(super) log_start_offset: i64,
    /// Everything below this offset is known to be fsynced.
    pub(super) recovery_point: i64,
    pub(super) producers: ProducerStateManager,
    pub(super) unflushed_messages: i64,
    pub(super) last_flush_ms: i64,
    /// Set by `close`: the active segment's indexes are trimmed and must be re-grown before the next append.
    pub(super) active_sealed: bool,
    /// The cleaner's clean point: every offset below it has been compacted (`cleaner.rs`).
    pub(super) cleaner_checkpoint: i64,
    /// Earliest delete horizon of a tombstone the cleaner retained: once passed, cleaning again drops it.
    pub(super) tombstone_horizon: Option<i64>,
    /// Leader epoch -> first offset (`leader-epoch-checkpoint`), kept in step with appends and truncations.
    pub(super) epochs: LeaderEpochCache,
}

impl PartitionLog {
    /// Opens (or creates) `<data_dir>/<topic>-<partition>/`. With `recovery_point` None, or behind the end of
    /// the log, every segment from the one holding the recovery point on is scanned and CRC-checked, and the
    /// log is cut at the first torn or corrupt batch (see `recovery.rs`).
    pub fn open(
        data_dir: &Path,
        topic: &str,
        partition: i32,
        config: LogConfig,
        recovery_point: Option<i64>,
    ) -> io::Result<Self> {
        let dir = data_dir.join(format!("{topic}-{partition}"));
        fs::create_dir_all(&dir)?;
        let (epochs, epochs_on_disk) = LeaderEpochCache::open(&dir)?;
        let mut log = PartitionLog {
            dir,
            topic: topic.to_string(),
            partition,
            config,
            segments: Vec::new(),
            log_start_offset: 0,
            recovery_point: 0,
            producers: ProducerStateManager::new(),
            unflushed_messages: 0,
            last_flush_ms: 0,
            active_sealed: false,
            cleaner_checkpoint: 0,
            tombstone_horizon: None,
            epochs,
        };
        log.load(recovery_point)?;
        log.load_epochs(epochs_on_disk)?;
        Ok(log)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn topic(&self) -> &str {
        &self.topic
    }
    pub fn partition(&self) -> i32 {
        self.partition
    }
    pub fn config(&self) -> &LogConfig {
        &self.config
    }
    /// Topic configs can change at runtime; takes effect for the next append / roll / retention pass.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Base offsets of the segments, oldest first (tools and tests).
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.iter().map(|s| s.base_offset).collect()
    }

    /// The leader-epoch cache (OffsetForLeaderEpoch, diverging-epoch checks, LastFetchedEpoch).
    pub fn leader_epochs(&self) -> &LeaderEpochCache {
        &self.epochs
    }

    /// Records a new leader epoch starting at the log end (a replica becoming leader, as Kafka's
    /// `Partition.makeLeader` does), so that OffsetForLeaderEpoch answers for it before its first append.
    pub fn assign_leader_epoch(&mut self, epoch: i32) -> io::Result<()> {
        let end = self.log_end_offset();
        self.epochs.assign(epoch, end).map(|_| ())
    }

    /// Kafka's `endOffsetForEpoch`: the largest epoch <= `epoch` and where it ends in this log.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// Idempotent producer state (for DescribeProducers and tests).
    pub fn producer_state(&self) -> &ProducerStateManager {
        &self.producers
    }

    /// Applies a log start offset read from the `log-start-offset-checkpoint` after `open`. It can only move
    /// within the log: below the first segment nothing exists, beyond the end nothing was written.
    pub fn restore_log_start_offset(&mut self, offset: i64) {
        self.log_start_offset = offset.clamp(self.segments[0].base_offset, self.log_end_offset());
    }

    pub(super) fn active(&self) -> &Segment {
        self.segments.last().expect("a log always has an active segment")
    }

    pub(super) fn active_mut(&mut self) -> &mut Segment {
        self.segments.last_mut().expect("a log always has an active segment")
    }

    /// Flushes everything, trims the active segment's indexes to their entries (so Kafka's tools and our next
    /// open see exact files) and writes the producer state snapshot. The log stays usable: the next append
    /// re-grows the indexes.
    pub fn close(&mut self) -> io::Result<()> {
        let end = self.log_end_offset();
        self.active_mut().seal()?;
        self.active_sealed = true;
        self.recovery_point = end;
        self.producers.write_snapshot(&self.dir, end)
    }

    /// Removes the partition directory. Readers holding `ReadSlice`s keep their open files.
    pub fn delete(self) -> io::Result<()> {
        let dir = self.dir.clone();
        drop(self);
        fs::remove_dir_all(dir)
    }
}
