//! Builds one RecordBatch v2 from records, as a producer does.

use bytes::Bytes;

use super::header::{ATTR_TRANSACTIONAL, NO_PRODUCER_ID, NO_SEQUENCE};
use super::validate::batch_crc;
use super::varint::{put_varint, put_varlong};
use super::{compress, Compression, RecordError, CRC_OFFSET, HEADER_SIZE, LOG_OVERHEAD};

pub type RecordHeaders = Vec<(String, Option<Bytes>)>;

#[derive(Debug, Clone)]
pub struct BatchBuilder {
    compression: Compression,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    count: i32,
    /// Uncompressed record bodies; compressed as one block in `build`.
    records: Vec<u8>,
}

impl BatchBuilder {
    pub fn new(compression: Compression) -> Self {
        BatchBuilder {
            compression,
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: -1,
            base_sequence: NO_SEQUENCE,
            transactional: false,
            base_timestamp: None,
            max_timestamp: -1,
            count: 0,
            records: Vec::new(),
        }
    }

    /// Idempotent/transactional producer identity and the sequence of the first record.
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Producers send 0; the broker overwrites it. Useful for tools and tests that write logs directly.
    pub fn base_offset(mut self, base_offset: i64) -> Self {
        self.base_offset = base_offset;
        self
    }

    /// Appends a record; its offset delta is its position in the batch. The first record's timestamp becomes
    /// the batch's base timestamp, as in the Java client.
    pub fn append(&mut self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[(String, Option<Bytes>)]) {
        let base_ts = *self.base_timestamp.get_or_insert(timestamp);
        self.max_timestamp = self.max_timestamp.max(timestamp);
        encode_record(&mut self.records, timestamp - base_ts, self.count, key, value, headers);
        self.count += 1;
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Uncompressed size so far; producers use it to decide when a batch is full.
    pub fn estimated_size(&self) -> usize {
        HEADER_SIZE + self.records.len()
    }

    pub fn build(self) -> Result<Vec<u8>, RecordError> {
        if self.count == 0 {
            return Err(RecordError::InvalidRecord("a batch needs at least one record".into()));
        }
        let payload = compress(self.compression, &self.records)?;
        let mut out = Vec::with_capacity(HEADER_SIZE + payload.len());
        let batch_length = (HEADER_SIZE - LOG_OVERHEAD + payload.len()) as i32;
        let mut attributes = self.compression.id() as i16;
        if self.transactional {
            attributes |= ATTR_TRANSACTIONAL;
        }
        out.extend_from_slice(&self.base_offset.to_be_bytes());
        out.extend_from_slice(&batch_length.to_be_bytes());
        out.extend_from_slice(&self.partition_leader_epoch.to_be_bytes());
        out.push(2);
        out.extend_from_slice(&0u32.to_be_bytes()); // crc, filled below
        out.extend_from_slice(&attributes.to_be_bytes());
        out.extend_from_slice(&(self.count - 1).to_be_bytes());
        out.extend_from_slice(&self.base_timestamp.unwrap_or(-1).to_be_bytes());
        out.extend_from_slice(&self.max_timestamp.to_be_bytes());
        out.extend_from_slice(&self.producer_id.to_be_bytes());
        out.extend_from_slice(&self.producer_epoch.to_be_bytes());
        out.extend_from_slice(&self.base_sequence.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&payload);
        let crc = batch_crc(&out);
        out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        Ok(out)
    }
}

/// Appends one length-prefixed v2 record (attributes 0) to `out`.
pub(crate) fn encode_record(
    out: &mut Vec<u8>,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(String, Option<Bytes>)],
) {
    let mut body = Vec::with_capacity(16 + key.map_or(0, |k| k.len()) + value.map_or(0, |v| v.len()));
    body.push(0); // record attributes: unused
    put_varlong(&mut body, timestamp_delta);
    put_varint(&mut body, offset_delta);
    put_bytes(&mut body, key);
    put_bytes(&mut body, value);
    put_varint(&mut body, headers.len() as i32);
    for (k, v) in headers {
        put_bytes(&mut body, Some(k.as_bytes()));
        put_bytes(&mut body, v.as_deref());
    }
    put_varint(out, body.len() as i32);
    out.extend_from_slice(&body);
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}
