//! Cluster metadata as a log of records applied to an in-memory image: topics, partition counts, topic
//! configs, the cluster id and the producer-id blocks handed out. The log lives in `<data>/cluster-metadata.log`.

pub mod cluster;
mod codec;
pub mod records;
mod image;
mod store;

pub use cluster::{BrokerEndpoint, ControllerChannel, IsrProposal, PartitionChange, PartitionState, NO_LEADER};
pub use image::{MetadataImage, MetadataRecord, TopicMeta};
pub use store::MetadataStore;
