//! One module per API. `dispatch` routes a decoded request and encodes the answer.

mod allocate_producer_ids;
mod alter_configs;
mod alter_partition;
mod api_versions;
mod broker_heartbeat;
mod broker_registration;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_configs;
mod describe_groups;
mod fetch;
mod find_coordinator;
mod heartbeat;
mod init_producer_id;
mod join_group;
mod leave_group;
mod list_groups;
mod list_offsets;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod offset_for_leader_epoch;
mod produce;
mod sync_group;

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::RequestKind;
use kafka_protocol::protocol::{Encodable, HeaderVersion, StrBytes};

use crate::protocol::codec::{encode_response, Request};

use super::state::BrokerState;
use super::ShutdownSignal;

pub use api_versions::unsupported_version_answer;

/// What the connection does after a request.
pub enum Outcome {
    Respond(Bytes),
    /// A response frame in parts, written in order (Fetch: the records are the buffers read from the log).
    RespondParts(Vec<Bytes>),
    /// Answered later (acks=all waiting for fsync); the connection goes on reading and answers in order.
    Deferred(std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>),
    /// acks=0 produce: nothing is sent back.
    NoResponse,
    /// Close the connection, logging this reason.
    Close(String),
}

/// The controller APIs are answered only by the active controller: NOT_CONTROLLER elsewhere, so that the
/// sender looks the controller up again and retries there.
fn not_controller(state: &BrokerState) -> Option<crate::protocol::ErrorCode> {
    (state.metadata().controller_id() != Some(state.node_id)).then_some(crate::protocol::ErrorCode::NotController)
}

fn respond<R: Encodable + HeaderVersion>(req: &Request, body: &R) -> Outcome {
    match encode_response(req.correlation_id, req.version, body) {
        Ok(b) => Outcome::Respond(b),
        Err(e) => Outcome::Close(format!("cannot encode {:?} v{} response: {e}", req.api_key, req.version)),
    }
}

pub async fn dispatch(state: &Arc<BrokerState>, req: Request, peer: std::net::SocketAddr, shutdown: &ShutdownSignal) -> Outcome {
    let v = req.version;
    match &req.body {
        RequestKind::ApiVersions(_) => respond(&req, &api_versions::handle(v)),
        RequestKind::Metadata(r) => respond(&req, &metadata::handle(state, v, r)),
        RequestKind::BrokerRegistration(r) => respond(&req, &broker_registration::handle(state, r)),
        RequestKind::BrokerHeartbeat(r) => respond(&req, &broker_heartbeat::handle(state, r)),
        RequestKind::AlterPartition(r) => respond(&req, &alter_partition::handle(state, v, r)),
        RequestKind::AllocateProducerIds(r) => respond(&req, &allocate_producer_ids::handle(state, r)),
        RequestKind::Produce(_) => {
            let RequestKind::Produce(body) = req.body else { unreachable!() };
            let correlation_id = req.correlation_id;
            let encode = move |resp: kafka_protocol::messages::ProduceResponse| match encode_response(correlation_id, v, &resp) {
                Ok(b) => Outcome::Respond(b),
                Err(e) => Outcome::Close(format!("cannot encode Produce v{v} response: {e}")),
            };
            match produce::handle(state, v, body) {
                produce::ProduceOutcome::Respond(resp) => encode(resp),
                produce::ProduceOutcome::AfterSync(wait) => Outcome::Deferred(Box::pin(async move { encode(wait.finish().await) })),
                produce::ProduceOutcome::Silent => Outcome::NoResponse,
                produce::ProduceOutcome::Close(why) => Outcome::Close(why),
            }
        }
        RequestKind::Fetch(r) => {
            let resp = fetch::handle(state, v, r, shutdown).await;
            match crate::protocol::fetch_encode::encode_fetch_response(req.correlation_id, v, resp) {
                Ok(parts) => Outcome::RespondParts(parts),
                Err(e) => Outcome::Close(format!("cannot encode Fetch v{v} response: {e}")),
            }
        }
        RequestKind::ListOffsets(r) => respond(&req, &list_offsets::handle(state, v, r)),
        RequestKind::OffsetForLeaderEpoch(r) => respond(&req, &offset_for_leader_epoch::handle(state, r)),
        RequestKind::CreateTopics(r) => respond(&req, &create_topics::handle(state, v, r)),
        RequestKind::DeleteTopics(r) => respond(&req, &delete_topics::handle(state, v, r)),
        RequestKind::CreatePartitions(r) => respond(&req, &create_partitions::handle(state, r)),
        RequestKind::DescribeConfigs(r) => respond(&req, &describe_configs::handle(state, v, r)),
        RequestKind::AlterConfigs(r) => respond(&req, &alter_configs::handle_replace(state, r)),
        RequestKind::IncrementalAlterConfigs(r) => respond(&req, &alter_configs::handle_incremental(state, r)),
        RequestKind::InitProducerId(r) => respond(&req, &init_producer_id::handle(state, r)),
        RequestKind::DeleteRecords(r) => respond(&req, &delete_records::handle(state, r)),
        RequestKind::DescribeCluster(r) => respond(&req, &describe_cluster::handle(state, r)),
        RequestKind::FindCoordinator(r) => respond(&req, &find_coordinator::handle(state, v, r)),
        RequestKind::JoinGroup(r) => {
            // A join can wait for a whole rebalance: give way to shutdown, answering "coordinator gone" so the
            // client looks for it again.
            let mut stop = shutdown.clone();
            tokio::select! {
                resp = join_group::handle(state, v, r, req.client_id.as_deref(), peer) => respond(&req, &resp),
                _ = stop.changed() => respond(&req, &kafka_protocol::messages::JoinGroupResponse::default()
                    .with_error_code(crate::protocol::ErrorCode::CoordinatorNotAvailable.code()).with_generation_id(-1)),
            }
        }
        RequestKind::SyncGroup(r) => {
            let mut stop = shutdown.clone();
            tokio::select! {
                resp = sync_group::handle(state, v, r) => respond(&req, &resp),
                _ = stop.changed() => respond(&req, &kafka_protocol::messages::SyncGroupResponse::default()
                    .with_error_code(crate::protocol::ErrorCode::CoordinatorNotAvailable.code())),
            }
        }
        RequestKind::Heartbeat(r) => respond(&req, &heartbeat::handle(state, r)),
        RequestKind::LeaveGroup(r) => respond(&req, &leave_group::handle(state, v, r).await),
        RequestKind::OffsetCommit(r) => respond(&req, &offset_commit::handle(state, v, r).await),
        RequestKind::OffsetFetch(r) => respond(&req, &offset_fetch::handle(state, v, r)),
        RequestKind::DescribeGroups(r) => respond(&req, &describe_groups::handle(state, v, r)),
        RequestKind::ListGroups(r) => respond(&req, &list_groups::handle(state, v, r)),
        RequestKind::DeleteGroups(r) => respond(&req, &delete_groups::handle(state, r).await),
        RequestKind::OffsetDelete(r) => respond(&req, &offset_delete::handle(state, r).await),
        other => Outcome::Close(format!("no handler for {:?}", std::mem::discriminant(other))),
    }
}

pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
