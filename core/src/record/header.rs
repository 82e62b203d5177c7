//! The fixed 61-byte RecordBatch v2 header, parsed into a small `Copy` struct.
//!
//! Parsing copies 61 bytes; that is cheaper than carrying a borrowed view through the broker and lets a header
//! outlive the buffer it came from (segments keep the last one for indexing).

use super::{Compression, RecordError};

/// baseOffset(8) + batchLength(4): the part of a batch not counted by `batchLength`.
pub const LOG_OVERHEAD: usize = 12;
pub const HEADER_SIZE: usize = 61;
pub const CRC_OFFSET: usize = 17;
/// The CRC covers everything from `attributes` to the end of the batch.
pub const ATTRIBUTES_OFFSET: usize = 21;
pub const MAGIC_OFFSET: usize = 16;
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub const MAX_TIMESTAMP_OFFSET: usize = 35;

pub const ATTR_COMPRESSION_MASK: i16 = 0x07;
pub const ATTR_TIMESTAMP_TYPE: i16 = 0x08;
pub const ATTR_TRANSACTIONAL: i16 = 0x10;
pub const ATTR_CONTROL: i16 = 0x20;
pub const ATTR_DELETE_HORIZON: i16 = 0x40;

pub const NO_PRODUCER_ID: i64 = -1;
pub const NO_SEQUENCE: i32 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().unwrap())
}

impl BatchHeader {
    /// Parses the header at the start of `buf`. Checks only that 61 bytes are there and that magic is 2;
    /// length, CRC and count checks belong to `validate_batch`.
    pub fn parse(buf: &[u8]) -> Result<Self, RecordError> {
        if buf.len() < MAGIC_OFFSET + 1 {
            return Err(RecordError::CorruptMessage("truncated batch header".into()));
        }
        let magic = buf[MAGIC_OFFSET] as i8;
        if magic != 2 {
            return Err(RecordError::UnsupportedMagic(magic));
        }
        if buf.len() < HEADER_SIZE {
            return Err(RecordError::CorruptMessage("truncated batch header".into()));
        }
        Ok(BatchHeader {
            base_offset: be_i64(buf, 0),
            batch_length: be_i32(buf, 8),
            partition_leader_epoch: be_i32(buf, 12),
            magic,
            crc: be_i32(buf, 17) as u32,
            attributes: be_i16(buf, 21),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, 35),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            records_count: be_i32(buf, 57),
        })
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }
    /// Offset the next batch in the log starts at.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }
    /// Whole batch size on disk / on the wire.
    pub fn total_size(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD
    }
    /// The codec bits; `Err` for values 5..7, which Kafka does not define.
    pub fn compression(&self) -> Result<Compression, RecordError> {
        Compression::from_attributes(self.attributes)
    }
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & ATTR_TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & ATTR_DELETE_HORIZON != 0
    }
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
    /// Last sequence number of the batch; sequences wrap from i32::MAX to 0 as in Kafka.
    pub fn last_sequence(&self) -> i32 {
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// Kafka's `DefaultRecordBatch.incrementSequence`: sequences live in 0..=i32::MAX and wrap to 0.
pub fn increment_sequence(seq: i32, by: i32) -> i32 {
    if seq == NO_SEQUENCE {
        return NO_SEQUENCE;
    }
    if seq > i32::MAX - by {
        by - (i32::MAX - seq) - 1
    } else {
        seq + by
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_wraps_like_kafka() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(increment_sequence(NO_SEQUENCE, 3), NO_SEQUENCE);
    }

    #[test]
    fn short_or_old_magic_rejected() {
        assert!(matches!(BatchHeader::parse(&[0u8; 10]), Err(RecordError::CorruptMessage(_))));
        let mut b = [0u8; 61];
        b[16] = 1;
        assert_eq!(BatchHeader::parse(&b), Err(RecordError::UnsupportedMagic(1)));
    }
}
