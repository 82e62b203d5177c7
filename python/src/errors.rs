//! Maps core errors to the Python exceptions defined in `streamlet/errors.py` (KafkaError and subclasses).
//! Kafka error codes keep Kafka's numbers and names; client-side conditions use librdkafka's negative codes and
//! underscore names, as confluent-kafka users know them.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use streamlet::broker::BrokerError;
use streamlet::client::consumer::ConsumerError;
use streamlet::client::ClientError;
use streamlet::config::ConfigError;

/// One error as Python will see it.
pub struct Raised {
    pub code: i32,
    pub name: String,
    pub message: String,
    pub retriable: bool,
    pub fatal: bool,
    /// The configuration key, for configuration errors.
    pub key: Option<String>,
}

fn local(code: i32, name: &str, message: String, retriable: bool) -> Raised {
    Raised { code, name: name.to_string(), message, retriable, fatal: false, key: None }
}

/// `UnknownTopicOrPartition` -> `UNKNOWN_TOPIC_OR_PARTITION`, Kafka's spelling.
fn kafka_name(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

pub fn from_config(e: &ConfigError) -> Raised {
    Raised { key: Some(e.key.clone()), ..local(-186, "_INVALID_ARG", e.to_string(), false) }
}

pub fn from_client(e: &ClientError) -> Raised {
    match e {
        ClientError::Config(c) => from_config(c),
        ClientError::Kafka { code, message } => {
            let n = code.code();
            let name = match code {
                streamlet::protocol::ErrorCode::Unknown(_) => "UNKNOWN".to_string(),
                known => kafka_name(&known.to_string()),
            };
            let message = message.clone().unwrap_or_else(|| e.to_string());
            Raised { code: n as i32, name, message, retriable: code.is_retriable(), fatal: false, key: None }
        }
        ClientError::Timeout(_) => local(-185, "_TIMED_OUT", e.to_string(), true),
        ClientError::Connection { .. } => local(-195, "_TRANSPORT", e.to_string(), true),
        ClientError::Protocol { .. } => local(-199, "_BAD_MSG", e.to_string(), false),
        ClientError::UnsupportedApi { .. } => local(-165, "_UNSUPPORTED_FEATURE", e.to_string(), false),
        ClientError::Closed => local(-197, "_DESTROY", e.to_string(), false),
    }
}

pub fn from_consumer(e: &ConsumerError) -> Raised {
    match e {
        ConsumerError::Client(c) => from_client(c),
        ConsumerError::NoOffset(..) => local(-140, "_AUTO_OFFSET_RESET", e.to_string(), false),
        ConsumerError::CommitFailed(_) => local(-174, "_REVOKE_PARTITIONS", e.to_string(), false),
        ConsumerError::Fatal(_) => Raised { fatal: true, ..local(-150, "_FATAL", e.to_string(), false) },
        ConsumerError::IllegalState(_) => local(-172, "_STATE", e.to_string(), false),
        ConsumerError::Wakeup => local(-163, "_INTR", e.to_string(), false),
        ConsumerError::InvalidArgument(_) => local(-186, "_INVALID_ARG", e.to_string(), false),
    }
}

pub fn from_broker(e: &BrokerError) -> Raised {
    match e {
        BrokerError::Config(c) => from_config(c),
        BrokerError::Io { .. } => local(-189, "_FS", e.to_string(), false),
    }
}

/// An invalid argument from Python (bad type of key, unknown offset spec...): a ConfigError-free ValueError.
pub fn invalid_arg(message: impl Into<String>) -> Raised {
    local(-186, "_INVALID_ARG", message.into(), false)
}

static MAKE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

impl Raised {
    /// The exception object (a `streamlet.errors.KafkaError` subclass chosen by code).
    pub fn to_object(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let make = MAKE.import(py, "streamlet.errors", "_make")?;
        Ok(make.call1((self.code, self.name.as_str(), self.message.as_str(), self.retriable, self.fatal, self.key.as_deref()))?.unbind())
    }

    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match self.to_object(py) {
            Ok(obj) => PyErr::from_value(obj.into_bound(py)),
            Err(e) => e,
        }
    }
}

pub fn client_err(e: ClientError) -> PyErr {
    Python::attach(|py| from_client(&e).into_pyerr(py))
}

pub fn consumer_err(e: ConsumerError) -> PyErr {
    Python::attach(|py| from_consumer(&e).into_pyerr(py))
}

pub fn config_err(e: ConfigError) -> PyErr {
    Python::attach(|py| from_config(&e).into_pyerr(py))
}

pub fn arg_err(message: impl Into<String>) -> PyErr {
    let r = invalid_arg(message);
    Python::attach(|py| r.into_pyerr(py))
}

/// Logs an exception raised by an interceptor (which Kafka skips rather than propagate).
pub fn log_skipped(py: Python<'_>, what: &str, err: PyErr) {
    let logged = (|| -> PyResult<()> {
        let logger = py.import("logging")?.call_method1("getLogger", ("streamlet",))?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("exc_info", err.value(py))?;
        logger.call_method("error", (format!("{what} raised; skipped"),), Some(&kwargs))?;
        Ok(())
    })();
    if let Err(e) = logged {
        e.print(py);
    }
}

/// A local timeout (_TIMED_OUT, retriable) with its own message.
pub fn timeout(message: &str) -> PyErr {
    let r = local(-185, "_TIMED_OUT", message.to_string(), true);
    Python::attach(|py| r.into_pyerr(py))
}
