//! Streamlet's Kafka client: connections, metadata, producer, consumer and admin. It speaks only the Kafka
//! protocol (no broker code), so it works against Streamlet and Apache Kafka alike.

pub mod admin;
pub mod assignor;
pub mod cluster;
pub mod connection;
pub mod consumer;
pub mod error;
pub mod partitioner;
pub mod producer;

pub use error::ClientError;

/// The text of a caught panic, for the log line of an interceptor that panicked.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into())
}
