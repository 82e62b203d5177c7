//! The consumer. Core's consumer is blocking and delivers records, rebalance events and commit results from
//! `poll` on the calling thread, so every blocking call runs, in order, on this consumer's own worker thread and
//! settles a promise. Rebalance callbacks are JS functions: the listener (inside `poll`, on the worker thread)
//! sends the event to JS through a threadsafe function and waits for `rebalanceDone(id)`; meanwhile it keeps
//! running the calls JS queues (commit, position, committed...), so a callback may await them. `poll`, `close`
//! and `unsubscribe` from inside a callback are refused (_STATE). Commit callbacks go out the same way, without
//! waiting. The threadsafe function is unreferenced: a consumer nobody polls does not keep the process alive.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::mem::ManuallyDrop;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ErrorStrategy, ThreadSafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsFunction, JsObject};
use napi_derive::napi;
use streamlet::client::consumer::{Consumer, ConsumerConfig, ConsumerError, ConsumerInterceptor, RebalanceListener, TopicPartition};
use streamlet::client::ClientError;

use crate::task::{self, Settle, ToJs};
use crate::{error, init_logging, pack};

#[napi(object)]
#[derive(Clone)]
pub struct JsTopicPartition {
    pub topic: String,
    pub partition: i32,
}

#[napi(object)]
#[derive(Clone)]
pub struct JsTopicPartitionOffset {
    pub topic: String,
    pub partition: i32,
    /// -1 where there is none (no committed offset, no record at that time).
    pub offset: f64,
    /// offsetsForTimes: the found record's timestamp.
    pub timestamp: Option<f64>,
}

/// What the consumer tells JS: `assign` / `revoke` / `lost` (JS answers `rebalanceDone(id)`), `commit` (the
/// outcome of a `commitAsync` with callback `id`), `committed` (offsets of any successful commit, for
/// interceptors' onCommit).
#[napi(object)]
pub struct ConsumerEvent {
    pub event: String,
    pub id: u32,
    pub partitions: Vec<JsTopicPartitionOffset>,
    pub error: Option<String>,
}

fn tp(p: &JsTopicPartition) -> TopicPartition {
    (p.topic.clone(), p.partition)
}

fn tps(ps: &[JsTopicPartition]) -> Vec<TopicPartition> {
    ps.iter().map(tp).collect()
}

fn tpo((topic, partition): &TopicPartition, offset: i64) -> JsTopicPartitionOffset {
    JsTopicPartitionOffset { topic: topic.clone(), partition: *partition, offset: offset as f64, timestamp: None }
}

fn offsets_in(ps: &[JsTopicPartitionOffset]) -> Result<BTreeMap<TopicPartition, i64>> {
    ps.iter()
        .map(|p| {
            if p.offset < 0.0 || p.offset.fract() != 0.0 {
                return Err(error::local(error::INVALID_ARG, format!("invalid offset {} for {}-{}", p.offset, p.topic, p.partition)));
            }
            Ok(((p.topic.clone(), p.partition), p.offset as i64))
        })
        .collect()
}

type Job = Box<dyn FnOnce(bool) + Send>;

enum Msg {
    /// Runs on the worker thread; the flag says whether it runs inside a rebalance callback.
    Job(Job),
    RebalanceDone(u32),
}

type Events = ThreadsafeFunction<ConsumerEvent, ErrorStrategy::Fatal>;

struct Worker {
    rx: Mutex<mpsc::Receiver<Msg>>,
}

impl Worker {
    fn next(&self) -> Option<Msg> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).recv().ok()
    }
}

struct JsListener {
    events: Events,
    worker: Arc<Worker>,
    next_id: AtomicU32,
}

impl JsListener {
    /// Hands the event to JS and runs queued calls until JS says it is done (or the consumer is dropped).
    fn deliver(&self, kind: &str, partitions: &[TopicPartition]) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let event = ConsumerEvent { event: kind.into(), id, partitions: partitions.iter().map(|p| tpo(p, -1)).collect(), error: None };
        if self.events.call(event, ThreadsafeFunctionCallMode::NonBlocking) != napi::Status::Ok {
            return;
        }
        while let Some(msg) = self.worker.next() {
            match msg {
                Msg::RebalanceDone(done) if done == id => return,
                Msg::RebalanceDone(_) => {}
                Msg::Job(job) => job(true),
            }
        }
    }
}

impl RebalanceListener for JsListener {
    fn on_partitions_revoked(&mut self, _c: &Consumer, partitions: &[TopicPartition]) {
        self.deliver("revoke", partitions);
    }
    fn on_partitions_assigned(&mut self, _c: &Consumer, partitions: &[TopicPartition]) {
        self.deliver("assign", partitions);
    }
    fn on_partitions_lost(&mut self, _c: &Consumer, partitions: &[TopicPartition]) {
        self.deliver("lost", partitions);
    }
}

/// Core's interceptor hook for onCommit: it sees every successful commit (sync, async and automatic), on
/// whichever thread core runs it; the offsets go to JS without waiting. onConsume runs in JS (`index.js`), on
/// the records a poll hands out, since those are already on the JS side.
struct CommitForwarder {
    events: Events,
}

impl ConsumerInterceptor for CommitForwarder {
    fn on_commit(&self, offsets: &BTreeMap<TopicPartition, i64>) {
        let event = ConsumerEvent { event: "committed".into(), id: 0, partitions: offsets.iter().map(|(tp, o)| tpo(tp, *o)).collect(), error: None };
        self.events.call(event, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

#[napi]
pub struct NativeConsumer {
    inner: ManuallyDrop<Arc<Consumer>>,
    tx: mpsc::Sender<Msg>,
    worker: Arc<Worker>,
    events: Events,
    listener_ids: Arc<AtomicU32>,
}

fn nested_refusal(what: &str) -> napi::Error {
    error::local(error::STATE, format!("{what} cannot be called from inside a rebalance callback"))
}

fn rebalance_listener(events: &Events, worker: &Arc<Worker>, ids: &Arc<AtomicU32>) -> Box<dyn RebalanceListener> {
    // Ids stay unique across listeners so that a late `rebalanceDone` never ends the wrong wait.
    let start = ids.fetch_add(1 << 20, Ordering::Relaxed);
    Box::new(JsListener { events: events.clone(), worker: worker.clone(), next_id: AtomicU32::new(start) })
}

impl NativeConsumer {
    /// Queues `work` on the worker thread; the promise settles with its outcome.
    fn job(
        &self,
        env: &Env,
        what: &'static str,
        allowed_nested: bool,
        work: impl FnOnce(&Consumer) -> Result<ToJs> + Send + 'static,
    ) -> Result<JsObject> {
        let (settle, promise) = Settle::new(env, what)?;
        let consumer = Arc::clone(&self.inner);
        let job: Job = Box::new(move |nested| {
            if nested && !allowed_nested {
                settle.settle(Err(nested_refusal(what)));
                return;
            }
            settle.run(|| work(&consumer));
        });
        // A send error drops the job, whose `Settle` then rejects the promise with _CLOSED.
        let _ = self.tx.send(Msg::Job(job));
        Ok(promise)
    }
}

fn cerr(e: ConsumerError) -> napi::Error {
    error::consumer(e)
}

#[napi]
impl NativeConsumer {
    #[napi(constructor, catch_unwind)]
    /// `forward_commits`: report every successful commit as a `committed` event (for onCommit interceptors).
    pub fn new(env: Env, config: HashMap<String, String>, on_event: JsFunction, forward_commits: bool) -> Result<Self> {
        init_logging();
        let pairs: Vec<(String, String)> = config.into_iter().collect();
        let cfg = ConsumerConfig::from_pairs(&pairs).map_err(|e| error::client(ClientError::Config(e)))?;
        let mut events: Events = on_event.create_threadsafe_function(0, |ctx: ThreadSafeCallContext<ConsumerEvent>| Ok(vec![ctx.value]))?;
        events.unref(&env)?;
        let mut builder = Consumer::builder(cfg);
        if forward_commits {
            builder = builder.interceptor(CommitForwarder { events: events.clone() });
        }
        let inner = Arc::new(builder.build().map_err(cerr)?);
        let (tx, rx) = mpsc::channel();
        let worker = Arc::new(Worker { rx: Mutex::new(rx) });
        let w = worker.clone();
        std::thread::Builder::new()
            .name("streamlet-node-consumer".into())
            .spawn(move || {
                while let Some(msg) = w.next() {
                    if let Msg::Job(job) = msg {
                        job(false);
                    }
                }
            })
            .map_err(|e| error::local(error::STATE, format!("cannot start the consumer's worker thread: {e}")))?;
        Ok(NativeConsumer { inner: ManuallyDrop::new(inner), tx, worker, events, listener_ids: Arc::new(AtomicU32::new(0)) })
    }

    /// Subscribes; with `listener`, rebalance events go to JS as `rebalance` events.
    #[napi(catch_unwind)]
    pub fn subscribe(&self, topics: Vec<String>, listener: bool) -> Result<()> {
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        let l = listener.then(|| rebalance_listener(&self.events, &self.worker, &self.listener_ids));
        self.inner.subscribe(&topics, l).map_err(cerr)
    }

    /// Subscribes to every topic whose whole name matches `pattern` (Java regex semantics as far as Rust's
    /// `regex` crate goes); topics created later join at the next metadata refresh.
    #[napi(catch_unwind)]
    pub fn subscribe_pattern(&self, pattern: String, listener: bool) -> Result<()> {
        let l = listener.then(|| rebalance_listener(&self.events, &self.worker, &self.listener_ids));
        self.inner.subscribe_pattern(&pattern, l).map_err(cerr)
    }

    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn unsubscribe(&self, env: Env) -> Result<JsObject> {
        self.job(&env, "Consumer.unsubscribe", false, |c| {
            c.unsubscribe().map_err(cerr)?;
            Ok(task::undefined())
        })
    }

    #[napi(catch_unwind)]
    pub fn assign(&self, partitions: Vec<JsTopicPartition>) -> Result<()> {
        self.inner.assign(&tps(&partitions)).map_err(cerr)
    }

    #[napi(catch_unwind)]
    pub fn assignment(&self) -> Vec<JsTopicPartition> {
        self.inner.assignment().into_iter().map(|(topic, partition)| JsTopicPartition { topic, partition }).collect()
    }

    #[napi(catch_unwind)]
    pub fn subscription(&self) -> Vec<String> {
        self.inner.subscription()
    }

    /// Resolves to packed records (see `pack`), possibly none.
    #[napi(catch_unwind, ts_return_type = "Promise<PackedRecords>")]
    pub fn poll(&self, env: Env, timeout_ms: f64) -> Result<JsObject> {
        let timeout = Duration::from_millis(timeout_ms.max(0.0) as u64);
        self.job(&env, "Consumer.poll", false, move |c| {
            let records = c.poll(timeout).map_err(cerr)?;
            let packed = pack::pack_consumer(&records);
            Ok(Box::new(move |env: Env| task::value(packed.into_js())(env)))
        })
    }

    #[napi(catch_unwind)]
    pub fn wakeup(&self) {
        self.inner.wakeup();
    }

    /// Commits `offsets` (next offsets to read), or the consumed positions when None.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn commit(&self, env: Env, offsets: Option<Vec<JsTopicPartitionOffset>>) -> Result<JsObject> {
        let offsets = offsets.map(|o| offsets_in(&o)).transpose()?;
        self.job(&env, "Consumer.commit", true, move |c| {
            c.commit_sync(offsets).map_err(cerr)?;
            Ok(task::undefined())
        })
    }

    /// Commits in the background; with `callback_id`, the outcome comes back as a `commit` event from a later
    /// poll (or close).
    #[napi(catch_unwind)]
    pub fn commit_async(&self, offsets: Option<Vec<JsTopicPartitionOffset>>, callback_id: Option<u32>) -> Result<()> {
        let offsets = offsets.map(|o| offsets_in(&o)).transpose()?;
        let callback = callback_id.map(|id| {
            let events = self.events.clone();
            let cb: streamlet::client::consumer::CommitCallback = Box::new(move |offsets, result| {
                let event = ConsumerEvent {
                    event: "commit".into(),
                    id,
                    partitions: offsets.iter().map(|(tp, o)| tpo(tp, *o)).collect(),
                    error: result.err().map(|e| error::consumer(e).reason),
                };
                events.call(event, ThreadsafeFunctionCallMode::NonBlocking);
            });
            cb
        });
        self.inner.commit_async(offsets, callback).map_err(cerr)
    }

    /// The committed offsets (-1 where the group has none).
    #[napi(catch_unwind, ts_return_type = "Promise<JsTopicPartitionOffset[]>")]
    pub fn committed(&self, env: Env, partitions: Vec<JsTopicPartition>) -> Result<JsObject> {
        let partitions = tps(&partitions);
        self.job(&env, "Consumer.committed", true, move |c| {
            let found = c.committed(&partitions).map_err(cerr)?;
            let out: Vec<JsTopicPartitionOffset> = found.iter().map(|(tp, o)| tpo(tp, o.unwrap_or(-1))).collect();
            Ok(task::value(out))
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn position(&self, env: Env, partition: JsTopicPartition) -> Result<JsObject> {
        let p = tp(&partition);
        self.job(&env, "Consumer.position", true, move |c| {
            let o = c.position(&p).map_err(cerr)?;
            Ok(task::value(o as f64))
        })
    }

    #[napi(catch_unwind)]
    pub fn seek(&self, partition: JsTopicPartition, offset: f64) -> Result<()> {
        if offset < 0.0 || offset.fract() != 0.0 {
            return Err(error::local(error::INVALID_ARG, format!("invalid seek offset {offset}")));
        }
        self.inner.seek(&tp(&partition), offset as i64).map_err(cerr)
    }

    #[napi(catch_unwind)]
    pub fn seek_to_beginning(&self, partitions: Vec<JsTopicPartition>) -> Result<()> {
        self.inner.seek_to_beginning(&tps(&partitions)).map_err(cerr)
    }

    #[napi(catch_unwind)]
    pub fn seek_to_end(&self, partitions: Vec<JsTopicPartition>) -> Result<()> {
        self.inner.seek_to_end(&tps(&partitions)).map_err(cerr)
    }

    #[napi(catch_unwind)]
    pub fn pause(&self, partitions: Vec<JsTopicPartition>) -> Result<()> {
        self.inner.pause(&tps(&partitions)).map_err(cerr)
    }

    #[napi(catch_unwind)]
    pub fn resume(&self, partitions: Vec<JsTopicPartition>) -> Result<()> {
        self.inner.resume(&tps(&partitions)).map_err(cerr)
    }

    #[napi(catch_unwind)]
    pub fn paused(&self) -> Vec<JsTopicPartition> {
        self.inner.paused().into_iter().map(|(topic, partition)| JsTopicPartition { topic, partition }).collect()
    }

    /// `which`: "beginning" or "end".
    #[napi(catch_unwind, ts_return_type = "Promise<JsTopicPartitionOffset[]>")]
    pub fn offsets(&self, env: Env, partitions: Vec<JsTopicPartition>, which: String) -> Result<JsObject> {
        let partitions = tps(&partitions);
        let end = match which.as_str() {
            "beginning" => false,
            "end" => true,
            other => return Err(error::local(error::INVALID_ARG, format!("unknown offsets kind {other:?}"))),
        };
        self.job(&env, "Consumer.offsets", true, move |c| {
            let found = if end { c.end_offsets(&partitions) } else { c.beginning_offsets(&partitions) }.map_err(cerr)?;
            Ok(task::value(found.iter().map(|(tp, o)| tpo(tp, *o)).collect::<Vec<_>>()))
        })
    }

    /// `query[].offset` holds the timestamp; the answer's offset is -1 where no record is that late.
    #[napi(catch_unwind, ts_return_type = "Promise<JsTopicPartitionOffset[]>")]
    pub fn offsets_for_times(&self, env: Env, query: Vec<JsTopicPartitionOffset>) -> Result<JsObject> {
        let query: BTreeMap<TopicPartition, i64> = query.iter().map(|q| ((q.topic.clone(), q.partition), q.offset as i64)).collect();
        self.job(&env, "Consumer.offsetsForTimes", true, move |c| {
            let found = c.offsets_for_times(&query).map_err(cerr)?;
            let out: Vec<JsTopicPartitionOffset> = found
                .iter()
                .map(|(tp, f)| match f {
                    Some((o, ts)) => JsTopicPartitionOffset { timestamp: Some(*ts as f64), ..tpo(tp, *o) },
                    None => tpo(tp, -1),
                })
                .collect();
            Ok(task::value(out))
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<number[]>")]
    pub fn partitions_for(&self, env: Env, topic: String) -> Result<JsObject> {
        self.job(&env, "Consumer.partitionsFor", true, move |c| {
            let ps = c.partitions_for(&topic).map_err(cerr)?;
            Ok(task::value(ps))
        })
    }

    /// `{ groupId, generation, memberId, groupInstanceId }`, or null without a group.id.
    #[napi(catch_unwind)]
    pub fn group_metadata(&self, env: Env) -> Result<Option<JsObject>> {
        let Some(g) = self.inner.group_metadata() else { return Ok(None) };
        let mut o = env.create_object()?;
        o.set("groupId", g.group_id)?;
        o.set("generation", g.generation)?;
        o.set("memberId", g.member_id)?;
        o.set("groupInstanceId", g.group_instance_id)?;
        Ok(Some(o))
    }

    /// Ends a rebalance callback (JS calls it once the user's handler settled).
    #[napi(catch_unwind)]
    pub fn rebalance_done(&self, id: u32) {
        let _ = self.tx.send(Msg::RebalanceDone(id));
    }

    /// Commits (with auto-commit), revokes through the listener, leaves the group.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close(&self, env: Env) -> Result<JsObject> {
        self.job(&env, "Consumer.close", false, |c| {
            c.close().map_err(cerr)?;
            Ok(task::undefined())
        })
    }
}

impl Drop for NativeConsumer {
    /// Collected (or torn down at exit) without `close`: the worker thread closes it in the background, so
    /// nothing here waits on the network.
    fn drop(&mut self) {
        // SAFETY: `inner` is not used after this.
        let inner = unsafe { ManuallyDrop::take(&mut self.inner) };
        let _ = std::thread::Builder::new().name("streamlet-node-drop".into()).spawn(move || drop(inner));
    }
}
