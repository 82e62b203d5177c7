//! `LogManager`: the data directory and every partition log in it, with Kafka's bookkeeping files:
//! `.lock` (one broker per directory), `.kafka_cleanshutdown`, `recovery-point-offset-checkpoint`,
//! `log-start-offset-checkpoint` and `replication-offset-checkpoint` (the high watermarks, which the replicas
//! own: the broker hands them in).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::checkpoint::{read_offset_checkpoint, write_atomic, write_offset_checkpoint};
use super::{LogConfig, PartitionLog};

pub const LOCK_FILE: &str = ".lock";
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
pub const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
pub const LOG_START_CHECKPOINT: &str = "log-start-offset-checkpoint";
pub const CLEANER_CHECKPOINT: &str = "cleaner-offset-checkpoint";
pub const HIGH_WATERMARK_CHECKPOINT: &str = "replication-offset-checkpoint";

type Key = (String, i32);

pub struct LogManager {
    data_dir: PathBuf,
    /// Held open for the flock; dropping the manager releases the directory.
    _lock: File,
    /// Checkpoint files are rewritten through one temp name each: writers take turns (maintenance, DeleteRecords
    /// and shutdown can all checkpoint at once).
    checkpoint_turn: Mutex<()>,
    logs: Mutex<HashMap<Key, Arc<Mutex<PartitionLog>>>>,
}

fn lock_log(log: &Mutex<PartitionLog>) -> MutexGuard<'_, PartitionLog> {
    // A panic while holding a log's lock leaves the log itself consistent on disk (recovery handles the rest),
    // so poisoning is not a reason to stop serving it.
    log.lock().unwrap_or_else(|p| p.into_inner())
}

/// Splits `<topic>-<partition>`; Kafka's `-delete`/`-future` directories and stray files do not parse.
fn parse_partition_dir(name: &str) -> Option<Key> {
    let (topic, partition) = name.rsplit_once('-')?;
    let partition: i32 = partition.parse().ok()?;
    (!topic.is_empty() && partition >= 0).then(|| (topic.to_string(), partition))
}

impl LogManager {
    /// Creates `data_dir` if needed and takes an exclusive, non-blocking flock on its `.lock` file, so two
    /// brokers (or two embedded instances) cannot share a directory.
    pub fn new(data_dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(data_dir)?;
        let lock = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(data_dir.join(LOCK_FILE))?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("data directory {} is in use by another process: {e}", data_dir.display()),
            ));
        }
        Ok(LogManager { data_dir: data_dir.to_path_buf(), _lock: lock, checkpoint_turn: Mutex::new(()), logs: Mutex::new(HashMap::new()) })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn logs(&self) -> MutexGuard<'_, HashMap<Key, Arc<Mutex<PartitionLog>>>> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads every partition directory. After a clean shutdown (marker present) segments are trusted and not
    /// scanned; otherwise each log recovers from its checkpointed recovery point (all of it if none). The
    /// marker is then removed, so a crash from here on is detected at the next start.
    pub fn open_all(&self, config_for: impl Fn(&str) -> LogConfig) -> io::Result<usize> {
        let marker = self.data_dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = marker.exists();
        let recovery_points = read_offset_checkpoint(&self.data_dir.join(RECOVERY_POINT_CHECKPOINT))?;
        let log_starts = read_offset_checkpoint(&self.data_dir.join(LOG_START_CHECKPOINT))?;
        let clean_points = read_offset_checkpoint(&self.data_dir.join(CLEANER_CHECKPOINT))?;
        let mut opened = 0;
        for entry in fs::read_dir(&self.data_dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let Some(key) = entry.file_name().to_str().and_then(parse_partition_dir) else { continue };
            let rp = if clean { Some(i64::MAX) } else { recovery_points.get(&key).copied() };
            let mut log = PartitionLog::open(&self.data_dir, &key.0, key.1, config_for(&key.0), rp)?;
            if let Some(&start) = log_starts.get(&key) {
                log.restore_log_start_offset(start);
            }
            if let Some(&clean) = clean_points.get(&key) {
                log.restore_cleaner_checkpoint(clean);
            }
            self.logs().insert(key, Arc::new(Mutex::new(log)));
            opened += 1;
        }
        if clean {
            fs::remove_file(&marker)?;
        }
        Ok(opened)
    }

    /// Creates (or returns the existing) log of a partition.
    pub fn create_partition(&self, topic: &str, partition: i32, config: LogConfig) -> io::Result<Arc<Mutex<PartitionLog>>> {
        let key = (topic.to_string(), partition);
        if let Some(log) = self.logs().get(&key) {
            return Ok(log.clone());
        }
        let log = Arc::new(Mutex::new(PartitionLog::open(&self.data_dir, topic, partition, config, Some(0))?));
        Ok(self.logs().entry(key).or_insert(log).clone())
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Mutex<PartitionLog>>> {
        self.logs().get(&(topic.to_string(), partition)).cloned()
    }

    pub fn partitions(&self) -> Vec<(String, i32)> {
        let mut v: Vec<_> = self.logs().keys().cloned().collect();
        v.sort();
        v
    }

    /// Removes the partition and its directory. Returns false when it did not exist.
    pub fn delete_partition(&self, topic: &str, partition: i32) -> io::Result<bool> {
        let Some(log) = self.logs().remove(&(topic.to_string(), partition)) else { return Ok(false) };
        let dir = lock_log(&log).dir().to_path_buf();
        drop(log); // other holders keep a usable (if orphaned) log; the files go now
        fs::remove_dir_all(dir)?;
        self.checkpoint_all()?;
        Ok(true)
    }

    /// Writes the checkpoint files from the logs' current recovery points, log start offsets and (for logs
    /// whose policy compacts) clean points.
    pub fn checkpoint_all(&self) -> io::Result<()> {
        let _turn = self.checkpoint_turn.lock().unwrap_or_else(|p| p.into_inner());
        let logs: Vec<_> = self.logs().iter().map(|(k, l)| (k.clone(), l.clone())).collect();
        let (mut rps, mut starts, mut cleans) = (HashMap::new(), HashMap::new(), HashMap::new());
        for (key, log) in logs {
            let log = lock_log(&log);
            rps.insert(key.clone(), log.recovery_point());
            starts.insert(key.clone(), log.log_start_offset());
            if log.config().cleanup_policy.compacts() {
                cleans.insert(key, log.cleaner_checkpoint());
            }
        }
        write_offset_checkpoint(&self.data_dir.join(RECOVERY_POINT_CHECKPOINT), &rps)?;
        write_offset_checkpoint(&self.data_dir.join(LOG_START_CHECKPOINT), &starts)?;
        write_offset_checkpoint(&self.data_dir.join(CLEANER_CHECKPOINT), &cleans)
    }

    /// Writes the high watermarks (Kafka's `replication-offset-checkpoint`), periodically and on clean shutdown.
    /// Only the partitions this directory holds are written.
    pub fn write_high_watermarks(&self, hws: &HashMap<(String, i32), i64>) -> io::Result<()> {
        let _turn = self.checkpoint_turn.lock().unwrap_or_else(|p| p.into_inner());
        let logs = self.logs();
        let kept: HashMap<_, _> = hws.iter().filter(|(k, _)| logs.contains_key(*k)).map(|(k, v)| (k.clone(), *v)).collect();
        drop(logs);
        write_offset_checkpoint(&self.data_dir.join(HIGH_WATERMARK_CHECKPOINT), &kept)
    }

    /// The high watermarks as last checkpointed (empty when never written). A replica starts from its entry,
    /// capped at its log end, so a restarted leader does not expose less than it had acknowledged.
    pub fn read_high_watermarks(&self) -> io::Result<HashMap<(String, i32), i64>> {
        read_offset_checkpoint(&self.data_dir.join(HIGH_WATERMARK_CHECKPOINT))
    }

    /// One cleaner pass: compacts every log whose policy includes `compact` and that `needs_cleaning` (dirty
    /// ratio at least `min.cleanable.dirty.ratio`, or a tombstone horizon passed). Each log is cleaned under
    /// its own lock, one after the other. Returns the number of logs cleaned; the clean points are then
    /// checkpointed. The broker calls this every `log.cleaner.backoff.ms`.
    pub fn run_cleaner(&self, now_ms: i64) -> io::Result<usize> {
        let logs: Vec<_> = self.logs().values().cloned().collect();
        let mut cleaned = 0;
        for log in logs {
            let mut l = lock_log(&log);
            if l.needs_cleaning(now_ms) {
                l.clean(now_ms)?;
                cleaned += 1;
            }
        }
        if cleaned > 0 {
            self.checkpoint_all()?;
        }
        Ok(cleaned)
    }

    /// One retention pass over every log; returns the number of segments deleted.
    pub fn run_retention(&self, now_ms: i64) -> io::Result<usize> {
        let logs: Vec<_> = self.logs().values().cloned().collect();
        let mut deleted = 0;
        for log in logs {
            deleted += lock_log(&log).apply_retention(now_ms)?;
        }
        if deleted > 0 {
            self.checkpoint_all()?;
        }
        Ok(deleted)
    }

    /// Closes every log (flush, trimmed indexes, producer snapshots), writes the checkpoints, then the
    /// clean-shutdown marker, which is what lets the next start skip recovery.
    pub fn shutdown(&self) -> io::Result<()> {
        let logs: Vec<_> = self.logs().values().cloned().collect();
        for log in logs {
            lock_log(&log).close()?;
        }
        self.checkpoint_all()?;
        write_atomic(&self.data_dir.join(CLEAN_SHUTDOWN_FILE), b"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BatchBuilder, Compression};

    fn batch(n: usize) -> Vec<u8> {
        let mut b = BatchBuilder::new(Compression::None);
        for i in 0..n {
            b.append(1_000 + i as i64, None, Some(b"value"), &[]);
        }
        b.build().unwrap()
    }

    #[test]
    fn dir_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let m = LogManager::new(dir.path()).unwrap();
        assert!(LogManager::new(dir.path()).is_err());
        drop(m);
        LogManager::new(dir.path()).unwrap();
    }

    #[test]
    fn parse_dirs() {
        assert_eq!(parse_partition_dir("my-topic-3"), Some(("my-topic".to_string(), 3)));
        assert_eq!(parse_partition_dir("topic"), None);
        assert_eq!(parse_partition_dir("t-0.abc-delete"), None);
    }

    #[test]
    fn clean_shutdown_then_reopen_and_unclean_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let m = LogManager::new(dir.path()).unwrap();
            let log = m.create_partition("t", 0, LogConfig::default()).unwrap();
            let mut l = log.lock().unwrap();
            l.append(&mut batch(3), 0, 10).unwrap();
            l.append(&mut batch(2), 0, 10).unwrap();
            l.delete_records_before(1).unwrap();
            drop(l);
            m.create_partition("u", 1, LogConfig::default()).unwrap();
            m.shutdown().unwrap();
        }
        assert!(dir.path().join(CLEAN_SHUTDOWN_FILE).exists());
        let rp = fs::read_to_string(dir.path().join(RECOVERY_POINT_CHECKPOINT)).unwrap();
        assert_eq!(rp, "0\n2\nt 0 5\nu 1 0\n");
        {
            let m = LogManager::new(dir.path()).unwrap();
            assert_eq!(m.open_all(|_| LogConfig::default()).unwrap(), 2);
            assert!(!dir.path().join(CLEAN_SHUTDOWN_FILE).exists(), "marker consumed");
            let log = m.get("t", 0).unwrap();
            let mut l = log.lock().unwrap();
            assert_eq!((l.log_start_offset(), l.log_end_offset()), (1, 5));
            l.append(&mut batch(1), 0, 10).unwrap();
            // no shutdown: simulated crash
        }
        let m = LogManager::new(dir.path()).unwrap();
        m.open_all(|_| LogConfig::default()).unwrap();
        let log = m.get("t", 0).unwrap();
        assert_eq!(log.lock().unwrap().log_end_offset(), 6, "unflushed batch still in page cache survives");
        assert!(m.delete_partition("u", 1).unwrap());
        assert!(!dir.path().join("u-1").exists());
        assert_eq!(m.partitions(), vec![("t".to_string(), 0)]);
    }

    #[test]
    fn high_watermark_checkpoint_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let m = LogManager::new(dir.path()).unwrap();
        m.create_partition("t", 0, LogConfig::default()).unwrap();
        assert!(m.read_high_watermarks().unwrap().is_empty());
        let mut hws = HashMap::new();
        hws.insert(("t".to_string(), 0), 7);
        hws.insert(("gone".to_string(), 3), 9); // no log here: not written
        m.write_high_watermarks(&hws).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join(HIGH_WATERMARK_CHECKPOINT)).unwrap(), "0\n1\nt 0 7\n");
        assert_eq!(m.read_high_watermarks().unwrap().get(&("t".to_string(), 0)), Some(&7));
    }
}
