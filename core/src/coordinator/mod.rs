//! The group coordinator (Kafka's classic consumer-group protocol) and committed offsets kept in the internal
//! compacted topic `__consumer_offsets`.

pub mod group;
mod group_coordinator;
pub mod records;

pub use group::{GroupConfig, GroupState, JoinMember, JoinRequest, JoinResult, Protocol, SyncResult};
pub use group_coordinator::{
    wall_ms, BoxFuture, GroupCoordinator, GroupDescription, MemberDescription, OffsetRecord, OffsetsLog, TopicPartition,
};
pub use records::{partition_for, OffsetValue};

#[cfg(test)]
mod tests;

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
