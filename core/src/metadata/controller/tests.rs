//! The controller on synthetic time: a test cluster applies each result's records to its image, as the quorum
//! driver does.

use std::time::{Duration, Instant};

use super::*;

struct Harness {
    img: MetadataImage,
    ctl: Controller,
    t0: Instant,
    epochs: HashMap<i32, i64>,
}

impl Harness {
    fn new() -> Self {
        let config = ControllerConfig {
            session_timeout: Duration::from_millis(9000),
            unclean_leader_election: false,
            delete_topic_enable: true,
            default_partitions: 1,
            default_replication_factor: 1,
            log_defaults: LogConfig::default(),
        };
        Harness { img: MetadataImage::new("c"), ctl: Controller::new(config), t0: Instant::now(), epochs: HashMap::new() }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn apply<T>(&mut self, r: ControllerResult<T>) -> T {
        for rec in &r.records {
            let offset = self.img.offset + 1;
            self.img.apply(offset, rec);
        }
        r.response
    }

    fn apply_records(&mut self, records: Vec<MetadataRecord>) {
        self.apply(ControllerResult { records, response: () });
    }

    fn register(&mut self, id: i32, incarnation: u128, ms: u64) -> Result<i64, ApiError> {
        let req = RegisterBroker {
            broker_id: id,
            incarnation_id: Uuid::from_u128(incarnation),
            endpoints: vec![records::BrokerEndpoint { name: "PLAINTEXT".into(), host: "localhost".into(), port: 9000 + id as u16, security_protocol: 0 }],
            rack: None,
        };
        let r = self.ctl.register_broker(&self.img, req, self.at(ms));
        let epoch = self.apply(r)?;
        self.epochs.insert(id, epoch);
        Ok(epoch)
    }

    fn heartbeat(&mut self, id: i32, ms: u64, want_shutdown: bool) -> HeartbeatReply {
        let hb = Heartbeat { broker_id: id, broker_epoch: self.epochs[&id], metadata_offset: self.img.offset, want_fence: false, want_shutdown };
        let r = self.ctl.heartbeat(&self.img, hb, self.at(ms));
        self.apply(r).unwrap()
    }

    /// Three registered, unfenced brokers.
    fn three_brokers() -> Self {
        let mut h = Harness::new();
        for id in 1..=3 {
            h.register(id, id as u128, 0).unwrap();
        }
        for id in 1..=3 {
            assert!(!h.heartbeat(id, 0, false).is_fenced);
        }
        h
    }

    fn create(&mut self, name: &str, partitions: i32, rf: i16) -> Result<TopicMeta, ApiError> {
        let t = NewTopic { name: name.into(), partitions, replication_factor: rf, assignments: vec![], configs: Props::new() };
        let r = self.ctl.create_topics(&self.img, vec![t], false);
        self.apply(r).remove(0)
    }

    fn state(&self, topic: &str, p: i32) -> PartitionState {
        self.img.partition(topic, p).unwrap().clone()
    }
}

#[test]
fn registration_starts_fenced_and_unfences_when_caught_up() {
    let mut h = Harness::new();
    let epoch = h.register(1, 11, 0).unwrap();
    assert!(h.img.brokers[&1].fenced);
    assert_eq!(epoch, h.img.brokers[&1].registered_at, "the broker epoch is the offset of its registration");
    // A heartbeat from a broker whose replay is behind its registration keeps it fenced.
    let hb = Heartbeat { broker_id: 1, broker_epoch: epoch, metadata_offset: epoch - 1, want_fence: false, want_shutdown: false };
    let r = h.ctl.heartbeat(&h.img, hb, h.at(10));
    assert!(r.records.is_empty());
    assert_eq!(h.apply(r).unwrap(), HeartbeatReply { is_caught_up: false, is_fenced: true, should_shut_down: false });
    assert!(!h.heartbeat(1, 20, false).is_fenced);
    // A stale epoch is refused.
    let hb = Heartbeat { broker_id: 1, broker_epoch: epoch - 1, metadata_offset: 100, want_fence: false, want_shutdown: false };
    assert_eq!(h.ctl.heartbeat(&h.img, hb, h.at(30)).response.unwrap_err().0, ErrorCode::StaleBrokerEpoch);
    let hb = Heartbeat { broker_id: 9, ..hb };
    assert_eq!(h.ctl.heartbeat(&h.img, hb, h.at(30)).response.unwrap_err().0, ErrorCode::BrokerIdNotRegistered);
}

#[test]
fn topics_are_placed_over_unfenced_brokers() {
    let mut h = Harness::three_brokers();
    let t = h.create("t", 6, 3).unwrap();
    let mut leaders: Vec<i32> = t.partitions.iter().map(|p| p.leader).collect();
    leaders.sort();
    assert_eq!(leaders, vec![1, 1, 2, 2, 3, 3], "leaders spread evenly");
    for p in &t.partitions {
        assert_eq!(p.isr, p.replicas);
        assert_eq!(p.leader, p.replicas[0]);
    }
    assert_eq!(h.img.topics["t"], t);
    assert_eq!(h.create("t", 1, 1).unwrap_err().0, ErrorCode::TopicAlreadyExists);
    assert_eq!(h.create("u", 1, 4).unwrap_err().0, ErrorCode::InvalidReplicationFactor);
    // Default partitions / replication factor, and a name named twice in one request.
    let twice = vec![
        NewTopic { name: "d".into(), partitions: -1, replication_factor: -1, assignments: vec![], configs: Props::new() },
        NewTopic { name: "d".into(), partitions: 1, replication_factor: 1, assignments: vec![], configs: Props::new() },
    ];
    let r = h.ctl.create_topics(&h.img, twice, false);
    let answers = h.apply(r);
    assert_eq!(answers[0].as_ref().unwrap().partitions.len(), 1);
    assert_eq!(answers[1].as_ref().unwrap_err().0, ErrorCode::TopicAlreadyExists);
    // A bad config value names its key.
    let bad = NewTopic { name: "b".into(), partitions: 1, replication_factor: 1, assignments: vec![], configs: [("retention.ms".to_string(), "x".to_string())].into() };
    let e = h.ctl.create_topics(&h.img, vec![bad], false).response.remove(0).unwrap_err();
    assert_eq!(e.0, ErrorCode::InvalidConfig);
    assert!(e.1.contains("retention.ms"), "{}", e.1);
    // Adding partitions places the new ones too; the count never shrinks.
    let r = h.ctl.create_partitions(&h.img, "t", 9, false);
    h.apply(r).unwrap();
    assert_eq!(h.img.topics["t"].partitions.len(), 9);
    assert_eq!(h.ctl.create_partitions(&h.img, "t", 2, false).response.unwrap_err().0, ErrorCode::InvalidPartitions);
}

#[test]
fn a_silent_broker_is_fenced_and_loses_leadership_and_isr() {
    let mut h = Harness::three_brokers();
    h.create("t", 3, 3).unwrap();
    let led_by_1: Vec<i32> = (0..3).filter(|&p| h.state("t", p).leader == 1).collect();
    assert_eq!(led_by_1.len(), 1);
    // Brokers 2 and 3 keep heartbeating; 1 stops.
    for ms in [3000, 6000, 8999] {
        h.heartbeat(2, ms, false);
        h.heartbeat(3, ms, false);
        let img = h.img.clone();
        assert!(h.ctl.fence_stale_brokers(&img, h.at(ms)).is_empty());
    }
    let img = h.img.clone();
    let recs = h.ctl.fence_stale_brokers(&img, h.at(9000));
    h.apply_records(recs);
    assert!(h.img.brokers[&1].fenced);
    for p in 0..3 {
        let s = h.state("t", p);
        assert!(!s.isr.contains(&1), "{s:?}");
        assert_ne!(s.leader, 1);
        assert!(s.leader == 2 || s.leader == 3);
    }
    let moved = h.state("t", led_by_1[0]);
    assert_eq!(moved.leader_epoch, 1, "a leader change bumps the leader epoch");
    // Broker 1 comes back (caught up): unfenced, but it rejoins the ISR only through its leaders' AlterPartition.
    h.heartbeat(1, 9500, false);
    assert!(!h.img.brokers[&1].fenced);
    assert!(!h.state("t", 0).isr.contains(&1));
}

#[test]
fn last_isr_member_fenced_leaves_partition_offline_until_it_returns() {
    let mut h = Harness::three_brokers();
    h.create("one", 1, 1).unwrap();
    let owner = h.state("one", 0).leader;
    let others: Vec<i32> = (1..=3).filter(|&b| b != owner).collect();
    for &b in &others {
        h.heartbeat(b, 9000, false);
    }
    let img = h.img.clone();
    let recs = h.ctl.fence_stale_brokers(&img, h.at(9000));
    h.apply_records(recs);
    let s = h.state("one", 0);
    assert_eq!((s.leader, s.isr.clone()), (NO_LEADER, vec![owner]), "no unclean election; the ISR keeps its last member");
    h.heartbeat(owner, 9100, false);
    let s = h.state("one", 0);
    assert_eq!((s.leader, s.leader_epoch), (owner, 2), "unfencing elects it again");
}

#[test]
fn unclean_election_only_when_enabled() {
    let mut h = Harness::three_brokers();
    h.create("t", 1, 2).unwrap();
    let s = h.state("t", 0);
    let (leader, follower) = (s.replicas[0], s.replicas[1]);
    // The follower left the ISR; then the leader dies.
    let p = IsrProposal { topic_id: h.img.topics["t"].id, topic: "t".into(), partition: 0, leader, leader_epoch: 0, partition_epoch: 0, new_isr: vec![leader] };
    let epoch = h.epochs[&leader];
    let r = h.ctl.alter_partition(&h.img, epoch, &p);
    h.apply(r).unwrap();
    h.ctl.config.unclean_leader_election = true;
    let survivors: Vec<i32> = (1..=3).filter(|&b| b != leader).collect();
    for &b in &survivors {
        h.heartbeat(b, 9000, false);
    }
    let img = h.img.clone();
    let recs = h.ctl.fence_stale_brokers(&img, h.at(9000));
    h.apply_records(recs);
    let s = h.state("t", 0);
    assert_eq!((s.leader, s.isr), (follower, vec![follower]), "unclean: the out-of-sync follower leads");
}

#[test]
fn alter_partition_checks_epochs_and_eligibility() {
    let mut h = Harness::three_brokers();
    let t = h.create("t", 1, 3).unwrap();
    let s = h.state("t", 0);
    let leader = s.leader;
    let epoch = h.epochs[&leader];
    let base = IsrProposal { topic_id: t.id, topic: "t".into(), partition: 0, leader, leader_epoch: 0, partition_epoch: 0, new_isr: vec![leader] };
    let r = h.ctl.alter_partition(&h.img, epoch, &base);
    let after = h.apply(r).unwrap();
    assert_eq!((after.isr.clone(), after.partition_epoch, after.leader_epoch), (vec![leader], 1, 0));
    // The same proposal again is based on a stale partition epoch.
    assert_eq!(h.ctl.alter_partition(&h.img, epoch, &base).response.unwrap_err(), ErrorCode::InvalidUpdateVersion);
    assert_eq!(h.ctl.alter_partition(&h.img, epoch, &IsrProposal { leader_epoch: -1, ..base.clone() }).response.unwrap_err(), ErrorCode::FencedLeaderEpoch);
    assert_eq!(h.ctl.alter_partition(&h.img, epoch, &IsrProposal { partition_epoch: 5, ..base.clone() }).response.unwrap_err(), ErrorCode::NotController);
    assert_eq!(h.ctl.alter_partition(&h.img, epoch - 1, &base).response.unwrap_err(), ErrorCode::StaleBrokerEpoch);
    let grow = IsrProposal { partition_epoch: 1, new_isr: s.replicas.clone(), ..base.clone() };
    assert_eq!(h.ctl.alter_partition(&h.img, epoch, &IsrProposal { new_isr: vec![leader, 7], ..grow.clone() }).response.unwrap_err(), ErrorCode::InvalidRequest);
    let other = s.replicas.iter().copied().find(|&r| r != leader).unwrap();
    assert_eq!(h.ctl.alter_partition(&h.img, epoch, &IsrProposal { new_isr: vec![other], ..grow.clone() }).response.unwrap_err(), ErrorCode::InvalidRequest, "the ISR must keep its leader");
    // A fenced broker cannot join the ISR.
    let r = h.ctl.heartbeat(&h.img, Heartbeat { broker_id: other, broker_epoch: h.epochs[&other], metadata_offset: h.img.offset, want_fence: true, want_shutdown: false }, h.at(10));
    h.apply(r).unwrap();
    assert_eq!(h.ctl.alter_partition(&h.img, epoch, &grow).response.unwrap_err(), ErrorCode::IneligibleReplica);
    let ok = IsrProposal { new_isr: s.replicas.iter().copied().filter(|&r| r != other).collect(), ..grow };
    let r = h.ctl.alter_partition(&h.img, epoch, &ok);
    assert_eq!(h.apply(r).unwrap().isr.len(), 2);
}

#[test]
fn controlled_shutdown_moves_leadership_before_answering() {
    let mut h = Harness::three_brokers();
    h.create("t", 3, 3).unwrap();
    let reply = h.heartbeat(2, 100, true);
    assert!(!reply.should_shut_down, "the others have not replayed the moves yet");
    assert!(h.img.brokers[&2].in_controlled_shutdown);
    for p in 0..3 {
        let s = h.state("t", p);
        assert!(s.leader != 2 && !s.isr.contains(&2), "{s:?}");
    }
    // Still waiting while broker 3 has not seen the moves.
    h.heartbeat(1, 200, false);
    assert!(!h.heartbeat(2, 300, true).should_shut_down);
    h.heartbeat(3, 400, false);
    let reply = h.heartbeat(2, 500, true);
    assert!(reply.should_shut_down);
    assert!(h.img.brokers[&2].fenced);
}

#[test]
fn duplicate_registration_refused_while_the_session_lives() {
    let mut h = Harness::three_brokers();
    h.create("t", 1, 3).unwrap();
    assert_eq!(h.register(1, 99, 1000).unwrap_err().0, ErrorCode::DuplicateBrokerRegistration);
    // After the session expired (a crash and a restart) the new incarnation registers, leaving every ISR first.
    h.register(1, 99, 9500).unwrap();
    let s = h.state("t", 0);
    assert!(!s.isr.contains(&1) && s.leader != 1, "{s:?}");
    assert!(h.img.brokers[&1].fenced);
}

#[test]
fn producer_id_blocks_never_overlap() {
    let mut h = Harness::three_brokers();
    let r = h.ctl.allocate_producer_ids(&h.img, 1, h.epochs[&1]);
    let (a, n) = h.apply(r).unwrap();
    let r = h.ctl.allocate_producer_ids(&h.img, 2, h.epochs[&2]);
    let (b, _) = h.apply(r).unwrap();
    assert!(b >= a + i64::from(n));
    assert_eq!(h.ctl.allocate_producer_ids(&h.img, 2, 0).response.unwrap_err().0, ErrorCode::StaleBrokerEpoch);
}

#[test]
fn preferred_leaders_are_restored() {
    let mut h = Harness::three_brokers();
    h.create("t", 3, 3).unwrap();
    for b in [2, 3] {
        h.heartbeat(b, 9000, false);
    }
    let img = h.img.clone();
    let recs = h.ctl.fence_stale_brokers(&img, h.at(9000));
    h.apply_records(recs);
    h.heartbeat(1, 9100, false);
    // Broker 1 back in the ISRs (its leaders' AlterPartition), then the rebalance moves leadership back.
    let t = h.img.topics["t"].clone();
    for (i, p) in t.partitions.iter().enumerate() {
        let prop = IsrProposal { topic_id: t.id, topic: "t".into(), partition: i as i32, leader: p.leader, leader_epoch: p.leader_epoch, partition_epoch: p.partition_epoch, new_isr: p.replicas.clone() };
        let r = h.ctl.alter_partition(&h.img, h.epochs[&p.leader], &prop);
        h.apply(r).unwrap();
    }
    let img = h.img.clone();
    let recs = h.ctl.rebalance_preferred_leaders(&img);
    assert_eq!(recs.len(), 1);
    h.apply_records(recs);
    for p in 0..3 {
        let s = h.state("t", p);
        assert_eq!(s.leader, s.replicas[0]);
    }
    let r = h.ctl.elect_leaders(&h.img, Election::Preferred, &[("t".into(), 0)]);
    assert_eq!(r.response[0].as_ref().unwrap_err().0, ErrorCode::ElectionNotNeeded);
}

#[test]
fn configs_and_deletion() {
    let mut h = Harness::three_brokers();
    h.create("t", 2, 1).unwrap();
    let c: Props = [("retention.ms".to_string(), "1000".to_string())].into();
    let r = h.ctl.set_topic_configs(&h.img, "t", &c, false);
    h.apply(r).unwrap();
    assert_eq!(h.img.topics["t"].configs, c);
    let r = h.ctl.set_topic_configs(&h.img, "t", &Props::new(), false);
    assert_eq!(r.records.len(), 1, "one removal");
    h.apply(r).unwrap();
    assert!(h.img.topics["t"].configs.is_empty());
    let r = h.ctl.delete_topics(&h.img, &["t".into(), "nope".into()]);
    let answers = h.apply(r);
    assert!(answers[0].is_ok());
    assert_eq!(answers[1].as_ref().unwrap_err().0, ErrorCode::UnknownTopicOrPartition);
    assert!(h.img.topics.is_empty());
}
