//! Errors of the record layer. Variants line up with the Kafka error codes the broker answers with.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    /// Torn, truncated or CRC-mismatching bytes (Kafka CORRUPT_MESSAGE).
    #[error("corrupt message: {0}")]
    CorruptMessage(String),
    /// Structurally valid bytes whose content violates the rules (Kafka INVALID_RECORD).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// One batch is larger than the topic's max.message.bytes (Kafka MESSAGE_TOO_LARGE).
    #[error("batch of {size} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge { size: usize, max: usize },
    /// Only magic 2 is supported (Kafka UNSUPPORTED_VERSION for old formats).
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    /// Attribute bits name a codec we do not know (Kafka UNSUPPORTED_COMPRESSION_TYPE).
    #[error("unsupported compression type {0}")]
    UnsupportedCompression(u8),
    /// A codec failed to compress or decompress.
    #[error("compression error: {0}")]
    Compression(String),
}
