//! Partition logs in Kafka's on-disk layout: segments, indexes, recovery, retention, checkpoints.
//!
//! `<data_dir>/<topic>-<partition>/` holds segments named by their 20-digit base offset (`.log` with
//! RecordBatch v2 bytes as appended, sparse `.index`, `.timeindex`) plus `.snapshot` files of idempotent
//! producer state. The layout matches Kafka's so its tools (kafka-dump-log) can read our directories.
//!
//! Logs with `cleanup.policy` including `compact` are compacted by `cleaner.rs` (`PartitionLog::clean`,
//! `LogManager::run_cleaner`); its in-progress files are `<base>.log.cleaned` and `<base>.log.swap`, its clean
//! points live in the data directory's `cleaner-offset-checkpoint`.

mod append;
mod checkpoint;
mod cleaner;
mod config;
mod error;
mod flush;
mod index_file;
mod leader_epoch;
mod log;
mod manager;
mod mmap_index;
mod offset_index;
mod producer_state;
mod read;
mod recovery;
mod retention;
mod segment;
mod time_index;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod cleaner_tests;

pub use append::AppendInfo;
pub use cleaner::CleanStats;
pub use checkpoint::{read_offset_checkpoint, write_atomic, write_offset_checkpoint};
pub use config::{CleanupPolicy, LogConfig};
pub use error::{AppendError, ReadError};
pub use flush::FlushHandle;
pub use index_file::{read_offset_index, read_time_index, segment_base_offset};
pub use leader_epoch::{EpochEntry, LeaderEpochCache, LEADER_EPOCH_CHECKPOINT, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};
pub use log::PartitionLog;
pub use manager::LogManager;
pub use producer_state::{BatchMetadata, ProducerStateManager};
pub use read::ReadSlice;

/// Kafka's file names: the base offset zero-padded to 20 digits.
pub(crate) fn offset_file_name(offset: i64, suffix: &str) -> String {
    format!("{offset:020}{suffix}")
}
