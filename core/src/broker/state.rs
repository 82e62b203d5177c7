//! What every connection shares: configuration, metadata, the logs and the partitions being served.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::config::BrokerConfig;
use crate::coordinator::GroupCoordinator;
use crate::metadata::{ControllerChannel, MetadataStore};
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
    /// topic -> partition number -> the partitions this broker serves (those it leads).
    pub(crate) partitions: RwLock<HashMap<String, BTreeMap<i32, Arc<Partition>>>>,
    /// How a partition leader here proposes ISR changes to the active controller (used by the replica manager
    /// of the replication work).
    #[allow(dead_code)]
    pub(crate) controller: Option<Arc<dyn ControllerChannel>>,
    /// The listener name other brokers and clients reach this broker on (its registration's endpoint name).
    pub(crate) listener_name: String,
    pub groups: Arc<GroupCoordinator>,
    pub(crate) offsets_topic: Arc<OffsetsTopic>,
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
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub fn is_internal_topic(name: &str) -> bool {
    name == "__consumer_offsets" || name == "__transaction_state"
}
