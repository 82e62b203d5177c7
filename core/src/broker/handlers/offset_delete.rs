//! OffsetDelete: drop committed offsets of partitions the group no longer consumes.

use std::sync::Arc;

use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use crate::broker::state::BrokerState;
use crate::coordinator::TopicPartition;

pub async fn handle(state: &Arc<BrokerState>, req: &OffsetDeleteRequest) -> OffsetDeleteResponse {
    let partitions: Vec<TopicPartition> = req.topics.iter().flat_map(|t| t.partitions.iter().map(|p| (t.name.to_string(), p.partition_index))).collect();
    let mut resp = OffsetDeleteResponse::default();
    match state.groups.delete_offsets(req.group_id.as_str(), &partitions).await {
        Err(e) => resp.error_code = e.code(),
        Ok(answers) => {
            let mut answers = answers.into_iter();
            resp.topics = req
                .topics
                .iter()
                .map(|t| {
                    let partitions = t
                        .partitions
                        .iter()
                        .map(|p| {
                            let e = answers.next().flatten();
                            OffsetDeleteResponsePartition::default().with_partition_index(p.partition_index).with_error_code(e.map(|e| e.code()).unwrap_or(0))
                        })
                        .collect();
                    OffsetDeleteResponseTopic::default().with_name(t.name.clone()).with_partitions(partitions)
                })
                .collect();
        }
    }
    resp
}
