//! RecordBatch v2 (magic 2): zero-copy header view, CRC-32C check, in-place stamping, builder, decoding.
//!
//! The broker's produce path only touches headers (`validate_produce_batches`, `stamp_batch`); record-level
//! decoding (`decode`) exists for the client consumer, tools and compaction.

mod builder;
mod compact;
mod compression;
mod decode;
mod error;
mod header;
mod validate;
mod varint;

pub use builder::{BatchBuilder, RecordHeaders};
pub use compact::{rebuild_batch, validate_keys_for_compaction};
pub use compression::{compress, decompress, Compression};
pub use decode::{batches, records, BatchIter, Record, RecordIter};
pub use error::RecordError;
pub use header::{
    BatchHeader, TimestampType, ATTR_CONTROL, ATTR_DELETE_HORIZON, ATTR_TIMESTAMP_TYPE, ATTR_TRANSACTIONAL, CRC_OFFSET,
    HEADER_SIZE, LOG_OVERHEAD, NO_PRODUCER_ID, NO_SEQUENCE,
};
pub use validate::{batch_crc, set_log_append_time, set_producer_fields, stamp_batch, validate_batch, validate_produce_batches};

#[cfg(test)]
mod tests;
