//! SyncGroup: the leader hands in the assignment; every member gets its own.

use std::sync::Arc;

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::str_bytes;
use crate::broker::state::BrokerState;

pub async fn handle(state: &Arc<BrokerState>, version: i16, req: &SyncGroupRequest) -> SyncGroupResponse {
    let assignments = req.assignments.iter().map(|a| (a.member_id.to_string(), a.assignment.clone())).collect();
    let result = state
        .groups
        .sync(
            req.group_id.as_str(),
            req.member_id.as_str(),
            req.group_instance_id.as_deref(),
            req.generation_id,
            req.protocol_type.as_deref(),
            req.protocol_name.as_deref(),
            assignments,
        )
        .await;
    let mut resp = SyncGroupResponse::default()
        .with_error_code(result.error.map(|e| e.code()).unwrap_or(0))
        .with_assignment(result.assignment);
    if version >= 5 {
        resp.protocol_type = result.protocol_type.map(str_bytes);
        resp.protocol_name = result.protocol_name.map(str_bytes);
    }
    resp
}
