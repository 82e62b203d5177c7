//! `streamlet.Broker`: the embedded broker.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{config, errors};

#[pyclass(module = "streamlet._native", frozen, subclass)]
pub struct Broker {
    inner: Mutex<Option<streamlet::Broker>>,
    bootstrap: String,
}

#[pymethods]
impl Broker {
    #[new]
    #[pyo3(signature = (data_dir=None, listen="127.0.0.1:0", config=None))]
    fn new(py: Python<'_>, data_dir: Option<std::path::PathBuf>, listen: &str, config: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut builder = streamlet::Broker::builder().listen(listen);
        if let Some(dir) = data_dir {
            builder = builder.data_dir(dir);
        }
        for (k, v) in config::pairs(config)? {
            builder = builder.config(k, v);
        }
        let broker = py.detach(|| builder.start()).map_err(|e| errors::from_broker(&e).into_pyerr(py))?;
        let bootstrap = broker.bootstrap_servers();
        Ok(Broker { inner: Mutex::new(Some(broker)), bootstrap })
    }

    /// "host:port" to put in `bootstrap.servers`.
    #[getter]
    fn bootstrap_servers(&self) -> String {
        self.bootstrap.clone()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }

    /// Stops the broker (an ephemeral data dir is removed). Later calls do nothing.
    fn close(&self, py: Python<'_>) {
        let taken = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(b) = taken {
            py.detach(|| b.shutdown());
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!("<streamlet.Broker {}{}>", self.bootstrap, if self.closed() { " closed" } else { "" })
    }
}
