//! The quorum over loopback in one process: voters on port-0 listeners, temp dirs, waits bounded by deadlines.

use std::time::{Duration, Instant};

use super::*;
use crate::metadata::records::TopicRecord;

fn fast() -> QuorumTiming {
    QuorumTiming { heartbeat: Duration::from_millis(50), election_min: Duration::from_millis(300), election_max: Duration::from_millis(600) }
}

fn topic(i: u128) -> MetadataRecord {
    TopicRecord { name: format!("t{i}"), topic_id: uuid::Uuid::from_u128(i + 1) }.into()
}

async fn bind() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    (l, addr)
}

/// Waits until every given node names the same leader, among `allowed`.
async fn agreed_leader(nodes: &[&RaftQuorum], allowed: &[NodeId]) -> NodeId {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut seen = Vec::new();
        for n in nodes {
            seen.push(n.leader().await);
        }
        if let Some(Some(l)) = seen.first() {
            if seen.iter().all(|s| *s == Some(*l)) && allowed.contains(l) {
                return *l;
            }
        }
        assert!(Instant::now() < deadline, "no agreed leader: {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Appends on whichever node leads, retrying while a new leader takes over.
async fn append_on_leader(nodes: &[&RaftQuorum], records: &[MetadataRecord]) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for n in nodes {
            match n.append(records).await {
                Ok(offset) => return offset,
                Err(QuorumError::NotLeader(_)) => {}
                Err(e) => tracing::debug!(error = %e, "append failed; retrying"),
            }
        }
        assert!(Instant::now() < deadline, "no leader accepted the append");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn topics(img: &MetadataImage) -> Vec<String> {
    img.topics.keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_voter_commits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (l, addr) = bind().await;
    let started = Instant::now();
    let q = RaftQuorum::start(1, dir.path(), "c", Some(l), [(1, addr)].into(), QuorumTiming::default()).await.unwrap();
    let offset = append_on_leader(&[&q], &[topic(0), topic(1)]).await;
    let took = started.elapsed();
    assert_eq!(offset, 1);
    assert_eq!(topics(&q.image()), vec!["t0", "t1"]);
    // Generous for a debug build on a shared machine; a single voter elects itself without waiting out a timeout.
    assert!(took < Duration::from_secs(2), "first commit took {took:?}");
    q.shutdown().await;
    // Restarted from its dir: the log and the vote are there.
    let (l, addr) = bind().await;
    let restarted = Instant::now();
    let q = RaftQuorum::start(1, dir.path(), "c", Some(l), [(1, addr)].into(), QuorumTiming::default()).await.unwrap();
    assert_eq!(append_on_leader(&[&q], &[topic(2)]).await, 2);
    eprintln!("single voter: first commit {took:?}, after restart {:?}", restarted.elapsed());
    assert_eq!(topics(&q.image()), vec!["t0", "t1", "t2"]);
    q.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voters_elect_a_new_leader_and_lose_nothing_committed() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut listeners = Vec::new();
    let mut voters = BTreeMap::new();
    for id in 1..=3u64 {
        let (l, addr) = bind().await;
        listeners.push(l);
        voters.insert(id, addr);
    }
    let mut nodes = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let id = i as u64 + 1;
        nodes.push(Some(RaftQuorum::start(id, dirs[i].path(), "c", Some(l), voters.clone(), fast()).await.unwrap()));
    }
    let all: Vec<&RaftQuorum> = nodes.iter().flatten().collect();
    let leader = agreed_leader(&all, &[1, 2, 3]).await;
    let mut last = 0;
    for i in 0..5 {
        last = append_on_leader(&all, &[topic(i)]).await;
    }
    assert_eq!(last, 4);
    // A follower refuses writes and names the leader.
    let follower = all.iter().find(|n| n.node_id != leader).unwrap();
    assert!(matches!(follower.append(&[topic(99)]).await, Err(QuorumError::NotLeader(Some(l))) if l == leader));

    // Kill the leader.
    let killed = nodes[leader as usize - 1].take().unwrap();
    killed.shutdown().await;
    let survivors: Vec<&RaftQuorum> = nodes.iter().flatten().collect();
    let others: Vec<NodeId> = survivors.iter().map(|n| n.node_id).collect();
    let new_leader = agreed_leader(&survivors, &others).await;
    assert_ne!(new_leader, leader);
    for i in 5..10 {
        last = append_on_leader(&survivors, &[topic(i)]).await;
    }
    assert_eq!(last, 9, "offsets continue from the committed ones");
    let expected: Vec<String> = {
        let mut v: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
        v.sort();
        v
    };
    for n in &survivors {
        assert!(n.wait_applied(last, Duration::from_secs(10)).await);
        assert_eq!(topics(&n.image()), expected, "node {}", n.node_id);
    }

    // The old leader restarts from its dir on its address and catches up.
    let addr = voters[&leader].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    let l = loop {
        match TcpListener::bind(&addr).await {
            Ok(l) => break l,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot rebind {addr}: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let back = RaftQuorum::start(leader, dirs[leader as usize - 1].path(), "c", Some(l), voters.clone(), fast()).await.unwrap();
    assert!(back.wait_applied(last, Duration::from_secs(20)).await, "the restarted voter caught up");
    assert_eq!(topics(&back.image()), expected);
    back.shutdown().await;
    for n in nodes.into_iter().flatten() {
        n.shutdown().await;
    }
}

#[test]
fn voters_parse_with_kafka_syntax() {
    let v = parse_voters("1@localhost:9093, 2@h2:9093,3@[::1]:9093").unwrap();
    assert_eq!(v[&1], "localhost:9093");
    assert_eq!(v[&3], "[::1]:9093");
    assert!(parse_voters("x@h:1").unwrap_err().contains("'x'"));
    assert!(parse_voters("1@h").unwrap_err().contains("no port"));
    assert!(parse_voters("").is_err());
}

/// openraft's own compliance suite for log and state-machine storage, run against the on-disk implementations.
struct OnDisk;

impl openraft::testing::StoreBuilder<TypeConfig, RaftLogStore, MetadataStateMachine, tempfile::TempDir> for OnDisk {
    async fn build(&self) -> Result<(tempfile::TempDir, RaftLogStore, MetadataStateMachine), openraft::StorageError<NodeId>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = RaftLogStore::open(dir.path()).expect("log store");
        let (sm, _, _) = MetadataStateMachine::open(dir.path(), "c").expect("state machine");
        Ok((dir, log, sm))
    }
}

#[test]
fn storage_passes_openraft_suite() {
    openraft::testing::Suite::test_all(OnDisk).unwrap();
}
