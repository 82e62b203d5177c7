//! The admin client against an embedded broker: each operation's success path and an error path.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use streamlet::client::admin::{Admin, NewTopic, OffsetSpec};
use streamlet::client::assignor::protocol::{encode_assignment, Assignment};
use streamlet::client::ClientError;
use streamlet::protocol::ErrorCode as E;
use streamlet::record::Compression;

fn admin(broker: &impl Bootstrap) -> Admin {
    let props: BTreeMap<String, String> = [("bootstrap.servers", broker.bootstrap_servers().as_str()), ("client.id", "admin-test"), ("request.timeout.ms", "15000")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Admin::new(&props).expect("admin")
}

fn code<T: std::fmt::Debug>(r: &Result<T, ClientError>) -> E {
    match r {
        Err(ClientError::Kafka { code, .. }) => *code,
        other => panic!("expected a broker error, got {other:?}"),
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn broker() -> TestBroker {
    client_broker(&[("group.initial.rebalance.delay.ms", "0"), ("offsets.topic.num.partitions", "1")])
}

#[test]
fn config_errors_name_the_key() {
    let props = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
    let e = Admin::new(&props(&[])).err().expect("bootstrap.servers is required").to_string();
    assert!(e.contains("bootstrap.servers"), "{e}");
    let e = Admin::new(&props(&[("bootstrap.servers", "nohost")])).err().unwrap().to_string();
    assert!(e.contains("bootstrap.servers"), "{e}");
    let e = Admin::new(&props(&[("bootstrap.servers", "127.0.0.1:9092"), ("request.timeout.ms", "soon")])).err().unwrap().to_string();
    assert!(e.contains("request.timeout.ms"), "{e}");
}

#[test]
fn topics_partitions_and_configs() {
    let broker = broker();
    let a = admin(&broker);

    let created = a.create_topics(&[NewTopic::new("t1", 3, 1).config("retention.ms", "1234"), NewTopic::new("t2", 1, 1)], false).unwrap();
    assert_eq!(created.len(), 2);
    assert!(created.iter().all(|(_, r)| r.is_ok()), "{created:?}");
    let again = a.create_topics(&[NewTopic::new("t1", 3, 1)], false).unwrap();
    assert_eq!(again[0].0, "t1");
    assert_eq!(code(&again[0].1), E::TopicAlreadyExists);
    let checked = a.create_topics(&[NewTopic::new("only-checked", 2, 1), NewTopic::new("t1", 1, 1)], true).unwrap();
    assert!(checked[0].1.is_ok(), "{checked:?}");
    assert_eq!(code(&checked[1].1), E::TopicAlreadyExists);

    let topics = a.list_topics(false).unwrap();
    assert!(topics.contains(&"t1".to_string()) && topics.contains(&"t2".to_string()), "{topics:?}");
    assert!(!topics.contains(&"only-checked".to_string()));
    assert!(topics.iter().all(|t| !t.starts_with("__")));

    let cluster = a.describe_cluster().unwrap();
    assert!(!cluster.cluster_id.is_empty());
    assert_eq!(cluster.brokers.len(), 1);
    let node = cluster.brokers[0].0;
    assert_eq!(cluster.brokers[0].1, broker.bootstrap_servers());
    assert_eq!(cluster.controller, node);

    let d = a.describe_topics(&["t1"]).unwrap();
    assert_eq!(d[0].name, "t1");
    assert!(!d[0].internal);
    assert!(!d[0].id.is_nil());
    assert_eq!(d[0].partitions.len(), 3);
    for (i, p) in d[0].partitions.iter().enumerate() {
        assert_eq!(p.partition, i as i32);
        assert_eq!(p.leader, node);
        assert_eq!(p.replicas, vec![node]);
        assert_eq!(p.isr, vec![node]);
    }
    assert_eq!(code(&a.describe_topics(&["t1", "missing"])), E::UnknownTopicOrPartition);

    let grown = a.create_partitions(&[("t1", 5)]).unwrap();
    assert!(grown[0].1.is_ok(), "{grown:?}");
    // Apache Kafka publishes new partitions a moment after answering.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while a.describe_topics(&["t1"]).unwrap()[0].partitions.len() != 5 {
        assert!(std::time::Instant::now() < deadline, "t1 never showed 5 partitions");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let shrunk = a.create_partitions(&[("t1", 2)]).unwrap();
    assert_eq!(code(&shrunk[0].1), E::InvalidPartitions);
    let unknown = a.create_partitions(&[("missing", 2)]).unwrap();
    assert_eq!(code(&unknown[0].1), E::UnknownTopicOrPartition);

    let configs = a.describe_configs("t1").unwrap();
    assert_eq!(configs.get("retention.ms"), Some(&("1234".to_string(), false)), "{configs:?}");
    let cleanup = configs.get("cleanup.policy").expect("cleanup.policy reported");
    assert_eq!(cleanup, &("delete".to_string(), true));
    assert_eq!(code(&a.describe_configs("missing")), E::UnknownTopicOrPartition);
    let broker_configs = a.describe_broker_configs(node).unwrap();
    // Set when the broker started (see `broker()`): static, not default; an unset key: default.
    assert_eq!(broker_configs.get("offsets.topic.num.partitions"), Some(&("1".to_string(), false)), "{broker_configs:?}");
    assert_eq!(broker_configs.get("delete.topic.enable").map(|v| v.1), Some(true), "{broker_configs:?}");
    assert!(a.describe_broker_configs(node + 1).is_err());

    let deleted = a.delete_topics(&["t2"]).unwrap();
    assert_eq!(deleted[0].0, "t2");
    assert!(deleted[0].1.is_ok(), "{deleted:?}");
    assert!(!a.list_topics(false).unwrap().contains(&"t2".to_string()));
    let deleted = a.delete_topics(&["t2"]).unwrap();
    assert_eq!(code(&deleted[0].1), E::UnknownTopicOrPartition);
    broker.shutdown();
}

#[test]
fn list_offsets_and_delete_records() {
    let broker = broker();
    let a = admin(&broker);
    assert!(a.create_topics(&[NewTopic::new("o", 1, 1)], false).unwrap()[0].1.is_ok());
    let mut w = Wire::connect(&broker);
    await_leader(&mut w, "o", 0);
    assert_eq!(w.produce(9, -1, "o", 0, batch(5, Compression::None)).error_code, 0);

    let r = a
        .list_offsets(&[
            ("o", 0, OffsetSpec::Earliest),
            ("o", 0, OffsetSpec::Latest),
            ("o", 0, OffsetSpec::MaxTimestamp),
            ("o", 0, OffsetSpec::Timestamp(1_700_000_000_002)),
            ("o", 0, OffsetSpec::Timestamp(1_800_000_000_000)),
            ("o", 7, OffsetSpec::Latest),
            ("nope", 0, OffsetSpec::Latest),
        ])
        .unwrap();
    assert_eq!(r.len(), 7, "{r:?}");
    assert_eq!(r[0].0, ("o".to_string(), 0));
    assert_eq!(r[0].1.as_ref().unwrap().offset, 0);
    assert_eq!(r[1].1.as_ref().unwrap().offset, 5);
    assert_eq!(r[2].1.as_ref().unwrap().offset, 4);
    assert_eq!(r[2].1.as_ref().unwrap().timestamp, 1_700_000_000_004);
    assert_eq!(r[3].1.as_ref().unwrap().offset, 2);
    assert_eq!(r[4].1.as_ref().unwrap().offset, -1);
    assert_eq!(code(&r[5].1), E::UnknownTopicOrPartition);
    assert_eq!(code(&r[6].1), E::UnknownTopicOrPartition);

    let d = a.delete_records(&[("o", 0, 3), ("nope", 0, 1)]).unwrap();
    assert_eq!(*d[0].1.as_ref().unwrap(), 3);
    assert_eq!(code(&d[1].1), E::UnknownTopicOrPartition);
    let r = a.list_offsets(&[("o", 0, OffsetSpec::Earliest)]).unwrap();
    assert_eq!(r[0].1.as_ref().unwrap().offset, 3);
    let beyond = a.delete_records(&[("o", 0, 100)]).unwrap();
    assert_eq!(code(&beyond[0].1), E::OffsetOutOfRange);
    broker.shutdown();
}

fn join(w: &mut Wire, group: &str, member: &str) -> JoinGroupResponse {
    let req = JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(30_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(s(member))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default().with_name(s("range")).with_metadata(Bytes::from_static(b"sub"))]);
    w.send(ApiKey::JoinGroup, 7, &req)
}

fn commit(w: &mut Wire, group: &str, topic_name: &str, partition: i32, offset: i64) -> i16 {
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(s(""))
        .with_topics(vec![offset_commit_request::OffsetCommitRequestTopic::default().with_name(topic(topic_name)).with_partitions(vec![
            offset_commit_request::OffsetCommitRequestPartition::default().with_partition_index(partition).with_committed_offset(offset),
        ])]);
    let resp: OffsetCommitResponse = w.send(ApiKey::OffsetCommit, 8, &req);
    resp.topics[0].partitions[0].error_code
}

#[test]
fn groups_offsets_and_lag() {
    let broker = broker();
    let a = admin(&broker);
    // Waits (bounded by request.timeout.ms) for the coordinator to load.
    assert!(a.list_groups().unwrap().is_empty());
    assert!(a.create_topics(&[NewTopic::new("g", 2, 1)], false).unwrap()[0].1.is_ok());
    let mut w = Wire::connect(&broker);
    await_leader(&mut w, "g", 0);
    await_leader(&mut w, "g", 1);
    await_coordinator(&mut w, "live");
    assert_eq!(w.produce(9, -1, "g", 0, batch(5, Compression::None)).error_code, 0);
    assert_eq!(w.produce(9, -1, "g", 1, batch(2, Compression::None)).error_code, 0);

    // A group with one member, stable, with a consumer-protocol assignment.
    let first = join(&mut w, "live", "");
    assert_eq!(first.error_code, E::MemberIdRequired.code());
    let member = first.member_id.to_string();
    let joined = join(&mut w, "live", &member);
    assert_eq!(joined.error_code, 0);
    let assignment = encode_assignment(&Assignment::new(vec![("g".to_string(), 0), ("g".to_string(), 1)]));
    let sync = SyncGroupRequest::default()
        .with_group_id(GroupId(s("live")))
        .with_member_id(s(&member))
        .with_generation_id(joined.generation_id)
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")))
        .with_assignments(vec![sync_group_request::SyncGroupRequestAssignment::default().with_member_id(s(&member)).with_assignment(assignment)]);
    let synced: SyncGroupResponse = w.send(ApiKey::SyncGroup, 5, &sync);
    assert_eq!(synced.error_code, 0);

    // An empty group with committed offsets only.
    assert_eq!(commit(&mut w, "lagging", "g", 0, 2), 0);
    assert_eq!(commit(&mut w, "lagging", "g", 1, 2), 0);

    let groups = a.list_groups().unwrap();
    assert!(groups.contains(&("live".to_string(), "consumer".to_string(), "Stable".to_string())), "{groups:?}");
    assert!(groups.iter().any(|g| g.0 == "lagging"), "{groups:?}");

    let d = a.describe_groups(&["live", "never"]).unwrap();
    assert_eq!(d[0].group_id, "live");
    assert_eq!(d[0].state, "Stable");
    assert_eq!(d[0].protocol_type, "consumer");
    assert_eq!(d[0].protocol, "range");
    assert_eq!(d[0].members.len(), 1);
    let m = &d[0].members[0];
    assert_eq!(m.member_id, member);
    assert_eq!(m.client_id, "streamlet-test");
    assert!(m.host.contains("127.0.0.1"), "{}", m.host);
    assert_eq!(m.assignment, Some(vec![("g".to_string(), 0), ("g".to_string(), 1)]));
    assert_eq!(d[1].state, "Dead");
    assert!(d[1].members.is_empty());

    let offsets = a.list_group_offsets("lagging").unwrap();
    assert_eq!(offsets, BTreeMap::from([(("g".to_string(), 0), 2), (("g".to_string(), 1), 2)]));
    assert!(a.list_group_offsets("never").unwrap().is_empty());
    let lag = a.group_lag("lagging").unwrap();
    let p0 = lag[&("g".to_string(), 0)];
    assert_eq!((p0.committed, p0.log_end, p0.lag), (2, 5, 3));
    let p1 = lag[&("g".to_string(), 1)];
    assert_eq!((p1.committed, p1.log_end, p1.lag), (2, 2, 0));

    let deleted = a.delete_groups(&["live", "lagging", "never"]).unwrap();
    assert_eq!(deleted[0].0, "live");
    assert_eq!(code(&deleted[0].1), E::NonEmptyGroup);
    assert!(deleted[1].1.is_ok(), "{deleted:?}");
    assert_eq!(code(&deleted[2].1), E::GroupIdNotFound);
    assert!(a.list_group_offsets("lagging").unwrap().is_empty());
    let groups = a.list_groups().unwrap();
    assert!(!groups.iter().any(|g| g.0 == "lagging"), "{groups:?}");

    // The offsets topic is internal: listed only when asked for.
    assert!(a.list_topics(true).unwrap().contains(&"__consumer_offsets".to_string()));
    assert!(!a.list_topics(false).unwrap().contains(&"__consumer_offsets".to_string()));
    assert!(a.describe_topics(&["__consumer_offsets"]).unwrap()[0].internal);
    broker.shutdown();
}

#[test]
fn unreachable_bootstrap_fails_fast() {
    // A port nobody listens on: connection refused, reported as a connection error (not a hang).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let props: BTreeMap<String, String> =
        [("bootstrap.servers".to_string(), format!("127.0.0.1:{port}")), ("request.timeout.ms".to_string(), "3000".to_string())].into();
    let a = Admin::new(&props).unwrap();
    let started = std::time::Instant::now();
    let e = a.list_topics(false).unwrap_err();
    assert!(matches!(e, ClientError::Connection { .. } | ClientError::Timeout(_)), "{e:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn alter_configs_take_effect_on_live_partitions_and_survive_restart() {
    use streamlet::client::admin::ConfigOp;
    let dir = tempfile::tempdir().unwrap();
    if skip_on_external("restarts the broker") {
        return;
    }
    let broker = start_broker_in(dir.path(), &[]);
    let a = admin(&broker);
    a.create_topics(&[NewTopic::new("cfg", 1, 1)], false).unwrap().into_iter().for_each(|(_, r)| r.unwrap());
    let set = |k: &str, v: &str| ConfigOp::Set(k.into(), v.into());

    a.alter_configs("cfg", &[set("max.message.bytes", "100")], true).unwrap();
    assert!(a.describe_configs("cfg").unwrap()["max.message.bytes"].1, "validate_only must not change anything");

    a.alter_configs("cfg", &[set("max.message.bytes", "100"), set("retention.ms", "5000")], false).unwrap();
    let described = a.describe_configs("cfg").unwrap();
    assert_eq!(described["max.message.bytes"], ("100".to_string(), false));
    assert_eq!(described["retention.ms"], ("5000".to_string(), false));
    let mut w = Wire::connect(&broker);
    assert_eq!(w.produce(9, 1, "cfg", 0, batch(5, Compression::None)).error_code, E::MessageTooLarge.code());

    a.alter_configs("cfg", &[ConfigOp::Delete("max.message.bytes".into())], false).unwrap();
    assert_eq!(w.produce(9, 1, "cfg", 0, batch(5, Compression::None)).error_code, 0);

    a.alter_configs("cfg", &[ConfigOp::Append("cleanup.policy".into(), "compact".into())], false).unwrap();
    assert_eq!(a.describe_configs("cfg").unwrap()["cleanup.policy"].0, "delete,compact");
    a.alter_configs("cfg", &[ConfigOp::Subtract("cleanup.policy".into(), "delete".into())], false).unwrap();
    assert_eq!(a.describe_configs("cfg").unwrap()["cleanup.policy"].0, "compact");

    assert_eq!(code(&a.alter_configs("cfg", &[set("no.such.key", "1")], false)), E::InvalidConfig);
    assert_eq!(code(&a.alter_configs("cfg", &[set("retention.ms", "soon")], false)), E::InvalidConfig);
    assert_eq!(code(&a.alter_configs("cfg", &[ConfigOp::Append("retention.ms".into(), "1".into())], false)), E::InvalidConfig);
    assert_eq!(code(&a.alter_configs("nope", &[set("retention.ms", "1")], false)), E::UnknownTopicOrPartition);

    // The legacy AlterConfigs replaces every override with the request's set.
    let req = AlterConfigsRequest::default().with_resources(vec![alter_configs_request::AlterConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(s("cfg"))
        .with_configs(vec![alter_configs_request::AlterableConfig::default().with_name(s("segment.ms")).with_value(Some(s("60000")))])]);
    let resp: AlterConfigsResponse = w.send(ApiKey::AlterConfigs, 1, &req);
    assert_eq!(resp.responses[0].error_code, 0, "{:?}", resp.responses[0].error_message);
    let broker_res = AlterConfigsRequest::default().with_resources(vec![alter_configs_request::AlterConfigsResource::default()
        .with_resource_type(4)
        .with_resource_name(s("0"))]);
    let resp: AlterConfigsResponse = w.send(ApiKey::AlterConfigs, 1, &broker_res);
    assert_eq!(resp.responses[0].error_code, E::InvalidRequest.code());

    drop(w);
    drop(a);
    broker.shutdown();
    let broker = start_broker_in(dir.path(), &[]);
    let described = admin(&broker).describe_configs("cfg").unwrap();
    assert_eq!(described["segment.ms"], ("60000".to_string(), false));
    assert!(described["retention.ms"].1 && described["cleanup.policy"].1, "{described:?}");
    broker.shutdown();
}

#[test]
fn alter_group_offsets_only_while_the_group_is_empty() {
    let broker = broker();
    let a = admin(&broker);
    assert!(a.create_topics(&[NewTopic::new("alt", 2, 1)], false).unwrap()[0].1.is_ok());
    let mut w = Wire::connect(&broker);
    await_leader(&mut w, "alt", 0);
    await_leader(&mut w, "alt", 1);
    await_coordinator(&mut w, "busy");
    assert_eq!(w.produce(9, -1, "alt", 0, batch(5, Compression::None)).error_code, 0);

    // No group yet: the commit creates it, as Kafka's alterConsumerGroupOffsets does.
    let r = a.alter_group_offsets("resettable", &[("alt", 0, 3), ("alt", 1, 0)]).unwrap();
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|(_, r)| r.is_ok()), "{r:?}");
    assert_eq!(a.list_group_offsets("resettable").unwrap(), BTreeMap::from([(("alt".to_string(), 0), 3), (("alt".to_string(), 1), 0)]));
    let r = a.alter_group_offsets("resettable", &[("alt", 0, 1)]).unwrap();
    assert!(r[0].1.is_ok(), "{r:?}");
    assert_eq!(a.list_group_offsets("resettable").unwrap()[&("alt".to_string(), 0)], 1);

    // A group with a member (here waiting for its SyncGroup) refuses commits from outside its generation.
    let first = join(&mut w, "busy", "");
    let joined = join(&mut w, "busy", &first.member_id.to_string());
    assert_eq!(joined.error_code, 0);
    let r = a.alter_group_offsets("busy", &[("alt", 0, 0)]).unwrap();
    assert!(matches!(code(&r[0].1), E::RebalanceInProgress | E::UnknownMemberId), "{r:?}");
    assert!(a.list_group_offsets("busy").unwrap().is_empty());
    broker.shutdown();
}
