//! Per-topic log settings with Kafka's defaults. The broker parses topic/broker properties into this.

use std::fmt;

use crate::record::TimestampType;

/// `cleanup.policy`: what happens to old data. `Delete` drops whole segments by `retention.ms` /
/// `retention.bytes`; `Compact` keeps the latest record per key (see `cleaner.rs`) and never deletes by
/// retention; `CompactDelete` does both, as Kafka's `compact,delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleanupPolicy {
    #[default]
    Delete,
    Compact,
    CompactDelete,
}

impl CleanupPolicy {
    /// Parses Kafka's comma-separated list (`delete`, `compact`, `compact,delete`, `delete,compact`; spaces
    /// and case are ignored). None for anything else, including an empty list.
    pub fn parse(s: &str) -> Option<Self> {
        let (mut compact, mut delete) = (false, false);
        for part in s.split(',') {
            match part.trim().to_ascii_lowercase().as_str() {
                "compact" => compact = true,
                "delete" => delete = true,
                _ => return None,
            }
        }
        match (compact, delete) {
            (true, true) => Some(CleanupPolicy::CompactDelete),
            (true, false) => Some(CleanupPolicy::Compact),
            (false, true) => Some(CleanupPolicy::Delete),
            (false, false) => None,
        }
    }

    pub fn compacts(self) -> bool {
        matches!(self, CleanupPolicy::Compact | CleanupPolicy::CompactDelete)
    }

    pub fn deletes(self) -> bool {
        matches!(self, CleanupPolicy::Delete | CleanupPolicy::CompactDelete)
    }
}

impl fmt::Display for CleanupPolicy {
    /// Kafka's spelling, as DescribeConfigs reports it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`
    pub segment_bytes: u64,
    /// `segment.ms`
    pub segment_ms: i64,
    /// `segment.index.bytes`: preallocated size of each index file.
    pub segment_index_bytes: usize,
    /// `index.interval.bytes`
    pub index_interval_bytes: usize,
    /// `retention.ms`; -1 keeps data forever.
    pub retention_ms: i64,
    /// `retention.bytes`; -1 means no size limit.
    pub retention_bytes: i64,
    /// `flush.messages`: fsync after this many messages (i64::MAX: leave it to the OS / group commit).
    pub flush_messages: i64,
    /// `flush.ms`
    pub flush_ms: i64,
    /// `max.message.bytes`: the largest batch accepted.
    pub max_message_bytes: usize,
    /// `message.timestamp.type`
    pub message_timestamp_type: TimestampType,
    /// `cleanup.policy` (broker: `log.cleanup.policy`)
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms` (broker: `log.cleaner.delete.retention.ms`): how long a tombstone survives after
    /// the cleaner first saw it.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio` (broker: `log.cleaner.min.cleanable.ratio`), in [0, 1].
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms` (broker: `log.cleaner.min.compaction.lag.ms`)
    pub min_compaction_lag_ms: i64,
    /// `min.insync.replicas`: acks=all produces are refused (NOT_ENOUGH_REPLICAS) while the ISR is smaller.
    pub min_insync_replicas: i32,
}

// The ratio is validated to lie in [0, 1] (never NaN), so equality is total.
impl Eq for LogConfig {}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            max_message_bytes: 1_048_588,
            message_timestamp_type: TimestampType::CreateTime,
            cleanup_policy: CleanupPolicy::Delete,
            delete_retention_ms: 24 * 3600 * 1000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            min_insync_replicas: 1,
        }
    }
}
