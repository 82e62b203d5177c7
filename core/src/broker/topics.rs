//! Topic lifecycle: create (explicitly or on first use), add partitions, alter configs, delete — each a
//! controller operation whose records the replica manager then acts on.

use crate::config::{self, Props};
use crate::metadata::controller::{Controller, ControllerResult, NewTopic};
use crate::metadata::{MetadataImage, TopicMeta};
use crate::protocol::ErrorCode;
use crate::storage::LogConfig;

use super::state::BrokerState;

/// An error answer for one topic: Kafka's code and a message for the client.
pub type TopicError = (ErrorCode, String);

pub use crate::metadata::controller::validate_topic_name;

/// acks=all fsyncs unless flush.messages / flush.ms were set, at topic or broker level, to relax it.
pub(crate) fn fsync_on_ack(state: &BrokerState, topic_props: &Props) -> bool {
    let keys = ["flush.messages", "flush.ms"];
    let broker_keys = ["log.flush.interval.messages", "log.flush.interval.ms"];
    !keys.iter().any(|k| topic_props.contains_key(*k)) && !broker_keys.iter().any(|k| state.config.props.contains_key(*k))
}

impl BrokerState {
    pub fn log_config(&self, topic_props: &Props) -> Result<LogConfig, config::ConfigError> {
        config::topic_log_config(&self.config.log_defaults, topic_props)
    }

    /// Runs a controller operation on this node's metadata, then hands the partitions its records changed to the
    /// replica manager (after the metadata lock is released: the replica manager reads the image).
    pub(crate) fn submit<T>(
        &self,
        op: impl FnOnce(&mut Controller, &MetadataImage, std::time::Instant) -> ControllerResult<T>,
    ) -> Result<T, TopicError> {
        let (answer, changes) = {
            let mut metadata = self.metadata();
            if !metadata.is_active_controller() {
                let active = metadata.controller_id().map_or("unknown".to_string(), |c| c.to_string());
                return Err((ErrorCode::NotController, format!("this node is not the active controller (node {active} is)")));
            }
            let (answer, touched) = metadata.submit(op).map_err(storage_error)?;
            (answer, metadata.image().partition_changes(&touched, &self.listener_name))
        };
        self.apply_partition_changes(changes);
        Ok(answer)
    }

    /// Creates a topic (placed by the controller, or on `assignments`: one replica list per partition). With
    /// `validate_only` nothing is written.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        assignments: Vec<Vec<i32>>,
        configs: Props,
        validate_only: bool,
    ) -> Result<TopicMeta, TopicError> {
        let topic = NewTopic { name: name.to_string(), partitions, replication_factor, assignments, configs };
        let mut answers = self.submit(|c, img, _| c.create_topics(img, vec![topic], validate_only))?;
        answers.pop().unwrap_or_else(|| Err((ErrorCode::UnknownServerError, "no answer".into())))
    }

    /// Returns the topic, creating it with the broker defaults when auto-creation is on.
    pub fn ensure_topic(&self, name: &str, allow_auto_create: bool) -> Result<TopicMeta, TopicError> {
        if let Some(t) = self.metadata().image().topics.get(name) {
            return Ok(t.clone());
        }
        if !(allow_auto_create && self.config.auto_create_topics) {
            return Err((ErrorCode::UnknownTopicOrPartition, format!("unknown topic '{name}'")));
        }
        match self.create_topic(name, -1, -1, Vec::new(), Props::new(), false) {
            Err((ErrorCode::TopicAlreadyExists, _)) => {
                self.metadata().image().topics.get(name).cloned().ok_or((ErrorCode::UnknownTopicOrPartition, name.to_string()))
            }
            other => other,
        }
    }

    pub fn create_partitions(&self, name: &str, total: i32, validate_only: bool) -> Result<(), TopicError> {
        self.submit(|c, img, _| c.create_partitions(img, name, total, validate_only))?
    }

    /// Replaces a topic's configs (the whole set of overrides) and applies them to its live partitions.
    pub fn set_topic_configs(&self, name: &str, configs: Props, validate_only: bool) -> Result<(), TopicError> {
        let log_config = self.log_config(&configs).map_err(|e| (ErrorCode::InvalidConfig, e.to_string()))?;
        self.submit(|c, img, _| c.set_topic_configs(img, name, &configs, validate_only))??;
        if validate_only {
            return Ok(());
        }
        let fsync = fsync_on_ack(self, &configs);
        for p in self.topic_partitions(name) {
            p.set_config(log_config.clone(), fsync);
        }
        tracing::info!(topic = name, "altered topic configs");
        Ok(())
    }

    pub fn delete_topic(&self, name: &str) -> Result<TopicMeta, TopicError> {
        let names = [name.to_string()];
        let mut answers = self.submit(|c, img, _| c.delete_topics(img, &names))?;
        let answer = answers.pop().unwrap_or_else(|| Err((ErrorCode::UnknownServerError, "no answer".into())));
        if answer.is_ok() {
            tracing::info!(topic = name, "deleted topic");
        }
        answer
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
