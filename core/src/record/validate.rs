//! Header-only checks and in-place edits on the produce path. Nothing here decodes or decompresses records:
//! the broker stores what the producer sent, byte for byte, apart from the fields Kafka lets it rewrite.

use super::header::{ATTRIBUTES_OFFSET, ATTR_TIMESTAMP_TYPE, MAX_TIMESTAMP_OFFSET, PARTITION_LEADER_EPOCH_OFFSET};
use super::{BatchHeader, RecordError, CRC_OFFSET, HEADER_SIZE, LOG_OVERHEAD};

/// CRC-32C of a whole batch's covered range (attributes to end), i.e. the value its crc field must hold.
pub fn batch_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..])
}

/// Checks one batch at the start of `buf` (length, presence, CRC, counts) and returns its header.
/// Used both for producer input and for log recovery, where the same properties define "intact".
pub fn validate_batch(buf: &[u8], max_batch_bytes: usize) -> Result<BatchHeader, RecordError> {
    if buf.len() < LOG_OVERHEAD {
        return Err(RecordError::CorruptMessage("truncated batch length".into()));
    }
    let batch_length = i32::from_be_bytes(buf[8..12].try_into().unwrap());
    if batch_length < (HEADER_SIZE - LOG_OVERHEAD) as i32 {
        return Err(RecordError::CorruptMessage(format!("batch length {batch_length} too small")));
    }
    let size = batch_length as usize + LOG_OVERHEAD;
    if size > max_batch_bytes {
        return Err(RecordError::MessageTooLarge { size, max: max_batch_bytes });
    }
    let header = BatchHeader::parse(buf)?;
    if buf.len() < size {
        return Err(RecordError::CorruptMessage(format!("batch of {size} bytes truncated at {}", buf.len())));
    }
    let computed = batch_crc(&buf[..size]);
    if computed != header.crc {
        return Err(RecordError::CorruptMessage(format!(
            "crc mismatch: stored {:#010x}, computed {computed:#010x}",
            header.crc
        )));
    }
    if header.records_count <= 0 {
        return Err(RecordError::InvalidRecord("batch has no records".into()));
    }
    if header.last_offset_delta < 0 || header.records_count as i64 != header.last_offset_delta as i64 + 1 {
        return Err(RecordError::InvalidRecord(format!(
            "records count {} does not match last offset delta {}",
            header.records_count, header.last_offset_delta
        )));
    }
    header.compression()?;
    Ok(header)
}

/// Walks the concatenated batches of one produce partition and checks each (see `validate_batch`).
/// Control batches are refused as in Kafka: only the transaction coordinator writes markers.
pub fn validate_produce_batches(buf: &[u8], max_batch_bytes: usize) -> Result<Vec<BatchHeader>, RecordError> {
    if buf.is_empty() {
        return Err(RecordError::InvalidRecord("produce request carries no batches".into()));
    }
    let mut headers = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let header = validate_batch(&buf[pos..], max_batch_bytes)?;
        if header.is_control() {
            return Err(RecordError::InvalidRecord("clients may not write control batches".into()));
        }
        pos += header.total_size();
        headers.push(header);
    }
    Ok(headers)
}

/// Assigns the batch's base offset and partition leader epoch. Both lie outside the CRC's range, which is
/// why Kafka can stamp without recomputing the checksum.
pub fn stamp_batch(batch: &mut [u8], base_offset: i64, leader_epoch: i32) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    batch[PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4]
        .copy_from_slice(&leader_epoch.to_be_bytes());
}

/// Rewrites the producer id, epoch and base sequence of one whole batch (a producer re-sending it under a new
/// epoch) and recomputes the CRC, which covers them.
pub fn set_producer_fields(batch: &mut [u8], producer_id: i64, producer_epoch: i16, base_sequence: i32) {
    const PRODUCER_ID_OFFSET: usize = 43;
    batch[PRODUCER_ID_OFFSET..PRODUCER_ID_OFFSET + 8].copy_from_slice(&producer_id.to_be_bytes());
    batch[PRODUCER_ID_OFFSET + 8..PRODUCER_ID_OFFSET + 10].copy_from_slice(&producer_epoch.to_be_bytes());
    batch[PRODUCER_ID_OFFSET + 10..PRODUCER_ID_OFFSET + 14].copy_from_slice(&base_sequence.to_be_bytes());
    let crc = batch_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Switches a batch to LogAppendTime (`message.timestamp.type=LogAppendTime`): sets the timestamp-type bit and
/// maxTimestamp, which readers then use for every record. Both are CRC-covered, so the CRC is recomputed.
/// `batch` must hold exactly one whole batch.
pub fn set_log_append_time(batch: &mut [u8], timestamp: i64) {
    let attrs = i16::from_be_bytes(batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].try_into().unwrap());
    batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&(attrs | ATTR_TIMESTAMP_TYPE).to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&timestamp.to_be_bytes());
    let crc = batch_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}
