//! Record-level decoding, for consumers, tools and compaction (never for the produce path).

use bytes::Bytes;

use super::header::TimestampType;
use super::varint::{get_varint, get_varlong};
use super::{decompress, BatchHeader, Compression, RecordError, HEADER_SIZE, LOG_OVERHEAD};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Iterates over whole batches in a buffer of concatenated batches (a fetch response or a segment).
/// A trailing partial batch is silently ignored: Kafka brokers may cut a fetch response mid-batch.
/// Headers are not CRC-checked here; callers that need that use `validate_batch`.
pub struct BatchIter {
    buf: Bytes,
    pos: usize,
}

pub fn batches(buf: Bytes) -> BatchIter {
    BatchIter { buf, pos: 0 }
}

impl Iterator for BatchIter {
    type Item = Result<(BatchHeader, Bytes), RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.buf[self.pos..];
        if rest.len() < LOG_OVERHEAD {
            return None;
        }
        let len = i32::from_be_bytes(rest[8..12].try_into().unwrap());
        if len < (HEADER_SIZE - LOG_OVERHEAD) as i32 {
            self.pos = self.buf.len();
            return Some(Err(RecordError::CorruptMessage(format!("batch length {len} too small"))));
        }
        let size = len as usize + LOG_OVERHEAD;
        if rest.len() < size {
            return None;
        }
        let start = self.pos;
        self.pos += size;
        match BatchHeader::parse(rest) {
            Ok(h) => Some(Ok((h, self.buf.slice(start..start + size)))),
            Err(e) => {
                self.pos = self.buf.len();
                Some(Err(e))
            }
        }
    }
}

/// Iterates the records of one batch. Uncompressed batches yield slices of `batch`; compressed ones are
/// decompressed once into a new buffer which the yielded `Bytes` share.
pub struct RecordIter {
    header: BatchHeader,
    data: Bytes,
    pos: usize,
    remaining: i32,
}

pub fn records(batch: Bytes) -> Result<RecordIter, RecordError> {
    let header = BatchHeader::parse(&batch)?;
    let end = header.total_size();
    if batch.len() < end {
        return Err(RecordError::CorruptMessage("truncated batch".into()));
    }
    let body = batch.slice(HEADER_SIZE..end);
    let data = match header.compression()? {
        Compression::None => body,
        c => Bytes::from(decompress(c, &body)?),
    };
    Ok(RecordIter { header, data, pos: 0, remaining: header.records_count.max(0) })
}

impl RecordIter {
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    fn read_bytes(&mut self) -> Result<Option<Bytes>, RecordError> {
        let len = get_varint(&self.data, &mut self.pos)?;
        if len < 0 {
            return Ok(None);
        }
        let end = self.pos + len as usize;
        if end > self.data.len() {
            return Err(RecordError::CorruptMessage("record field overruns batch".into()));
        }
        let b = self.data.slice(self.pos..end);
        self.pos = end;
        Ok(Some(b))
    }

    fn decode_one(&mut self) -> Result<Record, RecordError> {
        let len = get_varint(&self.data, &mut self.pos)?;
        let end = self.pos + len.max(0) as usize;
        if len < 0 || end > self.data.len() {
            return Err(RecordError::CorruptMessage("record length overruns batch".into()));
        }
        self.pos += 1; // record attributes, unused in v2
        let ts_delta = get_varlong(&self.data, &mut self.pos)?;
        let offset_delta = get_varint(&self.data, &mut self.pos)?;
        let key = self.read_bytes()?;
        let value = self.read_bytes()?;
        let n_headers = get_varint(&self.data, &mut self.pos)?;
        if n_headers < 0 {
            return Err(RecordError::CorruptMessage("negative header count".into()));
        }
        let mut headers = Vec::with_capacity((n_headers as usize).min(64));
        for _ in 0..n_headers {
            let k = self.read_bytes()?.ok_or_else(|| RecordError::CorruptMessage("null header key".into()))?;
            let k = String::from_utf8(k.to_vec())
                .map_err(|_| RecordError::CorruptMessage("header key not UTF-8".into()))?;
            headers.push((k, self.read_bytes()?));
        }
        if self.pos != end {
            return Err(RecordError::CorruptMessage("record length does not match its fields".into()));
        }
        // With LogAppendTime the broker's time, stored as maxTimestamp, replaces every record's timestamp.
        let timestamp = match self.header.timestamp_type() {
            TimestampType::LogAppendTime => self.header.max_timestamp,
            TimestampType::CreateTime => self.header.base_timestamp + ts_delta,
        };
        Ok(Record { offset: self.header.base_offset + offset_delta as i64, timestamp, key, value, headers })
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let r = self.decode_one();
        if r.is_err() {
            self.remaining = 0;
        }
        Some(r)
    }
}
