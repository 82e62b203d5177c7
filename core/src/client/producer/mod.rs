//! The producer, after Kafka's `KafkaProducer`: records are partitioned and appended to per-partition batches on
//! the caller's thread; a sender task on the producer's own small tokio runtime (one worker thread) drains ready
//! batches to partition leaders, retries, and completes each record's `DeliveryFuture`.
//!
//! Threading (see DESIGN.md, "Threading model of callbacks"): interceptors' `on_send` and the partitioner run in
//! `send` on the caller's thread; delivery callbacks and interceptors' `on_acknowledgement` are queued and run
//! only by `poll`/`flush` on the thread that calls them. Futures complete on their own, without `poll`. With
//! interceptors, a report is queued for every record (not only those with a callback): an owner that installs
//! interceptors must call `poll` (or `flush`) regularly, as with librdkafka.
//!
//! Ordering and idempotence:
//! - Up to `max.in.flight.requests.per.connection` requests are in flight per broker, each with at most one
//!   batch per partition, so a partition can have that many batches in flight. Requests go on the wire in the
//!   order they were drained and their outcomes are handled in that order (`requests`), so callbacks of a
//!   partition run in send order. A retried batch goes back before the partition's later batches and is resent
//!   alone, once the partition has nothing in flight. Without idempotence a later batch already in flight may
//!   still land before a retried one, as in Kafka; `max.in.flight.requests.per.connection=1` rules that out.
//! - With idempotence, sequences are assigned when a batch is first drained and kept on retry.
//!   DUPLICATE_SEQUENCE_NUMBER is a success. OUT_OF_ORDER_SEQUENCE_NUMBER while an earlier batch of the partition
//!   is in flight or queued for a retry is expected (the broker takes this one once that one is in): the batch
//!   is retried with its sequence. A batch the broker refuses outright gives its sequence back when it was the
//!   partition's only sequenced batch.
//! - Otherwise (a sequence gap nothing will fill, UNKNOWN_PRODUCER_ID, a refused batch with later batches
//!   already sequenced, or a batch whose outcome is unknown when it fails for good: expired by
//!   `delivery.timeout.ms` or out of retries after a timeout or connection error) the producer bumps its epoch
//!   (KIP-360, idempotent non-transactional producer): draining stops, and once no request is in flight it calls
//!   InitProducerId with its current id and epoch; then the sequences of every partition restart at 0 and queued
//!   batches are re-sequenced under the new epoch, in their original order.
//!
//! Leader changes: a batch that fails with NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
//! LEADER_NOT_AVAILABLE or a broken connection (the leader was killed) asks for a metadata refresh and goes back
//! into its partition's queue with its sequence; the next drain sends it to whichever broker the metadata then
//! names, which only ever moves forward in leader epoch (`client::cluster`). A new leader knows the producer's
//! sequences (Kafka replicates producer state with the log), so a batch the old leader had already written
//! comes back as DUPLICATE_SEQUENCE_NUMBER (a success) and the rest follow in order: nothing is lost, written
//! twice or reordered as long as the batch is delivered within `delivery.timeout.ms`
//! (`core/tests/client_failover.rs` checks it on a 3-node Kafka cluster).

mod accumulator;
mod config;
mod delivery;
mod interceptor;
mod partition;
mod requests;
mod sender;

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

pub use config::ProducerConfig;
pub use delivery::{Callback, DeliveryFuture, DeliveryResult};
pub use interceptor::ProducerInterceptor;
pub use partition::{DefaultChooser, PartitionChooser, RoundRobinChooser};

use accumulator::{Accumulator, Appended};
use delivery::Host;
use interceptor::InterceptorChain;

use super::cluster::{Cluster, ClusterConfig};
use super::ClientError;
use crate::protocol::ErrorCode;
use crate::record::HEADER_SIZE;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProducerRecord {
    pub topic: String,
    pub partition: Option<i32>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Milliseconds since the epoch; None: the time of `send`.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    pub fn new(topic: impl Into<String>) -> Self {
        ProducerRecord { topic: topic.into(), ..Default::default() }
    }
    pub fn partition(mut self, p: i32) -> Self {
        self.partition = Some(p);
        self
    }
    pub fn key(mut self, k: impl Into<Bytes>) -> Self {
        self.key = Some(k.into());
        self
    }
    pub fn value(mut self, v: impl Into<Bytes>) -> Self {
        self.value = Some(v.into());
        self
    }
    pub fn header(mut self, k: impl Into<String>, v: Option<Bytes>) -> Self {
        self.headers.push((k.into(), v));
        self
    }
    pub fn timestamp(mut self, ts: i64) -> Self {
        self.timestamp = Some(ts);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    pub topic: String,
    pub partition: i32,
    /// -1 with acks=0 (as in Kafka) and for a duplicate the broker does not give an offset for.
    pub offset: i64,
    /// The broker's LogAppendTime when the topic uses it, otherwise the record's timestamp.
    pub timestamp: i64,
}

/// State shared by the producer handle (caller threads) and the sender task.
pub(crate) struct Shared {
    pub config: ProducerConfig,
    pub cluster: Arc<Cluster>,
    pub acc: Mutex<Accumulator>,
    /// Signalled when `buffer.memory` is released (paired with `acc`).
    pub memory_cv: Condvar,
    pub wake: tokio::sync::Notify,
    pub host: Arc<Host>,
    /// Topics the sender keeps metadata for.
    pub topics: Mutex<HashSet<String>>,
    pub need_metadata: AtomicBool,
    /// Bumped after every metadata refresh attempt (paired with `metadata_cv`).
    pub metadata_version: Mutex<u64>,
    pub metadata_cv: Condvar,
}

impl Shared {
    pub fn lock_acc(&self) -> std::sync::MutexGuard<'_, Accumulator> {
        self.acc.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn release_memory(&self, acc: &mut Accumulator, bytes: usize) {
        acc.used = acc.used.saturating_sub(bytes);
        if acc.memory_waiters > 0 {
            self.memory_cv.notify_all();
        }
    }
}

/// A record `Producer::try_send` could not send without blocking; finish it with `Producer::send_blocked`.
/// Interceptors have seen it already (they are not run again), and its partition is kept once chosen.
pub struct Blocked {
    record: ProducerRecord,
    callback: Option<Callback>,
    partition: Option<i32>,
}

/// Why `choose_partition` gave no partition.
enum NotChosen {
    Failed(ClientError),
    /// Only when blocking is not allowed: the topic's metadata is not there yet.
    WouldBlock,
}

impl From<ClientError> for NotChosen {
    fn from(e: ClientError) -> Self {
        NotChosen::Failed(e)
    }
}

/// Builds a producer with interceptors and a partitioner.
pub struct ProducerBuilder {
    config: ProducerConfig,
    interceptors: InterceptorChain,
    chooser: Option<Box<dyn PartitionChooser>>,
}

impl ProducerBuilder {
    /// Appends to the interceptor chain (run in the order added).
    pub fn interceptor(mut self, i: impl ProducerInterceptor + 'static) -> Self {
        self.interceptors.push(Box::new(i));
        self
    }

    /// Replaces the default partition chooser for records without an explicit partition.
    pub fn partitioner(mut self, p: impl PartitionChooser + 'static) -> Self {
        self.chooser = Some(Box::new(p));
        self
    }

    pub fn build(self) -> Result<Producer, ClientError> {
        let config = self.config;
        let (round_robin, batch_size) = (config.round_robin_partitioner, config.batch_size);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("streamlet-producer")
            .enable_all()
            .build()
            .map_err(|e| ClientError::Connection { addr: String::new(), reason: format!("cannot start the producer runtime: {e}") })?;
        let cluster = Cluster::new(ClusterConfig {
            bootstrap: config.bootstrap_servers.clone(),
            client_id: config.client_id.clone(),
            request_timeout: config.request_timeout,
            connect_timeout: config.request_timeout.min(Duration::from_secs(10)),
        });
        let host = Host::new(!self.interceptors.is_empty());
        let shared = Arc::new(Shared {
            cluster,
            acc: Mutex::new(Accumulator::new(host.clone())),
            memory_cv: Condvar::new(),
            wake: tokio::sync::Notify::new(),
            host,
            topics: Mutex::new(HashSet::new()),
            need_metadata: AtomicBool::new(false),
            metadata_version: Mutex::new(0),
            metadata_cv: Condvar::new(),
            config,
        });
        let sender = runtime.spawn(sender::run(shared.clone()));
        Ok(Producer {
            shared,
            runtime: Mutex::new(Some(runtime)),
            sender: Mutex::new(Some(sender)),
            interceptors: self.interceptors,
            chooser: self.chooser.unwrap_or_else(|| -> Box<dyn PartitionChooser> {
                if round_robin {
                    Box::new(RoundRobinChooser::default())
                } else {
                    Box::new(DefaultChooser::new(batch_size))
                }
            }),
            closed: AtomicBool::new(false),
        })
    }
}

pub struct Producer {
    shared: Arc<Shared>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    sender: Mutex<Option<tokio::task::JoinHandle<()>>>,
    interceptors: InterceptorChain,
    chooser: Box<dyn PartitionChooser>,
    closed: AtomicBool,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Upper bound of a record's encoded size inside a batch (varint overheads at their largest).
fn record_size(r: &ProducerRecord) -> usize {
    let len = |b: &Option<Bytes>| b.as_ref().map_or(0, |b| b.len());
    21 + len(&r.key) + len(&r.value) + r.headers.iter().map(|(k, v)| 10 + k.len() + len(v)).sum::<usize>()
}

impl Producer {
    pub fn new(config: ProducerConfig) -> Result<Producer, ClientError> {
        Self::builder(config).build()
    }

    pub fn builder(config: ProducerConfig) -> ProducerBuilder {
        ProducerBuilder { config, interceptors: InterceptorChain::default(), chooser: None }
    }

    pub fn config(&self) -> &ProducerConfig {
        &self.shared.config
    }

    /// Sends asynchronously. Blocks the calling thread only while waiting for the topic's metadata or for
    /// `buffer.memory` (both bounded by `max.block.ms`). Every failure, including those detected here, is reported
    /// through the returned future (and the callback / `on_acknowledgement`), as Kafka's `send` does.
    pub fn send(&self, record: ProducerRecord) -> DeliveryFuture {
        self.send_blocking(record, None)
    }

    /// Like `send`; `callback` runs later inside `poll` or `flush`, on the thread calling them.
    pub fn send_with_callback(&self, record: ProducerRecord, callback: impl FnOnce(DeliveryResult) + Send + 'static) -> DeliveryFuture {
        self.send_blocking(record, Some(Box::new(callback)))
    }

    /// Like `send` (with an optional callback), but never blocks: a record that would have to wait for its
    /// topic's metadata or for `buffer.memory` comes back as [`Blocked`], to be finished with `send_blocked`,
    /// for example once the caller has released a lock it must not block under (the Python binding's GIL).
    pub fn try_send(&self, record: ProducerRecord, callback: Option<Callback>) -> Result<DeliveryFuture, Blocked> {
        self.send_inner(Blocked { record: self.intercept(record), callback, partition: None }, false)
    }

    /// Finishes a send that `try_send` handed back, blocking as `send` does.
    pub fn send_blocked(&self, blocked: Blocked) -> DeliveryFuture {
        match self.send_inner(blocked, true) {
            Ok(fut) => fut,
            Err(_) => unreachable!("a send that may block is never handed back"),
        }
    }

    fn send_blocking(&self, record: ProducerRecord, callback: Option<Callback>) -> DeliveryFuture {
        self.send_blocked(Blocked { record: self.intercept(record), callback, partition: None })
    }

    fn intercept(&self, record: ProducerRecord) -> ProducerRecord {
        if self.interceptors.is_empty() {
            record
        } else {
            self.interceptors.on_send(record)
        }
    }

    /// `send.record` has been through the interceptors.
    fn send_inner(&self, send: Blocked, may_block: bool) -> Result<DeliveryFuture, Blocked> {
        let cfg = &self.shared.config;
        let host = &self.shared.host;
        let Blocked { mut record, callback, partition: chosen } = send;
        if self.closed.load(Ordering::Acquire) {
            return Ok(host.fail_now(ClientError::Closed, callback));
        }
        let size = record_size(&record);
        let serialized = size + HEADER_SIZE;
        if serialized > cfg.max_request_size || serialized > cfg.buffer_memory {
            let (limit, key) = if serialized > cfg.max_request_size { (cfg.max_request_size, "max.request.size") } else { (cfg.buffer_memory, "buffer.memory") };
            let e = ClientError::Kafka {
                code: ErrorCode::MessageTooLarge,
                message: Some(format!("the record is {serialized} bytes when serialized, which is larger than {limit}, the value of {key}")),
            };
            return Ok(host.fail_now(e, callback));
        }
        // Kept in the record in case it is handed back: the send time stays the first attempt's.
        let timestamp = *record.timestamp.get_or_insert_with(now_ms);
        // max.block.ms bounds all the blocking below together; the clock is read only once blocking starts.
        let mut deadline = None;
        let partition = match chosen.map_or_else(|| self.choose_partition(&record, &mut deadline, may_block), Ok) {
            Ok(p) => p,
            Err(NotChosen::Failed(e)) => return Ok(host.fail_now(e, callback)),
            Err(NotChosen::WouldBlock) => return Err(Blocked { record, callback, partition: None }),
        };

        let mut acc = self.shared.lock_acc();
        if acc.used + size > cfg.buffer_memory {
            if !may_block {
                drop(acc);
                return Err(Blocked { record, callback, partition: Some(partition) });
            }
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + cfg.max_block);
            acc.memory_waiters += 1;
            self.shared.wake.notify_one();
            while acc.used + size > cfg.buffer_memory && !acc.closing {
                let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else { break };
                acc = self.shared.memory_cv.wait_timeout(acc, left).unwrap_or_else(|e| e.into_inner()).0;
            }
            acc.memory_waiters -= 1;
            if acc.closing {
                drop(acc);
                return Ok(host.fail_now(ClientError::Closed, callback));
            }
            if acc.used + size > cfg.buffer_memory {
                drop(acc);
                tracing::debug!(topic = %record.topic, "buffer.memory exhausted for max.block.ms");
                return Ok(host.fail_now(ClientError::Timeout(cfg.max_block.as_millis() as u64), callback));
            }
        }
        let rec = Appended { key: record.key.as_deref(), value: record.value.as_deref(), headers: &record.headers, timestamp, size, callback };
        let (fut, wake) = acc.append(&record.topic, partition, rec, cfg.batch_size, cfg.compression);
        drop(acc);
        // Like Java's producer, the sender is woken for a new or a full batch only: it already knows when the
        // open batches' linger.ms runs out, and a wake-up per record costs a context switch.
        if wake {
            self.shared.wake.notify_one();
        }
        Ok(fut)
    }

    /// Explicit partitions are taken as given (an unknown topic then fails in the sender after
    /// `delivery.timeout.ms`); otherwise waits for the topic's metadata up to `max.block.ms`.
    fn choose_partition(&self, record: &ProducerRecord, deadline: &mut Option<Instant>, may_block: bool) -> Result<i32, NotChosen> {
        let topic = &record.topic;
        if topic.is_empty() {
            return Err(NotChosen::Failed(ClientError::Kafka { code: ErrorCode::InvalidTopicException, message: Some("the topic name is empty".into()) }));
        }
        let mut md = self.shared.cluster.metadata();
        // Metadata is only ever fetched for this producer's topics: a topic in it is known already.
        if !md.topics.contains_key(topic) && self.shared.topics.lock().unwrap_or_else(|e| e.into_inner()).insert(topic.clone()) {
            self.shared.need_metadata.store(true, Ordering::Release);
            self.shared.wake.notify_one();
        }
        if let Some(p) = record.partition {
            if let Some(n) = md.partition_count(topic) {
                if p < 0 || p >= n {
                    return Err(ClientError::Kafka {
                        code: ErrorCode::UnknownTopicOrPartition,
                        message: Some(format!("partition {p} of topic {topic} does not exist (the topic has {n})")),
                    }
                    .into());
                }
            } else if p < 0 {
                return Err(ClientError::Kafka { code: ErrorCode::UnknownTopicOrPartition, message: Some(format!("invalid partition {p}")) }.into());
            }
            return Ok(p);
        }
        loop {
            if let Some(t) = md.topics.get(topic).filter(|t| t.error == 0 && !t.partitions.is_empty()) {
                let available = &t.available;
                let n = t.partitions.len() as i32;
                let key = record.key.as_deref();
                let value = record.value.as_deref();
                let p = catch_unwind(AssertUnwindSafe(|| self.chooser.partition(topic, key, value, n, available)))
                    .map_err(|_| ClientError::Kafka { code: ErrorCode::Unknown(-1), message: Some("the partitioner panicked".into()) })?;
                if !(0..n).contains(&p) {
                    return Err(ClientError::Kafka { code: ErrorCode::UnknownTopicOrPartition, message: Some(format!("the partitioner chose {p} of {n} partitions")) }.into());
                }
                return Ok(p);
            }
            let version = *self.shared.metadata_version.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.need_metadata.store(true, Ordering::Release);
            self.shared.wake.notify_one();
            if !may_block {
                return Err(NotChosen::WouldBlock);
            }
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + self.shared.config.max_block);
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
                return Err(ClientError::Timeout(self.shared.config.max_block.as_millis() as u64).into());
            };
            let guard = self.shared.metadata_version.lock().unwrap_or_else(|e| e.into_inner());
            if *guard == version {
                let _ = self.shared.metadata_cv.wait_timeout(guard, left.min(Duration::from_millis(200)));
            }
            md = self.shared.cluster.metadata();
        }
    }

    /// Runs queued delivery callbacks (and interceptors' `on_acknowledgement`) on this thread, waiting up to
    /// `timeout` for the first one. Returns how many records were served.
    pub fn poll(&self, timeout: Duration) -> usize {
        let host = &self.shared.host;
        let reports: Vec<_> = {
            let mut s = host.lock();
            if s.reports.is_empty() && !timeout.is_zero() {
                let deadline = Instant::now() + timeout;
                while s.reports.is_empty() {
                    let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else { break };
                    s.blocked += 1;
                    s = host.cv.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner()).0;
                    s.blocked -= 1;
                }
            }
            s.reports.drain(..).collect()
        };
        reports.into_iter().map(|r| self.serve(r)).sum()
    }

    /// Runs a report's interceptors and callbacks; returns how many records it held.
    fn serve(&self, r: delivery::Report) -> usize {
        let n = r.len();
        for (result, callback) in r.into_records() {
            self.interceptors.on_acknowledgement(&result);
            if let Some(cb) = callback {
                if catch_unwind(AssertUnwindSafe(move || cb(result))).is_err() {
                    tracing::warn!("a delivery callback panicked");
                }
            }
        }
        n
    }

    /// Sends everything accumulated now (ignoring `linger.ms`) and waits until every record sent before this call
    /// is done, serving callbacks meanwhile on this thread. Err(Timeout) when `timeout` passes first.
    pub fn flush(&self, timeout: Duration) -> Result<(), ClientError> {
        let upto = {
            let mut acc = self.shared.lock_acc();
            acc.flushing += 1;
            acc.next_batch_id
        };
        self.shared.wake.notify_one();
        let r = self.await_done(upto, Instant::now() + timeout);
        self.shared.lock_acc().flushing -= 1;
        r.map_err(|_| ClientError::Timeout(timeout.as_millis() as u64))
    }

    fn await_done(&self, upto: u64, deadline: Instant) -> Result<(), ()> {
        let host = &self.shared.host;
        loop {
            let reports: Vec<_> = {
                let mut s = host.lock();
                loop {
                    if !s.reports.is_empty() {
                        break s.reports.drain(..).collect();
                    }
                    if s.incomplete.range(..upto).next().is_none() {
                        return Ok(());
                    }
                    let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else { return Err(()) };
                    s.blocked += 1;
                    s = host.cv.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner()).0;
                    s.blocked -= 1;
                }
            };
            for r in reports {
                self.serve(r);
            }
        }
    }

    /// Refuses new records, sends what is accumulated and waits up to `timeout` for it; what is still pending
    /// then fails with `ClientError::Closed`. Runs remaining callbacks, closes interceptors and stops the runtime.
    /// Later calls return at once.
    pub fn close(&self, timeout: Duration) -> Result<(), ClientError> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        {
            let mut acc = self.shared.lock_acc();
            acc.closing = true;
            self.shared.memory_cv.notify_all();
        }
        self.shared.wake.notify_one();
        let result = self.await_done(u64::MAX, deadline).map_err(|_| ClientError::Timeout(timeout.as_millis() as u64));
        // Whatever is left fails with Closed: queued batches here, in-flight ones when the runtime drops them.
        let leftovers: Vec<_> = self.shared.lock_acc().topics.drain().collect();
        drop(leftovers);
        if let Some(s) = self.sender.lock().unwrap_or_else(|e| e.into_inner()).take() {
            s.abort();
        }
        if let Some(rt) = self.runtime.lock().unwrap_or_else(|e| e.into_inner()).take() {
            rt.shutdown_background();
        }
        let _ = self.await_done(u64::MAX, Instant::now() + Duration::from_millis(100));
        self.interceptors.close();
        result
    }
}

impl Drop for Producer {
    /// Dropping without `close` does not wait: pending records fail with `ClientError::Closed`.
    fn drop(&mut self) {
        let _ = self.close(Duration::ZERO);
    }
}
