//! CreateTopics.

use std::collections::HashSet;
use std::sync::Arc;

use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::str_bytes;
use crate::broker::state::BrokerState;
use crate::config::{effective_topic_config, Props, TOPIC_CONFIG_KEYS};
use crate::protocol::ErrorCode;

pub fn handle(state: &Arc<BrokerState>, version: i16, req: &CreateTopicsRequest) -> CreateTopicsResponse {
    let mut seen = HashSet::new();
    let duplicated: HashSet<&str> = req.topics.iter().map(|t| t.name.as_str()).filter(|n| !seen.insert(*n)).collect();
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let name = t.name.as_str();
            let mut r = CreatableTopicResult::default().with_name(t.name.clone());
            r.num_partitions = -1;
            r.replication_factor = -1;
            let result = if duplicated.contains(name) {
                Err((ErrorCode::InvalidRequest, format!("topic '{name}' appears more than once in the request")))
            } else {
                let configs: Props = t
                    .configs
                    .iter()
                    .filter_map(|c| c.value.as_ref().map(|v| (c.name.to_string(), v.to_string())))
                    .collect();
                if t.assignments.is_empty() {
                    state.create_topic(name, t.num_partitions, t.replication_factor, Vec::new(), configs, req.validate_only)
                } else {
                    manual_assignment(t).and_then(|a| state.create_topic(name, -1, -1, a, configs, req.validate_only))
                }
            };
            match result {
                Ok(meta) => {
                    r.topic_id = meta.id;
                    r.num_partitions = meta.partition_count();
                    r.replication_factor = meta.partitions.first().map_or(0, |p| p.replicas.len() as i16);
                    if version >= 5 {
                        r.configs = Some(
                            TOPIC_CONFIG_KEYS
                                .iter()
                                .map(|(k, _)| {
                                    let (value, is_default) = effective_topic_config(&state.config, &meta.configs, k);
                                    CreatableTopicConfigs::default()
                                        .with_name(str_bytes(*k))
                                        .with_value(Some(str_bytes(value)))
                                        .with_config_source(if is_default { 5 } else { 1 })
                                })
                                .collect(),
                        );
                    }
                }
                Err((code, msg)) => {
                    r.error_code = code.code();
                    r.error_message = Some(str_bytes(msg));
                }
            }
            r
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}

/// Explicit replica assignments (Kafka's rules): partition count and replication factor left at -1, one
/// assignment per partition, numbered from 0. The controller checks the brokers they name.
fn manual_assignment(t: &kafka_protocol::messages::create_topics_request::CreatableTopic) -> Result<Vec<Vec<i32>>, (ErrorCode, String)> {
    let name = t.name.as_str();
    if t.num_partitions != -1 || t.replication_factor != -1 {
        return Err((
            ErrorCode::InvalidRequest,
            format!("topic '{name}': both numPartitions or replicationFactor and replicasAssignments were set"),
        ));
    }
    let mut assignments = Vec::with_capacity(t.assignments.len());
    for (i, a) in t.assignments.iter().enumerate() {
        if a.partition_index != i as i32 {
            return Err((ErrorCode::InvalidReplicaAssignment, format!("topic '{name}': partitions must be numbered from 0 without gaps")));
        }
        assignments.push(a.broker_ids.iter().map(|b| b.0).collect());
    }
    Ok(assignments)
}
