//! Replication across three brokers in one process, each with its own listener and data dir.
//!
//! The controller's side is played by [`TestController`]: **a test scaffold until the real controller (the
//! openraft metadata quorum of issue 12) lands.** It holds each partition's state, decides leaders and ISRs as
//! the test tells it, answers the leaders' AlterPartition proposals the way Kafka's controller does (stale
//! epochs refused, a stopped broker not admitted), and hands every decision to every live broker through
//! `BrokerState::apply_partition_changes`, which is exactly what the metadata replay will call.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use kafka_protocol::messages::*;
use streamlet::broker::BrokerState;
use streamlet::metadata::cluster::{BrokerEndpoint, ControllerChannel, IsrProposal, PartitionChange, PartitionState, ProposalFuture};
use streamlet::protocol::ErrorCode;
use streamlet::record::Compression;
use streamlet::{Broker, BrokerBuilder};
use uuid::Uuid;

const LAG_MS: &str = "1500";

struct TestController {
    /// By node id (1..=3); None while that broker is stopped.
    brokers: Mutex<HashMap<i32, Arc<BrokerState>>>,
    endpoints: Mutex<HashMap<i32, BrokerEndpoint>>,
    partitions: Mutex<HashMap<(String, i32), (Uuid, PartitionState)>>,
    /// Endpoints handed to followers instead of the real one (to cut a follower off its leader).
    overrides: Mutex<HashMap<i32, BrokerEndpoint>>,
    /// Brokers stopped by the test: the controller does not admit them into an ISR (Kafka: fenced brokers).
    stopped: Mutex<std::collections::HashSet<i32>>,
}

impl TestController {
    fn new() -> Arc<Self> {
        Arc::new(TestController {
            brokers: Mutex::new(HashMap::new()),
            endpoints: Mutex::new(HashMap::new()),
            partitions: Mutex::new(HashMap::new()),
            overrides: Mutex::new(HashMap::new()),
            stopped: Mutex::new(Default::default()),
        })
    }

    fn register(&self, id: i32, broker: &Broker) {
        let addr = broker.local_addr();
        self.endpoints.lock().unwrap().insert(id, BrokerEndpoint { node_id: id, host: addr.ip().to_string(), port: addr.port(), rack: None });
        self.brokers.lock().unwrap().insert(id, broker.state().clone());
        self.stopped.lock().unwrap().remove(&id);
    }

    fn unregister(&self, id: i32) {
        self.brokers.lock().unwrap().remove(&id);
        self.stopped.lock().unwrap().insert(id);
    }

    fn state(&self, topic: &str, partition: i32) -> PartitionState {
        self.partitions.lock().unwrap()[&(topic.to_string(), partition)].1.clone()
    }

    /// Records a decision and delivers it to every live broker, as the metadata replay would.
    fn decide(&self, topic: &str, partition: i32, f: impl FnOnce(&mut PartitionState)) -> PartitionState {
        let (id, state) = {
            let mut parts = self.partitions.lock().unwrap();
            let entry = parts.entry((topic.to_string(), partition)).or_insert_with(|| {
                (Uuid::new_v4(), PartitionState { leader_epoch: -1, partition_epoch: -1, ..PartitionState::single(1) })
            });
            f(&mut entry.1);
            entry.1.partition_epoch += 1;
            entry.clone()
        };
        self.broadcast(topic, partition, id, &state);
        state
    }

    fn broadcast(&self, topic: &str, partition: i32, id: Uuid, state: &PartitionState) {
        let brokers: Vec<_> = self.brokers.lock().unwrap().iter().map(|(i, b)| (*i, b.clone())).collect();
        let endpoints = self.endpoints.lock().unwrap().clone();
        let overrides = self.overrides.lock().unwrap().clone();
        for (node, b) in brokers {
            let leader_endpoint = overrides.get(&node).or(endpoints.get(&state.leader)).cloned();
            b.apply_partition_changes(vec![PartitionChange::Upsert {
                topic: topic.to_string(),
                topic_id: id,
                partition,
                state: state.clone(),
                leader_endpoint,
            }]);
        }
    }

    /// Elects `leader` in a new leader epoch (Kafka: every leader change bumps it).
    fn elect(&self, topic: &str, partition: i32, replicas: &[i32], isr: &[i32], leader: i32) -> PartitionState {
        self.decide(topic, partition, |s| {
            s.replicas = replicas.to_vec();
            s.isr = isr.to_vec();
            s.leader = leader;
            s.leader_epoch += 1;
        })
    }

    /// Rebroadcasts the current state (same epochs): brokers only pick up changed leader endpoints.
    fn rebroadcast(&self, topic: &str, partition: i32) {
        let (id, state) = self.partitions.lock().unwrap()[&(topic.to_string(), partition)].clone();
        self.broadcast(topic, partition, id, &state);
    }

    /// Points these followers at an address that refuses connections: they stop replicating, as if the network
    /// between them and the leader broke.
    fn cut_off(&self, topic: &str, partition: i32, followers: &[i32]) {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = dead.local_addr().unwrap().port();
        drop(dead);
        let leader = self.state(topic, partition).leader;
        let ep = BrokerEndpoint { node_id: leader, host: "127.0.0.1".into(), port, rack: None };
        self.overrides.lock().unwrap().extend(followers.iter().map(|f| (*f, ep.clone())));
        // Synchronous: once this returns, the followers' fetchers for the real address are stopped, and a
        // response still in flight to them is discarded (the partition is no longer theirs).
        self.rebroadcast(topic, partition);
    }

    fn reconnect(&self, topic: &str, partition: i32) {
        self.overrides.lock().unwrap().clear();
        self.rebroadcast(topic, partition);
    }

    fn alter(&self, p: IsrProposal) -> Result<PartitionState, ErrorCode> {
        let current = {
            let parts = self.partitions.lock().unwrap();
            parts.get(&(p.topic.clone(), p.partition)).map(|e| e.1.clone()).ok_or(ErrorCode::UnknownTopicOrPartition)?
        };
        if p.leader != current.leader || p.leader_epoch != current.leader_epoch {
            return Err(ErrorCode::FencedLeaderEpoch);
        }
        if p.partition_epoch != current.partition_epoch {
            return Err(ErrorCode::InvalidUpdateVersion);
        }
        let stopped = self.stopped.lock().unwrap().clone();
        if p.new_isr.iter().any(|r| !current.isr.contains(r) && stopped.contains(r)) {
            return Err(ErrorCode::IneligibleReplica);
        }
        Ok(self.decide(&p.topic, p.partition, |s| s.isr = p.new_isr.clone()))
    }
}

impl ControllerChannel for TestController {
    fn alter_partition(&self, proposal: IsrProposal) -> ProposalFuture {
        let answer = self.alter(proposal);
        Box::pin(async move { answer })
    }
}

fn start(ctrl: &Arc<TestController>, id: i32, dir: &std::path::Path, extra: &[(&str, &str)]) -> Broker {
    init_logging();
    let mut b = BrokerBuilder::new()
        .listen("127.0.0.1:0")
        .data_dir(dir.join(format!("broker-{id}")))
        .config("node.id", id.to_string())
        .config("replica.lag.time.max.ms", LAG_MS)
        .config("replica.fetch.wait.max.ms", "100")
        .config("replica.fetch.backoff.ms", "50")
        .controller_channel(ctrl.clone());
    for (k, v) in extra {
        b = b.config(*k, *v);
    }
    let broker = b.start().expect("broker starts");
    ctrl.register(id, &broker);
    broker
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every byte of a replica's log, in order (the batches as stored).
fn log_bytes(b: &Broker, topic: &str, partition: i32) -> Vec<u8> {
    let p = b.state().partition(topic, partition).expect("replica exists");
    let log = p.log();
    let (mut at, end) = (log.log_start_offset(), log.log_end_offset());
    let mut out = Vec::new();
    while at < end {
        let s = log.read(at, usize::MAX, true, i64::MAX).unwrap();
        out.extend_from_slice(&s.read_bytes().unwrap());
        at = s.next_offset;
    }
    out
}

fn log_end(b: &Broker, topic: &str, partition: i32) -> i64 {
    b.state().partition(topic, partition).unwrap().log().log_end_offset()
}

fn high_watermark(b: &Broker, topic: &str, partition: i32) -> i64 {
    b.state().partition(topic, partition).unwrap().high_watermark()
}

fn values(bytes: &Bytes) -> Vec<String> {
    decode_records(bytes).into_iter().map(|(_, _, v)| v).collect()
}

#[test]
fn acks_all_reaches_every_replica_and_consumers_stop_at_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let ctrl = TestController::new();
    let brokers: Vec<Broker> = (1..=3).map(|id| start(&ctrl, id, dir.path(), &[])).collect();
    ctrl.elect("t", 0, &[1, 2, 3], &[1, 2, 3], 1);
    let mut leader = Wire::connect(&brokers[0]);

    for i in 0..5 {
        let r = leader.produce(9, -1, "t", 0, batch_from(i * 10, 10, Compression::None, None));
        assert_eq!(r.error_code, 0, "acks=all produce {i}");
        assert_eq!(r.base_offset, (i * 10) as i64);
        // acks=all answered: every ISR member has the batch, so the HW covers it on the leader.
        assert!(high_watermark(&brokers[0], "t", 0) >= (i as i64 + 1) * 10);
    }
    for b in &brokers[1..] {
        wait_until("followers to have everything", Duration::from_secs(10), || log_end(b, "t", 0) == 50);
    }
    let reference = log_bytes(&brokers[0], "t", 0);
    for b in &brokers[1..] {
        assert_eq!(log_bytes(b, "t", 0), reference, "replica is byte-identical to the leader");
        // A follower's HW is the leader's as of its last fetch (capped at its own log end).
        wait_until("follower HW", Duration::from_secs(10), || high_watermark(b, "t", 0) == 50);
    }
    // Followers refuse clients; the leader serves them.
    let mut follower = Wire::connect(&brokers[1]);
    assert_eq!(follower.fetch(12, "t", 0, 0, 0, 1).error_code, ErrorCode::NotLeaderOrFollower.code());
    let got = leader.fetch(12, "t", 0, 0, 0, 1);
    assert_eq!((got.error_code, got.high_watermark), (0, 50));

    // Cut both followers off (their leader endpoint now refuses connections) and write with acks=1: the
    // leader's log grows, its HW does not, and consumers see only up to the HW.
    ctrl.cut_off("t", 0, &[2, 3]);
    let r = leader.produce(9, 1, "t", 0, batch_from(50, 5, Compression::None, None));
    assert_eq!((r.error_code, r.base_offset), (0, 50));
    assert_eq!(log_end(&brokers[0], "t", 0), 55);
    let got = leader.fetch(12, "t", 0, 40, 0, 1);
    assert_eq!(got.high_watermark, 50, "not replicated, not committed");
    let seen = values(got.records.as_ref().unwrap());
    assert_eq!(seen.first().map(String::as_str), Some("value-40"));
    assert_eq!(seen.last().map(String::as_str), Some("value-49"), "consumers read up to the HW only");
    let latest = leader.list_offset(7, "t", 0, -1);
    assert_eq!(latest.offset, 50, "ListOffsets latest is the HW");

    // Reconnect them: they catch up and the HW follows.
    ctrl.reconnect("t", 0);
    wait_until("HW to cover the acks=1 batch", Duration::from_secs(10), || high_watermark(&brokers[0], "t", 0) == 55);
    for b in brokers {
        b.shutdown();
    }
}

#[test]
fn a_stopped_follower_leaves_the_isr_and_rejoins_when_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let ctrl = TestController::new();
    let mut brokers: Vec<Option<Broker>> = (1..=3).map(|id| Some(start(&ctrl, id, dir.path(), &[]))).collect();
    ctrl.elect("t", 0, &[1, 2, 3], &[1, 2, 3], 1);
    let mut leader = Wire::connect(brokers[0].as_ref().unwrap());
    assert_eq!(leader.produce(9, -1, "t", 0, batch_from(0, 10, Compression::None, None)).error_code, 0);

    // Broker 3 stops. acks=all waits for it until the leader drops it from the ISR (after the lag time) and
    // the controller agrees; then the produce completes with ISR {1, 2}.
    ctrl.unregister(3);
    brokers[2].take().unwrap().shutdown();
    let t0 = Instant::now();
    let r = leader.produce(9, -1, "t", 0, batch_from(10, 10, Compression::None, None));
    assert_eq!(r.error_code, 0, "completes once the ISR shrank");
    assert!(t0.elapsed() >= Duration::from_millis(1000), "not before the follower was out of sync for the lag time");
    assert_eq!(ctrl.state("t", 0).isr, vec![1, 2]);
    for i in 2..5 {
        assert_eq!(leader.produce(9, -1, "t", 0, batch_from(i * 10, 10, Compression::None, None)).error_code, 0);
    }

    // It comes back (same data dir, a new port): it fetches, reaches the HW, and the leader proposes it back.
    let b3 = start(&ctrl, 3, dir.path(), &[]);
    ctrl.rebroadcast("t", 0);
    wait_until("broker 3 back in the ISR", Duration::from_secs(15), || {
        let mut isr = ctrl.state("t", 0).isr;
        isr.sort();
        isr == vec![1, 2, 3]
    });
    brokers[2] = Some(b3);
    assert_eq!(leader.produce(9, -1, "t", 0, batch_from(50, 10, Compression::None, None)).error_code, 0);
    let reference = log_bytes(brokers[0].as_ref().unwrap(), "t", 0);
    for b in brokers.iter().flatten().skip(1) {
        wait_until("replica caught up", Duration::from_secs(10), || log_end(b, "t", 0) == 60);
        assert_eq!(log_bytes(b, "t", 0), reference);
    }
    for b in brokers.into_iter().flatten() {
        b.shutdown();
    }
}

#[test]
fn a_new_leader_makes_the_old_one_truncate_its_unreplicated_tail() {
    let dir = tempfile::tempdir().unwrap();
    let ctrl = TestController::new();
    let brokers: Vec<Broker> = (1..=3).map(|id| start(&ctrl, id, dir.path(), &[])).collect();
    ctrl.elect("t", 0, &[1, 2, 3], &[1, 2, 3], 1);
    let mut w1 = Wire::connect(&brokers[0]);
    assert_eq!(w1.produce(9, -1, "t", 0, batch_from(0, 10, Compression::None, None)).error_code, 0);

    // Followers cut off; the leader takes an acks=1 write nobody else has.
    ctrl.cut_off("t", 0, &[2, 3]);
    assert_eq!(w1.produce(9, 1, "t", 0, batch_from(100, 7, Compression::None, None)).error_code, 0);
    assert_eq!(log_end(&brokers[0], "t", 0), 17);

    // The controller elects broker 2 (epoch bump); 1 becomes its follower.
    ctrl.overrides.lock().unwrap().clear();
    let st = ctrl.elect("t", 0, &[1, 2, 3], &[2, 3], 2);
    assert_eq!(st.leader_epoch, 1);
    // The old leader is fenced for clients at once.
    assert_eq!(w1.produce(9, -1, "t", 0, batch_from(200, 1, Compression::None, None)).error_code, ErrorCode::NotLeaderOrFollower.code());
    let mut w2 = Wire::connect(&brokers[1]);
    let r = w2.produce(9, -1, "t", 0, batch_from(10, 5, Compression::None, None));
    assert_eq!((r.error_code, r.base_offset), (0, 10), "the new leader writes after what was committed");

    // Broker 1 learns of the divergence from its first Fetch (DivergingEpoch), truncates its tail, and
    // converges with the new leader.
    wait_until("old leader converged", Duration::from_secs(10), || log_end(&brokers[0], "t", 0) == 15);
    let reference = log_bytes(&brokers[1], "t", 0);
    assert_eq!(log_bytes(&brokers[0], "t", 0), reference);
    let all = decode_records(&Bytes::from(reference));
    assert!(all.iter().all(|(_, _, v)| v != "value-100"), "the unreplicated tail is gone everywhere");
    let epochs = brokers[0].state().partition("t", 0).unwrap().log().leader_epochs().entries().to_vec();
    assert_eq!(epochs.iter().map(|e| (e.epoch, e.start_offset)).collect::<Vec<_>>(), vec![(0, 0), (1, 10)]);

    // It catches up enough to rejoin the ISR, and clients on the old leader epoch are fenced.
    wait_until("broker 1 back in the ISR", Duration::from_secs(10), || ctrl.state("t", 0).isr.contains(&1));
    let req = FetchRequest::default().with_replica_id(BrokerId(-1)).with_max_wait_ms(0).with_session_epoch(-1).with_max_bytes(1 << 20).with_topics(vec![
        fetch_request::FetchTopic::default().with_topic(topic("t")).with_partitions(vec![fetch_request::FetchPartition::default()
            .with_partition(0)
            .with_current_leader_epoch(0)
            .with_fetch_offset(0)
            .with_partition_max_bytes(1 << 20)]),
    ]);
    let resp: FetchResponse = w2.send(ApiKey::Fetch, 12, &req);
    assert_eq!(resp.responses[0].partitions[0].error_code, ErrorCode::FencedLeaderEpoch.code());

    // OffsetForLeaderEpoch on the new leader: epoch 0 ended at 10.
    let req = OffsetForLeaderEpochRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
        offset_for_leader_epoch_request::OffsetForLeaderTopic::default().with_topic(topic("t")).with_partitions(vec![
            offset_for_leader_epoch_request::OffsetForLeaderPartition::default().with_partition(0).with_current_leader_epoch(1).with_leader_epoch(0),
        ]),
    ]);
    let resp: OffsetForLeaderEpochResponse = w2.send(ApiKey::OffsetForLeaderEpoch, 4, &req);
    let p = &resp.topics[0].partitions[0];
    assert_eq!((p.error_code, p.leader_epoch, p.end_offset), (0, 0, 10));
    for b in brokers {
        b.shutdown();
    }
}

#[test]
fn min_insync_replicas_refuses_acks_all_when_the_isr_is_too_small() {
    let dir = tempfile::tempdir().unwrap();
    let ctrl = TestController::new();
    let props = [("min.insync.replicas", "2")];
    let mut brokers: Vec<Broker> = (1..=3).map(|id| start(&ctrl, id, dir.path(), &props)).collect();
    ctrl.elect("t", 0, &[1, 2, 3], &[1, 2, 3], 1);
    let mut w = Wire::connect(&brokers[0]);
    assert_eq!(w.produce(9, -1, "t", 0, batch_from(0, 3, Compression::None, None)).error_code, 0);

    // Both followers stop and the controller leaves only the leader in the ISR: acks=all is refused before
    // anything is appended, acks=1 still works.
    for id in [3, 2] {
        ctrl.unregister(id);
        brokers.pop().unwrap().shutdown();
    }
    ctrl.decide("t", 0, |s| s.isr = vec![1]);
    let r = w.produce(9, -1, "t", 0, batch_from(3, 3, Compression::None, None));
    assert_eq!(r.error_code, ErrorCode::NotEnoughReplicas.code());
    assert_eq!(log_end(&brokers[0], "t", 0), 3, "nothing appended");
    assert_eq!(w.produce(9, 1, "t", 0, batch_from(3, 3, Compression::None, None)).error_code, 0);
    for b in brokers {
        b.shutdown();
    }
}

#[test]
fn acks_all_times_out_or_fails_after_append_when_replicas_do_not_follow() {
    let dir = tempfile::tempdir().unwrap();
    let ctrl = TestController::new();
    let props = [("min.insync.replicas", "2")];
    let brokers: Vec<Broker> = (1..=2).map(|id| start(&ctrl, id, dir.path(), &props)).collect();
    ctrl.elect("t", 0, &[1, 2], &[1, 2], 1);
    let mut w = Wire::connect(&brokers[0]);
    assert_eq!(w.produce(9, -1, "t", 0, batch_from(0, 2, Compression::None, None)).error_code, 0);

    // The follower is cut off. Within the request's timeout (shorter than the lag time) the HW cannot reach the
    // batch: REQUEST_TIMED_OUT, though the batch is in the leader's log.
    ctrl.cut_off("t", 0, &[2]);
    let req = produce_request(-1, "t", 0, batch_from(2, 2, Compression::None, None)).with_timeout_ms(200);
    let resp: ProduceResponse = w.send(ApiKey::Produce, 9, &req);
    assert_eq!(resp.responses[0].partition_responses[0].error_code, ErrorCode::RequestTimedOut.code());
    assert_eq!(log_end(&brokers[0], "t", 0), 4);

    // With a timeout beyond the lag time, the leader drops the follower from the ISR meanwhile; the HW then
    // reaches the batch with an ISR of one, below min.insync.replicas=2: NOT_ENOUGH_REPLICAS_AFTER_APPEND.
    let r = w.produce(9, -1, "t", 0, batch_from(4, 2, Compression::None, None));
    assert_eq!(r.error_code, ErrorCode::NotEnoughReplicasAfterAppend.code());
    assert_eq!(ctrl.state("t", 0).isr, vec![1]);
    assert_eq!(w.produce(9, -1, "t", 0, batch_from(6, 2, Compression::None, None)).error_code, ErrorCode::NotEnoughReplicas.code());

    // The follower comes back, catches up, rejoins; acks=all works again.
    ctrl.reconnect("t", 0);
    wait_until("follower back in the ISR", Duration::from_secs(10), || ctrl.state("t", 0).isr.len() == 2);
    assert_eq!(w.produce(9, -1, "t", 0, batch_from(6, 2, Compression::None, None)).error_code, 0);
    wait_until("follower caught up", Duration::from_secs(10), || log_end(&brokers[1], "t", 0) == 8);
    assert_eq!(log_bytes(&brokers[1], "t", 0), log_bytes(&brokers[0], "t", 0));
    for b in brokers {
        b.shutdown();
    }
}

#[test]
fn high_watermarks_are_checkpointed_on_shutdown_and_restored() {
    let dir = tempfile::tempdir().unwrap();
    {
        let broker = start_broker_in(dir.path(), &[]);
        let mut w = Wire::connect(&broker);
        assert_eq!(w.create_topic("hw", 2), 0);
        assert_eq!(w.produce(9, -1, "hw", 1, batch(3, Compression::None)).error_code, 0);
        broker.shutdown();
    }
    let text = std::fs::read_to_string(dir.path().join("replication-offset-checkpoint")).unwrap();
    assert_eq!(text, "0\n2\nhw 0 0\nhw 1 3\n");
    let epochs = std::fs::read_to_string(dir.path().join("hw-1").join("leader-epoch-checkpoint")).unwrap();
    assert_eq!(epochs, "0\n1\n0 0\n");
    let broker = start_broker_in(dir.path(), &[]);
    assert_eq!(high_watermark(&broker, "hw", 1), 3);
    let mut w = Wire::connect(&broker);
    assert_eq!(w.list_offset(7, "hw", 1, -1).offset, 3);
    broker.shutdown();
}

/// A follower's Fetch for t-0, as a broker's fetcher sends it.
fn follower_fetch(w: &mut Wire, replica: i32, leader_epoch: i32, offset: i64, last_epoch: i32) -> fetch_response::PartitionData {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(replica))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![fetch_request::FetchTopic::default().with_topic(topic("t")).with_partitions(vec![
            fetch_request::FetchPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(leader_epoch)
                .with_fetch_offset(offset)
                .with_last_fetched_epoch(last_epoch)
                .with_partition_max_bytes(1 << 20),
        ])]);
    let resp: FetchResponse = w.send(ApiKey::Fetch, 12, &req);
    resp.responses[0].partitions[0].clone()
}

/// The leader's side of the Fetch protocol, driven by the test playing follower 2 over the wire.
#[test]
fn the_leader_counts_only_non_diverging_follower_fetches_and_acks_at_their_offset() {
    let dir = tempfile::tempdir().unwrap();
    let ctrl = TestController::new();
    let leader = start(&ctrl, 1, dir.path(), &[]);
    ctrl.elect("t", 0, &[1, 2], &[1], 1);
    let mut w = Wire::connect(&leader);
    for i in 0..3 {
        assert_eq!(w.produce(9, -1, "t", 0, batch_from(i * 10, 10, Compression::None, None)).error_code, 0);
    }
    ctrl.elect("t", 0, &[1, 2], &[1], 1); // re-elected: epoch 1 starts at 30
    assert_eq!(w.produce(9, -1, "t", 0, batch_from(30, 10, Compression::None, None)).error_code, 0);
    let mut f = Wire::connect(&leader);

    // Follower 2 claims epoch-0 data up to 40, but epoch 0 ended at 30 here: it must truncate to 30, and that
    // fetch is no progress report (counted, 40 would be "caught up" and proposed into the ISR at once).
    let pd = follower_fetch(&mut f, 2, 1, 40, 0);
    assert_eq!((pd.error_code, pd.diverging_epoch.epoch, pd.diverging_epoch.end_offset), (0, 0, 30));
    assert!(pd.records.as_ref().is_none_or(|r| r.is_empty()));
    let replica = leader.state().partition("t", 0).unwrap();
    assert_eq!(replica.snapshot().maximal_isr_size, 1, "no ISR expansion proposed for a diverging follower");
    // From 30 it reads the leader's log, beyond the HW (a follower is not bounded by it).
    let pd = follower_fetch(&mut f, 2, 1, 30, 0);
    assert_eq!(decode_records(pd.records.as_ref().unwrap()).len(), 10);
    assert_eq!(ctrl.state("t", 0).isr, vec![1], "30 is below the HW (40): not yet in sync");
    // Wrong epochs are fenced either way.
    assert_eq!(follower_fetch(&mut f, 2, 0, 40, 1).error_code, ErrorCode::FencedLeaderEpoch.code());
    assert_eq!(follower_fetch(&mut f, 2, 2, 40, 1).error_code, ErrorCode::UnknownLeaderEpoch.code());
    // Caught up: the leader proposes it into the ISR and the controller agrees.
    follower_fetch(&mut f, 2, 1, 40, 1);
    wait_until("follower 2 in the ISR", Duration::from_secs(5), || ctrl.state("t", 0).isr == vec![1, 2]);

    // An acks=all produce now completes only when follower 2's next fetch reports past the batch.
    let bootstrap = leader.bootstrap_servers();
    let producer = std::thread::spawn(move || {
        let mut p = Wire::connect_addr(&bootstrap);
        p.produce(9, -1, "t", 0, batch_from(40, 10, Compression::None, None))
    });
    wait_until("the batch appended", Duration::from_secs(5), || log_end(&leader, "t", 0) == 50);
    let pd = follower_fetch(&mut f, 2, 1, 40, 1);
    assert_eq!(pd.high_watermark, 40, "not acknowledged by follower 2 yet");
    assert_eq!(decode_records(pd.records.as_ref().unwrap()).len(), 10);
    assert!(!producer.is_finished());
    follower_fetch(&mut f, 2, 1, 50, 1);
    let r = producer.join().unwrap();
    assert_eq!((r.error_code, r.base_offset), (0, 40));
    assert_eq!(high_watermark(&leader, "t", 0), 50);
    leader.shutdown();
}
