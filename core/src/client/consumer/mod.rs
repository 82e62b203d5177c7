//! The consumer: Kafka's `KafkaConsumer` behaviour (classic group protocol) behind a blocking API.
//!
//! A `Consumer` owns a small tokio runtime. Two background tasks run on it: the group task (FindCoordinator,
//! JoinGroup/SyncGroup, heartbeats, LeaveGroup when `max.poll.interval.ms` passes without a `poll`) and the
//! fetcher (Fetch requests per leader for every assigned, unpaused partition whose buffer is empty). Everything
//! the application sees is delivered from [`Consumer::poll`] on the caller's thread: records, rebalance events
//! (the group task queues them and waits until `poll` has run the [`RebalanceListener`]) and the results of
//! [`Consumer::commit_async`]. Committed offsets are the next record to read, and only what `poll` has handed
//! out is committed automatically.
//!
//! Leader changes: Fetch and ListOffsets name the leader epoch the consumer knows, and a partition whose leader
//! epoch moves is validated with OffsetForLeaderEpoch before it is fetched again (`validation`, KIP-320), so that
//! a new leader whose log diverged from what was fetched is noticed. The group task finds the coordinator again
//! (FindCoordinator) when it moves; committed offsets live in the replicated `__consumer_offsets`.

mod config;
mod fetcher;
mod group;
mod interceptor;
mod validation;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{oneshot, Notify};

pub use config::{ConsumerConfig, IsolationLevel, OffsetReset};
pub use interceptor::ConsumerInterceptor;
use interceptor::InterceptorChain;

use super::cluster::{Cluster, ClusterConfig};
use super::connection::Connection;
use super::error::ClientError;
use crate::record::TimestampType;

pub use crate::client::assignor::TopicPartition;

/// One record as `poll` hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub timestamp_type: TimestampType,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// No committed offset (or the position is out of range) and `auto.offset.reset` is `none`.
    #[error("no valid offset for {0}-{1} and auto.offset.reset is none")]
    NoOffset(String, i32),
    /// The group rebalanced (or this member was fenced) before the commit reached it.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// The member cannot continue (FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL, authorization...).
    #[error("fatal group error: {0}")]
    Fatal(String),
    #[error("{0}")]
    IllegalState(String),
    /// An argument the consumer cannot use (an invalid subscription pattern, say).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `poll` (or another blocking call) was interrupted by [`Consumer::wakeup`].
    #[error("woken up")]
    Wakeup,
}

/// The group membership as a transactional producer needs it (Java's `ConsumerGroupMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadata {
    pub group_id: String,
    pub generation: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// Rebalance callbacks (Java's `ConsumerRebalanceListener`), called from `poll` on the polling thread. The
/// consumer is passed in so that the listener may seek, commit or look up positions.
pub trait RebalanceListener: Send {
    /// Before partitions are taken away in a rebalance (after the automatic commit, if enabled).
    fn on_partitions_revoked(&mut self, consumer: &Consumer, partitions: &[TopicPartition]);
    /// After partitions were assigned, before their positions are looked up: a seek here wins.
    fn on_partitions_assigned(&mut self, consumer: &Consumer, partitions: &[TopicPartition]);
    /// When partitions were lost without a chance to commit (fenced, session expired, poll timeout).
    fn on_partitions_lost(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        self.on_partitions_revoked(consumer, partitions)
    }
}

/// Called from a later `poll` with the offsets a `commit_async` sent and its outcome.
pub type CommitCallback = Box<dyn FnOnce(&BTreeMap<TopicPartition, i64>, Result<(), ConsumerError>) + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pos {
    /// Newly assigned: the committed offset is looked up, then `auto.offset.reset` applies.
    Unknown,
    /// `auto.offset.reset` applies (no committed offset, out of range, or seek_to_beginning/end).
    Reset(Option<i64>),
    At(i64),
}

pub(crate) struct PartState {
    /// The next record `poll` returns.
    pub pos: Pos,
    /// Fetched records from `pos` on, not yet returned.
    pub buf: VecDeque<ConsumerRecord>,
    /// The leader epoch of each record in `buf` (its batch's), in the same order.
    pub buf_epochs: VecDeque<i32>,
    /// The leader epoch of the record before `pos` (the last one handed out, or the committed offset's), for
    /// commits and validation; None when unknown.
    pub pos_epoch: Option<i32>,
    /// Approximate bytes in `buf` (the fetcher tops a partition up while it holds less than
    /// `max.partition.fetch.bytes`, so that the next records are there before `poll` needs them).
    pub buffered: usize,
    /// Where the next fetch starts: after the last batch fetched, None when `buf` came from nowhere yet.
    pub fetch_next: Option<i64>,
    pub paused: bool,
    /// Changes on every seek and reset, so that a fetch started before it is dropped.
    pub epoch: u64,
    pub inflight: bool,
    /// The last fetch found nothing new: the partition is at its end.
    pub caught_up: bool,
    /// Leader epoch of the last batch fetched: the history the fetch position continues (None after a seek).
    pub fetch_epoch: Option<i32>,
    /// The partition leader's epoch (from metadata) the position was fetched under or validated against.
    pub leader_epoch: Option<i32>,
    /// The leader changed: the position is checked with OffsetForLeaderEpoch before the next fetch
    /// (`validation`).
    pub validating: bool,
}

impl PartState {
    fn new() -> Self {
        PartState {
            pos: Pos::Unknown,
            buf: VecDeque::new(),
            buf_epochs: VecDeque::new(),
            pos_epoch: None,
            buffered: 0,
            fetch_next: None,
            paused: false,
            epoch: 0,
            inflight: false,
            caught_up: false,
            fetch_epoch: None,
            leader_epoch: None,
            validating: false,
        }
    }

    /// The offset the next fetch of this partition asks for (None while the position is not known).
    pub fn fetch_offset(&self) -> Option<i64> {
        match self.pos {
            Pos::At(o) => Some(self.fetch_next.unwrap_or(o)),
            _ => None,
        }
    }

    /// Whether a fetch started at `offset` under `epoch` is still what this partition waits for (no seek,
    /// reset or other fetch since).
    pub fn answers(&self, epoch: u64, offset: i64) -> bool {
        self.epoch == epoch && self.fetch_offset() == Some(offset)
    }

    /// Moves to `pos`, dropping what was fetched.
    pub fn restart(&mut self, pos: Pos) {
        self.pos = pos;
        self.buf.clear();
        self.buf_epochs.clear();
        self.pos_epoch = None;
        self.buffered = 0;
        self.fetch_next = None;
        self.caught_up = false;
        self.fetch_epoch = None;
        self.validating = false;
    }

    /// Drops fetched records at or above `offset` and fetches from there next.
    pub fn truncate_fetched(&mut self, offset: i64) {
        while self.buf.back().is_some_and(|r| r.offset >= offset) {
            let r = self.buf.pop_back().expect("checked");
            self.buf_epochs.pop_back();
            self.buffered = self.buffered.saturating_sub(buffered_size(&r));
        }
        self.fetch_next = Some(offset);
        self.caught_up = false;
    }

    /// Buffers fetched records; `epochs` holds each one's leader epoch.
    pub fn push(&mut self, recs: Vec<ConsumerRecord>, epochs: Vec<i32>, next: i64) {
        debug_assert_eq!(recs.len(), epochs.len());
        self.buffered += recs.iter().map(buffered_size).sum::<usize>();
        self.buf.extend(recs);
        self.buf_epochs.extend(epochs);
        self.fetch_next = Some(next);
    }

    fn pop(&mut self) -> Option<(ConsumerRecord, i32)> {
        let r = self.buf.pop_front()?;
        let epoch = self.buf_epochs.pop_front().unwrap_or(-1);
        self.buffered = self.buffered.saturating_sub(buffered_size(&r));
        Some((r, epoch))
    }

    /// The leader epoch to commit beside `offset`: known when `offset` is the position.
    pub fn epoch_at(&self, offset: i64) -> Option<i32> {
        (self.pos == Pos::At(offset)).then_some(self.pos_epoch).flatten()
    }
}

/// A record's share of a partition's buffer: its key and value, and a fixed overhead for the rest.
fn buffered_size(r: &ConsumerRecord) -> usize {
    64 + r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubMode {
    None,
    Topics(BTreeSet<String>),
    Manual,
}

pub(crate) enum Event {
    /// Eager protocol: revoke everything before the group task rejoins.
    Revoke { ack: oneshot::Sender<()> },
    /// The assignment from SyncGroup; the ack says whether anything had to be revoked (cooperative rejoin).
    Assign { partitions: Vec<TopicPartition>, ack: oneshot::Sender<bool> },
    /// The membership was lost: drop every partition without committing.
    Lost,
}

/// A finished asynchronous commit: callback id, offsets, outcome.
pub(crate) type CommitResult = (u64, BTreeMap<TopicPartition, i64>, Result<(), ConsumerError>);

pub(crate) struct State {
    pub sub: SubMode,
    /// A pattern subscription: `sub` then holds the topics it matched at the last metadata lookup.
    pub pattern: Option<regex::Regex>,
    pub parts: BTreeMap<TopicPartition, PartState>,
    pub events: VecDeque<Event>,
    pub commit_results: VecDeque<CommitResult>,
    pub member_id: String,
    pub generation: i32,
    pub coordinator: Option<Arc<Connection>>,
    pub last_poll: Instant,
    pub rejoin_requested: bool,
    pub fatal: Option<ConsumerError>,
    pub poll_errors: VecDeque<ConsumerError>,
    pub epoch_counter: u64,
    pub drain_start: usize,
}

pub(crate) struct Shared {
    pub cfg: ConsumerConfig,
    pub cluster: Arc<Cluster>,
    pub state: Mutex<State>,
    pub poll_wake: Notify,
    pub group_wake: Notify,
    pub fetch_wake: Notify,
    pub closed: AtomicBool,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn group_id(&self) -> Result<&str, ConsumerError> {
        self.cfg.group_id.as_deref().ok_or_else(|| ConsumerError::IllegalState("this consumer has no group.id".into()))
    }
}

/// A Kafka consumer. All methods take `&self`; the type is `Send + Sync`, but records and callbacks are
/// delivered only from `poll`.
pub struct Consumer {
    shared: Arc<Shared>,
    rt: Option<tokio::runtime::Runtime>,
    listener: Mutex<Option<Box<dyn RebalanceListener>>>,
    callbacks: Mutex<HashMap<u64, CommitCallback>>,
    next_callback: AtomicU64,
    next_auto_commit: Mutex<Instant>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    group_started: AtomicBool,
    closed: AtomicBool,
    woken: AtomicBool,
    interceptors: InterceptorChain,
}

/// Builds a [`Consumer`] with interceptors.
pub struct ConsumerBuilder {
    cfg: ConsumerConfig,
    interceptors: InterceptorChain,
}

impl ConsumerBuilder {
    /// Appends an interceptor to the chain (they run in the order added).
    pub fn interceptor(mut self, i: impl ConsumerInterceptor + 'static) -> Self {
        self.interceptors.push(Box::new(i));
        self
    }

    /// Appends an already boxed interceptor (for bindings that hold trait objects).
    pub fn boxed_interceptor(mut self, i: Box<dyn ConsumerInterceptor>) -> Self {
        self.interceptors.push(i);
        self
    }

    pub fn build(self) -> Result<Consumer, ConsumerError> {
        let mut c = Consumer::new(self.cfg)?;
        c.interceptors = self.interceptors;
        Ok(c)
    }
}

impl Consumer {
    pub fn new(cfg: ConsumerConfig) -> Result<Consumer, ConsumerError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("streamlet-consumer")
            .enable_all()
            .build()
            .map_err(|e| ConsumerError::IllegalState(format!("cannot start the consumer runtime: {e}")))?;
        let cluster = Cluster::new(ClusterConfig {
            bootstrap: cfg.bootstrap_servers.clone(),
            client_id: cfg.client_id.clone(),
            request_timeout: cfg.request_timeout,
            connect_timeout: cfg.request_timeout,
        });
        let next_auto_commit = Instant::now() + cfg.auto_commit_interval;
        let shared = Arc::new(Shared {
            cfg,
            cluster,
            state: Mutex::new(State {
                sub: SubMode::None,
                pattern: None,
                parts: BTreeMap::new(),
                events: VecDeque::new(),
                commit_results: VecDeque::new(),
                member_id: String::new(),
                generation: -1,
                coordinator: None,
                last_poll: Instant::now(),
                rejoin_requested: false,
                fatal: None,
                poll_errors: VecDeque::new(),
                epoch_counter: 0,
                drain_start: 0,
            }),
            poll_wake: Notify::new(),
            group_wake: Notify::new(),
            fetch_wake: Notify::new(),
            closed: AtomicBool::new(false),
        });
        let fetch_task = rt.spawn(fetcher::run(shared.clone()));
        Ok(Consumer {
            shared,
            rt: Some(rt),
            listener: Mutex::new(None),
            callbacks: Mutex::new(HashMap::new()),
            next_callback: AtomicU64::new(0),
            next_auto_commit: Mutex::new(next_auto_commit),
            tasks: Mutex::new(vec![fetch_task]),
            group_started: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            woken: AtomicBool::new(false),
            interceptors: InterceptorChain::default(),
        })
    }

    /// A builder for a consumer with interceptors.
    pub fn builder(cfg: ConsumerConfig) -> ConsumerBuilder {
        ConsumerBuilder { cfg, interceptors: InterceptorChain::default() }
    }

    /// From Kafka consumer properties.
    pub fn from_props<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Result<Consumer, ConsumerError> {
        let cfg = ConsumerConfig::from_pairs(pairs).map_err(|e| ConsumerError::Client(ClientError::Config(e)))?;
        Consumer::new(cfg)
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.shared.cfg
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("runtime lives until drop")
    }

    fn check_open(&self) -> Result<(), ConsumerError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(ConsumerError::Client(ClientError::Closed));
        }
        Ok(())
    }

    fn new_epoch(st: &mut State) -> u64 {
        st.epoch_counter += 1;
        st.epoch_counter
    }

    /// Subscribes to `topics` (replacing any earlier subscription); partitions come from the group.
    pub fn subscribe(&self, topics: &[&str], listener: Option<Box<dyn RebalanceListener>>) -> Result<(), ConsumerError> {
        self.check_open()?;
        self.shared.group_id()?;
        if topics.iter().any(|t| t.trim().is_empty()) {
            return Err(ConsumerError::IllegalState("topic names must not be empty".into()));
        }
        if topics.is_empty() {
            return self.unsubscribe();
        }
        {
            let mut st = self.shared.lock();
            if st.sub == SubMode::Manual {
                return Err(ConsumerError::IllegalState("subscribe after assign: call unsubscribe first".into()));
            }
            st.sub = SubMode::Topics(topics.iter().map(|t| t.to_string()).collect());
            st.pattern = None;
            st.rejoin_requested = true;
        }
        self.start_group(listener);
        Ok(())
    }

    /// Subscribes to every topic whose whole name matches `pattern` (Java's `subscribe(Pattern)`), internal
    /// topics excluded. Topics created or deleted later are picked up at the next metadata refresh
    /// (`metadata.max.age.ms`), which rejoins the group.
    pub fn subscribe_pattern(&self, pattern: &str, listener: Option<Box<dyn RebalanceListener>>) -> Result<(), ConsumerError> {
        self.check_open()?;
        self.shared.group_id()?;
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| ConsumerError::InvalidArgument(format!("subscription pattern {pattern:?}: {e}")))?;
        {
            let mut st = self.shared.lock();
            if st.sub == SubMode::Manual {
                return Err(ConsumerError::IllegalState("subscribe after assign: call unsubscribe first".into()));
            }
            st.sub = SubMode::Topics(BTreeSet::new());
            st.pattern = Some(re);
            st.rejoin_requested = true;
        }
        self.start_group(listener);
        Ok(())
    }

    fn start_group(&self, listener: Option<Box<dyn RebalanceListener>>) {
        *self.listener.lock().unwrap_or_else(|e| e.into_inner()) = listener;
        if !self.group_started.swap(true, Ordering::AcqRel) {
            let h = self.rt().spawn(group::run(self.shared.clone()));
            self.tasks.lock().unwrap_or_else(|e| e.into_inner()).push(h);
        }
        self.shared.group_wake.notify_one();
    }

    /// Drops the subscription or manual assignment (revoking the partitions through the listener).
    pub fn unsubscribe(&self) -> Result<(), ConsumerError> {
        self.check_open()?;
        let owned: Vec<TopicPartition> = self.shared.lock().parts.keys().cloned().collect();
        let was_group = matches!(self.shared.lock().sub, SubMode::Topics(_));
        if was_group && !owned.is_empty() {
            self.auto_commit_sync(&owned);
            self.call_listener(|l, c| l.on_partitions_revoked(c, &owned));
        }
        let mut st = self.shared.lock();
        st.parts.clear();
        st.sub = SubMode::None;
        st.pattern = None;
        st.rejoin_requested = true;
        drop(st);
        self.shared.group_wake.notify_one();
        Ok(())
    }

    /// Manual assignment: no group membership; positions come from committed offsets (with a group.id) or
    /// `auto.offset.reset`.
    pub fn assign(&self, partitions: &[TopicPartition]) -> Result<(), ConsumerError> {
        self.check_open()?;
        let mut st = self.shared.lock();
        if matches!(st.sub, SubMode::Topics(_)) {
            return Err(ConsumerError::IllegalState("assign after subscribe: call unsubscribe first".into()));
        }
        let wanted: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
        st.parts.retain(|tp, _| wanted.contains(tp));
        for tp in wanted {
            st.parts.entry(tp).or_insert_with(PartState::new);
        }
        st.sub = if partitions.is_empty() { SubMode::None } else { SubMode::Manual };
        drop(st);
        self.shared.fetch_wake.notify_one();
        Ok(())
    }

    /// The partitions assigned now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.shared.lock().parts.keys().cloned().collect()
    }

    /// The subscribed topics.
    pub fn subscription(&self) -> Vec<String> {
        match &self.shared.lock().sub {
            SubMode::Topics(t) => t.iter().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Waits up to `timeout` for records, running rebalance callbacks and commit callbacks first.
    pub fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>, ConsumerError> {
        self.poll_up_to(timeout, self.shared.cfg.max_poll_records)
    }

    /// Like `poll`, handing out at most `max` records (and at most `max.poll.records`); the rest stay buffered
    /// and the positions advance only past what is handed out. Bindings that return one record per call use it.
    pub fn poll_up_to(&self, timeout: Duration, max: usize) -> Result<Vec<ConsumerRecord>, ConsumerError> {
        self.check_open()?;
        let deadline = Instant::now() + timeout;
        {
            let mut st = self.shared.lock();
            st.last_poll = Instant::now();
            if st.sub == SubMode::None && st.parts.is_empty() {
                return Err(ConsumerError::IllegalState("not subscribed to any topic or assigned any partition".into()));
            }
        }
        self.shared.group_wake.notify_one();
        loop {
            if self.woken.swap(false, Ordering::AcqRel) {
                return Err(ConsumerError::Wakeup);
            }
            if let Some(e) = self.shared.lock().fatal.clone() {
                return Err(e);
            }
            self.run_events();
            self.run_commit_callbacks();
            self.maybe_auto_commit();
            self.update_positions()?;
            if let Some(e) = self.shared.lock().poll_errors.pop_front() {
                return Err(e);
            }
            let records = self.drain(max);
            if !records.is_empty() {
                return Ok(self.interceptors.on_consume(records));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(records);
            }
            let wait = (deadline - now).min(Duration::from_millis(200));
            let shared = self.shared.clone();
            self.rt().block_on(async move {
                let _ = tokio::time::timeout(wait, shared.poll_wake.notified()).await;
            });
            self.shared.lock().last_poll = Instant::now();
        }
    }

    /// Makes the current (or next) `poll` return [`ConsumerError::Wakeup`]; callable from any thread.
    pub fn wakeup(&self) {
        self.woken.store(true, Ordering::Release);
        self.shared.poll_wake.notify_one();
    }

    /// The current group membership (None without a group.id).
    pub fn group_metadata(&self) -> Option<GroupMetadata> {
        let group_id = self.shared.cfg.group_id.clone()?;
        let st = self.shared.lock();
        Some(GroupMetadata {
            group_id,
            generation: st.generation,
            member_id: st.member_id.clone(),
            group_instance_id: self.shared.cfg.group_instance_id.clone(),
        })
    }

    /// The partitions of `topic` (empty when it does not exist).
    pub fn partitions_for(&self, topic: &str) -> Result<Vec<i32>, ConsumerError> {
        self.check_open()?;
        let topics = [topic.to_string()];
        let md = self.rt().block_on(self.shared.cluster.refresh(Some(&topics), false))?;
        Ok(md.partition_count(topic).map(|n| (0..n).collect()).unwrap_or_default())
    }

    /// Up to `max.poll.records` buffered records of unpaused partitions, advancing their positions. The
    /// partition order rotates from poll to poll so that `max.poll.records` starves none of them.
    fn drain(&self, max: usize) -> Vec<ConsumerRecord> {
        let max = max.min(self.shared.cfg.max_poll_records).max(1);
        let mut out = Vec::new();
        let mut st = self.shared.lock();
        let n = st.parts.len();
        if n == 0 {
            return out;
        }
        let start = st.drain_start % n;
        st.drain_start = st.drain_start.wrapping_add(1);
        let mut room = false;
        let top_up = self.shared.cfg.top_up_bytes();
        let (front, back): (Vec<_>, Vec<_>) = st.parts.iter_mut().enumerate().partition(|(i, _)| *i >= start);
        for (_, (_, ps)) in front.into_iter().chain(back) {
            if out.len() >= max {
                break;
            }
            if ps.paused || ps.buf.is_empty() {
                continue;
            }
            let Pos::At(pos) = ps.pos else { continue };
            let mut next = pos;
            while out.len() < max {
                let Some((r, epoch)) = ps.pop() else { break };
                if r.offset < next {
                    continue;
                }
                next = r.offset + 1;
                if epoch >= 0 {
                    ps.pos_epoch = Some(epoch);
                }
                out.push(r);
            }
            ps.pos = Pos::At(next);
            room |= !ps.inflight && ps.buffered < top_up;
        }
        drop(st);
        if room {
            self.shared.fetch_wake.notify_one();
        }
        out
    }

    fn call_listener(&self, f: impl FnOnce(&mut dyn RebalanceListener, &Consumer)) {
        let taken = self.listener.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut l) = taken {
            f(l.as_mut(), self);
            let mut slot = self.listener.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(l);
            }
        }
    }

    /// Runs queued rebalance events in order on this thread.
    fn run_events(&self) {
        loop {
            let Some(ev) = self.shared.lock().events.pop_front() else { return };
            match ev {
                Event::Revoke { ack } => {
                    let owned: Vec<TopicPartition> = self.shared.lock().parts.keys().cloned().collect();
                    if !owned.is_empty() {
                        self.auto_commit_sync(&owned);
                        self.call_listener(|l, c| l.on_partitions_revoked(c, &owned));
                        self.shared.lock().parts.clear();
                    }
                    let _ = ack.send(());
                }
                Event::Assign { partitions, ack } => {
                    let new: BTreeSet<TopicPartition> = partitions.into_iter().collect();
                    let current: BTreeSet<TopicPartition> = self.shared.lock().parts.keys().cloned().collect();
                    let revoked: Vec<TopicPartition> = current.difference(&new).cloned().collect();
                    let added: Vec<TopicPartition> = new.difference(&current).cloned().collect();
                    if !revoked.is_empty() {
                        self.auto_commit_sync(&revoked);
                        self.call_listener(|l, c| l.on_partitions_revoked(c, &revoked));
                        let mut st = self.shared.lock();
                        for tp in &revoked {
                            st.parts.remove(tp);
                        }
                    }
                    {
                        let mut st = self.shared.lock();
                        for tp in &added {
                            st.parts.entry(tp.clone()).or_insert_with(PartState::new);
                        }
                    }
                    self.call_listener(|l, c| l.on_partitions_assigned(c, &added));
                    let _ = ack.send(!revoked.is_empty());
                    self.shared.fetch_wake.notify_one();
                }
                Event::Lost => {
                    let owned: Vec<TopicPartition> = std::mem::take(&mut self.shared.lock().parts).into_keys().collect();
                    if !owned.is_empty() {
                        self.call_listener(|l, c| l.on_partitions_lost(c, &owned));
                    }
                }
            }
        }
    }

    fn run_commit_callbacks(&self) {
        loop {
            let Some((id, offsets, result)) = self.shared.lock().commit_results.pop_front() else { return };
            let cb = self.callbacks.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            if result.is_ok() {
                self.interceptors.on_commit(&offsets);
            }
            match (cb, result) {
                (Some(cb), result) => cb(&offsets, result),
                (None, Err(e)) => tracing::warn!("asynchronous commit failed: {e}"),
                (None, Ok(())) => {}
            }
        }
    }

    fn auto_commit_enabled(&self) -> bool {
        self.shared.cfg.enable_auto_commit && self.shared.cfg.group_id.is_some()
    }

    fn maybe_auto_commit(&self) {
        if !self.auto_commit_enabled() {
            return;
        }
        let mut next = self.next_auto_commit.lock().unwrap_or_else(|e| e.into_inner());
        if Instant::now() < *next {
            return;
        }
        *next = Instant::now() + self.shared.cfg.auto_commit_interval;
        drop(next);
        let offsets = self.consumed(None);
        if !offsets.is_empty() {
            self.spawn_commit(offsets, None);
        }
    }

    /// Synchronous auto-commit of `parts` (before revocation and on close); failures are logged.
    fn auto_commit_sync(&self, parts: &[TopicPartition]) {
        if !self.auto_commit_enabled() {
            return;
        }
        let offsets = self.consumed(Some(parts));
        if offsets.is_empty() {
            return;
        }
        if let Err(e) = self.commit_now(&offsets) {
            tracing::warn!("automatic commit before revocation failed: {e}");
        }
    }

    /// The positions (what poll handed out) of `parts` (None: every assigned partition).
    fn consumed(&self, parts: Option<&[TopicPartition]>) -> BTreeMap<TopicPartition, i64> {
        let st = self.shared.lock();
        st.parts
            .iter()
            .filter(|(tp, _)| match parts {
                None => true,
                Some(p) => p.contains(tp),
            })
            .filter_map(|(tp, ps)| match ps.pos {
                Pos::At(o) => Some((tp.clone(), o)),
                _ => None,
            })
            .collect()
    }

    fn spawn_commit(&self, offsets: BTreeMap<TopicPartition, i64>, callback: Option<CommitCallback>) {
        let id = self.next_callback.fetch_add(1, Ordering::Relaxed);
        if let Some(cb) = callback {
            self.callbacks.lock().unwrap_or_else(|e| e.into_inner()).insert(id, cb);
        }
        let shared = self.shared.clone();
        self.rt().spawn(async move {
            let result = group::commit(&shared, &offsets).await;
            shared.lock().commit_results.push_back((id, offsets, result));
            shared.poll_wake.notify_one();
        });
    }

    /// Looks up committed offsets for partitions that have no position, then applies `auto.offset.reset`.
    fn update_positions(&self) -> Result<(), ConsumerError> {
        let (unknown, reset): (Vec<TopicPartition>, Vec<(TopicPartition, Option<i64>)>) = {
            let st = self.shared.lock();
            let unknown = st.parts.iter().filter(|(_, p)| p.pos == Pos::Unknown).map(|(tp, _)| tp.clone()).collect();
            let reset = st
                .parts
                .iter()
                .filter_map(|(tp, p)| match p.pos {
                    Pos::Reset(ts) => Some((tp.clone(), ts)),
                    _ => None,
                })
                .collect();
            (unknown, reset)
        };
        if unknown.is_empty() && reset.is_empty() {
            return Ok(());
        }
        let mut reset = reset;
        if !unknown.is_empty() {
            let committed = if self.shared.cfg.group_id.is_some() {
                self.rt().block_on(group::fetch_committed_with_epochs(&self.shared, &unknown))?
            } else {
                BTreeMap::new()
            };
            let mut st = self.shared.lock();
            for tp in unknown {
                let Some(ps) = st.parts.get_mut(&tp) else { continue };
                if ps.pos != Pos::Unknown {
                    continue;
                }
                match committed.get(&tp).copied().flatten() {
                    Some((o, epoch)) => {
                        ps.pos = Pos::At(o);
                        // With the committer's epoch the fetcher checks the offset with the leader first (KIP-320).
                        ps.pos_epoch = epoch;
                        ps.fetch_epoch = epoch;
                    }
                    None => {
                        ps.pos = Pos::Reset(None);
                        reset.push((tp, None));
                    }
                }
            }
        }
        if reset.is_empty() {
            return Ok(());
        }
        // Explicit targets (seek_to_beginning/end) first; the rest use auto.offset.reset.
        let mut targets: Vec<(TopicPartition, i64)> = Vec::new();
        for (tp, ts) in &reset {
            match (ts, self.shared.cfg.auto_offset_reset) {
                (Some(t), _) => targets.push((tp.clone(), *t)),
                (None, OffsetReset::Earliest) => targets.push((tp.clone(), -2)),
                (None, OffsetReset::Latest) => targets.push((tp.clone(), -1)),
                (None, OffsetReset::None) => {}
            }
        }
        if !targets.is_empty() {
            let found = self.rt().block_on(fetcher::list_offsets(&self.shared, &targets))?;
            let mut st = self.shared.lock();
            for (tp, ts) in &targets {
                let Some(ps) = st.parts.get_mut(tp) else { continue };
                if !matches!(ps.pos, Pos::Reset(t) if t.is_none() || t == Some(*ts)) {
                    continue;
                }
                if let Some((o, _)) = found.get(tp) {
                    ps.pos = Pos::At(*o);
                }
            }
            drop(st);
            self.shared.fetch_wake.notify_one();
        }
        if let Some((tp, _)) = reset.iter().find(|(_, ts)| ts.is_none() && self.shared.cfg.auto_offset_reset == OffsetReset::None) {
            return Err(ConsumerError::NoOffset(tp.0.clone(), tp.1));
        }
        Ok(())
    }

    /// Commits `offsets` (None: the positions of every assigned partition) and waits for the result.
    pub fn commit_sync(&self, offsets: Option<BTreeMap<TopicPartition, i64>>) -> Result<(), ConsumerError> {
        self.check_open()?;
        self.shared.group_id()?;
        let offsets = offsets.unwrap_or_else(|| self.consumed(None));
        if offsets.is_empty() {
            return Ok(());
        }
        self.commit_now(&offsets)
    }

    /// Commits on this thread and tells the interceptors when it succeeded.
    fn commit_now(&self, offsets: &BTreeMap<TopicPartition, i64>) -> Result<(), ConsumerError> {
        self.rt().block_on(group::commit(&self.shared, offsets))?;
        self.interceptors.on_commit(offsets);
        Ok(())
    }

    /// Commits in the background; `callback` runs inside a later `poll` (or `close`).
    pub fn commit_async(&self, offsets: Option<BTreeMap<TopicPartition, i64>>, callback: Option<CommitCallback>) -> Result<(), ConsumerError> {
        self.check_open()?;
        self.shared.group_id()?;
        let offsets = offsets.unwrap_or_else(|| self.consumed(None));
        self.spawn_commit(offsets, callback);
        Ok(())
    }

    /// The committed offsets of `partitions` (None where the group has none).
    pub fn committed(&self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, Option<i64>>, ConsumerError> {
        self.check_open()?;
        self.shared.group_id()?;
        self.rt().block_on(group::fetch_committed(&self.shared, partitions))
    }

    /// The offset of the next record `poll` will hand out for `tp`, looking it up when not known yet.
    pub fn position(&self, tp: &TopicPartition) -> Result<i64, ConsumerError> {
        self.check_open()?;
        let deadline = Instant::now() + self.shared.cfg.request_timeout;
        loop {
            match self.shared.lock().parts.get(tp).map(|p| p.pos) {
                None => return Err(ConsumerError::IllegalState(format!("{}-{} is not assigned to this consumer", tp.0, tp.1))),
                Some(Pos::At(o)) => return Ok(o),
                Some(_) => {}
            }
            self.update_positions()?;
            if Instant::now() > deadline {
                return Err(ConsumerError::Client(ClientError::Timeout(self.shared.cfg.request_timeout.as_millis() as u64)));
            }
        }
    }

    fn set_pos(&self, tp: &TopicPartition, pos: Pos) -> Result<(), ConsumerError> {
        let mut st = self.shared.lock();
        let epoch = Self::new_epoch(&mut st);
        let Some(ps) = st.parts.get_mut(tp) else {
            return Err(ConsumerError::IllegalState(format!("{}-{} is not assigned to this consumer", tp.0, tp.1)));
        };
        ps.restart(pos);
        ps.epoch = epoch;
        drop(st);
        self.shared.fetch_wake.notify_one();
        Ok(())
    }

    /// The next `poll` reads `tp` from `offset`.
    pub fn seek(&self, tp: &TopicPartition, offset: i64) -> Result<(), ConsumerError> {
        self.check_open()?;
        if offset < 0 {
            return Err(ConsumerError::IllegalState(format!("seek offset must not be negative, got {offset}")));
        }
        self.set_pos(tp, Pos::At(offset))
    }

    /// Seeks to the log start (evaluated lazily on the next `poll` or `position`).
    pub fn seek_to_beginning(&self, partitions: &[TopicPartition]) -> Result<(), ConsumerError> {
        self.check_open()?;
        for tp in partitions {
            self.set_pos(tp, Pos::Reset(Some(-2)))?;
        }
        Ok(())
    }

    /// Seeks to the log end (evaluated lazily on the next `poll` or `position`).
    pub fn seek_to_end(&self, partitions: &[TopicPartition]) -> Result<(), ConsumerError> {
        self.check_open()?;
        for tp in partitions {
            self.set_pos(tp, Pos::Reset(Some(-1)))?;
        }
        Ok(())
    }

    /// Stops returning and fetching records of `partitions`; buffered records are kept.
    pub fn pause(&self, partitions: &[TopicPartition]) -> Result<(), ConsumerError> {
        self.set_paused(partitions, true)
    }

    pub fn resume(&self, partitions: &[TopicPartition]) -> Result<(), ConsumerError> {
        self.set_paused(partitions, false)
    }

    fn set_paused(&self, partitions: &[TopicPartition], paused: bool) -> Result<(), ConsumerError> {
        self.check_open()?;
        let mut st = self.shared.lock();
        for tp in partitions {
            let Some(ps) = st.parts.get_mut(tp) else {
                return Err(ConsumerError::IllegalState(format!("{}-{} is not assigned to this consumer", tp.0, tp.1)));
            };
            ps.paused = paused;
        }
        drop(st);
        self.shared.fetch_wake.notify_one();
        Ok(())
    }

    pub fn paused(&self) -> Vec<TopicPartition> {
        self.shared.lock().parts.iter().filter(|(_, p)| p.paused).map(|(tp, _)| tp.clone()).collect()
    }

    /// The log start offsets of `partitions`.
    pub fn beginning_offsets(&self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, i64>, ConsumerError> {
        self.lookup(partitions, -2)
    }

    /// The log end offsets (the last stable offset under read_committed) of `partitions`.
    pub fn end_offsets(&self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, i64>, ConsumerError> {
        self.lookup(partitions, -1)
    }

    fn lookup(&self, partitions: &[TopicPartition], ts: i64) -> Result<BTreeMap<TopicPartition, i64>, ConsumerError> {
        self.check_open()?;
        let targets: Vec<(TopicPartition, i64)> = partitions.iter().map(|tp| (tp.clone(), ts)).collect();
        let found = self.rt().block_on(fetcher::list_offsets(&self.shared, &targets))?;
        Ok(found.into_iter().map(|(tp, (o, _))| (tp, o)).collect())
    }

    /// For each partition, the earliest offset whose timestamp is at least the given one, with that timestamp
    /// (None when no such record exists).
    pub fn offsets_for_times(&self, query: &BTreeMap<TopicPartition, i64>) -> Result<BTreeMap<TopicPartition, Option<(i64, i64)>>, ConsumerError> {
        self.check_open()?;
        if let Some((tp, ts)) = query.iter().find(|(_, ts)| **ts < 0) {
            return Err(ConsumerError::IllegalState(format!("negative timestamp {ts} for {}-{}", tp.0, tp.1)));
        }
        let targets: Vec<(TopicPartition, i64)> = query.iter().map(|(tp, ts)| (tp.clone(), *ts)).collect();
        let found = self.rt().block_on(fetcher::list_offsets(&self.shared, &targets))?;
        Ok(query.keys().map(|tp| (tp.clone(), found.get(tp).filter(|(o, _)| *o >= 0).copied())).collect())
    }

    /// Commits (with auto-commit), revokes the partitions through the listener, leaves the group and stops the
    /// background tasks. Pending commit callbacks run before it returns.
    pub fn close(&self) -> Result<(), ConsumerError> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let owned: Vec<TopicPartition> = self.shared.lock().parts.keys().cloned().collect();
        let grouped = matches!(self.shared.lock().sub, SubMode::Topics(_));
        if self.auto_commit_enabled() && !owned.is_empty() {
            let offsets = self.consumed(None);
            if !offsets.is_empty() {
                if let Err(e) = self.commit_now(&offsets) {
                    tracing::warn!("commit on close failed: {e}");
                }
            }
        }
        // Wait briefly for commits still in flight so their callbacks run here.
        let deadline = Instant::now() + self.shared.cfg.request_timeout.min(Duration::from_secs(5));
        while !self.callbacks.lock().unwrap_or_else(|e| e.into_inner()).is_empty() && Instant::now() < deadline {
            self.run_commit_callbacks();
            let shared = self.shared.clone();
            self.rt().block_on(async move {
                let _ = tokio::time::timeout(Duration::from_millis(50), shared.poll_wake.notified()).await;
            });
        }
        self.run_commit_callbacks();
        if grouped && !owned.is_empty() {
            self.call_listener(|l, c| l.on_partitions_revoked(c, &owned));
        }
        self.closed.store(true, Ordering::Release);
        self.shared.closed.store(true, Ordering::Release);
        for h in self.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            h.abort();
        }
        {
            let mut st = self.shared.lock();
            st.events.clear();
            st.parts.clear();
            // The group task may have left a JoinGroup pending on the coordinator connection, which would hold
            // the LeaveGroup behind it: leave on a fresh connection.
            st.coordinator = None;
        }
        if grouped {
            if let Err(e) = self.rt().block_on(group::leave(&self.shared, "the consumer is closing")) {
                tracing::debug!("LeaveGroup on close failed: {e}");
            }
        }
        self.interceptors.close();
        Ok(())
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Acquire) {
            let _ = self.close();
        }
        self.shared.closed.store(true, Ordering::Release);
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(offset: i64) -> ConsumerRecord {
        ConsumerRecord {
            topic: "t".into(),
            partition: 0,
            offset,
            timestamp: 0,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: None,
            headers: Vec::new(),
        }
    }

    #[test]
    fn records_keep_their_leader_epoch_and_only_the_position_commits_with_one() {
        let mut ps = PartState::new();
        ps.pos = Pos::At(0);
        ps.push(vec![rec(0), rec(1), rec(2)], vec![2, 2, 3], 3);
        assert_eq!(ps.pop().map(|(r, e)| (r.offset, e)), Some((0, 2)));
        assert_eq!(ps.pop().map(|(r, e)| (r.offset, e)), Some((1, 2)));
        // What Consumer::drain does after handing out offset 1.
        ps.pos = Pos::At(2);
        ps.pos_epoch = Some(2);
        assert_eq!(ps.epoch_at(2), Some(2));
        assert_eq!(ps.epoch_at(1), None, "an offset other than the position commits without an epoch");
        ps.truncate_fetched(2);
        assert!(ps.buf.is_empty() && ps.buf_epochs.is_empty());
        assert_eq!(ps.epoch_at(2), Some(2), "truncating fetched records leaves the position alone");
        ps.restart(Pos::At(0));
        assert_eq!(ps.epoch_at(0), None, "a seek forgets the epoch");
    }
}
