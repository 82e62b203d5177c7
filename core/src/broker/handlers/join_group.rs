//! JoinGroup: into the group's join barrier; answered when the rebalance completes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::str_bytes;
use crate::broker::state::BrokerState;
use crate::coordinator::{JoinRequest, Protocol};
use crate::protocol::ErrorCode;

pub async fn handle(state: &Arc<BrokerState>, version: i16, req: &JoinGroupRequest, client_id: Option<&str>, peer: SocketAddr) -> JoinGroupResponse {
    let group_id = req.group_id.as_str();
    let mut resp = JoinGroupResponse::default().with_generation_id(-1).with_member_id(req.member_id.clone());
    if group_id.is_empty() {
        return resp.with_error_code(ErrorCode::InvalidGroupId.code());
    }
    let request = JoinRequest {
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id: client_id.unwrap_or("").to_string(),
        client_host: format!("/{}", peer.ip()),
        session_timeout: Duration::from_millis(req.session_timeout_ms.max(0) as u64),
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalance_timeout: Duration::from_millis(if version >= 1 { req.rebalance_timeout_ms } else { req.session_timeout_ms }.max(0) as u64),
        protocol_type: req.protocol_type.to_string(),
        protocols: req.protocols.iter().map(|p| Protocol { name: p.name.to_string(), metadata: p.metadata.clone() }).collect(),
        require_known_member_id: version >= 4,
    };
    let result = state.groups.join(group_id, request).await;
    resp.error_code = result.error.map(|e| e.code()).unwrap_or(0);
    resp.generation_id = result.generation;
    resp.member_id = str_bytes(result.member_id);
    resp.leader = str_bytes(result.leader);
    resp.protocol_name = result.protocol_name.map(str_bytes);
    if version >= 7 {
        resp.protocol_type = result.protocol_type.map(str_bytes);
    }
    resp.members = result
        .members
        .into_iter()
        .map(|m| {
            JoinGroupResponseMember::default()
                .with_member_id(str_bytes(m.member_id))
                .with_group_instance_id(if version >= 5 { m.instance_id.map(str_bytes) } else { None })
                .with_metadata(m.metadata)
        })
        .collect();
    resp
}
