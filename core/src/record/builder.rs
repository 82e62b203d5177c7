//! Builds one RecordBatch v2 from records, as a producer does.

use bytes::Bytes;

use super::header::{ATTR_TRANSACTIONAL, NO_PRODUCER_ID, NO_SEQUENCE};
use super::validate::batch_crc;
use super::varint::{put_varint, put_varlong, varlong_len};
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
    /// Room for the batch header (filled in by `build`), then the uncompressed records: an uncompressed batch
    /// is built in place, without copying the records again.
    records: Vec<u8>,
}

impl BatchBuilder {
    pub fn new(compression: Compression) -> Self {
        Self::with_capacity(compression, 0)
    }

    /// As `new`, reserving room for about `capacity` bytes of batch (a producer passes `batch.size`).
    pub fn with_capacity(compression: Compression, capacity: usize) -> Self {
        let mut records = Vec::with_capacity(capacity.max(HEADER_SIZE));
        records.resize(HEADER_SIZE, 0);
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
            records,
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
        self.records.len()
    }

    pub fn build(self) -> Result<Vec<u8>, RecordError> {
        if self.count == 0 {
            return Err(RecordError::InvalidRecord("a batch needs at least one record".into()));
        }
        let mut out = self.records;
        if self.compression != Compression::None {
            let payload = compress(self.compression, &out[HEADER_SIZE..])?;
            out.truncate(HEADER_SIZE);
            out.extend_from_slice(&payload);
        }
        let batch_length = (out.len() - LOG_OVERHEAD) as i32;
        let mut attributes = self.compression.id() as i16;
        if self.transactional {
            attributes |= ATTR_TRANSACTIONAL;
        }
        let mut header = Vec::with_capacity(HEADER_SIZE);
        header.extend_from_slice(&self.base_offset.to_be_bytes());
        header.extend_from_slice(&batch_length.to_be_bytes());
        header.extend_from_slice(&self.partition_leader_epoch.to_be_bytes());
        header.push(2);
        header.extend_from_slice(&0u32.to_be_bytes()); // crc, filled below
        header.extend_from_slice(&attributes.to_be_bytes());
        header.extend_from_slice(&(self.count - 1).to_be_bytes());
        header.extend_from_slice(&self.base_timestamp.unwrap_or(-1).to_be_bytes());
        header.extend_from_slice(&self.max_timestamp.to_be_bytes());
        header.extend_from_slice(&self.producer_id.to_be_bytes());
        header.extend_from_slice(&self.producer_epoch.to_be_bytes());
        header.extend_from_slice(&self.base_sequence.to_be_bytes());
        header.extend_from_slice(&self.count.to_be_bytes());
        debug_assert_eq!(header.len(), HEADER_SIZE);
        out[..HEADER_SIZE].copy_from_slice(&header);
        let crc = batch_crc(&out);
        out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        Ok(out)
    }
}

/// Appends one length-prefixed v2 record (attributes 0) to `out`. The body's length is computed first so the
/// record is written straight into `out` (no temporary buffer: for large values that copy and allocation
/// showed up as the producer's biggest cost).
pub(crate) fn encode_record(
    out: &mut Vec<u8>,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(String, Option<Bytes>)],
) {
    let bytes_len = |b: Option<&[u8]>| b.map_or(varlong_len(-1), |b| varlong_len(b.len() as i64) + b.len());
    let body_len = 1
        + varlong_len(timestamp_delta)
        + varlong_len(offset_delta as i64)
        + bytes_len(key)
        + bytes_len(value)
        + varlong_len(headers.len() as i64)
        + headers.iter().map(|(k, v)| bytes_len(Some(k.as_bytes())) + bytes_len(v.as_deref())).sum::<usize>();
    out.reserve(varlong_len(body_len as i64) + body_len);
    put_varint(out, body_len as i32);
    out.push(0); // record attributes: unused
    put_varlong(out, timestamp_delta);
    put_varint(out, offset_delta);
    put_bytes(out, key);
    put_bytes(out, value);
    put_varint(out, headers.len() as i32);
    for (k, v) in headers {
        put_bytes(out, Some(k.as_bytes()));
        put_bytes(out, v.as_deref());
    }
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
