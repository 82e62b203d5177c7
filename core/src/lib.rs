//! Streamlet: an embeddable, Kafka-protocol-compatible event log.
//!
//! The wire protocol and the on-disk format are Apache Kafka's. See `shared/DESIGN.md` for the layering:
//! `broker` -> `storage`, `metadata`, `record`, `protocol`.

pub mod broker;
pub mod client;
pub mod coordinator;
pub mod config;
pub mod metadata;
pub mod protocol;
pub mod record;
pub mod replication;
pub mod storage;

#[cfg(feature = "guard-alloc")]
#[global_allocator]
static GLOBAL: protocol::alloc_guard::GuardedAllocator = protocol::alloc_guard::GuardedAllocator;

pub use broker::{Broker, BrokerBuilder, Cluster, ClusterBuilder};
pub use config::{BrokerConfig, ConfigError};
