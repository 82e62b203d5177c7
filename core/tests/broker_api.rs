//! End-to-end tests of every API the broker serves, over a real socket.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, HeaderVersion, StrBytes};
use kafka_protocol::ResponseError as E;
use streamlet::record::Compression;

#[test]
fn api_versions_lists_the_served_table() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    for v in 0..=4 {
        let resp: ApiVersionsResponse = w.send(ApiKey::ApiVersions, v, &ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("t"))
            .with_client_software_version(StrBytes::from_static_str("1")));
        assert_eq!(resp.error_code, 0);
        let produce = resp.api_keys.iter().find(|k| k.api_key == 0).unwrap();
        assert_eq!((produce.min_version, produce.max_version), (0, 10));
        let fetch = resp.api_keys.iter().find(|k| k.api_key == 1).unwrap();
        assert_eq!((fetch.min_version, fetch.max_version), (4, 12));
    }
}

#[test]
fn unsupported_api_versions_version_gets_error_35_with_v0_body() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    // ApiVersions v9, header v2: key, version, correlation, client id (null), empty tagged fields, then a body.
    let body: &[u8] = &[0, 18, 0, 9, 0, 0, 0, 77, 0xff, 0xff, 0, 1, 1, 0];
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    w.send_raw(&frame);
    let mut resp = w.read_frame().expect("an answer, not a close");
    use kafka_protocol::protocol::Decodable;
    let header = ResponseHeader::decode(&mut resp, 0).unwrap();
    assert_eq!(header.correlation_id, 77);
    let body = ApiVersionsResponse::decode(&mut resp, 0).unwrap();
    assert_eq!(body.error_code, E::UnsupportedVersion.code());
    assert_eq!(body.api_keys.len(), 1);
    assert_eq!((body.api_keys[0].api_key, body.api_keys[0].min_version, body.api_keys[0].max_version), (18, 0, 4));
}

#[test]
fn unsupported_version_closes_only_that_connection() {
    let broker = start_broker();
    let mut bad = Wire::connect(&broker);
    let mut good = Wire::connect(&broker);
    // Produce v2: header only, the broker must close without decoding further.
    let body: &[u8] = &[0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff];
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    bad.send_raw(&frame);
    assert!(bad.read_frame().is_none(), "connection must be closed");
    assert_eq!(good.create_topic("still-serving", 1), 0);
}

#[test]
fn malformed_and_hostile_frames_close_the_connection_and_nothing_else() {
    let broker = start_broker();
    let hostile: Vec<&[u8]> = vec![
        &[0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff],       // Metadata v0, 2^31-1 topics
        &[0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xff, 0x0f], // Metadata v12, compact 2^32-2
        &[0, 1, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0xff],                          // truncated Fetch
        &[0x7f, 0x7f, 0, 0, 0, 0, 0, 1],                                          // unknown API key
        &[0, 3],                                                                  // truncated header
    ];
    for body in hostile {
        let mut w = Wire::connect(&broker);
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        w.send_raw(&frame);
        assert!(w.read_frame().is_none(), "{body:?} must close the connection");
    }
    // A size prefix that lies (2 GiB) is refused before any allocation.
    let mut w = Wire::connect(&broker);
    w.send_raw(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
    assert!(w.read_frame().is_none());
    let mut good = Wire::connect(&broker);
    assert_eq!(good.create_topic("after-hostile", 1), 0);
}

#[test]
fn metadata_with_trailing_bytes_is_served_like_kafka_does() {
    // librdkafka (current source) sends its all-topics Metadata v12 with a 4-byte placeholder where the schema has
    // a 1-byte compact array count. Kafka reads the fields it knows and ignores the rest; so do we.
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    assert_eq!(w.create_topic("seen-by-rdkafka", 1), 0);
    let frame = streamlet::protocol::codec::encode_request(ApiKey::Metadata, 12, 77, Some("rdkafka"), &MetadataRequest::default().with_topics(None)).unwrap();
    let mut frame = frame.to_vec();
    frame.extend_from_slice(&[0, 0, 0]);
    let len = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    w.send_raw(&frame);
    let mut resp = w.read_frame().expect("the broker must answer, not close");
    let header = kafka_protocol::messages::ResponseHeader::decode(&mut resp, MetadataResponse::header_version(12)).unwrap();
    assert_eq!(header.correlation_id, 77);
    let body = MetadataResponse::decode(&mut resp, 12).unwrap();
    assert!(body.topics.iter().any(|t| t.name.as_ref().map(|n| n.as_str()) == Some("seen-by-rdkafka")));
    // The same connection keeps serving.
    assert_eq!(w.create_topic("after-trailing-bytes", 1), 0);
}

#[test]
fn metadata_auto_creates_and_advertises_the_real_port() {
    let broker = start_broker_with(&[("num.partitions", "3")]);
    let mut w = Wire::connect(&broker);
    for v in [0i16, 1, 4, 9, 12] {
        let name = format!("auto-{v}");
        let req = MetadataRequest::default()
            .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default().with_name(Some(topic(&name)))]))
            .with_allow_auto_topic_creation(true);
        let resp: MetadataResponse = w.send(ApiKey::Metadata, v, &req);
        assert_eq!(resp.brokers.len(), 1);
        assert_eq!(resp.brokers[0].port, broker.local_addr().port() as i32);
        assert_eq!(resp.topics[0].error_code, 0, "v{v}");
        assert_eq!(resp.topics[0].partitions.len(), 3);
        assert_eq!(resp.topics[0].partitions[0].leader_id.0, 0);
    }
    // v4+ with auto creation off: unknown.
    let req = MetadataRequest::default()
        .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default().with_name(Some(topic("nope")))]))
        .with_allow_auto_topic_creation(false);
    let resp: MetadataResponse = w.send(ApiKey::Metadata, 12, &req);
    assert_eq!(resp.topics[0].error_code, E::UnknownTopicOrPartition.code());
    // null topics: all of them.
    let resp: MetadataResponse = w.send(ApiKey::Metadata, 12, &MetadataRequest::default().with_topics(None));
    assert_eq!(resp.topics.len(), 5);
    let req = MetadataRequest::default()
        .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default().with_name(Some(topic("bad name!")))]));
    let resp: MetadataResponse = w.send(ApiKey::Metadata, 12, &req);
    assert_eq!(resp.topics[0].error_code, E::InvalidTopicException.code());
}

#[test]
fn auto_create_can_be_disabled() {
    let broker = start_broker_with(&[("auto.create.topics.enable", "false")]);
    let mut w = Wire::connect(&broker);
    let req = MetadataRequest::default()
        .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default().with_name(Some(topic("x")))]))
        .with_allow_auto_topic_creation(true);
    let resp: MetadataResponse = w.send(ApiKey::Metadata, 12, &req);
    assert_eq!(resp.topics[0].error_code, E::UnknownTopicOrPartition.code());
}

#[test]
fn produce_then_fetch_every_codec_and_version() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    assert_eq!(w.create_topic("pf", 2), 0);
    let mut expected = 0i64;
    for (i, codec) in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd].into_iter().enumerate() {
        for version in [3i16, 7, 9, 10] {
            // acks=all: consumers see what the high watermark covers, which is only what is fsynced; acks=1
            // data becomes visible a group-commit later, and this test reads at once.
            let r = w.produce(version, -1, "pf", 1, batch_from(0, 5, codec, None));
            assert_eq!(r.error_code, 0, "{codec:?} v{version}");
            assert_eq!(r.base_offset, expected);
            expected += 5;
        }
        let _ = i;
    }
    for version in [4i16, 7, 11, 12] {
        let pd = w.fetch(version, "pf", 1, 0, 0, 1);
        assert_eq!(pd.error_code, 0);
        assert_eq!(pd.high_watermark, expected);
        assert_eq!(pd.last_stable_offset, expected);
        if version >= 5 {
            assert_eq!(pd.log_start_offset, 0);
        }
        let recs = decode_records(pd.records.as_ref().unwrap());
        assert_eq!(recs.len() as i64, expected, "v{version}");
        for (n, (offset, key, value)) in recs.iter().enumerate() {
            assert_eq!(*offset, n as i64);
            assert_eq!(key, &format!("key-{}", n % 5));
            assert_eq!(value, &format!("value-{}", n % 5));
        }
    }
    // Fetch from the middle of a batch returns the batch containing the offset.
    let pd = w.fetch(12, "pf", 1, 7, 0, 1);
    let recs = decode_records(pd.records.as_ref().unwrap());
    assert_eq!(recs[0].0, 5);
    // At the end: empty; beyond: OFFSET_OUT_OF_RANGE.
    let pd = w.fetch(12, "pf", 1, expected, 0, 1);
    assert_eq!(pd.error_code, 0);
    assert!(pd.records.as_ref().is_none_or(|r| r.is_empty()));
    let pd = w.fetch(12, "pf", 1, expected + 1, 0, 1);
    assert_eq!(pd.error_code, E::OffsetOutOfRange.code());
    // Partition 0 untouched.
    assert_eq!(w.fetch(12, "pf", 0, 0, 0, 1).high_watermark, 0);
}

#[test]
fn produce_errors_have_kafka_meanings() {
    let broker = start_broker_with(&[("message.max.bytes", "2000")]);
    let mut w = Wire::connect(&broker);
    assert_eq!(w.create_topic("pe", 1), 0);
    assert_eq!(w.produce(9, 1, "nope", 0, batch(1, Compression::None)).error_code, E::UnknownTopicOrPartition.code());
    assert_eq!(w.produce(9, 1, "pe", 5, batch(1, Compression::None)).error_code, E::UnknownTopicOrPartition.code());
    let mut corrupt = batch(3, Compression::None);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert_eq!(w.produce(9, 1, "pe", 0, corrupt).error_code, E::CorruptMessage.code());
    assert_eq!(w.produce(9, 1, "pe", 0, batch(100, Compression::None)).error_code, E::MessageTooLarge.code());
    assert_eq!(w.produce(9, 2, "pe", 0, batch(1, Compression::None)).error_code, E::InvalidRequiredAcks.code());
    // Nothing bad was written.
    assert_eq!(w.fetch(12, "pe", 0, 0, 0, 1).high_watermark, 0);
}

#[test]
fn acks_zero_gets_no_answer_and_acks_all_is_durable() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    assert_eq!(w.create_topic("acks", 1), 0);
    let frame = streamlet::protocol::codec::encode_request(ApiKey::Produce, 9, 999, None, &produce_request(0, "acks", 0, batch(2, Compression::None))).unwrap();
    w.send_raw(&frame);
    // The next answer on the connection is for the next request, not the acks=0 one.
    let r = w.produce(9, -1, "acks", 0, batch(3, Compression::None));
    assert_eq!(r.error_code, 0);
    assert_eq!(r.base_offset, 2);
}

#[test]
fn fetch_waits_for_data_and_is_woken_by_an_append() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    assert_eq!(w.create_topic("wait", 1), 0);
    // Nothing there: waits the whole max_wait.
    let t = Instant::now();
    let pd = w.fetch(12, "wait", 0, 0, 300, 1);
    assert!(t.elapsed() >= Duration::from_millis(290), "{:?}", t.elapsed());
    assert!(pd.records.as_ref().is_none_or(|r| r.is_empty()));
    // An append during the wait answers it early.
    let addr = broker.bootstrap_servers();
    let producer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        let mut p = Wire::connect_addr(&addr);
        assert_eq!(p.produce(9, 1, "wait", 0, batch(4, Compression::None)).error_code, 0);
    });
    let t = Instant::now();
    let pd = w.fetch(12, "wait", 0, 0, 20_000, 1);
    assert!(t.elapsed() < Duration::from_secs(10), "woken by the append, not the timeout");
    assert_eq!(decode_records(pd.records.as_ref().unwrap()).len(), 4);
    producer.join().unwrap();
}

#[test]
fn fetch_respects_max_bytes_but_returns_one_whole_batch() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    assert_eq!(w.create_topic("mb", 1), 0);
    for i in 0..3 {
        assert_eq!(w.produce(9, -1, "mb", 0, batch_from(i * 10, 10, Compression::None, None)).error_code, 0);
    }
    let req = fetch_request("mb", 0, 0, 0, 1, 10);
    let resp: FetchResponse = w.send(ApiKey::Fetch, 12, &req);
    let recs = decode_records(resp.responses[0].partitions[0].records.as_ref().unwrap());
    assert_eq!(recs.len(), 10, "exactly the first batch, though larger than max_bytes");
}

#[test]
fn list_offsets_earliest_latest_and_by_time() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    assert_eq!(w.create_topic("lo", 1), 0);
    assert_eq!(w.list_offset(7, "lo", 0, -3).offset, -1);
    for i in 0..3 {
        assert_eq!(w.produce(9, -1, "lo", 0, batch_from(i * 10, 10, Compression::None, None)).error_code, 0);
    }
    assert_eq!(w.list_offset(1, "lo", 0, -2).offset, 0);
    assert_eq!(w.list_offset(7, "lo", 0, -1).offset, 30);
    // Timestamps are 1_700_000_000_000 + i.
    let r = w.list_offset(7, "lo", 0, 1_700_000_000_015);
    assert_eq!(r.offset, 15);
    assert_eq!(r.timestamp, 1_700_000_000_015);
    assert_eq!(w.list_offset(7, "lo", 0, 1_800_000_000_000).offset, -1);
    let r = w.list_offset(7, "lo", 0, -3);
    assert_eq!((r.offset, r.timestamp), (29, 1_700_000_000_029));
    assert_eq!(w.list_offset(7, "lo", 3, -1).error_code, E::UnknownTopicOrPartition.code());
}

#[test]
fn topic_admin_create_delete_grow() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    assert_eq!(w.create_topic("adm", 2), 0);
    assert_eq!(w.create_topic("adm", 2), E::TopicAlreadyExists.code());
    assert_eq!(w.create_topic("bad/name", 2), E::InvalidTopicException.code());
    assert_eq!(w.create_topic("zero", 0), E::InvalidPartitions.code());
    let req = CreateTopicsRequest::default().with_topics(vec![create_topics_request::CreatableTopic::default()
        .with_name(topic("rf3"))
        .with_num_partitions(1)
        .with_replication_factor(3)]);
    let resp: CreateTopicsResponse = w.send(ApiKey::CreateTopics, 2, &req);
    assert_eq!(resp.topics[0].error_code, E::InvalidReplicationFactor.code());
    let req = CreateTopicsRequest::default().with_topics(vec![create_topics_request::CreatableTopic::default()
        .with_name(topic("cfg"))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(vec![create_topics_request::CreatableTopicConfig::default()
            .with_name(StrBytes::from_static_str("retention.ms"))
            .with_value(Some(StrBytes::from_static_str("banana")))])]);
    let resp: CreateTopicsResponse = w.send(ApiKey::CreateTopics, 7, &req);
    assert_eq!(resp.topics[0].error_code, E::InvalidConfig.code());
    assert!(resp.topics[0].error_message.as_ref().unwrap().contains("retention.ms"));

    // Grow 2 -> 4; shrinking is refused.
    let grow = |count| {
        CreatePartitionsRequest::default()
            .with_topics(vec![create_partitions_request::CreatePartitionsTopic::default().with_name(topic("adm")).with_count(count).with_assignments(None)])
    };
    // A given (non-null) assignment list must have one entry per new partition, as in Kafka.
    let resp: CreatePartitionsResponse = w.send(ApiKey::CreatePartitions, 3, &grow(4).with_topics(vec![
        create_partitions_request::CreatePartitionsTopic::default().with_name(topic("adm")).with_count(4).with_assignments(Some(vec![])),
    ]));
    assert_eq!(resp.results[0].error_code, E::InvalidReplicaAssignment.code());
    let resp: CreatePartitionsResponse = w.send(ApiKey::CreatePartitions, 3, &grow(4));
    assert_eq!(resp.results[0].error_code, 0);
    let resp: CreatePartitionsResponse = w.send(ApiKey::CreatePartitions, 3, &grow(3));
    assert_eq!(resp.results[0].error_code, E::InvalidPartitions.code());
    assert_eq!(w.produce(9, 1, "adm", 3, batch(1, Compression::None)).error_code, 0);

    // Delete by name (v1-5) and by id (v6).
    let resp: DeleteTopicsResponse = w.send(ApiKey::DeleteTopics, 5, &DeleteTopicsRequest::default().with_topic_names(vec![topic("adm")]));
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(w.produce(9, 1, "adm", 0, batch(1, Compression::None)).error_code, E::UnknownTopicOrPartition.code());
    let resp: DeleteTopicsResponse = w.send(ApiKey::DeleteTopics, 5, &DeleteTopicsRequest::default().with_topic_names(vec![topic("adm")]));
    assert_eq!(resp.responses[0].error_code, E::UnknownTopicOrPartition.code());
    assert_eq!(w.create_topic("byid", 1), 0);
    let md: MetadataResponse = w.send(ApiKey::Metadata, 12, &MetadataRequest::default().with_topics(None));
    let id = md.topics.iter().find(|t| t.name.as_ref().unwrap().as_str() == "byid").unwrap().topic_id;
    let req = DeleteTopicsRequest::default().with_topics(vec![delete_topics_request::DeleteTopicState::default().with_topic_id(id)]);
    let resp: DeleteTopicsResponse = w.send(ApiKey::DeleteTopics, 6, &req);
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(resp.responses[0].name.as_ref().unwrap().as_str(), "byid");
    // A deleted topic can be created again, empty.
    assert_eq!(w.create_topic("adm", 1), 0);
    assert_eq!(w.fetch(12, "adm", 0, 0, 0, 1).high_watermark, 0);
}

#[test]
fn describe_configs_and_cluster() {
    let broker = start_broker_with(&[("log.retention.hours", "1")]);
    let mut w = Wire::connect(&broker);
    let req = CreateTopicsRequest::default().with_topics(vec![create_topics_request::CreatableTopic::default()
        .with_name(topic("dc"))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(vec![create_topics_request::CreatableTopicConfig::default()
            .with_name(StrBytes::from_static_str("segment.bytes"))
            .with_value(Some(StrBytes::from_static_str("1048576")))])]);
    let _: CreateTopicsResponse = w.send(ApiKey::CreateTopics, 7, &req);
    let req = DescribeConfigsRequest::default().with_resources(vec![
        describe_configs_request::DescribeConfigsResource::default().with_resource_type(2).with_resource_name(StrBytes::from_static_str("dc")),
        describe_configs_request::DescribeConfigsResource::default().with_resource_type(2).with_resource_name(StrBytes::from_static_str("missing")),
        describe_configs_request::DescribeConfigsResource::default().with_resource_type(4).with_resource_name(StrBytes::from_static_str("0")),
    ]);
    let resp: DescribeConfigsResponse = w.send(ApiKey::DescribeConfigs, 4, &req);
    let get = |name: &str| resp.results[0].configs.iter().find(|c| c.name.as_str() == name).unwrap().clone();
    assert_eq!(get("segment.bytes").value.unwrap().as_str(), "1048576");
    assert_eq!(get("segment.bytes").config_source, 1);
    assert_eq!(get("retention.ms").value.unwrap().as_str(), "3600000");
    assert_eq!(get("retention.ms").config_source, 4);
    assert_eq!(resp.results[1].error_code, E::UnknownTopicOrPartition.code());
    assert!(resp.results[2].configs.iter().any(|c| c.name.as_str() == "log.retention.hours"));

    let resp: DescribeClusterResponse = w.send(ApiKey::DescribeCluster, 1, &DescribeClusterRequest::default().with_endpoint_type(1));
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.brokers[0].port, broker.local_addr().port() as i32);
    assert_eq!(resp.cluster_id.len(), 22);
}

#[test]
fn idempotent_producer_dedupes_retries_and_rejects_gaps() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    assert_eq!(w.create_topic("idem", 1), 0);
    let init: InitProducerIdResponse = w.send(ApiKey::InitProducerId, 4, &InitProducerIdRequest::default()
        .with_producer_id(ProducerId(-1)).with_producer_epoch(-1).with_transaction_timeout_ms(60000));
    assert_eq!(init.error_code, 0);
    let (pid, epoch) = (init.producer_id.0, init.producer_epoch);
    assert!(pid >= 0);
    let b0 = batch_from(0, 3, Compression::None, Some((pid, epoch, 0)));
    let r = w.produce(9, -1, "idem", 0, b0.clone());
    assert_eq!((r.error_code, r.base_offset), (0, 0));
    let r = w.produce(9, -1, "idem", 0, batch_from(3, 2, Compression::None, Some((pid, epoch, 3))));
    assert_eq!((r.error_code, r.base_offset), (0, 3));
    // A retry of the first batch: success with its original offset, nothing written.
    let r = w.produce(9, -1, "idem", 0, b0);
    assert_eq!((r.error_code, r.base_offset), (0, 0));
    assert_eq!(w.fetch(12, "idem", 0, 0, 0, 1).high_watermark, 5);
    // A gap.
    let r = w.produce(9, -1, "idem", 0, batch_from(9, 1, Compression::None, Some((pid, epoch, 9))));
    assert_eq!(r.error_code, E::OutOfOrderSequenceNumber.code());
    // Epoch bump (KIP-360) keeps the id; the new epoch starts at sequence 0.
    let bump: InitProducerIdResponse = w.send(ApiKey::InitProducerId, 4, &InitProducerIdRequest::default()
        .with_producer_id(ProducerId(pid)).with_producer_epoch(epoch));
    assert_eq!((bump.producer_id.0, bump.producer_epoch), (pid, epoch + 1));
    let r = w.produce(9, -1, "idem", 0, batch_from(5, 1, Compression::None, Some((pid, epoch + 1, 0))));
    assert_eq!((r.error_code, r.base_offset), (0, 5));
    // A fresh producer gets a new id.
    let other: InitProducerIdResponse = w.send(ApiKey::InitProducerId, 0, &InitProducerIdRequest::default().with_transaction_timeout_ms(1000));
    assert_ne!(other.producer_id.0, pid);
}

#[test]
fn delete_records_moves_the_log_start() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    assert_eq!(w.create_topic("dr", 1), 0);
    for i in 0..4 {
        w.produce(9, -1, "dr", 0, batch_from(i * 5, 5, Compression::None, None));
    }
    let req = |offset| DeleteRecordsRequest::default().with_topics(vec![delete_records_request::DeleteRecordsTopic::default()
        .with_name(topic("dr"))
        .with_partitions(vec![delete_records_request::DeleteRecordsPartition::default().with_partition_index(0).with_offset(offset)])]);
    let resp: DeleteRecordsResponse = w.send(ApiKey::DeleteRecords, 2, &req(10));
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    assert_eq!(resp.topics[0].partitions[0].low_watermark, 10);
    assert_eq!(w.list_offset(7, "dr", 0, -2).offset, 10);
    assert_eq!(w.fetch(12, "dr", 0, 0, 0, 1).error_code, E::OffsetOutOfRange.code());
    let resp: DeleteRecordsResponse = w.send(ApiKey::DeleteRecords, 2, &req(100));
    assert_eq!(resp.topics[0].partitions[0].error_code, E::OffsetOutOfRange.code());
}

#[test]
fn restart_keeps_topics_records_and_producer_state() {
    let dir = tempfile::tempdir().unwrap();
    let pid;
    {
        let broker = start_broker_in(dir.path(), &[]);
        let mut w = Wire::connect(&broker);
        assert_eq!(w.create_topic("keep", 3), 0);
        let init: InitProducerIdResponse = w.send(ApiKey::InitProducerId, 4, &InitProducerIdRequest::default().with_producer_id(ProducerId(-1)).with_producer_epoch(-1));
        pid = init.producer_id.0;
        assert_eq!(w.produce(9, -1, "keep", 2, batch_from(0, 7, Compression::Zstd, Some((pid, 0, 0)))).error_code, 0);
        broker.shutdown();
    }
    let broker = start_broker_in(dir.path(), &[]);
    let mut w = Wire::connect(&broker);
    let md: MetadataResponse = w.send(ApiKey::Metadata, 12, &MetadataRequest::default().with_topics(None));
    assert_eq!(md.topics.len(), 1);
    assert_eq!(md.topics[0].partitions.len(), 3);
    let pd = w.fetch(12, "keep", 2, 0, 0, 1);
    assert_eq!(decode_records(pd.records.as_ref().unwrap()).len(), 7);
    // The producer's sequence state survived: a retry is deduplicated, the next batch continues.
    let r = w.produce(9, -1, "keep", 2, batch_from(0, 7, Compression::Zstd, Some((pid, 0, 0))));
    assert_eq!((r.error_code, r.base_offset), (0, 0));
    let r = w.produce(9, -1, "keep", 2, batch_from(7, 1, Compression::None, Some((pid, 0, 7))));
    assert_eq!((r.error_code, r.base_offset), (0, 7));
    // New producer ids never repeat the old ones.
    let init: InitProducerIdResponse = w.send(ApiKey::InitProducerId, 4, &InitProducerIdRequest::default().with_producer_id(ProducerId(-1)).with_producer_epoch(-1));
    assert!(init.producer_id.0 > pid);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    assert_eq!(w.create_topic("pipe", 1), 0);
    let mut frames = Vec::new();
    for i in 0..20 {
        frames.extend_from_slice(&streamlet::protocol::codec::encode_request(ApiKey::Produce, 9, 1000 + i, None, &produce_request(1, "pipe", 0, batch_from(i as usize, 1, Compression::None, None))).unwrap());
    }
    w.send_raw(&frames);
    for i in 0..20 {
        let mut f = w.read_frame().unwrap();
        use kafka_protocol::protocol::Decodable;
        let h = ResponseHeader::decode(&mut f, 1).unwrap();
        assert_eq!(h.correlation_id, 1000 + i);
        let resp = ProduceResponse::decode(&mut f, 9).unwrap();
        assert_eq!(resp.responses[0].partition_responses[0].base_offset, i as i64);
    }
    let _ = Bytes::new();
}

#[test]
fn retention_deletes_old_segments_in_the_background() {
    let broker = start_broker_with(&[("log.retention.check.interval.ms", "50")]);
    let mut w = Wire::connect(&broker);
    let req = CreateTopicsRequest::default().with_topics(vec![create_topics_request::CreatableTopic::default()
        .with_name(topic("ret"))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(vec![
            create_topics_request::CreatableTopicConfig::default()
                .with_name(StrBytes::from_static_str("segment.bytes"))
                .with_value(Some(StrBytes::from_static_str("1024"))),
            create_topics_request::CreatableTopicConfig::default()
                .with_name(StrBytes::from_static_str("retention.ms"))
                .with_value(Some(StrBytes::from_static_str("1000"))),
        ])]);
    let resp: CreateTopicsResponse = w.send(ApiKey::CreateTopics, 7, &req);
    assert_eq!(resp.topics[0].error_code, 0);
    // Old timestamps (2023) make every closed segment expired at once; the active one is kept.
    for i in 0..10 {
        assert_eq!(w.produce(9, -1, "ret", 0, batch_from(i * 10, 10, Compression::None, None)).error_code, 0);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let start = w.list_offset(7, "ret", 0, -2).offset;
        if start > 0 {
            assert!(start <= 100);
            assert_eq!(w.list_offset(7, "ret", 0, -1).offset, 100);
            break;
        }
        assert!(Instant::now() < deadline, "retention never moved the log start offset");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn restart_after_a_crash_is_quick_with_many_partitions() {
    // A crash leaves every active segment's index preallocated (10 MiB of zeros each); start-up checks them all.
    let dir = tempfile::tempdir().unwrap();
    {
        let broker = start_broker_in(dir.path(), &[]);
        let mut w = Wire::connect(&broker);
        assert_eq!(w.create_topic("many", 60), 0);
        for p in 0..60 {
            assert_eq!(w.produce(9, 1, "many", p, batch(3, Compression::None)).error_code, 0);
        }
        // Simulate the crash: no clean shutdown marker, untrimmed indexes.
        std::mem::forget(broker);
    }
    let _ = std::fs::remove_file(dir.path().join(".kafka_cleanshutdown"));
    let _ = std::fs::remove_file(dir.path().join(".lock"));
    let t = Instant::now();
    let broker = start_broker_in(dir.path(), &[]);
    let took = t.elapsed();
    let mut w = Wire::connect(&broker);
    for p in [0, 59] {
        assert_eq!(decode_records(w.fetch(12, "many", p, 0, 0, 1).records.as_ref().unwrap()).len(), 3);
    }
    // Generous bound for a debug build on a busy machine; it was 40 s before the index check used memcmp.
    println!("restart after a crash with 60 partitions: {took:?}");
    assert!(took < Duration::from_secs(10), "recovery took {took:?}");
}
