//! Errors of the partition log, shaped so the broker can map each to a Kafka error code.

use std::io;

use thiserror::Error;

use crate::record::RecordError;

#[derive(Debug, Error)]
pub enum AppendError {
    /// The batch repeats one of the producer's last five batches: nothing was written, and the broker answers
    /// success with the offsets the batch got the first time.
    #[error("duplicate batch, originally at offsets {base_offset}..={last_offset}")]
    Duplicate { base_offset: i64, last_offset: i64 },
    /// OUT_OF_ORDER_SEQUENCE_NUMBER
    #[error("out of order sequence for producer {producer_id}: expected {expected}, got {found}")]
    OutOfOrderSequence { producer_id: i64, expected: i32, found: i32 },
    /// INVALID_PRODUCER_EPOCH (what Kafka >= 2.7 answers instead of PRODUCER_FENCED on produce)
    #[error("producer {producer_id} epoch {found} is older than current epoch {current}")]
    InvalidProducerEpoch { producer_id: i64, current: i16, found: i16 },
    /// The bytes are not acceptable batches (CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE, ...).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// Disk failure (KAFKA_STORAGE_ERROR). The log was truncated back to its previous end.
    #[error("log write failed: {0}")]
    Io(#[from] io::Error),
}

#[derive(Debug, Error)]
pub enum ReadError {
    /// OFFSET_OUT_OF_RANGE
    #[error("offset {offset} outside the log range [{log_start}, {log_end}]")]
    OffsetOutOfRange { offset: i64, log_start: i64, log_end: i64 },
    #[error("log read failed: {0}")]
    Io(#[from] io::Error),
}
