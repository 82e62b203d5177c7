//! `streamlet.Producer`. Python callbacks (on_delivery, interceptors' on_acknowledgement, futures' done
//! callbacks) never run inside the core: the core's callbacks only queue them, and `poll`/`flush`/`close` run
//! the queue on the calling thread once the core call has returned and the GIL is held again.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use streamlet::client::producer::{
    Callback, DeliveryResult, PartitionChooser, Producer as CoreProducer, ProducerConfig, ProducerInterceptor, ProducerRecord as CoreRecord,
};
use streamlet::client::ClientError;

use crate::future::DeliveryFuture;
use crate::records::{ProducerRecord, RecordMetadata};
use crate::wait::{sliced, Deadline};
use crate::{config, convert, errors};

enum Served {
    Ack { interceptor: usize, result: DeliveryResult },
    Delivery { callback: Py<PyAny>, topic: String, partition: i32, result: DeliveryResult },
}

type Queue = Arc<Mutex<Vec<Served>>>;

fn push(queue: &Queue, s: Served) {
    queue.lock().unwrap_or_else(|e| e.into_inner()).push(s);
}

struct Interceptor {
    index: usize,
    on_send: Option<Py<PyAny>>,
    close: Option<Py<PyAny>>,
    queue: Queue,
}

impl ProducerInterceptor for Interceptor {
    fn on_send(&self, record: CoreRecord) -> CoreRecord {
        let Some(f) = &self.on_send else { return record };
        Python::attach(|py| {
            let out = (|| -> PyResult<CoreRecord> {
                let rec = Py::new(py, ProducerRecord::from_core(py, &record)?)?;
                let back = f.bind(py).call1((rec,))?;
                let back = back.cast::<ProducerRecord>().map_err(|_| errors::arg_err(format!("on_send must return a ProducerRecord, not {}", back.get_type().name().map(|n| n.to_string()).unwrap_or_default())))?;
                let r = back.borrow().to_core(py)?;
                Ok(r)
            })();
            out.unwrap_or_else(|e| {
                errors::log_skipped(py, "a producer interceptor's on_send", e);
                record
            })
        })
    }

    fn on_acknowledgement(&self, result: &Result<streamlet::client::producer::RecordMetadata, ClientError>) {
        push(&self.queue, Served::Ack { interceptor: self.index, result: result.clone() });
    }

    fn close(&self) {
        let Some(f) = &self.close else { return };
        Python::attach(|py| {
            if let Err(e) = f.bind(py).call0() {
                errors::log_skipped(py, "a producer interceptor's close", e);
            }
        });
    }
}

thread_local! {
    /// The exception a Python partitioner raised during the current `send` on this thread.
    static PARTITIONER_ERROR: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

struct Partitioner(Py<PyAny>);

impl PartitionChooser for Partitioner {
    fn partition(&self, topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>, partition_count: i32, _available: &[i32]) -> i32 {
        Python::attach(|py| {
            let key = key.map(|k| pyo3::types::PyBytes::new(py, k));
            match self.0.bind(py).call1((topic, key, partition_count)).and_then(|r| r.extract::<i32>()) {
                Ok(p) => p,
                Err(e) => {
                    PARTITIONER_ERROR.with(|slot| *slot.borrow_mut() = Some(e));
                    -1
                }
            }
        })
    }
}

#[pyclass(module = "streamlet._native", frozen, subclass)]
pub struct Producer {
    inner: CoreProducer,
    queue: Queue,
    ack_hooks: Vec<Option<Py<PyAny>>>,
    watched: Arc<Mutex<Vec<Py<DeliveryFuture>>>>,
}

fn attr(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Option<Py<PyAny>>> {
    if obj.hasattr(name)? {
        let a = obj.getattr(name)?;
        if a.is_callable() {
            return Ok(Some(a.unbind()));
        }
    }
    Ok(None)
}

#[pymethods]
impl Producer {
    #[new]
    #[pyo3(signature = (config, *, interceptors=None, partitioner=None))]
    fn new(py: Python<'_>, config: &Bound<'_, PyDict>, interceptors: Option<&Bound<'_, PyAny>>, partitioner: Option<Py<PyAny>>) -> PyResult<Self> {
        let cfg = ProducerConfig::from_pairs(config::pairs(Some(config))?).map_err(errors::config_err)?;
        let mut builder = CoreProducer::builder(cfg);
        let queue: Queue = Arc::default();
        let mut ack_hooks = Vec::new();
        if let Some(list) = interceptors.filter(|i| !i.is_none()) {
            for (index, obj) in list.try_iter()?.enumerate() {
                let obj = obj?;
                ack_hooks.push(attr(&obj, "on_acknowledgement")?);
                builder = builder.interceptor(Interceptor { index, on_send: attr(&obj, "on_send")?, close: attr(&obj, "close")?, queue: queue.clone() });
            }
        }
        if let Some(p) = partitioner.filter(|p| !p.is_none(py)) {
            if !p.bind(py).is_callable() {
                return Err(errors::arg_err("partitioner must be a callable (topic, key, partition_count) -> int"));
            }
            builder = builder.partitioner(Partitioner(p));
        }
        let inner = py.detach(|| builder.build()).map_err(errors::client_err)?;
        Ok(Producer { inner, queue, ack_hooks, watched: Arc::default() })
    }

    /// Sends a record asynchronously and returns its future. `on_delivery(err, metadata)` runs later inside
    /// `poll`/`flush` on the calling thread.
    #[pyo3(signature = (topic, value=None, key=None, partition=None, headers=None, timestamp=None, on_delivery=None))]
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        py: Python<'_>,
        topic: String,
        value: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        partition: Option<i32>,
        headers: Option<&Bound<'_, PyAny>>,
        timestamp: Option<i64>,
        on_delivery: Option<Py<PyAny>>,
    ) -> PyResult<DeliveryFuture> {
        let record = CoreRecord {
            value: convert::to_bytes(value, "value")?,
            key: convert::to_bytes(key, "key")?,
            headers: convert::headers(headers)?,
            partition,
            timestamp,
            topic,
        };
        let callback: Option<Callback> = on_delivery.filter(|c| !c.is_none(py)).map(|callback| {
            let queue = self.queue.clone();
            let (t, p) = (record.topic.clone(), partition.unwrap_or(-1));
            Box::new(move |result| push(&queue, Served::Delivery { callback, topic: t, partition: p, result })) as Callback
        });
        // The GIL is released only when the send has to wait (for metadata or buffer.memory): releasing and
        // taking it back on every send costs more than the send itself.
        let fut = match self.inner.try_send(record, callback) {
            Ok(fut) => fut,
            Err(blocked) => py.detach(|| self.inner.send_blocked(blocked)),
        };
        if let Some(e) = PARTITIONER_ERROR.with(|slot| slot.borrow_mut().take()) {
            return Err(e);
        }
        Ok(DeliveryFuture::new(fut, self.watched.clone()))
    }

    /// Serves queued delivery callbacks, waiting up to `timeout` seconds for the first; returns how many.
    #[pyo3(signature = (timeout=0.0))]
    fn poll(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<usize> {
        let deadline = Deadline::new(timeout)?;
        let mut first_err = None;
        let n = sliced(py, deadline, |slice| Some(self.inner.poll(slice)).filter(|n| *n > 0), |py| {
            self.serve(py, &mut first_err);
            Ok(())
        })?;
        if let Some(e) = first_err {
            return Err(e);
        }
        Ok(n.unwrap_or(0))
    }

    /// Sends everything now and waits until every record sent before the call is done, serving callbacks.
    /// Raises KafkaTimeoutError when `timeout` seconds pass first.
    #[pyo3(signature = (timeout=None))]
    fn flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        if self.flush_inner(py, Deadline::new(timeout)?)? {
            Ok(())
        } else {
            Err(errors::timeout("flush timed out with records still pending"))
        }
    }

    /// Flushes (up to `timeout`), then closes: records still pending fail with _DESTROY. Idempotent.
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let deadline = Deadline::new(timeout)?;
        // Like Kafka's close(timeout): what is still pending at the deadline fails with _DESTROY; no error here.
        let flushed = self.flush_inner(py, deadline);
        let _ = py.detach(|| self.inner.close(Duration::ZERO));
        let mut first_err = None;
        self.serve(py, &mut first_err);
        flushed?;
        first_err.map_or(Ok(()), Err)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py, None)?;
        Ok(false)
    }
}

impl Producer {
    /// Ok(false) when the deadline passed with records still pending.
    fn flush_inner(&self, py: Python<'_>, deadline: Deadline) -> PyResult<bool> {
        let mut first_err = None;
        let done = sliced(py, deadline, |slice| self.inner.flush(slice).ok(), |py| {
            self.serve(py, &mut first_err);
            Ok(())
        })?;
        match first_err {
            Some(e) => Err(e),
            None => Ok(done.is_some()),
        }
    }

    /// Runs what the core queued, then the done callbacks of finished futures. The first exception a
    /// delivery callback raises is kept for the caller to raise; interceptors' exceptions are logged.
    fn serve(&self, py: Python<'_>, first_err: &mut Option<PyErr>) {
        let served = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()));
        for s in served {
            match s {
                Served::Ack { interceptor, result } => {
                    let Some(Some(hook)) = self.ack_hooks.get(interceptor) else { continue };
                    let (md, err) = outcome(py, &result, "", -1);
                    let md = if result.is_ok() { md } else { py.None() };
                    if let Err(e) = hook.bind(py).call1((md, err)) {
                        errors::log_skipped(py, "a producer interceptor's on_acknowledgement", e);
                    }
                }
                Served::Delivery { callback, topic, partition, result } => {
                    let (md, err) = outcome(py, &result, &topic, partition);
                    if let Err(e) = callback.bind(py).call1((err, md)) {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        DeliveryFuture::run_done_callbacks(py, &self.watched);
    }
}

/// (metadata, error) for a delivery result; on failure the metadata still names the topic, offset -1.
fn outcome(py: Python<'_>, result: &DeliveryResult, topic: &str, partition: i32) -> (Py<PyAny>, Py<PyAny>) {
    match result {
        Ok(md) => (Py::new(py, RecordMetadata::from_core(md)).map(|m| m.into_any()).unwrap_or_else(|_| py.None()), py.None()),
        Err(e) => {
            let md = RecordMetadata { topic: topic.to_string(), partition, offset: -1, timestamp: -1 };
            let err = errors::from_client(e).to_object(py).unwrap_or_else(|_| py.None());
            (Py::new(py, md).map(|m| m.into_any()).unwrap_or_else(|_| py.None()), err)
        }
    }
}
