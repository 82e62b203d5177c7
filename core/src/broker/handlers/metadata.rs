//! Metadata: brokers, topics and partitions from the metadata image (leaders, replicas, ISR, leader epochs),
//! auto-creating topics that are asked for by name.

use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::str_bytes;
use crate::broker::state::{is_internal_topic, BrokerState};
use crate::metadata::{TopicMeta, NO_LEADER};
use crate::protocol::ErrorCode;

pub fn handle(state: &Arc<BrokerState>, version: i16, req: &MetadataRequest) -> MetadataResponse {
    let mut resp = MetadataResponse::default();
    resp.brokers = state
        .live_broker_endpoints()
        .into_iter()
        .map(|e| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(e.node_id))
                .with_host(str_bytes(e.host))
                .with_port(i32::from(e.port))
                .with_rack(e.rack.map(str_bytes))
        })
        .collect();
    {
        let m = state.metadata();
        let img = m.image();
        resp.controller_id = BrokerId(m.controller_id().unwrap_or(-1));
        resp.cluster_id = Some(str_bytes(img.cluster_id.clone()));
    }

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
    let fenced: Vec<i32> = state.metadata().image().brokers.values().filter(|b| b.fenced).map(|b| b.id).collect();
    let ids = |v: &[i32]| v.iter().map(|&b| BrokerId(b)).collect::<Vec<_>>();
    let partitions = t
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let offline: Vec<i32> = p.replicas.iter().copied().filter(|r| fenced.contains(r)).collect();
            MetadataResponsePartition::default()
                .with_error_code(if p.leader == NO_LEADER { ErrorCode::LeaderNotAvailable.code() } else { 0 })
                .with_partition_index(i as i32)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(ids(&p.replicas))
                .with_isr_nodes(ids(&p.isr))
                .with_offline_replicas(ids(&offline))
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(str_bytes(t.name.clone()))))
        .with_topic_id(t.id)
        .with_is_internal(is_internal_topic(&t.name))
        .with_partitions(partitions)
}
