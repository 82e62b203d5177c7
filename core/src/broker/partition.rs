//! A partition as the broker serves it: its log, the fetches parked on it, and group-committed durability.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::storage::{AppendError, AppendInfo, LogConfig, PartitionLog};

pub struct Partition {
    pub topic: String,
    pub index: i32,
    log: Arc<Mutex<PartitionLog>>,
    /// Fetches parked until this partition grows. Woken (and dropped) on every append.
    waiters: Mutex<Vec<Arc<Notify>>>,
    /// One fsync at a time; whoever waits behind it rides the next one (group commit).
    flush_lock: tokio::sync::Mutex<()>,
    /// Everything below this offset is on disk.
    durable: AtomicI64,
    /// acks=all waits for fsync unless the topic explicitly relaxed it with flush.messages / flush.ms.
    fsync_on_ack: std::sync::atomic::AtomicBool,
    /// Replaced as a whole when the topic's configs are altered.
    config: std::sync::RwLock<Arc<LogConfig>>,
    /// When the last fsync finished (ms since the epoch), for `flush.ms`.
    last_flush_ms: AtomicI64,
}

impl Partition {
    pub fn new(topic: &str, index: i32, log: Arc<Mutex<PartitionLog>>, config: LogConfig, fsync_on_ack: bool) -> Self {
        let durable = lock(&log).recovery_point();
        Partition {
            topic: topic.to_string(),
            index,
            log,
            waiters: Mutex::new(Vec::new()),
            flush_lock: tokio::sync::Mutex::new(()),
            durable: AtomicI64::new(durable),
            fsync_on_ack: std::sync::atomic::AtomicBool::new(fsync_on_ack),
            config: std::sync::RwLock::new(Arc::new(config)),
            last_flush_ms: AtomicI64::new(super::state::now_ms()),
        }
    }

    pub fn config(&self) -> Arc<LogConfig> {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn fsync_on_ack(&self) -> bool {
        self.fsync_on_ack.load(Ordering::Acquire)
    }

    /// Applies altered topic configs to this partition and its log (retention, segments, cleaner, limits).
    pub fn set_config(&self, config: LogConfig, fsync_on_ack: bool) {
        self.log().set_config(config.clone());
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        self.fsync_on_ack.store(fsync_on_ack, Ordering::Release);
    }

    pub fn log(&self) -> MutexGuard<'_, PartitionLog> {
        lock(&self.log)
    }

    pub fn log_handle(&self) -> &Arc<Mutex<PartitionLog>> {
        &self.log
    }

    pub fn append(&self, batches: &mut [u8], leader_epoch: i32, now_ms: i64) -> Result<AppendInfo, AppendError> {
        let info = self.log().append(batches, leader_epoch, now_ms)?;
        self.wake_waiters();
        Ok(info)
    }

    pub fn last_flush_ms(&self) -> i64 {
        self.last_flush_ms.load(Ordering::Acquire)
    }

    /// Parks a fetch on this partition until the next append. Register before checking for data so that an
    /// append in between is not missed (`Notify` keeps the permit).
    pub fn park(&self, notify: &Arc<Notify>) {
        let mut waiters = lock(&self.waiters);
        // Drop registrations whose fetch already answered (only this list still holds them), so an idle
        // partition polled by long-lived consumers does not accumulate them.
        waiters.retain(|w| Arc::strong_count(w) > 1);
        waiters.push(notify.clone());
    }

    pub fn wake_waiters(&self) {
        let waiters = std::mem::take(&mut *lock(&self.waiters));
        for w in waiters {
            w.notify_one();
        }
    }

    /// Returns once every offset below `upto` is fsynced. Concurrent callers share fsyncs: the one holding the
    /// lock syncs everything appended so far, and those queued behind it usually find their data already durable.
    pub async fn make_durable(&self, upto: i64) -> std::io::Result<()> {
        while self.durable.load(Ordering::Acquire) < upto {
            let _guard = self.flush_lock.lock().await;
            if self.durable.load(Ordering::Acquire) >= upto {
                break;
            }
            let handle = self.log().flush_handle();
            let flushed = tokio::task::spawn_blocking(move || handle.sync())
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))??;
            self.log().mark_flushed(flushed);
            self.durable.fetch_max(flushed, Ordering::AcqRel);
            self.last_flush_ms.store(super::state::now_ms(), Ordering::Release);
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a log lock is a bug, but the data behind it is still consistent on disk: keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
