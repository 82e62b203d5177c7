//! The consumer end to end against an embedded broker: manual assignment, group subscription and rebalances,
//! commits, offset reset, rebalance listeners on the polling thread, pause/resume, assignors.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use common::*;
use streamlet::client::consumer::{Consumer, ConsumerError, ConsumerRecord, RebalanceListener, TopicPartition};
use streamlet::record::Compression;

const WAIT: Duration = Duration::from_secs(30);

fn broker() -> TestBroker {
    client_broker(&[("group.initial.rebalance.delay.ms", "0"), ("offsets.topic.num.partitions", "1")])
}

fn tp(t: &str, p: i32) -> TopicPartition {
    (t.to_string(), p)
}

/// Creates `topic` with `partitions` partitions and `per_partition` records in each (`key-i`/`value-i`).
fn setup(broker: &TestBroker, topic: &str, partitions: i32, per_partition: usize) {
    let mut w = Wire::connect(broker);
    assert_eq!(w.create_topic(topic, partitions), 0);
    for p in 0..partitions {
        await_leader(&mut w, topic, p);
        if per_partition > 0 {
            // acks=all: the records are committed (what consumers and ListOffsets "latest" see) when it returns.
            assert_eq!(w.produce(9, -1, topic, p, batch_from(0, per_partition, Compression::None, None)).error_code, 0);
        }
    }
}

fn produce(broker: &TestBroker, topic: &str, partition: i32, start: usize, n: usize, codec: Compression) {
    let mut w = Wire::connect(broker);
    await_leader(&mut w, topic, partition);
    assert_eq!(w.produce(9, -1, topic, partition, batch_from(start, n, codec, None)).error_code, 0);
}

fn consumer(broker: &TestBroker, extra: &[(&str, &str)]) -> Consumer {
    let addr = broker.bootstrap_servers();
    let mut props: Vec<(&str, &str)> = vec![
        ("bootstrap.servers", addr.as_str()),
        ("auto.offset.reset", "earliest"),
        ("heartbeat.interval.ms", "100"),
        ("session.timeout.ms", "10000"),
        ("fetch.max.wait.ms", "100"),
    ];
    for (k, v) in extra {
        props.retain(|(pk, _)| pk != k);
        props.push((k, v));
    }
    Consumer::from_props(&props).expect("consumer")
}

fn s(b: &Option<bytes::Bytes>) -> String {
    b.as_ref().map(|b| String::from_utf8_lossy(b).to_string()).unwrap_or_default()
}

/// Polls until `n` records arrived (fails after WAIT).
fn poll_n(c: &Consumer, n: usize) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < deadline, "only {} of {n} records arrived", out.len());
        out.extend(c.poll(Duration::from_millis(100)).expect("poll"));
    }
    out
}

/// Polls every consumer until `done` holds, collecting records per consumer.
fn poll_until(cs: &[&Consumer], what: &str, mut done: impl FnMut(&[&Consumer]) -> bool) -> Vec<Vec<ConsumerRecord>> {
    let deadline = Instant::now() + WAIT;
    let mut got = vec![Vec::new(); cs.len()];
    loop {
        for (i, c) in cs.iter().enumerate() {
            got[i].extend(c.poll(Duration::from_millis(20)).expect("poll"));
        }
        if done(cs) {
            return got;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
    }
}

fn assert_split(a: &[TopicPartition], b: &[TopicPartition], total: i32, topic: &str) {
    let sa: BTreeSet<_> = a.iter().cloned().collect();
    let sb: BTreeSet<_> = b.iter().cloned().collect();
    assert!(sa.is_disjoint(&sb), "overlap: {a:?} / {b:?}");
    let all: BTreeSet<_> = sa.union(&sb).cloned().collect();
    assert_eq!(all, (0..total).map(|p| tp(topic, p)).collect::<BTreeSet<_>>());
}

fn split_done(total: usize) -> impl FnMut(&[&Consumer]) -> bool {
    move |cs| {
        let (a, b) = (cs[0].assignment(), cs[1].assignment());
        !a.is_empty() && !b.is_empty() && a.len() + b.len() == total && a.iter().all(|p| !b.contains(p))
    }
}

#[test]
fn assign_seek_and_poll_read_exact_records_of_every_codec() {
    let broker = broker();
    setup(&broker, "codecs", 1, 0);
    let codecs = [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];
    for (i, codec) in codecs.iter().enumerate() {
        produce(&broker, "codecs", 0, i * 10, 10, *codec);
    }
    let c = consumer(&broker, &[]);
    c.assign(&[tp("codecs", 0)]).unwrap();
    let recs = poll_n(&c, 50);
    assert_eq!(recs.len(), 50);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!((r.topic.as_str(), r.partition, r.offset), ("codecs", 0, i as i64));
        assert_eq!(s(&r.key), format!("key-{i}"));
        assert_eq!(s(&r.value), format!("value-{i}"));
        assert_eq!(r.timestamp, 1_700_000_000_000 + i as i64);
        assert_eq!(r.headers, vec![("h".to_string(), Some(bytes::Bytes::from(format!("{i}"))))]);
    }
    assert_eq!(c.position(&tp("codecs", 0)).unwrap(), 50);
    // Into the middle of a compressed batch: records before the position are skipped.
    c.seek(&tp("codecs", 0), 23).unwrap();
    let recs = poll_n(&c, 27);
    assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), (23..50).collect::<Vec<_>>());
    assert!(c.poll(Duration::from_millis(200)).unwrap().is_empty());
    // Offset lookups.
    let t = tp("codecs", 0);
    assert_eq!(c.beginning_offsets(std::slice::from_ref(&t)).unwrap()[&t], 0);
    assert_eq!(c.end_offsets(std::slice::from_ref(&t)).unwrap()[&t], 50);
    let q: BTreeMap<_, _> = [(t.clone(), 1_700_000_000_033)].into();
    assert_eq!(c.offsets_for_times(&q).unwrap()[&t].map(|x| x.0), Some(33));
    c.seek_to_beginning(std::slice::from_ref(&t)).unwrap();
    assert_eq!(c.position(&t).unwrap(), 0);
    c.seek_to_end(std::slice::from_ref(&t)).unwrap();
    assert_eq!(c.position(&t).unwrap(), 50);
    c.close().unwrap();
}

#[test]
fn max_poll_records_limits_each_poll() {
    let broker = broker();
    setup(&broker, "limit", 1, 30);
    let c = consumer(&broker, &[("max.poll.records", "7")]);
    c.assign(&[tp("limit", 0)]).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut all = Vec::new();
    while all.len() < 30 {
        assert!(Instant::now() < deadline);
        let r = c.poll(Duration::from_millis(100)).unwrap();
        assert!(r.len() <= 7);
        all.extend(r);
    }
    assert_eq!(all.iter().map(|r| r.offset).collect::<Vec<_>>(), (0..30).collect::<Vec<_>>());
}

#[test]
fn one_subscriber_gets_every_partition_and_record() {
    let broker = broker();
    setup(&broker, "sub1", 3, 10);
    let c = consumer(&broker, &[("group.id", "g-sub1")]);
    c.subscribe(&["sub1"], None).unwrap();
    let recs = poll_n(&c, 30);
    let mut seen: BTreeSet<(i32, i64)> = BTreeSet::new();
    for r in &recs {
        assert!(seen.insert((r.partition, r.offset)), "duplicate {r:?}");
    }
    assert_eq!(seen.len(), 30);
    assert_eq!(c.assignment().len(), 3);
    c.close().unwrap();
}

#[test]
fn two_members_split_six_partitions_and_the_survivor_takes_all() {
    let broker = broker();
    setup(&broker, "six", 6, 5);
    let a = consumer(&broker, &[("group.id", "g-six")]);
    let b = consumer(&broker, &[("group.id", "g-six")]);
    a.subscribe(&["six"], None).unwrap();
    poll_until(&[&a], "a owns all", |cs| cs[0].assignment().len() == 6);
    b.subscribe(&["six"], None).unwrap();
    poll_until(&[&a, &b], "a split", split_done(6));
    assert_split(&a.assignment(), &b.assignment(), 6, "six");
    b.close().unwrap();
    poll_until(&[&a], "a owns all again", |cs| cs[0].assignment().len() == 6);
    a.close().unwrap();
}

#[test]
fn commit_sync_then_a_new_member_resumes_after_the_commit() {
    let broker = broker();
    setup(&broker, "resume", 1, 20);
    let c1 = consumer(&broker, &[("group.id", "g-resume"), ("enable.auto.commit", "false"), ("max.poll.records", "7")]);
    c1.subscribe(&["resume"], None).unwrap();
    let first = poll_n(&c1, 1);
    let last = first.last().unwrap().offset;
    c1.commit_sync(None).unwrap();
    assert_eq!(c1.committed(&[tp("resume", 0)]).unwrap()[&tp("resume", 0)], Some(last + 1));
    c1.close().unwrap();
    let c2 = consumer(&broker, &[("group.id", "g-resume"), ("enable.auto.commit", "false")]);
    c2.subscribe(&["resume"], None).unwrap();
    let rest = poll_n(&c2, (19 - last) as usize);
    let offsets: Vec<i64> = first.iter().chain(rest.iter()).map(|r| r.offset).collect();
    assert_eq!(offsets, (0..20).collect::<Vec<_>>(), "every record once");
    // Explicit offsets.
    c2.commit_sync(Some([(tp("resume", 0), 15)].into())).unwrap();
    assert_eq!(c2.committed(&[tp("resume", 0)]).unwrap()[&tp("resume", 0)], Some(15));
    c2.close().unwrap();
}

#[test]
fn auto_commit_on_close() {
    let broker = broker();
    setup(&broker, "autoc", 1, 12);
    let c = consumer(&broker, &[("group.id", "g-autoc"), ("auto.commit.interval.ms", "600000"), ("max.poll.records", "5")]);
    c.subscribe(&["autoc"], None).unwrap();
    let got = poll_n(&c, 1);
    let next = got.last().unwrap().offset + 1;
    c.close().unwrap();
    let check = consumer(&broker, &[("group.id", "g-autoc")]);
    assert_eq!(check.committed(&[tp("autoc", 0)]).unwrap()[&tp("autoc", 0)], Some(next));
}

#[test]
fn auto_offset_reset_earliest_latest_none() {
    let broker = broker();
    setup(&broker, "reset", 1, 10);
    let early = consumer(&broker, &[("group.id", "g-early")]);
    early.subscribe(&["reset"], None).unwrap();
    assert_eq!(poll_n(&early, 10)[0].offset, 0);
    early.close().unwrap();

    let late = consumer(&broker, &[("group.id", "g-late"), ("auto.offset.reset", "latest")]);
    late.subscribe(&["reset"], None).unwrap();
    poll_until(&[&late], "latest position", |cs| cs[0].assignment().len() == 1 && cs[0].position(&tp("reset", 0)).ok() == Some(10));
    produce(&broker, "reset", 0, 10, 3, Compression::None);
    let recs = poll_n(&late, 3);
    assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![10, 11, 12]);
    late.close().unwrap();

    let none = consumer(&broker, &[("group.id", "g-none"), ("auto.offset.reset", "none")]);
    none.assign(&[tp("reset", 0)]).unwrap();
    match none.poll(Duration::from_millis(500)) {
        Err(ConsumerError::NoOffset(t, 0)) => assert_eq!(t, "reset"),
        other => panic!("expected NoOffset, got {other:?}"),
    }
    // With a committed offset, `none` is fine.
    none.commit_sync(Some([(tp("reset", 0), 4)].into())).unwrap();
    let none2 = consumer(&broker, &[("group.id", "g-none"), ("auto.offset.reset", "none")]);
    none2.assign(&[tp("reset", 0)]).unwrap();
    assert_eq!(poll_n(&none2, 1)[0].offset, 4);
}

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Revoked(Vec<TopicPartition>),
    Assigned(Vec<TopicPartition>),
    Lost(Vec<TopicPartition>),
}

struct Recorder {
    log: Arc<Mutex<Vec<(ThreadId, Ev)>>>,
    seek_to: Option<i64>,
}

impl RebalanceListener for Recorder {
    fn on_partitions_revoked(&mut self, _c: &Consumer, parts: &[TopicPartition]) {
        self.log.lock().unwrap().push((std::thread::current().id(), Ev::Revoked(parts.to_vec())));
    }
    fn on_partitions_assigned(&mut self, c: &Consumer, parts: &[TopicPartition]) {
        self.log.lock().unwrap().push((std::thread::current().id(), Ev::Assigned(parts.to_vec())));
        if let Some(o) = self.seek_to {
            for p in parts {
                c.seek(p, o).unwrap();
            }
        }
    }
    fn on_partitions_lost(&mut self, _c: &Consumer, parts: &[TopicPartition]) {
        self.log.lock().unwrap().push((std::thread::current().id(), Ev::Lost(parts.to_vec())));
    }
}

#[test]
fn rebalance_listener_runs_on_the_polling_thread_in_order() {
    let broker = broker();
    setup(&broker, "lis", 4, 10);
    let log = Arc::new(Mutex::new(Vec::new()));
    let a = consumer(&broker, &[("group.id", "g-lis")]);
    a.subscribe(&["lis"], Some(Box::new(Recorder { log: log.clone(), seek_to: Some(5) }))).unwrap();
    // The listener seeks to 5 on assignment: 4 partitions x 5 records.
    let recs = poll_n(&a, 20);
    assert!(recs.iter().all(|r| r.offset >= 5), "the seek in on_partitions_assigned wins");
    let b = consumer(&broker, &[("group.id", "g-lis")]);
    b.subscribe(&["lis"], None).unwrap();
    poll_until(&[&a, &b], "split", split_done(4));
    a.close().unwrap();
    let me = std::thread::current().id();
    let log = log.lock().unwrap().clone();
    assert!(log.iter().all(|(t, _)| *t == me), "listener ran on another thread: {log:?}");
    let evs: Vec<Ev> = log.into_iter().map(|(_, e)| e).collect();
    let all: Vec<TopicPartition> = (0..4).map(|p| tp("lis", p)).collect();
    assert_eq!(evs[0], Ev::Assigned(all.clone()));
    assert_eq!(evs[1], Ev::Revoked(all), "eager: everything revoked before the rejoin: {evs:?}");
    match &evs[2] {
        Ev::Assigned(p) => assert_eq!(p.len(), 2),
        e => panic!("expected assigned, got {e:?}"),
    }
    assert!(matches!(evs.last(), Some(Ev::Revoked(p)) if p.len() == 2), "close revokes: {evs:?}");
    assert_eq!(evs.len(), 4, "{evs:?}");
}

#[test]
fn pause_keeps_partitions_quiet_until_resume() {
    let broker = broker();
    setup(&broker, "pause", 2, 10);
    let c = consumer(&broker, &[]);
    c.assign(&[tp("pause", 0), tp("pause", 1)]).unwrap();
    c.pause(&[tp("pause", 0)]).unwrap();
    assert_eq!(c.paused(), vec![tp("pause", 0)]);
    let recs = poll_n(&c, 10);
    assert!(recs.iter().all(|r| r.partition == 1));
    assert!(c.poll(Duration::from_millis(300)).unwrap().is_empty());
    c.resume(&[tp("pause", 0)]).unwrap();
    assert!(c.paused().is_empty());
    let recs = poll_n(&c, 10);
    assert!(recs.iter().all(|r| r.partition == 0));
    assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
}

#[test]
fn commit_async_callback_runs_inside_a_later_poll() {
    let broker = broker();
    setup(&broker, "async", 1, 5);
    let c = consumer(&broker, &[("group.id", "g-async"), ("enable.auto.commit", "false")]);
    c.assign(&[tp("async", 0)]).unwrap();
    poll_n(&c, 5);
    type Seen = Option<(ThreadId, BTreeMap<TopicPartition, i64>, bool)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let seen2 = seen.clone();
    c.commit_async(None, Some(Box::new(move |offsets, result| {
        *seen2.lock().unwrap() = Some((std::thread::current().id(), offsets.clone(), result.is_ok()));
    })))
    .unwrap();
    let deadline = Instant::now() + WAIT;
    while seen.lock().unwrap().is_none() {
        assert!(Instant::now() < deadline, "callback never ran");
        c.poll(Duration::from_millis(50)).unwrap();
    }
    let (thread, offsets, ok) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(thread, std::thread::current().id());
    assert!(ok);
    assert_eq!(offsets, [(tp("async", 0), 5)].into());
    assert_eq!(c.committed(&[tp("async", 0)]).unwrap()[&tp("async", 0)], Some(5));
}

fn valid_split_with(strategy: &str) {
    let broker = broker();
    let topic = format!("split-{strategy}");
    setup(&broker, &topic, 6, 3);
    let group = format!("g-{strategy}");
    let props = [("group.id", group.as_str()), ("partition.assignment.strategy", strategy)];
    let a = consumer(&broker, &props);
    let b = consumer(&broker, &props);
    a.subscribe(&[topic.as_str()], None).unwrap();
    let before = poll_until(&[&a], "a owns all", |cs| cs[0].assignment().len() == 6);
    b.subscribe(&[topic.as_str()], None).unwrap();
    let got = poll_until(&[&a, &b], "split", |cs| cs[0].assignment().len() == 3 && cs[1].assignment().len() == 3);
    assert_split(&a.assignment(), &b.assignment(), 6, &topic);
    // Every record arrives once across both members (auto-commit before revocation hands the position over).
    let mut all: Vec<(i32, i64)> = before.iter().chain(got.iter()).flatten().map(|r| (r.partition, r.offset)).collect();
    let deadline = Instant::now() + WAIT;
    while all.len() < 18 {
        assert!(Instant::now() < deadline, "{} of 18 records", all.len());
        for c in [&a, &b] {
            all.extend(c.poll(Duration::from_millis(20)).unwrap().iter().map(|r| (r.partition, r.offset)));
        }
    }
    let set: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(set.len(), 18);
    a.close().unwrap();
    b.close().unwrap();
}

#[test]
fn range_assignor_splits_validly() {
    valid_split_with("range");
}

#[test]
fn roundrobin_assignor_splits_validly() {
    valid_split_with("roundrobin");
}

#[test]
fn cooperative_sticky_assignor_splits_validly() {
    valid_split_with("org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
}

#[test]
fn cooperative_revokes_only_what_moves() {
    let broker = broker();
    setup(&broker, "coop", 4, 0);
    let log = Arc::new(Mutex::new(Vec::new()));
    let props = [("group.id", "g-coop"), ("partition.assignment.strategy", "cooperative-sticky")];
    let a = consumer(&broker, &props);
    a.subscribe(&["coop"], Some(Box::new(Recorder { log: log.clone(), seek_to: None }))).unwrap();
    poll_until(&[&a], "a owns all", |cs| cs[0].assignment().len() == 4);
    let b = consumer(&broker, &props);
    b.subscribe(&["coop"], None).unwrap();
    poll_until(&[&a, &b], "split", |cs| cs[0].assignment().len() == 2 && cs[1].assignment().len() == 2);
    let evs: Vec<Ev> = log.lock().unwrap().iter().map(|(_, e)| e.clone()).collect();
    let revoked: Vec<&Ev> = evs.iter().filter(|e| matches!(e, Ev::Revoked(_))).collect();
    assert_eq!(revoked.len(), 1, "{evs:?}");
    assert!(matches!(revoked[0], Ev::Revoked(p) if p.len() == 2), "only the moving partitions: {evs:?}");
    assert!(!evs.iter().any(|e| matches!(e, Ev::Lost(_))));
}

#[test]
fn config_errors_name_the_key() {
    for (k, v) in [("auto.offset.reset", "smallest"), ("max.poll.records", "-1"), ("enable.auto.commit", "maybe"), ("partition.assignment.strategy", "fair")] {
        let props = [("bootstrap.servers", "127.0.0.1:9"), ("group.id", "g"), (k, v)];
        let e = Consumer::from_props(&props).err().expect("invalid config refused");
        assert!(e.to_string().contains(k), "{e} does not name {k}");
    }
    let c = Consumer::from_props(&[("bootstrap.servers", "127.0.0.1:9")]).unwrap();
    assert!(matches!(c.subscribe(&["t"], None), Err(ConsumerError::IllegalState(_))), "subscribe needs group.id");
}

#[test]
fn max_poll_interval_expiry_leaves_and_the_next_poll_rejoins() {
    let broker = broker();
    setup(&broker, "slow", 2, 0);
    let log = Arc::new(Mutex::new(Vec::new()));
    let c = consumer(&broker, &[("group.id", "g-slow"), ("max.poll.interval.ms", "800")]);
    c.subscribe(&["slow"], Some(Box::new(Recorder { log: log.clone(), seek_to: None }))).unwrap();
    poll_until(&[&c], "assigned", |cs| cs[0].assignment().len() == 2);
    // Not polling for longer than max.poll.interval.ms is the condition under test.
    std::thread::sleep(Duration::from_millis(2000));
    poll_until(&[&c], "lost and reassigned", |_| {
        let evs: Vec<Ev> = log.lock().unwrap().iter().map(|(_, e)| e.clone()).collect();
        evs.len() >= 3
    });
    let evs: Vec<Ev> = log.lock().unwrap().iter().map(|(_, e)| e.clone()).collect();
    let all = vec![tp("slow", 0), tp("slow", 1)];
    assert_eq!(evs[..3], [Ev::Assigned(all.clone()), Ev::Lost(all.clone()), Ev::Assigned(all)], "{evs:?}");
}

#[test]
fn a_fenced_static_member_gets_a_fatal_error() {
    let broker = broker();
    setup(&broker, "static", 2, 0);
    let props = [("group.id", "g-static"), ("group.instance.id", "instance-1")];
    let a = consumer(&broker, &props);
    a.subscribe(&["static"], None).unwrap();
    poll_until(&[&a], "a assigned", |cs| cs[0].assignment().len() == 2);
    let b = consumer(&broker, &props);
    b.subscribe(&["static"], None).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "a was never fenced");
        let _ = b.poll(Duration::from_millis(20));
        match a.poll(Duration::from_millis(20)) {
            Err(ConsumerError::Fatal(m)) => {
                assert!(m.contains("FencedInstanceId") || m.to_lowercase().contains("fenced"), "{m}");
                break;
            }
            Err(e) => panic!("unexpected {e}"),
            Ok(_) => {}
        }
    }
    poll_until(&[&b], "b assigned", |cs| cs[0].assignment().len() == 2);
}

#[test]
fn unsubscribe_revokes_and_allows_assign() {
    let broker = broker();
    setup(&broker, "unsub", 2, 3);
    let log = Arc::new(Mutex::new(Vec::new()));
    let c = consumer(&broker, &[("group.id", "g-unsub")]);
    c.subscribe(&["unsub"], Some(Box::new(Recorder { log: log.clone(), seek_to: None }))).unwrap();
    assert_eq!(c.subscription(), vec!["unsub".to_string()]);
    poll_n(&c, 6);
    assert!(c.assign(&[tp("unsub", 0)]).is_err(), "assign while subscribed is refused");
    c.unsubscribe().unwrap();
    assert!(c.assignment().is_empty());
    assert!(matches!(log.lock().unwrap().last(), Some((_, Ev::Revoked(p))) if p.len() == 2));
    c.assign(&[tp("unsub", 1)]).unwrap();
    // The auto-commit before revocation stored position 3.
    assert_eq!(c.position(&tp("unsub", 1)).unwrap(), 3);
}

#[test]
fn added_partitions_trigger_a_rebalance() {
    use kafka_protocol::messages::{create_partitions_request, ApiKey, CreatePartitionsRequest, CreatePartitionsResponse};
    let broker = broker();
    setup(&broker, "grow", 2, 0);
    let c = consumer(&broker, &[("group.id", "g-grow"), ("metadata.max.age.ms", "200")]);
    c.subscribe(&["grow"], None).unwrap();
    poll_until(&[&c], "two partitions", |cs| cs[0].assignment().len() == 2);
    let mut w = Wire::connect(&broker);
    let req = CreatePartitionsRequest::default()
        .with_topics(vec![create_partitions_request::CreatePartitionsTopic::default().with_name(topic("grow")).with_count(4).with_assignments(None)])
        .with_timeout_ms(5000);
    let resp: CreatePartitionsResponse = w.send(ApiKey::CreatePartitions, 3, &req);
    assert_eq!(resp.results[0].error_code, 0);
    poll_until(&[&c], "four partitions", |cs| cs[0].assignment().len() == 4);
    produce(&broker, "grow", 3, 0, 2, Compression::None);
    let recs = poll_n(&c, 2);
    assert!(recs.iter().all(|r| r.partition == 3));
}

#[test]
fn out_of_range_position_is_reset_by_auto_offset_reset() {
    let broker = broker();
    setup(&broker, "oor", 1, 10);
    let c = consumer(&broker, &[]);
    c.assign(&[tp("oor", 0)]).unwrap();
    c.seek(&tp("oor", 0), 100).unwrap();
    let recs = poll_n(&c, 10);
    assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());

    let strict = consumer(&broker, &[("auto.offset.reset", "none")]);
    strict.assign(&[tp("oor", 0)]).unwrap();
    strict.seek(&tp("oor", 0), 100).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no error for an out-of-range position");
        match strict.poll(Duration::from_millis(100)) {
            Ok(r) => assert!(r.is_empty()),
            Err(ConsumerError::NoOffset(t, 0)) if t == "oor" => break,
            Err(e) => panic!("unexpected {e}"),
        }
    }
}

#[test]
fn close_during_a_rebalance_returns_promptly() {
    let broker = broker();
    setup(&broker, "midjoin", 2, 0);
    let a = consumer(&broker, &[("group.id", "g-midjoin")]);
    a.subscribe(&["midjoin"], None).unwrap();
    poll_until(&[&a], "a assigned", |cs| cs[0].assignment().len() == 2);
    // b joins, so the group waits for a (which never polls again) while b's JoinGroup is pending.
    let b = consumer(&broker, &[("group.id", "g-midjoin")]);
    b.subscribe(&["midjoin"], None).unwrap();
    let _ = b.poll(Duration::from_millis(300));
    let started = Instant::now();
    b.close().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "close took {:?}", started.elapsed());
    a.close().unwrap();
}

#[test]
fn auto_commit_runs_on_its_interval_from_poll() {
    let broker = broker();
    setup(&broker, "tick", 1, 8);
    let c = consumer(&broker, &[("group.id", "g-tick"), ("auto.commit.interval.ms", "100")]);
    c.subscribe(&["tick"], None).unwrap();
    poll_n(&c, 8);
    let deadline = Instant::now() + WAIT;
    loop {
        c.poll(Duration::from_millis(50)).unwrap();
        if c.committed(&[tp("tick", 0)]).unwrap()[&tp("tick", 0)] == Some(8) {
            break;
        }
        assert!(Instant::now() < deadline, "auto-commit never committed 8");
    }
    // Dropping without close commits and leaves too.
    drop(c);
}

#[test]
fn wakeup_interrupts_poll_from_another_thread() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Consumer>();
    let broker = broker();
    setup(&broker, "wake", 3, 0);
    let c = Arc::new(consumer(&broker, &[("group.id", "g-wake")]));
    assert_eq!(c.partitions_for("wake").unwrap(), vec![0, 1, 2]);
    assert!(c.partitions_for("no-such-topic").unwrap().is_empty());
    c.subscribe(&["wake"], None).unwrap();
    poll_until(&[&*c], "assigned", |cs| cs[0].assignment().len() == 3);
    let md = c.group_metadata().unwrap();
    assert_eq!(md.group_id, "g-wake");
    assert!(md.generation >= 1 && !md.member_id.is_empty(), "{md:?}");
    let c2 = c.clone();
    let waker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        c2.wakeup();
    });
    let started = Instant::now();
    assert!(matches!(c.poll(Duration::from_secs(20)), Err(ConsumerError::Wakeup)));
    assert!(started.elapsed() < Duration::from_secs(10));
    waker.join().unwrap();
    // The next poll works normally.
    assert!(c.poll(Duration::from_millis(50)).unwrap().is_empty());
}

#[test]
fn sticky_assignor_splits_validly() {
    valid_split_with("sticky");
}

/// Records what the interceptor saw; the first one upper-cases values, the second panics (and is skipped).
#[derive(Default)]
struct Seen {
    consumed: Vec<usize>,
    commits: Vec<(ThreadId, BTreeMap<TopicPartition, i64>)>,
    closed: bool,
}

struct Upper(Arc<Mutex<Seen>>);

impl streamlet::client::consumer::ConsumerInterceptor for Upper {
    fn on_consume(&self, records: Vec<ConsumerRecord>) -> Vec<ConsumerRecord> {
        self.0.lock().unwrap().consumed.push(records.len());
        records
            .into_iter()
            .map(|mut r| {
                r.value = r.value.map(|v| bytes::Bytes::from(String::from_utf8_lossy(&v).to_uppercase()));
                r
            })
            .collect()
    }
    fn on_commit(&self, offsets: &BTreeMap<TopicPartition, i64>) {
        self.0.lock().unwrap().commits.push((std::thread::current().id(), offsets.clone()));
    }
    fn close(&self) {
        self.0.lock().unwrap().closed = true;
    }
}

struct Panics;

impl streamlet::client::consumer::ConsumerInterceptor for Panics {
    fn on_consume(&self, _records: Vec<ConsumerRecord>) -> Vec<ConsumerRecord> {
        panic!("interceptor bug")
    }
    fn on_commit(&self, _offsets: &BTreeMap<TopicPartition, i64>) {
        panic!("interceptor bug")
    }
}

#[test]
fn interceptors_replace_records_see_commits_and_a_panicking_one_is_skipped() {
    let broker = broker();
    setup(&broker, "icpt", 1, 4);
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let addr = broker.bootstrap_servers();
    let cfg = streamlet::client::consumer::ConsumerConfig::from_pairs(&[
        ("bootstrap.servers", addr.as_str()),
        ("group.id", "g-icpt"),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "earliest"),
        ("fetch.max.wait.ms", "100"),
    ])
    .unwrap();
    let c = Consumer::builder(cfg).interceptor(Panics).interceptor(Upper(seen.clone())).build().unwrap();
    c.assign(&[tp("icpt", 0)]).unwrap();
    let got = poll_n(&c, 4);
    assert_eq!(got.iter().map(|r| s(&r.value)).collect::<Vec<_>>(), ["VALUE-0", "VALUE-1", "VALUE-2", "VALUE-3"]);
    assert_eq!(seen.lock().unwrap().consumed.iter().sum::<usize>(), 4);

    c.commit_sync(Some([(tp("icpt", 0), 2)].into())).unwrap();
    assert_eq!(seen.lock().unwrap().commits, [(std::thread::current().id(), [(tp("icpt", 0), 2)].into())]);

    c.commit_async(None, None).unwrap();
    let deadline = Instant::now() + WAIT;
    while seen.lock().unwrap().commits.len() < 2 {
        assert!(Instant::now() < deadline, "on_commit never ran for the asynchronous commit");
        c.poll(Duration::from_millis(50)).unwrap();
    }
    let (thread, offsets) = seen.lock().unwrap().commits[1].clone();
    assert_eq!((thread, offsets), (std::thread::current().id(), [(tp("icpt", 0), 4)].into()));
    assert!(!seen.lock().unwrap().closed);
    c.close().unwrap();
    assert!(seen.lock().unwrap().closed);
}

#[test]
fn pattern_subscription_matches_whole_names_and_picks_up_new_topics() {
    let broker = broker();
    setup(&broker, "pat-a", 1, 2);
    setup(&broker, "pat-b", 2, 1);
    setup(&broker, "xpat-a", 1, 3);
    let c = consumer(&broker, &[("group.id", "g-pat"), ("metadata.max.age.ms", "300")]);
    assert!(matches!(c.subscribe_pattern("pat-(", None), Err(ConsumerError::InvalidArgument(_))));
    c.subscribe_pattern("pat-.*", None).unwrap();
    let got = poll_n(&c, 4);
    let topics: BTreeSet<String> = got.iter().map(|r| r.topic.clone()).collect();
    assert_eq!(topics, ["pat-a".to_string(), "pat-b".to_string()].into());
    assert_eq!(c.subscription(), ["pat-a", "pat-b"]);

    setup(&broker, "pat-c", 1, 5);
    let got = poll_n(&c, 5);
    assert!(got.iter().all(|r| r.topic == "pat-c"), "{got:?}");
    assert!(c.assignment().contains(&tp("pat-c", 0)));
    assert!(!c.assignment().iter().any(|(t, _)| t == "xpat-a" || t.starts_with("__")));
    c.close().unwrap();
}

#[test]
fn a_partition_at_its_end_does_not_hold_up_the_others() {
    let broker = broker();
    // Partition 0 stays empty; partition 1 gets 30 batches, each larger than max.partition.fetch.bytes, so
    // every fetch brings one batch and fills partition 1's buffer.
    setup(&broker, "ends", 2, 0);
    for i in 0..30 {
        produce(&broker, "ends", 1, i * 40, 40, Compression::None);
    }
    // A broker parks a request whose partitions have nothing new for fetch.max.wait.ms: asking for partition 0
    // alone while partition 1 drains would cost up to 2 s per batch (a minute here).
    let c = consumer(&broker, &[("fetch.max.wait.ms", "2000"), ("max.partition.fetch.bytes", "1000"), ("max.poll.records", "10")]);
    c.assign(&[tp("ends", 0), tp("ends", 1)]).unwrap();
    let start = Instant::now();
    let got = poll_n(&c, 1200);
    assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), (0..1200).collect::<Vec<_>>());
    assert!(start.elapsed() < Duration::from_secs(15), "1200 records took {:?}: fetches waited on the empty partition", start.elapsed());
    // Partition 0 is still fetched (long-polled) once partition 1 is done too: a new record there arrives.
    produce(&broker, "ends", 0, 0, 1, Compression::None);
    assert_eq!(poll_n(&c, 1)[0].partition, 0);
}
