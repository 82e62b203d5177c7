//! A minimal blocking Kafka wire client for end-to-end tests of the broker, built from `kafka-protocol`'s
//! request/response types.
#![allow(dead_code)]

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
    pub fn connect(broker: &Broker) -> Wire {
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
