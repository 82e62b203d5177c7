//! One consumer group under Kafka's classic rebalance protocol: members, generations, the join and sync
//! barriers, session expiry and static membership. Pure logic: time comes in as `now`, answers to waiting
//! members leave through oneshot channels, and persistence is asked of the caller as an [`Effect`].

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::records::{GroupValue, MemberValue, OffsetValue};
use crate::protocol::ErrorCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

#[derive(Debug, Clone)]
pub struct GroupConfig {
    pub min_session_timeout: Duration,
    pub max_session_timeout: Duration,
    pub initial_rebalance_delay: Duration,
    pub max_size: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout: Duration::from_millis(6000),
            max_session_timeout: Duration::from_millis(1_800_000),
            initial_rebalance_delay: Duration::from_millis(3000),
            max_size: i32::MAX as usize,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

#[derive(Debug, Clone, Default)]
pub struct JoinMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub metadata: Bytes,
}

/// What a JoinGroup caller receives.
#[derive(Debug, Clone)]
pub struct JoinResult {
    /// None on success.
    pub error: Option<ErrorCode>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Filled for the leader only: every member with its metadata for the chosen protocol.
    pub members: Vec<JoinMember>,
    pub skip_assignment: bool,
}

impl JoinResult {
    pub fn error(error: ErrorCode, member_id: &str) -> Self {
        JoinResult {
            error: Some(error),
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            members: Vec::new(),
            skip_assignment: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SyncResult {
    /// None on success.
    pub error: Option<ErrorCode>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(error: ErrorCode) -> Self {
        SyncResult { error: Some(error), protocol_type: None, protocol_name: None, assignment: Bytes::new() }
    }
}

pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<Protocol>,
    pub assignment: Bytes,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
    heartbeat_deadline: Instant,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols.iter().find(|p| p.name == protocol).map(|p| p.metadata.clone()).unwrap_or_default()
    }

    fn same_protocols(&self, other: &[Protocol]) -> bool {
        self.protocols.len() == other.len()
            && self.protocols.iter().zip(other).all(|(a, b)| a.name == b.name && a.metadata == b.metadata)
    }
}

/// A JoinGroup request as the state machine sees it.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    /// JoinGroup v4+: a new dynamic member first gets an id with MEMBER_ID_REQUIRED and must join again.
    pub require_known_member_id: bool,
}

pub enum JoinOutcome {
    Done(JoinResult),
    Wait(oneshot::Receiver<JoinResult>),
}

pub enum SyncOutcome {
    Done(SyncResult),
    Wait(oneshot::Receiver<SyncResult>),
    /// The leader's plan is in: persist `value`, then call [`Group::complete_sync`] with `generation`.
    PersistThenComplete { generation: i32, value: GroupValue, wait: oneshot::Receiver<SyncResult> },
}

/// Work the caller must do after a state change.
#[derive(Debug)]
pub enum Effect {
    /// Write the group's metadata record (on becoming Empty: so a restart knows).
    PersistGroup(GroupValue),
}

pub struct Group {
    pub id: String,
    pub state: GroupState,
    /// Wall-clock ms when the current state began (Kafka's currentStateTimestamp, used for offset expiry).
    pub state_since_ms: i64,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// Ids handed out with MEMBER_ID_REQUIRED, valid until the deadline.
    pending: HashMap<String, Instant>,
    /// group.instance.id -> member id.
    statics: HashMap<String, String>,
    rebalance_deadline: Option<Instant>,
    /// First rebalance of an empty group: waits `group.initial.rebalance.delay.ms`, extended while members keep
    /// arriving, up to the rebalance timeout.
    initial_delay_until: Option<(Instant, Instant)>,
    pub offsets: HashMap<(String, i32), OffsetValue>,
}

fn new_member_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

impl Group {
    pub fn new(id: &str, now_ms: i64) -> Self {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            state_since_ms: now_ms,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
            statics: HashMap::new(),
            rebalance_deadline: None,
            initial_delay_until: None,
            offsets: HashMap::new(),
        }
    }

    /// Restores a group from its persisted record (members are given a fresh session to heartbeat in).
    pub fn restore(id: &str, value: &GroupValue, now: Instant) -> Self {
        let mut g = Group::new(id, value.current_state_timestamp);
        g.generation = value.generation;
        g.protocol_type = Some(value.protocol_type.clone()).filter(|s| !s.is_empty());
        g.protocol_name = value.protocol.clone();
        g.leader = value.leader.clone();
        for m in &value.members {
            let session = Duration::from_millis(m.session_timeout_ms.max(0) as u64);
            let protocols = match &value.protocol {
                Some(p) => vec![Protocol { name: p.clone(), metadata: m.subscription.clone() }],
                None => Vec::new(),
            };
            if let Some(i) = &m.group_instance_id {
                g.statics.insert(i.clone(), m.member_id.clone());
            }
            g.members.insert(
                m.member_id.clone(),
                Member {
                    id: m.member_id.clone(),
                    instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout: session,
                    rebalance_timeout: Duration::from_millis(m.rebalance_timeout_ms.max(0) as u64),
                    protocols,
                    assignment: m.assignment.clone(),
                    join_waiter: None,
                    sync_waiter: None,
                    heartbeat_deadline: now + session,
                },
            );
        }
        g.state = if g.members.is_empty() { GroupState::Empty } else { GroupState::Stable };
        g
    }

    pub fn to_value(&self, now_ms: i64) -> GroupValue {
        let protocol = self.protocol_name.clone();
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: protocol.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: now_ms,
            members: self
                .members
                .values()
                .map(|m| MemberValue {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout.as_millis() as i32,
                    session_timeout_ms: m.session_timeout.as_millis() as i32,
                    subscription: protocol.as_deref().map(|p| m.metadata_for(p)).unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    fn set_state(&mut self, state: GroupState, now_ms: i64) {
        if self.state != state {
            self.state = state;
            self.state_since_ms = now_ms;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The next moment `on_timer` has work to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut d: Option<Instant> = None;
        let mut consider = |t: Instant| d = Some(d.map_or(t, |x| x.min(t)));
        if let Some(t) = self.rebalance_deadline {
            consider(t);
        }
        if let Some((t, _)) = self.initial_delay_until {
            consider(t);
        }
        // Members parked in a join or sync barrier are answered by the barrier, not expired (see `on_timer`);
        // counting their passed deadlines would wake the timer in a loop.
        for m in self.members.values().filter(|m| m.join_waiter.is_none() && m.sync_waiter.is_none()) {
            consider(m.heartbeat_deadline);
        }
        for t in self.pending.values() {
            consider(*t);
        }
        d
    }

    /// Candidate protocols: those every member supports.
    fn supports(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if protocols.is_empty() || protocol_type.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|p| self.members.values().all(|m| m.protocols.iter().any(|q| q.name == p.name)))
    }

    pub fn join(&mut self, req: JoinRequest, cfg: &GroupConfig, now: Instant, now_ms: i64) -> JoinOutcome {
        let done = |e: ErrorCode| JoinOutcome::Done(JoinResult::error(e, &req.member_id));
        if self.state == GroupState::Dead {
            return done(ErrorCode::CoordinatorNotAvailable);
        }
        if req.session_timeout < cfg.min_session_timeout || req.session_timeout > cfg.max_session_timeout {
            return done(ErrorCode::InvalidSessionTimeout);
        }
        if !self.supports(&req.protocol_type, &req.protocols) {
            return done(ErrorCode::InconsistentGroupProtocol);
        }
        if req.member_id.is_empty() {
            match req.instance_id.clone() {
                Some(instance) => self.join_static_unknown(req, &instance, cfg, now, now_ms),
                None => {
                    if self.members.len() + self.pending.len() >= cfg.max_size {
                        return done(ErrorCode::GroupMaxSizeReached);
                    }
                    let id = new_member_id(&req.client_id);
                    if req.require_known_member_id {
                        self.pending.insert(id.clone(), now + req.session_timeout);
                        return JoinOutcome::Done(JoinResult::error(ErrorCode::MemberIdRequired, &id));
                    }
                    self.add_member_and_rebalance(id, req, cfg, now, now_ms)
                }
            }
        } else {
            self.join_known(req, cfg, now, now_ms)
        }
    }

    fn join_static_unknown(&mut self, req: JoinRequest, instance: &str, cfg: &GroupConfig, now: Instant, now_ms: i64) -> JoinOutcome {
        let Some(old_id) = self.statics.get(instance).cloned() else {
            if self.members.len() >= cfg.max_size {
                return JoinOutcome::Done(JoinResult::error(ErrorCode::GroupMaxSizeReached, ""));
            }
            let id = new_member_id(instance);
            return self.add_member_and_rebalance(id, req, cfg, now, now_ms);
        };
        // A restarted static member takes over its old identity: the old member id is fenced, the partitions stay.
        let new_id = new_member_id(instance);
        let mut member = self.members.remove(&old_id).expect("static member is a member");
        if let Some(w) = member.join_waiter.take() {
            let _ = w.send(JoinResult::error(ErrorCode::FencedInstanceId, &old_id));
        }
        if let Some(w) = member.sync_waiter.take() {
            let _ = w.send(SyncResult::error(ErrorCode::FencedInstanceId));
        }
        let unchanged = member.same_protocols(&req.protocols);
        member.id = new_id.clone();
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        member.protocols = req.protocols.clone();
        member.heartbeat_deadline = now + req.session_timeout;
        let was_leader = self.leader.as_deref() == Some(old_id.as_str());
        if was_leader {
            self.leader = Some(new_id.clone());
        }
        self.statics.insert(instance.to_string(), new_id.clone());
        self.members.insert(new_id.clone(), member);
        match self.state {
            GroupState::Stable if unchanged => {
                // Same subscription: no rebalance; the member gets its old assignment back through SyncGroup.
                // A returning leader is told to skip assignment (KIP-814) but still sees the members.
                JoinOutcome::Done(self.join_result_for(&new_id, was_leader))
            }
            GroupState::PreparingRebalance | GroupState::Empty => self.await_join(&new_id, cfg, now, now_ms),
            _ => {
                self.prepare_rebalance(cfg, now, now_ms);
                self.await_join(&new_id, cfg, now, now_ms)
            }
        }
    }

    fn join_known(&mut self, req: JoinRequest, cfg: &GroupConfig, now: Instant, now_ms: i64) -> JoinOutcome {
        let id = req.member_id.clone();
        if self.pending.remove(&id).is_some() {
            return self.add_member_and_rebalance(id, req, cfg, now, now_ms);
        }
        if let Some(e) = self.fenced(&id, req.instance_id.as_deref()) {
            return JoinOutcome::Done(JoinResult::error(e, &id));
        }
        if !self.members.contains_key(&id) {
            return JoinOutcome::Done(JoinResult::error(ErrorCode::UnknownMemberId, &id));
        }
        let member = self.members.get_mut(&id).expect("checked");
        let unchanged = member.same_protocols(&req.protocols);
        member.protocols = req.protocols;
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        member.heartbeat_deadline = now + req.session_timeout;
        let is_leader = self.leader.as_deref() == Some(id.as_str());
        match self.state {
            GroupState::PreparingRebalance => self.await_join(&id, cfg, now, now_ms),
            GroupState::CompletingRebalance if unchanged => {
                // A retried join after the rebalance finished: the same answer again.
                JoinOutcome::Done(self.join_result_for(&id, false))
            }
            GroupState::Stable if unchanged && !is_leader => JoinOutcome::Done(self.join_result_for(&id, false)),
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.prepare_rebalance(cfg, now, now_ms);
                self.await_join(&id, cfg, now, now_ms)
            }
            GroupState::Empty | GroupState::Dead => JoinOutcome::Done(JoinResult::error(ErrorCode::UnknownMemberId, &id)),
        }
    }

    fn add_member_and_rebalance(&mut self, id: String, req: JoinRequest, cfg: &GroupConfig, now: Instant, now_ms: i64) -> JoinOutcome {
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        if let Some(i) = &req.instance_id {
            self.statics.insert(i.clone(), id.clone());
        }
        self.members.insert(
            id.clone(),
            Member {
                id: id.clone(),
                instance_id: req.instance_id.clone(),
                client_id: req.client_id,
                client_host: req.client_host,
                session_timeout: req.session_timeout,
                rebalance_timeout: req.rebalance_timeout,
                protocols: req.protocols,
                assignment: Bytes::new(),
                join_waiter: None,
                sync_waiter: None,
                heartbeat_deadline: now + req.session_timeout,
            },
        );
        if self.state == GroupState::PreparingRebalance {
            if let Some((until, cap)) = self.initial_delay_until {
                // New arrivals during the initial delay extend it, bounded by the rebalance timeout.
                self.initial_delay_until = Some(((now + cfg.initial_rebalance_delay).min(cap).max(until), cap));
            }
        } else {
            self.prepare_rebalance(cfg, now, now_ms);
        }
        self.await_join(&id, cfg, now, now_ms)
    }

    fn await_join(&mut self, id: &str, cfg: &GroupConfig, now: Instant, now_ms: i64) -> JoinOutcome {
        let (tx, rx) = oneshot::channel();
        if let Some(m) = self.members.get_mut(id) {
            if let Some(old) = m.join_waiter.replace(tx) {
                let _ = old.send(JoinResult::error(ErrorCode::UnknownMemberId, id));
            }
        }
        let _ = self.try_complete_join(cfg, now, now_ms, false);
        JoinOutcome::Wait(rx)
    }

    fn prepare_rebalance(&mut self, cfg: &GroupConfig, now: Instant, now_ms: i64) {
        if self.state == GroupState::CompletingRebalance {
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
                if let Some(w) = m.sync_waiter.take() {
                    let _ = w.send(SyncResult::error(ErrorCode::RebalanceInProgress));
                }
            }
        }
        let max_rebalance = self.members.values().map(|m| m.rebalance_timeout).max().unwrap_or_default();
        if self.state == GroupState::Empty && !cfg.initial_rebalance_delay.is_zero() {
            let cap = now + max_rebalance.max(cfg.initial_rebalance_delay);
            self.initial_delay_until = Some(((now + cfg.initial_rebalance_delay).min(cap), cap));
        } else {
            self.initial_delay_until = None;
        }
        self.rebalance_deadline = Some(now + max_rebalance);
        self.set_state(GroupState::PreparingRebalance, now_ms);
    }

    fn join_result_for(&self, id: &str, skip_assignment: bool) -> JoinResult {
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = if leader == id {
            self.members
                .values()
                .map(|m| JoinMember { member_id: m.id.clone(), instance_id: m.instance_id.clone(), metadata: m.metadata_for(&protocol) })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: None,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader,
            member_id: id.to_string(),
            members,
            skip_assignment,
        }
    }

    /// Completes the join phase when every member has rejoined (or `force` at the deadline). Returns an effect
    /// when the group became Empty.
    fn try_complete_join(&mut self, cfg: &GroupConfig, now: Instant, now_ms: i64, force: bool) -> Option<Effect> {
        if self.state != GroupState::PreparingRebalance {
            return None;
        }
        if let Some((until, _)) = self.initial_delay_until {
            if now < until {
                return None;
            }
            self.initial_delay_until = None;
        }
        let all_joined = self.members.values().all(|m| m.join_waiter.is_some()) && self.pending.is_empty();
        if !all_joined && !force {
            return None;
        }
        // Dynamic members that did not rejoin in time are out; static ones keep their place (Kafka's rule).
        let dropped: Vec<String> = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in dropped {
            self.members.remove(&id);
        }
        self.pending.clear();
        self.rebalance_deadline = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.leader = None;
            self.set_state(GroupState::Empty, now_ms);
            return Some(Effect::PersistGroup(self.to_value(now_ms)));
        }
        self.protocol_name = self.select_protocol();
        // Keep the leader if it rejoined; otherwise the first member that did.
        if self.leader.as_ref().is_none_or(|l| self.members.get(l).is_none_or(|m| m.join_waiter.is_none())) {
            self.leader = self
                .members
                .values()
                .find(|m| m.join_waiter.is_some())
                .or_else(|| self.members.values().next())
                .map(|m| m.id.clone());
        }
        self.set_state(GroupState::CompletingRebalance, now_ms);
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let result = self.join_result_for(&id, false);
            let m = self.members.get_mut(&id).expect("member");
            m.heartbeat_deadline = now + m.session_timeout;
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(result);
            }
        }
        let _ = cfg;
        None
    }

    /// The protocol every member supports that most members list first (Kafka's vote).
    fn select_protocol(&self) -> Option<String> {
        let candidates: Vec<&str> = self
            .members
            .values()
            .next()?
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| self.members.values().all(|m| m.protocols.iter().any(|p| p.name == *name)))
            .collect();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(choice) = m.protocols.iter().find(|p| candidates.contains(&p.name.as_str())) {
                *votes.entry(choice.name.as_str()).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        // Ties go to the first candidate in the first member's preference order.
        candidates.into_iter().find(|c| votes.get(c) == Some(&best)).map(str::to_string)
    }

    fn fenced(&self, member_id: &str, instance_id: Option<&str>) -> Option<ErrorCode> {
        let instance = instance_id?;
        match self.statics.get(instance) {
            Some(current) if current != member_id => Some(ErrorCode::FencedInstanceId),
            None => Some(ErrorCode::UnknownMemberId),
            _ => None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
        now_ms: i64,
    ) -> SyncOutcome {
        let done = |e| SyncOutcome::Done(SyncResult::error(e));
        if self.state == GroupState::Dead {
            return done(ErrorCode::CoordinatorNotAvailable);
        }
        if let Some(e) = self.fenced(member_id, instance_id) {
            return done(e);
        }
        if !self.members.contains_key(member_id) {
            return done(ErrorCode::UnknownMemberId);
        }
        if generation != self.generation {
            return done(ErrorCode::IllegalGeneration);
        }
        if protocol_type.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || protocol_name.is_some_and(|n| Some(n) != self.protocol_name.as_deref())
        {
            return done(ErrorCode::InconsistentGroupProtocol);
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => done(ErrorCode::UnknownMemberId),
            GroupState::PreparingRebalance => done(ErrorCode::RebalanceInProgress),
            GroupState::Stable => {
                let m = self.members.get_mut(member_id).expect("checked");
                m.heartbeat_deadline = now + m.session_timeout;
                SyncOutcome::Done(self.sync_result(member_id))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                let m = self.members.get_mut(member_id).expect("checked");
                m.heartbeat_deadline = now + m.session_timeout;
                if let Some(old) = m.sync_waiter.replace(tx) {
                    let _ = old.send(SyncResult::error(ErrorCode::RebalanceInProgress));
                }
                if self.leader.as_deref() != Some(member_id) {
                    return SyncOutcome::Wait(rx);
                }
                let mut plan: HashMap<String, Bytes> = assignments.into_iter().collect();
                for m in self.members.values_mut() {
                    m.assignment = plan.remove(&m.id).unwrap_or_default();
                }
                SyncOutcome::PersistThenComplete { generation: self.generation, value: self.to_value(now_ms), wait: rx }
            }
        }
    }

    /// After the leader's plan was persisted (or failed to be): answer every member waiting in SyncGroup.
    pub fn complete_sync(&mut self, generation: i32, persisted: Result<(), ErrorCode>, cfg: &GroupConfig, now: Instant, now_ms: i64) {
        if self.state != GroupState::CompletingRebalance || self.generation != generation {
            return;
        }
        match persisted {
            Ok(()) => {
                self.set_state(GroupState::Stable, now_ms);
                let ids: Vec<String> = self.members.keys().cloned().collect();
                for id in ids {
                    let result = self.sync_result(&id);
                    if let Some(w) = self.members.get_mut(&id).and_then(|m| m.sync_waiter.take()) {
                        let _ = w.send(result);
                    }
                }
            }
            Err(e) => {
                for m in self.members.values_mut() {
                    m.assignment = Bytes::new();
                    if let Some(w) = m.sync_waiter.take() {
                        let _ = w.send(SyncResult::error(e));
                    }
                }
                self.prepare_rebalance(cfg, now, now_ms);
            }
        }
    }

    fn sync_result(&self, id: &str) -> SyncResult {
        SyncResult {
            error: None,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment: self.members.get(id).map(|m| m.assignment.clone()).unwrap_or_default(),
        }
    }

    pub fn heartbeat(&mut self, member_id: &str, instance_id: Option<&str>, generation: i32, now: Instant) -> Option<ErrorCode> {
        if self.state == GroupState::Dead {
            return Some(ErrorCode::CoordinatorNotAvailable);
        }
        // Kafka checks fencing first: a replaced static member learns it was fenced, not that it is unknown.
        if let Some(e) = self.fenced(member_id, instance_id) {
            return Some(e);
        }
        if self.state == GroupState::Empty || !self.members.contains_key(member_id) {
            return Some(ErrorCode::UnknownMemberId);
        }
        let m = self.members.get_mut(member_id).expect("checked");
        m.heartbeat_deadline = now + m.session_timeout;
        match self.state {
            GroupState::PreparingRebalance => Some(ErrorCode::RebalanceInProgress),
            _ if generation != self.generation => Some(ErrorCode::IllegalGeneration),
            _ => None,
        }
    }

    /// LeaveGroup for one member (by member id, or by instance id for static members).
    pub fn leave(&mut self, member_id: &str, instance_id: Option<&str>, cfg: &GroupConfig, now: Instant, now_ms: i64) -> (Option<ErrorCode>, Option<Effect>) {
        if self.state == GroupState::Dead {
            return (Some(ErrorCode::CoordinatorNotAvailable), None);
        }
        let id = match instance_id {
            Some(instance) => match self.statics.get(instance) {
                None => return (Some(ErrorCode::UnknownMemberId), None),
                Some(current) if !member_id.is_empty() && current != member_id => return (Some(ErrorCode::FencedInstanceId), None),
                Some(current) => current.clone(),
            },
            None => member_id.to_string(),
        };
        if self.pending.remove(&id).is_some() {
            let effect = self.try_complete_join(cfg, now, now_ms, false);
            return (None, effect);
        }
        if !self.members.contains_key(&id) {
            return (Some(ErrorCode::UnknownMemberId), None);
        }
        (None, self.remove_member(&id, cfg, now, now_ms))
    }

    fn remove_member(&mut self, id: &str, cfg: &GroupConfig, now: Instant, now_ms: i64) -> Option<Effect> {
        let mut m = self.members.remove(id)?;
        if let Some(i) = &m.instance_id {
            if self.statics.get(i).map(String::as_str) == Some(id) {
                self.statics.remove(i);
            }
        }
        if let Some(w) = m.join_waiter.take() {
            let _ = w.send(JoinResult::error(ErrorCode::UnknownMemberId, id));
        }
        if let Some(w) = m.sync_waiter.take() {
            let _ = w.send(SyncResult::error(ErrorCode::UnknownMemberId));
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(cfg, now, now_ms);
                self.try_complete_join(cfg, now, now_ms, false)
            }
            GroupState::PreparingRebalance => self.try_complete_join(cfg, now, now_ms, false),
            _ => None,
        }
    }

    /// Session expiry, pending-member expiry, and the rebalance deadline.
    pub fn on_timer(&mut self, cfg: &GroupConfig, now: Instant, now_ms: i64) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.pending.retain(|_, deadline| *deadline > now);
        let expired: Vec<String> = self
            .members
            .values()
            // A member waiting in a join or sync barrier is answered by the barrier, not expired under it.
            .filter(|m| m.heartbeat_deadline <= now && m.join_waiter.is_none() && m.sync_waiter.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "member session expired");
            effects.extend(self.remove_member(&id, cfg, now, now_ms));
        }
        let force = self.rebalance_deadline.is_some_and(|d| d <= now);
        effects.extend(self.try_complete_join(cfg, now, now_ms, force));
        effects
    }

    /// Offset commits are accepted from group-less consumers (generation < 0) while the group is empty, and from
    /// members of the current generation unless the group is completing a rebalance — as Kafka does.
    pub fn validate_commit(&mut self, member_id: &str, instance_id: Option<&str>, generation: i32, now: Instant) -> Result<(), ErrorCode> {
        match self.state {
            GroupState::Dead => Err(ErrorCode::CoordinatorNotAvailable),
            _ if generation < 0 && self.members.is_empty() => Ok(()),
            GroupState::Empty => Err(if generation < 0 { ErrorCode::UnknownMemberId } else { ErrorCode::IllegalGeneration }),
            GroupState::CompletingRebalance => Err(ErrorCode::RebalanceInProgress),
            _ => {
                if let Some(e) = self.fenced(member_id, instance_id) {
                    return Err(e);
                }
                if !self.members.contains_key(member_id) {
                    return Err(ErrorCode::UnknownMemberId);
                }
                if generation != self.generation {
                    return Err(ErrorCode::IllegalGeneration);
                }
                let m = self.members.get_mut(member_id).expect("checked");
                m.heartbeat_deadline = now + m.session_timeout;
                Ok(())
            }
        }
    }

    /// The topics the members subscribe to, when the group uses the consumer protocol (for OffsetDelete).
    pub fn subscribed_topics(&self) -> Option<std::collections::HashSet<String>> {
        use kafka_protocol::messages::ConsumerProtocolSubscription;
        use kafka_protocol::protocol::Decodable;
        if self.protocol_type.as_deref() != Some("consumer") || self.state == GroupState::Empty {
            return None;
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = std::collections::HashSet::new();
        for m in self.members.values() {
            let mut meta = m.metadata_for(protocol);
            if meta.len() < 2 {
                continue;
            }
            let version = i16::from_be_bytes([meta[0], meta[1]]);
            let _ = bytes::Buf::get_i16(&mut meta);
            if let Ok(sub) = ConsumerProtocolSubscription::decode(&mut meta, version.clamp(0, 3)) {
                topics.extend(sub.topics.into_iter().map(|t| t.to_string()));
            }
        }
        Some(topics)
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    pub fn mark_dead(&mut self, now_ms: i64) {
        for m in self.members.values_mut() {
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(JoinResult::error(ErrorCode::CoordinatorNotAvailable, &m.id));
            }
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(SyncResult::error(ErrorCode::CoordinatorNotAvailable));
            }
        }
        self.set_state(GroupState::Dead, now_ms);
    }
}
