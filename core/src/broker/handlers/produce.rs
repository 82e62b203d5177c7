//! Produce: check each batch's header and CRC (never the records), append, and acknowledge per `acks`.

use std::sync::Arc;

use bytes::BytesMut;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::str_bytes;
use crate::broker::partition::{HwWaitError, LeaderAppendError, Partition};
use crate::broker::state::{is_internal_topic, now_ms, BrokerState};
use crate::protocol::ErrorCode;
use crate::record::{validate_keys_for_compaction, validate_produce_batches, RecordError};
use crate::storage::{AppendError, AppendInfo};

pub enum ProduceOutcome {
    Respond(ProduceResponse),
    /// acks=all: appended, but the answer waits until the data is on disk here and the high watermark covers
    /// it (every ISR member has it on disk). The connection keeps reading (and appending) later requests
    /// meanwhile, so pipelined produces share one fsync.
    AfterSync(DurableWait),
    /// acks=0 and everything went well.
    Silent,
    /// acks=0 and something failed: Kafka closes the connection so the producer notices.
    Close(String),
}

/// One partition an acks=all answer waits for: fsync up to `upto` (unless the topic relaxed it), then the HW
/// reaching `upto` in `leader_epoch`.
struct AckWait {
    partition: Arc<Partition>,
    upto: i64,
    leader_epoch: i32,
}

/// The fsyncs and high-watermark advances an acks=all answer waits for, bounded by the request's timeout.
pub struct DurableWait {
    responses: Vec<TopicProduceResponse>,
    waits: Vec<AckWait>,
    deadline: tokio::time::Instant,
}

impl DurableWait {
    pub async fn finish(mut self) -> ProduceResponse {
        for w in &self.waits {
            let p = &w.partition;
            if p.fsync_on_ack() {
                if let Err(e) = p.make_durable(w.upto).await {
                    tracing::error!(topic = %p.topic, partition = p.index, error = %e, "fsync failed");
                    mark_error(&mut self.responses, p, ErrorCode::KafkaStorageError, format!("fsync failed: {e}"));
                    continue;
                }
            }
            let failure = match p.wait_for_high_watermark(w.upto, w.leader_epoch, self.deadline).await {
                // Kafka's check once the HW is reached: the ISR it was reached with must still be large enough.
                Ok(snap) if (snap.maximal_isr_size as i32) < p.config().min_insync_replicas => Some((
                    ErrorCode::NotEnoughReplicasAfterAppend,
                    format!("the ISR shrank to {} below min.insync.replicas={} while waiting", snap.maximal_isr_size, p.config().min_insync_replicas),
                )),
                Ok(_) => None,
                Err(HwWaitError::TimedOut) => Some((ErrorCode::RequestTimedOut, "the in-sync replicas did not all acknowledge in time".to_string())),
                Err(HwWaitError::NotLeader) => Some((ErrorCode::NotLeaderOrFollower, "leadership moved while waiting for the replicas".to_string())),
            };
            if let Some((code, msg)) = failure {
                mark_error(&mut self.responses, p, code, msg);
            }
        }
        ProduceResponse::default().with_responses(self.responses)
    }
}

type PartitionResult = Result<(i64, i64, i64), (ErrorCode, String)>;

/// Validates and appends every partition's batches now, in request order; acks=all answers are deferred.
pub fn handle(state: &Arc<BrokerState>, _version: i16, req: ProduceRequest) -> ProduceOutcome {
    let acks = req.acks;
    let mut responses = Vec::with_capacity(req.topic_data.len());
    let mut waits: Vec<AckWait> = Vec::new();
    let mut first_error: Option<String> = None;
    for topic in req.topic_data {
        let name = topic.name.as_str().to_string();
        let mut partition_responses = Vec::with_capacity(topic.partition_data.len());
        for pd in topic.partition_data {
            let result: PartitionResult = if ![0, 1, -1].contains(&acks) {
                Err((ErrorCode::InvalidRequiredAcks, format!("acks must be 0, 1 or -1 (all), got {acks}")))
            } else if req.transactional_id.is_some() {
                Err((ErrorCode::InvalidTxnState, "transactional produce is not supported by this broker yet".into()))
            } else {
                append_one(state, &name, pd.index, pd.records, acks, &mut waits)
            };
            let mut r = PartitionProduceResponse::default().with_index(pd.index);
            match result {
                Ok((base_offset, log_append_time, log_start)) => {
                    r.base_offset = base_offset;
                    r.log_append_time_ms = log_append_time;
                    r.log_start_offset = log_start;
                }
                Err((code, msg)) => {
                    tracing::debug!(topic = %name, partition = pd.index, error = ?code, "produce refused: {msg}");
                    first_error.get_or_insert_with(|| format!("{name}-{}: {msg}", pd.index));
                    r.error_code = code.code();
                    r.base_offset = -1;
                    r.log_append_time_ms = -1;
                    r.log_start_offset = -1;
                    r.error_message = Some(str_bytes(msg));
                }
            }
            partition_responses.push(r);
        }
        responses.push(TopicProduceResponse::default().with_name(topic.name).with_partition_responses(partition_responses));
    }

    if acks == -1 && !waits.is_empty() {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(req.timeout_ms.max(0) as u64);
        return ProduceOutcome::AfterSync(DurableWait { responses, waits, deadline });
    }
    if acks == 0 {
        return match first_error {
            None => ProduceOutcome::Silent,
            Some(e) => ProduceOutcome::Close(format!("acks=0 produce failed: {e}")),
        };
    }
    ProduceOutcome::Respond(ProduceResponse::default().with_responses(responses))
}

fn append_one(
    state: &BrokerState,
    topic: &str,
    index: i32,
    records: Option<bytes::Bytes>,
    acks: i16,
    waits: &mut Vec<AckWait>,
) -> PartitionResult {
    if is_internal_topic(topic) {
        return Err((ErrorCode::InvalidTopicException, format!("cannot produce to internal topic {topic}")));
    }
    let partition = state
        .partition(topic, index)
        .ok_or_else(|| (ErrorCode::UnknownTopicOrPartition, format!("this broker does not host {topic}-{index}")))?;
    let records = records.filter(|r| !r.is_empty()).ok_or((ErrorCode::InvalidRecord, "no record batches".to_string()))?;
    let config = partition.config();
    validate_produce_batches(&records, config.max_message_bytes).map_err(record_error)?;
    if config.cleanup_policy.compacts() {
        // Only compacted topics pay for decoding records: every record needs a key there.
        validate_keys_for_compaction(&records).map_err(record_error)?;
    }
    // The batches are stamped in place; the request frame is shared, so this is the one copy the path makes.
    let mut data = BytesMut::from(&records[..]);
    // acks=all is refused up front when the ISR is below min.insync.replicas (Kafka checks before appending).
    let min_isr = (acks == -1).then_some(config.min_insync_replicas);
    let (info, upto) = match partition.append_as_leader(&mut data, now_ms(), min_isr) {
        Ok(info) => (info, info.last_offset + 1),
        Err(LeaderAppendError::Append(AppendError::Duplicate { base_offset, last_offset })) => {
            // A retry of a batch we already have: answer with its original offset, write nothing (and, for
            // acks=all, wait until the original is committed).
            let info = AppendInfo { base_offset, last_offset, log_append_time: -1, log_start_offset: partition.log().log_start_offset(), record_count: 0 };
            (info, last_offset + 1)
        }
        Err(LeaderAppendError::NotLeader) => {
            return Err((ErrorCode::NotLeaderOrFollower, format!("this broker does not lead {topic}-{index}")))
        }
        Err(LeaderAppendError::NotEnoughReplicas { isr, min }) => {
            return Err((ErrorCode::NotEnoughReplicas, format!("{topic}-{index} has {isr} in-sync replicas, min.insync.replicas is {min}")))
        }
        Err(LeaderAppendError::Append(e)) => return Err(append_error(e)),
    };
    if acks == -1 {
        waits.push(AckWait { partition: partition.clone(), upto, leader_epoch: partition.leader_epoch() });
    } else {
        // Nobody waits, but the HW only covers durable data: let a group-committed fsync catch it up.
        partition.schedule_flush();
    }
    Ok((info.base_offset, info.log_append_time, info.log_start_offset))
}

fn record_error(e: RecordError) -> (ErrorCode, String) {
    let code = match &e {
        RecordError::CorruptMessage(_) => ErrorCode::CorruptMessage,
        RecordError::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
        RecordError::UnsupportedMagic(_) => ErrorCode::UnsupportedForMessageFormat,
        _ => ErrorCode::InvalidRecord,
    };
    (code, e.to_string())
}

fn append_error(e: AppendError) -> (ErrorCode, String) {
    let code = match &e {
        AppendError::OutOfOrderSequence { .. } => ErrorCode::OutOfOrderSequenceNumber,
        AppendError::InvalidProducerEpoch { .. } => ErrorCode::InvalidProducerEpoch,
        AppendError::Record(r) => return record_error(r.clone()),
        AppendError::Io(_) => ErrorCode::KafkaStorageError,
        // Answered as a success by the caller; kept total so no path can panic.
        AppendError::Duplicate { .. } => ErrorCode::DuplicateSequenceNumber,
    };
    if code == ErrorCode::KafkaStorageError {
        tracing::error!(error = %e, "append failed");
    }
    (code, e.to_string())
}

fn mark_error(responses: &mut [TopicProduceResponse], partition: &Partition, code: ErrorCode, msg: String) {
    for t in responses.iter_mut().filter(|t| t.name.as_str() == partition.topic) {
        for p in t.partition_responses.iter_mut().filter(|p| p.index == partition.index && p.error_code == 0) {
            p.error_code = code.code();
            p.error_message = Some(str_bytes(msg.clone()));
            p.base_offset = -1;
        }
    }
}
