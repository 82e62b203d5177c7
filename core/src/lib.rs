//! Streamlet: an embeddable, Kafka-protocol-compatible event log.
//!
//! The wire protocol and the on-disk format are Apache Kafka's. See `shared/DESIGN.md` for the layering:
//! `broker` -> `storage`, `metadata`, `record`, `protocol`.

pub mod record;
pub mod storage;
