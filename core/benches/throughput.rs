//! Produce and consume throughput of an embedded broker driven by Streamlet's own producer (release build),
//! without a JVM in the way. Run: `cargo bench -p streamlet --bench throughput` (env BENCH_MB sets the volume,
//! default 512 MiB per case). Prints records/s and MB/s per case, and fetch throughput reading it all back
//! (BENCH_FETCH_PASSES times, default 3).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use streamlet::client::producer::{Producer, ProducerConfig, ProducerRecord};

fn producer(bootstrap: &str, acks: &str) -> Producer {
    let cfg = ProducerConfig::from_pairs([
        ("bootstrap.servers", bootstrap),
        ("acks", acks),
        ("linger.ms", "5"),
        ("batch.size", "1048576"),
        ("buffer.memory", "268435456"),
        ("max.request.size", "8388608"),
        ("enable.idempotence", if acks == "all" { "true" } else { "false" }),
    ])
    .expect("config");
    Producer::new(cfg).expect("producer")
}

fn produce(bootstrap: &str, topic: &str, acks: &str, size: usize, count: usize) -> f64 {
    let p = producer(bootstrap, acks);
    let value = Bytes::from(vec![b'x'; size]);
    let t = Instant::now();
    let mut last = None;
    for i in 0..count {
        last = Some(p.send(ProducerRecord::new(topic).partition((i % 4) as i32).value(value.clone())));
    }
    p.flush(Duration::from_secs(600)).expect("flush");
    last.unwrap().wait().expect("delivered");
    let secs = t.elapsed().as_secs_f64();
    p.close(Duration::from_secs(10)).unwrap();
    let mb = (count * size) as f64 / (1 << 20) as f64;
    println!("produce {size:>5} B acks={acks:<3}: {count:>8} records in {secs:6.2} s = {:>10.0} records/s, {:>7.1} MB/s", count as f64 / secs, mb / secs);
    secs
}

/// Reads partitions 0..4 to their end with 50 MiB fetches (as the Java consumer's fetch.max.bytes).
fn consume(bootstrap: &str, topic: &str, size: usize, count: usize) {
    let mut s = TcpStream::connect(bootstrap).unwrap();
    s.set_nodelay(true).unwrap();
    let mut offsets = [0i64; 4];
    let mut bytes_read = 0usize;
    let t = Instant::now();
    let mut correlation = 0;
    loop {
        let partitions: Vec<_> = (0..4)
            .map(|p| fetch_request::FetchPartition::default().with_partition(p).with_fetch_offset(offsets[p as usize]).with_partition_max_bytes(16 << 20))
            .collect();
        let req = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(50 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![fetch_request::FetchTopic::default().with_topic(TopicName(StrBytes::from_string(topic.into()))).with_partitions(partitions)]);
        correlation += 1;
        let frame = streamlet::protocol::codec::encode_request(ApiKey::Fetch, 12, correlation, None, &req).unwrap();
        s.write_all(&frame).unwrap();
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).unwrap();
        let mut b = Bytes::from(buf);
        let _ = ResponseHeader::decode(&mut b, 1).unwrap();
        let resp = FetchResponse::decode(&mut b, 12).unwrap();
        let mut done = true;
        for pd in &resp.responses[0].partitions {
            let p = pd.partition_index as usize;
            if let Some(records) = &pd.records {
                bytes_read += records.len();
                // Advance past the last whole batch (header-only walk: no record decoding in the measurement).
                for batch in streamlet::record::batches(records.clone()) {
                    let (h, _) = batch.unwrap();
                    offsets[p] = h.last_offset() + 1;
                }
            }
            if offsets[p] < pd.high_watermark {
                done = false;
            }
        }
        if done {
            break;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let mb = bytes_read as f64 / (1 << 20) as f64;
    println!("fetch   {size:>5} B         : {count:>8} records in {secs:6.2} s = {:>10.0} records/s, {:>7.1} MB/s (wire bytes)", count as f64 / secs, mb / secs);
}

fn main() {
    let total_mb: usize = std::env::var("BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    let passes: usize = std::env::var("BENCH_FETCH_PASSES").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let broker = streamlet::BrokerBuilder::new().listen("127.0.0.1:0").config("num.partitions", "4").start().expect("broker");
    let bootstrap = broker.bootstrap_servers();
    for (size, acks) in [(100usize, "1"), (1024, "1"), (1024, "all")] {
        let count = total_mb * (1 << 20) / size / if size == 100 { 4 } else { 1 };
        let topic = format!("bench-{size}-{acks}");
        produce(&bootstrap, &topic, acks, size, count);
        if acks == "1" {
            // Several passes over the same data (from the page cache): one pass is too short to time well.
            for _ in 0..passes {
                consume(&bootstrap, &topic, size, count);
            }
        }
    }
    broker.shutdown();
}
