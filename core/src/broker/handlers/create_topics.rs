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
                let (partitions, rf) = if t.assignments.is_empty() {
                    (t.num_partitions, t.replication_factor)
                } else {
                    manual_assignment(state, t)
                };
                state.create_topic(name, partitions, rf, configs, req.validate_only)
            };
            match result {
                Ok(meta) => {
                    r.topic_id = meta.id;
                    r.num_partitions = meta.partitions;
                    r.replication_factor = 1;
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

/// Explicit replica assignments are accepted when they name only this broker, one replica per partition.
fn manual_assignment(state: &BrokerState, t: &kafka_protocol::messages::create_topics_request::CreatableTopic) -> (i32, i16) {
    let valid = t.num_partitions == -1
        && t.replication_factor == -1
        && t.assignments.iter().enumerate().all(|(i, a)| a.partition_index == i as i32)
        && t.assignments.iter().all(|a| a.broker_ids.iter().all(|b| b.0 == state.node_id));
    if !valid {
        // create_topic reports this as an invalid replication factor / partition count.
        return (if t.num_partitions == -1 { 0 } else { t.num_partitions }, 0);
    }
    let rf = t.assignments.iter().map(|a| a.broker_ids.len()).max().unwrap_or(0) as i16;
    (t.assignments.len() as i32, rf)
}
