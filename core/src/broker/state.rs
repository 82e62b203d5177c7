//! What every connection shares: configuration, metadata, the logs and the partitions being served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::config::BrokerConfig;
use crate::coordinator::GroupCoordinator;
use crate::metadata::MetadataStore;
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
    /// topic -> its partitions, index = partition number.
    pub(crate) partitions: RwLock<HashMap<String, Vec<Arc<Partition>>>>,
    pub groups: Arc<GroupCoordinator>,
    pub(crate) offsets_topic: Arc<OffsetsTopic>,
}

impl BrokerState {
    pub fn metadata(&self) -> MutexGuard<'_, MetadataStore> {
        self.metadata.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        let map = self.partitions.read().unwrap_or_else(|e| e.into_inner());
        map.get(topic).and_then(|ps| usize::try_from(index).ok().and_then(|i| ps.get(i)).cloned())
    }

    pub fn all_partitions(&self) -> Vec<Arc<Partition>> {
        let map = self.partitions.read().unwrap_or_else(|e| e.into_inner());
        map.values().flatten().cloned().collect()
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub fn is_internal_topic(name: &str) -> bool {
    name == "__consumer_offsets" || name == "__transaction_state"
}
