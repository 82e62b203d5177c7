//! The controller's Kafka APIs on a one-node cluster (the node is the active controller): a second broker
//! registers, heartbeats, is placed on, allocates producer ids, proposes ISR changes, and is fenced when its
//! heartbeats stop — all over the wire, as a Kafka broker would do it.

mod common;

use std::time::{Duration, Instant};

use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

fn metadata(w: &mut Wire) -> MetadataResponse {
    w.send(ApiKey::Metadata, 12, &MetadataRequest::default().with_topics(None))
}

fn register(w: &mut Wire, cluster_id: &str, id: i32) -> BrokerRegistrationResponse {
    let req = BrokerRegistrationRequest::default()
        .with_broker_id(BrokerId(id))
        .with_cluster_id(StrBytes::from_string(cluster_id.to_string()))
        .with_incarnation_id(uuid::Uuid::new_v4())
        .with_listeners(vec![broker_registration_request::Listener::default()
            .with_name(StrBytes::from_static_str("PLAINTEXT"))
            .with_host(StrBytes::from_static_str("127.0.0.1"))
            .with_port(1)
            .with_security_protocol(0)]);
    w.send(ApiKey::BrokerRegistration, 3, &req)
}

fn heartbeat(w: &mut Wire, id: i32, epoch: i64, offset: i64) -> BrokerHeartbeatResponse {
    let req = BrokerHeartbeatRequest::default().with_broker_id(BrokerId(id)).with_broker_epoch(epoch).with_current_metadata_offset(offset);
    w.send(ApiKey::BrokerHeartbeat, 1, &req)
}

fn create(w: &mut Wire, name: &str, partitions: i32, rf: i16) -> i16 {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![create_topics_request::CreatableTopic::default()
            .with_name(topic(name))
            .with_num_partitions(partitions)
            .with_replication_factor(rf)])
        .with_timeout_ms(5000);
    let resp: CreateTopicsResponse = w.send(ApiKey::CreateTopics, 7, &req);
    resp.topics[0].error_code
}

#[test]
fn a_second_broker_registers_is_placed_and_is_fenced_when_silent() {
    let broker = start_broker_with(&[("broker.session.timeout.ms", "1500"), ("broker.heartbeat.interval.ms", "100")]);
    let mut w = Wire::connect(&broker);
    let md = metadata(&mut w);
    let cluster_id = md.cluster_id.clone().unwrap().to_string();
    let me = md.controller_id.0;
    assert_eq!(md.brokers.len(), 1);
    assert_eq!(md.brokers[0].node_id.0, me, "a single node is its own controller");

    assert_eq!(register(&mut w, "another-cluster", 7).error_code, ResponseError::InconsistentClusterId.code());
    let reg = register(&mut w, &cluster_id, 7);
    assert_eq!(reg.error_code, 0);
    let epoch = reg.broker_epoch;
    assert!(epoch > 0);
    assert_eq!(metadata(&mut w).brokers.len(), 1, "a new registration is fenced");
    assert_eq!(create(&mut w, "rf2-early", 1, 2), ResponseError::InvalidReplicationFactor.code());
    // Behind its registration: still fenced. Caught up: unfenced.
    assert!(heartbeat(&mut w, 7, epoch, epoch - 1).is_fenced);
    let hb = heartbeat(&mut w, 7, epoch, epoch);
    assert_eq!(hb.error_code, 0);
    assert!(!hb.is_fenced && hb.is_caught_up);
    assert_eq!(heartbeat(&mut w, 7, epoch - 1, epoch).error_code, ResponseError::StaleBrokerEpoch.code());
    let mut ids: Vec<i32> = metadata(&mut w).brokers.iter().map(|b| b.node_id.0).collect();
    ids.sort();
    assert_eq!(ids, { let mut v = vec![me, 7]; v.sort(); v });

    // Replication factor 2 is placed over both brokers, leaders spread; 3 is refused.
    assert_eq!(create(&mut w, "rf2", 4, 2), 0);
    assert_eq!(create(&mut w, "rf3", 1, 3), ResponseError::InvalidReplicationFactor.code());
    let md = metadata(&mut w);
    let t = md.topics.iter().find(|t| t.name.as_ref().unwrap().as_str() == "rf2").unwrap();
    let topic_id = t.topic_id;
    let mut leaders: Vec<i32> = t.partitions.iter().map(|p| p.leader_id.0).collect();
    leaders.sort();
    assert_eq!(leaders.iter().filter(|&&l| l == 7).count(), 2, "{leaders:?}");
    for p in &t.partitions {
        assert_eq!(p.replica_nodes.len(), 2);
        assert_eq!(p.isr_nodes.len(), 2);
        assert_eq!(p.leader_epoch, 0);
    }

    // Producer-id blocks never overlap.
    let a: AllocateProducerIdsResponse = w.send(ApiKey::AllocateProducerIds, 0, &AllocateProducerIdsRequest::default().with_broker_id(BrokerId(7)).with_broker_epoch(epoch));
    let b: AllocateProducerIdsResponse = w.send(ApiKey::AllocateProducerIds, 0, &AllocateProducerIdsRequest::default().with_broker_id(BrokerId(7)).with_broker_epoch(epoch));
    assert_eq!((a.error_code, b.error_code), (0, 0));
    assert!(b.producer_id_start.0 >= a.producer_id_start.0 + i64::from(a.producer_id_len));

    // Broker 7 shrinks the ISR of one partition it leads to itself; the same proposal again is stale.
    let led = t.partitions.iter().find(|p| p.leader_id.0 == 7).unwrap();
    let shrink = AlterPartitionRequest::default().with_broker_id(BrokerId(7)).with_broker_epoch(epoch).with_topics(vec![
        alter_partition_request::TopicData::default().with_topic_id(topic_id).with_partitions(vec![
            alter_partition_request::PartitionData::default()
                .with_partition_index(led.partition_index)
                .with_leader_epoch(0)
                .with_partition_epoch(0)
                .with_new_isr_with_epochs(vec![alter_partition_request::BrokerState::default().with_broker_id(BrokerId(7)).with_broker_epoch(epoch)]),
        ]),
    ]);
    let r: AlterPartitionResponse = w.send(ApiKey::AlterPartition, 3, &shrink);
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.partition_epoch, p.isr.clone()), (0, 1, vec![BrokerId(7)]));
    let r: AlterPartitionResponse = w.send(ApiKey::AlterPartition, 3, &shrink);
    assert_eq!(r.topics[0].partitions[0].error_code, ResponseError::InvalidUpdateVersion.code());

    // Broker 7 stops heartbeating: fenced after broker.session.timeout.ms; its leaderships move to the other ISR
    // member, and the partition whose ISR is only broker 7 goes offline (no unclean election).
    let deadline = Instant::now() + Duration::from_secs(15);
    let md = loop {
        let md = metadata(&mut w);
        if md.brokers.len() == 1 {
            break md;
        }
        assert!(Instant::now() < deadline, "broker 7 was never fenced");
        std::thread::sleep(Duration::from_millis(50));
    };
    let t = md.topics.iter().find(|t| t.name.as_ref().unwrap().as_str() == "rf2").unwrap();
    for p in &t.partitions {
        assert!(!p.isr_nodes.contains(&BrokerId(7)) || p.isr_nodes == vec![BrokerId(7)], "{p:?}");
        if p.partition_index == led.partition_index {
            assert_eq!(p.leader_id.0, -1);
            assert_eq!(p.error_code, ResponseError::LeaderNotAvailable.code());
        } else {
            assert_eq!(p.leader_id.0, me, "{p:?}");
            assert_eq!(p.offline_replicas, vec![BrokerId(7)]);
        }
    }
}

#[test]
fn quorum_configuration_is_checked_and_a_lone_voter_is_the_single_node_case() {
    let err = streamlet::BrokerBuilder::new()
        .listen("127.0.0.1:0")
        .config("node.id", "4")
        .config("controller.quorum.voters", "1@127.0.0.1:9093,2@127.0.0.1:9094")
        .start()
        .err()
        .expect("refused");
    assert!(err.to_string().contains("controller.quorum.voters"), "{err}");
    let err = streamlet::BrokerBuilder::new()
        .listen("127.0.0.1:0")
        .config("node.id", "1")
        .config("controller.quorum.voters", "1@127.0.0.1:9093,2@127.0.0.1:9094")
        .start()
        .err()
        .expect("refused");
    assert!(err.to_string().contains("listeners"), "{err}");
    // This node alone is the single-node case.
    let b = streamlet::BrokerBuilder::new().listen("127.0.0.1:0").config("node.id", "1").config("controller.quorum.voters", "1@127.0.0.1:9093").start().unwrap();
    let mut w = Wire::connect_addr(&b.bootstrap_servers());
    assert_eq!(metadata(&mut w).controller_id.0, 1);
}
