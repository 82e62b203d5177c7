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
