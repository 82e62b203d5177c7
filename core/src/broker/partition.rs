//! A partition replica as this broker serves it: its log, its role (leader or follower, at which leader epoch),
//! the high watermark, the fetches and acks=all produces parked on it, and group-committed durability.
//!
//! Locking order, everywhere: `role` before the log's mutex. The role lock is held across a leader append so that
//! a batch is stamped with, and appended under, the leader epoch that is current for the whole append (Kafka
//! holds `leaderIsrUpdateLock` for the same reason): a replica becoming follower waits for it, then truncates.
//!
//! What handlers read without locks is published in a [`ReplicaSnapshot`] through a `watch` channel: the high
//! watermark, the leader and epochs, the ISR sizes. Every change of the role or the HW publishes a new snapshot,
//! which is also what wakes acks=all produces waiting for the HW.
//!
//! Durability: `durable` is the offset below which this replica's log is fsynced. A leader's HW never passes its
//! own `durable` (see `replica.rs`); a follower fsyncs before its next fetch reports the offset to the leader. A
//! topic that relaxed fsync (`flush.messages` / `flush.ms`) counts what it wrote as durable, as Kafka does for
//! every topic.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{watch, Notify};
use uuid::Uuid;

use crate::metadata::cluster::{PartitionState, NO_LEADER};
use crate::protocol::ErrorCode;
use crate::storage::{AppendError, AppendInfo, LogConfig, PartitionLog};

use super::replica::{Effect, LeaderState};

/// What handlers and waiters read without taking the role lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSnapshot {
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub is_leader: bool,
    pub high_watermark: i64,
    /// The committed ISR's size (what acks=all checks against min.insync.replicas before appending), and the
    /// maximal ISR's (what it checks once the HW reached its batch, as Kafka does).
    pub isr_size: usize,
    pub maximal_isr_size: usize,
    pub isr: Vec<i32>,
    pub replicas: Vec<i32>,
}

impl ReplicaSnapshot {
    /// The check every client-facing read makes first (Kafka's `getPartitionOrError` + epoch validation): only
    /// the leader serves, and a request naming a leader epoch must name ours — an older one is fenced
    /// (FENCED_LEADER_EPOCH), a newer one means our metadata is behind (UNKNOWN_LEADER_EPOCH). -1 skips the
    /// epoch check (clients that do not know it).
    pub fn check_leader(&self, current_leader_epoch: i32) -> Result<(), ErrorCode> {
        if !self.is_leader {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        if current_leader_epoch >= 0 && current_leader_epoch < self.leader_epoch {
            return Err(ErrorCode::FencedLeaderEpoch);
        }
        if current_leader_epoch > self.leader_epoch {
            return Err(ErrorCode::UnknownLeaderEpoch);
        }
        Ok(())
    }
}

enum Role {
    /// Opened but no state applied yet.
    None,
    Leader(LeaderState),
    Follower(PartitionState),
}

/// Why a leader append was refused before touching the log.
#[derive(Debug)]
pub enum LeaderAppendError {
    NotLeader,
    NotEnoughReplicas { isr: usize, min: i32 },
    Append(AppendError),
}

/// Why an acks=all wait for the high watermark ended without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HwWaitError {
    /// The deadline passed first (REQUEST_TIMED_OUT).
    TimedOut,
    /// This replica stopped leading, or leads in another epoch now (NOT_LEADER_OR_FOLLOWER).
    NotLeader,
}

/// An ISR change to send to the controller (the effect of a step of the replica state machine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrChange {
    pub new_isr: Vec<i32>,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
}

pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub topic_id: Uuid,
    /// This broker's node id.
    local: i32,
    log: Arc<Mutex<PartitionLog>>,
    role: Mutex<Role>,
    snapshot: watch::Sender<ReplicaSnapshot>,
    /// Fetches parked until this partition grows or its HW moves. Woken (and dropped) on each.
    waiters: Mutex<Vec<Arc<Notify>>>,
    /// One fsync at a time; whoever waits behind it rides the next one (group commit).
    flush_lock: tokio::sync::Mutex<()>,
    /// Everything below this offset is on disk.
    durable: AtomicI64,
    /// A background fsync (for acks=0/1 appends, so the HW catches up) is queued or running.
    flush_scheduled: AtomicBool,
    /// acks=all waits for fsync unless the topic explicitly relaxed it with flush.messages / flush.ms.
    fsync_on_ack: AtomicBool,
    /// Replaced as a whole when the topic's configs are altered.
    config: std::sync::RwLock<Arc<LogConfig>>,
    /// When the last fsync finished (ms since the epoch), for `flush.ms`.
    last_flush_ms: AtomicI64,
    /// `replica.lag.time.max.ms`
    lag_time_max_ms: i64,
}

impl Partition {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        topic: &str,
        index: i32,
        topic_id: Uuid,
        local: i32,
        log: Arc<Mutex<PartitionLog>>,
        config: LogConfig,
        fsync_on_ack: bool,
        checkpointed_hw: Option<i64>,
        lag_time_max_ms: i64,
    ) -> Self {
        let (durable, start, end) = {
            let l = lock(&log);
            (l.recovery_point(), l.log_start_offset(), l.log_end_offset())
        };
        // Kafka: the checkpointed HW, kept within the log; without one, the log start.
        let hw = checkpointed_hw.unwrap_or(start).clamp(start, end);
        let (snapshot, _) = watch::channel(ReplicaSnapshot {
            leader: NO_LEADER,
            leader_epoch: -1,
            partition_epoch: -1,
            is_leader: false,
            high_watermark: hw,
            isr_size: 0,
            maximal_isr_size: 0,
            isr: Vec::new(),
            replicas: Vec::new(),
        });
        Partition {
            topic: topic.to_string(),
            index,
            topic_id,
            local,
            log,
            role: Mutex::new(Role::None),
            snapshot,
            waiters: Mutex::new(Vec::new()),
            flush_lock: tokio::sync::Mutex::new(()),
            durable: AtomicI64::new(durable),
            flush_scheduled: AtomicBool::new(false),
            fsync_on_ack: AtomicBool::new(fsync_on_ack),
            config: std::sync::RwLock::new(Arc::new(config)),
            last_flush_ms: AtomicI64::new(super::state::now_ms()),
            lag_time_max_ms,
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
        let min_isr = config.min_insync_replicas.max(1) as usize;
        self.log().set_config(config.clone());
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        self.fsync_on_ack.store(fsync_on_ack, Ordering::Release);
        if let Role::Leader(l) = &mut *self.role() {
            l.set_min_isr(min_isr);
        }
    }

    pub fn log(&self) -> MutexGuard<'_, PartitionLog> {
        lock(&self.log)
    }

    pub fn log_handle(&self) -> &Arc<Mutex<PartitionLog>> {
        &self.log
    }

    fn role(&self) -> MutexGuard<'_, Role> {
        lock(&self.role)
    }

    pub fn snapshot(&self) -> ReplicaSnapshot {
        self.snapshot.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<ReplicaSnapshot> {
        self.snapshot.subscribe()
    }

    pub fn high_watermark(&self) -> i64 {
        self.snapshot.borrow().high_watermark
    }

    pub fn is_leader(&self) -> bool {
        self.snapshot.borrow().is_leader
    }

    pub fn leader_epoch(&self) -> i32 {
        self.snapshot.borrow().leader_epoch
    }

    /// Waits until the high watermark covers every offset below `offset`, while this replica leads in
    /// `leader_epoch` (Kafka's DelayedProduce). Returns the snapshot that satisfied it: the caller checks the
    /// ISR it was reached with against min.insync.replicas.
    pub async fn wait_for_high_watermark(&self, offset: i64, leader_epoch: i32, deadline: tokio::time::Instant) -> Result<ReplicaSnapshot, HwWaitError> {
        let mut rx = self.snapshot.subscribe();
        let wait = rx.wait_for(|s| s.high_watermark >= offset || !s.is_leader || s.leader_epoch != leader_epoch);
        let snap = match tokio::time::timeout_at(deadline, wait).await {
            Err(_) => return Err(HwWaitError::TimedOut),
            // The sender lives as long as this partition, which we hold.
            Ok(Err(_)) => return Err(HwWaitError::NotLeader),
            Ok(Ok(s)) => s.clone(),
        };
        if snap.high_watermark >= offset {
            Ok(snap)
        } else {
            Err(HwWaitError::NotLeader)
        }
    }

    pub fn durable_offset(&self) -> i64 {
        self.durable.load(Ordering::Acquire)
    }

    /// Publishes the role's view (and `hw` when given), waking parked fetches when the HW moved.
    fn publish(&self, role: &Role, hw: Option<i64>) {
        let mut moved = false;
        self.snapshot.send_modify(|s| {
            match role {
                Role::None => {}
                Role::Leader(l) => {
                    s.leader = self.local;
                    s.is_leader = true;
                    s.leader_epoch = l.leader_epoch();
                    s.partition_epoch = l.partition_epoch();
                    s.isr = l.isr().to_vec();
                    s.isr_size = l.isr().len();
                    s.maximal_isr_size = l.maximal_isr().len();
                    s.replicas = l.replicas().to_vec();
                }
                Role::Follower(st) => {
                    s.leader = st.leader;
                    s.is_leader = false;
                    s.leader_epoch = st.leader_epoch;
                    s.partition_epoch = st.partition_epoch;
                    s.isr = st.isr.clone();
                    s.isr_size = st.isr.len();
                    s.maximal_isr_size = st.isr.len();
                    s.replicas = st.replicas.clone();
                }
            }
            if let Some(hw) = hw {
                moved = hw > s.high_watermark;
                s.high_watermark = s.high_watermark.max(hw);
            }
        });
        if moved {
            self.wake_waiters();
        }
    }

    /// Applies a leader state machine's effects: HW moves are published here, ISR proposals returned.
    fn apply_effects(&self, role: &Role, effects: Vec<Effect>) -> Option<IsrChange> {
        let mut change = None;
        let mut hw = None;
        for e in effects {
            match e {
                Effect::HighWatermark(h) => hw = Some(h),
                Effect::ProposeIsr { new_isr, leader_epoch, partition_epoch, below_min_isr } => {
                    if below_min_isr {
                        tracing::warn!(topic = %self.topic, partition = self.index, ?new_isr,
                            "shrinking the ISR below min.insync.replicas: acks=all produces will be refused");
                    }
                    change = Some(IsrChange { new_isr, leader_epoch, partition_epoch });
                }
            }
        }
        self.publish(role, hw);
        change
    }

    /// `apply_effects` for the hot paths (appends, fetches, fsyncs): a step that changed nothing publishes nothing.
    fn step(&self, role: &Role, effects: Vec<Effect>) -> Option<IsrChange> {
        if effects.is_empty() {
            return None;
        }
        self.apply_effects(role, effects)
    }

    /// Whether `state` is newer than what this replica has (Kafka compares leader epoch, then partition epoch).
    pub fn is_newer(&self, state: &PartitionState) -> bool {
        let s = self.snapshot.borrow();
        state.leader_epoch > s.leader_epoch || (state.leader_epoch == s.leader_epoch && state.partition_epoch > s.partition_epoch)
    }

    /// Makes this replica the leader for `state.leader_epoch` (Kafka's `makeLeader`): the new epoch starts at the
    /// log end in the leader-epoch cache, follower progress is reset, the HW is kept (it only moves forward from
    /// here). A state in the same leader epoch only updates the ISR. Returns an ISR change to propose, if any.
    pub fn make_leader(&self, state: &PartitionState, now_ms: i64) -> std::io::Result<Option<IsrChange>> {
        let mut role = self.role();
        if let Role::Leader(l) = &mut *role {
            if l.leader_epoch() == state.leader_epoch {
                let effects = l.apply_committed(state);
                return Ok(self.apply_effects(&role, effects));
            }
        }
        let (end, durable) = {
            let mut log = self.log();
            log.assign_leader_epoch(state.leader_epoch)?;
            let end = log.log_end_offset();
            let durable = if self.fsync_on_ack() { self.durable.load(Ordering::Acquire).min(end) } else { end };
            (end, durable)
        };
        let min_isr = self.config().min_insync_replicas.max(1) as usize;
        let hw = self.high_watermark();
        let mut leader = LeaderState::new(self.local, state, end, durable, hw, now_ms, self.lag_time_max_ms, min_isr);
        let effects = leader.local_durable(durable);
        *role = Role::Leader(leader);
        tracing::info!(topic = %self.topic, partition = self.index, leader_epoch = state.leader_epoch, log_end = end, "became leader");
        Ok(self.apply_effects(&role, effects))
    }

    /// Makes this replica a follower of `state.leader` (Kafka's `makeFollower`). The fetcher does the rest:
    /// truncation by diverging epoch, then catching up. Parked fetches are woken so they answer
    /// NOT_LEADER_OR_FOLLOWER now, and acks=all waiters see `is_leader` drop.
    pub fn make_follower(&self, state: &PartitionState) {
        let mut role = self.role();
        let was_leader = matches!(&*role, Role::Leader(_));
        *role = Role::Follower(state.clone());
        self.publish(&role, None);
        drop(role);
        if was_leader {
            tracing::info!(topic = %self.topic, partition = self.index, leader = state.leader, leader_epoch = state.leader_epoch, "became follower");
        }
        self.wake_waiters();
    }

    /// A leader append (Produce, the group coordinator's writes): refused when this replica does not lead, or
    /// (with `min_isr`, for acks=all) when the ISR is smaller than `min.insync.replicas`. Batches are stamped
    /// with the current leader epoch.
    pub fn append_as_leader(&self, batches: &mut [u8], now_ms: i64, min_isr: Option<i32>) -> Result<AppendInfo, LeaderAppendError> {
        let mut role = self.role();
        let Role::Leader(leader) = &mut *role else { return Err(LeaderAppendError::NotLeader) };
        if let Some(min) = min_isr {
            if (leader.isr().len() as i32) < min {
                return Err(LeaderAppendError::NotEnoughReplicas { isr: leader.isr().len(), min });
            }
        }
        let epoch = leader.leader_epoch();
        let info = self.log().append(batches, epoch, now_ms).map_err(LeaderAppendError::Append)?;
        let effects = if self.fsync_on_ack() { Vec::new() } else { leader.local_durable(info.last_offset + 1) };
        let change = self.step(&role, effects);
        drop(role);
        debug_assert!(change.is_none(), "local durability never proposes an ISR change");
        self.wake_waiters();
        Ok(info)
    }

    /// A follower fetched from `fetch_offset` (its durable log end) while this replica led in `leader_epoch`.
    /// Returns an ISR change to propose.
    pub fn follower_fetched(&self, replica: i32, fetch_offset: i64, leader_epoch: i32, now_ms: i64) -> Option<IsrChange> {
        let mut role = self.role();
        let Role::Leader(leader) = &mut *role else { return None };
        if leader.leader_epoch() != leader_epoch {
            return None;
        }
        let end = self.log().log_end_offset();
        let effects = leader.follower_fetched(replica, fetch_offset, end, now_ms);
        self.step(&role, effects)
    }

    /// The periodic ISR check on a leader. Returns an ISR change to propose.
    pub fn check_lag(&self, now_ms: i64) -> Option<IsrChange> {
        let mut role = self.role();
        let Role::Leader(leader) = &mut *role else { return None };
        let end = self.log().log_end_offset();
        let effects = leader.check_lag(end, now_ms);
        self.step(&role, effects)
    }

    /// The controller did not accept a proposal: the next check proposes again from the committed ISR.
    pub fn proposal_failed(&self) {
        if let Role::Leader(leader) = &mut *self.role() {
            leader.proposal_failed();
        }
    }

    /// A follower's HW: the leader's, capped at what this replica has (Kafka's `updateFollowerHighWatermark`).
    pub fn update_follower_hw(&self, leader_hw: i64) {
        let role = self.role();
        if !matches!(&*role, Role::Follower(_)) {
            return;
        }
        let end = self.log().log_end_offset();
        self.publish(&role, Some(leader_hw.min(end)));
    }

    /// A follower's append of fetched batches (leader's offsets and epochs kept), only while it still follows
    /// at `leader_epoch`. Wakes parked fetches.
    pub fn append_as_follower(&self, leader_epoch: i32, batches: &[u8], now_ms: i64) -> Result<AppendInfo, AppendError> {
        let role = self.role();
        if !matches!(&*role, Role::Follower(s) if s.leader_epoch == leader_epoch) {
            return Err(AppendError::Io(std::io::Error::other(format!("no longer a follower at leader epoch {leader_epoch}"))));
        }
        let info = self.log().append_as_follower(batches, now_ms)?;
        drop(role);
        if !self.fsync_on_ack() {
            self.durable.fetch_max(info.last_offset + 1, Ordering::AcqRel);
        }
        self.wake_waiters();
        Ok(info)
    }

    /// Cuts a follower's log at `offset` (divergence from the leader at `leader_epoch`). Durability and the HW
    /// are capped at the new end (truncation by epoch never cuts committed data; the cap keeps the snapshot
    /// honest either way).
    pub fn truncate_as_follower(&self, leader_epoch: i32, offset: i64) -> std::io::Result<()> {
        let role = self.role();
        if !matches!(&*role, Role::Follower(s) if s.leader_epoch == leader_epoch) {
            return Err(std::io::Error::other(format!("no longer a follower at leader epoch {leader_epoch}")));
        }
        let end = {
            let mut log = self.log();
            log.truncate_to(offset)?;
            log.log_end_offset()
        };
        self.durable.fetch_min(end, Ordering::AcqRel);
        drop(role);
        self.snapshot.send_modify(|s| s.high_watermark = s.high_watermark.min(end));
        tracing::info!(topic = %self.topic, partition = self.index, offset, "truncated log");
        Ok(())
    }

    pub fn last_flush_ms(&self) -> i64 {
        self.last_flush_ms.load(Ordering::Acquire)
    }

    /// Parks a fetch on this partition until the next append or HW move. Register before checking for data so
    /// that a change in between is not missed (`Notify` keeps the permit).
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
    /// A leader then counts the new durable end towards its HW.
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
            let end = {
                let mut log = self.log();
                log.mark_flushed(flushed);
                log.log_end_offset()
            };
            // A truncation while the fsync ran may have cut below what it covered.
            self.durable.fetch_max(flushed.min(end), Ordering::AcqRel);
            self.last_flush_ms.store(super::state::now_ms(), Ordering::Release);
            if end < upto {
                // Truncated below `upto`: what was asked for no longer exists here.
                break;
            }
        }
        self.local_durable();
        Ok(())
    }

    /// Counts the durable end towards a leader's HW.
    fn local_durable(&self) {
        let mut role = self.role();
        if let Role::Leader(leader) = &mut *role {
            let effects = leader.local_durable(self.durable.load(Ordering::Acquire));
            self.step(&role, effects);
        }
    }

    /// After an acks=0/1 append on a topic that fsyncs: one background group-committed fsync so the HW (which
    /// only covers durable data) catches up without anyone waiting for it.
    pub fn schedule_flush(self: &Arc<Self>) {
        if !self.fsync_on_ack() || self.flush_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let end = me.log().log_end_offset();
                if let Err(e) = me.make_durable(end).await {
                    tracing::error!(topic = %me.topic, partition = me.index, error = %e, "fsync failed");
                }
                me.flush_scheduled.store(false, Ordering::Release);
                // An append that found the flag set relied on this run: cover it too.
                let end = me.log().log_end_offset();
                if me.durable.load(Ordering::Acquire) >= end || me.flush_scheduled.swap(true, Ordering::AcqRel) {
                    break;
                }
            }
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a log lock is a bug, but the data behind it is still consistent on disk: keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the follower fetcher sees of a replica.
impl crate::replication::FollowerReplica for Partition {
    fn topic(&self) -> &str {
        &self.topic
    }
    fn partition(&self) -> i32 {
        self.index
    }
    fn fetch_position(&self) -> (i64, i64, i32) {
        let log = self.log();
        (log.log_start_offset(), log.log_end_offset(), log.leader_epochs().latest_epoch().unwrap_or(-1))
    }
    fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.log().end_offset_for_epoch(epoch)
    }
    fn high_watermark(&self) -> i64 {
        Partition::high_watermark(self)
    }
    fn append_fetched(&self, leader_epoch: i32, records: &[u8]) -> Result<i64, AppendError> {
        self.append_as_follower(leader_epoch, records, super::state::now_ms()).map(|i| i.last_offset + 1)
    }
    fn truncate_to(&self, leader_epoch: i32, offset: i64) -> std::io::Result<()> {
        self.truncate_as_follower(leader_epoch, offset)
    }
    fn update_high_watermark(&self, leader_hw: i64) {
        self.update_follower_hw(leader_hw)
    }
    fn update_log_start(&self, leader_log_start: i64) {
        let mut log = self.log();
        let target = leader_log_start.min(log.log_end_offset());
        if target > log.log_start_offset() {
            if let Err(e) = log.delete_records_before(target) {
                tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "cannot follow the leader's log start offset");
            }
        }
    }
    fn make_durable(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send + '_>> {
        Box::pin(async move {
            let end = self.log().log_end_offset();
            Partition::make_durable(self, end).await
        })
    }
}
