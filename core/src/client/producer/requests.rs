//! Produce requests to each broker, in order. Several requests may be in flight to a broker (up to
//! `max.in.flight.requests.per.connection`), and a partition may have a batch in several of them, so two things
//! must hold for its records to stay in order: requests go on the wire in the order the sender drained them,
//! and their outcomes are handled in that order too (Kafka calls a partition's callbacks in send order).
//!
//! One task per broker writes that broker's requests one after another and hands each response wait to a task
//! of its own; finished requests come back numbered, and [`Requests::finished`] releases them in number order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::mpsc;

use super::accumulator::Batch;
use super::Shared;
use crate::client::ClientError;

/// A finished request: its batches and the broker's answer (None for acks=0).
pub(crate) struct Done {
    pub node: i32,
    pub batches: Vec<Batch>,
    pub result: Result<Option<ProduceResponse>, ClientError>,
}

/// A finished request with its number among the requests to its broker.
pub(crate) type Numbered = (u64, Done);

struct Job {
    no: u64,
    batches: Vec<Batch>,
}

#[derive(Default)]
struct Node {
    pipe: Option<mpsc::UnboundedSender<Job>>,
    next_no: u64,
    /// The number of the oldest request not yet released.
    next_release: u64,
    /// Finished out of order, waiting for an older one.
    waiting: BTreeMap<u64, Done>,
    in_flight: usize,
}

pub(crate) struct Requests {
    shared: Arc<Shared>,
    nodes: HashMap<i32, Node>,
    finished_tx: mpsc::UnboundedSender<Numbered>,
}

impl Requests {
    pub fn new(shared: Arc<Shared>, finished_tx: mpsc::UnboundedSender<Numbered>) -> Requests {
        Requests { shared, nodes: HashMap::new(), finished_tx }
    }

    /// Requests sent to `node` and not yet released by `finished`.
    pub fn in_flight(&self, node: i32) -> usize {
        self.nodes.get(&node).map_or(0, |n| n.in_flight)
    }

    pub fn total_in_flight(&self) -> usize {
        self.nodes.values().map(|n| n.in_flight).sum()
    }

    /// Queues a request for `node`; it goes on the wire after every request queued for `node` before it.
    pub fn send(&mut self, node: i32, batches: Vec<Batch>) {
        let n = self.nodes.entry(node).or_default();
        let no = n.next_no;
        n.next_no += 1;
        n.in_flight += 1;
        let pipe = n.pipe.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(pipe(self.shared.clone(), node, rx, self.finished_tx.clone()));
            tx
        });
        if let Err(mpsc::error::SendError(job)) = pipe.send(Job { no, batches }) {
            // The broker's task is gone (only when the runtime is shutting down): fail the request.
            n.pipe = None;
            let reason = "the producer is shutting down".to_string();
            let done = Done { node, batches: job.batches, result: Err(ClientError::Connection { addr: format!("broker {node}"), reason }) };
            let _ = self.finished_tx.send((no, done));
        }
    }

    /// Takes a finished request; returns the requests to handle now, oldest first.
    pub fn finished(&mut self, (no, done): Numbered) -> Vec<Done> {
        self.nodes.entry(done.node).or_default().release(no, done)
    }
}

impl Node {
    fn release(&mut self, no: u64, done: Done) -> Vec<Done> {
        self.waiting.insert(no, done);
        let mut ready = Vec::new();
        while let Some(done) = self.waiting.remove(&self.next_release) {
            self.next_release += 1;
            self.in_flight = self.in_flight.saturating_sub(1);
            ready.push(done);
        }
        ready
    }
}

fn produce_request(shared: &Shared, batches: &[Batch]) -> ProduceRequest {
    let cfg = &shared.config;
    let mut topics: BTreeMap<&str, Vec<PartitionProduceData>> = BTreeMap::new();
    for b in batches {
        topics.entry(&*b.tp.0).or_default().push(PartitionProduceData::default().with_index(b.tp.1).with_records(b.built.clone()));
    }
    ProduceRequest::default()
        .with_acks(cfg.acks)
        .with_timeout_ms(cfg.request_timeout.as_millis().min(i32::MAX as u128) as i32)
        .with_topic_data(
            topics
                .into_iter()
                .map(|(t, parts)| TopicProduceData::default().with_name(TopicName(StrBytes::from_string(t.to_string()))).with_partition_data(parts))
                .collect(),
        )
}

/// Writes `node`'s requests in the order they come; `request.timeout.ms` bounds each from its turn to its answer.
async fn pipe(shared: Arc<Shared>, node: i32, mut jobs: mpsc::UnboundedReceiver<Job>, finished: mpsc::UnboundedSender<Numbered>) {
    let timeout = shared.config.request_timeout;
    let timed_out = move || ClientError::Timeout(timeout.as_millis() as u64);
    while let Some(Job { no, batches }) = jobs.recv().await {
        let deadline = tokio::time::Instant::now() + timeout;
        let req = produce_request(&shared, &batches);
        let written = tokio::time::timeout_at(deadline, async {
            let conn = shared.cluster.broker(node).await?;
            if shared.config.acks == 0 {
                conn.send_no_response(ApiKey::Produce, conn.negotiated(ApiKey::Produce)?, &req).await?;
                return Ok(None);
            }
            Ok(Some(conn.start::<_, ProduceResponse>(ApiKey::Produce, &req).await?))
        })
        .await
        .unwrap_or_else(|_| Err(timed_out()));
        match written {
            Ok(Some(response)) => {
                let finished = finished.clone();
                tokio::spawn(async move {
                    let result = tokio::time::timeout_at(deadline, response).await.unwrap_or_else(|_| Err(timed_out())).map(Some);
                    let _ = finished.send((no, Done { node, batches, result }));
                });
            }
            Ok(None) => {
                let _ = finished.send((no, Done { node, batches, result: Ok(None) }));
            }
            Err(e) => {
                let _ = finished.send((no, Done { node, batches, result: Err(e) }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done() -> Done {
        Done { node: 1, batches: Vec::new(), result: Ok(None) }
    }

    #[test]
    fn finished_requests_are_released_in_the_order_they_were_sent() {
        let mut n = Node { in_flight: 3, next_no: 3, ..Node::default() };
        assert!(n.release(2, done()).is_empty());
        assert!(n.release(1, done()).is_empty());
        assert_eq!(n.in_flight, 3);
        assert_eq!(n.release(0, done()).len(), 3);
        assert_eq!(n.in_flight, 0);
        n.in_flight = 1;
        assert_eq!(n.release(3, done()).len(), 1);
    }
}
