//! Cluster metadata: Kafka's metadata records in a log ([`log::MetadataLog`]), replayed into an in-memory image
//! ([`MetadataImage`]) on every node; the controller ([`controller::Controller`]) decides what to append. The
//! single-node case is the one-voter log in `<data>/__cluster_metadata.log`.

pub mod cluster;
pub mod controller;
mod image;
mod legacy;
pub mod quorum;
pub mod log;
pub mod records;
mod store;

pub use cluster::{BrokerEndpoint, ControllerChannel, IsrProposal, PartitionChange, PartitionState, NO_LEADER};
pub use image::{BrokerRegistration, MetadataImage, TopicMeta, Touched};
pub use records::MetadataRecord;
pub use store::{MetadataStore, QuorumMember, META_PROPERTIES};
