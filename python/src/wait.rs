//! Blocking calls wait in short slices with the GIL released, checking for signals between slices so that
//! Ctrl-C (KeyboardInterrupt) interrupts them.

use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::errors;

const SLICE: Duration = Duration::from_millis(100);

#[derive(Clone, Copy)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// `None` or a negative timeout waits forever (confluent-kafka's -1); seconds as a float otherwise.
    pub fn new(timeout: Option<f64>) -> PyResult<Deadline> {
        match timeout {
            None => Ok(Deadline(None)),
            Some(t) if t.is_nan() => Err(errors::arg_err("timeout must be a number of seconds, not NaN")),
            Some(t) if t < 0.0 => Ok(Deadline(None)),
            Some(t) => Ok(Deadline(Some(Instant::now() + Duration::from_secs_f64(t.min(1e9))))),
        }
    }

    /// The next slice to wait; zero once the deadline has passed.
    pub fn slice(&self) -> Duration {
        match self.0 {
            None => SLICE,
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
        }
    }

    pub fn expired(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }
}

/// Runs `step` (with the GIL released) slice after slice until it returns Some or the deadline passes
/// (then None). Between slices `between` runs with the GIL and signals are checked.
pub fn sliced<T: Send>(
    py: Python<'_>,
    deadline: Deadline,
    mut step: impl FnMut(Duration) -> Option<T> + Send,
    mut between: impl FnMut(Python<'_>) -> PyResult<()>,
) -> PyResult<Option<T>> {
    loop {
        let slice = deadline.slice();
        if let Some(v) = py.detach(|| step(slice)) {
            between(py)?;
            return Ok(Some(v));
        }
        between(py)?;
        if deadline.expired() {
            return Ok(None);
        }
        py.check_signals()?;
    }
}
