//! Consumer interceptors: an ordered chain (Java's `ConsumerInterceptor`); a panicking interceptor is logged and
//! skipped, never propagated.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::client::panic_message;

use super::{ConsumerRecord, TopicPartition};

/// Kafka's `ConsumerInterceptor`. `on_consume` runs inside `Consumer::poll` on the caller's thread, just before
/// the records are returned, and may replace them. `on_commit` runs after a commit succeeded: on the thread that
/// called `commit_sync`/`close`, or inside `poll` for asynchronous and automatic commits.
pub trait ConsumerInterceptor: Send + Sync {
    fn on_consume(&self, records: Vec<ConsumerRecord>) -> Vec<ConsumerRecord> {
        records
    }
    fn on_commit(&self, _offsets: &BTreeMap<TopicPartition, i64>) {}
    fn close(&self) {}
}

#[derive(Default)]
pub(crate) struct InterceptorChain {
    chain: Vec<Box<dyn ConsumerInterceptor>>,
}

impl InterceptorChain {
    pub(crate) fn push(&mut self, i: Box<dyn ConsumerInterceptor>) {
        self.chain.push(i);
    }

    /// Each interceptor gets the previous one's output; one that panics is skipped (its input is passed on).
    pub(crate) fn on_consume(&self, mut records: Vec<ConsumerRecord>) -> Vec<ConsumerRecord> {
        for (i, ic) in self.chain.iter().enumerate() {
            let input = records.clone();
            match catch_unwind(AssertUnwindSafe(|| ic.on_consume(input))) {
                Ok(r) => records = r,
                Err(p) => tracing::warn!(interceptor = i, "consumer interceptor on_consume panicked, skipped: {}", panic_message(&*p)),
            }
        }
        records
    }

    pub(crate) fn on_commit(&self, offsets: &BTreeMap<TopicPartition, i64>) {
        for (i, ic) in self.chain.iter().enumerate() {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| ic.on_commit(offsets))) {
                tracing::warn!(interceptor = i, "consumer interceptor on_commit panicked, skipped: {}", panic_message(&*p));
            }
        }
    }

    pub(crate) fn close(&self) {
        for (i, ic) in self.chain.iter().enumerate() {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| ic.close())) {
                tracing::warn!(interceptor = i, "consumer interceptor close panicked: {}", panic_message(&*p));
            }
        }
    }
}
