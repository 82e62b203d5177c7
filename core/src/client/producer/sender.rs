//! The sender task: metadata upkeep, producer id, draining ready batches into ProduceRequests per leader,
//! retries, expiry and completion. It alone mutates sequence state; the accumulator is shared with `send`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use tokio::sync::mpsc;

use super::accumulator::{Accumulator, Batch, PartQueue, Tp};
use super::requests::{Done, Numbered, Requests};
use super::{ProducerConfig, Shared};
use crate::client::ClientError;
use crate::protocol::ErrorCode;

struct Sender {
    shared: Arc<Shared>,
    requests: Requests,
    idempotent: bool,
    producer_id: i64,
    epoch: i16,
    next_seq: HashMap<Tp, i32>,
    bump_required: bool,
    last_pid_attempt: Option<Instant>,
    last_metadata_attempt: Option<Instant>,
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Numbered>();
    let mut s = Sender {
        idempotent: shared.config.enable_idempotence,
        requests: Requests::new(shared.clone(), tx),
        shared,
        producer_id: -1,
        epoch: -1,
        next_seq: HashMap::new(),
        bump_required: false,
        last_pid_attempt: None,
        last_metadata_attempt: None,
    };
    loop {
        s.maybe_refresh_metadata().await;
        s.maybe_init_producer_id().await;
        let now = Instant::now();
        s.expire(now);
        let next = s.drain(now);
        if s.finished() {
            break;
        }
        tokio::select! {
            _ = s.shared.wake.notified() => {}
            Some(done) = rx.recv() => s.finished_request(done),
            _ = tokio::time::sleep(next) => {}
        }
        while let Ok(done) = rx.try_recv() {
            s.finished_request(done);
        }
    }
    tracing::debug!("producer sender stopped");
}

fn is_ambiguous(e: &ClientError) -> bool {
    // The request may or may not have been written.
    matches!(e, ClientError::Connection { .. } | ClientError::Timeout(_))
}

fn kafka_code(e: &ClientError) -> Option<ErrorCode> {
    match e {
        ClientError::Kafka { code, .. } => Some(*code),
        _ => None,
    }
}

impl Sender {
    fn total_in_flight(&self) -> usize {
        self.requests.total_in_flight()
    }

    fn finished_request(&mut self, done: Numbered) {
        for d in self.requests.finished(done) {
            self.complete(d);
        }
    }

    fn finished(&self) -> bool {
        let acc = self.shared.lock_acc();
        acc.closing && acc.is_empty() && self.total_in_flight() == 0
    }

    async fn maybe_refresh_metadata(&mut self) {
        let cfg = &self.shared.config;
        let stale = self.shared.cluster.metadata_age().is_none_or(|a| a >= cfg.metadata_max_age);
        let wanted = self.shared.need_metadata.load(Ordering::Acquire) || stale;
        let topics: Vec<String> = self.shared.topics.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        if !wanted || topics.is_empty() {
            return;
        }
        if self.last_metadata_attempt.is_some_and(|t| t.elapsed() < cfg.retry_backoff) {
            return;
        }
        self.shared.need_metadata.store(false, Ordering::Release);
        self.last_metadata_attempt = Some(Instant::now());
        if let Err(e) = self.shared.cluster.refresh(Some(&topics), true).await {
            tracing::debug!(error = %e, "producer metadata refresh failed");
            self.shared.need_metadata.store(true, Ordering::Release);
        }
        *self.shared.metadata_version.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.shared.metadata_cv.notify_all();
    }

    /// InitProducerId lazily before the first batch, and for an epoch bump once nothing is in flight.
    async fn maybe_init_producer_id(&mut self) {
        if !self.idempotent {
            return;
        }
        let bump = self.bump_required && self.producer_id >= 0;
        if !(self.producer_id < 0 || bump) || (bump && self.total_in_flight() > 0) {
            return;
        }
        if self.producer_id < 0 && self.shared.lock_acc().is_empty() {
            return;
        }
        let cfg = &self.shared.config;
        if self.last_pid_attempt.is_some_and(|t| t.elapsed() < cfg.retry_backoff) {
            return;
        }
        self.last_pid_attempt = Some(Instant::now());
        let (pid, epoch) = if bump { (self.producer_id, self.epoch) } else { (-1, -1) };
        let req = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(i32::MAX)
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch);
        let timeout = cfg.request_timeout;
        let cluster = self.shared.cluster.clone();
        let call = async move {
            let conn = cluster.any_broker().await?;
            // v3+ carries the current id and epoch (KIP-360); older brokers only hand out fresh ids.
            let version = conn.negotiated(ApiKey::InitProducerId)?;
            let resp: InitProducerIdResponse = conn.send_versioned(ApiKey::InitProducerId, version, &req).await?;
            match ClientError::kafka(resp.error_code, None) {
                Some(e) => Err(e),
                None => Ok((resp.producer_id.0, resp.producer_epoch)),
            }
        };
        match tokio::time::timeout(timeout, call).await.unwrap_or(Err(ClientError::Timeout(timeout.as_millis() as u64))) {
            Ok((new_pid, new_epoch)) => {
                tracing::debug!(producer_id = new_pid, epoch = new_epoch, bump, "producer id assigned");
                self.producer_id = new_pid;
                self.epoch = new_epoch;
                self.bump_required = false;
                // A new epoch (or id) starts every partition at sequence 0: queued batches get fresh sequences.
                self.next_seq.clear();
                let mut acc = self.shared.lock_acc();
                for q in acc.queues_mut() {
                    for b in q.batches.iter_mut() {
                        if b.seq.is_some() {
                            // Re-stamped with the new sequence when drained again.
                            b.seq = None;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "InitProducerId failed; retrying"),
        }
    }

    /// Fails queued batches older than `delivery.timeout.ms` (batches in flight wait for their response).
    fn expire(&mut self, now: Instant) {
        let limit = self.shared.config.delivery_timeout;
        let mut acc = self.shared.lock_acc();
        let mut expired = Vec::new();
        for q in acc.queues_mut() {
            if !q.in_flight.is_empty() {
                continue;
            }
            while q.batches.front().is_some_and(|b| now.duration_since(b.created) >= limit) {
                expired.push(q.batches.pop_front().expect("front exists"));
            }
        }
        for b in expired {
            if self.idempotent && b.seq.is_some() {
                // Sent before and never acknowledged: the broker may have it.
                self.bump_required = true;
            }
            tracing::debug!(topic = %b.tp.0, partition = b.tp.1, records = b.count, "batch expired after delivery.timeout.ms");
            self.fail_batch(&mut acc, b, ClientError::Timeout(limit.as_millis() as u64));
        }
    }

    fn fail_batch(&self, acc: &mut Accumulator, b: Batch, e: ClientError) {
        self.shared.release_memory(acc, b.memory);
        b.delivery.finish(Err(e));
    }

    fn succeed_batch(&self, acc: &mut Accumulator, b: Batch, base_offset: i64, log_append_time: i64) {
        self.shared.release_memory(acc, b.memory);
        b.delivery.finish(Ok((base_offset, log_append_time)));
    }

    /// Sends every ready batch whose leader has room for another request. Returns how long to sleep at most.
    fn drain(&mut self, now: Instant) -> Duration {
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let mut sleep = Duration::from_millis(100);
        if self.idempotent && (self.producer_id < 0 || self.bump_required) {
            return if self.bump_required { Duration::from_millis(10) } else { cfg.retry_backoff.max(Duration::from_millis(10)) };
        }
        let md = self.shared.cluster.metadata();
        let mut acc = shared.lock_acc();
        let all_ready = acc.flushing > 0 || acc.closing || acc.memory_waiters > 0;
        let mut by_node: BTreeMap<i32, Vec<Tp>> = BTreeMap::new();
        let mut missing_leader = false;
        for (topic, partition, q) in acc.queues() {
            match sendable(q, cfg, now, all_ready) {
                Ok(()) => match md.leader(topic, partition) {
                    Some(node) => by_node.entry(node).or_default().push((topic.clone(), partition)),
                    None => missing_leader = true,
                },
                Err(Some(wait)) => sleep = sleep.min(wait),
                Err(None) => {}
            }
        }
        if missing_leader {
            self.shared.need_metadata.store(true, Ordering::Release);
            sleep = sleep.min(cfg.retry_backoff.max(Duration::from_millis(10)));
        }
        for (node, tps) in by_node {
            // Several requests per broker when its partitions have several batches ready (pipelining).
            while self.requests.in_flight(node) < cfg.max_in_flight {
                let batches = self.take_request(&mut acc, cfg, &tps, now, all_ready);
                if batches.is_empty() {
                    break;
                }
                self.requests.send(node, batches);
            }
        }
        sleep
    }

    /// One request's worth for a broker: at most one batch of each of `tps` that can go now.
    fn take_request(&mut self, acc: &mut Accumulator, cfg: &ProducerConfig, tps: &[Tp], now: Instant, all_ready: bool) -> Vec<Batch> {
        let mut batches = Vec::new();
        let mut size = 0usize;
        for tp in tps {
            let q = acc.queue_mut(tp).expect("partition listed by drain");
            if sendable(q, cfg, now, all_ready).is_err() {
                continue;
            }
            let bsize = q.batches.front().map_or(0, |b| b.size());
            if !batches.is_empty() && size + bsize > cfg.max_request_size {
                break;
            }
            let mut b = q.batches.pop_front().expect("sendable means a front batch");
            if self.idempotent && b.seq.is_none() {
                let next = self.next_seq.entry(tp.clone()).or_insert(0);
                b.seq = Some((self.producer_id, self.epoch, *next));
                if let Some(built) = b.built.take() {
                    // Built before under another epoch: only the header changes.
                    let mut v = built.to_vec();
                    crate::record::set_producer_fields(&mut v, self.producer_id, self.epoch, *next);
                    b.built = Some(Bytes::from(v));
                }
                // Kafka's sequences wrap from i32::MAX to 0.
                *next = ((*next as i64 + b.count as i64) % (i32::MAX as i64 + 1)) as i32;
            }
            if b.built.is_none() {
                // Taken, not cloned: the batch is sealed from here on and keeps only the built bytes.
                let mut builder = std::mem::replace(&mut b.builder, crate::record::BatchBuilder::new(crate::record::Compression::None));
                if let Some((pid, epoch, seq)) = b.seq {
                    builder = builder.producer(pid, epoch, seq);
                }
                match builder.build() {
                    Ok(v) => b.built = Some(Bytes::from(v)),
                    Err(e) => {
                        if let Some((_, _, seq)) = b.seq {
                            self.next_seq.insert(tp.clone(), seq);
                        }
                        let err = ClientError::Kafka { code: ErrorCode::InvalidRecord, message: Some(format!("cannot encode the batch: {e}")) };
                        self.fail_batch(acc, b, err);
                        continue;
                    }
                }
            }
            b.sealed = true;
            b.attempts += 1;
            b.retry_at = None;
            size += b.size();
            acc.queue_mut(tp).expect("partition listed by drain").in_flight.push(b.id);
            batches.push(b);
        }
        batches
    }

    fn complete(&mut self, done: Done) {
        for b in done.batches {
            let outcome: Result<(i64, i64), ClientError> = match &done.result {
                Err(e) => Err(e.clone()),
                Ok(None) => Ok((-1, -1)),
                // A request holds a handful of partitions: a linear search beats building a map.
                Ok(Some(resp)) => match resp
                    .responses
                    .iter()
                    .filter(|t| t.name.as_str() == &*b.tp.0)
                    .flat_map(|t| t.partition_responses.iter())
                    .find(|p| p.index == b.tp.1)
                {
                    None => Err(ClientError::Protocol { addr: format!("broker {}", done.node), reason: format!("no response for {}-{}", b.tp.0, b.tp.1) }),
                    Some(p) if p.error_code == 0 || p.error_code == ErrorCode::DuplicateSequenceNumber.code() => Ok((p.base_offset, p.log_append_time_ms)),
                    Some(p) => Err(ClientError::kafka(p.error_code, p.error_message.as_ref().map(|m| m.to_string())).expect("non-zero code")),
                },
            };
            self.handle_outcome(b, outcome);
        }
        self.shared.wake.notify_one();
    }

    fn handle_outcome(&mut self, mut b: Batch, outcome: Result<(i64, i64), ClientError>) {
        let cfg = &self.shared.config;
        let mut acc = self.shared.lock_acc();
        let mut earlier_pending = false;
        if let Some(q) = acc.queue_mut(&b.tp) {
            q.in_flight.retain(|&id| id != b.id);
            earlier_pending = q.has_earlier(b.id);
        }
        let e = match outcome {
            Ok((base, ts)) => return self.succeed_batch(&mut acc, b, base, ts),
            Err(e) => e,
        };
        let code = kafka_code(&e);
        let sequence_error = self.idempotent && matches!(code, Some(ErrorCode::OutOfOrderSequenceNumber) | Some(ErrorCode::UnknownProducerId));
        // OUT_OF_ORDER_SEQUENCE behind an earlier batch of the partition that is being retried is expected: the
        // broker takes this one once the earlier one is in. Only a gap nothing will fill needs a new epoch.
        let waits_for_earlier = earlier_pending && code == Some(ErrorCode::OutOfOrderSequenceNumber);
        if sequence_error && !waits_for_earlier {
            tracing::info!(topic = %b.tp.0, partition = b.tp.1, error = %e, "sequence error: bumping the producer epoch");
            self.bump_required = true;
        }
        if matches!(e, ClientError::Connection { .. })
            || matches!(code, Some(ErrorCode::NotLeaderOrFollower) | Some(ErrorCode::UnknownTopicOrPartition) | Some(ErrorCode::LeaderNotAvailable))
        {
            self.shared.need_metadata.store(true, Ordering::Release);
        }
        let expired = b.created.elapsed() >= cfg.delivery_timeout;
        let retriable = e.is_retriable() || sequence_error;
        if retriable && !expired && (b.attempts as i64) <= cfg.retries as i64 {
            tracing::debug!(topic = %b.tp.0, partition = b.tp.1, attempt = b.attempts, error = %e, "retrying batch");
            b.retry_at = Some(Instant::now() + cfg.retry_backoff);
            if let Some(q) = acc.queue_mut(&b.tp) {
                q.requeue(b);
            }
            return;
        }
        if self.idempotent {
            if let Some((_, _, seq)) = b.seq {
                let later_sequenced = acc.queue_mut(&b.tp).is_some_and(|q| !q.in_flight.is_empty() || q.batches.iter().any(|x| x.seq.is_some()));
                if retriable || is_ambiguous(&e) || later_sequenced {
                    // Unknown whether the broker has it, or later batches already carry sequences after it: only
                    // a new epoch makes the partition's sequences safe again.
                    self.bump_required = true;
                } else {
                    // Refused outright and the only sequenced batch of its partition: give the sequence back.
                    self.next_seq.insert(b.tp.clone(), seq);
                }
            }
        }
        let err = if expired { ClientError::Timeout(cfg.delivery_timeout.as_millis() as u64) } else { e };
        self.fail_batch(&mut acc, b, err);
    }
}

/// Whether the front batch of `q` goes now: Ok, or Err with how long until it may (None: when something else
/// happens, such as an earlier request of the partition finishing).
fn sendable(q: &PartQueue, cfg: &ProducerConfig, now: Instant, all_ready: bool) -> Result<(), Option<Duration>> {
    let Some(b) = q.batches.front() else { return Err(None) };
    // A retry goes alone: after the partition's requests in flight are done, so that it cannot overtake them.
    if b.attempts > 0 && !q.in_flight.is_empty() {
        return Err(None);
    }
    if let Some(at) = b.retry_at.filter(|at| *at > now) {
        return Err(Some(at - now));
    }
    let linger_end = b.created + cfg.linger;
    let ready = all_ready || b.sealed || q.batches.len() > 1 || b.builder.estimated_size() >= cfg.batch_size || now >= linger_end;
    if !ready {
        return Err(Some(linger_end - now));
    }
    Ok(())
}
