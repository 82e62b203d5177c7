//! `streamlet.DeliveryFuture`: the concurrent.futures.Future interface over a core delivery future.
//! Done callbacks added before completion run inside the producer's `poll`/`flush` on the calling thread;
//! added after completion they run at once, as concurrent.futures does.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use streamlet::client::producer::{DeliveryFuture as CoreFuture, DeliveryResult};

use crate::errors;
use crate::records::RecordMetadata;
use crate::wait::{sliced, Deadline};

#[pyclass(module = "streamlet._native", frozen)]
pub struct DeliveryFuture {
    inner: CoreFuture,
    callbacks: Mutex<Vec<Py<PyAny>>>,
    watched: Arc<Mutex<Vec<Py<DeliveryFuture>>>>,
}

static TIMEOUT_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn future_timeout(py: Python<'_>) -> PyErr {
    match TIMEOUT_ERROR.import(py, "concurrent.futures", "TimeoutError") {
        Ok(cls) => match cls.call1(("the delivery did not complete in time",)) {
            Ok(e) => PyErr::from_value(e),
            Err(e) => e,
        },
        Err(e) => e,
    }
}

impl DeliveryFuture {
    pub fn new(inner: CoreFuture, watched: Arc<Mutex<Vec<Py<DeliveryFuture>>>>) -> Self {
        DeliveryFuture { inner, callbacks: Mutex::new(Vec::new()), watched }
    }

    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<DeliveryResult> {
        if let Some(r) = self.inner.try_result() {
            return Ok(r);
        }
        let deadline = Deadline::new(timeout)?;
        sliced(py, deadline, |slice| self.inner.wait_timeout(slice), |_| Ok(()))?.ok_or_else(|| future_timeout(py))
    }

    fn fire(slf: &Bound<'_, DeliveryFuture>) {
        let py = slf.py();
        let callbacks = std::mem::take(&mut *slf.get().callbacks.lock().unwrap_or_else(|e| e.into_inner()));
        for cb in callbacks {
            if let Err(e) = cb.bind(py).call1((slf,)) {
                errors::log_skipped(py, "a future's done callback", e);
            }
        }
    }

    /// Fires the callbacks of the watched futures that are done.
    pub fn run_done_callbacks(py: Python<'_>, watched: &Mutex<Vec<Py<DeliveryFuture>>>) {
        let done: Vec<Py<DeliveryFuture>> = {
            let mut w = watched.lock().unwrap_or_else(|e| e.into_inner());
            if w.is_empty() {
                return;
            }
            let (done, pending): (Vec<_>, Vec<_>) = std::mem::take(&mut *w).into_iter().partition(|f| f.get().inner.try_result().is_some());
            *w = pending;
            done
        };
        for f in done {
            Self::fire(f.bind(py));
        }
    }
}

#[pymethods]
impl DeliveryFuture {
    /// The RecordMetadata, waiting up to `timeout` seconds (None: forever); raises the delivery's KafkaError,
    /// or concurrent.futures.TimeoutError.
    #[pyo3(signature = (timeout=None))]
    fn result(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<RecordMetadata> {
        match self.wait(py, timeout)? {
            Ok(md) => Ok(RecordMetadata::from_core(&md)),
            Err(e) => Err(errors::from_client(&e).into_pyerr(py)),
        }
    }

    /// The delivery's KafkaError, or None when it succeeded.
    #[pyo3(signature = (timeout=None))]
    fn exception(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        match self.wait(py, timeout)? {
            Ok(_) => Ok(None),
            Err(e) => Ok(Some(errors::from_client(&e).to_object(py)?)),
        }
    }

    fn done(&self) -> bool {
        self.inner.try_result().is_some()
    }

    fn running(&self) -> bool {
        !self.done()
    }

    /// A record handed to the producer cannot be called back: always False.
    fn cancel(&self) -> bool {
        false
    }

    fn cancelled(&self) -> bool {
        false
    }

    fn add_done_callback(slf: &Bound<'_, Self>, fn_: Py<PyAny>) {
        let me = slf.get();
        me.callbacks.lock().unwrap_or_else(|e| e.into_inner()).push(fn_);
        if me.done() {
            Self::fire(slf);
        } else {
            me.watched.lock().unwrap_or_else(|e| e.into_inner()).push(slf.clone().unbind());
        }
    }

    fn __repr__(&self) -> String {
        match self.inner.try_result() {
            None => "<DeliveryFuture pending>".into(),
            Some(Ok(md)) => format!("<DeliveryFuture done {}-{}@{}>", md.topic, md.partition, md.offset),
            Some(Err(e)) => format!("<DeliveryFuture failed: {e}>"),
        }
    }
}
