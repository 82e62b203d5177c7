//! Topic lifecycle: create (explicitly or on first use), add partitions, delete, and bringing the logs in line
//! with the metadata image on start.


use crate::config::{self, Props};
use crate::metadata::cluster::{PartitionChange, PartitionState};
use crate::metadata::{MetadataRecord, TopicMeta};
use crate::protocol::ErrorCode;
use crate::storage::LogConfig;

use super::state::BrokerState;

/// An error answer for one topic: Kafka's code and a message for the client.
pub type TopicError = (ErrorCode, String);

const MAX_TOPIC_NAME: usize = 249;

pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
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

/// acks=all fsyncs unless flush.messages / flush.ms were set, at topic or broker level, to relax it.
pub(super) fn fsync_on_ack(state: &BrokerState, topic_props: &Props) -> bool {
    let keys = ["flush.messages", "flush.ms"];
    let broker_keys = ["log.flush.interval.messages", "log.flush.interval.ms"];
    !keys.iter().any(|k| topic_props.contains_key(*k)) && !broker_keys.iter().any(|k| state.config.props.contains_key(*k))
}

impl BrokerState {
    pub fn log_config(&self, topic_props: &Props) -> Result<LogConfig, config::ConfigError> {
        config::topic_log_config(&self.config.log_defaults, topic_props)
    }

    /// Creates a topic. With `validate_only` nothing is written.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: Props,
        validate_only: bool,
    ) -> Result<TopicMeta, TopicError> {
        validate_topic_name(name)?;
        let partitions = if partitions == -1 { self.config.num_partitions } else { partitions };
        if partitions <= 0 {
            return Err((ErrorCode::InvalidPartitions, format!("number of partitions must be at least 1, got {partitions}")));
        }
        let rf = if replication_factor == -1 { self.config.default_replication_factor } else { replication_factor };
        if rf <= 0 || rf > 1 {
            return Err((
                ErrorCode::InvalidReplicationFactor,
                format!("replication factor {rf} is not possible: this cluster has 1 broker"),
            ));
        }
        let log_config =
            self.log_config(&configs).map_err(|e| (ErrorCode::InvalidConfig, e.to_string()))?;
        let mut metadata = self.metadata();
        if metadata.image().topics.contains_key(name) {
            return Err((ErrorCode::TopicAlreadyExists, format!("topic '{name}' already exists")));
        }
        let meta = TopicMeta { name: name.to_string(), id: uuid::Uuid::new_v4(), partitions, configs };
        if validate_only {
            return Ok(meta);
        }
        metadata.append(MetadataRecord::TopicCreated(meta.clone())).map_err(storage_error)?;
        drop(metadata);
        self.open_partitions(&meta, 0, &log_config).map_err(storage_error)?;
        tracing::info!(topic = name, partitions, "created topic");
        Ok(meta)
    }

    /// Returns the topic, creating it with the broker defaults when auto-creation is on.
    pub fn ensure_topic(&self, name: &str, allow_auto_create: bool) -> Result<TopicMeta, TopicError> {
        if let Some(t) = self.metadata().image().topics.get(name) {
            return Ok(t.clone());
        }
        if !(allow_auto_create && self.config.auto_create_topics) {
            return Err((ErrorCode::UnknownTopicOrPartition, format!("unknown topic '{name}'")));
        }
        match self.create_topic(name, -1, -1, Props::new(), false) {
            Err((ErrorCode::TopicAlreadyExists, _)) => {
                self.metadata().image().topics.get(name).cloned().ok_or((ErrorCode::UnknownTopicOrPartition, name.to_string()))
            }
            other => other,
        }
    }

    pub fn create_partitions(&self, name: &str, total: i32, validate_only: bool) -> Result<(), TopicError> {
        let mut metadata = self.metadata();
        let Some(topic) = metadata.image().topics.get(name).cloned() else {
            return Err((ErrorCode::UnknownTopicOrPartition, format!("unknown topic '{name}'")));
        };
        if total < topic.partitions {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("topic '{name}' has {} partitions; the count can only grow, not shrink to {total}", topic.partitions),
            ));
        }
        if total == topic.partitions {
            return Err((ErrorCode::InvalidPartitions, format!("topic '{name}' already has {total} partitions")));
        }
        if validate_only {
            return Ok(());
        }
        let log_config = self.log_config(&topic.configs).map_err(|e| (ErrorCode::InvalidConfig, e.to_string()))?;
        metadata.append(MetadataRecord::PartitionsIncreased { name: name.to_string(), total }).map_err(storage_error)?;
        drop(metadata);
        let grown = TopicMeta { partitions: total, ..topic.clone() };
        self.open_partitions(&grown, topic.partitions, &log_config).map_err(storage_error)?;
        Ok(())
    }

    /// Replaces a topic's configs (the whole set of overrides) and applies them to its live partitions.
    pub fn set_topic_configs(&self, name: &str, configs: Props, validate_only: bool) -> Result<(), TopicError> {
        let log_config = self.log_config(&configs).map_err(|e| (ErrorCode::InvalidConfig, e.to_string()))?;
        let mut metadata = self.metadata();
        if !metadata.image().topics.contains_key(name) {
            return Err((ErrorCode::UnknownTopicOrPartition, format!("unknown topic '{name}'")));
        }
        if validate_only {
            return Ok(());
        }
        metadata.append(MetadataRecord::TopicConfigsSet { name: name.to_string(), configs: configs.clone() }).map_err(storage_error)?;
        drop(metadata);
        let fsync = fsync_on_ack(self, &configs);
        for p in self.topic_partitions(name) {
            p.set_config(log_config.clone(), fsync);
        }
        tracing::info!(topic = name, "altered topic configs");
        Ok(())
    }

    pub fn delete_topic(&self, name: &str) -> Result<TopicMeta, TopicError> {
        if !self.config.delete_topic_enable {
            return Err((ErrorCode::TopicDeletionDisabled, "delete.topic.enable is false".into()));
        }
        let mut metadata = self.metadata();
        let Some(topic) = metadata.image().topics.get(name).cloned() else {
            return Err((ErrorCode::UnknownTopicOrPartition, format!("unknown topic '{name}'")));
        };
        metadata.append(MetadataRecord::TopicDeleted { name: name.to_string() }).map_err(storage_error)?;
        drop(metadata);
        // The replica manager stops fetching, wakes parked fetches (they answer UNKNOWN_TOPIC_OR_PARTITION) and
        // deletes the logs; a directory it cannot delete goes on the next start, the metadata no longer lists it.
        let removed = self.topic_partitions(name).iter().map(|p| PartitionChange::Removed { topic: name.to_string(), partition: p.index }).collect();
        self.apply_partition_changes(removed);
        tracing::info!(topic = name, "deleted topic");
        Ok(topic)
    }

    /// Opens (creating when missing) partitions `from..meta.partitions` and publishes them: on a single broker
    /// this broker is their only replica and leads them (`PartitionState::single`).
    pub(crate) fn open_partitions(&self, meta: &TopicMeta, from: i32, _log_config: &LogConfig) -> std::io::Result<()> {
        let changes = (from..meta.partitions)
            .map(|p| PartitionChange::Upsert {
                topic: meta.name.clone(),
                topic_id: meta.id,
                partition: p,
                state: PartitionState::single(self.node_id),
                leader_endpoint: None,
            })
            .collect();
        self.apply_partition_changes(changes);
        match (from..meta.partitions).find(|p| self.partition(&meta.name, *p).is_none()) {
            Some(p) => Err(std::io::Error::other(format!("cannot open the log of {}-{p}", meta.name))),
            None => Ok(()),
        }
    }
}

fn storage_error(e: std::io::Error) -> TopicError {
    tracing::error!(error = %e, "metadata or log write failed");
    (ErrorCode::KafkaStorageError, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        assert!(validate_topic_name("orders.v1_x-y").is_ok());
        for bad in ["", ".", "..", "a b", "ü", &"x".repeat(250)] {
            assert_eq!(validate_topic_name(bad).unwrap_err().0, ErrorCode::InvalidTopicException, "{bad}");
        }
    }
}
