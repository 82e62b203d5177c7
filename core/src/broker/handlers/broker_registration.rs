//! BrokerRegistration (62), served by the active controller: a broker registers its listeners and gets its
//! epoch; it starts fenced and is unfenced by a heartbeat once it has replayed the metadata up to its
//! registration.

use std::sync::Arc;

use kafka_protocol::messages::{BrokerRegistrationRequest, BrokerRegistrationResponse};

use super::not_controller;
use crate::broker::state::BrokerState;
use crate::metadata::controller::RegisterBroker;
use crate::metadata::records::BrokerEndpoint;
use crate::protocol::ErrorCode;

pub fn handle(state: &Arc<BrokerState>, req: &BrokerRegistrationRequest) -> BrokerRegistrationResponse {
    let resp = BrokerRegistrationResponse::default().with_broker_epoch(-1);
    if let Some(code) = not_controller(state) {
        return resp.with_error_code(code.code());
    }
    let cluster_id = state.metadata().image().cluster_id.clone();
    if req.cluster_id.as_str() != cluster_id {
        tracing::warn!(broker = req.broker_id.0, theirs = %req.cluster_id.as_str(), ours = cluster_id, "registration from another cluster refused");
        return resp.with_error_code(ErrorCode::InconsistentClusterId.code());
    }
    let reg = RegisterBroker {
        broker_id: req.broker_id.0,
        incarnation_id: req.incarnation_id,
        endpoints: req
            .listeners
            .iter()
            .map(|l| BrokerEndpoint { name: l.name.to_string(), host: l.host.to_string(), port: l.port, security_protocol: l.security_protocol })
            .collect(),
        rack: req.rack.as_ref().map(|r| r.to_string()),
    };
    match state.submit(|c, img, now| c.register_broker(img, reg, now)) {
        Ok(Ok(epoch)) => resp.with_broker_epoch(epoch),
        Ok(Err((code, msg))) | Err((code, msg)) => {
            tracing::info!(broker = req.broker_id.0, error = ?code, "registration refused: {msg}");
            resp.with_error_code(code.code())
        }
    }
}
