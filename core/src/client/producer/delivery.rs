//! Delivery of per-record results: a future the caller can await on any runtime (or block on), and a queue of
//! reports (callbacks and interceptors' `on_acknowledgement`) that only `Producer::poll`/`flush` serve, on the
//! caller's thread.
//!
//! A batch succeeds or fails as a whole (Kafka answers per partition), so its records share one [`Outcome`]:
//! completing a batch is one lock and one store however many records it holds, and a record's own result
//! (offset = base offset + its index) is derived when someone asks for it. `flush` tracks batches, not records.

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

/// How a batch ended: its base offset and the broker's LogAppendTime (-1 where the broker gave none).
pub(crate) type BatchResult = Result<(i64, i64), ClientError>;

#[derive(Default)]
struct OutcomeState {
    result: Option<BatchResult>,
    wakers: Vec<Waker>,
    /// Threads blocked in `wait`/`wait_timeout`: only then is the condvar signalled.
    blocked: usize,
}

/// The result of one batch, shared by the futures of its records.
pub(crate) struct Outcome {
    topic: Arc<str>,
    partition: i32,
    state: Mutex<OutcomeState>,
    cv: Condvar,
}

impl Outcome {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutcomeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, r: BatchResult) {
        let (wakers, blocked) = {
            let mut s = self.lock();
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

    fn record(&self, r: &BatchResult, index: u32, timestamp: i64) -> DeliveryResult {
        record_result(&self.topic, self.partition, r, index, timestamp)
    }
}

fn record_result(topic: &str, partition: i32, r: &BatchResult, index: u32, timestamp: i64) -> DeliveryResult {
    match r {
        Ok((base, log_append_time)) => Ok(RecordMetadata {
            topic: topic.to_string(),
            partition,
            offset: if *base >= 0 { base + index as i64 } else { -1 },
            timestamp: if *log_append_time >= 0 { *log_append_time } else { timestamp },
        }),
        Err(e) => Err(e.clone()),
    }
}

#[derive(Clone)]
enum Inner {
    /// Failed before it joined a batch.
    Ready(DeliveryResult),
    InBatch { outcome: Arc<Outcome>, index: u32, timestamp: i64 },
}

/// The outcome of one `Producer::send`: `.await` it from any async runtime, or block with `wait`/`wait_timeout`.
/// It completes when the broker acknowledged (or the delivery failed), whether or not anyone calls `poll`.
#[derive(Clone)]
pub struct DeliveryFuture {
    inner: Inner,
}

impl DeliveryFuture {
    pub(crate) fn ready(r: DeliveryResult) -> Self {
        DeliveryFuture { inner: Inner::Ready(r) }
    }

    /// Blocks until the delivery is done.
    pub fn wait(&self) -> DeliveryResult {
        match self.wait_until(None) {
            Some(r) => r,
            None => unreachable!("waiting without a deadline returns a result"),
        }
    }

    /// Blocks up to `timeout`; None when the delivery is still pending.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<DeliveryResult> {
        self.wait_until(Some(Instant::now() + timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Option<DeliveryResult> {
        let (outcome, index, timestamp) = match &self.inner {
            Inner::Ready(r) => return Some(r.clone()),
            Inner::InBatch { outcome, index, timestamp } => (outcome, *index, *timestamp),
        };
        let mut s = outcome.lock();
        loop {
            if let Some(r) = &s.result {
                return Some(outcome.record(r, index, timestamp));
            }
            s.blocked += 1;
            s = match deadline {
                None => outcome.cv.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let Some(left) = d.checked_duration_since(Instant::now()) else {
                        s.blocked -= 1;
                        return None;
                    };
                    outcome.cv.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner()).0
                }
            };
            s.blocked -= 1;
        }
    }

    /// The result if the delivery is done.
    pub fn try_result(&self) -> Option<DeliveryResult> {
        match &self.inner {
            Inner::Ready(r) => Some(r.clone()),
            Inner::InBatch { outcome, index, timestamp } => outcome.lock().result.as_ref().map(|r| outcome.record(r, *index, *timestamp)),
        }
    }
}

impl Future for DeliveryFuture {
    type Output = DeliveryResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DeliveryResult> {
        let (outcome, index, timestamp) = match &self.inner {
            Inner::Ready(r) => return Poll::Ready(r.clone()),
            Inner::InBatch { outcome, index, timestamp } => (outcome, *index, *timestamp),
        };
        let mut s = outcome.lock();
        match &s.result {
            Some(r) => Poll::Ready(outcome.record(r, index, timestamp)),
            None => {
                if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    s.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

/// A record of a batch that has a callback, or any record when interceptors want every acknowledgement.
pub(crate) struct Entry {
    index: u32,
    timestamp: i64,
    callback: Option<Callback>,
}

pub(crate) enum Report {
    /// A record that failed before it joined a batch.
    One { result: DeliveryResult, callback: Option<Callback> },
    Batch { topic: Arc<str>, partition: i32, result: BatchResult, entries: Vec<Entry> },
}

impl Report {
    pub fn len(&self) -> usize {
        match self {
            Report::One { .. } => 1,
            Report::Batch { entries, .. } => entries.len(),
        }
    }

    /// Each record's result and callback, in the order the records were sent.
    pub fn into_records(self) -> Box<dyn Iterator<Item = (DeliveryResult, Option<Callback>)>> {
        match self {
            Report::One { result, callback } => Box::new(std::iter::once((result, callback))),
            Report::Batch { topic, partition, result, entries } => Box::new(
                entries.into_iter().map(move |e| (record_result(&topic, partition, &result, e.index, e.timestamp), e.callback)),
            ),
        }
    }
}

#[derive(Default)]
pub(crate) struct HostState {
    pub reports: VecDeque<Report>,
    /// Ids of batches not yet done (`flush` waits for those opened before it).
    pub incomplete: BTreeSet<u64>,
    /// Threads blocked in `poll`/`flush` on `Host::cv`: completions signal it only when there are some.
    pub blocked: usize,
}

/// The caller-facing side: the report queue and the set of incomplete batches.
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

    /// A record that failed before joining a batch: its future is already done; its report is queued.
    pub fn fail_now(&self, e: ClientError, callback: Option<Callback>) -> DeliveryFuture {
        let result = Err(e);
        if callback.is_some() || self.report_all {
            let blocked = {
                let mut s = self.lock();
                s.reports.push_back(Report::One { result: result.clone(), callback });
                s.blocked
            };
            if blocked > 0 {
                self.cv.notify_all();
            }
        }
        DeliveryFuture::ready(result)
    }
}

/// The delivery side of one batch. Dropped without `finish` (e.g. its task was cancelled at close), it completes
/// with `ClientError::Closed`, so no future or callback is ever left hanging.
pub(crate) struct BatchDelivery {
    id: u64,
    outcome: Arc<Outcome>,
    entries: Vec<Entry>,
    host: Arc<Host>,
    done: bool,
}

impl BatchDelivery {
    pub fn new(host: &Arc<Host>, id: u64, topic: Arc<str>, partition: i32) -> BatchDelivery {
        host.lock().incomplete.insert(id);
        let outcome = Arc::new(Outcome { topic, partition, state: Mutex::default(), cv: Condvar::new() });
        BatchDelivery { id, outcome, entries: Vec::new(), host: host.clone(), done: false }
    }

    /// The future of the batch's record number `index`.
    pub fn add(&mut self, index: u32, timestamp: i64, callback: Option<Callback>) -> DeliveryFuture {
        if callback.is_some() || self.host.report_all {
            self.entries.push(Entry { index, timestamp, callback });
        }
        DeliveryFuture { inner: Inner::InBatch { outcome: self.outcome.clone(), index, timestamp } }
    }

    pub fn finish(mut self, result: BatchResult) {
        self.complete(result);
    }

    fn complete(&mut self, result: BatchResult) {
        if self.done {
            return;
        }
        self.done = true;
        let entries = std::mem::take(&mut self.entries);
        let report = (!entries.is_empty()).then(|| Report::Batch {
            topic: self.outcome.topic.clone(),
            partition: self.outcome.partition,
            result: result.clone(),
            entries,
        });
        self.outcome.set(result);
        let blocked = {
            let mut s = self.host.lock();
            if let Some(r) = report {
                s.reports.push_back(r);
            }
            s.incomplete.remove(&self.id);
            s.blocked
        };
        if blocked > 0 {
            self.host.cv.notify_all();
        }
    }
}

impl Drop for BatchDelivery {
    fn drop(&mut self) {
        self.complete(Err(ClientError::Closed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_a_batch_get_consecutive_offsets_and_their_own_timestamps() {
        let host = Host::new(false);
        let mut d = BatchDelivery::new(&host, 7, "t".into(), 2);
        let futs: Vec<_> = (0..3).map(|i| d.add(i, 100 + i as i64, None)).collect();
        assert!(futs[0].try_result().is_none());
        assert!(host.lock().incomplete.contains(&7));
        d.finish(Ok((40, -1)));
        let got: Vec<_> = futs.iter().map(|f| f.wait().unwrap()).map(|m| (m.topic, m.partition, m.offset, m.timestamp)).collect();
        assert_eq!(got, vec![("t".into(), 2, 40, 100), ("t".into(), 2, 41, 101), ("t".into(), 2, 42, 102)]);
        assert!(host.lock().incomplete.is_empty());
        assert!(host.lock().reports.is_empty(), "no callbacks, no interceptors: nothing to report");
    }

    #[test]
    fn log_append_time_and_acks_zero() {
        let host = Host::new(true);
        let mut d = BatchDelivery::new(&host, 1, "t".into(), 0);
        let f = d.add(0, 5, None);
        d.finish(Ok((-1, 999)));
        let md = f.wait().unwrap();
        assert_eq!((md.offset, md.timestamp), (-1, 999));
        let report = host.lock().reports.pop_front().expect("interceptors get a report for every record");
        assert_eq!(report.len(), 1);
    }

    #[test]
    fn dropped_batch_fails_its_records_with_closed_and_runs_callbacks() {
        let host = Host::new(false);
        let mut d = BatchDelivery::new(&host, 1, "t".into(), 0);
        let f = d.add(0, 5, Some(Box::new(|r| assert!(matches!(r, Err(ClientError::Closed))))));
        drop(d);
        assert!(matches!(f.wait_timeout(Duration::from_secs(1)), Some(Err(ClientError::Closed))));
        let report = host.lock().reports.pop_front().expect("the callback is queued");
        for (result, cb) in report.into_records() {
            cb.expect("callback")(result);
        }
    }

    #[test]
    fn wait_timeout_on_a_pending_record() {
        let host = Host::new(false);
        let mut d = BatchDelivery::new(&host, 1, "t".into(), 0);
        let f = d.add(0, 5, None);
        assert!(f.wait_timeout(Duration::from_millis(10)).is_none());
        d.finish(Err(ClientError::Timeout(5)));
        assert!(matches!(f.wait_timeout(Duration::from_millis(10)), Some(Err(ClientError::Timeout(5)))));
    }
}
