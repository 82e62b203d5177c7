//! LeaveGroup: one member (v0-2) or a batch of members by id or instance id (v3+).

use std::sync::Arc;

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::broker::state::BrokerState;

pub async fn handle(state: &Arc<BrokerState>, version: i16, req: &LeaveGroupRequest) -> LeaveGroupResponse {
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        req.members.iter().map(|m| (m.member_id.to_string(), m.group_instance_id.as_ref().map(|s| s.to_string()))).collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    let mut resp = LeaveGroupResponse::default();
    match state.groups.leave(req.group_id.as_str(), &members).await {
        Err(e) => resp.error_code = e.code(),
        Ok(answers) if version >= 3 => {
            resp.members = req
                .members
                .iter()
                .zip(answers)
                .map(|(m, e)| {
                    MemberResponse::default()
                        .with_member_id(m.member_id.clone())
                        .with_group_instance_id(m.group_instance_id.clone())
                        .with_error_code(e.map(|e| e.code()).unwrap_or(0))
                })
                .collect();
        }
        Ok(answers) => resp.error_code = answers.first().copied().flatten().map(|e| e.code()).unwrap_or(0),
    }
    resp
}
