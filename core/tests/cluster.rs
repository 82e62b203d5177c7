//! A 3-node cluster in one process (ClusterBuilder): every node a broker and a metadata voter.

mod common;

use std::time::{Duration, Instant};

use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;
use streamlet::ClusterBuilder;

fn metadata(w: &mut Wire) -> MetadataResponse {
    w.send(ApiKey::Metadata, 12, &MetadataRequest::default().with_topics(None))
}

fn create(w: &mut Wire, name: &str, partitions: i32, rf: i16) -> i16 {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![create_topics_request::CreatableTopic::default().with_name(topic(name)).with_num_partitions(partitions).with_replication_factor(rf)])
        .with_timeout_ms(5000);
    let resp: CreateTopicsResponse = w.send(ApiKey::CreateTopics, 7, &req);
    resp.topics[0].error_code
}

/// Polls node `i`'s Metadata until `ok` holds.
fn await_metadata(cluster: &streamlet::Cluster, i: usize, what: &str, ok: impl Fn(&MetadataResponse) -> bool) -> MetadataResponse {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut w = Wire::connect_addr(&cluster.broker(i).unwrap().bootstrap_servers());
        let md = metadata(&mut w);
        if ok(&md) {
            return md;
        }
        assert!(Instant::now() < deadline, "{what}: {md:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn three_nodes_place_replicas_and_survive_the_loss_of_the_controller() {
    init_logging();
    let mut cluster = ClusterBuilder::new(3).config("broker.session.timeout.ms", "2000").config("broker.heartbeat.interval.ms", "200").start().unwrap();
    // Every node sees the three brokers and the same controller.
    let md = await_metadata(&cluster, 0, "three brokers", |m| m.brokers.len() == 3);
    let controller = md.controller_id.0;
    assert!((1..=3).contains(&controller));
    for i in 1..3 {
        await_metadata(&cluster, i, "same view", |m| m.brokers.len() == 3 && m.controller_id.0 == controller);
    }
    // A follower node refuses controller work; the controller does it.
    let follower = (0..3).find(|&i| i as i32 + 1 != controller).unwrap();
    let mut w = Wire::connect_addr(&cluster.broker(follower).unwrap().bootstrap_servers());
    assert_eq!(create(&mut w, "elsewhere", 1, 1), ResponseError::NotController.code());
    let mut w = Wire::connect_addr(&cluster.broker(controller as usize - 1).unwrap().bootstrap_servers());
    assert_eq!(create(&mut w, "r3", 3, 3), 0);
    assert_eq!(create(&mut w, "r4", 1, 4), ResponseError::InvalidReplicationFactor.code());
    let md = await_metadata(&cluster, follower, "r3 replayed", |m| m.topics.iter().any(|t| t.name.as_ref().unwrap().as_str() == "r3"));
    let t = md.topics.iter().find(|t| t.name.as_ref().unwrap().as_str() == "r3").unwrap();
    let mut leaders: Vec<i32> = t.partitions.iter().map(|p| p.leader_id.0).collect();
    leaders.sort();
    assert_eq!(leaders, vec![1, 2, 3], "leaders spread over the three brokers");
    for p in &t.partitions {
        assert_eq!(p.replica_nodes.len(), 3);
        assert_eq!(p.isr_nodes.len(), 3);
    }

    // Kill the active controller: the others elect a new one, fence the dead broker and move its leaderships.
    cluster.kill(controller as usize - 1);
    let survivor = (0..3).find(|&i| i as i32 + 1 != controller).unwrap();
    let md = await_metadata(&cluster, survivor, "new controller, dead broker fenced", |m| {
        m.controller_id.0 != controller && m.controller_id.0 > 0 && m.brokers.len() == 2
    });
    let new_controller = md.controller_id.0;
    let t = md.topics.iter().find(|t| t.name.as_ref().unwrap().as_str() == "r3").unwrap();
    for p in &t.partitions {
        assert_ne!(p.leader_id.0, controller, "{p:?}");
        assert!(!p.isr_nodes.iter().any(|b| b.0 == controller), "{p:?}");
    }
    let mut w = Wire::connect_addr(&cluster.broker(new_controller as usize - 1).unwrap().bootstrap_servers());
    assert_eq!(create(&mut w, "after-failover", 2, 2), 0);
    assert_eq!(create(&mut w, "too-wide", 1, 3), ResponseError::InvalidReplicationFactor.code());
}
