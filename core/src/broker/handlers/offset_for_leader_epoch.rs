//! OffsetForLeaderEpoch (API 23): for each requested epoch, the largest epoch this leader knows at or below it and
//! the offset where that epoch ends (Kafka's `endOffsetForEpoch`). Followers that cannot use Fetch's
//! DivergingEpoch and clients validating their position after a leader change (KIP-320) ask it.

use std::sync::Arc;

use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::broker::state::BrokerState;
use crate::protocol::ErrorCode;
use crate::storage::{UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};

pub fn handle(state: &Arc<BrokerState>, req: &OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = EpochEndOffset::default().with_partition(p.partition);
                    match lookup(state, t.topic.as_str(), p.partition, p.current_leader_epoch, p.leader_epoch) {
                        Ok((epoch, end)) => r.with_leader_epoch(epoch).with_end_offset(end),
                        Err(code) => r.with_error_code(code.code()).with_leader_epoch(UNDEFINED_EPOCH).with_end_offset(UNDEFINED_EPOCH_OFFSET),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default().with_topic(t.topic.clone()).with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

fn lookup(state: &BrokerState, topic: &str, index: i32, current_leader_epoch: i32, epoch: i32) -> Result<(i32, i64), ErrorCode> {
    let partition = state.partition(topic, index).ok_or(ErrorCode::UnknownTopicOrPartition)?;
    partition.snapshot().check_leader(current_leader_epoch)?;
    let answer = partition.log().end_offset_for_epoch(epoch);
    Ok(answer)
}
