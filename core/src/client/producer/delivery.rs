//! Delivery of per-record results: a future the caller can await on any runtime (or block on), and a queue of
//! reports (callbacks and interceptors' `on_acknowledgement`) that only `Producer::poll`/`flush` serve, on the
//! caller's thread.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::RecordMetadata;
use crate::client::ClientError;

pub type DeliveryResult = Result<RecordMetadata, ClientError>;

/// A delivery callback; run by `Producer::poll`/`flush` on the thread that calls them.
pub type Callback = Box<dyn FnOnce(DeliveryResult) + Send>;

#[derive(Default)]
struct CompletionState {
    result: Option<DeliveryResult>,
    wakers: Vec<Waker>,
    /// Threads blocked in `wait`/`wait_timeout`: only then is the condvar signalled (a syscall per record).
    blocked: usize,
}

#[derive(Default)]
pub(crate) struct Completion {
    state: Mutex<CompletionState>,
    cv: Condvar,
}

impl Completion {
    fn set(&self, r: DeliveryResult) {
        let (wakers, blocked) = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if s.result.is_some() {
                return;
            }
            s.result = Some(r);
            (std::mem::take(&mut s.wakers), s.blocked)
        };
        if blocked > 0 {
            self.cv.notify_all();
        }
        for w in wakers {
            w.wake();
        }
    }
}

/// The outcome of one `Producer::send`: `.await` it from any async runtime, or block with `wait`/`wait_timeout`.
/// It completes when the broker acknowledged (or the delivery failed), whether or not anyone calls `poll`.
#[derive(Clone)]
pub struct DeliveryFuture {
    inner: Arc<Completion>,
}

impl DeliveryFuture {
    /// Blocks until the delivery is done.
    pub fn wait(&self) -> DeliveryResult {
        let mut s = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = &s.result {
                return r.clone();
            }
            s.blocked += 1;
            s = self.inner.cv.wait(s).unwrap_or_else(|e| e.into_inner());
            s.blocked -= 1;
        }
    }

    /// Blocks up to `timeout`; None when the delivery is still pending.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<DeliveryResult> {
        let deadline = Instant::now() + timeout;
        let mut s = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = &s.result {
                return Some(r.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            s.blocked += 1;
            s = self.inner.cv.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner()).0;
            s.blocked -= 1;
        }
    }

    /// The result if the delivery is done.
    pub fn try_result(&self) -> Option<DeliveryResult> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner()).result.clone()
    }
}

impl Future for DeliveryFuture {
    type Output = DeliveryResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DeliveryResult> {
        let mut s = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        match &s.result {
            Some(r) => Poll::Ready(r.clone()),
            None => {
                if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    s.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

pub(crate) struct Report {
    pub result: DeliveryResult,
    pub callback: Option<Callback>,
}

#[derive(Default)]
pub(crate) struct HostState {
    pub reports: VecDeque<Report>,
    /// Ids of records accepted by `send` and not yet done.
    pub outstanding: BTreeSet<u64>,
    /// Threads blocked in `poll`/`flush` on `Host::cv`: completions signal it only when there are some.
    pub blocked: usize,
}

/// The caller-facing side: the report queue and the set of outstanding records (`flush` waits on it).
pub(crate) struct Host {
    pub state: Mutex<HostState>,
    pub cv: Condvar,
    /// Queue a report for every record (interceptors need `on_acknowledgement`), not only for those with a callback.
    pub report_all: bool,
}

impl Host {
    pub fn new(report_all: bool) -> Arc<Host> {
        Arc::new(Host { state: Mutex::new(HostState::default()), cv: Condvar::new(), report_all })
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, HostState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One accepted record until it is done. Dropped without `finish` (e.g. its task was cancelled at close), it
/// completes with `ClientError::Closed`, so no future or callback is ever left hanging.
pub(crate) struct Pending {
    pub id: u64,
    pub timestamp: i64,
    pub size: usize,
    completion: Arc<Completion>,
    callback: Option<Callback>,
    host: Arc<Host>,
    done: bool,
}

impl Pending {
    pub fn new(host: &Arc<Host>, id: u64, timestamp: i64, size: usize, callback: Option<Callback>) -> (Pending, DeliveryFuture) {
        let completion = Arc::new(Completion::default());
        host.lock().outstanding.insert(id);
        let fut = DeliveryFuture { inner: completion.clone() };
        (Pending { id, timestamp, size, completion, callback, host: host.clone(), done: false }, fut)
    }

    pub fn finish(mut self, result: DeliveryResult) {
        self.complete(result);
    }

    fn complete(&mut self, result: DeliveryResult) {
        if self.done {
            return;
        }
        self.done = true;
        self.completion.set(result.clone());
        let callback = self.callback.take();
        let blocked = {
            let mut s = self.host.lock();
            if callback.is_some() || self.host.report_all {
                s.reports.push_back(Report { result, callback });
            }
            s.outstanding.remove(&self.id);
            s.blocked
        };
        if blocked > 0 {
            self.host.cv.notify_all();
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.complete(Err(ClientError::Closed));
    }
}
