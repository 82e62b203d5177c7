//! Produce: check each batch's header and CRC (never the records), append, and acknowledge per `acks`.

use std::sync::Arc;

use bytes::BytesMut;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::str_bytes;
use crate::broker::partition::Partition;
use crate::broker::state::{is_internal_topic, now_ms, BrokerState};
use crate::protocol::ErrorCode;
use crate::record::{validate_keys_for_compaction, validate_produce_batches, RecordError};
use crate::storage::AppendError;

pub enum ProduceOutcome {
    Respond(ProduceResponse),
    /// acks=all: appended, but the answer waits until the data is on disk. The connection keeps reading (and
    /// appending) later requests meanwhile, so pipelined produces share one fsync.
    AfterSync(DurableWait),
    /// acks=0 and everything went well.
    Silent,
    /// acks=0 and something failed: Kafka closes the connection so the producer notices.
    Close(String),
}

/// The fsyncs an acks=all answer waits for.
pub struct DurableWait {
    responses: Vec<TopicProduceResponse>,
    to_sync: Vec<(Arc<Partition>, i64)>,
}

impl DurableWait {
    pub async fn finish(mut self) -> ProduceResponse {
        for (partition, upto) in &self.to_sync {
            if let Err(e) = partition.make_durable(*upto).await {
                tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "fsync failed");
                mark_storage_error(&mut self.responses, &partition.topic, partition.index, &e);
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
    let mut to_sync: Vec<(Arc<Partition>, i64)> = Vec::new();
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
                append_one(state, &name, pd.index, pd.records, acks, &mut to_sync)
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

    if acks == -1 && !to_sync.is_empty() {
        return ProduceOutcome::AfterSync(DurableWait { responses, to_sync });
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
    to_sync: &mut Vec<(Arc<Partition>, i64)>,
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
    match partition.append(&mut data, 0, now_ms()) {
        Ok(info) => {
            if acks == -1 && partition.fsync_on_ack() {
                to_sync.push((partition.clone(), info.last_offset + 1));
            }
            Ok((info.base_offset, info.log_append_time, info.log_start_offset))
        }
        Err(AppendError::Duplicate { base_offset, .. }) => {
            // A retry of a batch we already have: answer with its original offset, write nothing.
            Ok((base_offset, -1, partition.log().log_start_offset()))
        }
        Err(e) => Err(append_error(e)),
    }
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

fn mark_storage_error(responses: &mut [TopicProduceResponse], topic: &str, index: i32, e: &std::io::Error) {
    for t in responses.iter_mut().filter(|t| t.name.as_str() == topic) {
        for p in t.partition_responses.iter_mut().filter(|p| p.index == index && p.error_code == 0) {
            p.error_code = ErrorCode::KafkaStorageError.code();
            p.error_message = Some(str_bytes(format!("fsync failed: {e}")));
            p.base_offset = -1;
        }
    }
}
