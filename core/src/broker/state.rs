//! What every connection shares: configuration, metadata, the logs and the partitions being served.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

use crate::config::BrokerConfig;
use crate::coordinator::GroupCoordinator;
use crate::metadata::cluster::ControllerChannel;
use crate::metadata::MetadataStore;
use crate::replication::FetcherManager;
use crate::storage::LogManager;

use super::offsets_topic::OffsetsTopic;
use super::partition::Partition;

pub struct BrokerState {
    pub config: BrokerConfig,
    pub node_id: i32,
    /// Host and port clients are told to connect to.
    pub advertised_host: String,
    pub advertised_port: i32,
    pub(crate) metadata: Mutex<MetadataStore>,
    pub(crate) logs: LogManager,
    /// topic -> the partitions this broker holds a replica of, by partition number.
    pub(crate) partitions: RwLock<HashMap<String, BTreeMap<i32, Arc<Partition>>>>,
    /// The listener name other brokers and clients reach this broker on (its registration's endpoint name).
    pub(crate) listener_name: String,
    pub groups: Arc<GroupCoordinator>,
    pub(crate) offsets_topic: Arc<OffsetsTopic>,
    /// How partition leaders reach the active controller (AlterPartition). None on a single broker, where the
    /// ISR never changes.
    pub(crate) controller: RwLock<Option<Arc<dyn ControllerChannel>>>,
    /// The broker's runtime, once started (replica changes may arrive from any thread and spawn work on it).
    pub(crate) runtime: OnceLock<tokio::runtime::Handle>,
    /// Follower fetchers, one per leader broker.
    pub(crate) fetchers: FetcherManager,
    /// High watermarks read from `replication-offset-checkpoint` at start, taken by each replica as it opens.
    pub(crate) checkpointed_hws: Mutex<HashMap<(String, i32), i64>>,
}

impl BrokerState {
    pub fn metadata(&self) -> MutexGuard<'_, MetadataStore> {
        self.metadata.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        let map = self.partitions.read().unwrap_or_else(|e| e.into_inner());
        map.get(topic).and_then(|ps| ps.get(&index)).cloned()
    }

    pub fn all_partitions(&self) -> Vec<Arc<Partition>> {
        let map = self.partitions.read().unwrap_or_else(|e| e.into_inner());
        map.values().flat_map(|ps| ps.values()).cloned().collect()
    }

    /// The replicas this broker holds of one topic, by partition number.
    pub(crate) fn topic_partitions(&self, topic: &str) -> Vec<Arc<Partition>> {
        let map = self.partitions.read().unwrap_or_else(|e| e.into_inner());
        map.get(topic).map(|ps| ps.values().cloned().collect()).unwrap_or_default()
    }

    pub(crate) fn insert_partition(&self, p: Arc<Partition>) {
        let mut map = self.partitions.write().unwrap_or_else(|e| e.into_inner());
        map.entry(p.topic.clone()).or_default().insert(p.index, p);
    }

    pub(crate) fn take_partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        let mut map = self.partitions.write().unwrap_or_else(|e| e.into_inner());
        let ps = map.get_mut(topic)?;
        let p = ps.remove(&index);
        if ps.is_empty() {
            map.remove(topic);
        }
        p
    }

    /// Every replica's high watermark into `replication-offset-checkpoint` (periodically and on shutdown).
    pub(crate) fn checkpoint_high_watermarks(&self) -> std::io::Result<()> {
        let hws = self.all_partitions().iter().map(|p| ((p.topic.clone(), p.index), p.high_watermark())).collect();
        self.logs.write_high_watermarks(&hws)
    }

    /// The unfenced brokers' endpoints on this broker's listener: those Metadata and DescribeCluster send clients to
    /// (Kafka lists only unfenced brokers).
    pub(crate) fn live_broker_endpoints(&self) -> Vec<crate::metadata::BrokerEndpoint> {
        let m = self.metadata();
        m.image().brokers.values().filter(|b| !b.fenced).filter_map(|b| b.endpoint(&self.listener_name)).collect()
    }

    /// Sets how partition leaders reach the controller (whoever builds a broker of a cluster).
    pub fn set_controller_channel(&self, channel: Arc<dyn ControllerChannel>) {
        *self.controller.write().unwrap_or_else(|e| e.into_inner()) = Some(channel);
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub fn is_internal_topic(name: &str) -> bool {
    name == "__consumer_offsets" || name == "__transaction_state"
}
