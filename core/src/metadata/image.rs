//! The in-memory image that metadata records are applied to, in log order: brokers (registration, fenced state,
//! endpoints), topics with a [`PartitionState`] per partition, topic and broker configs, features and the
//! producer-id blocks handed out. Every broker replays the log into one; the Metadata, DescribeCluster and
//! FindCoordinator answers read it, and the controller decides from it.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::cluster::{BrokerEndpoint, PartitionChange, PartitionState, NO_LEADER};
use super::records::{self, MetadataRecord, LEADER_UNCHANGED, RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::config::Props;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    pub name: String,
    pub id: Uuid,
    /// Index = partition number.
    pub partitions: Vec<PartitionState>,
    /// The topic's config overrides.
    pub configs: Props,
}

impl TopicMeta {
    pub fn partition_count(&self) -> i32 {
        self.partitions.len() as i32
    }
}

/// A broker as the controller registered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRegistration {
    pub id: i32,
    pub epoch: i64,
    pub incarnation_id: Uuid,
    pub endpoints: Vec<records::BrokerEndpoint>,
    pub rack: Option<String>,
    pub fenced: bool,
    pub in_controlled_shutdown: bool,
    /// Offset of the registration record: a fenced broker is unfenced once its replay has reached it.
    pub registered_at: i64,
}

impl BrokerRegistration {
    /// The endpoint of a named listener, in the contract's shape.
    pub fn endpoint(&self, listener: &str) -> Option<BrokerEndpoint> {
        let e = self.endpoints.iter().find(|e| e.name == listener).or(self.endpoints.first())?;
        Some(BrokerEndpoint { node_id: self.id, host: e.host.clone(), port: e.port, rack: self.rack.clone() })
    }

    /// Unfenced and not shutting down: may lead and be added to an ISR.
    pub fn is_active(&self) -> bool {
        !self.fenced && !self.in_controlled_shutdown
    }
}

/// A partition the last applied record touched, for the replay to hand on to the replica manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touched {
    Partition { topic: String, partition: i32 },
    Removed { topic: String, partition: i32 },
    /// A broker's registration changed: partitions it leads must be re-announced (the endpoint may differ).
    Broker(i32),
}

#[derive(Debug, Clone, Default)]
pub struct MetadataImage {
    /// From `meta.properties` (Kafka keeps the cluster id there, not in the log).
    pub cluster_id: String,
    /// Offset of the last record applied; -1 before the first.
    pub offset: i64,
    pub topics: BTreeMap<String, TopicMeta>,
    topic_names: HashMap<Uuid, String>,
    pub brokers: BTreeMap<i32, BrokerRegistration>,
    /// Broker config overrides: key "" for the cluster default, else the node id.
    pub broker_configs: BTreeMap<String, Props>,
    pub features: BTreeMap<String, i16>,
    /// The start of the next producer-id block: every id below it may have been handed out.
    pub next_producer_id: i64,
}

impl MetadataImage {
    pub fn new(cluster_id: impl Into<String>) -> Self {
        MetadataImage { cluster_id: cluster_id.into(), offset: -1, ..Default::default() }
    }

    pub fn topic_by_id(&self, id: Uuid) -> Option<&TopicMeta> {
        self.topic_names.get(&id).and_then(|n| self.topics.get(n))
    }

    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionState> {
        self.topics.get(topic)?.partitions.get(usize::try_from(partition).ok()?)
    }

    /// Applies the record at `offset`; returns what it touched. Records that do not fit the image (a partition
    /// of an unknown topic) are skipped with a warning rather than failing the replay: the controller never
    /// writes them, and a replay that stops would leave the broker without metadata.
    pub fn apply(&mut self, offset: i64, record: &MetadataRecord) -> Vec<Touched> {
        self.offset = self.offset.max(offset);
        let mut touched = Vec::new();
        match record {
            MetadataRecord::RegisterBrokerRecord(r) => {
                self.brokers.insert(
                    r.broker_id,
                    BrokerRegistration {
                        id: r.broker_id,
                        epoch: r.broker_epoch,
                        incarnation_id: r.incarnation_id,
                        endpoints: r.end_points.clone(),
                        rack: r.rack.clone(),
                        fenced: r.fenced,
                        in_controlled_shutdown: r.in_controlled_shutdown,
                        registered_at: offset,
                    },
                );
                touched.push(Touched::Broker(r.broker_id));
            }
            MetadataRecord::UnregisterBrokerRecord(r) => {
                if self.brokers.get(&r.broker_id).is_some_and(|b| b.epoch == r.broker_epoch) {
                    self.brokers.remove(&r.broker_id);
                    touched.push(Touched::Broker(r.broker_id));
                }
            }
            MetadataRecord::FenceBrokerRecord(r) => self.set_fenced(r.id, r.epoch, Some(true), None, &mut touched),
            MetadataRecord::UnfenceBrokerRecord(r) => self.set_fenced(r.id, r.epoch, Some(false), None, &mut touched),
            MetadataRecord::BrokerRegistrationChangeRecord(r) => {
                let fenced = match r.fenced {
                    1 => Some(true),
                    -1 => Some(false),
                    _ => None,
                };
                let shutdown = (r.in_controlled_shutdown == 1).then_some(true);
                self.set_fenced(r.broker_id, r.broker_epoch, fenced, shutdown, &mut touched);
            }
            MetadataRecord::TopicRecord(r) => {
                self.topic_names.insert(r.topic_id, r.name.clone());
                self.topics.insert(
                    r.name.clone(),
                    TopicMeta { name: r.name.clone(), id: r.topic_id, partitions: Vec::new(), configs: Props::new() },
                );
            }
            MetadataRecord::PartitionRecord(r) => {
                let Some(topic) = self.topic_names.get(&r.topic_id).and_then(|n| self.topics.get_mut(n)) else {
                    tracing::warn!(topic_id = %r.topic_id, partition = r.partition_id, "partition record of an unknown topic");
                    return touched;
                };
                let state = PartitionState {
                    replicas: r.replicas.clone(),
                    isr: r.isr.clone(),
                    leader: r.leader,
                    leader_epoch: r.leader_epoch,
                    partition_epoch: r.partition_epoch,
                    adding_replicas: r.adding_replicas.clone(),
                    removing_replicas: r.removing_replicas.clone(),
                };
                let idx = r.partition_id as usize;
                if r.partition_id < 0 || idx > topic.partitions.len() {
                    tracing::warn!(topic = topic.name, partition = r.partition_id, "partition record out of order");
                    return touched;
                }
                if idx == topic.partitions.len() {
                    topic.partitions.push(state);
                } else {
                    topic.partitions[idx] = state;
                }
                touched.push(Touched::Partition { topic: topic.name.clone(), partition: r.partition_id });
            }
            MetadataRecord::PartitionChangeRecord(r) => {
                let Some(topic) = self.topic_names.get(&r.topic_id).and_then(|n| self.topics.get_mut(n)) else {
                    tracing::warn!(topic_id = %r.topic_id, partition = r.partition_id, "partition change of an unknown topic");
                    return touched;
                };
                let Some(p) = usize::try_from(r.partition_id).ok().and_then(|i| topic.partitions.get_mut(i)) else {
                    tracing::warn!(topic = topic.name, partition = r.partition_id, "change of an unknown partition");
                    return touched;
                };
                merge_change(p, r);
                touched.push(Touched::Partition { topic: topic.name.clone(), partition: r.partition_id });
            }
            MetadataRecord::RemoveTopicRecord(r) => {
                if let Some(name) = self.topic_names.remove(&r.topic_id) {
                    if let Some(t) = self.topics.remove(&name) {
                        for p in 0..t.partition_count() {
                            touched.push(Touched::Removed { topic: name.clone(), partition: p });
                        }
                    }
                }
            }
            MetadataRecord::ConfigRecord(r) => {
                let target = match r.resource_type {
                    RESOURCE_TOPIC => self.topics.get_mut(&r.resource_name).map(|t| &mut t.configs),
                    RESOURCE_BROKER => Some(self.broker_configs.entry(r.resource_name.clone()).or_default()),
                    _ => None,
                };
                if let Some(configs) = target {
                    match &r.value {
                        Some(v) => configs.insert(r.name.clone(), v.clone()),
                        None => configs.remove(&r.name),
                    };
                }
            }
            MetadataRecord::FeatureLevelRecord(r) => {
                if r.feature_level == 0 {
                    self.features.remove(&r.name);
                } else {
                    self.features.insert(r.name.clone(), r.feature_level);
                }
            }
            MetadataRecord::ProducerIdsRecord(r) => self.next_producer_id = self.next_producer_id.max(r.next_producer_id),
            MetadataRecord::NoOpRecord(_) => {}
        }
        touched
    }

    fn set_fenced(&mut self, id: i32, epoch: i64, fenced: Option<bool>, shutdown: Option<bool>, touched: &mut Vec<Touched>) {
        // A record about an older registration of this broker no longer applies.
        let Some(b) = self.brokers.get_mut(&id).filter(|b| b.epoch == epoch) else { return };
        if let Some(f) = fenced {
            b.fenced = f;
            if !f {
                b.in_controlled_shutdown = false;
            }
        }
        if let Some(s) = shutdown {
            b.in_controlled_shutdown = s;
        }
        touched.push(Touched::Broker(id));
    }

    /// The partition changes, in log order, that `touched` amounts to for the replica manager: one per partition
    /// (its final state), the leader's endpoint on `listener`; a broker's registration change re-announces the
    /// partitions it leads.
    pub fn partition_changes(&self, touched: &[Touched], listener: &str) -> Vec<PartitionChange> {
        let mut keys: Vec<(String, i32)> = Vec::new();
        for t in touched {
            match t {
                Touched::Partition { topic, partition } | Touched::Removed { topic, partition } => {
                    keys.push((topic.clone(), *partition))
                }
                Touched::Broker(id) => {
                    for topic in self.topics.values() {
                        for (i, p) in topic.partitions.iter().enumerate() {
                            if p.leader == *id {
                                keys.push((topic.name.clone(), i as i32));
                            }
                        }
                    }
                }
            }
        }
        // Keep each partition's last mention only: its state is the final one.
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<PartitionChange> = keys
            .into_iter()
            .rev()
            .filter(|k| seen.insert(k.clone()))
            .map(|(topic, partition)| self.partition_change(&topic, partition, listener))
            .collect();
        out.reverse();
        out
    }

    /// The state of one partition as a change for the replica manager (`Removed` when it no longer exists).
    pub fn partition_change(&self, topic: &str, partition: i32, listener: &str) -> PartitionChange {
        match self.topics.get(topic).and_then(|t| Some((t, t.partitions.get(usize::try_from(partition).ok()?)?))) {
            None => PartitionChange::Removed { topic: topic.to_string(), partition },
            Some((t, state)) => PartitionChange::Upsert {
                topic: topic.to_string(),
                topic_id: t.id,
                partition,
                state: state.clone(),
                leader_endpoint: self.brokers.get(&state.leader).and_then(|b| b.endpoint(listener)),
            },
        }
    }

    /// The records that rebuild this image from nothing (a snapshot), in an order that replays.
    pub fn to_records(&self) -> Vec<MetadataRecord> {
        let mut out: Vec<MetadataRecord> = Vec::new();
        for (name, level) in &self.features {
            out.push(records::FeatureLevelRecord { name: name.clone(), feature_level: *level }.into());
        }
        for b in self.brokers.values() {
            out.push(
                records::RegisterBrokerRecord {
                    broker_id: b.id,
                    is_migrating_zk_broker: false,
                    incarnation_id: b.incarnation_id,
                    broker_epoch: b.epoch,
                    end_points: b.endpoints.clone(),
                    features: Vec::new(),
                    rack: b.rack.clone(),
                    fenced: b.fenced,
                    in_controlled_shutdown: b.in_controlled_shutdown,
                    log_dirs: Vec::new(),
                }
                .into(),
            );
        }
        for (node, configs) in &self.broker_configs {
            for (k, v) in configs {
                out.push(config_record(RESOURCE_BROKER, node, k, Some(v)));
            }
        }
        for t in self.topics.values() {
            out.push(records::TopicRecord { name: t.name.clone(), topic_id: t.id }.into());
            for (k, v) in &t.configs {
                out.push(config_record(RESOURCE_TOPIC, &t.name, k, Some(v)));
            }
            for (i, p) in t.partitions.iter().enumerate() {
                out.push(partition_record(t.id, i as i32, p));
            }
        }
        if self.next_producer_id > 0 {
            out.push(records::ProducerIdsRecord { broker_id: -1, broker_epoch: -1, next_producer_id: self.next_producer_id }.into());
        }
        out
    }
}

pub fn config_record(resource_type: i8, resource: &str, key: &str, value: Option<&str>) -> MetadataRecord {
    records::ConfigRecord {
        resource_type,
        resource_name: resource.to_string(),
        name: key.to_string(),
        value: value.map(str::to_string),
    }
    .into()
}

pub fn partition_record(topic_id: Uuid, partition: i32, p: &PartitionState) -> MetadataRecord {
    records::PartitionRecord {
        partition_id: partition,
        topic_id,
        replicas: p.replicas.clone(),
        isr: p.isr.clone(),
        removing_replicas: p.removing_replicas.clone(),
        adding_replicas: p.adding_replicas.clone(),
        leader: p.leader,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
        directories: Vec::new(),
        leader_recovery_state: 0,
        eligible_leader_replicas: None,
        last_known_elr: None,
    }
    .into()
}

/// Kafka's `PartitionRegistration.merge`: the leader epoch moves on a leader change (or an explicit re-statement
/// of the same leader, which the controller writes to bump it), the partition epoch on every change.
pub fn merge_change(p: &mut PartitionState, r: &records::PartitionChangeRecord) {
    if let Some(isr) = &r.isr {
        p.isr = isr.clone();
    }
    if let Some(replicas) = &r.replicas {
        p.replicas = replicas.clone();
    }
    if let Some(v) = &r.adding_replicas {
        p.adding_replicas = v.clone();
    }
    if let Some(v) = &r.removing_replicas {
        p.removing_replicas = v.clone();
    }
    if r.leader != LEADER_UNCHANGED {
        p.leader = if r.leader < 0 { NO_LEADER } else { r.leader };
        p.leader_epoch += 1;
    }
    p.partition_epoch += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: Uuid, partition: i32) -> records::PartitionChangeRecord {
        records::PartitionChangeRecord::unchanged(id, partition)
    }

    #[test]
    fn topics_partitions_and_changes() {
        let id = Uuid::from_u128(1);
        let mut img = MetadataImage::new("c");
        img.apply(0, &records::TopicRecord { name: "t".into(), topic_id: id }.into());
        let st = PartitionState { replicas: vec![1, 2], isr: vec![1, 2], leader: 1, leader_epoch: 0, partition_epoch: 0, adding_replicas: vec![], removing_replicas: vec![] };
        let touched = img.apply(1, &partition_record(id, 0, &st));
        assert_eq!(touched, vec![Touched::Partition { topic: "t".into(), partition: 0 }]);
        img.apply(2, &config_record(RESOURCE_TOPIC, "t", "retention.ms", Some("5")));
        // ISR shrink: partition epoch only.
        img.apply(3, &records::PartitionChangeRecord { isr: Some(vec![1]), ..change(id, 0) }.into());
        let p = img.partition("t", 0).unwrap();
        assert_eq!((p.isr.clone(), p.leader, p.leader_epoch, p.partition_epoch), (vec![1], 1, 0, 1));
        // Leader change: both epochs.
        img.apply(4, &records::PartitionChangeRecord { leader: -1, ..change(id, 0) }.into());
        let p = img.partition("t", 0).unwrap();
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (NO_LEADER, 1, 2));
        assert_eq!(img.offset, 4);
        // A snapshot rebuilds the same image.
        let mut back = MetadataImage::new("c");
        for (i, r) in img.to_records().iter().enumerate() {
            back.apply(i as i64, r);
        }
        assert_eq!(back.topics, img.topics);
        let touched = img.apply(5, &records::RemoveTopicRecord { topic_id: id }.into());
        assert_eq!(touched, vec![Touched::Removed { topic: "t".into(), partition: 0 }]);
        assert!(img.topics.is_empty() && img.topic_by_id(id).is_none());
    }

    #[test]
    fn broker_registration_and_fencing_follow_the_epoch() {
        let mut img = MetadataImage::new("c");
        let reg = records::RegisterBrokerRecord {
            broker_id: 3,
            is_migrating_zk_broker: false,
            incarnation_id: Uuid::from_u128(7),
            broker_epoch: 10,
            end_points: vec![records::BrokerEndpoint { name: "PLAINTEXT".into(), host: "h".into(), port: 1, security_protocol: 0 }],
            features: vec![],
            rack: None,
            fenced: true,
            in_controlled_shutdown: false,
            log_dirs: vec![],
        };
        img.apply(10, &reg.into());
        assert!(img.brokers[&3].fenced);
        img.apply(11, &records::BrokerRegistrationChangeRecord { broker_id: 3, broker_epoch: 9, fenced: -1, in_controlled_shutdown: 0, log_dirs: vec![] }.into());
        assert!(img.brokers[&3].fenced, "a stale epoch changes nothing");
        img.apply(12, &records::UnfenceBrokerRecord { id: 3, epoch: 10 }.into());
        assert!(img.brokers[&3].is_active());
        img.apply(13, &records::BrokerRegistrationChangeRecord { broker_id: 3, broker_epoch: 10, fenced: 0, in_controlled_shutdown: 1, log_dirs: vec![] }.into());
        assert!(!img.brokers[&3].is_active());
        assert_eq!(img.brokers[&3].endpoint("PLAINTEXT").unwrap().port, 1);
    }
}
