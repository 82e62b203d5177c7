//! `streamlet.Message`: one consumed record. Keys, values and headers become Python objects only when read.

use pyo3::prelude::*;

use streamlet::client::consumer::ConsumerRecord;
use streamlet::record::TimestampType;

use crate::convert;

/// Timestamp types as in confluent-kafka: TIMESTAMP_CREATE_TIME and TIMESTAMP_LOG_APPEND_TIME.
pub const TIMESTAMP_CREATE_TIME: i32 = 1;
pub const TIMESTAMP_LOG_APPEND_TIME: i32 = 2;

#[pyclass(module = "streamlet._native", frozen)]
pub struct Message {
    pub record: ConsumerRecord,
}

#[pymethods]
impl Message {
    #[getter]
    fn topic(&self) -> &str {
        &self.record.topic
    }

    #[getter]
    fn partition(&self) -> i32 {
        self.record.partition
    }

    #[getter]
    fn offset(&self) -> i64 {
        self.record.offset
    }

    #[getter]
    fn key(&self, py: Python<'_>) -> Py<PyAny> {
        convert::bytes_obj(py, &self.record.key)
    }

    #[getter]
    fn value(&self, py: Python<'_>) -> Py<PyAny> {
        convert::bytes_obj(py, &self.record.value)
    }

    /// A list of (name, value) pairs, in record order (names may repeat).
    #[getter]
    fn headers(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        convert::headers_obj(py, &self.record.headers)
    }

    /// Milliseconds since the epoch.
    #[getter]
    fn timestamp(&self) -> i64 {
        self.record.timestamp
    }

    #[getter]
    fn timestamp_type(&self) -> i32 {
        match self.record.timestamp_type {
            TimestampType::CreateTime => TIMESTAMP_CREATE_TIME,
            TimestampType::LogAppendTime => TIMESTAMP_LOG_APPEND_TIME,
        }
    }

    fn __repr__(&self) -> String {
        format!("<Message {}-{}@{}>", self.record.topic, self.record.partition, self.record.offset)
    }
}
