//! This broker's link to the active controller: registration at start, a heartbeat every
//! `broker.heartbeat.interval.ms` (which also unfences it once caught up), and AlterPartition proposals through
//! [`ControllerChannel`].
//!
//! On this node the controller runs in the same process (the one-voter quorum, combined `broker,controller`
//! roles), so the link is a direct call into the metadata store rather than Kafka's BrokerRegistration /
//! BrokerHeartbeat / AlterPartition RPCs; the controller's answers and records are the same. The node that hosts
//! the active controller also runs its periodic duties here: fencing brokers whose session expired and, with
//! `auto.leader.rebalance.enable`, moving leadership back to preferred replicas.

use std::sync::{Arc, Weak};
use std::time::Duration;

use uuid::Uuid;

use crate::metadata::controller::{Heartbeat, RegisterBroker};
use crate::metadata::records::BrokerEndpoint;
use crate::metadata::{ControllerChannel, IsrProposal, PartitionState};
use crate::metadata::cluster::ProposalFuture;
use crate::protocol::ErrorCode;

use super::state::BrokerState;
use super::ShutdownSignal;

/// Kafka's `SecurityProtocol.PLAINTEXT` id.
const PLAINTEXT: i16 = 0;

pub struct LocalControllerChannel {
    pub(crate) state: Weak<BrokerState>,
}

impl ControllerChannel for LocalControllerChannel {
    fn alter_partition(&self, proposal: IsrProposal) -> ProposalFuture {
        let state = self.state.clone();
        Box::pin(async move {
            let state = state.upgrade().ok_or(ErrorCode::BrokerNotAvailable)?;
            let answer = tokio::task::spawn_blocking(move || -> Result<PartitionState, ErrorCode> {
                let epoch = state.metadata().broker_epoch.ok_or(ErrorCode::BrokerNotAvailable)?;
                state.submit(|c, img, _| c.alter_partition(img, epoch, &proposal)).map_err(|(code, _)| code)?
            })
            .await;
            answer.unwrap_or(Err(ErrorCode::UnknownServerError))
        })
    }
}

/// Registers this broker with the controller and heartbeats until it is unfenced (immediate in process: its
/// replay is the controller's own image).
pub(crate) fn register(state: &BrokerState) -> Result<(), (ErrorCode, String)> {
    let req = RegisterBroker {
        broker_id: state.node_id,
        incarnation_id: Uuid::new_v4(),
        endpoints: vec![BrokerEndpoint {
            name: state.listener_name.clone(),
            host: state.advertised_host.clone(),
            port: u16::try_from(state.advertised_port).unwrap_or(0),
            security_protocol: PLAINTEXT,
        }],
        rack: state.config.props.get("broker.rack").cloned(),
    };
    let epoch = state.submit(|c, img, now| c.register_broker(img, req, now))??;
    state.metadata().broker_epoch = Some(epoch);
    let reply = heartbeat(state, false)?;
    if reply.is_fenced {
        tracing::warn!("this broker is still fenced after registering");
    }
    Ok(())
}

fn heartbeat(state: &BrokerState, want_shutdown: bool) -> Result<crate::metadata::controller::HeartbeatReply, (ErrorCode, String)> {
    let (epoch, offset) = {
        let m = state.metadata();
        (m.broker_epoch.unwrap_or(-1), m.image().offset)
    };
    let hb = Heartbeat { broker_id: state.node_id, broker_epoch: epoch, metadata_offset: offset, want_fence: false, want_shutdown };
    state.submit(|c, img, now| c.heartbeat(img, hb, now))?
}

/// Heartbeats and the controller's periodic duties, until shutdown.
pub(crate) async fn run(state: Arc<BrokerState>, mut shutdown: ShutdownSignal) {
    let c = &state.config.cluster;
    let mut heartbeat_timer = tokio::time::interval(Duration::from_millis(c.broker_heartbeat_interval_ms));
    let mut rebalance_timer = tokio::time::interval(Duration::from_millis(c.leader_imbalance_check_interval_ms));
    heartbeat_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    rebalance_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = heartbeat_timer.tick() => {
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err((code, msg)) = heartbeat(&s, false) {
                        tracing::warn!(error = ?code, "heartbeat refused: {msg}");
                    }
                    if let Err(e) = s.run_controller_task(|c, img, now| c.fence_stale_brokers(img, now)) {
                        tracing::error!(error = %e, "fencing expired brokers failed");
                    }
                }).await;
            }
            _ = rebalance_timer.tick(), if state.config.cluster.auto_leader_rebalance => {
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err(e) = s.run_controller_task(|c, img, _| c.rebalance_preferred_leaders(img)) {
                        tracing::error!(error = %e, "preferred leader election failed");
                    }
                }).await;
            }
        }
    }
}

impl BrokerState {
    fn run_controller_task(
        &self,
        op: impl FnOnce(&mut crate::metadata::controller::Controller, &crate::metadata::MetadataImage, std::time::Instant) -> Vec<crate::metadata::MetadataRecord>,
    ) -> std::io::Result<()> {
        let changes = {
            let mut m = self.metadata();
            let touched = m.submit_records(op)?;
            m.image().partition_changes(&touched, &self.listener_name)
        };
        self.apply_partition_changes(changes);
        Ok(())
    }
}
