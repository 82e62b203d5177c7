//! OffsetCommit: validated against the group's generation, written durably to `__consumer_offsets`.

use std::sync::Arc;

use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use crate::broker::state::{now_ms, BrokerState};
use crate::coordinator::{OffsetValue, TopicPartition};
use crate::protocol::ErrorCode;

pub async fn handle(state: &Arc<BrokerState>, version: i16, req: &OffsetCommitRequest) -> OffsetCommitResponse {
    let max_metadata = state.config.groups.offset_metadata_max_bytes;
    let now = now_ms();
    // Per-partition checks first; what passes is committed together.
    let mut answers: Vec<Vec<Option<ErrorCode>>> = Vec::new();
    let mut to_commit: Vec<(TopicPartition, OffsetValue)> = Vec::new();
    for t in &req.topics {
        let mut row = Vec::new();
        for p in &t.partitions {
            let metadata = p.committed_metadata.as_ref().map(|m| m.to_string()).unwrap_or_default();
            let err = if state.partition(t.name.as_str(), p.partition_index).is_none() {
                Some(ErrorCode::UnknownTopicOrPartition)
            } else if metadata.len() > max_metadata {
                Some(ErrorCode::OffsetMetadataTooLarge)
            } else {
                to_commit.push((
                    (t.name.to_string(), p.partition_index),
                    OffsetValue {
                        offset: p.committed_offset,
                        leader_epoch: if version >= 6 { p.committed_leader_epoch } else { -1 },
                        metadata,
                        commit_timestamp: now,
                    },
                ));
                None
            };
            row.push(err);
        }
        answers.push(row);
    }
    let group_error = if req.group_id.is_empty() {
        Some(ErrorCode::InvalidGroupId)
    } else {
        state
            .groups
            .commit(req.group_id.as_str(), req.member_id.as_str(), req.group_instance_id.as_deref(), req.generation_id_or_member_epoch, to_commit)
            .await
            .err()
    };
    let topics = req
        .topics
        .iter()
        .zip(answers)
        .map(|(t, row)| {
            let partitions = t
                .partitions
                .iter()
                .zip(row)
                .map(|(p, e)| {
                    let e = e.or(group_error);
                    OffsetCommitResponsePartition::default().with_partition_index(p.partition_index).with_error_code(e.map(|e| e.code()).unwrap_or(0))
                })
                .collect();
            OffsetCommitResponseTopic::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}
