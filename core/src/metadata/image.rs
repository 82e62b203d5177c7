//! The in-memory image that metadata records are applied to.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::config::Props;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    pub configs: Props,
}

/// One change to the cluster's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataRecord {
    ClusterCreated { cluster_id: String },
    TopicCreated(TopicMeta),
    PartitionsIncreased { name: String, total: i32 },
    TopicDeleted { name: String },
    TopicConfigsSet { name: String, configs: Props },
    /// Producer ids below `end` have been (or may have been) handed out: never reuse them.
    ProducerIdBlock { end: i64 },
}

#[derive(Debug, Clone, Default)]
pub struct MetadataImage {
    pub cluster_id: String,
    pub topics: BTreeMap<String, TopicMeta>,
    pub producer_id_end: i64,
}

impl MetadataImage {
    pub fn apply(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::ClusterCreated { cluster_id } => self.cluster_id = cluster_id.clone(),
            MetadataRecord::TopicCreated(t) => {
                self.topics.insert(t.name.clone(), t.clone());
            }
            MetadataRecord::PartitionsIncreased { name, total } => {
                if let Some(t) = self.topics.get_mut(name) {
                    t.partitions = (*total).max(t.partitions);
                }
            }
            MetadataRecord::TopicDeleted { name } => {
                self.topics.remove(name);
            }
            MetadataRecord::TopicConfigsSet { name, configs } => {
                if let Some(t) = self.topics.get_mut(name) {
                    t.configs = configs.clone();
                }
            }
            MetadataRecord::ProducerIdBlock { end } => self.producer_id_end = self.producer_id_end.max(*end),
        }
    }

    /// The records that rebuild this image from nothing (used to compact the log).
    pub fn snapshot(&self) -> Vec<MetadataRecord> {
        let mut out = vec![MetadataRecord::ClusterCreated { cluster_id: self.cluster_id.clone() }];
        out.extend(self.topics.values().cloned().map(MetadataRecord::TopicCreated));
        if self.producer_id_end > 0 {
            out.push(MetadataRecord::ProducerIdBlock { end: self.producer_id_end });
        }
        out
    }

    pub fn topic_by_id(&self, id: Uuid) -> Option<&TopicMeta> {
        self.topics.values().find(|t| t.id == id)
    }
}
