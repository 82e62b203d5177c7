//! The active controller as a pure state machine: given the metadata image and a request (register a broker,
//! heartbeat, create / delete topics, add partitions, alter configs, AlterPartition, allocate producer ids, elect
//! leaders), it returns the metadata records to append and the answer. It performs no I/O: the quorum driver
//! appends the records (and applies them to the image) before the answer is sent, so an answer is never given for
//! a decision that is not durable. Time is passed in, never read, so session expiry is tested on synthetic time.
//!
//! The rules are Kafka's (`QuorumController`, `ReplicationControlManager`, `ClusterControlManager`,
//! `BrokerHeartbeatManager`, `PartitionChangeBuilder`): a new broker registers fenced and is unfenced once its
//! replay has caught up to its registration; a broker without a heartbeat for `broker.session.timeout.ms` is
//! fenced, which removes it from every ISR and moves its leaderships; a broker asking to shut down is put in
//! controlled shutdown (same ISR and leadership moves) and told it may stop once the other brokers have replayed
//! those moves; the leader is the first live ISR member in replica order, an unclean election only when
//! `unclean.leader.election.enable`.
//!
//! Within one request the records are applied to a working copy of the image as they are generated (a
//! [`Batch`]), so that later decisions in the same request see earlier ones (two brokers fenced at once, a topic
//! named twice in one CreateTopics).

mod partition_change;
mod placement;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use uuid::Uuid;

pub use partition_change::Election;
use partition_change::PartitionChange;

use super::cluster::{IsrProposal, PartitionState, NO_LEADER};
use super::image::{config_record, partition_record, MetadataImage, TopicMeta};
use super::records::{self, MetadataRecord, RESOURCE_TOPIC};
use crate::config::{self, Props};
use crate::protocol::ErrorCode;
use crate::storage::LogConfig;

/// An error answer: Kafka's code and a message naming what was wrong.
pub type ApiError = (ErrorCode, String);

/// What a request decided: the records to make durable, then the answer to give.
#[derive(Debug)]
pub struct ControllerResult<T> {
    pub records: Vec<MetadataRecord>,
    pub response: T,
}

#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// `broker.session.timeout.ms`
    pub session_timeout: Duration,
    /// `unclean.leader.election.enable` (the cluster default; topics may override it).
    pub unclean_leader_election: bool,
    /// `delete.topic.enable`
    pub delete_topic_enable: bool,
    /// `num.partitions`, `default.replication.factor`
    pub default_partitions: i32,
    pub default_replication_factor: i16,
    /// The broker's log defaults, against which topic configs are validated.
    pub log_defaults: LogConfig,
}

/// Producer ids are handed to brokers in blocks of this size (Kafka's `ProducerIdManager` block).
pub const PRODUCER_ID_BLOCK_SIZE: i32 = 1000;

const MAX_TOPIC_NAME: usize = 249;

pub fn validate_topic_name(name: &str) -> Result<(), ApiError> {
    let bad = |why: &str| Err((ErrorCode::InvalidTopicException, format!("topic name '{name}' is invalid: {why}")));
    if name.is_empty() {
        return bad("empty");
    }
    if name == "." || name == ".." {
        return bad("'.' and '..' are reserved");
    }
    if name.len() > MAX_TOPIC_NAME {
        return bad("longer than 249 characters");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-') {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

/// The records of one request, applied as they are generated to a working copy of the image.
pub struct Batch<'a> {
    base: &'a MetadataImage,
    work: Option<MetadataImage>,
    records: Vec<MetadataRecord>,
}

impl<'a> Batch<'a> {
    pub fn new(base: &'a MetadataImage) -> Self {
        Batch { base, work: None, records: Vec::new() }
    }

    pub fn image(&self) -> &MetadataImage {
        self.work.as_ref().unwrap_or(self.base)
    }

    /// The offset the next record will have once appended.
    pub fn next_offset(&self) -> i64 {
        self.base.offset + 1 + self.records.len() as i64
    }

    pub fn push(&mut self, record: impl Into<MetadataRecord>) {
        let record = record.into();
        let offset = self.next_offset();
        self.work.get_or_insert_with(|| self.base.clone()).apply(offset, &record);
        self.records.push(record);
    }

    pub fn finish<T>(self, response: T) -> ControllerResult<T> {
        ControllerResult { records: self.records, response }
    }
}

/// A broker's registration request (Kafka's BrokerRegistration, what the controller uses of it).
#[derive(Debug, Clone)]
pub struct RegisterBroker {
    pub broker_id: i32,
    pub incarnation_id: Uuid,
    pub endpoints: Vec<records::BrokerEndpoint>,
    pub rack: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    pub broker_id: i32,
    pub broker_epoch: i64,
    /// The offset of the last metadata record the broker has replayed.
    pub metadata_offset: i64,
    pub want_fence: bool,
    pub want_shutdown: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatReply {
    pub is_caught_up: bool,
    pub is_fenced: bool,
    pub should_shut_down: bool,
}

/// A topic to create (Kafka's CreatableTopic).
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    /// -1: `num.partitions`. Ignored when `assignments` is given.
    pub partitions: i32,
    /// -1: `default.replication.factor`.
    pub replication_factor: i16,
    /// Explicit replica lists, one per partition (empty: the controller places them).
    pub assignments: Vec<Vec<i32>>,
    pub configs: Props,
}

/// What the active controller keeps besides the image: heartbeat sessions (soft state, rebuilt as "fresh" by a
/// newly elected controller, as Kafka's does).
struct Session {
    last_heartbeat: Instant,
    metadata_offset: i64,
    /// Set when the broker entered controlled shutdown: the offset every other broker must have replayed.
    shutdown_offset: Option<i64>,
}

pub struct Controller {
    pub config: ControllerConfig,
    sessions: HashMap<i32, Session>,
}

fn stale_epoch(img: &MetadataImage, broker_id: i32, epoch: i64) -> Option<ApiError> {
    match img.brokers.get(&broker_id) {
        None => Some((ErrorCode::BrokerIdNotRegistered, format!("broker {broker_id} is not registered"))),
        Some(b) if b.epoch != epoch => Some((
            ErrorCode::StaleBrokerEpoch,
            format!("broker {broker_id}: epoch {epoch} is stale, the registration's is {}", b.epoch),
        )),
        Some(_) => None,
    }
}

impl Controller {
    pub fn new(config: ControllerConfig) -> Self {
        Controller { config, sessions: HashMap::new() }
    }

    fn unclean_for(&self, img: &MetadataImage, topic: &TopicMeta) -> bool {
        match topic.configs.get("unclean.leader.election.enable") {
            Some(v) => v.eq_ignore_ascii_case("true"),
            None => img
                .broker_configs
                .get("")
                .and_then(|c| c.get("unclean.leader.election.enable"))
                .map_or(self.config.unclean_leader_election, |v| v.eq_ignore_ascii_case("true")),
        }
    }

    /// Moves leadership and ISR membership off `remove` (fenced, shutting down, restarted) and elects leaders for
    /// offline partitions `add` may now lead (unfenced): Kafka's `generateLeaderAndIsrUpdates`.
    fn leader_and_isr_updates(&self, batch: &mut Batch<'_>, remove: Option<i32>, add: Option<i32>) {
        let img = batch.image();
        let mut changes = Vec::new();
        for t in img.topics.values() {
            let election = if self.unclean_for(img, t) { Election::Unclean } else { Election::Online };
            for (i, p) in t.partitions.iter().enumerate() {
                let concerned = match (remove, add) {
                    (Some(r), _) => p.isr.contains(&r) || p.leader == r,
                    (None, Some(a)) => p.leader == NO_LEADER && p.replicas.contains(&a),
                    (None, None) => false,
                };
                if !concerned {
                    continue;
                }
                let target_isr: Vec<i32> = p.isr.iter().copied().filter(|&r| Some(r) != remove).collect();
                let acceptable = |r: i32| {
                    Some(r) != remove && (Some(r) == add || img.brokers.get(&r).is_some_and(|b| b.is_active()))
                };
                let change = PartitionChange { topic_id: t.id, partition: i as i32, current: p, target_isr, election };
                if let Some(rec) = change.build(acceptable) {
                    changes.push(rec);
                }
            }
        }
        for c in changes {
            batch.push(c);
        }
    }

    /// Kafka's `registerBroker`: a new registration (with a new epoch, the offset of its record) starts fenced.
    /// Another live process already registered under this id is refused; a previous incarnation of this broker
    /// (it restarted) is first removed from every ISR, since its log may have lost what it acknowledged to the
    /// leader from its page cache.
    pub fn register_broker(&mut self, img: &MetadataImage, req: RegisterBroker, now: Instant) -> ControllerResult<Result<i64, ApiError>> {
        let mut batch = Batch::new(img);
        if let Some(existing) = img.brokers.get(&req.broker_id) {
            let alive = self.sessions.get(&req.broker_id).is_some_and(|s| now < s.last_heartbeat + self.config.session_timeout);
            if existing.incarnation_id != req.incarnation_id {
                if alive && !existing.fenced {
                    return batch.finish(Err((
                        ErrorCode::DuplicateBrokerRegistration,
                        format!("another broker is registered with broker id {}", req.broker_id),
                    )));
                }
                self.leader_and_isr_updates(&mut batch, Some(req.broker_id), None);
            }
        }
        let epoch = batch.next_offset();
        batch.push(records::RegisterBrokerRecord {
            broker_id: req.broker_id,
            is_migrating_zk_broker: false,
            incarnation_id: req.incarnation_id,
            broker_epoch: epoch,
            end_points: req.endpoints,
            features: Vec::new(),
            rack: req.rack,
            fenced: true,
            in_controlled_shutdown: false,
            log_dirs: Vec::new(),
        });
        self.sessions.insert(req.broker_id, Session { last_heartbeat: now, metadata_offset: -1, shutdown_offset: None });
        batch.finish(Ok(epoch))
    }

    /// Kafka's `processBrokerHeartbeat` and `BrokerHeartbeatManager.calculateNextBrokerState`.
    pub fn heartbeat(&mut self, img: &MetadataImage, hb: Heartbeat, now: Instant) -> ControllerResult<Result<HeartbeatReply, ApiError>> {
        let mut batch = Batch::new(img);
        if let Some(e) = stale_epoch(img, hb.broker_id, hb.broker_epoch) {
            return batch.finish(Err(e));
        }
        let reg = img.brokers[&hb.broker_id].clone();
        let session = self.sessions.entry(hb.broker_id).or_insert(Session {
            last_heartbeat: now,
            metadata_offset: -1,
            shutdown_offset: None,
        });
        session.last_heartbeat = now;
        session.metadata_offset = hb.metadata_offset;
        let caught_up = hb.metadata_offset >= reg.registered_at;
        let change = |fenced: i8, shutdown: i8| records::BrokerRegistrationChangeRecord {
            broker_id: hb.broker_id,
            broker_epoch: hb.broker_epoch,
            fenced,
            in_controlled_shutdown: shutdown,
            log_dirs: Vec::new(),
        };
        let mut should_shut_down = false;
        if reg.fenced {
            if hb.want_shutdown {
                should_shut_down = true;
            } else if !hb.want_fence && caught_up {
                batch.push(change(-1, 0));
                self.leader_and_isr_updates(&mut batch, None, Some(hb.broker_id));
            }
        } else if reg.in_controlled_shutdown {
            // Once the moves are written, wait until every other active broker has replayed them, so that no
            // client is sent to this broker after it stops.
            let target = session.shutdown_offset.unwrap_or(reg.registered_at);
            let others_caught_up = img
                .brokers
                .values()
                .filter(|b| b.id != hb.broker_id && b.is_active())
                .all(|b| self.sessions.get(&b.id).is_some_and(|s| s.metadata_offset >= target));
            if others_caught_up && hb.metadata_offset >= target {
                should_shut_down = true;
                batch.push(change(1, 0));
            }
        } else if hb.want_fence {
            batch.push(change(1, 0));
            self.leader_and_isr_updates(&mut batch, Some(hb.broker_id), None);
        } else if hb.want_shutdown {
            batch.push(change(0, 1));
            self.leader_and_isr_updates(&mut batch, Some(hb.broker_id), None);
            let offset = batch.next_offset() - 1;
            if let Some(s) = self.sessions.get_mut(&hb.broker_id) {
                s.shutdown_offset = Some(offset);
            }
        }
        let is_fenced = batch.image().brokers.get(&hb.broker_id).is_none_or(|b| b.fenced);
        batch.finish(Ok(HeartbeatReply { is_caught_up: caught_up, is_fenced, should_shut_down }))
    }

    /// Fences every unfenced broker whose session expired. A broker this controller has no session for (it just
    /// became active) gets a fresh one, as Kafka's new controller does.
    pub fn fence_stale_brokers(&mut self, img: &MetadataImage, now: Instant) -> Vec<MetadataRecord> {
        let mut batch = Batch::new(img);
        let unfenced: Vec<(i32, i64)> = img.brokers.values().filter(|b| !b.fenced).map(|b| (b.id, b.epoch)).collect();
        for (id, epoch) in unfenced {
            let s = self.sessions.entry(id).or_insert(Session { last_heartbeat: now, metadata_offset: -1, shutdown_offset: None });
            if now >= s.last_heartbeat + self.config.session_timeout {
                tracing::info!(broker = id, "fencing broker: no heartbeat within broker.session.timeout.ms");
                batch.push(records::BrokerRegistrationChangeRecord {
                    broker_id: id,
                    broker_epoch: epoch,
                    fenced: 1,
                    in_controlled_shutdown: 0,
                    log_dirs: Vec::new(),
                });
                self.leader_and_isr_updates(&mut batch, Some(id), None);
            }
        }
        batch.records
    }

    fn usable_brokers(img: &MetadataImage) -> Vec<i32> {
        img.brokers.values().filter(|b| b.is_active()).map(|b| b.id).collect()
    }

    /// Kafka's `createTopics`: one answer per topic, in order.
    pub fn create_topics(&mut self, img: &MetadataImage, topics: Vec<NewTopic>, validate_only: bool) -> ControllerResult<Vec<Result<TopicMeta, ApiError>>> {
        let mut batch = Batch::new(img);
        let mut answers = Vec::with_capacity(topics.len());
        for t in topics {
            answers.push(self.create_topic(&mut batch, t, validate_only));
        }
        batch.finish(answers)
    }

    fn create_topic(&self, batch: &mut Batch<'_>, t: NewTopic, validate_only: bool) -> Result<TopicMeta, ApiError> {
        validate_topic_name(&t.name)?;
        if batch.image().topics.contains_key(&t.name) {
            return Err((ErrorCode::TopicAlreadyExists, format!("topic '{}' already exists", t.name)));
        }
        config::topic_log_config(&self.config.log_defaults, &t.configs).map_err(|e| (ErrorCode::InvalidConfig, e.to_string()))?;
        let id = Uuid::new_v4();
        let assignments = if t.assignments.is_empty() {
            let partitions = if t.partitions == -1 { self.config.default_partitions } else { t.partitions };
            if partitions <= 0 {
                return Err((ErrorCode::InvalidPartitions, format!("number of partitions must be at least 1, got {partitions}")));
            }
            let rf = if t.replication_factor == -1 { self.config.default_replication_factor } else { t.replication_factor };
            placement::place(&Self::usable_brokers(batch.image()), 0, partitions, rf, id.as_u64_pair().1)?
        } else {
            self.check_assignments(batch.image(), &t.assignments)?;
            t.assignments
        };
        let meta = TopicMeta {
            name: t.name.clone(),
            id,
            partitions: assignments.iter().map(|r| new_partition(batch.image(), r)).collect::<Result<_, _>>()?,
            configs: t.configs,
        };
        if validate_only {
            return Ok(meta);
        }
        batch.push(records::TopicRecord { name: meta.name.clone(), topic_id: id });
        for (k, v) in &meta.configs {
            batch.push(config_record(RESOURCE_TOPIC, &meta.name, k, Some(v)));
        }
        for (i, p) in meta.partitions.iter().enumerate() {
            batch.push(partition_record(id, i as i32, p));
        }
        tracing::info!(topic = meta.name, partitions = meta.partitions.len(), "created topic");
        Ok(meta)
    }

    fn check_assignments(&self, img: &MetadataImage, assignments: &[Vec<i32>]) -> Result<(), ApiError> {
        let bad = |why: String| Err((ErrorCode::InvalidReplicaAssignment, why));
        let rf = assignments[0].len();
        for (p, replicas) in assignments.iter().enumerate() {
            if replicas.is_empty() || replicas.len() != rf {
                return bad(format!("partition {p}: every partition needs the same, non-zero number of replicas"));
            }
            if replicas.iter().collect::<HashSet<_>>().len() != replicas.len() {
                return bad(format!("partition {p}: duplicate replica in {replicas:?}"));
            }
            if let Some(r) = replicas.iter().find(|r| !img.brokers.contains_key(r)) {
                return bad(format!("partition {p}: broker {r} is not registered"));
            }
        }
        Ok(())
    }

    /// Kafka's `createPartitions`: grows a topic to `total` partitions.
    pub fn create_partitions(&mut self, img: &MetadataImage, name: &str, total: i32, validate_only: bool) -> ControllerResult<Result<(), ApiError>> {
        let mut batch = Batch::new(img);
        let answer = (|| {
            let Some(topic) = img.topics.get(name) else {
                return Err((ErrorCode::UnknownTopicOrPartition, format!("unknown topic '{name}'")));
            };
            let current = topic.partition_count();
            if total < current {
                return Err((
                    ErrorCode::InvalidPartitions,
                    format!("topic '{name}' has {current} partitions; the count can only grow, not shrink to {total}"),
                ));
            }
            if total == current {
                return Err((ErrorCode::InvalidPartitions, format!("topic '{name}' already has {total} partitions")));
            }
            let rf = topic.partitions.first().map_or(1, |p| p.replicas.len()) as i16;
            let placed = placement::place(&Self::usable_brokers(img), current, total - current, rf, topic.id.as_u64_pair().1)?;
            if !validate_only {
                for (i, replicas) in placed.iter().enumerate() {
                    batch.push(partition_record(topic.id, current + i as i32, &new_partition(img, replicas)?));
                }
            }
            Ok(())
        })();
        batch.finish(answer)
    }

    pub fn delete_topics(&mut self, img: &MetadataImage, names: &[String]) -> ControllerResult<Vec<Result<TopicMeta, ApiError>>> {
        let mut batch = Batch::new(img);
        let mut answers = Vec::new();
        for name in names {
            let answer = if !self.config.delete_topic_enable {
                Err((ErrorCode::TopicDeletionDisabled, "delete.topic.enable is false".to_string()))
            } else {
                match batch.image().topics.get(name).cloned() {
                    None => Err((ErrorCode::UnknownTopicOrPartition, format!("unknown topic '{name}'"))),
                    Some(t) => {
                        batch.push(records::RemoveTopicRecord { topic_id: t.id });
                        Ok(t)
                    }
                }
            };
            answers.push(answer);
        }
        batch.finish(answers)
    }

    /// Replaces a topic's config overrides with `configs`: one ConfigRecord per key set or changed, one with a
    /// null value per key removed.
    pub fn set_topic_configs(&mut self, img: &MetadataImage, name: &str, configs: &Props, validate_only: bool) -> ControllerResult<Result<(), ApiError>> {
        let mut batch = Batch::new(img);
        let answer = (|| {
            config::topic_log_config(&self.config.log_defaults, configs).map_err(|e| (ErrorCode::InvalidConfig, e.to_string()))?;
            let Some(topic) = img.topics.get(name) else {
                return Err((ErrorCode::UnknownTopicOrPartition, format!("unknown topic '{name}'")));
            };
            if validate_only {
                return Ok(());
            }
            for (k, v) in configs {
                if topic.configs.get(k) != Some(v) {
                    batch.push(config_record(RESOURCE_TOPIC, name, k, Some(v)));
                }
            }
            for k in topic.configs.keys().filter(|k| !configs.contains_key(*k)) {
                batch.push(config_record(RESOURCE_TOPIC, name, k, None));
            }
            Ok(())
        })();
        batch.finish(answer)
    }

    /// Kafka's `alterPartition` for one partition: the checks of `validateAlterPartitionData`, in its order, then
    /// the change. The answer is the partition's state after it.
    pub fn alter_partition(&mut self, img: &MetadataImage, broker_epoch: i64, p: &IsrProposal) -> ControllerResult<Result<PartitionState, ErrorCode>> {
        let mut batch = Batch::new(img);
        let answer = (|| {
            if stale_epoch(img, p.leader, broker_epoch).is_some() {
                return Err(ErrorCode::StaleBrokerEpoch);
            }
            let topic = img.topic_by_id(p.topic_id).ok_or(ErrorCode::UnknownTopicId)?;
            let cur = usize::try_from(p.partition).ok().and_then(|i| topic.partitions.get(i)).ok_or(ErrorCode::UnknownTopicOrPartition)?;
            // The proposer has seen a newer state than this controller: this is not (or not yet) the controller.
            if p.leader_epoch > cur.leader_epoch || p.partition_epoch > cur.partition_epoch {
                return Err(ErrorCode::NotController);
            }
            if p.leader_epoch < cur.leader_epoch {
                return Err(ErrorCode::FencedLeaderEpoch);
            }
            if p.leader != cur.leader {
                return Err(ErrorCode::InvalidRequest);
            }
            if p.partition_epoch < cur.partition_epoch {
                return Err(ErrorCode::InvalidUpdateVersion);
            }
            let distinct: HashSet<i32> = p.new_isr.iter().copied().collect();
            if p.new_isr.is_empty() || distinct.len() != p.new_isr.len() || !p.new_isr.iter().all(|r| cur.replicas.contains(r)) {
                return Err(ErrorCode::InvalidRequest);
            }
            if !p.new_isr.contains(&cur.leader) {
                return Err(ErrorCode::InvalidRequest);
            }
            if p.new_isr.iter().any(|r| !img.brokers.get(r).is_some_and(|b| b.is_active())) {
                return Err(ErrorCode::IneligibleReplica);
            }
            let election = if self.unclean_for(img, topic) { Election::Unclean } else { Election::Online };
            let change = PartitionChange {
                topic_id: topic.id,
                partition: p.partition,
                current: cur,
                target_isr: p.new_isr.clone(),
                election,
            };
            if let Some(rec) = change.build(|r| img.brokers.get(&r).is_some_and(|b| b.is_active())) {
                batch.push(rec);
            }
            Ok(batch.image().partition(&topic.name, p.partition).cloned().expect("the partition exists"))
        })();
        batch.finish(answer)
    }

    /// Kafka's `allocateProducerIds`: the next block, unique across the cluster since its record is committed
    /// before the answer.
    pub fn allocate_producer_ids(&mut self, img: &MetadataImage, broker_id: i32, broker_epoch: i64) -> ControllerResult<Result<(i64, i32), ApiError>> {
        let mut batch = Batch::new(img);
        if let Some(e) = stale_epoch(img, broker_id, broker_epoch) {
            return batch.finish(Err(e));
        }
        let first = img.next_producer_id;
        batch.push(records::ProducerIdsRecord {
            broker_id,
            broker_epoch,
            next_producer_id: first + i64::from(PRODUCER_ID_BLOCK_SIZE),
        });
        batch.finish(Ok((first, PRODUCER_ID_BLOCK_SIZE)))
    }

    /// Kafka's `electLeaders` (the ElectLeaders API): per partition, the error (NONE on success).
    pub fn elect_leaders(&mut self, img: &MetadataImage, election: Election, partitions: &[(String, i32)]) -> ControllerResult<Vec<Result<(), ApiError>>> {
        let mut batch = Batch::new(img);
        let mut answers = Vec::new();
        for (topic, partition) in partitions {
            let answer = (|| {
                let t = batch.image().topics.get(topic).cloned().ok_or_else(|| (ErrorCode::UnknownTopicOrPartition, format!("unknown topic '{topic}'")))?;
                let cur = t.partitions.get(*partition as usize).ok_or_else(|| (ErrorCode::UnknownTopicOrPartition, format!("{topic}-{partition} does not exist")))?;
                let not_needed = match election {
                    Election::Preferred => cur.replicas.first() == Some(&cur.leader),
                    _ => cur.leader != NO_LEADER,
                };
                if not_needed {
                    return Err((ErrorCode::ElectionNotNeeded, format!("{topic}-{partition} already has a suitable leader")));
                }
                let img = batch.image();
                let acceptable = |r: i32| img.brokers.get(&r).is_some_and(|b| b.is_active());
                let change = PartitionChange { topic_id: t.id, partition: *partition, current: cur, target_isr: cur.isr.clone(), election };
                let rec = change.build(acceptable);
                let elected = rec.as_ref().map_or(cur.leader, |r| if r.leader == records::LEADER_UNCHANGED { cur.leader } else { r.leader });
                let ok = match election {
                    Election::Preferred => cur.replicas.first() == Some(&elected),
                    _ => elected != NO_LEADER,
                };
                if !ok {
                    return Err(match election {
                        Election::Preferred => (ErrorCode::PreferredLeaderNotAvailable, format!("the preferred leader of {topic}-{partition} is not available")),
                        _ => (ErrorCode::EligibleLeadersNotAvailable, format!("no eligible leader for {topic}-{partition}")),
                    });
                }
                if let Some(rec) = rec {
                    batch.push(rec);
                }
                Ok(())
            })();
            answers.push(answer);
        }
        batch.finish(answers)
    }

    /// `auto.leader.rebalance.enable`: moves leadership back to each partition's preferred replica where that
    /// replica is live and in the ISR.
    pub fn rebalance_preferred_leaders(&mut self, img: &MetadataImage) -> Vec<MetadataRecord> {
        let imbalanced: Vec<(String, i32)> = img
            .topics
            .values()
            .flat_map(|t| {
                t.partitions.iter().enumerate().filter_map(move |(i, p)| {
                    let preferred = *p.replicas.first()?;
                    let eligible = p.isr.contains(&preferred) && img.brokers.get(&preferred).is_some_and(|b| b.is_active());
                    (p.leader != preferred && eligible).then(|| (t.name.clone(), i as i32))
                })
            })
            .collect();
        if imbalanced.is_empty() {
            return Vec::new();
        }
        self.elect_leaders(img, Election::Preferred, &imbalanced).records
    }
}

/// A new partition: its active replicas form the ISR and the first of them leads (Kafka's `createTopic`).
fn new_partition(img: &MetadataImage, replicas: &[i32]) -> Result<PartitionState, ApiError> {
    let isr: Vec<i32> = replicas.iter().copied().filter(|r| img.brokers.get(r).is_some_and(|b| b.is_active())).collect();
    let Some(&leader) = isr.first() else {
        return Err((
            ErrorCode::InvalidReplicaAssignment,
            format!("all brokers of the assignment {replicas:?} are fenced or in controlled shutdown"),
        ));
    };
    Ok(PartitionState {
        replicas: replicas.to_vec(),
        isr,
        leader,
        leader_epoch: 0,
        partition_epoch: 0,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
    })
}
