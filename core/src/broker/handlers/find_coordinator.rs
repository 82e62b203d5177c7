//! FindCoordinator: this broker coordinates every group and transactional id. The first lookup creates
//! `__consumer_offsets`, as in Kafka.

use std::sync::Arc;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::broker::offsets_topic::OffsetsTopic;
use crate::broker::state::BrokerState;
use crate::protocol::ErrorCode;

const KEY_GROUP: i8 = 0;
const KEY_TRANSACTION: i8 = 1;

pub fn handle(state: &Arc<BrokerState>, version: i16, req: &FindCoordinatorRequest) -> FindCoordinatorResponse {
    let error = if req.key_type != KEY_GROUP && req.key_type != KEY_TRANSACTION {
        Some(ErrorCode::InvalidRequest)
    } else if req.key_type == KEY_GROUP {
        let g = &state.config.groups;
        OffsetsTopic::ensure_created(state, g.offsets_partitions, g.offsets_segment_bytes).err()
    } else {
        None
    };
    let node = BrokerId(state.node_id);
    let host = str_bytes(state.advertised_host.clone());
    let code = error.map(|e| e.code()).unwrap_or(0);
    let mut resp = FindCoordinatorResponse::default();
    if version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .iter()
            .map(|k: &StrBytes| {
                let mut c = Coordinator::default().with_key(k.clone()).with_error_code(code);
                if error.is_none() {
                    c = c.with_node_id(node).with_host(host.clone()).with_port(state.advertised_port);
                } else {
                    c = c.with_node_id(BrokerId(-1)).with_port(-1);
                }
                c
            })
            .collect();
    } else {
        resp.error_code = code;
        if error.is_none() {
            resp.node_id = node;
            resp.host = host;
            resp.port = state.advertised_port;
        } else {
            resp.node_id = BrokerId(-1);
            resp.port = -1;
        }
    }
    resp
}
