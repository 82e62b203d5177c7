//! Group membership (the classic protocol): coordinator lookup, JoinGroup/SyncGroup with the leader running the
//! assignor, heartbeats, LeaveGroup, and the offset commit/fetch calls that go to the coordinator.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::{
    join_group_request, leave_group_request, offset_commit_request, offset_fetch_request,
    sync_group_request, ApiKey, FindCoordinatorRequest, FindCoordinatorResponse, GroupId, HeartbeatRequest,
    HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;

use super::{ConsumerError, Event, Shared, SubMode, TopicPartition};
use crate::client::assignor::{
    assignor_by_name, decode_assignment, decode_subscription, encode_assignment, encode_subscription, Assignment,
    RebalanceProtocol, Subscription,
};
use crate::client::connection::Connection;
use crate::client::error::ClientError;

pub(crate) const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
pub(crate) const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub(crate) const NOT_COORDINATOR: i16 = 16;
const ILLEGAL_GENERATION: i16 = 22;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const MEMBER_ID_REQUIRED: i16 = 79;
const FENCED_INSTANCE_ID: i16 = 82;
const UNSTABLE_OFFSET_COMMIT: i16 = 88;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn topic_name(t: &str) -> TopicName {
    TopicName(s(t))
}

fn is_coordinator_error(code: i16) -> bool {
    matches!(code, COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR)
}

fn kafka_err(code: i16) -> ClientError {
    ClientError::kafka(code, None).unwrap_or(ClientError::Protocol { addr: String::new(), reason: "no error".into() })
}

async fn timed<T>(d: Duration, f: impl std::future::Future<Output = Result<T, ClientError>>) -> Result<T, ClientError> {
    tokio::time::timeout(d, f).await.map_err(|_| ClientError::Timeout(d.as_millis() as u64))?
}

/// The group coordinator's connection (a dedicated one, so JoinGroup never delays fetches), found once.
pub(crate) async fn coordinator(shared: &Shared) -> Result<Arc<Connection>, ClientError> {
    if let Some(c) = shared.lock().coordinator.clone().filter(|c| !c.is_closed()) {
        return Ok(c);
    }
    let group = shared.cfg.group_id.clone().unwrap_or_default();
    let timeout = shared.cfg.request_timeout;
    let conn = shared.cluster.any_broker().await?;
    let version = conn.version(ApiKey::FindCoordinator).unwrap_or(0);
    let req = if version >= 4 {
        FindCoordinatorRequest::default().with_key_type(0).with_coordinator_keys(vec![s(&group)])
    } else {
        FindCoordinatorRequest::default().with_key(s(&group))
    };
    let (resp, v): (FindCoordinatorResponse, i16) = timed(timeout, conn.send(ApiKey::FindCoordinator, &req)).await?;
    let (code, host, port) = if v >= 4 {
        let c = resp.coordinators.first().ok_or_else(|| ClientError::Protocol { addr: conn.addr.clone(), reason: "FindCoordinator: no coordinator".into() })?;
        (c.error_code, c.host.to_string(), c.port)
    } else {
        (resp.error_code, resp.host.to_string(), resp.port)
    };
    if let Some(e) = ClientError::kafka(code, None) {
        return Err(e);
    }
    let addr = format!("{host}:{port}");
    let c = Connection::connect(&addr, &shared.cfg.client_id, timeout).await?;
    shared.lock().coordinator = Some(c.clone());
    Ok(c)
}

fn forget_coordinator(shared: &Shared) {
    shared.lock().coordinator = None;
}

/// A committed offset (-1: none) and its leader epoch (-1: unknown).
fn committed(offset: i64, leader_epoch: i32) -> Option<(i64, Option<i32>)> {
    (offset >= 0).then_some((offset, (leader_epoch >= 0).then_some(leader_epoch)))
}

/// Commits `offsets` with the current member id and generation, retrying coordinator moves until
/// `request.timeout.ms`.
pub(crate) async fn commit(shared: &Shared, offsets: &BTreeMap<TopicPartition, i64>) -> Result<(), ConsumerError> {
    let group = shared.group_id()?.to_string();
    let deadline = Instant::now() + shared.cfg.request_timeout;
    // The leader epoch of the record before each committed offset, where the offset is the partition's position
    // (as Kafka's OffsetAndMetadata carries it): whoever resumes from it can validate it (KIP-320).
    let epochs: BTreeMap<&TopicPartition, i32> = {
        let st = shared.lock();
        offsets.iter().filter_map(|(tp, o)| st.parts.get(tp).and_then(|ps| ps.epoch_at(*o)).map(|e| (tp, e))).collect()
    };
    let mut by_topic: BTreeMap<&str, Vec<(i32, i64, i32)>> = BTreeMap::new();
    for (tp, o) in offsets {
        by_topic.entry(tp.0.as_str()).or_default().push((tp.1, *o, epochs.get(tp).copied().unwrap_or(-1)));
    }
    loop {
        let attempt = async {
            let conn = coordinator(shared).await?;
            let (member_id, generation) = {
                let st = shared.lock();
                (st.member_id.clone(), st.generation)
            };
            let grouped = matches!(shared.lock().sub, SubMode::Topics(_));
            let (member_id, generation) = if grouped { (member_id, generation) } else { (String::new(), -1) };
            let req = OffsetCommitRequest::default()
                .with_group_id(GroupId(s(&group)))
                .with_generation_id_or_member_epoch(generation)
                .with_member_id(s(&member_id))
                .with_group_instance_id(if grouped { shared.cfg.group_instance_id.as_deref().map(s) } else { None })
                .with_retention_time_ms(-1)
                .with_topics(
                    by_topic
                        .iter()
                        .map(|(t, ps)| {
                            offset_commit_request::OffsetCommitRequestTopic::default().with_name(topic_name(t)).with_partitions(
                                ps.iter()
                                    .map(|(p, o, epoch)| {
                                        offset_commit_request::OffsetCommitRequestPartition::default()
                                            .with_partition_index(*p)
                                            .with_committed_offset(*o)
                                            .with_committed_leader_epoch(*epoch)
                                            .with_committed_metadata(Some(s("")))
                                    })
                                    .collect(),
                            )
                        })
                        .collect(),
                );
            let (resp, _): (OffsetCommitResponse, i16) = timed(shared.cfg.request_timeout, conn.send(ApiKey::OffsetCommit, &req)).await?;
            let code = resp.topics.iter().flat_map(|t| t.partitions.iter()).map(|p| p.error_code).find(|c| *c != 0).unwrap_or(0);
            Ok::<i16, ClientError>(code)
        };
        let retry = match attempt.await {
            Ok(0) => return Ok(()),
            Ok(c) if is_coordinator_error(c) => {
                forget_coordinator(shared);
                kafka_err(c)
            }
            Ok(c @ (REBALANCE_IN_PROGRESS | ILLEGAL_GENERATION | UNKNOWN_MEMBER_ID | FENCED_INSTANCE_ID)) => {
                return Err(ConsumerError::CommitFailed(format!(
                    "the group has rebalanced or this member was removed ({}); the partitions may be assigned to another member",
                    kafka_err(c)
                )))
            }
            Ok(c) => {
                let e = kafka_err(c);
                if !e.is_retriable() {
                    return Err(e.into());
                }
                e
            }
            Err(e) if e.is_retriable() => {
                forget_coordinator(shared);
                e
            }
            Err(e) => return Err(e.into()),
        };
        if Instant::now() + shared.cfg.retry_backoff >= deadline {
            return Err(retry.into());
        }
        tokio::time::sleep(shared.cfg.retry_backoff).await;
    }
}

/// The group's committed offsets for `parts` (None where there is none).
pub(crate) async fn fetch_committed(shared: &Shared, parts: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, Option<i64>>, ConsumerError> {
    Ok(fetch_committed_with_epochs(shared, parts).await?.into_iter().map(|(tp, c)| (tp, c.map(|(o, _)| o))).collect())
}

/// The group's committed offsets for `parts` with the leader epoch committed beside each (None where the
/// committer knew none).
pub(crate) async fn fetch_committed_with_epochs(
    shared: &Shared,
    parts: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, Option<(i64, Option<i32>)>>, ConsumerError> {
    let group = shared.group_id()?.to_string();
    let deadline = Instant::now() + shared.cfg.request_timeout;
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in parts {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    loop {
        let attempt = async {
            let conn = coordinator(shared).await?;
            let version = conn.version(ApiKey::OffsetFetch).unwrap_or(1);
            let mut out = BTreeMap::new();
            let code;
            if version >= 8 {
                let req = OffsetFetchRequest::default().with_require_stable(true).with_groups(vec![offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(s(&group)))
                    .with_topics(Some(
                        by_topic
                            .iter()
                            .map(|(t, ps)| offset_fetch_request::OffsetFetchRequestTopics::default().with_name(topic_name(t)).with_partition_indexes(ps.clone()))
                            .collect(),
                    ))]);
                let (resp, _): (OffsetFetchResponse, i16) = timed(shared.cfg.request_timeout, conn.send(ApiKey::OffsetFetch, &req)).await?;
                let g = resp.groups.into_iter().next().ok_or_else(|| ClientError::Protocol { addr: conn.addr.clone(), reason: "OffsetFetch: no group".into() })?;
                let mut c = g.error_code;
                for t in g.topics {
                    for p in t.partitions {
                        if p.error_code != 0 && c == 0 {
                            c = p.error_code;
                        }
                        out.insert((t.name.to_string(), p.partition_index), committed(p.committed_offset, p.committed_leader_epoch));
                    }
                }
                code = c;
            } else {
                let req = OffsetFetchRequest::default().with_require_stable(true).with_group_id(GroupId(s(&group))).with_topics(Some(
                    by_topic
                        .iter()
                        .map(|(t, ps)| offset_fetch_request::OffsetFetchRequestTopic::default().with_name(topic_name(t)).with_partition_indexes(ps.clone()))
                        .collect(),
                ));
                let (resp, _): (OffsetFetchResponse, i16) = timed(shared.cfg.request_timeout, conn.send(ApiKey::OffsetFetch, &req)).await?;
                let mut c = resp.error_code;
                for t in resp.topics {
                    for p in t.partitions {
                        if p.error_code != 0 && c == 0 {
                            c = p.error_code;
                        }
                        out.insert((t.name.to_string(), p.partition_index), committed(p.committed_offset, p.committed_leader_epoch));
                    }
                }
                code = c;
            }
            Ok::<_, ClientError>((code, out))
        };
        let retry = match attempt.await {
            Ok((0, out)) => return Ok(parts.iter().map(|tp| (tp.clone(), out.get(tp).copied().flatten())).collect()),
            Ok((c, _)) if is_coordinator_error(c) || c == UNSTABLE_OFFSET_COMMIT => {
                if c != UNSTABLE_OFFSET_COMMIT {
                    forget_coordinator(shared);
                }
                kafka_err(c)
            }
            Ok((c, _)) => return Err(kafka_err(c).into()),
            Err(e) if e.is_retriable() => {
                forget_coordinator(shared);
                e
            }
            Err(e) => return Err(e.into()),
        };
        if Instant::now() + shared.cfg.retry_backoff >= deadline {
            return Err(retry.into());
        }
        tokio::time::sleep(shared.cfg.retry_backoff).await;
    }
}

/// LeaveGroup for the current member (static members stay, as in Java), then forgets the member id.
pub(crate) async fn leave(shared: &Shared, reason: &str) -> Result<(), ClientError> {
    let (member_id, group) = {
        let mut st = shared.lock();
        let m = std::mem::take(&mut st.member_id);
        st.generation = -1;
        (m, shared.cfg.group_id.clone().unwrap_or_default())
    };
    if member_id.is_empty() || shared.cfg.group_instance_id.is_some() {
        return Ok(());
    }
    let conn = coordinator(shared).await?;
    let version = conn.version(ApiKey::LeaveGroup).unwrap_or(0);
    let req = if version >= 3 {
        LeaveGroupRequest::default().with_group_id(GroupId(s(&group))).with_members(vec![leave_group_request::MemberIdentity::default()
            .with_member_id(s(&member_id))
            .with_reason(Some(s(reason)))])
    } else {
        LeaveGroupRequest::default().with_group_id(GroupId(s(&group))).with_member_id(s(&member_id))
    };
    let (resp, _): (LeaveGroupResponse, i16) = timed(shared.cfg.request_timeout, conn.send(ApiKey::LeaveGroup, &req)).await?;
    match ClientError::kafka(resp.error_code, None) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

enum Outcome {
    /// Join again (keeping the member id unless it was reset).
    Rejoin,
    /// The membership is gone: partitions are lost.
    Lost,
    /// `max.poll.interval.ms` passed without a poll: left the group.
    PollTimeout,
    Closed,
    Fatal(ConsumerError),
}

/// Heartbeats once; maps the answer to what the member must do.
async fn heartbeat(shared: &Shared) -> Option<Outcome> {
    let (member_id, generation) = {
        let st = shared.lock();
        (st.member_id.clone(), st.generation)
    };
    let group = shared.cfg.group_id.clone().unwrap_or_default();
    let conn = match coordinator(shared).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("heartbeat: no coordinator: {e}");
            return None;
        }
    };
    let req = HeartbeatRequest::default()
        .with_group_id(GroupId(s(&group)))
        .with_generation_id(generation)
        .with_member_id(s(&member_id))
        .with_group_instance_id(shared.cfg.group_instance_id.as_deref().map(s));
    let resp: Result<(HeartbeatResponse, i16), ClientError> = timed(shared.cfg.request_timeout, conn.send(ApiKey::Heartbeat, &req)).await;
    match resp {
        Err(e) => {
            tracing::debug!("heartbeat failed: {e}");
            forget_coordinator(shared);
            None
        }
        Ok((r, _)) => match r.error_code {
            0 => None,
            REBALANCE_IN_PROGRESS => Some(Outcome::Rejoin),
            ILLEGAL_GENERATION => Some(Outcome::Lost),
            UNKNOWN_MEMBER_ID => {
                shared.lock().member_id.clear();
                Some(Outcome::Lost)
            }
            FENCED_INSTANCE_ID => Some(Outcome::Fatal(ConsumerError::Fatal(format!("{}", kafka_err(FENCED_INSTANCE_ID))))),
            c if is_coordinator_error(c) => {
                forget_coordinator(shared);
                None
            }
            c => {
                tracing::warn!("heartbeat: {}", kafka_err(c));
                None
            }
        },
    }
}

/// Waits for `rx` (an event's acknowledgement from `poll`) while heartbeating; `None` when closed.
async fn wait_ack<T>(shared: &Shared, mut rx: oneshot::Receiver<T>, heartbeats: bool) -> (Option<T>, Option<Outcome>) {
    let mut pending: Option<Outcome> = None;
    let mut next_hb = tokio::time::Instant::now() + shared.cfg.heartbeat_interval;
    loop {
        tokio::select! {
            r = &mut rx => return (r.ok(), pending),
            _ = tokio::time::sleep_until(next_hb) => {
                next_hb = tokio::time::Instant::now() + shared.cfg.heartbeat_interval;
                if heartbeats && pending.is_none() {
                    pending = heartbeat(shared).await;
                }
            }
        }
        if shared.is_closed() {
            return (None, None);
        }
    }
}

fn subscribed_topics(shared: &Shared) -> Option<BTreeSet<String>> {
    match &shared.lock().sub {
        SubMode::Topics(t) if !t.is_empty() => Some(t.clone()),
        _ => None,
    }
}

/// With a pattern subscription, looks up every topic and makes the matching ones (internal topics excluded) the
/// subscription. Without one, does nothing.
async fn resolve_pattern(shared: &Shared) {
    if shared.lock().pattern.is_none() {
        return;
    }
    let md = match shared.cluster.refresh(None, false).await {
        Ok(md) => md,
        Err(e) => {
            tracing::debug!("metadata for the subscription pattern: {e}");
            return;
        }
    };
    let mut st = shared.lock();
    let Some(re) = st.pattern.clone() else { return };
    let matched: BTreeSet<String> = md.topics.values().filter(|t| t.error == 0 && !t.is_internal && re.is_match(&t.name)).map(|t| t.name.clone()).collect();
    st.sub = SubMode::Topics(matched);
}

/// The group task: joins, syncs, heartbeats and rejoins until the consumer closes.
pub(crate) async fn run(shared: Arc<Shared>) {
    let protocol = shared.cfg.rebalance_protocol();
    let mut last_assignment: Vec<TopicPartition> = Vec::new();
    let mut backoff = shared.cfg.retry_backoff;
    loop {
        if shared.is_closed() {
            return;
        }
        resolve_pattern(&shared).await;
        let Some(topics) = subscribed_topics(&shared) else {
            // Unsubscribed: leave the group if we were in it, then wait for a subscription.
            if !shared.lock().member_id.is_empty() {
                let _ = leave(&shared, "unsubscribed").await;
            }
            // A pattern that matches nothing yet is looked at again every metadata.max.age.ms, as in Java.
            let wait = if shared.lock().pattern.is_some() { shared.cfg.metadata_max_age } else { Duration::from_millis(500) };
            let _ = tokio::time::timeout(wait, shared.group_wake.notified()).await;
            continue;
        };
        shared.lock().rejoin_requested = false;
        // Eager: revoke everything (and auto-commit) on the polling thread before joining.
        if protocol == RebalanceProtocol::Eager && !shared.lock().parts.is_empty() {
            let (tx, rx) = oneshot::channel();
            shared.lock().events.push_back(Event::Revoke { ack: tx });
            shared.poll_wake.notify_one();
            let (acked, _) = wait_ack(&shared, rx, true).await;
            if acked.is_none() {
                return;
            }
        }
        let outcome = match join_and_sync(&shared, &topics, protocol, &last_assignment).await {
            Ok(assigned) => {
                last_assignment = assigned.clone();
                backoff = shared.cfg.retry_backoff;
                let (tx, rx) = oneshot::channel();
                shared.lock().events.push_back(Event::Assign { partitions: assigned, ack: tx });
                shared.poll_wake.notify_one();
                match wait_ack(&shared, rx, true).await {
                    (None, _) => return,
                    (Some(_), Some(o)) => o,
                    (Some(true), None) if protocol == RebalanceProtocol::Cooperative => Outcome::Rejoin,
                    (Some(_), None) => stable(&shared).await,
                }
            }
            Err(Outcome::Rejoin) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                Outcome::Rejoin
            }
            Err(o) => o,
        };
        match outcome {
            Outcome::Rejoin => {}
            Outcome::Closed => return,
            Outcome::Fatal(e) => {
                shared.lock().fatal = Some(e);
                shared.poll_wake.notify_one();
                return;
            }
            Outcome::Lost => {
                {
                    let mut st = shared.lock();
                    st.generation = -1;
                    st.events.push_back(Event::Lost);
                }
                last_assignment.clear();
                shared.poll_wake.notify_one();
            }
            Outcome::PollTimeout => {
                tracing::warn!(
                    "no poll for longer than max.poll.interval.ms ({} ms): leaving the group; the next poll rejoins",
                    shared.cfg.max_poll_interval.as_millis()
                );
                let left_at = std::time::Instant::now();
                let _ = leave(&shared, "consumer poll timeout has expired").await;
                shared.lock().events.push_back(Event::Lost);
                last_assignment.clear();
                shared.poll_wake.notify_one();
                // Rejoin only once the application polls again.
                while shared.lock().last_poll <= left_at {
                    if shared.is_closed() {
                        return;
                    }
                    let _ = tokio::time::timeout(Duration::from_millis(200), shared.group_wake.notified()).await;
                }
            }
        }
    }
}

/// Partition counts of the subscribed topics, from fresh metadata.
async fn partition_counts(shared: &Shared) -> Option<BTreeMap<String, i32>> {
    resolve_pattern(shared).await;
    let topics: Vec<String> = match &shared.lock().sub {
        SubMode::Topics(t) => t.iter().cloned().collect(),
        _ => return None,
    };
    if topics.is_empty() {
        // A pattern that no longer matches anything: a change worth a rejoin (which then leaves the group).
        return Some(BTreeMap::new());
    }
    let md = shared.cluster.refresh(Some(&topics), false).await.ok()?;
    Some(topics.iter().filter_map(|t| md.partition_count(t).map(|n| (t.clone(), n))).collect())
}

/// Stable membership: heartbeats until something asks for a rejoin. Every `metadata.max.age.ms` the subscribed
/// topics' partition counts are looked up; a change (partitions added, a topic created or deleted) rejoins.
async fn stable(shared: &Shared) -> Outcome {
    let mut next_hb = tokio::time::Instant::now() + shared.cfg.heartbeat_interval;
    let counts = partition_counts(shared).await;
    // A subscribed topic the metadata does not know yet (just created, or not yet created) is looked for again
    // after retry.backoff.ms, as the Java consumer does, instead of waiting out metadata.max.age.ms.
    let md_interval = |counts: &Option<BTreeMap<String, i32>>| {
        let wanted = subscribed_topics(shared).map_or(0, |t| t.len());
        let missing = counts.as_ref().is_some_and(|c| c.len() < wanted);
        if missing {
            shared.cfg.metadata_max_age.min(shared.cfg.retry_backoff.max(Duration::from_millis(100)))
        } else {
            shared.cfg.metadata_max_age
        }
    };
    let mut next_md = tokio::time::Instant::now() + md_interval(&counts);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next_hb.min(next_md)) => {}
            _ = shared.group_wake.notified() => {}
        }
        if shared.is_closed() {
            return Outcome::Closed;
        }
        let (rejoin, last_poll) = {
            let st = shared.lock();
            (st.rejoin_requested, st.last_poll)
        };
        if rejoin {
            return Outcome::Rejoin;
        }
        if last_poll.elapsed() > shared.cfg.max_poll_interval {
            return Outcome::PollTimeout;
        }
        if tokio::time::Instant::now() >= next_hb {
            next_hb = tokio::time::Instant::now() + shared.cfg.heartbeat_interval;
            if let Some(o) = heartbeat(shared).await {
                return o;
            }
        }
        if tokio::time::Instant::now() >= next_md {
            let now = partition_counts(shared).await;
            next_md = tokio::time::Instant::now() + md_interval(&now);
            if now.is_some() && counts.is_some() && now != counts {
                tracing::info!("subscribed topics changed ({counts:?} -> {now:?}): rejoining");
                return Outcome::Rejoin;
            }
        }
    }
}

/// One JoinGroup + SyncGroup round (with the MEMBER_ID_REQUIRED second join); the partitions assigned.
async fn join_and_sync(
    shared: &Shared,
    topics: &BTreeSet<String>,
    protocol: RebalanceProtocol,
    last_assignment: &[TopicPartition],
) -> Result<Vec<TopicPartition>, Outcome> {
    let group = shared.cfg.group_id.clone().unwrap_or_default();
    let topics: Vec<String> = topics.iter().cloned().collect();
    let assignors = shared.cfg.assignors();
    let join_timeout = shared.cfg.max_poll_interval + Duration::from_secs(5);
    let conn = match coordinator(shared).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("no coordinator yet: {e}");
            return Err(Outcome::Rejoin);
        }
    };
    let mut second_try = false;
    loop {
        let (member_id, generation, owned) = {
            let st = shared.lock();
            (st.member_id.clone(), st.generation, st.parts.keys().cloned().collect::<Vec<_>>())
        };
        let owned = if protocol == RebalanceProtocol::Cooperative { owned } else { Vec::new() };
        let gen = (generation >= 0).then_some(generation);
        let protocols = assignors
            .iter()
            .map(|a| {
                let sub = Subscription::new(topics.iter().cloned())
                    .with_user_data(a.subscription_user_data(&topics, last_assignment, gen))
                    .with_owned_partitions(owned.clone())
                    .with_generation(gen);
                join_group_request::JoinGroupRequestProtocol::default().with_name(s(a.name())).with_metadata(encode_subscription(&sub))
            })
            .collect();
        let req = JoinGroupRequest::default()
            .with_group_id(GroupId(s(&group)))
            .with_session_timeout_ms(shared.cfg.session_timeout.as_millis() as i32)
            .with_rebalance_timeout_ms(shared.cfg.max_poll_interval.as_millis() as i32)
            .with_member_id(s(&member_id))
            .with_group_instance_id(shared.cfg.group_instance_id.as_deref().map(s))
            .with_protocol_type(s("consumer"))
            .with_protocols(protocols);
        let resp: JoinGroupResponse = match timed(join_timeout, conn.send(ApiKey::JoinGroup, &req)).await {
            Ok((r, _)) => r,
            Err(e) => {
                tracing::debug!("JoinGroup failed: {e}");
                forget_coordinator(shared);
                return Err(Outcome::Rejoin);
            }
        };
        match resp.error_code {
            0 => {}
            MEMBER_ID_REQUIRED if !second_try => {
                second_try = true;
                shared.lock().member_id = resp.member_id.to_string();
                continue;
            }
            UNKNOWN_MEMBER_ID => {
                shared.lock().member_id.clear();
                return Err(Outcome::Rejoin);
            }
            ILLEGAL_GENERATION => {
                shared.lock().generation = -1;
                return Err(Outcome::Rejoin);
            }
            c if is_coordinator_error(c) => {
                forget_coordinator(shared);
                return Err(Outcome::Rejoin);
            }
            c @ (FENCED_INSTANCE_ID | INCONSISTENT_GROUP_PROTOCOL) => return Err(Outcome::Fatal(ConsumerError::Fatal(kafka_err(c).to_string()))),
            c => {
                let e = kafka_err(c);
                if e.is_retriable() || c == REBALANCE_IN_PROGRESS {
                    return Err(Outcome::Rejoin);
                }
                return Err(Outcome::Fatal(ConsumerError::Fatal(format!("JoinGroup: {e}"))));
            }
        }
        let member_id = resp.member_id.to_string();
        let generation = resp.generation_id;
        {
            let mut st = shared.lock();
            st.member_id = member_id.clone();
            st.generation = generation;
        }
        let protocol_name = resp.protocol_name.as_ref().map(|p| p.to_string()).unwrap_or_default();
        let plan = if resp.leader.as_str() == member_id {
            match leader_assign(shared, &protocol_name, &resp).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!("the group leader could not assign partitions: {e}");
                    return Err(Outcome::Rejoin);
                }
            }
        } else {
            Vec::new()
        };
        let req = SyncGroupRequest::default()
            .with_group_id(GroupId(s(&group)))
            .with_generation_id(generation)
            .with_member_id(s(&member_id))
            .with_group_instance_id(shared.cfg.group_instance_id.as_deref().map(s))
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(Some(s(&protocol_name)))
            .with_assignments(plan);
        let resp: SyncGroupResponse = match timed(join_timeout, conn.send(ApiKey::SyncGroup, &req)).await {
            Ok((r, _)) => r,
            Err(e) => {
                tracing::debug!("SyncGroup failed: {e}");
                forget_coordinator(shared);
                return Err(Outcome::Rejoin);
            }
        };
        return match resp.error_code {
            0 => {
                let assignment = if resp.assignment.is_empty() {
                    Assignment::default()
                } else {
                    match decode_assignment(&resp.assignment) {
                        Ok(a) => a,
                        Err(e) => return Err(Outcome::Fatal(ConsumerError::Fatal(format!("undecodable assignment: {e}")))),
                    }
                };
                let mut parts = assignment.partitions;
                parts.retain(|(t, _)| topics.contains(t));
                parts.sort();
                parts.dedup();
                Ok(parts)
            }
            UNKNOWN_MEMBER_ID => {
                shared.lock().member_id.clear();
                Err(Outcome::Lost)
            }
            ILLEGAL_GENERATION => Err(Outcome::Lost),
            REBALANCE_IN_PROGRESS => Err(Outcome::Rejoin),
            c if is_coordinator_error(c) => {
                forget_coordinator(shared);
                Err(Outcome::Rejoin)
            }
            FENCED_INSTANCE_ID => Err(Outcome::Fatal(ConsumerError::Fatal(kafka_err(FENCED_INSTANCE_ID).to_string()))),
            c => {
                tracing::warn!("SyncGroup: {}", kafka_err(c));
                Err(Outcome::Rejoin)
            }
        };
    }
}

/// The leader's part: decode every member's subscription, look up the partitions and run the assignor.
async fn leader_assign(
    shared: &Shared,
    protocol_name: &str,
    resp: &JoinGroupResponse,
) -> Result<Vec<sync_group_request::SyncGroupRequestAssignment>, ConsumerError> {
    let assignor = assignor_by_name(protocol_name)
        .ok_or_else(|| ConsumerError::Fatal(format!("the group chose assignor '{protocol_name}', which this client does not have")))?;
    let mut subs = BTreeMap::new();
    for m in &resp.members {
        let sub = decode_subscription(&m.metadata)
            .map_err(|e| ConsumerError::Fatal(format!("undecodable subscription of {}: {e}", m.member_id.as_str())))?
            .with_group_instance_id(m.group_instance_id.as_ref().map(|i| i.to_string()));
        subs.insert(m.member_id.to_string(), sub);
    }
    let all: Vec<String> = subs.values().flat_map(|s| s.topics.iter().cloned()).collect::<BTreeSet<_>>().into_iter().collect();
    let md = shared.cluster.refresh(Some(&all), false).await?;
    let partitions_per_topic: BTreeMap<String, i32> = all.iter().filter_map(|t| md.partition_count(t).map(|n| (t.clone(), n))).collect();
    let plan = assignor.assign(&partitions_per_topic, &subs);
    tracing::debug!("assignment by {protocol_name}: {plan:?}");
    Ok(plan
        .into_iter()
        .map(|(m, parts)| {
            sync_group_request::SyncGroupRequestAssignment::default().with_member_id(s(&m)).with_assignment(encode_assignment(&Assignment::new(parts)))
        })
        .collect())
}
