//! The metadata quorum on openraft: controllers are voters, the replicated log's entries are batches of Kafka
//! metadata records (their `ApiMessageAndVersion` bytes), and every node applies committed batches, in log
//! order, to its [`MetadataImage`] — the image is the Raft state machine, its snapshots are the image's records.
//!
//! Durability: the Raft log and the vote live in `<data>/__cluster_metadata-raft/` and are fsynced before
//! openraft is told they are written, so a voter never acknowledges an entry (nor forgets a vote) that a crash
//! could take back; a committed batch is on a majority of disks.
//!
//! Deviation from Kafka, written down as asked: KRaft's own RPCs (Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch,
//! FetchSnapshot) do not map onto openraft's (AppendEntries, Vote, InstallSnapshot: push-based replication,
//! different epochs and fields), so openraft's messages travel on the controller listener in a Streamlet-internal
//! framing ([`network`]): `[u32 length][u8 kind][JSON body]`, answered with `[u32 length][JSON result]`. Kafka
//! tools that speak KRaft's RPCs to a controller (none of the client-facing ones do) cannot talk to this quorum.
//! Metadata offsets are Streamlet's: the position of a record among all committed records (a function of the
//! log, so every node agrees), not the Raft log index, because a Raft entry holds a batch of records.

mod log_store;
pub mod network;
mod state_machine;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::{BasicNode, Config, Raft};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::image::MetadataImage;
use super::records::MetadataRecord;

pub use log_store::RaftLogStore;
pub use state_machine::{AppliedBatch, MetadataStateMachine};

pub type NodeId = u64;

/// One Raft entry: a batch of metadata records in Kafka's frame, applied atomically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBatch(pub Vec<Vec<u8>>);

openraft::declare_raft_types!(
    /// openraft's types for the metadata quorum. The answer to a write is the offset of its last record.
    pub TypeConfig:
        D = RecordBatch,
        R = i64,
);

pub type MetadataRaft = Raft<TypeConfig>;

pub const RAFT_DIR: &str = "__cluster_metadata-raft";

#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    /// This node is not the leader; the leader's node id when known (Kafka's NOT_CONTROLLER).
    #[error("not the active controller (leader: {0:?})")]
    NotLeader(Option<NodeId>),
    #[error("metadata quorum: {0}")]
    Other(String),
}

/// Election and heartbeat timing. Kafka's defaults are `controller.quorum.election.timeout.ms=1000`,
/// `controller.quorum.fetch.timeout.ms=2000`.
#[derive(Debug, Clone, Copy)]
pub struct QuorumTiming {
    pub heartbeat: Duration,
    pub election_min: Duration,
    pub election_max: Duration,
}

impl Default for QuorumTiming {
    fn default() -> Self {
        QuorumTiming { heartbeat: Duration::from_millis(250), election_min: Duration::from_millis(1000), election_max: Duration::from_millis(2000) }
    }
}

/// A running member of the quorum.
pub struct RaftQuorum {
    pub node_id: NodeId,
    raft: MetadataRaft,
    state: Arc<Mutex<state_machine::Applied>>,
    applied: watch::Receiver<i64>,
    server: tokio::task::JoinHandle<()>,
}

mod metadata_log;
pub use metadata_log::RaftMetadataLog;

fn other(e: impl std::fmt::Display) -> QuorumError {
    QuorumError::Other(e.to_string())
}

impl RaftQuorum {
    /// Starts this voter: opens its durable log and vote in `dir`, serves openraft's RPCs on `listener` (None: a
    /// single voter, which has no peer to talk to), and, on a fresh log, initializes the quorum with `voters`
    /// (node id -> `host:port` of its controller listener).
    /// Every voter may do so with the same voters: openraft accepts the same initial membership from each.
    pub async fn start(
        node_id: NodeId,
        dir: &Path,
        cluster_id: &str,
        listener: Option<TcpListener>,
        voters: BTreeMap<NodeId, String>,
        timing: QuorumTiming,
    ) -> Result<Self, QuorumError> {
        let raft_dir = dir.join(RAFT_DIR);
        std::fs::create_dir_all(&raft_dir).map_err(other)?;
        let log_store = RaftLogStore::open(&raft_dir).map_err(other)?;
        let fresh = log_store.is_empty();
        let (sm, state, applied) = MetadataStateMachine::open(&raft_dir, cluster_id).map_err(other)?;
        let config = Config {
            cluster_name: cluster_id.to_string(),
            heartbeat_interval: timing.heartbeat.as_millis() as u64,
            election_timeout_min: timing.election_min.as_millis() as u64,
            election_timeout_max: timing.election_max.as_millis() as u64,
            ..Default::default()
        };
        let config = Arc::new(config.validate().map_err(other)?);
        let raft = Raft::new(node_id, config, network::TcpNetwork, log_store, sm).await.map_err(other)?;
        let server = match listener {
            Some(l) => tokio::spawn(network::serve(l, raft.clone())),
            None => tokio::spawn(async {}),
        };
        if fresh {
            let members: BTreeMap<NodeId, BasicNode> = voters.into_iter().map(|(id, addr)| (id, BasicNode::new(addr))).collect();
            if let Err(e) = raft.initialize(members).await {
                // Another voter's initialization may already have reached this one: that is the same membership.
                tracing::debug!(error = %e, "quorum initialization");
            }
        }
        Ok(RaftQuorum { node_id, raft, state, applied, server })
    }

    /// Appends `records` as one batch; returns once committed (on a majority of disks) and applied here, with
    /// the offset of the last record.
    pub async fn append(&self, records: &[MetadataRecord]) -> Result<i64, QuorumError> {
        let batch = RecordBatch(records.iter().map(MetadataRecord::encode).collect());
        match self.raft.client_write(batch).await {
            Ok(resp) => Ok(resp.data),
            Err(e) => match e.forward_to_leader::<BasicNode>() {
                Some(f) => Err(QuorumError::NotLeader(f.leader_id)),
                None => Err(other(e)),
            },
        }
    }

    /// The current leader (the active controller), if one is known.
    pub async fn leader(&self) -> Option<NodeId> {
        self.raft.current_leader().await
    }

    /// A copy of this node's image as of the last applied batch.
    pub fn image(&self) -> MetadataImage {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).image.clone()
    }

    /// The records applied since `after` (an offset), for a replaying observer; empty when none.
    pub fn applied_since(&self, after: i64) -> Vec<AppliedBatch> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).since(after)
    }

    /// Waits until the record at `offset` is applied here.
    pub async fn wait_applied(&self, offset: i64, timeout: Duration) -> bool {
        let mut rx = self.applied.clone();
        tokio::time::timeout(timeout, rx.wait_for(|&o| o >= offset)).await.is_ok_and(|r| r.is_ok())
    }

    /// Stops this member: its Raft task and its listener. What it has on disk stays.
    pub async fn shutdown(self) {
        self.server.abort();
        let _ = self.raft.shutdown().await;
    }
}

impl Drop for RaftQuorum {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `controller.quorum.voters`: `id@host:port,...`.
pub fn parse_voters(v: &str) -> Result<BTreeMap<NodeId, String>, String> {
    let mut out = BTreeMap::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part.split_once('@').ok_or_else(|| format!("'{part}' is not id@host:port"))?;
        let id: NodeId = id.trim().parse().map_err(|_| format!("'{id}' in '{part}' is not a node id"))?;
        if !addr.contains(':') {
            return Err(format!("'{addr}' in '{part}' has no port"));
        }
        out.insert(id, addr.trim().to_string());
    }
    if out.is_empty() {
        return Err("no voters".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

pub(crate) fn io_other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}
