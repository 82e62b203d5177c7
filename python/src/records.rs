//! Plain value classes: ProducerRecord (what producer interceptors see), RecordMetadata, TopicPartition.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use streamlet::client::consumer::TopicPartition as CoreTp;
use streamlet::client::producer::{ProducerRecord as CoreRecord, RecordMetadata as CoreMetadata};

use crate::convert;

/// Offsets with a special meaning, as in confluent-kafka.
pub const OFFSET_BEGINNING: i64 = -2;
pub const OFFSET_END: i64 = -1;
pub const OFFSET_INVALID: i64 = -1001;

/// A record on its way to the broker; producer interceptors' `on_send` receives and returns one.
#[pyclass(module = "streamlet._native", get_all, set_all)]
pub struct ProducerRecord {
    pub topic: String,
    pub value: Option<Py<PyAny>>,
    pub key: Option<Py<PyAny>>,
    pub partition: Option<i32>,
    pub headers: Py<PyAny>,
    pub timestamp: Option<i64>,
}

#[pymethods]
impl ProducerRecord {
    #[new]
    #[pyo3(signature = (topic, value=None, key=None, partition=None, headers=None, timestamp=None))]
    fn new(py: Python<'_>, topic: String, value: Option<Py<PyAny>>, key: Option<Py<PyAny>>, partition: Option<i32>, headers: Option<Py<PyAny>>, timestamp: Option<i64>) -> PyResult<Self> {
        let headers = match headers {
            Some(h) => h,
            None => pyo3::types::PyList::empty(py).into_any().unbind(),
        };
        Ok(ProducerRecord { topic, value, key, partition, headers, timestamp })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let show = |o: &Option<Py<PyAny>>| -> PyResult<String> {
            Ok(match o {
                Some(o) => o.bind(py).repr()?.to_string(),
                None => "None".into(),
            })
        };
        Ok(format!("ProducerRecord(topic={:?}, partition={:?}, key={}, value={})", self.topic, self.partition, show(&self.key)?, show(&self.value)?))
    }
}

impl ProducerRecord {
    pub fn from_core(py: Python<'_>, r: &CoreRecord) -> PyResult<Self> {
        Ok(ProducerRecord {
            topic: r.topic.clone(),
            value: r.value.as_ref().map(|_| convert::bytes_obj(py, &r.value)),
            key: r.key.as_ref().map(|_| convert::bytes_obj(py, &r.key)),
            partition: r.partition,
            headers: convert::headers_obj(py, &r.headers)?,
            timestamp: r.timestamp,
        })
    }

    pub fn to_core(&self, py: Python<'_>) -> PyResult<CoreRecord> {
        Ok(CoreRecord {
            topic: self.topic.clone(),
            partition: self.partition,
            key: convert::to_bytes(self.key.as_ref().map(|k| k.bind(py)), "key")?,
            value: convert::to_bytes(self.value.as_ref().map(|v| v.bind(py)), "value")?,
            headers: convert::headers(Some(self.headers.bind(py)))?,
            timestamp: self.timestamp,
        })
    }
}

/// Where a record landed.
#[pyclass(module = "streamlet._native", frozen, get_all)]
pub struct RecordMetadata {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch (the broker's for LogAppendTime topics); -1 when unknown.
    pub timestamp: i64,
}

#[pymethods]
impl RecordMetadata {
    fn __repr__(&self) -> String {
        format!("RecordMetadata(topic={:?}, partition={}, offset={}, timestamp={})", self.topic, self.partition, self.offset, self.timestamp)
    }
}

impl RecordMetadata {
    pub fn from_core(m: &CoreMetadata) -> Self {
        RecordMetadata { topic: m.topic.clone(), partition: m.partition, offset: m.offset, timestamp: m.timestamp }
    }
}

/// A topic partition, with an offset where one is meant (commit, seek, committed, position).
#[pyclass(module = "streamlet._native", frozen, eq, hash, ord, get_all)]
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

#[pymethods]
impl TopicPartition {
    #[new]
    #[pyo3(signature = (topic, partition=0, offset=OFFSET_INVALID))]
    fn new(topic: String, partition: i32, offset: i64) -> Self {
        TopicPartition { topic, partition, offset }
    }

    fn __repr__(&self) -> String {
        if self.offset == OFFSET_INVALID {
            format!("TopicPartition({:?}, {})", self.topic, self.partition)
        } else {
            format!("TopicPartition({:?}, {}, {})", self.topic, self.partition, self.offset)
        }
    }

    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        (self.topic.clone(), self.partition, self.offset).into_pyobject(py)
    }
}

impl TopicPartition {
    pub fn core(&self) -> CoreTp {
        (self.topic.clone(), self.partition)
    }

    pub fn from_core(tp: &CoreTp, offset: i64) -> Self {
        TopicPartition { topic: tp.0.clone(), partition: tp.1, offset }
    }
}
