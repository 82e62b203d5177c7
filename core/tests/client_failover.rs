//! Streamlet's clients across leader changes on a real multi-node cluster: partition leaders, the group
//! coordinator and the active controller are SIGKILLed mid-stream and the clients must carry on without losing,
//! duplicating or reordering anything.
//!
//! The cluster comes from outside: `tests/interop/test_rust_client_on_kafka_cluster.py` starts a 3-node Apache
//! Kafka 4.1 KRaft cluster (RF=3, min.insync.replicas=2) and runs this suite with
//! `STREAMLET_TEST_CLUSTER_BOOTSTRAP` (its brokers) and `STREAMLET_TEST_CLUSTER_CONTROL` (the `ClusterControl`
//! port of tests/interop/kafka_cluster.py, which kills and restarts nodes on request). Without them every test
//! says `SKIPPED: no cluster` and passes; the pytest file fails if any test skipped. Run with --test-threads=1:
//! the tests kill nodes of the one shared cluster.

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use streamlet::client::admin::{Admin, NewTopic};
use streamlet::client::consumer::{Consumer, ConsumerRecord};
use streamlet::client::producer::{DeliveryFuture, Producer, ProducerConfig, ProducerRecord};

/// Bounds every wait on the cluster (failover, restarts, catching up) so that a hang fails the test.
const WAIT: Duration = Duration::from_secs(90);

struct Cluster {
    bootstrap: String,
    control: BufReader<TcpStream>,
}

impl Cluster {
    /// The cluster named by the environment, or None (after saying so) when there is none.
    fn from_env(test: &str) -> Option<Cluster> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let (Some(bootstrap), Some(control)) = (var("STREAMLET_TEST_CLUSTER_BOOTSTRAP"), var("STREAMLET_TEST_CLUSTER_CONTROL")) else {
            eprintln!("SKIPPED: no cluster ({test} runs from tests/interop/test_rust_client_on_kafka_cluster.py)");
            return None;
        };
        common::init_logging();
        let stream = TcpStream::connect(&control).unwrap_or_else(|e| panic!("cluster control at {control}: {e}"));
        Some(Cluster { bootstrap, control: BufReader::new(stream) })
    }

    /// Sends one control command and returns its answer (the command fails the test when it fails).
    fn control(&mut self, cmd: &str) -> String {
        let started = Instant::now();
        writeln!(self.control.get_mut(), "{cmd}").expect("control write");
        let mut line = String::new();
        self.control.read_line(&mut line).expect("control read");
        let answer = line.trim().strip_prefix("ok ").unwrap_or_else(|| panic!("cluster control `{cmd}`: {}", line.trim())).to_string();
        eprintln!("cluster: {cmd} -> {answer} ({:.1}s)", started.elapsed().as_secs_f64());
        answer
    }

    fn admin(&self) -> Admin {
        let props = [("bootstrap.servers", self.bootstrap.as_str()), ("request.timeout.ms", "60000")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Admin::new(&props).expect("admin")
    }

    fn producer(&self) -> Producer {
        let props = [
            ("bootstrap.servers", self.bootstrap.as_str()),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("max.in.flight.requests.per.connection", "5"),
            ("linger.ms", "5"),
            // A leader that dies with requests in flight: they are given up on after this and retried.
            ("request.timeout.ms", "10000"),
            ("delivery.timeout.ms", "120000"),
        ];
        Producer::new(ProducerConfig::from_pairs(props).expect("producer config")).expect("producer")
    }

    fn consumer(&self, extra: &[(&str, &str)]) -> Consumer {
        let mut props = vec![("bootstrap.servers", self.bootstrap.as_str()), ("auto.offset.reset", "earliest"), ("request.timeout.ms", "30000")];
        props.extend_from_slice(extra);
        Consumer::from_props(&props).expect("consumer")
    }

    /// Creates a 1-partition RF=3 topic (min.insync.replicas=2 from the cluster) with every replica in sync.
    fn create_topic(&mut self, topic: &str) {
        let admin = self.admin();
        for (name, r) in admin.create_topics(&[NewTopic::new(topic, 1, 3)], false).expect("create topic") {
            r.unwrap_or_else(|e| panic!("create {name}: {e}"));
        }
        self.control(&format!("await-isr {topic} 0 3"));
    }
}

fn value(r: &ConsumerRecord) -> u64 {
    let v = r.value.as_deref().expect("a value");
    std::str::from_utf8(v).expect("utf-8").parse().expect("a number")
}

/// Sends the numbers 0, 1, 2... as records on a thread of its own until stopped, keeping at most `window`
/// records unacknowledged; every acknowledgement is checked (a failed send fails the test) and counted.
struct Stream {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<Vec<(u64, i64)>>,
}

impl Stream {
    fn start(producer: Arc<Producer>, topic: &str, window: usize) -> Stream {
        let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let (s, a, topic) = (stop.clone(), acked.clone(), topic.to_string());
        let thread = std::thread::spawn(move || {
            let mut pending: VecDeque<(u64, DeliveryFuture)> = VecDeque::new();
            let mut done = Vec::new();
            let mut next = 0u64;
            let settle = |(n, f): (u64, DeliveryFuture), done: &mut Vec<(u64, i64)>| {
                let md = f.wait().unwrap_or_else(|e| panic!("record {n} was not delivered: {e}"));
                done.push((n, md.offset));
                a.fetch_add(1, Ordering::Release);
            };
            while !s.load(Ordering::Acquire) {
                let rec = ProducerRecord::new(topic.clone()).partition(0).value(next.to_string());
                pending.push_back((next, producer.send(rec)));
                next += 1;
                if pending.len() >= window {
                    settle(pending.pop_front().expect("non-empty"), &mut done);
                }
            }
            for p in pending {
                settle(p, &mut done);
            }
            done
        });
        Stream { stop, acked, thread }
    }

    fn acked(&self) -> usize {
        self.acked.load(Ordering::Acquire)
    }

    /// Waits until `more` records beyond `from` are acknowledged: the stream makes progress.
    fn await_acked(&self, at_least: usize, what: &str) {
        let deadline = Instant::now() + WAIT;
        while self.acked() < at_least {
            assert!(!self.thread.is_finished(), "the producer thread ended early (a send failed) while waiting for {what}");
            assert!(Instant::now() < deadline, "only {} of {at_least} records acknowledged {what}", self.acked());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn finish(self) -> Vec<(u64, i64)> {
        self.stop.store(true, Ordering::Release);
        self.thread.join().expect("producer thread")
    }
}

/// Reads `topic`-0 from the beginning with assign() until `n` records arrived.
fn read_back(cluster: &Cluster, topic: &str, n: usize) -> Vec<ConsumerRecord> {
    let c = cluster.consumer(&[]);
    c.assign(&[(topic.to_string(), 0)]).expect("assign");
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < deadline, "read back only {} of {n} records", out.len());
        out.extend(c.poll(Duration::from_millis(200)).expect("poll"));
    }
    assert!(c.poll(Duration::from_millis(500)).expect("poll").is_empty(), "more records than were sent");
    c.close().expect("close");
    out
}

#[test]
fn idempotent_producer_loses_duplicates_and_reorders_nothing_across_leader_kills() {
    let Some(mut cluster) = Cluster::from_env("the producer failover test") else { return };
    let topic = "failover-produce";
    cluster.create_topic(topic);
    let stream = Stream::start(Arc::new(cluster.producer()), topic, 2000);
    stream.await_acked(5_000, "before the first kill");
    for round in 1..=2 {
        let killed = cluster.control(&format!("kill-leader {topic} 0"));
        let before = stream.acked();
        // The stream goes on through the new leader.
        stream.await_acked(before + 5_000, &format!("after leader kill {round}"));
        cluster.control(&format!("restart {killed}"));
        cluster.control(&format!("await-isr {topic} 0 3"));
    }
    let acked = stream.finish();
    let n = acked.len();
    eprintln!("{n} records acknowledged across two leader kills");
    // Acknowledged in send order, at increasing offsets.
    assert!(acked.iter().enumerate().all(|(i, (v, _))| *v == i as u64), "acknowledgements out of send order");
    assert!(acked.windows(2).all(|w| w[1].1 > w[0].1), "offsets do not increase with the send order");
    // Every acknowledged record is in the log once, in order, at the offset it was acknowledged with.
    let read = read_back(&cluster, topic, n);
    assert_eq!(read.len(), n);
    for (r, (v, offset)) in read.iter().zip(&acked) {
        assert_eq!((value(r), r.offset), (*v, *offset), "record {v}");
    }
}

#[test]
fn a_group_member_keeps_consuming_across_leader_and_coordinator_kills_and_resumes_from_committed_offsets() {
    let Some(mut cluster) = Cluster::from_env("the consumer group failover test") else { return };
    let (topic, group) = ("failover-group", "failover-group-g");
    cluster.create_topic(topic);
    let producer = cluster.producer();
    let mut sent = 0u64;
    let mut produce = |n: u64| {
        let futures: Vec<DeliveryFuture> =
            (sent..sent + n).map(|i| producer.send(ProducerRecord::new(topic).partition(0).value(i.to_string()))).collect();
        for f in futures {
            f.wait().expect("delivered");
        }
        sent += n;
        sent
    };
    let member = cluster.consumer(&[("group.id", group), ("enable.auto.commit", "false")]);
    member.subscribe(&[topic], None).expect("subscribe");
    // Values seen, and the offset committed after each poll.
    let mut seen: Vec<u64> = Vec::new();
    let mut committed = 0u64;
    let mut consume_to = |member: &Consumer, end: u64, seen: &mut Vec<u64>| {
        let deadline = Instant::now() + WAIT;
        while seen.last().is_none_or(|v| v + 1 < end) {
            assert!(Instant::now() < deadline, "the member got to {:?} of {end}", seen.last());
            let recs = member.poll(Duration::from_millis(200)).expect("poll");
            for r in &recs {
                let v = value(r);
                // In order; a rewind only to the last committed offset (the member rejoined and resumed).
                let expected = seen.last().map_or(0, |l| l + 1);
                assert!(v == expected || v == committed, "got {v} after {:?} (committed {committed})", seen.last());
                seen.push(v);
            }
            if !recs.is_empty() {
                member.commit_sync(None).expect("commit");
                committed = seen.last().expect("non-empty") + 1;
            }
        }
    };
    let end = produce(1000);
    consume_to(&member, end, &mut seen);

    let killed = cluster.control(&format!("kill-leader {topic} 0"));
    let end = produce(1000);
    consume_to(&member, end, &mut seen);
    cluster.control(&format!("restart {killed}"));
    cluster.control(&format!("await-isr {topic} 0 3"));

    let killed = cluster.control(&format!("kill-coordinator {group}"));
    let end = produce(1000);
    consume_to(&member, end, &mut seen);
    cluster.control(&format!("restart {killed}"));

    // Everything once (a rewind to a committed offset re-reads only what was not committed).
    let mut distinct = seen.clone();
    distinct.dedup();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct, (0..end).collect::<Vec<_>>());
    member.close().expect("close");

    // A new member of the group starts where the old one committed.
    let end = produce(100);
    let next = cluster.consumer(&[("group.id", group), ("enable.auto.commit", "false")]);
    next.subscribe(&[topic], None).expect("subscribe");
    let mut resumed = Vec::new();
    let deadline = Instant::now() + WAIT;
    while resumed.len() < 100 {
        assert!(Instant::now() < deadline, "the new member got {} of 100 records", resumed.len());
        resumed.extend(next.poll(Duration::from_millis(200)).expect("poll").iter().map(value));
    }
    assert_eq!(resumed, (end - 100..end).collect::<Vec<_>>(), "resumed from the committed offset");
    next.close().expect("close");
}

#[test]
fn admin_creates_and_describes_topics_across_a_controller_kill() {
    let Some(mut cluster) = Cluster::from_env("the admin failover test") else { return };
    let admin = cluster.admin();
    cluster.create_topic("failover-admin-before");
    let killed = cluster.control("kill-controller");
    // The next create reaches the new active controller (through whichever broker forwards it).
    for (name, r) in admin.create_topics(&[NewTopic::new("failover-admin-after", 3, 3)], false).expect("create after the kill") {
        r.unwrap_or_else(|e| panic!("create {name} after the controller kill: {e}"));
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let d = admin.describe_topics(&["failover-admin-before", "failover-admin-after"]).expect("describe");
        // Placed, and led by live nodes only (the killed one is fenced after broker.session.timeout.ms).
        let ok = d[1].partitions.len() == 3
            && d.iter().flat_map(|t| &t.partitions).all(|p| p.leader >= 0 && p.leader.to_string() != killed && p.replicas.len() == 3);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "topics not fully placed after the controller kill: {d:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.control(&format!("restart {killed}"));
}
