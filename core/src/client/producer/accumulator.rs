//! The record accumulator: per-partition queues of batches being filled, with `buffer.memory` accounting.
//! Shared between `Producer::send` (caller threads append) and the sender task (drains); guarded by one mutex
//! that is never held across an await.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::delivery::Pending;
use crate::record::{BatchBuilder, Compression};

/// (topic, partition)
pub(crate) type Tp = (String, i32);

pub(crate) struct Batch {
    pub tp: Tp,
    pub builder: BatchBuilder,
    pub records: Vec<Pending>,
    pub created: Instant,
    /// `buffer.memory` bytes held until the batch is done.
    pub memory: usize,
    /// Sends so far (the first send included).
    pub attempts: u32,
    pub retry_at: Option<Instant>,
    /// (producer id, epoch, base sequence), assigned when the batch is first drained; kept on retry.
    pub seq: Option<(i64, i16, i32)>,
    /// The encoded batch, kept for retries (rebuilt only when the sequence changes).
    pub built: Option<Bytes>,
    /// Drained at least once: no more appends.
    pub sealed: bool,
}

impl Batch {
    fn new(tp: Tp, compression: Compression, batch_size: usize) -> Batch {
        Batch {
            tp,
            builder: BatchBuilder::with_capacity(compression, batch_size),
            records: Vec::new(),
            created: Instant::now(),
            memory: 0,
            attempts: 0,
            retry_at: None,
            seq: None,
            built: None,
            sealed: false,
        }
    }

    pub fn size(&self) -> usize {
        self.built.as_ref().map_or_else(|| self.builder.estimated_size(), |b| b.len())
    }
}

#[derive(Default)]
pub(crate) struct PartQueue {
    pub batches: VecDeque<Batch>,
    /// A batch of this partition is in a request (partitions are muted while they have one in flight).
    pub in_flight: bool,
}

#[derive(Default)]
pub(crate) struct Accumulator {
    pub parts: HashMap<Tp, PartQueue>,
    /// Bytes of `buffer.memory` in use.
    pub used: usize,
    /// `flush` calls in progress: every batch is ready regardless of linger.
    pub flushing: usize,
    /// Callers blocked on `buffer.memory`: every batch is ready, to free memory sooner.
    pub memory_waiters: usize,
    pub closing: bool,
}

/// A record as it goes into a batch.
pub(crate) struct Appended<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [(String, Option<Bytes>)],
}

impl Accumulator {
    /// Appends to the partition's open batch, or opens a new one when it is full or sealed. Returns true when a
    /// batch was opened or became full (worth waking the sender for).
    pub fn append(&mut self, tp: Tp, rec: Appended<'_>, pending: Pending, batch_size: usize, compression: Compression) -> bool {
        let size = pending.size;
        let q = self.parts.entry(tp.clone()).or_default();
        let fits = q.batches.back().is_some_and(|b| !b.sealed && (b.records.is_empty() || b.builder.estimated_size() + size <= batch_size));
        if !fits {
            q.batches.push_back(Batch::new(tp, compression, batch_size.max(size + 128)));
        }
        let b = q.batches.back_mut().expect("a batch was just ensured");
        b.builder.append(pending.timestamp, rec.key, rec.value, rec.headers);
        b.memory += size;
        b.records.push(pending);
        self.used += size;
        !fits || b.builder.estimated_size() >= batch_size
    }

    pub fn is_empty(&self) -> bool {
        self.parts.values().all(|q| q.batches.is_empty())
    }
}
