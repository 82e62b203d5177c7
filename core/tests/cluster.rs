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

    // Producer ids come from controller-allocated blocks on every node (over the wire on the followers).
    let mut pids = Vec::new();
    for i in 0..3 {
        let mut w = Wire::connect_addr(&cluster.broker(i).unwrap().bootstrap_servers());
        let r: InitProducerIdResponse = w.send(ApiKey::InitProducerId, 4, &InitProducerIdRequest::default().with_transaction_timeout_ms(60000).with_producer_id(ProducerId(-1)).with_producer_epoch(-1));
        assert_eq!(r.error_code, 0, "node {}", i + 1);
        pids.push(r.producer_id.0);
    }
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 3, "distinct producer ids across brokers");

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

/// Three nodes configured only by Kafka's properties, as three `server.properties` files would (in one process
/// here; `streamlet broker --config` passes the same properties). The controller ports are picked by binding port
/// 0 and releasing it, since every node must know them all up front.
#[test]
fn three_nodes_from_kafka_properties_form_one_cluster() {
    init_logging();
    let ports: Vec<u16> = (0..3).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()).collect();
    let voters = ports.iter().enumerate().map(|(i, p)| format!("{}@127.0.0.1:{p}", i + 1)).collect::<Vec<_>>().join(",");
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let brokers: Vec<streamlet::Broker> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let (voters, dir, port) = (voters.clone(), dirs[i].path().to_path_buf(), ports[i]);
                s.spawn(move || {
                    streamlet::BrokerBuilder::new()
                        .data_dir(dir)
                        .config("process.roles", "broker,controller")
                        .config("node.id", (i + 1).to_string())
                        .config("controller.quorum.voters", voters)
                        .config("listeners", format!("PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:{port}"))
                        .config("controller.listener.names", "CONTROLLER")
                        .config("listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT")
                        .config("inter.broker.listener.name", "PLAINTEXT")
                        .config("cluster.id", "MkU3OEVBNTcwNTJENDM2Qk")
                        .start()
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut w = Wire::connect_addr(&brokers[0].bootstrap_servers());
        let md = metadata(&mut w);
        if md.brokers.len() == 3 {
            let c = md.controller_id.0 as usize;
            let mut w = Wire::connect_addr(&brokers[c - 1].bootstrap_servers());
            assert_eq!(create(&mut w, "from-properties", 3, 3), 0);
            break;
        }
        assert!(Instant::now() < deadline, "{md:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
