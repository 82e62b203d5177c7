//! A minimal blocking Kafka wire client for end-to-end tests of the broker, built from `kafka-protocol`'s
//! request/response types.
#![allow(dead_code)]

mod proxy;
#[allow(unused_imports)]
pub use proxy::Proxy;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use streamlet::protocol::codec::encode_request;
use streamlet::record::{BatchBuilder, Compression};
use streamlet::{Broker, BrokerBuilder};

pub struct Wire {
    pub stream: TcpStream,
    correlation: i32,
}

impl Wire {
    pub fn connect(broker: &impl Bootstrap) -> Wire {
        Self::connect_addr(&broker.bootstrap_servers())
    }

    pub fn connect_addr(addr: &str) -> Wire {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        stream.set_nodelay(true).unwrap();
        Wire { stream, correlation: 0 }
    }

    pub fn send_raw(&mut self, frame: &[u8]) {
        self.stream.write_all(frame).unwrap();
    }

    /// Reads one response frame; None when the broker closed the connection.
    pub fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).ok()?;
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut buf).ok()?;
        Some(Bytes::from(buf))
    }

    pub fn send<Req, Resp>(&mut self, api: ApiKey, version: i16, req: &Req) -> Resp
    where
        Req: Encodable + HeaderVersion,
        Resp: Decodable + HeaderVersion,
    {
        self.correlation += 1;
        let frame = encode_request(api, version, self.correlation, Some("streamlet-test"), req).unwrap();
        self.send_raw(&frame);
        let mut resp = self.read_frame().unwrap_or_else(|| panic!("{api:?} v{version}: connection closed"));
        let header = ResponseHeader::decode(&mut resp, Resp::header_version(version)).unwrap();
        assert_eq!(header.correlation_id, self.correlation);
        Resp::decode(&mut resp, version).unwrap()
    }

    pub fn create_topic(&mut self, name: &str, partitions: i32) -> i16 {
        let req = CreateTopicsRequest::default().with_topics(vec![create_topics_request::CreatableTopic::default()
            .with_name(topic(name))
            .with_num_partitions(partitions)
            .with_replication_factor(1)])
        .with_timeout_ms(5000);
        let resp: CreateTopicsResponse = self.send(ApiKey::CreateTopics, 7, &req);
        resp.topics[0].error_code
    }

    pub fn produce(&mut self, version: i16, acks: i16, topic_name: &str, partition: i32, batch: Vec<u8>) -> produce_response::PartitionProduceResponse {
        let req = produce_request(acks, topic_name, partition, batch);
        let resp: ProduceResponse = self.send(ApiKey::Produce, version, &req);
        resp.responses[0].partition_responses[0].clone()
    }

    pub fn fetch(&mut self, version: i16, topic_name: &str, partition: i32, offset: i64, max_wait_ms: i32, min_bytes: i32) -> fetch_response::PartitionData {
        let req = fetch_request(topic_name, partition, offset, max_wait_ms, min_bytes, 1 << 20);
        let resp: FetchResponse = self.send(ApiKey::Fetch, version, &req);
        assert_eq!(resp.error_code, 0);
        resp.responses[0].partitions[0].clone()
    }

    pub fn list_offset(&mut self, version: i16, topic_name: &str, partition: i32, timestamp: i64) -> list_offsets_response::ListOffsetsPartitionResponse {
        let req = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
            list_offsets_request::ListOffsetsTopic::default().with_name(topic(topic_name)).with_partitions(vec![
                list_offsets_request::ListOffsetsPartition::default().with_partition_index(partition).with_timestamp(timestamp),
            ]),
        ]);
        let resp: ListOffsetsResponse = self.send(ApiKey::ListOffsets, version, &req);
        resp.topics[0].partitions[0].clone()
    }
}

pub fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

pub fn produce_request(acks: i16, topic_name: &str, partition: i32, batch: Vec<u8>) -> ProduceRequest {
    ProduceRequest::default().with_acks(acks).with_timeout_ms(5000).with_topic_data(vec![
        produce_request::TopicProduceData::default().with_name(topic(topic_name)).with_partition_data(vec![
            produce_request::PartitionProduceData::default().with_index(partition).with_records(Some(Bytes::from(batch))),
        ]),
    ])
}

pub fn fetch_request(topic_name: &str, partition: i32, offset: i64, max_wait_ms: i32, min_bytes: i32, max_bytes: i32) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(min_bytes)
        .with_max_bytes(max_bytes)
        .with_session_epoch(-1)
        .with_topics(vec![fetch_request::FetchTopic::default().with_topic(topic(topic_name)).with_partitions(vec![
            fetch_request::FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(max_bytes),
        ])])
}

/// A batch of `n` records `key-i` / `value-i` with one header each.
pub fn batch(n: usize, compression: Compression) -> Vec<u8> {
    batch_from(0, n, compression, None)
}

pub fn batch_from(start: usize, n: usize, compression: Compression, producer: Option<(i64, i16, i32)>) -> Vec<u8> {
    let mut b = BatchBuilder::new(compression);
    if let Some((pid, epoch, seq)) = producer {
        b = b.producer(pid, epoch, seq);
    }
    for i in start..start + n {
        let key = format!("key-{i}");
        let value = format!("value-{i}");
        b.append(1_700_000_000_000 + i as i64, Some(key.as_bytes()), Some(value.as_bytes()), &[("h".to_string(), Some(Bytes::from(format!("{i}"))))]);
    }
    b.build().unwrap()
}

/// (offset, key, value) of every record in fetched bytes.
pub fn decode_records(bytes: &Bytes) -> Vec<(i64, String, String)> {
    let mut out = Vec::new();
    for batch in streamlet::record::batches(bytes.clone()) {
        let (_, batch) = batch.expect("valid batch");
        for r in streamlet::record::records(batch).expect("records") {
            let r = r.expect("record");
            let s = |b: &Option<Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).to_string()).unwrap_or_default();
            out.push((r.offset, s(&r.key), s(&r.value)));
        }
    }
    out
}

pub fn start_broker() -> Broker {
    start_broker_with(&[])
}

/// Broker logs go to the test output; `STREAMLET_LOG=debug cargo test` shows more.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STREAMLET_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

pub fn start_broker_with(props: &[(&str, &str)]) -> Broker {
    init_logging();
    let mut b = BrokerBuilder::new().listen("127.0.0.1:0");
    for (k, v) in props {
        b = b.config(*k, *v);
    }
    b.start().expect("broker starts")
}

pub fn start_broker_in(dir: &std::path::Path, props: &[(&str, &str)]) -> Broker {
    init_logging();
    let mut b = BrokerBuilder::new().listen("127.0.0.1:0").data_dir(dir);
    for (k, v) in props {
        b = b.config(*k, *v);
    }
    b.start().expect("broker starts")
}

/// Anything the tests can connect to.
pub trait Bootstrap {
    fn bootstrap_servers(&self) -> String;
}

impl Bootstrap for Broker {
    fn bootstrap_servers(&self) -> String {
        Broker::bootstrap_servers(self)
    }
}

/// The broker a client suite runs against: an embedded Streamlet broker, or the external one (Apache Kafka,
/// started by `tests/interop/test_rust_client_on_kafka.py`) named by `STREAMLET_TEST_EXTERNAL_BOOTSTRAP`.
pub enum TestBroker {
    Embedded(Broker),
    External(String),
}

impl Bootstrap for TestBroker {
    fn bootstrap_servers(&self) -> String {
        match self {
            TestBroker::Embedded(b) => b.bootstrap_servers(),
            TestBroker::External(addr) => addr.clone(),
        }
    }
}

impl TestBroker {
    pub fn bootstrap_servers(&self) -> String {
        Bootstrap::bootstrap_servers(self)
    }

    pub fn shutdown(self) {
        if let TestBroker::Embedded(b) = self {
            b.shutdown();
        }
    }
}

/// Broker settings the external broker is started with (the launcher sets them); a test asking for anything
/// else is embedded-only.
const EXTERNAL_BROKER_CONFIG: &[(&str, &str)] =
    &[("group.initial.rebalance.delay.ms", "0"), ("offsets.topic.num.partitions", "1"), ("num.partitions", "1"), ("auto.create.topics.enable", "true")];

pub fn external_bootstrap() -> Option<String> {
    std::env::var("STREAMLET_TEST_EXTERNAL_BOOTSTRAP").ok().filter(|s| !s.is_empty())
}

/// True (after saying so on stderr) when the suite runs against an external broker and this test cannot:
/// it restarts the broker or needs broker settings the external one does not have.
pub fn skip_on_external(why: &str) -> bool {
    if external_bootstrap().is_some() {
        eprintln!("SKIPPED on the external broker: {why}");
        return true;
    }
    false
}

/// The broker for a client test: embedded with `props`, or the external one, emptied of the topics and groups
/// an earlier test left (the external suite runs with --test-threads=1).
pub fn client_broker(props: &[(&str, &str)]) -> TestBroker {
    let Some(addr) = external_bootstrap() else {
        return TestBroker::Embedded(start_broker_with(props));
    };
    for (k, v) in props {
        assert!(
            EXTERNAL_BROKER_CONFIG.contains(&(*k, *v)),
            "the external broker does not run with {k}={v}: guard this test with skip_on_external"
        );
    }
    init_logging();
    // On a thread of its own: the admin client's runtime must not be dropped inside an async test's runtime.
    let a = addr.clone();
    std::thread::spawn(move || reset_external(&a)).join().expect("resetting the external broker");
    TestBroker::External(addr)
}

fn reset_external(addr: &str) {
    use streamlet::client::admin::Admin;
    let props: std::collections::BTreeMap<String, String> =
        [("bootstrap.servers".to_string(), addr.to_string()), ("request.timeout.ms".to_string(), "30000".to_string())].into();
    let admin = Admin::new(&props).expect("admin for the external broker");
    // A static member stays in its group until its session times out: retry those until they are empty.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let groups: Vec<String> = admin.list_groups().expect("list groups").into_iter().map(|g| g.0).collect();
        if groups.is_empty() {
            break;
        }
        let names: Vec<&str> = groups.iter().map(String::as_str).collect();
        let failed: Vec<String> =
            admin.delete_groups(&names).expect("delete groups").into_iter().filter_map(|(g, r)| r.err().map(|e| format!("{g}: {e}"))).collect();
        if failed.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "cannot delete groups left by an earlier test: {failed:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let topics = admin.list_topics(false).expect("list topics");
        if topics.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "topics {topics:?} are still there after deleting them");
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        let _ = admin.delete_topics(&names);
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Apache Kafka answers CreateTopics before the partition has a leader: wait until ListOffsets succeeds.
pub fn await_leader(w: &mut Wire, topic: &str, partition: i32) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let code = w.list_offset(7, topic, partition, -1).error_code;
        if code == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{topic}-{partition} has no leader (error {code})");
        std::thread::sleep(Duration::from_millis(50));
    }
}


/// Waits until `group`'s coordinator answers FindCoordinator. Apache Kafka creates __consumer_offsets on the
/// first FindCoordinator and says COORDINATOR_NOT_AVAILABLE (then NOT_COORDINATOR to group requests) until it
/// has a leader.
pub fn await_coordinator(w: &mut Wire, group: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let req = FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.to_string()));
        let code = w.send::<_, FindCoordinatorResponse>(ApiKey::FindCoordinator, 3, &req).error_code;
        if code == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no coordinator for group {group} (error {code})");
        std::thread::sleep(Duration::from_millis(50));
    }
}
