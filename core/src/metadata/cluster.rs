//! The contract between the metadata side (the controller and the replay of the metadata log) and the data side
//! (replicas, ISR, follower fetchers) of a cluster.
//!
//! The controller decides, per partition, who the replicas are, who leads, who is in sync and at which epochs; it
//! writes that as metadata records. Every broker replays the records into its image and hands each partition whose
//! state changed to the replica manager as a [`PartitionChange`]; the replica manager makes the local replica a
//! leader or a follower (or removes it). A leader that wants the ISR changed proposes it to the controller through
//! a [`ControllerChannel`] (Kafka's AlterPartition); the controller's answer comes back both as the reply and,
//! like every decision, as a later `PartitionChange` from the replay.

use std::future::Future;
use std::pin::Pin;

use uuid::Uuid;

use crate::protocol::ErrorCode;

/// "No leader": the partition is offline (no live replica in the ISR).
pub const NO_LEADER: i32 = -1;

/// A broker as it registered with the controller: where its clients and its peers reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoint {
    pub node_id: i32,
    pub host: String,
    pub port: u16,
    pub rack: Option<String>,
}

/// The controller's decision for one partition (Kafka's PartitionRecord / PartitionChangeRecord, applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// Replica order matters: the first live ISR member in this order is elected, the first one is preferred.
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// [`NO_LEADER`] when offline.
    pub leader: i32,
    /// Bumped on every leader change (and on reassignment), never otherwise.
    pub leader_epoch: i32,
    /// Bumped on every change of this state (ISR, leader, replicas); AlterPartition proposals name the epoch
    /// they were based on and are refused when it is stale.
    pub partition_epoch: i32,
    /// Reassignment in progress: replicas being added and removed (both empty otherwise).
    pub adding_replicas: Vec<i32>,
    pub removing_replicas: Vec<i32>,
}

impl PartitionState {
    /// The state of a partition on a single broker: it is the only replica and leads it.
    pub fn single(node_id: i32) -> Self {
        PartitionState {
            replicas: vec![node_id],
            isr: vec![node_id],
            leader: node_id,
            leader_epoch: 0,
            partition_epoch: 0,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        }
    }
}

/// One partition whose state changed in the metadata image, handed to the replica manager in log order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionChange {
    /// Created, or its leader / ISR / replicas / epochs changed, or its leader's endpoint changed. The receiver
    /// compares with what it has and acts only on what differs (an unchanged state is a no-op).
    Upsert {
        topic: String,
        topic_id: Uuid,
        partition: i32,
        state: PartitionState,
        /// The leader's registration, so a follower knows where to fetch from (None when offline or unknown).
        leader_endpoint: Option<BrokerEndpoint>,
    },
    /// The topic was deleted or this broker is no longer a replica: stop serving it and delete its log.
    Removed { topic: String, partition: i32 },
}

/// An ISR change a partition leader proposes (Kafka's AlterPartition request, one partition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrProposal {
    pub topic_id: Uuid,
    pub topic: String,
    pub partition: i32,
    /// The proposing leader and the epochs its view is based on.
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<i32>,
}

pub type ProposalFuture = Pin<Box<dyn Future<Output = Result<PartitionState, ErrorCode>> + Send>>;

/// How a partition leader reaches the active controller. The controller answers with the partition's state after
/// the change (which may differ from the proposal), or with Kafka's error: `FENCED_LEADER_EPOCH`,
/// `INVALID_UPDATE_VERSION` (stale partition epoch), `NOT_CONTROLLER`, `INELIGIBLE_REPLICA`, ...
pub trait ControllerChannel: Send + Sync {
    fn alter_partition(&self, proposal: IsrProposal) -> ProposalFuture;
}
