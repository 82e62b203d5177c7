//! The producer. Core's `send` may block (metadata, `buffer.memory`) and runs the partitioner on the calling
//! thread, so records go from the JS thread through a channel to this producer's sender thread, which calls
//! `send_with_callback` in order. Core serves delivery callbacks from `poll`/`flush`; a delivery thread polls and
//! hands every batch of reports to JS through one threadsafe function (`onDelivery(ok, failedIds, failedErrors)`).
//! That function is unreferenced while nothing is outstanding (`index.js` calls `setActive`), so an idle
//! producer never keeps the process alive.

use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ErrorStrategy, ThreadSafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsFunction, JsUnknown, NapiValue};
use napi_derive::napi;
use streamlet::client::producer::{DeliveryResult, PartitionChooser, Producer, ProducerConfig, ProducerRecord};
use streamlet::client::ClientError;

use crate::task::{self, Blocking};
use crate::{error, init_logging, pack};

type Reports = Vec<(f64, DeliveryResult)>;

enum Outgoing {
    Records(f64, Vec<ProducerRecord>),
    /// Answered once every record queued before it was handed to core.
    Marker(mpsc::Sender<()>),
}

struct Delivery {
    /// Held while core serves callbacks (poll, flush, close) and the reports go to JS: two threads serving at
    /// once would each take a run of reports and could push them out of order.
    serving: Mutex<()>,
    reports: Mutex<Reports>,
    tsfn: ThreadsafeFunction<Reports, ErrorStrategy::Fatal>,
    stop: AtomicBool,
}

impl Delivery {
    /// Sends the reports collected so far to JS (called after core served callbacks on this thread).
    /// The lock is held across the (non-blocking) call so that batches taken by two threads (the delivery
    /// thread and a flush) reach JS in the order they were taken: reports stay in delivery order.
    fn emit(&self) {
        let mut reports = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        if !reports.is_empty() {
            self.tsfn.call(std::mem::take(&mut *reports), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

fn reports_to_js(ctx: ThreadSafeCallContext<Reports>) -> Result<Vec<JsUnknown>> {
    let mut ok = Vec::with_capacity(ctx.value.len() * 4);
    let mut failed_ids = Vec::new();
    let mut failed = Vec::new();
    for (id, r) in ctx.value {
        match r {
            Ok(md) => ok.extend_from_slice(&[id, md.partition as f64, md.offset as f64, md.timestamp as f64]),
            Err(e) => {
                failed_ids.push(id);
                failed.push(error::describe_client(&e).into_napi().reason);
            }
        }
    }
    let raw = ctx.env.raw();
    unsafe {
        Ok(vec![
            JsUnknown::from_raw(raw, Float64Array::to_napi_value(raw, Float64Array::new(ok))?)?,
            JsUnknown::from_raw(raw, Float64Array::to_napi_value(raw, Float64Array::new(failed_ids))?)?,
            JsUnknown::from_raw(raw, Vec::<String>::to_napi_value(raw, failed)?)?,
        ])
    }
}

/// A partitioner written in JS: called on the JS thread while the sender thread waits for its answer.
/// `index.js` wraps the user's function so that it never throws and returns -1 on failure (core then fails
/// the record with UNKNOWN_TOPIC_OR_PARTITION).
struct JsChooser {
    tsfn: ThreadsafeFunction<(String, Option<Bytes>, i32), ErrorStrategy::Fatal>,
    wait: Duration,
}

impl PartitionChooser for JsChooser {
    fn partition(&self, topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>, partition_count: i32, _available: &[i32]) -> i32 {
        let (tx, rx) = mpsc::channel();
        let args = (topic.to_string(), key.map(Bytes::copy_from_slice), partition_count);
        let status = self.tsfn.call_with_return_value(args, ThreadsafeFunctionCallMode::Blocking, move |v: JsUnknown| {
            let n = v.coerce_to_number().and_then(|n| n.get_double()).unwrap_or(-1.0);
            let _ = tx.send(n);
            Ok(())
        });
        if status != napi::Status::Ok {
            return -1;
        }
        match rx.recv_timeout(self.wait) {
            Ok(n) if n.fract() == 0.0 && n >= 0.0 && n < partition_count as f64 => n as i32,
            _ => -1,
        }
    }
}

#[napi]
pub struct NativeProducer {
    inner: ManuallyDrop<Arc<Producer>>,
    tx: Mutex<Option<mpsc::Sender<Outgoing>>>,
    sender: Arc<Mutex<Option<JoinHandle<()>>>>,
    delivery: Arc<Delivery>,
}

fn sender_loop(producer: Arc<Producer>, delivery: Arc<Delivery>, rx: mpsc::Receiver<Outgoing>) {
    while let Ok(msg) = rx.recv() {
        match msg {
            Outgoing::Records(first, records) => {
                for (i, r) in records.into_iter().enumerate() {
                    let (id, d) = (first + i as f64, delivery.clone());
                    let send = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        producer.send_with_callback(r, move |res| d.reports.lock().unwrap_or_else(|e| e.into_inner()).push((id, res)));
                    }));
                    if send.is_err() {
                        delivery.reports.lock().unwrap_or_else(|e| e.into_inner()).push((id, Err(ClientError::Closed)));
                        delivery.emit();
                    }
                }
            }
            Outgoing::Marker(done) => {
                let _ = done.send(());
            }
        }
    }
}

fn delivery_loop(producer: Arc<Producer>, delivery: Arc<Delivery>) {
    while !delivery.stop.load(Ordering::Acquire) {
        let _serving = delivery.serving.lock().unwrap_or_else(|e| e.into_inner());
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| producer.poll(Duration::from_millis(100))));
        delivery.emit();
    }
}

#[napi]
impl NativeProducer {
    #[napi(constructor, catch_unwind)]
    pub fn new(env: Env, config: HashMap<String, String>, on_delivery: JsFunction, partitioner: Option<JsFunction>) -> Result<Self> {
        init_logging();
        let cfg = ProducerConfig::from_pairs(config.iter()).map_err(|e| error::client(ClientError::Config(e)))?;
        let wait = cfg.max_block;
        let mut builder = Producer::builder(cfg);
        if let Some(f) = partitioner {
            let mut tsfn = f.create_threadsafe_function(0, |ctx: ThreadSafeCallContext<(String, Option<Bytes>, i32)>| {
                let (topic, key, n) = ctx.value;
                let env = ctx.env;
                let key = match key {
                    Some(k) => env.create_buffer_with_data(k.to_vec())?.into_raw().into_unknown(),
                    None => env.get_null()?.into_unknown(),
                };
                Ok(vec![env.create_string(&topic)?.into_unknown(), key, env.create_int32(n)?.into_unknown()])
            })?;
            tsfn.unref(&env)?;
            builder = builder.partitioner(JsChooser { tsfn, wait });
        }
        let producer = Arc::new(builder.build().map_err(error::client)?);
        let mut tsfn = on_delivery.create_threadsafe_function(0, reports_to_js)?;
        tsfn.unref(&env)?;
        let delivery = Arc::new(Delivery { serving: Mutex::new(()), reports: Mutex::new(Vec::new()), tsfn, stop: AtomicBool::new(false) });
        let (tx, rx) = mpsc::channel();
        let (p, d) = (producer.clone(), delivery.clone());
        let sender = std::thread::Builder::new()
            .name("streamlet-node-send".into())
            .spawn(move || sender_loop(p, d, rx))
            .map_err(|e| error::local(error::STATE, format!("cannot start the producer's sender thread: {e}")))?;
        let (p, d) = (producer.clone(), delivery.clone());
        std::thread::Builder::new()
            .name("streamlet-node-delivery".into())
            .spawn(move || delivery_loop(p, d))
            .map_err(|e| error::local(error::STATE, format!("cannot start the producer's delivery thread: {e}")))?;
        Ok(NativeProducer { inner: ManuallyDrop::new(producer), tx: Mutex::new(Some(tx)), sender: Arc::new(Mutex::new(Some(sender))), delivery })
    }

    /// Queues packed records (see `pack`) with ids `first_id..`; never blocks.
    #[napi(catch_unwind)]
    pub fn send(&self, first_id: f64, data: Buffer, meta: Float64Array, strings: Vec<String>) -> Result<()> {
        let records = pack::unpack_producer(&data, &meta, &strings)?;
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let tx = tx.as_ref().ok_or_else(|| error::local(error::CLOSED, "the producer is closed"))?;
        tx.send(Outgoing::Records(first_id, records)).map_err(|_| error::local(error::CLOSED, "the producer is closed"))
    }

    /// Keeps the process alive (true) while records are outstanding; false lets it exit.
    #[napi(catch_unwind)]
    pub fn set_active(&self, env: Env, active: bool) -> Result<()> {
        let mut tsfn = self.delivery.tsfn.clone();
        if active {
            tsfn.refer(&env)
        } else {
            tsfn.unref(&env)
        }
    }

    /// Sends everything queued so far and waits up to `timeout_ms` for its delivery reports.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn flush(&self, timeout_ms: f64) -> Result<AsyncTask<Blocking>> {
        let (done_tx, done_rx) = mpsc::channel();
        {
            let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
            let tx = tx.as_ref().ok_or_else(|| error::local(error::CLOSED, "the producer is closed"))?;
            tx.send(Outgoing::Marker(done_tx)).map_err(|_| error::local(error::CLOSED, "the producer is closed"))?;
        }
        let (producer, delivery) = (Arc::clone(&self.inner), self.delivery.clone());
        Ok(task::blocking("Producer.flush", move || {
            let _ = done_rx.recv();
            let _serving = delivery.serving.lock().unwrap_or_else(|e| e.into_inner());
            let r = producer.flush(Duration::from_millis(timeout_ms.max(0.0) as u64));
            delivery.emit();
            r.map_err(error::client)?;
            Ok(task::undefined())
        }))
    }

    /// Stops taking records, delivers what is queued (waiting up to `timeout_ms`), fails the rest with _CLOSED.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close(&self, timeout_ms: f64) -> AsyncTask<Blocking> {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let (producer, delivery, sender) = (Arc::clone(&self.inner), self.delivery.clone(), self.sender.clone());
        task::blocking("Producer.close", move || {
            drop(tx);
            if let Some(h) = sender.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = h.join();
            }
            let _serving = delivery.serving.lock().unwrap_or_else(|e| e.into_inner());
            let r = producer.close(Duration::from_millis(timeout_ms.max(0.0) as u64));
            delivery.stop.store(true, Ordering::Release);
            delivery.emit();
            r.map_err(error::client)?;
            Ok(task::undefined())
        })
    }
}

impl Drop for NativeProducer {
    /// Garbage-collected (or torn down at exit) without `close`: stop without waiting, off the JS thread.
    fn drop(&mut self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.delivery.stop.store(true, Ordering::Release);
        // SAFETY: `inner` is not used after this. Core's drop may wait briefly; not on the JS thread.
        let inner = unsafe { ManuallyDrop::take(&mut self.inner) };
        let _ = std::thread::Builder::new().name("streamlet-node-drop".into()).spawn(move || drop(inner));
    }
}
