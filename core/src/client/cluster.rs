//! The client's view of the cluster: bootstrap, metadata (brokers, topics, partition leaders), and one
//! connection per broker, opened on first use and replaced when it breaks.
//!
//! Leader epochs only move forward (Kafka's `Metadata.updateLatestMetadata`): brokers learn of a leader change
//! at different times, so a refresh answered by a broker that has not heard of it yet would send the client
//! back to the old leader. A partition whose answered epoch is older than the one already known keeps what is
//! known; a topic that was deleted and created again (new topic id) starts over.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::connection::Connection;
use super::error::ClientError;

#[derive(Debug, Clone)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub error: i16,
}

#[derive(Debug, Clone)]
pub struct TopicInfo {
    pub name: String,
    pub id: uuid::Uuid,
    pub error: i16,
    pub is_internal: bool,
    pub partitions: Vec<PartitionInfo>,
    /// The partitions that have a leader (computed once per refresh: the producer needs it for every record).
    pub available: Vec<i32>,
}

#[derive(Debug, Clone, Default)]
pub struct Metadata {
    pub cluster_id: Option<String>,
    pub controller: i32,
    pub brokers: HashMap<i32, String>,
    pub topics: HashMap<String, TopicInfo>,
}

impl Metadata {
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let t = self.topics.get(topic)?;
        let p = t.partitions.get(usize::try_from(partition).ok()?)?;
        (p.leader >= 0).then_some(p.leader)
    }

    /// The partition's leader epoch (None when unknown: no metadata, or a broker too old to send it).
    pub fn leader_epoch(&self, topic: &str, partition: i32) -> Option<i32> {
        let t = self.topics.get(topic)?;
        let p = t.partitions.get(usize::try_from(partition).ok()?)?;
        (p.leader_epoch >= 0).then_some(p.leader_epoch)
    }

    pub fn partition_count(&self, topic: &str) -> Option<i32> {
        self.topics.get(topic).filter(|t| t.error == 0).map(|t| t.partitions.len() as i32)
    }
}

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub bootstrap: Vec<String>,
    pub client_id: String,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

pub struct Cluster {
    cfg: ClusterConfig,
    conns: tokio::sync::Mutex<HashMap<String, Arc<Connection>>>,
    meta: RwLock<Arc<Metadata>>,
    refreshed_at: RwLock<Option<Instant>>,
}

impl Cluster {
    pub fn new(cfg: ClusterConfig) -> Arc<Cluster> {
        Arc::new(Cluster { cfg, conns: Default::default(), meta: RwLock::new(Arc::new(Metadata::default())), refreshed_at: RwLock::new(None) })
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.cfg
    }

    pub fn metadata(&self) -> Arc<Metadata> {
        self.meta.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Time since the last successful refresh (None: never refreshed).
    pub fn metadata_age(&self) -> Option<Duration> {
        self.refreshed_at.read().unwrap_or_else(|e| e.into_inner()).map(|t| t.elapsed())
    }

    /// A live connection to `addr`, opening one when needed.
    pub async fn connect_addr(&self, addr: &str) -> Result<Arc<Connection>, ClientError> {
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(addr).filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let c = Connection::connect(addr, &self.cfg.client_id, self.cfg.connect_timeout).await?;
        conns.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// The connection to broker `node`.
    pub async fn broker(&self, node: i32) -> Result<Arc<Connection>, ClientError> {
        let addr = self.metadata().brokers.get(&node).cloned().ok_or_else(|| ClientError::Connection {
            addr: format!("broker {node}"),
            reason: "unknown broker id".into(),
        })?;
        self.connect_addr(&addr).await
    }

    /// Any reachable broker: known brokers first, then the bootstrap list.
    pub async fn any_broker(&self) -> Result<Arc<Connection>, ClientError> {
        let mut addrs: Vec<String> = self.metadata().brokers.values().cloned().collect();
        addrs.sort();
        addrs.extend(self.cfg.bootstrap.iter().cloned());
        let mut last = None;
        for addr in addrs {
            match self.connect_addr(&addr).await {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ClientError::Connection { addr: String::new(), reason: "bootstrap.servers is empty".into() }))
    }

    /// Fetches metadata for `topics` (None: every topic) and merges it in.
    pub async fn refresh(&self, topics: Option<&[String]>, allow_auto_create: bool) -> Result<Arc<Metadata>, ClientError> {
        let conn = self.any_broker().await?;
        let req = MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.iter().map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(t.clone()))))).collect()
            }))
            .with_allow_auto_topic_creation(allow_auto_create);
        let (resp, _): (MetadataResponse, i16) =
            tokio::time::timeout(self.cfg.request_timeout, conn.send(ApiKey::Metadata, &req)).await.map_err(|_| ClientError::Timeout(self.cfg.request_timeout.as_millis() as u64))??;
        let known = self.metadata();
        let mut next = if topics.is_some() { (*known).clone() } else { Metadata::default() };
        next.cluster_id = resp.cluster_id.map(|c| c.to_string());
        next.controller = resp.controller_id.0;
        next.brokers = resp.brokers.iter().map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port))).collect();
        for t in resp.topics {
            let Some(name) = t.name.map(|n| n.to_string()) else { continue };
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    error: p.error_code,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            if let Some(old) = known.topics.get(&name).filter(|old| old.id == t.topic_id) {
                keep_newer_epochs(&mut partitions, &old.partitions);
            }
            let available = partitions.iter().filter(|p| p.leader >= 0).map(|p| p.partition).collect();
            next.topics.insert(name.clone(), TopicInfo { name, id: t.topic_id, error: t.error_code, is_internal: t.is_internal, partitions, available });
        }
        let next = Arc::new(next);
        *self.meta.write().unwrap_or_else(|e| e.into_inner()) = next.clone();
        *self.refreshed_at.write().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        Ok(next)
    }
}

/// Keeps the known state of every partition for which `fresh` answers an older leader epoch than `known` (a
/// broker behind on metadata); the same topic id is the caller's to check.
fn keep_newer_epochs(fresh: &mut [PartitionInfo], known: &[PartitionInfo]) {
    for p in fresh.iter_mut() {
        if let Some(old) = known.iter().find(|o| o.partition == p.partition) {
            if p.leader_epoch >= 0 && old.leader_epoch > p.leader_epoch {
                tracing::debug!(partition = p.partition, known = old.leader_epoch, answered = p.leader_epoch, "ignoring stale partition metadata");
                *p = old.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(partition: i32, leader: i32, leader_epoch: i32) -> PartitionInfo {
        PartitionInfo { partition, leader, leader_epoch, replicas: vec![1, 2, 3], isr: vec![1, 2, 3], error: 0 }
    }

    #[test]
    fn an_older_leader_epoch_never_replaces_a_newer_one() {
        let known = vec![part(0, 2, 5), part(1, 1, 3)];
        // Partition 0 answered by a broker that still thinks broker 1 leads at epoch 4; partition 1 moved on.
        let mut fresh = vec![part(0, 1, 4), part(1, 3, 4)];
        keep_newer_epochs(&mut fresh, &known);
        assert_eq!((fresh[0].leader, fresh[0].leader_epoch), (2, 5));
        assert_eq!((fresh[1].leader, fresh[1].leader_epoch), (3, 4));
        // The same epoch (an ISR change, say) and a broker that sends no epoch (-1) are taken as answered.
        let mut fresh = vec![part(0, 2, 5), part(1, 1, -1)];
        fresh[0].isr = vec![2, 3];
        keep_newer_epochs(&mut fresh, &known);
        assert_eq!(fresh[0].isr, vec![2, 3]);
        assert_eq!(fresh[1].leader_epoch, -1);
    }
}
