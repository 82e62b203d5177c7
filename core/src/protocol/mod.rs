//! Kafka's wire protocol: framing, the table of versions we serve, request decoding and response encoding on top
//! of the `kafka-protocol` crate, and the allocation guard that makes decoding hostile input safe.

pub mod alloc_guard;
pub mod codec;
pub mod fetch_encode;
pub mod frame;
pub mod versions;

pub use kafka_protocol::ResponseError as ErrorCode;
