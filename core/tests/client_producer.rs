//! The producer end to end against an embedded Streamlet broker; what landed is checked by fetching it back.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use streamlet::client::producer::{Producer, ProducerConfig, ProducerInterceptor, ProducerRecord, RecordMetadata};
use streamlet::client::ClientError;
use streamlet::protocol::ErrorCode;
use streamlet::record::{BatchHeader, Compression, Record};

const WAIT: Duration = Duration::from_secs(20);

fn producer(bootstrap: &str, props: &[(&str, &str)]) -> Producer {
    let mut all = vec![("bootstrap.servers", bootstrap)];
    all.extend_from_slice(props);
    Producer::new(ProducerConfig::from_pairs(all).expect("valid config")).expect("producer starts")
}

/// Every batch (header + records) of a partition, fetched from offset 0 to the end.
fn fetch_all(addr: &str, topic: &str, partition: i32) -> Vec<(BatchHeader, Vec<Record>)> {
    let mut w = Wire::connect_addr(addr);
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let pd = w.fetch(12, topic, partition, offset, 0, 1);
        assert_eq!(pd.error_code, 0, "fetch {topic}-{partition}");
        let Some(bytes) = pd.records.filter(|b| !b.is_empty()) else { break };
        let before = offset;
        for b in streamlet::record::batches(bytes) {
            let (h, raw) = b.expect("batch");
            offset = h.next_offset();
            let recs: Vec<Record> = streamlet::record::records(raw).expect("records").map(|r| r.expect("record")).collect();
            out.push((h, recs));
        }
        if offset == before {
            break;
        }
    }
    out
}

fn values(batches: &[(BatchHeader, Vec<Record>)]) -> Vec<String> {
    batches.iter().flat_map(|(_, rs)| rs.iter().map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).to_string())).collect()
}

/// Creates the topic and waits until every partition has a leader (Apache Kafka's metadata can name a leader
/// a moment before that broker accepts writes; an acks=0 batch sent then is lost, as with any Kafka client).
fn create(addr: &str, topic: &str, partitions: i32) {
    let mut w = Wire::connect_addr(addr);
    assert_eq!(w.create_topic(topic, partitions), 0);
    for p in 0..partitions {
        await_leader(&mut w, topic, p);
    }
}

#[test]
fn sync_send_returns_offsets_in_order() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    let p = producer(&addr, &[]);
    for i in 0..10 {
        let md = p.send(ProducerRecord::new("sync").value(format!("v{i}"))).wait().unwrap();
        assert_eq!((md.topic.as_str(), md.partition, md.offset), ("sync", 0, i));
    }
    p.close(WAIT).unwrap();
    assert_eq!(values(&fetch_all(&addr, "sync", 0)), (0..10).map(|i| format!("v{i}")).collect::<Vec<_>>());
}

#[test]
fn async_sends_with_linger_are_batched() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    create(&addr, "linger", 1);
    let p = producer(&addr, &[("linger.ms", "200")]);
    let futs: Vec<_> = (0..100).map(|i| p.send(ProducerRecord::new("linger").partition(0).value(format!("v{i}")))).collect();
    let offsets: Vec<i64> = futs.iter().map(|f| f.wait().unwrap().offset).collect();
    assert_eq!(offsets, (0..100).collect::<Vec<_>>());
    let batches = fetch_all(&addr, "linger", 0);
    assert!(batches.len() < 10, "{} batches for 100 records", batches.len());
    assert_eq!(values(&batches), (0..100).map(|i| format!("v{i}")).collect::<Vec<_>>());
    // Idempotent by default: batches carry a producer id and consecutive sequences.
    assert!(batches.iter().all(|(h, _)| h.has_producer_id()));
    let mut seq = 0;
    for (h, rs) in &batches {
        assert_eq!(h.base_sequence, seq);
        seq += rs.len() as i32;
    }
}

#[test]
fn every_codec_round_trips() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    for (name, codec) in [("none", Compression::None), ("gzip", Compression::Gzip), ("snappy", Compression::Snappy), ("lz4", Compression::Lz4), ("zstd", Compression::Zstd)] {
        let topic = format!("codec-{name}");
        let p = producer(&addr, &[("compression.type", name), ("linger.ms", "50")]);
        let futs: Vec<_> = (0..30).map(|i| p.send(ProducerRecord::new(&topic).value(format!("value-{i}-{}", "x".repeat(100))))).collect();
        p.flush(WAIT).unwrap();
        for f in futs {
            f.try_result().expect("done after flush").unwrap();
        }
        let batches = fetch_all(&addr, &topic, 0);
        assert!(batches.iter().all(|(h, _)| h.compression().unwrap() == codec), "{name}");
        assert_eq!(values(&batches).len(), 30, "{name}");
        assert_eq!(values(&batches)[29], format!("value-29-{}", "x".repeat(100)));
    }
}

#[test]
fn acks_zero_one_and_all() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    for (acks, topic) in [("0", "acks0"), ("1", "acks1"), ("all", "acksall"), ("-1", "acksm1")] {
        create(&addr, topic, 1);
        let p = producer(&addr, &[("acks", acks)]);
        let futs: Vec<_> = (0..5).map(|i| p.send(ProducerRecord::new(topic).value(format!("v{i}")))).collect();
        let offsets: Vec<i64> = futs.iter().map(|f| f.wait().unwrap().offset).collect();
        if acks == "0" {
            assert_eq!(offsets, vec![-1; 5]);
        } else {
            assert_eq!(offsets, (0..5).collect::<Vec<_>>());
        }
        p.close(WAIT).unwrap();
        let deadline = Instant::now() + WAIT;
        while values(&fetch_all(&addr, topic, 0)).len() < 5 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(values(&fetch_all(&addr, topic, 0)).len(), 5, "acks={acks}");
    }
}

#[test]
fn explicit_partition_and_keyed_records() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    create(&addr, "parts", 4);
    let p = producer(&addr, &[("linger.ms", "0")]);
    for i in 0..3 {
        let md = p.send(ProducerRecord::new("parts").partition(2).value(format!("explicit-{i}"))).wait().unwrap();
        assert_eq!((md.partition, md.offset), (2, i));
    }
    let mut key_partition = std::collections::HashMap::new();
    for round in 0..3 {
        for k in 0..8 {
            let md = p.send(ProducerRecord::new("parts").key(format!("key-{k}")).value(format!("{round}"))).wait().unwrap();
            assert_eq!(*key_partition.entry(k).or_insert(md.partition), md.partition, "key-{k} moved");
            // The Java client's murmur2 placement, so mixed producers agree on where a key lives.
            assert_eq!(md.partition, streamlet::client::partitioner::partition_for_key(format!("key-{k}").as_bytes(), 4));
        }
    }
    // Keyless records stick to one partition until about batch.size bytes went there (KIP-794).
    let keyless: std::collections::HashSet<i32> = (0..8).map(|i| p.send(ProducerRecord::new("parts").value(format!("{i}"))).wait().unwrap().partition).collect();
    assert_eq!(keyless.len(), 1, "sticky: small keyless records share a partition");
    let rr = producer(&addr, &[("linger.ms", "0"), ("partitioner.class", "org.apache.kafka.clients.producer.RoundRobinPartitioner")]);
    let spread: std::collections::HashSet<i32> = (0..8).map(|i| rr.send(ProducerRecord::new("parts").value(format!("{i}"))).wait().unwrap().partition).collect();
    assert_eq!(spread.len(), 4, "round-robin covers every partition");
    rr.close(WAIT).unwrap();
    // Out of range explicit partition fails at once.
    let e = p.send(ProducerRecord::new("parts").partition(9).value("x")).wait().unwrap_err();
    assert!(matches!(e, ClientError::Kafka { code: ErrorCode::UnknownTopicOrPartition, .. }), "{e:?}");
    p.close(WAIT).unwrap();
    assert_eq!(values(&fetch_all(&addr, "parts", 2))[..3], ["explicit-0", "explicit-1", "explicit-2"]);
}

#[test]
fn headers_and_timestamps_round_trip() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    let p = producer(&addr, &[]);
    let rec = ProducerRecord::new("hdr")
        .key("k")
        .value("v")
        .header("a", Some(Bytes::from_static(b"1")))
        .header("null", None)
        .timestamp(1_600_000_000_123);
    let md = p.send(rec).wait().unwrap();
    assert_eq!(md.timestamp, 1_600_000_000_123);
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let md2 = p.send(ProducerRecord::new("hdr").value("now")).wait().unwrap();
    assert!(md2.timestamp >= before - 1000, "default timestamp is the send time");
    let batches = fetch_all(&addr, "hdr", 0);
    let r = &batches[0].1[0];
    assert_eq!(r.timestamp, 1_600_000_000_123);
    assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
    assert_eq!(r.headers, vec![("a".to_string(), Some(Bytes::from_static(b"1"))), ("null".to_string(), None)]);
    assert_eq!(batches[1].1[0].timestamp, md2.timestamp);
}

#[test]
fn flush_waits_for_everything() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    let p = producer(&addr, &[("linger.ms", "60000")]);
    let futs: Vec<_> = (0..200).map(|i| p.send(ProducerRecord::new("flush").value(format!("v{i}")))).collect();
    std::thread::sleep(Duration::from_millis(100));
    assert!(futs.iter().all(|f| f.try_result().is_none()), "linger holds them back");
    let t = Instant::now();
    p.flush(WAIT).unwrap();
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(futs.iter().all(|f| matches!(f.try_result(), Some(Ok(_)))));
    assert_eq!(values(&fetch_all(&addr, "flush", 0)).len(), 200);
}

#[test]
fn callbacks_run_only_inside_poll_and_flush_on_the_callers_thread() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    let p = producer(&addr, &[]);
    let me = std::thread::current().id();
    let seen: Arc<Mutex<Vec<(std::thread::ThreadId, i64)>>> = Arc::default();
    let mut futs = Vec::new();
    for i in 0..10 {
        let seen = seen.clone();
        futs.push(p.send_with_callback(ProducerRecord::new("cb").value(format!("{i}")), move |r| {
            seen.lock().unwrap().push((std::thread::current().id(), r.unwrap().offset));
        }));
    }
    // Futures complete without poll; callbacks wait for it.
    for f in &futs {
        f.wait().unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(seen.lock().unwrap().is_empty());
    let mut served = 0;
    let deadline = Instant::now() + WAIT;
    while served < 10 && Instant::now() < deadline {
        served += p.poll(Duration::from_millis(100));
    }
    assert_eq!(served, 10);
    let seen_now = seen.lock().unwrap().clone();
    assert_eq!(seen_now.iter().map(|(_, o)| *o).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    assert!(seen_now.iter().all(|(t, _)| *t == me));
    assert_eq!(p.poll(Duration::ZERO), 0);

    // flush serves callbacks too, on its caller's thread.
    let seen2 = seen.clone();
    p.send_with_callback(ProducerRecord::new("cb").value("last"), move |_| seen2.lock().unwrap().push((std::thread::current().id(), -7)));
    p.flush(WAIT).unwrap();
    assert_eq!(seen.lock().unwrap().last().copied(), Some((me, -7)));
}

struct Upper;
impl ProducerInterceptor for Upper {
    fn on_send(&self, mut r: ProducerRecord) -> ProducerRecord {
        r.value = r.value.map(|v| Bytes::from(String::from_utf8_lossy(&v).to_uppercase()));
        r.headers.push(("intercepted".into(), None));
        r
    }
}

struct Panicky;
impl ProducerInterceptor for Panicky {
    fn on_send(&self, _r: ProducerRecord) -> ProducerRecord {
        panic!("interceptor bug")
    }
    fn on_acknowledgement(&self, _r: &Result<RecordMetadata, ClientError>) {
        panic!("interceptor bug")
    }
}

#[derive(Clone, Default)]
struct Counting {
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    thread: Arc<Mutex<Option<std::thread::ThreadId>>>,
}
impl ProducerInterceptor for Counting {
    fn on_acknowledgement(&self, r: &Result<RecordMetadata, ClientError>) {
        *self.thread.lock().unwrap() = Some(std::thread::current().id());
        match r {
            Ok(_) => self.ok.fetch_add(1, Ordering::SeqCst),
            Err(_) => self.failed.fetch_add(1, Ordering::SeqCst),
        };
    }
    fn close(&self) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn interceptors_replace_records_see_every_ack_and_panics_are_skipped() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    let counting = Counting::default();
    let cfg = ProducerConfig::from_pairs([("bootstrap.servers", addr.as_str()), ("max.request.size", "1000")]).unwrap();
    let p = Producer::builder(cfg).interceptor(Panicky).interceptor(Upper).interceptor(counting.clone()).build().unwrap();
    for i in 0..5 {
        p.send(ProducerRecord::new("icpt").value(format!("hello-{i}")));
    }
    let big = p.send(ProducerRecord::new("icpt").value(vec![0u8; 5000]));
    assert!(big.wait().is_err());
    p.flush(WAIT).unwrap();
    assert_eq!(counting.ok.load(Ordering::SeqCst), 5);
    assert_eq!(counting.failed.load(Ordering::SeqCst), 1);
    assert_eq!(*counting.thread.lock().unwrap(), Some(std::thread::current().id()));
    p.close(WAIT).unwrap();
    assert_eq!(counting.closed.load(Ordering::SeqCst), 1);
    let batches = fetch_all(&addr, "icpt", 0);
    assert_eq!(values(&batches), (0..5).map(|i| format!("HELLO-{i}")).collect::<Vec<_>>());
    assert_eq!(batches[0].1[0].headers, vec![("intercepted".to_string(), None)]);
}

#[test]
fn full_buffer_blocks_send_then_fails_after_max_block() {
    if skip_on_external("needs auto.create.topics.enable=false") {
        return;
    }
    let broker = start_broker_with(&[("auto.create.topics.enable", "false")]);
    let addr = broker.bootstrap_servers();
    let p = producer(&addr, &[("buffer.memory", "4000"), ("max.block.ms", "500"), ("linger.ms", "0")]);
    // An absent topic with an explicit partition: the records wait in the accumulator.
    let held: Vec<_> = (0..3).map(|_| p.send(ProducerRecord::new("absent").partition(0).value(vec![1u8; 1000]))).collect();
    let t = Instant::now();
    let r = p.send(ProducerRecord::new("absent").partition(0).value(vec![1u8; 1000])).wait();
    let took = t.elapsed();
    assert!(matches!(r, Err(ClientError::Timeout(500))), "{r:?}");
    assert!(took >= Duration::from_millis(450) && took < Duration::from_secs(5), "{took:?}");
    assert!(held.iter().all(|f| f.try_result().is_none()));
    p.close(Duration::ZERO).ok();
    assert!(held.iter().all(|f| matches!(f.wait_timeout(WAIT), Some(Err(ClientError::Closed)))));
}

#[test]
fn record_larger_than_max_request_size_fails() {
    let broker = client_broker(&[]);
    let p = producer(&broker.bootstrap_servers(), &[("max.request.size", "1024")]);
    match p.send(ProducerRecord::new("big").value(vec![0u8; 2000])).wait() {
        Err(ClientError::Kafka { code: ErrorCode::MessageTooLarge, message: Some(m) }) => {
            assert!(m.contains("2") && m.contains("max.request.size"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    // Small records still go through.
    p.send(ProducerRecord::new("big").value("ok")).wait().unwrap();
}

#[test]
fn unknown_topic_fails_within_delivery_timeout() {
    if skip_on_external("needs auto.create.topics.enable=false") {
        return;
    }
    let broker = start_broker_with(&[("auto.create.topics.enable", "false")]);
    let p = producer(&broker.bootstrap_servers(), &[("delivery.timeout.ms", "1500"), ("request.timeout.ms", "1000"), ("linger.ms", "0"), ("max.block.ms", "700")]);
    let t = Instant::now();
    let explicit = p.send(ProducerRecord::new("nope").partition(0).value("x"));
    let r = explicit.wait();
    assert!(matches!(r, Err(ClientError::Timeout(1500))), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Without a partition, send waits for metadata up to max.block.ms.
    let t = Instant::now();
    let r = p.send(ProducerRecord::new("nope2").value("x")).wait();
    assert!(matches!(r, Err(ClientError::Timeout(700))), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn idempotent_stream_survives_broker_restart_exactly_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    if skip_on_external("restarts the broker") {
        return;
    }
    let broker = start_broker_in(dir.path(), &[]);
    let addr = broker.bootstrap_servers();
    let port = broker.local_addr().port();
    create(&addr, "idem", 1);
    // Small batches: several of them are in flight (max.in.flight.requests.per.connection=5) when the broker stops.
    let p = Arc::new(producer(&addr, &[("linger.ms", "2"), ("batch.size", "200"), ("retry.backoff.ms", "50"), ("request.timeout.ms", "5000")]));
    const N: usize = 600;
    let sender = {
        let p = p.clone();
        std::thread::spawn(move || {
            (0..N)
                .map(|i| {
                    if i % 20 == 0 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    p.send(ProducerRecord::new("idem").value(format!("{i}")))
                })
                .collect::<Vec<_>>()
        })
    };
    std::thread::sleep(Duration::from_millis(80));
    broker.shutdown();
    std::thread::sleep(Duration::from_millis(300));
    let _broker = streamlet::BrokerBuilder::new().listen(format!("127.0.0.1:{port}")).data_dir(dir.path()).start().unwrap();
    let futs = sender.join().unwrap();
    p.flush(Duration::from_secs(60)).unwrap();
    let offsets: Vec<i64> = futs.iter().map(|f| f.try_result().expect("done").expect("delivered").offset).collect();
    assert!(offsets.windows(2).all(|w| w[1] > w[0]), "offsets increase");
    let got = values(&fetch_all(&addr, "idem", 0));
    assert_eq!(got, (0..N).map(|i| format!("{i}")).collect::<Vec<_>>(), "every record once, in order");
}

/// A broker behind a proxy that holds every response `delay`, advertised at the proxy's address.
fn broker_behind_proxy(delay: Duration) -> (streamlet::Broker, Proxy) {
    let proxy = Proxy::bind(delay);
    let broker = start_broker_with(&[("advertised.listeners", &proxy.addr.to_string())]);
    proxy.forward_to(broker.local_addr());
    (broker, proxy)
}

/// Sends `n` records to partition 0 of a fresh one-partition topic, one batch every record or two; returns the
/// offsets in send order.
fn send_small_batches(proxy: &Proxy, topic: &str, n: usize, props: &[(&str, &str)]) -> Vec<i64> {
    let addr = proxy.addr.to_string();
    create(&addr, topic, 1);
    let mut all = vec![("linger.ms", "0"), ("batch.size", "100")];
    all.extend_from_slice(props);
    let p = producer(&addr, &all);
    let futs: Vec<_> = (0..n).map(|i| p.send(ProducerRecord::new(topic).partition(0).value(format!("{i:05}")))).collect();
    p.flush(WAIT).unwrap();
    futs.iter().map(|f| f.try_result().expect("flushed").expect("delivered").offset).collect()
}

#[test]
fn several_batches_of_a_partition_in_flight_keep_their_order() {
    if skip_on_external("puts a proxy in front of its own broker") {
        return;
    }
    let (_broker, proxy) = broker_behind_proxy(Duration::from_millis(2));
    // acks=all: the idempotent producer (up to 5 requests in flight, ordered by sequence numbers).
    let offsets = send_small_batches(&proxy, "piped", 400, &[]);
    assert_eq!(offsets, (0..400).collect::<Vec<_>>(), "acknowledged in send order");
    assert!(proxy.max_produce_in_flight() > 1, "never more than one Produce in flight");
    assert!(proxy.max_produce_in_flight() <= 5, "max.in.flight.requests.per.connection exceeded: {}", proxy.max_produce_in_flight());
    let got = values(&fetch_all(&proxy.addr.to_string(), "piped", 0));
    assert_eq!(got, (0..400).map(|i| format!("{i:05}")).collect::<Vec<_>>(), "every record once, in order");
}

#[test]
fn max_in_flight_one_sends_one_request_at_a_time() {
    if skip_on_external("puts a proxy in front of its own broker") {
        return;
    }
    let (_broker, proxy) = broker_behind_proxy(Duration::from_millis(1));
    let offsets = send_small_batches(&proxy, "serial", 100, &[("max.in.flight.requests.per.connection", "1"), ("acks", "1")]);
    assert_eq!(offsets, (0..100).collect::<Vec<_>>());
    assert_eq!(proxy.max_produce_in_flight(), 1);
}

#[test]
fn try_send_hands_back_what_would_block_and_send_blocked_finishes_it() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    create(&addr, "trying", 1);
    // Upper counts as the interceptor: a handed-back record must not be intercepted twice.
    let p = Producer::builder(ProducerConfig::from_pairs([("bootstrap.servers", addr.as_str()), ("linger.ms", "0")]).unwrap())
        .interceptor(Upper)
        .build()
        .unwrap();
    // The topic's metadata is not there yet: a record without a partition would wait for it.
    let blocked = match p.try_send(ProducerRecord::new("trying").value("first"), None) {
        Err(b) => b,
        Ok(_) => panic!("sent without metadata"),
    };
    assert_eq!(p.send_blocked(blocked).wait().unwrap().offset, 0);
    // Now it is known: no blocking, sent at once.
    let fut = p.try_send(ProducerRecord::new("trying").value("second"), None).ok().expect("metadata is known now");
    assert_eq!(fut.wait().unwrap().offset, 1);
    p.close(WAIT).unwrap();
    let batches = fetch_all(&addr, "trying", 0);
    assert_eq!(values(&batches), vec!["FIRST", "SECOND"]);
    let headers: Vec<usize> = batches.iter().flat_map(|(_, rs)| rs.iter().map(|r| r.headers.len())).collect();
    assert_eq!(headers, vec![1, 1], "each record intercepted once");
}

#[test]
fn try_send_does_not_wait_for_buffer_memory() {
    if skip_on_external("needs auto.create.topics.enable=false") {
        return;
    }
    let broker = start_broker_with(&[("auto.create.topics.enable", "false")]);
    let addr = broker.bootstrap_servers();
    // The partition does not exist, so nothing is ever sent and the first record keeps buffer.memory full.
    let p = producer(&addr, &[("buffer.memory", "300"), ("max.block.ms", "100")]);
    let _stuck = p.send(ProducerRecord::new("absent").partition(0).value(vec![0u8; 150]));
    let blocked = match p.try_send(ProducerRecord::new("absent").partition(0).value(vec![0u8; 150]), None) {
        Err(b) => b,
        Ok(_) => panic!("buffer.memory is full"),
    };
    assert!(matches!(p.send_blocked(blocked).wait_timeout(WAIT), Some(Err(ClientError::Timeout(100)))));
}

#[test]
fn config_errors_name_the_key() {
    let e = ProducerConfig::from_pairs([("bootstrap.servers", "127.0.0.1:1"), ("batch.size", "big")]).unwrap_err();
    assert_eq!(e.key, "batch.size");
    assert!(e.to_string().contains("batch.size"));
    let e = ProducerConfig::from_pairs([("bootstrap.servers", "127.0.0.1:1"), ("acks", "1"), ("enable.idempotence", "true")]).unwrap_err();
    assert_eq!(e.key, "acks");
    let c = ProducerConfig::from_pairs([("bootstrap.servers", "127.0.0.1:1"), ("acks", "1")]).unwrap();
    assert!(!c.enable_idempotence);
    let err: ClientError = e.into();
    assert!(err.to_string().contains("acks"));
}

#[test]
fn close_fails_what_cannot_be_sent() {
    if skip_on_external("needs auto.create.topics.enable=false") {
        return;
    }
    let broker = start_broker_with(&[("auto.create.topics.enable", "false")]);
    let p = producer(&broker.bootstrap_servers(), &[]);
    let f = p.send(ProducerRecord::new("absent").partition(0).value("x"));
    assert!(matches!(p.close(Duration::from_millis(200)), Err(ClientError::Timeout(_))));
    assert!(matches!(f.wait_timeout(WAIT), Some(Err(ClientError::Closed))));
    assert!(matches!(p.send(ProducerRecord::new("absent").value("y")).wait(), Err(ClientError::Closed)));
}

#[test]
fn out_of_order_sequence_bumps_the_epoch_and_resends() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    create(&addr, "oos", 1);
    let p = producer(&addr, &[("linger.ms", "0"), ("retry.backoff.ms", "20")]);
    p.send(ProducerRecord::new("oos").value("first")).wait().unwrap();
    let (h, _) = fetch_all(&addr, "oos", 0).remove(0);
    assert_eq!((h.producer_epoch, h.base_sequence), (0, 0));
    // Someone else writes sequences 1..=3 under our id and epoch: our next batch (sequence 1) is out of order.
    let mut w = Wire::connect_addr(&addr);
    let r = w.produce(9, -1, "oos", 0, batch_from(0, 3, Compression::None, Some((h.producer_id, 0, 1))));
    assert_eq!(r.error_code, 0);
    let md = p.send(ProducerRecord::new("oos").value("second")).wait().unwrap();
    assert_eq!(md.offset, 4);
    let batches = fetch_all(&addr, "oos", 0);
    let (last, recs) = batches.last().unwrap();
    // Streamlet bumps the epoch of the same id; Apache Kafka hands an idempotent (non-transactional) producer a
    // fresh id. Either way the sequences restart at 0.
    let renewed = (last.producer_id == h.producer_id && last.producer_epoch == 1) || (last.producer_id != h.producer_id && last.producer_epoch == 0);
    assert!(renewed && last.base_sequence == 0, "new epoch or id, sequences from 0: {last:?}");
    assert_eq!(recs[0].value.as_deref(), Some(&b"second"[..]));
    assert_eq!(values(&batches).iter().filter(|v| *v == "second").count(), 1);
    // And the stream goes on under the new epoch.
    assert_eq!(p.send(ProducerRecord::new("oos").value("third")).wait().unwrap().offset, 5);
}

#[tokio::test(flavor = "current_thread")]
async fn delivery_futures_can_be_awaited_on_another_runtime() {
    let broker = client_broker(&[]);
    let addr = broker.bootstrap_servers();
    let p = producer(&addr, &[("linger.ms", "20")]);
    let futs: Vec<_> = (0..20).map(|i| p.send(ProducerRecord::new("awaited").value(format!("{i}")))).collect();
    let mut offsets = Vec::new();
    for f in futs {
        offsets.push(tokio::time::timeout(WAIT, f).await.expect("in time").unwrap().offset);
    }
    assert_eq!(offsets, (0..20).collect::<Vec<_>>());
    // Dropping the producer inside an async context must not panic.
    drop(p);
}
