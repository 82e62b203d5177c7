//! ListOffsets: earliest (-2), latest (-1), max timestamp (-3), or the first offset at/after a timestamp.

use std::sync::Arc;

use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::broker::state::BrokerState;
use crate::protocol::ErrorCode;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

pub fn handle(state: &Arc<BrokerState>, version: i16, req: &ListOffsetsRequest) -> ListOffsetsResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = ListOffsetsPartitionResponse::default().with_partition_index(p.partition_index);
                    let (code, ts, offset) = lookup(state, version, t.name.as_str(), p.partition_index, p.timestamp, p.current_leader_epoch, req.replica_id.0 >= 0);
                    r.error_code = code.map(|c| c.code()).unwrap_or(0);
                    r.timestamp = ts;
                    r.offset = offset;
                    // The field exists from v4; the codec refuses a non-default value before that.
                    let epoch = state.partition(t.name.as_str(), p.partition_index).map(|p| p.leader_epoch()).unwrap_or(-1);
                    r.leader_epoch = if code.is_none() && version >= 4 { epoch } else { -1 };
                    r
                })
                .collect();
            ListOffsetsTopicResponse::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

fn lookup(
    state: &BrokerState,
    version: i16,
    topic: &str,
    index: i32,
    timestamp: i64,
    current_leader_epoch: i32,
    from_replica: bool,
) -> (Option<ErrorCode>, i64, i64) {
    let Some(partition) = state.partition(topic, index) else {
        return (Some(ErrorCode::UnknownTopicOrPartition), -1, -1);
    };
    // Only the leader answers. Consumers see committed offsets only: "latest" is the high watermark; a broker
    // (replica id >= 0) is told the log end, as Kafka does.
    let snap = partition.snapshot();
    if let Err(code) = snap.check_leader(current_leader_epoch) {
        return (Some(code), -1, -1);
    }
    let log = partition.log();
    // Kafka's `lastFetchableOffset`: a lookup by time never answers an offset a consumer could not fetch.
    let fetchable = if from_replica { log.log_end_offset() } else { snap.high_watermark };
    let visible = |found: (i64, i64)| if found.1 < fetchable { (None, found.0, found.1) } else { (None, -1, -1) };
    match timestamp {
        LATEST if from_replica => (None, -1, log.log_end_offset()),
        LATEST => (None, -1, snap.high_watermark),
        EARLIEST => (None, -1, log.log_start_offset()),
        MAX_TIMESTAMP if version >= 7 => match log.max_timestamp() {
            Ok(Some((ts, offset))) => visible((ts, offset)),
            Ok(None) => (None, -1, -1),
            Err(e) => storage_failure(topic, index, e),
        },
        ts if ts >= 0 => match log.offset_for_timestamp(ts) {
            Ok(Some((offset, found_ts))) => visible((found_ts, offset)),
            Ok(None) => (None, -1, -1),
            Err(e) => storage_failure(topic, index, e),
        },
        _ => (Some(ErrorCode::InvalidRequest), -1, -1),
    }
}

fn storage_failure(topic: &str, index: i32, e: std::io::Error) -> (Option<ErrorCode>, i64, i64) {
    tracing::error!(topic, partition = index, error = %e, "time index lookup failed");
    (Some(ErrorCode::KafkaStorageError), -1, -1)
}
