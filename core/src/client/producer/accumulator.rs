//! The record accumulator: per-partition queues of batches being filled, with `buffer.memory` accounting.
//! Shared between `Producer::send` (caller threads append) and the sender task (drains); guarded by one mutex
//! that is never held across an await.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::delivery::{BatchDelivery, Callback, DeliveryFuture, Host};
use crate::record::{BatchBuilder, Compression};

/// (topic, partition)
pub(crate) type Tp = (Arc<str>, i32);

pub(crate) struct Batch {
    /// Batches are numbered in the order they are opened: for one partition, the order of their records.
    pub id: u64,
    pub tp: Tp,
    pub builder: BatchBuilder,
    /// Completes the records' futures and queues their reports.
    pub delivery: BatchDelivery,
    /// Records appended.
    pub count: u32,
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
    pub fn size(&self) -> usize {
        self.built.as_ref().map_or_else(|| self.builder.estimated_size(), |b| b.len())
    }
}

#[derive(Default)]
pub(crate) struct PartQueue {
    pub batches: VecDeque<Batch>,
    /// Ids of this partition's batches that are in requests now.
    pub in_flight: Vec<u64>,
}

impl PartQueue {
    /// Puts a batch back for a retry, before every later batch of the partition, so that order is kept.
    pub fn requeue(&mut self, b: Batch) {
        let at = self.batches.iter().position(|x| x.id > b.id).unwrap_or(self.batches.len());
        self.batches.insert(at, b);
    }

    /// Whether a batch of this partition opened before `id` is still unacknowledged (in flight or queued).
    pub fn has_earlier(&self, id: u64) -> bool {
        self.in_flight.iter().any(|&i| i < id) || self.batches.front().is_some_and(|b| b.id < id)
    }
}

/// A topic's queues, indexed by partition.
#[derive(Default)]
pub(crate) struct TopicQueues {
    pub topic: Arc<str>,
    pub parts: Vec<PartQueue>,
}

pub(crate) struct Accumulator {
    /// Keyed by topic name so that `send` finds a queue from the record's `&str` without allocating.
    pub topics: HashMap<Arc<str>, TopicQueues>,
    /// Bytes of `buffer.memory` in use.
    pub used: usize,
    /// `flush` calls in progress: every batch is ready regardless of linger.
    pub flushing: usize,
    /// Callers blocked on `buffer.memory`: every batch is ready, to free memory sooner.
    pub memory_waiters: usize,
    pub closing: bool,
    /// The id the next batch gets (`flush` waits for the batches below the value it read).
    pub next_batch_id: u64,
    host: Arc<Host>,
}

/// A record as it goes into a batch.
pub(crate) struct Appended<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [(String, Option<Bytes>)],
    pub timestamp: i64,
    /// Its `buffer.memory` charge (an upper bound of its encoded size).
    pub size: usize,
    pub callback: Option<Callback>,
}

impl Accumulator {
    pub fn new(host: Arc<Host>) -> Accumulator {
        Accumulator { topics: HashMap::new(), used: 0, flushing: 0, memory_waiters: 0, closing: false, next_batch_id: 0, host }
    }

    /// Appends to the partition's open batch, or opens a new one when it is full or sealed. Returns the record's
    /// future, and true when a batch was opened or became full (worth waking the sender for).
    pub fn append(&mut self, topic: &str, partition: i32, rec: Appended<'_>, batch_size: usize, compression: Compression) -> (DeliveryFuture, bool) {
        let size = rec.size;
        let tq = match self.topics.get_mut(topic) {
            Some(tq) => tq,
            None => {
                let name: Arc<str> = topic.into();
                self.topics.entry(name.clone()).or_insert(TopicQueues { topic: name, parts: Vec::new() })
            }
        };
        let index = partition as usize;
        if tq.parts.len() <= index {
            tq.parts.resize_with(index + 1, PartQueue::default);
        }
        let q = &mut tq.parts[index];
        let fits = q.batches.back().is_some_and(|b| !b.sealed && (b.count == 0 || b.builder.estimated_size() + size <= batch_size));
        if !fits {
            let id = self.next_batch_id;
            self.next_batch_id += 1;
            q.batches.push_back(Batch {
                id,
                tp: (tq.topic.clone(), partition),
                builder: BatchBuilder::with_capacity(compression, batch_size.max(size + 128)),
                delivery: BatchDelivery::new(&self.host, id, tq.topic.clone(), partition),
                count: 0,
                created: Instant::now(),
                memory: 0,
                attempts: 0,
                retry_at: None,
                seq: None,
                built: None,
                sealed: false,
            });
        }
        let b = q.batches.back_mut().expect("a batch was just ensured");
        b.builder.append(rec.timestamp, rec.key, rec.value, rec.headers);
        let fut = b.delivery.add(b.count, rec.timestamp, rec.callback);
        b.count += 1;
        b.memory += size;
        self.used += size;
        (fut, !fits || b.builder.estimated_size() >= batch_size)
    }

    pub fn queue_mut(&mut self, tp: &Tp) -> Option<&mut PartQueue> {
        self.topics.get_mut(&*tp.0).and_then(|t| t.parts.get_mut(tp.1 as usize))
    }

    /// Every partition queue with its (topic, partition).
    pub fn queues(&self) -> impl Iterator<Item = (&Arc<str>, i32, &PartQueue)> {
        self.topics.values().flat_map(|t| t.parts.iter().enumerate().map(|(p, q)| (&t.topic, p as i32, q)))
    }

    pub fn queues_mut(&mut self) -> impl Iterator<Item = &mut PartQueue> {
        self.topics.values_mut().flat_map(|t| t.parts.iter_mut())
    }

    pub fn is_empty(&self) -> bool {
        self.topics.values().all(|t| t.parts.iter().all(|q| q.batches.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(acc: &mut Accumulator, value: &[u8]) {
        let rec = Appended { key: None, value: Some(value), headers: &[], timestamp: 0, size: 100, callback: None };
        // batch.size 1: every record opens a batch of its own.
        acc.append("t", 0, rec, 1, Compression::None);
    }

    #[test]
    fn a_retried_batch_goes_back_before_later_batches_and_counts_as_earlier() {
        let mut acc = Accumulator::new(Host::new(false));
        for v in [b"a", b"b", b"c"] {
            append(&mut acc, v);
        }
        let tp: Tp = ("t".into(), 0);
        let q = acc.queue_mut(&tp).unwrap();
        let (first, second) = (q.batches.pop_front().unwrap(), q.batches.pop_front().unwrap());
        q.in_flight.extend([first.id, second.id]);
        assert!(!q.has_earlier(first.id));
        assert!(q.has_earlier(second.id), "the first batch is still in flight");
        // The first fails and comes back: it goes before the third, and the second's sequence waits for it.
        q.in_flight.retain(|&id| id != first.id);
        let first_id = first.id;
        q.requeue(first);
        assert_eq!(q.batches.front().unwrap().id, first_id);
        assert!(q.has_earlier(second.id), "the first batch is queued for a retry");
        q.in_flight.clear();
        q.requeue(second);
        let order: Vec<u64> = q.batches.iter().map(|b| b.id).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert_eq!(order.len(), 3);
    }
}
