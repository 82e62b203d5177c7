//! Running blocking core calls off the JS thread.
//! - [`blocking`]: one call on libuv's thread pool (napi `AsyncTask`), for independent calls (admin, broker,
//!   producer flush/close).
//! - [`Settle`]: the promise of a call queued to a client's own worker thread (the consumer's calls must run in
//!   order on one thread). A `Settle` dropped unsettled rejects its promise, so no promise (and no threadsafe
//!   function behind it) is ever left pending, which would keep the process alive.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::*;
use napi::{Env, JsDeferred, JsObject, JsUnknown, NapiValue};

use crate::error;

/// Turns a computed value into a JS value on the JS thread.
pub(crate) type ToJs = Box<dyn FnOnce(Env) -> Result<JsUnknown> + Send>;

type Work = Box<dyn FnOnce() -> Result<ToJs> + Send>;

pub struct Blocking {
    what: &'static str,
    work: Option<Work>,
}

impl Task for Blocking {
    type Output = ToJs;
    type JsValue = JsUnknown;

    fn compute(&mut self) -> Result<ToJs> {
        let work = self.work.take().ok_or_else(|| error::panicked(self.what))?;
        catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| Err(error::panicked(self.what)))
    }

    fn resolve(&mut self, env: Env, output: ToJs) -> Result<JsUnknown> {
        output(env)
    }
}

/// `work` runs on the thread pool; its result's converter runs on the JS thread.
pub(crate) fn blocking(what: &'static str, work: impl FnOnce() -> Result<ToJs> + Send + 'static) -> AsyncTask<Blocking> {
    AsyncTask::new(Blocking { what, work: Some(Box::new(work)) })
}

pub(crate) fn undefined() -> ToJs {
    Box::new(|env: Env| env.get_undefined().map(|u| u.into_unknown()))
}

pub(crate) fn value<T: ToNapiValue + Send + 'static>(v: T) -> ToJs {
    Box::new(move |env: Env| unsafe {
        let raw = T::to_napi_value(env.raw(), v)?;
        JsUnknown::from_raw(env.raw(), raw)
    })
}

type Deferred = JsDeferred<JsUnknown, Box<dyn FnOnce(Env) -> Result<JsUnknown>>>;

pub(crate) struct Settle {
    what: &'static str,
    deferred: Option<Deferred>,
}

impl Settle {
    pub fn new(env: &Env, what: &'static str) -> Result<(Settle, JsObject)> {
        let (deferred, promise) = env.create_deferred()?;
        Ok((Settle { what, deferred: Some(deferred) }, promise))
    }

    pub fn settle(mut self, r: Result<ToJs>) {
        if let Some(d) = self.deferred.take() {
            match r {
                Ok(f) => d.resolve(f),
                Err(e) => d.reject(e),
            }
        }
    }

    /// Runs `work` here (a worker thread), catching panics, and settles with its outcome.
    pub fn run(self, work: impl FnOnce() -> Result<ToJs>) {
        let what = self.what;
        let r = catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| Err(error::panicked(what)));
        self.settle(r);
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if let Some(d) = self.deferred.take() {
            d.reject(error::local(error::CLOSED, format!("{}: the client was closed before the call ran", self.what)));
        }
    }
}
