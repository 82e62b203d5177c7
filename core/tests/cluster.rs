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

/// The whole path of a replicated write: an idempotent acks=all producer (RF=3, min.insync.replicas=2) keeps
/// sending while the partition's leader is killed; every acknowledged record is then read back exactly once, in
/// the order it was sent, and the survivors hold the same records below the HW.
#[test]
fn acknowledged_writes_survive_the_loss_of_the_leader() {
    use streamlet::client::admin::{Admin, NewTopic};
    use streamlet::client::consumer::Consumer;
    use streamlet::client::producer::{Producer, ProducerConfig, ProducerRecord};

    init_logging();
    let mut cluster = ClusterBuilder::new(3)
        .config("broker.session.timeout.ms", "2000")
        .config("broker.heartbeat.interval.ms", "200")
        .config("replica.lag.time.max.ms", "3000")
        .start()
        .unwrap();
    let md = await_metadata(&cluster, 0, "three brokers", |m| m.brokers.len() == 3);
    let controller = md.controller_id.0;
    let bootstrap = cluster.bootstrap_servers();
    let admin = Admin::new(&[("bootstrap.servers".to_string(), bootstrap.clone())].into()).unwrap();
    let created = admin.create_topics(&[NewTopic::new("replicated", 1, 3).config("min.insync.replicas", "2")], false).unwrap();
    assert!(created[0].1.is_ok(), "{created:?}");
    // The leader that is not the controller: losing it tests data failover, not the quorum's.
    let md = await_metadata(&cluster, 0, "replicated, full ISR", |m| {
        m.topics.iter().any(|t| t.name.as_ref().unwrap().as_str() == "replicated" && t.partitions.first().is_some_and(|p| p.isr_nodes.len() == 3))
    });
    let leader = md.topics.iter().find(|t| t.name.as_ref().unwrap().as_str() == "replicated").unwrap().partitions[0].leader_id.0;

    let producer = Producer::new(
        ProducerConfig::from_pairs([
            ("bootstrap.servers", bootstrap.as_str()),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "2"),
            ("delivery.timeout.ms", "60000"),
        ])
        .unwrap(),
    )
    .unwrap();
    let send = |from: usize, to: usize| -> Vec<_> {
        (from..to).map(|i| (i, producer.send(ProducerRecord::new("replicated").partition(0).value(format!("v{i}"))))).collect()
    };
    let mut futures = send(0, 2000);
    for (_, f) in &futures[..500] {
        f.wait().expect("acknowledged before the kill");
    }
    cluster.kill(leader as usize - 1);
    futures.extend(send(2000, 4000));
    let mut acked: Vec<(usize, i64)> = Vec::new();
    for (i, f) in &futures {
        if let Ok(md) = f.wait() {
            acked.push((*i, md.offset));
        }
    }
    assert!(acked.len() >= 3500, "most sends are acknowledged across the failover: {}", acked.len());
    let md = await_metadata(&cluster, if leader == 1 { 1 } else { 0 }, "a new leader", |m| {
        m.topics.iter().any(|t| t.name.as_ref().unwrap().as_str() == "replicated" && t.partitions[0].leader_id.0 > 0 && t.partitions[0].leader_id.0 != leader)
    });
    let new_leader = md.topics.iter().find(|t| t.name.as_ref().unwrap().as_str() == "replicated").unwrap().partitions[0].leader_id.0;
    assert_ne!(new_leader, leader);
    let _ = controller;

    // Read everything back from the new leader.
    let live: Vec<String> = (0..3).filter(|&i| i as i32 + 1 != leader).map(|i| cluster.broker(i).unwrap().bootstrap_servers()).collect();
    let consumer = Consumer::from_props(&[("bootstrap.servers", live.join(",").as_str()), ("auto.offset.reset", "earliest"), ("enable.auto.commit", "false")]).unwrap();
    consumer.assign(&[("replicated".to_string(), 0)]).unwrap();
    let mut seen: Vec<(i64, String)> = Vec::new();
    let last_acked = acked.iter().map(|(_, o)| *o).max().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.last().is_none_or(|(o, _)| *o < last_acked) {
        assert!(Instant::now() < deadline, "read up to {:?}, acknowledged up to {last_acked}", seen.last());
        for r in consumer.poll(Duration::from_millis(200)).unwrap() {
            seen.push((r.offset, String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap()));
        }
    }
    let by_offset: std::collections::BTreeMap<i64, &str> = seen.iter().map(|(o, v)| (*o, v.as_str())).collect();
    let mut where_: std::collections::HashMap<&str, Vec<i64>> = std::collections::HashMap::new();
    for (o, v) in &seen {
        where_.entry(v.as_str()).or_default().push(*o);
    }
    for (i, offset) in &acked {
        let v = format!("v{i}");
        assert_eq!(by_offset.get(offset).copied(), Some(v.as_str()), "acknowledged v{i} at {offset}");
        assert_eq!(where_.get(v.as_str()).map(Vec::len), Some(1), "v{i} written exactly once: {:?}", where_.get(v.as_str()));
    }
    // Per-partition order: acknowledged sends appear in the order they were sent.
    let mut by_send = acked.clone();
    by_send.sort();
    assert!(by_send.windows(2).all(|w| w[0].1 < w[1].1), "acknowledged records are in send order");
}
