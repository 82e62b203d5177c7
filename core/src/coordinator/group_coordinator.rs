//! The group coordinator: every group's state machine, a timer per group (session expiry, rebalance deadlines),
//! committed offsets, and their persistence in `__consumer_offsets` through [`OffsetsLog`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::group::{Effect, Group, GroupConfig, GroupState, JoinOutcome, JoinRequest, JoinResult, SyncOutcome, SyncResult};
use super::records::{GroupValue, OffsetValue, RecordKey};
use crate::protocol::ErrorCode;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// (key, value); a `None` value is a tombstone.
pub type OffsetRecord = (Vec<u8>, Option<Vec<u8>>);

/// Where the coordinator's records go: the group's partition of `__consumer_offsets`. `append` resolves once
/// the records are durable.
pub trait OffsetsLog: Send + Sync {
    fn append(&self, group: &str, records: Vec<OffsetRecord>) -> BoxFuture<Result<(), ErrorCode>>;
}

pub type TopicPartition = (String, i32);

pub struct GroupSlot {
    group: Mutex<Group>,
    timer: Notify,
}

impl GroupSlot {
    fn lock(&self) -> MutexGuard<'_, Group> {
        self.group.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A snapshot for DescribeGroups.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

#[derive(Debug, Clone)]
pub struct MemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

pub struct GroupCoordinator {
    cfg: GroupConfig,
    groups: Mutex<HashMap<String, Arc<GroupSlot>>>,
    log: Arc<dyn OffsetsLog>,
    loaded: AtomicBool,
    this: Weak<GroupCoordinator>,
}

pub fn wall_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl GroupCoordinator {
    pub fn new(cfg: GroupConfig, log: Arc<dyn OffsetsLog>) -> Arc<Self> {
        Arc::new_cyclic(|this| GroupCoordinator {
            cfg,
            groups: Mutex::new(HashMap::new()),
            log,
            loaded: AtomicBool::new(false),
            this: this.clone(),
        })
    }

    pub fn config(&self) -> &GroupConfig {
        &self.cfg
    }

    /// False until `load` has replayed `__consumer_offsets`: group APIs answer COORDINATOR_LOAD_IN_PROGRESS.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    fn groups(&self) -> MutexGuard<'_, HashMap<String, Arc<GroupSlot>>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replays `__consumer_offsets` records (in offset order) into groups and offsets, then opens for business.
    pub fn load(&self, records: impl IntoIterator<Item = (Bytes, Option<Bytes>)>) {
        let now = Instant::now();
        let mut groups: HashMap<String, Group> = HashMap::new();
        let mut count = 0usize;
        for (key, value) in records {
            count += 1;
            let Ok(key) = RecordKey::decode(&key) else {
                tracing::warn!("skipping an unreadable __consumer_offsets key");
                continue;
            };
            match key {
                RecordKey::Offset { group, topic, partition } => {
                    let g = groups.entry(group.clone()).or_insert_with(|| Group::new(&group, wall_ms()));
                    match value.map(|v| OffsetValue::decode(&v)) {
                        Some(Ok(v)) => {
                            g.offsets.insert((topic, partition), v);
                        }
                        Some(Err(e)) => tracing::warn!(group = %group, "skipping an unreadable offset record: {e}"),
                        None => {
                            g.offsets.remove(&(topic, partition));
                        }
                    }
                }
                RecordKey::Group { group } => match value.map(|v| GroupValue::decode(&v)) {
                    Some(Ok(v)) => {
                        let offsets = groups.remove(&group).map(|g| g.offsets).unwrap_or_default();
                        let mut g = Group::restore(&group, &v, now);
                        g.offsets = offsets;
                        groups.insert(group, g);
                    }
                    Some(Err(e)) => tracing::warn!(group = %group, "skipping an unreadable group record: {e}"),
                    None => {
                        groups.remove(&group);
                    }
                },
            }
        }
        let restored = groups.len();
        for (id, g) in groups {
            if g.is_empty() && g.offsets.is_empty() && g.generation == 0 {
                continue;
            }
            self.insert_slot(&id, g);
        }
        self.loaded.store(true, Ordering::Release);
        tracing::info!(records = count, groups = restored, "group coordinator loaded");
    }

    fn insert_slot(&self, id: &str, group: Group) -> Arc<GroupSlot> {
        let slot = Arc::new(GroupSlot { group: Mutex::new(group), timer: Notify::new() });
        self.groups().insert(id.to_string(), slot.clone());
        self.spawn_timer(id.to_string(), &slot);
        slot
    }

    fn slot(&self, id: &str) -> Option<Arc<GroupSlot>> {
        self.groups().get(id).cloned()
    }

    fn slot_or_create(&self, id: &str) -> Arc<GroupSlot> {
        if let Some(s) = self.slot(id) {
            return s;
        }
        let mut groups = self.groups();
        if let Some(s) = groups.get(id) {
            return s.clone();
        }
        let slot = Arc::new(GroupSlot { group: Mutex::new(Group::new(id, wall_ms())), timer: Notify::new() });
        groups.insert(id.to_string(), slot.clone());
        drop(groups);
        self.spawn_timer(id.to_string(), &slot);
        slot
    }

    /// One task per group sleeps until the group's next deadline; any change to the group re-arms it.
    fn spawn_timer(&self, id: String, slot: &Arc<GroupSlot>) {
        let weak_slot = Arc::downgrade(slot);
        let coordinator = self.this.clone();
        tokio::spawn(async move {
            loop {
                let Some(slot) = weak_slot.upgrade() else { return };
                let notified = slot.timer.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let deadline = {
                    let g = slot.lock();
                    if g.state == GroupState::Dead {
                        return;
                    }
                    g.next_deadline()
                };
                match deadline {
                    Some(d) => tokio::select! {
                        _ = tokio::time::sleep_until(d) => {}
                        _ = &mut notified => {}
                    },
                    None => notified.await,
                }
                let Some(c) = coordinator.upgrade() else { return };
                let effects = {
                    let mut g = slot.lock();
                    if g.state == GroupState::Dead {
                        return;
                    }
                    g.on_timer(&c.cfg, Instant::now(), wall_ms())
                };
                c.apply(&id, effects).await;
            }
        });
    }

    async fn apply(&self, group: &str, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::PersistGroup(value) => {
                    let record = (RecordKey::Group { group: group.to_string() }.encode(), Some(value.encode()));
                    if let Err(err) = self.log.append(group, vec![record]).await {
                        tracing::warn!(group, error = ?err, "could not persist group metadata");
                    }
                }
            }
        }
    }

    pub async fn join(&self, group_id: &str, req: JoinRequest) -> JoinResult {
        if !self.is_loaded() {
            return JoinResult::error(ErrorCode::CoordinatorLoadInProgress, &req.member_id);
        }
        let member_id = req.member_id.clone();
        if !member_id.is_empty() && self.slot(group_id).is_none() {
            return JoinResult::error(ErrorCode::UnknownMemberId, &member_id);
        }
        let slot = self.slot_or_create(group_id);
        let outcome = slot.lock().join(req, &self.cfg, Instant::now(), wall_ms());
        slot.timer.notify_one();
        match outcome {
            JoinOutcome::Done(r) => r,
            JoinOutcome::Wait(rx) => rx.await.unwrap_or_else(|_| JoinResult::error(ErrorCode::RebalanceInProgress, &member_id)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn sync(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
    ) -> SyncResult {
        if !self.is_loaded() {
            return SyncResult::error(ErrorCode::CoordinatorLoadInProgress);
        }
        let Some(slot) = self.slot(group_id) else { return SyncResult::error(ErrorCode::UnknownMemberId) };
        let outcome = slot.lock().sync(member_id, instance_id, generation, protocol_type, protocol_name, assignments, Instant::now(), wall_ms());
        slot.timer.notify_one();
        let rx = match outcome {
            SyncOutcome::Done(r) => return r,
            SyncOutcome::Wait(rx) => rx,
            SyncOutcome::PersistThenComplete { generation, value, wait } => {
                let record = (RecordKey::Group { group: group_id.to_string() }.encode(), Some(value.encode()));
                let persisted = self.log.append(group_id, vec![record]).await;
                slot.lock().complete_sync(generation, persisted, &self.cfg, Instant::now(), wall_ms());
                slot.timer.notify_one();
                wait
            }
        };
        rx.await.unwrap_or_else(|_| SyncResult::error(ErrorCode::RebalanceInProgress))
    }

    pub fn heartbeat(&self, group_id: &str, member_id: &str, instance_id: Option<&str>, generation: i32) -> Option<ErrorCode> {
        if !self.is_loaded() {
            return Some(ErrorCode::CoordinatorLoadInProgress);
        }
        let Some(slot) = self.slot(group_id) else { return Some(ErrorCode::UnknownMemberId) };
        let r = slot.lock().heartbeat(member_id, instance_id, generation, Instant::now());
        slot.timer.notify_one();
        r
    }

    /// LeaveGroup: one answer per (member id, instance id).
    pub async fn leave(&self, group_id: &str, members: &[(String, Option<String>)]) -> Result<Vec<Option<ErrorCode>>, ErrorCode> {
        if !self.is_loaded() {
            return Err(ErrorCode::CoordinatorLoadInProgress);
        }
        let Some(slot) = self.slot(group_id) else { return Err(ErrorCode::UnknownMemberId) };
        let mut answers = Vec::with_capacity(members.len());
        let mut effects = Vec::new();
        {
            let mut g = slot.lock();
            for (member_id, instance_id) in members {
                let (err, effect) = g.leave(member_id, instance_id.as_deref(), &self.cfg, Instant::now(), wall_ms());
                answers.push(err);
                effects.extend(effect);
            }
        }
        slot.timer.notify_one();
        self.apply(group_id, effects).await;
        Ok(answers)
    }

    /// Commits offsets after validating the member and generation; returns once they are durable.
    pub async fn commit(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        offsets: Vec<(TopicPartition, OffsetValue)>,
    ) -> Result<(), ErrorCode> {
        if !self.is_loaded() {
            return Err(ErrorCode::CoordinatorLoadInProgress);
        }
        let slot = match self.slot(group_id) {
            Some(s) => s,
            // Group-less consumers (assign mode) commit with generation -1: the group is created for them.
            None if generation < 0 => self.slot_or_create(group_id),
            None => return Err(if member_id.is_empty() { ErrorCode::UnknownMemberId } else { ErrorCode::IllegalGeneration }),
        };
        slot.lock().validate_commit(member_id, instance_id, generation, Instant::now())?;
        slot.timer.notify_one();
        if offsets.is_empty() {
            return Ok(());
        }
        let records = offsets
            .iter()
            .map(|((t, p), v)| (RecordKey::Offset { group: group_id.to_string(), topic: t.clone(), partition: *p }.encode(), Some(v.encode())))
            .collect();
        self.log.append(group_id, records).await?;
        let mut g = slot.lock();
        for (tp, v) in offsets {
            g.offsets.insert(tp, v);
        }
        Ok(())
    }

    /// Committed offsets; `None` partitions means every partition the group has an offset for.
    pub fn fetch_offsets(&self, group_id: &str, partitions: Option<&[TopicPartition]>) -> Result<Vec<(TopicPartition, Option<OffsetValue>)>, ErrorCode> {
        if !self.is_loaded() {
            return Err(ErrorCode::CoordinatorLoadInProgress);
        }
        let slot = self.slot(group_id);
        let g = slot.as_ref().map(|s| s.lock());
        Ok(match partitions {
            Some(ps) => ps.iter().map(|tp| (tp.clone(), g.as_ref().and_then(|g| g.offsets.get(tp).cloned()))).collect(),
            None => {
                let mut all: Vec<_> = g.as_ref().map(|g| g.offsets.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect()).unwrap_or_default();
                all.sort_by(|a, b| a.0.cmp(&b.0));
                all
            }
        })
    }

    pub fn describe(&self, group_id: &str) -> Result<Option<GroupDescription>, ErrorCode> {
        if !self.is_loaded() {
            return Err(ErrorCode::CoordinatorLoadInProgress);
        }
        let Some(slot) = self.slot(group_id) else { return Ok(None) };
        let g = slot.lock();
        let protocol = g.protocol_name.clone().unwrap_or_default();
        Ok(Some(GroupDescription {
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: protocol.clone(),
            members: g
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: m.protocols.iter().find(|p| p.name == protocol).map(|p| p.metadata.clone()).unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }))
    }

    /// (group id, protocol type, state) of every live group.
    pub fn list(&self) -> Result<Vec<(String, String, GroupState)>, ErrorCode> {
        if !self.is_loaded() {
            return Err(ErrorCode::CoordinatorLoadInProgress);
        }
        let slots: Vec<(String, Arc<GroupSlot>)> = self.groups().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut out: Vec<_> = slots
            .into_iter()
            .filter_map(|(id, s)| {
                let g = s.lock();
                (g.state != GroupState::Dead).then(|| (id, g.protocol_type.clone().unwrap_or_default(), g.state))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Deletes empty groups with their offsets (tombstones in `__consumer_offsets`).
    pub async fn delete_group(&self, group_id: &str) -> Result<(), ErrorCode> {
        if !self.is_loaded() {
            return Err(ErrorCode::CoordinatorLoadInProgress);
        }
        let Some(slot) = self.slot(group_id) else { return Err(ErrorCode::GroupIdNotFound) };
        let tombstones = {
            let g = slot.lock();
            match g.state {
                GroupState::Dead => return Err(ErrorCode::GroupIdNotFound),
                GroupState::Empty => {}
                _ => return Err(ErrorCode::NonEmptyGroup),
            }
            let mut t: Vec<OffsetRecord> = g
                .offsets
                .keys()
                .map(|(topic, p)| (RecordKey::Offset { group: group_id.to_string(), topic: topic.clone(), partition: *p }.encode(), None))
                .collect();
            t.push((RecordKey::Group { group: group_id.to_string() }.encode(), None));
            t
        };
        self.log.append(group_id, tombstones).await?;
        slot.lock().mark_dead(wall_ms());
        slot.timer.notify_one();
        self.groups().remove(group_id);
        Ok(())
    }

    /// OffsetDelete: partitions of topics the group is not subscribed to (or of an empty group) lose their
    /// committed offset. Per-partition answer: None, or GROUP_SUBSCRIBED_TO_TOPIC.
    pub async fn delete_offsets(&self, group_id: &str, partitions: &[TopicPartition]) -> Result<Vec<Option<ErrorCode>>, ErrorCode> {
        if !self.is_loaded() {
            return Err(ErrorCode::CoordinatorLoadInProgress);
        }
        let Some(slot) = self.slot(group_id) else { return Err(ErrorCode::GroupIdNotFound) };
        let (answers, tombstones) = {
            let g = slot.lock();
            if g.state == GroupState::Dead {
                return Err(ErrorCode::GroupIdNotFound);
            }
            if g.state != GroupState::Empty && g.protocol_type.as_deref() != Some("consumer") {
                return Err(ErrorCode::NonEmptyGroup);
            }
            let subscribed = g.subscribed_topics().unwrap_or_default();
            let mut answers = Vec::new();
            let mut tombstones = Vec::new();
            for (t, p) in partitions {
                if subscribed.contains(t) {
                    answers.push(Some(ErrorCode::GroupSubscribedToTopic));
                } else {
                    answers.push(None);
                    if g.offsets.contains_key(&(t.clone(), *p)) {
                        tombstones.push((RecordKey::Offset { group: group_id.to_string(), topic: t.clone(), partition: *p }.encode(), None));
                    }
                }
            }
            (answers, tombstones)
        };
        if !tombstones.is_empty() {
            self.log.append(group_id, tombstones).await?;
            let mut g = slot.lock();
            for ((t, p), a) in partitions.iter().zip(&answers) {
                if a.is_none() {
                    g.offsets.remove(&(t.clone(), *p));
                }
            }
        }
        Ok(answers)
    }

    /// `offsets.retention.minutes`: an empty group's offsets expire `retention` after it became empty (or after
    /// the commit, whichever is later); a group left with nothing is removed.
    pub async fn expire_offsets(&self, retention: Duration) {
        let now = wall_ms();
        let horizon = now - retention.as_millis() as i64;
        let slots: Vec<(String, Arc<GroupSlot>)> = self.groups().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (id, slot) in slots {
            let (expired, tombstones, remove_group) = {
                let g = slot.lock();
                if g.state != GroupState::Empty {
                    continue;
                }
                let expired: Vec<TopicPartition> = g
                    .offsets
                    .iter()
                    .filter(|(_, v)| v.commit_timestamp.max(g.state_since_ms) <= horizon)
                    .map(|(k, _)| k.clone())
                    .collect();
                let remove_group = expired.len() == g.offsets.len() && g.state_since_ms <= horizon;
                let mut tombstones: Vec<OffsetRecord> = expired
                    .iter()
                    .map(|(t, p)| (RecordKey::Offset { group: id.clone(), topic: t.clone(), partition: *p }.encode(), None))
                    .collect();
                if remove_group {
                    tombstones.push((RecordKey::Group { group: id.clone() }.encode(), None));
                }
                (expired, tombstones, remove_group)
            };
            if tombstones.is_empty() {
                continue;
            }
            if self.log.append(&id, tombstones).await.is_err() {
                continue;
            }
            let mut g = slot.lock();
            for tp in &expired {
                g.offsets.remove(tp);
            }
            tracing::info!(group = %id, offsets = expired.len(), "expired committed offsets");
            if remove_group && g.state == GroupState::Empty && g.members.is_empty() {
                g.mark_dead(now);
                drop(g);
                slot.timer.notify_one();
                self.groups().remove(&id);
            }
        }
    }
}
