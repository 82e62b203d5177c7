//! BrokerHeartbeat (63), served by the active controller: keeps a broker's session alive, unfences it once it is
//! caught up, and runs its controlled shutdown (`WantShutDown` -> leadership moved away -> `ShouldShutDown`).

use std::sync::Arc;

use kafka_protocol::messages::{BrokerHeartbeatRequest, BrokerHeartbeatResponse};

use super::not_controller;
use crate::broker::state::BrokerState;
use crate::metadata::controller::Heartbeat;

pub fn handle(state: &Arc<BrokerState>, req: &BrokerHeartbeatRequest) -> BrokerHeartbeatResponse {
    let resp = BrokerHeartbeatResponse::default().with_is_fenced(true);
    if let Some(code) = not_controller(state) {
        return resp.with_error_code(code.code());
    }
    let hb = Heartbeat {
        broker_id: req.broker_id.0,
        broker_epoch: req.broker_epoch,
        metadata_offset: req.current_metadata_offset,
        want_fence: req.want_fence,
        want_shutdown: req.want_shut_down,
    };
    match state.submit(|c, img, now| c.heartbeat(img, hb, now)) {
        Ok(Ok(r)) => resp.with_is_caught_up(r.is_caught_up).with_is_fenced(r.is_fenced).with_should_shut_down(r.should_shut_down),
        Ok(Err((code, _))) | Err((code, _)) => resp.with_error_code(code.code()),
    }
}
