//! Heartbeat: keeps a member's session alive and tells it when to rejoin.

use std::sync::Arc;

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::broker::state::BrokerState;

pub fn handle(state: &Arc<BrokerState>, req: &HeartbeatRequest) -> HeartbeatResponse {
    let e = state.groups.heartbeat(req.group_id.as_str(), req.member_id.as_str(), req.group_instance_id.as_deref(), req.generation_id);
    HeartbeatResponse::default().with_error_code(e.map(|e| e.code()).unwrap_or(0))
}
