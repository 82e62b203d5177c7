//! Producer interceptors: an ordered chain; a panicking interceptor is logged and skipped, never propagated.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::client::panic_message;

use super::{ProducerRecord, RecordMetadata};
use crate::client::ClientError;

/// Kafka's `ProducerInterceptor`. `on_send` runs inside `Producer::send` on the caller's thread before the record
/// is partitioned; `on_acknowledgement` runs for every record (delivered or failed) on the thread that calls
/// `Producer::poll`/`flush`, just before the record's callback.
pub trait ProducerInterceptor: Send + Sync {
    fn on_send(&self, record: ProducerRecord) -> ProducerRecord {
        record
    }
    fn on_acknowledgement(&self, _result: &Result<RecordMetadata, ClientError>) {}
    fn close(&self) {}
}

#[derive(Default)]
pub(crate) struct InterceptorChain {
    chain: Vec<Box<dyn ProducerInterceptor>>,
}

impl InterceptorChain {
    pub(crate) fn push(&mut self, i: Box<dyn ProducerInterceptor>) {
        self.chain.push(i);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chain.is_empty()
    }

    /// Each interceptor gets the previous one's output; one that panics is skipped (its input is passed on).
    pub(crate) fn on_send(&self, mut record: ProducerRecord) -> ProducerRecord {
        for (i, ic) in self.chain.iter().enumerate() {
            let input = record.clone();
            match catch_unwind(AssertUnwindSafe(|| ic.on_send(input))) {
                Ok(r) => record = r,
                Err(p) => tracing::warn!(interceptor = i, "producer interceptor on_send panicked, skipped: {}", panic_message(&*p)),
            }
        }
        record
    }

    pub(crate) fn on_acknowledgement(&self, result: &Result<RecordMetadata, ClientError>) {
        for (i, ic) in self.chain.iter().enumerate() {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| ic.on_acknowledgement(result))) {
                tracing::warn!(interceptor = i, "producer interceptor on_acknowledgement panicked, skipped: {}", panic_message(&*p));
            }
        }
    }

    pub(crate) fn close(&self) {
        for (i, ic) in self.chain.iter().enumerate() {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| ic.close())) {
                tracing::warn!(interceptor = i, "producer interceptor close panicked: {}", panic_message(&*p));
            }
        }
    }
}
