//! The coordinator driven without sockets: an in-memory offsets log and tokio's paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::group::{GroupConfig, JoinRequest, Protocol};
use super::group_coordinator::{BoxFuture, GroupCoordinator, OffsetRecord, OffsetsLog};
use super::records::OffsetValue;
use super::GroupState;
use crate::protocol::ErrorCode;

#[derive(Default)]
struct MemoryLog {
    records: Mutex<Vec<OffsetRecord>>,
}

impl OffsetsLog for MemoryLog {
    fn append(&self, _group: &str, records: Vec<OffsetRecord>) -> BoxFuture<Result<(), ErrorCode>> {
        self.records.lock().unwrap().extend(records);
        Box::pin(async { Ok(()) })
    }
}

fn cfg(initial_delay_ms: u64) -> GroupConfig {
    GroupConfig {
        min_session_timeout: Duration::from_millis(100),
        max_session_timeout: Duration::from_secs(300),
        initial_rebalance_delay: Duration::from_millis(initial_delay_ms),
        max_size: 100,
    }
}

fn coordinator(initial_delay_ms: u64) -> (Arc<GroupCoordinator>, Arc<MemoryLog>) {
    let log = Arc::new(MemoryLog::default());
    let c = GroupCoordinator::new(cfg(initial_delay_ms), log.clone());
    c.load(Vec::new());
    (c, log)
}

fn join_req(member: &str, instance: Option<&str>, protocols: &[&str]) -> JoinRequest {
    JoinRequest {
        member_id: member.to_string(),
        instance_id: instance.map(str::to_string),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(30),
        protocol_type: "consumer".into(),
        protocols: protocols.iter().map(|p| Protocol { name: p.to_string(), metadata: Bytes::from(format!("meta-{p}")) }).collect(),
        require_known_member_id: true,
    }
}

/// Joins as a new dynamic member: MEMBER_ID_REQUIRED first, then the real join (spawned: it waits).
async fn join_new(c: &Arc<GroupCoordinator>, group: &str, protocols: &[&str]) -> tokio::task::JoinHandle<super::JoinResult> {
    let first = c.join(group, join_req("", None, protocols)).await;
    assert_eq!(first.error, Some(ErrorCode::MemberIdRequired));
    assert!(!first.member_id.is_empty());
    let c = c.clone();
    let group = group.to_string();
    let protocols: Vec<String> = protocols.iter().map(|s| s.to_string()).collect();
    tokio::spawn(async move {
        let p: Vec<&str> = protocols.iter().map(|s| s.as_str()).collect();
        c.join(&group, join_req(&first.member_id, None, &p)).await
    })
}

async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn two_members_join_sync_and_get_their_assignments() {
    let (c, log) = coordinator(0);
    let a = join_new(&c, "g", &["range", "roundrobin"]).await;
    let b = join_new(&c, "g", &["roundrobin", "range"]).await;
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(a.error, None);
    assert_eq!(b.error, None);
    assert_eq!(a.generation, 1);
    assert_eq!(a.generation, b.generation);
    assert_eq!(a.leader, b.leader);
    // A tie in the vote goes to the first member's preference.
    assert!(a.protocol_name.is_some());
    let (leader, follower) = if a.leader == a.member_id { (a, b) } else { (b, a) };
    assert_eq!(leader.members.len(), 2);
    assert!(follower.members.is_empty());

    let c2 = c.clone();
    let f = follower.clone();
    let follower_sync = tokio::spawn(async move { c2.sync("g", &f.member_id, None, f.generation, None, None, vec![]).await });
    settle().await;
    let plan = vec![(leader.member_id.clone(), Bytes::from_static(b"L")), (follower.member_id.clone(), Bytes::from_static(b"F"))];
    let l = c.sync("g", &leader.member_id, None, leader.generation, Some("consumer"), leader.protocol_name.as_deref(), plan).await;
    assert_eq!(l.error, None);
    assert_eq!(&l.assignment[..], b"L");
    let f = follower_sync.await.unwrap();
    assert_eq!(f.error, None);
    assert_eq!(&f.assignment[..], b"F");
    assert_eq!(c.describe("g").unwrap().unwrap().state, GroupState::Stable);
    assert!(!log.records.lock().unwrap().is_empty(), "the group's assignment was persisted");
    assert_eq!(c.heartbeat("g", &follower.member_id, None, follower.generation), None);
    assert_eq!(c.heartbeat("g", &follower.member_id, None, follower.generation - 1), Some(ErrorCode::IllegalGeneration));
    assert_eq!(c.heartbeat("g", "nobody", None, 1), Some(ErrorCode::UnknownMemberId));
}

#[tokio::test(start_paused = true)]
async fn initial_rebalance_delay_gathers_members() {
    let (c, _) = coordinator(3000);
    let a = join_new(&c, "g", &["range"]).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!a.is_finished(), "held for the initial delay");
    let b = join_new(&c, "g", &["range"]).await;
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!((a.generation, b.generation), (1, 1));
    assert_eq!(a.leader, b.leader);
}

#[tokio::test(start_paused = true)]
async fn inconsistent_protocols_and_bad_session_timeouts_are_refused() {
    let (c, _) = coordinator(0);
    let a = join_new(&c, "g", &["range"]).await.await.unwrap();
    assert_eq!(a.error, None);
    let r = c.join("g", join_req("", None, &["sticky"])).await;
    assert_eq!(r.error, Some(ErrorCode::InconsistentGroupProtocol));
    let mut bad = join_req("", None, &["range"]);
    bad.session_timeout = Duration::from_millis(1);
    assert_eq!(c.join("g", bad).await.error, Some(ErrorCode::InvalidSessionTimeout));
    assert_eq!(c.join("other", join_req("ghost", None, &["range"])).await.error, Some(ErrorCode::UnknownMemberId));
}

#[tokio::test(start_paused = true)]
async fn silent_member_expires_and_the_other_takes_over() {
    let (c, _) = coordinator(0);
    let a = join_new(&c, "g", &["range"]).await;
    let b = join_new(&c, "g", &["range"]).await;
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let (leader, follower) = if a.leader == a.member_id { (a, b) } else { (b, a) };
    let c2 = c.clone();
    let f = follower.clone();
    let fs = tokio::spawn(async move { c2.sync("g", &f.member_id, None, f.generation, None, None, vec![]).await });
    settle().await;
    c.sync("g", &leader.member_id, None, leader.generation, None, None, vec![]).await;
    fs.await.unwrap();
    // Only the leader heartbeats; the follower's 10 s session runs out.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let e = c.heartbeat("g", &leader.member_id, None, leader.generation);
        if e == Some(ErrorCode::RebalanceInProgress) {
            break;
        }
    }
    assert_eq!(c.heartbeat("g", &leader.member_id, None, leader.generation), Some(ErrorCode::RebalanceInProgress));
    let rejoin = c.join("g", join_req(&leader.member_id, None, &["range"])).await;
    assert_eq!(rejoin.error, None);
    assert_eq!(rejoin.generation, leader.generation + 1);
    assert_eq!(rejoin.members.len(), 1, "only the live member is left");
    assert_eq!(c.heartbeat("g", &follower.member_id, None, follower.generation), Some(ErrorCode::UnknownMemberId));
}

#[tokio::test(start_paused = true)]
async fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_timeout() {
    let (c, _) = coordinator(0);
    let a = join_new(&c, "g", &["range"]).await;
    let b = join_new(&c, "g", &["range"]).await;
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    // A third member arrives: a rebalance; `a` rejoins, `b` keeps heartbeating but never rejoins.
    let newcomer = join_new(&c, "g", &["range"]).await;
    let c2 = c.clone();
    let a_id = a.member_id.clone();
    let a_rejoin = tokio::spawn(async move { c2.join("g", join_req(&a_id, None, &["range"])).await });
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if a_rejoin.is_finished() {
            break;
        }
        c.heartbeat("g", &b.member_id, None, b.generation);
    }
    let (a2, n) = (a_rejoin.await.unwrap(), newcomer.await.unwrap());
    assert_eq!(a2.generation, 2);
    assert_eq!(n.generation, 2);
    let leader_view = if a2.leader == a2.member_id { &a2 } else { &n };
    assert_eq!(leader_view.members.len(), 2);
    assert!(leader_view.members.iter().all(|m| m.member_id != b.member_id));
}

#[tokio::test(start_paused = true)]
async fn leave_triggers_a_rebalance_and_the_last_leave_empties_the_group() {
    let (c, log) = coordinator(0);
    let a = join_new(&c, "g", &["range"]).await.await.unwrap();
    assert_eq!(c.leave("g", &[(a.member_id.clone(), None)]).await.unwrap(), vec![None]);
    settle().await;
    assert_eq!(c.describe("g").unwrap().unwrap().state, GroupState::Empty);
    assert_eq!(c.leave("g", &[(a.member_id.clone(), None)]).await.unwrap(), vec![Some(ErrorCode::UnknownMemberId)]);
    assert!(log.records.lock().unwrap().iter().any(|(k, _)| k[1] == 2), "the empty group was persisted");
}

#[tokio::test(start_paused = true)]
async fn static_member_restart_keeps_its_assignment_without_a_rebalance() {
    // With no initial delay the first member would complete a generation alone; the delay gathers both.
    let (c, _) = coordinator(3000);
    let c2 = c.clone();
    let a = tokio::spawn(async move { c2.join("g", join_req("", Some("inst-a"), &["range"])).await });
    let c3 = c.clone();
    let b = tokio::spawn(async move { c3.join("g", join_req("", Some("inst-b"), &["range"])).await });
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(a.error, None, "static members need no MEMBER_ID_REQUIRED round trip");
    let (leader, follower) = if a.leader == a.member_id { (a, b) } else { (b, a) };
    let c4 = c.clone();
    let f = follower.clone();
    let fs = tokio::spawn(async move { c4.sync("g", &f.member_id, Some(if f.member_id.starts_with("inst-a") { "inst-a" } else { "inst-b" }), f.generation, None, None, vec![]).await });
    settle().await;
    let plan = vec![(leader.member_id.clone(), Bytes::from_static(b"L")), (follower.member_id.clone(), Bytes::from_static(b"F"))];
    let leader_instance = if leader.member_id.starts_with("inst-a") { "inst-a" } else { "inst-b" };
    let follower_instance = if leader_instance == "inst-a" { "inst-b" } else { "inst-a" };
    c.sync("g", &leader.member_id, Some(leader_instance), leader.generation, None, None, plan).await;
    assert_eq!(&fs.await.unwrap().assignment[..], b"F");

    // The follower restarts with the same instance id: same generation, same assignment, old id fenced.
    let again = c.join("g", join_req("", Some(follower_instance), &["range"])).await;
    assert_eq!(again.error, None);
    assert_eq!(again.generation, follower.generation);
    assert_ne!(again.member_id, follower.member_id);
    let s = c.sync("g", &again.member_id, Some(follower_instance), again.generation, None, None, vec![]).await;
    assert_eq!(&s.assignment[..], b"F");
    assert_eq!(c.describe("g").unwrap().unwrap().state, GroupState::Stable);
    assert_eq!(c.heartbeat("g", &follower.member_id, Some(follower_instance), follower.generation), Some(ErrorCode::FencedInstanceId));
}

#[tokio::test(start_paused = true)]
async fn commits_are_fenced_by_generation_and_state() {
    let (c, log) = coordinator(0);
    let ov = |o| OffsetValue { offset: o, leader_epoch: -1, metadata: String::new(), commit_timestamp: 0 };
    // Simple (group-less) commit.
    c.commit("simple", "", None, -1, vec![(("t".into(), 0), ov(5))]).await.unwrap();
    let got = c.fetch_offsets("simple", Some(&[("t".into(), 0), ("t".into(), 1)])).unwrap();
    assert_eq!(got[0].1.as_ref().unwrap().offset, 5);
    assert!(got[1].1.is_none());

    let a = join_new(&c, "g", &["range"]).await.await.unwrap();
    // CompletingRebalance: refused.
    assert_eq!(c.commit("g", &a.member_id, None, a.generation, vec![(("t".into(), 0), ov(1))]).await, Err(ErrorCode::RebalanceInProgress));
    c.sync("g", &a.member_id, None, a.generation, None, None, vec![]).await;
    assert_eq!(c.commit("g", &a.member_id, None, a.generation - 1, vec![]).await, Err(ErrorCode::IllegalGeneration));
    assert_eq!(c.commit("g", "stranger", None, a.generation, vec![]).await, Err(ErrorCode::UnknownMemberId));
    assert_eq!(c.commit("g", "", None, -1, vec![]).await, Err(ErrorCode::UnknownMemberId), "group-less commit into a live group");
    c.commit("g", &a.member_id, None, a.generation, vec![(("t".into(), 0), ov(9))]).await.unwrap();
    assert_eq!(c.fetch_offsets("g", None).unwrap()[0].1.as_ref().unwrap().offset, 9);

    // Non-empty groups cannot be deleted; empty ones can, with their offsets.
    assert_eq!(c.delete_group("g").await, Err(ErrorCode::NonEmptyGroup));
    c.leave("g", &[(a.member_id.clone(), None)]).await.unwrap();
    settle().await;
    c.delete_group("g").await.unwrap();
    assert_eq!(c.delete_group("g").await, Err(ErrorCode::GroupIdNotFound));
    assert!(c.fetch_offsets("g", None).unwrap().is_empty());

    // Everything replays into a fresh coordinator.
    let records: Vec<(Bytes, Option<Bytes>)> = log.records.lock().unwrap().iter().map(|(k, v)| (Bytes::from(k.clone()), v.clone().map(Bytes::from))).collect();
    let c2 = GroupCoordinator::new(cfg(0), Arc::new(MemoryLog::default()));
    assert!(!c2.is_loaded());
    assert_eq!(c2.fetch_offsets("simple", None), Err(ErrorCode::CoordinatorLoadInProgress));
    c2.load(records);
    assert_eq!(c2.fetch_offsets("simple", None).unwrap()[0].1.as_ref().unwrap().offset, 5);
    assert!(c2.describe("g").unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn empty_group_offsets_expire() {
    let (c, _) = coordinator(0);
    let ov = OffsetValue { offset: 1, leader_epoch: -1, metadata: String::new(), commit_timestamp: super::wall_ms() - 10_000 };
    c.commit("old", "", None, -1, vec![(("t".into(), 0), ov)]).await.unwrap();
    c.expire_offsets(Duration::from_secs(3600)).await;
    assert_eq!(c.fetch_offsets("old", None).unwrap().len(), 1, "not yet");
    // The group became Empty on creation just now, so the horizon counts from then.
    c.expire_offsets(Duration::from_millis(0)).await;
    assert!(c.fetch_offsets("old", None).unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn group_max_size() {
    let log = Arc::new(MemoryLog::default());
    let mut config = cfg(0);
    config.max_size = 1;
    let c = GroupCoordinator::new(config, log);
    c.load(Vec::new());
    let _a = join_new(&c, "g", &["range"]).await.await.unwrap();
    assert_eq!(c.join("g", join_req("", None, &["range"])).await.error, Some(ErrorCode::GroupMaxSizeReached));
}
