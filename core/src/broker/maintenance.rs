//! Background upkeep: retention, recovery-point and high-watermark checkpoints, time-based flushes (`flush.ms`),
//! and the leaders' ISR check (every `replica.lag.time.max.ms / 2`, as Kafka's `isr-expiration` task).

use std::sync::Arc;
use std::time::Duration;

use super::state::{now_ms, BrokerState};
use super::ShutdownSignal;

const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);

/// A timer whose first tick is one period from now: nothing runs at start-up.
fn every(period: Duration) -> tokio::time::Interval {
    tokio::time::interval_at(tokio::time::Instant::now() + period, period)
}

pub async fn run(state: Arc<BrokerState>, mut shutdown: ShutdownSignal) {
    let mut retention = every(Duration::from_millis(state.config.retention_check_interval_ms));
    let mut checkpoint = every(CHECKPOINT_INTERVAL);
    let mut flush = every(Duration::from_secs(1));
    let mut offsets = every(Duration::from_millis(state.config.groups.offsets_retention_check_ms));
    let mut cleaner = every(Duration::from_millis(state.config.cleaner_backoff_ms));
    let mut isr = every(Duration::from_millis((state.config.replication.lag_time_max_ms as u64 / 2).max(1)));
    let mut hw_checkpoint = every(Duration::from_millis(state.config.replication.hw_checkpoint_interval_ms));
    for t in [&mut retention, &mut checkpoint, &mut flush, &mut offsets, &mut cleaner, &mut isr, &mut hw_checkpoint] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = retention.tick() => {
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    match s.logs.run_retention(now_ms()) {
                        Ok(0) => {}
                        Ok(deleted) => tracing::info!(segments = deleted, "retention deleted segments"),
                        Err(e) => tracing::error!(error = %e, "retention failed"),
                    }
                }).await;
            }
            _ = checkpoint.tick() => {
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err(e) = s.logs.checkpoint_all() {
                        tracing::error!(error = %e, "checkpoint failed");
                    }
                }).await;
            }
            _ = flush.tick() => flush_due(&state).await,
            _ = isr.tick() => {
                let now = now_ms();
                for p in state.all_partitions() {
                    if let Some(change) = p.check_lag(now) {
                        state.propose_isr(&p, change);
                    }
                }
            }
            _ = hw_checkpoint.tick() => {
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err(e) = s.checkpoint_high_watermarks() {
                        tracing::error!(error = %e, "high-watermark checkpoint failed");
                    }
                }).await;
            }
            _ = cleaner.tick() => {
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || match s.logs.run_cleaner(now_ms()) {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(logs = n, "compacted logs"),
                    Err(e) => tracing::error!(error = %e, "log cleaner failed"),
                }).await;
            }
            _ = offsets.tick() => {
                if state.groups.is_loaded() {
                    state.groups.expire_offsets(Duration::from_millis(state.config.groups.offsets_retention_ms)).await;
                }
            }
        }
    }
}

/// Partitions whose `flush.ms` has passed since their last fsync are synced now.
async fn flush_due(state: &Arc<BrokerState>) {
    let now = now_ms();
    for p in state.all_partitions() {
        let (due, end) = {
            let log = p.log();
            let ms = p.config().flush_ms;
            (ms < i64::MAX && log.recovery_point() < log.log_end_offset() && now - p.last_flush_ms() >= ms, log.log_end_offset())
        };
        if due {
            if let Err(e) = p.make_durable(end).await {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "flush failed");
            }
        }
    }
}
