//! Interceptors: `on_send` stamps the send time in front of each value; `on_acknowledgement` counts successes
//! and failures. Acknowledgements are served by `poll`/`flush` on this thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use streamlet::client::consumer::Consumer;
use streamlet::client::producer::{Producer, ProducerInterceptor, ProducerRecord, RecordMetadata};
use streamlet::client::ClientError;
use streamlet_examples::{check, fail, poll_n, text, Cluster, WAIT};

const COUNT: usize = 8;

struct TimestampPrefix;

impl ProducerInterceptor for TimestampPrefix {
    fn on_send(&self, mut record: ProducerRecord) -> ProducerRecord {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let old = record.value.take().unwrap_or_default();
        let mut v = format!("{now},").into_bytes();
        v.extend_from_slice(&old);
        record.value = Some(Bytes::from(v));
        record
    }
}

#[derive(Default)]
struct Counter {
    ok: AtomicUsize,
    failed: AtomicUsize,
}

struct AckCounter(Arc<Counter>);

impl ProducerInterceptor for AckCounter {
    fn on_acknowledgement(&self, result: &Result<RecordMetadata, ClientError>) {
        match result {
            Ok(_) => self.0.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.0.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
    fn close(&self) {
        println!("interceptor closed: {} acknowledged, {} failed", self.0.ok.load(Ordering::Relaxed), self.0.failed.load(Ordering::Relaxed));
    }
}

fn main() {
    let cluster = Cluster::start();
    let topic = cluster.create_topic("producer-interceptors", 1);
    let counter = Arc::new(Counter::default());
    let producer = Producer::builder(cluster.producer_config(&[]))
        .interceptor(TimestampPrefix)
        .interceptor(AckCounter(counter.clone()))
        .build()
        .unwrap_or_else(|e| fail(format!("producer: {e}")));

    for i in 0..COUNT {
        // Fire and forget: results arrive through the interceptor.
        drop(producer.send(ProducerRecord::new(topic.as_str()).value(format!("payload {i}"))));
    }
    producer.flush(WAIT).unwrap_or_else(|e| fail(format!("flush: {e}")));
    let (ok, failed) = (counter.ok.load(Ordering::Relaxed), counter.failed.load(Ordering::Relaxed));
    println!("after flush: {ok} successes, {failed} failures");
    producer.close(WAIT).unwrap_or_else(|e| fail(format!("close: {e}")));
    check(ok == COUNT && failed == 0, format!("expected {COUNT} successes and no failure, got {ok}/{failed}"));

    // Read the records back: every value carries the timestamp prefix.
    let consumer = Consumer::from_props(&[("bootstrap.servers", cluster.bootstrap()), ("auto.offset.reset", "earliest"), ("fetch.max.wait.ms", "100")])
        .unwrap_or_else(|e| fail(format!("consumer: {e}")));
    consumer.assign(&[(topic.clone(), 0)]).unwrap_or_else(|e| fail(format!("assign: {e}")));
    let records = poll_n(&consumer, COUNT);
    for (i, r) in records.iter().enumerate() {
        let v = text(&r.value);
        println!("offset {}: {v}", r.offset);
        let (ts, rest) = v.split_once(',').unwrap_or(("", ""));
        check(ts.parse::<u128>().is_ok() && rest == format!("payload {i}"), format!("value {v:?} lacks the timestamp prefix"));
    }
    consumer.close().unwrap_or_else(|e| fail(format!("close consumer: {e}")));
    println!("OK");
}
