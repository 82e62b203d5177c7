//! `streamlet.Consumer`. Rebalance callbacks run inside `poll` on the calling thread (the core calls its
//! listener there; the listener takes the GIL back to call Python); async-commit callbacks are queued by the
//! core's callback and run once the core call returned. The first exception a callback raises is raised by
//! the call that ran it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyWeakrefReference};

use streamlet::client::consumer::{
    Consumer as CoreConsumer, ConsumerConfig, ConsumerError, ConsumerInterceptor, ConsumerRecord, RebalanceListener,
};

use crate::message::Message;
use crate::records::{TopicPartition, OFFSET_BEGINNING, OFFSET_END, OFFSET_INVALID};
use crate::wait::{sliced, Deadline};
use crate::{config, errors};

type CoreTp = (String, i32);
type Offsets = BTreeMap<CoreTp, i64>;

#[derive(Default)]
struct Pending {
    commits: Vec<(Offsets, Result<(), ConsumerError>)>,
    first_err: Option<PyErr>,
}

type Shared = Arc<Mutex<Pending>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Pending> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn tp_list<'py>(py: Python<'py>, parts: &[CoreTp], offset: i64) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, parts.iter().map(|tp| TopicPartition::from_core(tp, offset)))
}

fn offsets_list<'py>(py: Python<'py>, offsets: &Offsets) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, offsets.iter().map(|(tp, o)| TopicPartition::from_core(tp, *o)))
}

struct Listener {
    consumer: Py<PyWeakrefReference>,
    on_assign: Option<Py<PyAny>>,
    on_revoke: Option<Py<PyAny>>,
    on_lost: Option<Py<PyAny>>,
    shared: Shared,
}

impl Listener {
    fn call(&self, cb: Option<&Py<PyAny>>, partitions: &[CoreTp]) {
        let Some(cb) = cb else { return };
        Python::attach(|py| {
            let Some(consumer) = self.consumer.bind(py).upgrade() else { return };
            let r = tp_list(py, partitions, OFFSET_INVALID).and_then(|l| cb.bind(py).call1((consumer, l)));
            if let Err(e) = r {
                lock(&self.shared).first_err.get_or_insert(e);
            }
        });
    }
}

impl RebalanceListener for Listener {
    fn on_partitions_revoked(&mut self, _c: &CoreConsumer, partitions: &[CoreTp]) {
        self.call(self.on_revoke.as_ref(), partitions);
    }

    fn on_partitions_assigned(&mut self, _c: &CoreConsumer, partitions: &[CoreTp]) {
        self.call(self.on_assign.as_ref(), partitions);
    }

    /// Without on_lost, lost partitions go to on_revoke, as in Kafka.
    fn on_partitions_lost(&mut self, _c: &CoreConsumer, partitions: &[CoreTp]) {
        self.call(self.on_lost.as_ref().or(self.on_revoke.as_ref()), partitions);
    }
}

/// A Python consumer interceptor; its exceptions are logged and skipped, as in Kafka.
struct Interceptor {
    on_consume: Option<Py<PyAny>>,
    on_commit: Option<Py<PyAny>>,
    close: Option<Py<PyAny>>,
}

impl ConsumerInterceptor for Interceptor {
    fn on_consume(&self, records: Vec<ConsumerRecord>) -> Vec<ConsumerRecord> {
        let Some(f) = &self.on_consume else { return records };
        Python::attach(|py| {
            let out = (|| -> PyResult<Vec<ConsumerRecord>> {
                let list = PyList::new(py, records.iter().map(|r| Message { record: r.clone() }))?;
                let back = f.bind(py).call1((list,))?;
                let mut out = Vec::new();
                for m in back.try_iter()? {
                    let m = m?;
                    let msg = m.cast::<Message>().map_err(|_| errors::arg_err(format!("on_consume must return a list of Message, got {}", m.repr().map(|r| r.to_string()).unwrap_or_default())))?;
                    out.push(msg.get().record.clone());
                }
                Ok(out)
            })();
            out.unwrap_or_else(|e| {
                errors::log_skipped(py, "a consumer interceptor's on_consume", e);
                records
            })
        })
    }

    fn on_commit(&self, offsets: &Offsets) {
        let Some(f) = &self.on_commit else { return };
        Python::attach(|py| {
            if let Err(e) = offsets_list(py, offsets).and_then(|l| f.bind(py).call1((l,))) {
                errors::log_skipped(py, "a consumer interceptor's on_commit", e);
            }
        });
    }

    fn close(&self) {
        let Some(f) = &self.close else { return };
        Python::attach(|py| {
            if let Err(e) = f.bind(py).call0() {
                errors::log_skipped(py, "a consumer interceptor's close", e);
            }
        });
    }
}

/// Topic names use [a-zA-Z0-9._-] only: escaping every other character is enough to match one literally.
fn regex_escape(topic: &str) -> String {
    topic.chars().flat_map(|c| if c.is_ascii_alphanumeric() || c == '_' { vec![c] } else { vec!['\\', c] }).collect()
}

#[pyclass(module = "streamlet._native", frozen, subclass, weakref)]
pub struct Consumer {
    inner: CoreConsumer,
    shared: Shared,
    on_commit: Option<Py<PyAny>>,
}

fn offsets_arg(py: Python<'_>, message: Option<&Bound<'_, Message>>, offsets: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Offsets>> {
    if let Some(m) = message {
        let r = &m.get().record;
        return Ok(Some(BTreeMap::from([((r.topic.clone(), r.partition), r.offset + 1)])));
    }
    let Some(offsets) = offsets.filter(|o| !o.is_none()) else { return Ok(None) };
    let mut out = BTreeMap::new();
    for tp in parts_arg(offsets)? {
        if tp.offset < 0 {
            return Err(errors::arg_err(format!("commit offset for {}-{} must not be negative, got {}", tp.topic, tp.partition, tp.offset)));
        }
        out.insert(tp.core(), tp.offset);
    }
    let _ = py;
    Ok(Some(out))
}

/// A TopicPartition or an iterable of them.
fn parts_arg(obj: &Bound<'_, PyAny>) -> PyResult<Vec<TopicPartition>> {
    if let Ok(tp) = obj.cast::<TopicPartition>() {
        return Ok(vec![tp.get().clone()]);
    }
    let iter = obj.try_iter().map_err(|_| errors::arg_err("expected a TopicPartition or a list of TopicPartition"))?;
    iter.map(|i| {
        let i = i?;
        i.cast::<TopicPartition>().map(|t| t.get().clone()).map_err(|_| errors::arg_err(format!("expected TopicPartition, got {}", i.repr().map(|r| r.to_string()).unwrap_or_default())))
    })
    .collect()
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

fn core_parts(parts: &[TopicPartition]) -> Vec<CoreTp> {
    parts.iter().map(|t| t.core()).collect()
}

#[pymethods]
impl Consumer {
    #[new]
    #[pyo3(signature = (config, *, interceptors=None, on_commit=None))]
    fn new(py: Python<'_>, config: &Bound<'_, PyDict>, interceptors: Option<&Bound<'_, PyAny>>, on_commit: Option<Py<PyAny>>) -> PyResult<Self> {
        let cfg = ConsumerConfig::from_pairs(&config::pairs(Some(config))?).map_err(errors::config_err)?;
        let mut builder = CoreConsumer::builder(cfg);
        if let Some(list) = interceptors.filter(|i| !i.is_none()) {
            for obj in list.try_iter()? {
                let obj = obj?;
                builder = builder.interceptor(Interceptor { on_consume: attr(&obj, "on_consume")?, on_commit: attr(&obj, "on_commit")?, close: attr(&obj, "close")? });
            }
        }
        let inner = py.detach(|| builder.build()).map_err(errors::consumer_err)?;
        Ok(Consumer { inner, shared: Arc::default(), on_commit: on_commit.filter(|c| !c.is_none(py)) })
    }

    /// Subscribes to `topics` (a list, or one name). Rebalance callbacks are called as
    /// `on_assign(consumer, partitions)` inside `poll`.
    #[pyo3(signature = (topics, on_assign=None, on_revoke=None, on_lost=None))]
    fn subscribe(slf: &Bound<'_, Self>, topics: &Bound<'_, PyAny>, on_assign: Option<Py<PyAny>>, on_revoke: Option<Py<PyAny>>, on_lost: Option<Py<PyAny>>) -> PyResult<()> {
        let py = slf.py();
        let topics: Vec<String> = if let Ok(s) = topics.extract::<String>() { vec![s] } else { topics.extract()? };
        let me = slf.get();
        let keep = |c: Option<Py<PyAny>>| c.filter(|c| !c.is_none(py));
        let listener = Listener {
            consumer: PyWeakrefReference::new(slf.as_any())?.unbind(),
            on_assign: keep(on_assign),
            on_revoke: keep(on_revoke),
            on_lost: keep(on_lost),
            shared: me.shared.clone(),
        };
        // Names starting with '^' are regular expressions (confluent-kafka's convention); with any of them the
        // whole list becomes one pattern.
        let r = if topics.iter().any(|t| t.starts_with('^')) {
            let alternatives: Vec<String> = topics.iter().map(|t| match t.strip_prefix('^') {
                Some(re) => format!("(?:{})", re.strip_suffix('$').unwrap_or(re)),
                None => regex_escape(t),
            }).collect();
            let pattern = alternatives.join("|");
            py.detach(|| me.inner.subscribe_pattern(&pattern, Some(Box::new(listener))))
        } else {
            let refs: Vec<&str> = topics.iter().map(|s| s.as_str()).collect();
            py.detach(|| me.inner.subscribe(&refs, Some(Box::new(listener))))
        };
        me.finish(py, r)
    }

    fn unsubscribe(&self, py: Python<'_>) -> PyResult<()> {
        let r = py.detach(|| self.inner.unsubscribe());
        self.finish(py, r)
    }

    /// Manual assignment. A partition's offset (>= 0, OFFSET_BEGINNING or OFFSET_END) is where reading starts.
    fn assign(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>) -> PyResult<()> {
        let parts = parts_arg(partitions)?;
        let r = py.detach(|| self.inner.assign(&core_parts(&parts)));
        self.finish(py, r)?;
        for tp in parts.iter().filter(|t| t.offset != OFFSET_INVALID) {
            self.seek_one(py, tp)?;
        }
        Ok(())
    }

    fn assignment(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        Ok(tp_list(py, &self.inner.assignment(), OFFSET_INVALID)?.unbind())
    }

    fn subscription(&self) -> Vec<String> {
        self.inner.subscription()
    }

    /// The next message, waiting up to `timeout` seconds (None: forever); None when none came.
    #[pyo3(signature = (timeout=None))]
    fn poll(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Message>> {
        let mut records = self.fetch(py, Deadline::new(timeout)?, 1)?;
        Ok(records.pop().map(|record| Message { record }))
    }

    /// Up to `num_messages` messages: returns when that many arrived or `timeout` seconds passed.
    #[pyo3(signature = (num_messages=1, timeout=None))]
    fn consume(&self, py: Python<'_>, num_messages: usize, timeout: Option<f64>) -> PyResult<Py<PyList>> {
        if num_messages == 0 {
            return Err(errors::arg_err("num_messages must be at least 1"));
        }
        let deadline = Deadline::new(timeout)?;
        let mut out: Vec<ConsumerRecord> = Vec::new();
        loop {
            let got = self.fetch(py, deadline, num_messages - out.len())?;
            out.extend(got);
            if out.len() >= num_messages || deadline.expired() {
                break;
            }
        }
        Ok(PyList::new(py, out.into_iter().map(|record| Message { record }))?.unbind())
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Waits for the next message; StopIteration once the consumer is closed.
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Message>> {
        loop {
            match self.fetch(py, Deadline::new(Some(0.5))?, 1) {
                Ok(mut r) => {
                    if let Some(record) = r.pop() {
                        return Ok(Some(Message { record }));
                    }
                }
                Err(e) if self.closed_err(py, &e) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Commits `message`'s offset + 1, or `offsets` (TopicPartitions with offsets), or everything consumed.
    /// Asynchronous commits report to `on_commit(err, partitions)` inside a later `poll`.
    #[pyo3(signature = (message=None, offsets=None, asynchronous=false))]
    fn commit(&self, py: Python<'_>, message: Option<&Bound<'_, Message>>, offsets: Option<&Bound<'_, PyAny>>, asynchronous: bool) -> PyResult<()> {
        let offsets = offsets_arg(py, message, offsets)?;
        if asynchronous {
            let callback = self.on_commit.as_ref().map(|_| {
                let shared = self.shared.clone();
                Box::new(move |o: &Offsets, r: Result<(), ConsumerError>| lock(&shared).commits.push((o.clone(), r))) as streamlet::client::consumer::CommitCallback
            });
            let r = py.detach(|| self.inner.commit_async(offsets, callback));
            self.finish(py, r)
        } else {
            let r = py.detach(|| self.inner.commit_sync(offsets));
            self.finish(py, r)
        }
    }

    /// The group's committed offsets (OFFSET_INVALID where none).
    #[pyo3(signature = (partitions, timeout=None))]
    fn committed(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<Py<PyList>> {
        let _ = timeout;
        let parts = core_parts(&parts_arg(partitions)?);
        let r = py.detach(|| self.inner.committed(&parts));
        let found = self.finish(py, r)?;
        let out = parts.iter().map(|tp| TopicPartition::from_core(tp, found.get(tp).copied().flatten().unwrap_or(OFFSET_INVALID)));
        Ok(PyList::new(py, out)?.unbind())
    }

    /// The next offset to be consumed: an int for one TopicPartition, a list of TopicPartition for a list.
    fn position(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let single = partitions.cast::<TopicPartition>().is_ok();
        let parts = core_parts(&parts_arg(partitions)?);
        let r = py.detach(|| parts.iter().map(|tp| self.inner.position(tp).map(|o| (tp.clone(), o))).collect::<Result<Vec<_>, _>>());
        let found = self.finish(py, r)?;
        if single {
            return Ok(found[0].1.into_pyobject(py)?.into_any().unbind());
        }
        Ok(PyList::new(py, found.iter().map(|(tp, o)| TopicPartition::from_core(tp, *o)))?.into_any().unbind())
    }

    /// Moves the position of `partition` (a TopicPartition) to its offset: >= 0, OFFSET_BEGINNING or OFFSET_END.
    fn seek(&self, py: Python<'_>, partition: &Bound<'_, TopicPartition>) -> PyResult<()> {
        self.seek_one(py, partition.get())
    }

    fn seek_to_beginning(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>) -> PyResult<()> {
        let parts = core_parts(&parts_arg(partitions)?);
        let r = py.detach(|| self.inner.seek_to_beginning(&parts));
        self.finish(py, r)
    }

    fn seek_to_end(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>) -> PyResult<()> {
        let parts = core_parts(&parts_arg(partitions)?);
        let r = py.detach(|| self.inner.seek_to_end(&parts));
        self.finish(py, r)
    }

    fn pause(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>) -> PyResult<()> {
        let parts = core_parts(&parts_arg(partitions)?);
        let r = self.inner.pause(&parts);
        self.finish(py, r)
    }

    fn resume(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>) -> PyResult<()> {
        let parts = core_parts(&parts_arg(partitions)?);
        let r = self.inner.resume(&parts);
        self.finish(py, r)
    }

    fn paused(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        Ok(tp_list(py, &self.inner.paused(), OFFSET_INVALID)?.unbind())
    }

    /// (low, high) offsets of `partition` on the broker.
    fn get_watermark_offsets(&self, py: Python<'_>, partition: &Bound<'_, TopicPartition>) -> PyResult<(i64, i64)> {
        let tp = [partition.get().core()];
        let r = py.detach(|| Ok::<_, ConsumerError>((self.inner.beginning_offsets(&tp)?, self.inner.end_offsets(&tp)?)));
        let (lo, hi) = self.finish(py, r)?;
        Ok((lo.get(&tp[0]).copied().unwrap_or(OFFSET_INVALID), hi.get(&tp[0]).copied().unwrap_or(OFFSET_INVALID)))
    }

    /// Commits (with auto commit), runs on_revoke, leaves the group. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let r = py.detach(|| self.inner.close());
        self.finish(py, r)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

impl Consumer {
    /// Polls the core for up to `max` records, slice by slice, serving callbacks between slices.
    fn fetch(&self, py: Python<'_>, deadline: Deadline, max: usize) -> PyResult<Vec<ConsumerRecord>> {
        let got = sliced(
            py,
            deadline,
            |slice| match self.inner.poll_up_to(slice, max) {
                Ok(r) if r.is_empty() => None,
                other => Some(other),
            },
            |py| self.serve(py),
        )?;
        match got {
            None => Ok(Vec::new()),
            Some(r) => r.map_err(errors::consumer_err),
        }
    }

    fn seek_one(&self, py: Python<'_>, tp: &TopicPartition) -> PyResult<()> {
        let core = [tp.core()];
        let r = py.detach(|| match tp.offset {
            OFFSET_BEGINNING => self.inner.seek_to_beginning(&core),
            OFFSET_END => self.inner.seek_to_end(&core),
            o => self.inner.seek(&core[0], o),
        });
        self.finish(py, r)
    }

    /// Serves queued commit callbacks, then raises the first callback exception, then the call's own error.
    fn finish<T>(&self, py: Python<'_>, r: Result<T, ConsumerError>) -> PyResult<T> {
        self.serve(py)?;
        r.map_err(errors::consumer_err)
    }

    fn serve(&self, py: Python<'_>) -> PyResult<()> {
        let (commits, first_err) = {
            let mut p = lock(&self.shared);
            (std::mem::take(&mut p.commits), p.first_err.take())
        };
        let mut first_err = first_err;
        if let Some(cb) = &self.on_commit {
            for (offsets, result) in commits {
                let err = match &result {
                    Ok(()) => py.None(),
                    Err(e) => errors::from_consumer(e).to_object(py)?,
                };
                if let Err(e) = offsets_list(py, &offsets).and_then(|l| cb.bind(py).call1((err, l))) {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn closed_err(&self, py: Python<'_>, e: &PyErr) -> bool {
        e.value(py).getattr("code").and_then(|c| c.extract::<i32>()).is_ok_and(|c| c == -197)
    }
}
