//! Metadata: brokers, topics and partitions, auto-creating topics that are asked for by name.

use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::str_bytes;
use crate::broker::state::{is_internal_topic, BrokerState};
use crate::metadata::TopicMeta;
use crate::protocol::ErrorCode;

pub fn handle(state: &Arc<BrokerState>, version: i16, req: &MetadataRequest) -> MetadataResponse {
    let mut resp = MetadataResponse::default();
    resp.brokers = vec![MetadataResponseBroker::default()
        .with_node_id(BrokerId(state.node_id))
        .with_host(str_bytes(state.advertised_host.clone()))
        .with_port(state.advertised_port)];
    resp.controller_id = BrokerId(state.node_id);
    resp.cluster_id = Some(str_bytes(state.metadata().image().cluster_id.clone()));

    // v0: an empty list means every topic; v1+: null means every topic.
    let all = match &req.topics {
        None => true,
        Some(t) => t.is_empty() && version == 0,
    };
    if all {
        let topics: Vec<TopicMeta> = state.metadata().image().topics.values().cloned().collect();
        resp.topics = topics.iter().map(|t| topic_entry(state, t)).collect();
        return resp;
    }
    let auto_create = version < 4 || req.allow_auto_topic_creation;
    for requested in req.topics.as_deref().unwrap_or_default() {
        let entry = match &requested.name {
            Some(name) => match state.ensure_topic(name.as_str(), auto_create) {
                Ok(t) => topic_entry(state, &t),
                Err((code, _)) => MetadataResponseTopic::default()
                    .with_name(Some(name.clone()))
                    .with_error_code(code.code()),
            },
            None => {
                let found = state.metadata().image().topic_by_id(requested.topic_id).cloned();
                match found {
                    Some(t) => topic_entry(state, &t),
                    None => MetadataResponseTopic::default()
                        .with_topic_id(requested.topic_id)
                        .with_error_code(ErrorCode::UnknownTopicId.code()),
                }
            }
        };
        resp.topics.push(entry);
    }
    resp
}

fn topic_entry(state: &BrokerState, t: &TopicMeta) -> MetadataResponseTopic {
    let node = BrokerId(state.node_id);
    let partitions = (0..t.partitions)
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p)
                .with_leader_id(node)
                .with_leader_epoch(0)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(str_bytes(t.name.clone()))))
        .with_topic_id(t.id)
        .with_is_internal(is_internal_topic(&t.name))
        .with_partitions(partitions)
}
