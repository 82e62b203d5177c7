//! DeleteRecords: move a partition's log start offset forward (whole segments below it are removed).

use std::sync::Arc;

use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use crate::broker::state::BrokerState;
use crate::protocol::ErrorCode;

pub fn handle(state: &Arc<BrokerState>, req: &DeleteRecordsRequest) -> DeleteRecordsResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = DeleteRecordsPartitionResult::default().with_partition_index(p.partition_index);
                    match delete(state, t.name.as_str(), p.partition_index, p.offset) {
                        Ok(low) => r.low_watermark = low,
                        Err(code) => {
                            r.error_code = code.code();
                            r.low_watermark = -1;
                        }
                    }
                    r
                })
                .collect();
            DeleteRecordsTopicResult::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    if let Err(e) = state.logs.checkpoint_all() {
        tracing::error!(error = %e, "could not checkpoint log start offsets");
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

fn delete(state: &BrokerState, topic: &str, index: i32, offset: i64) -> Result<i64, ErrorCode> {
    let partition = state.partition(topic, index).ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let policy = partition.config().cleanup_policy;
    if policy.compacts() && !policy.deletes() {
        // Kafka refuses DeleteRecords on compact-only topics.
        return Err(ErrorCode::PolicyViolation);
    }
    // Only the leader deletes (followers follow its log start offset), and never past what is committed.
    let snap = partition.snapshot();
    if !snap.is_leader {
        return Err(ErrorCode::NotLeaderOrFollower);
    }
    let mut log = partition.log();
    let high_watermark = snap.high_watermark.min(log.log_end_offset());
    let target = if offset == -1 { high_watermark } else { offset };
    if target < 0 || target > high_watermark {
        return Err(ErrorCode::OffsetOutOfRange);
    }
    if target > log.log_start_offset() {
        log.delete_records_before(target).map_err(|e| match e {
            crate::storage::ReadError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            e => {
                tracing::error!(topic, partition = index, error = %e, "delete records failed");
                ErrorCode::KafkaStorageError
            }
        })?;
    }
    Ok(log.log_start_offset())
}
