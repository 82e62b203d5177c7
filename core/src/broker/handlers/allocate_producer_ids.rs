//! AllocateProducerIds (67), served by the active controller: a block of producer ids no other broker gets, made
//! durable in the metadata log before it is answered.

use std::sync::Arc;

use kafka_protocol::messages::{AllocateProducerIdsRequest, AllocateProducerIdsResponse, ProducerId};

use super::not_controller;
use crate::broker::state::BrokerState;

pub fn handle(state: &Arc<BrokerState>, req: &AllocateProducerIdsRequest) -> AllocateProducerIdsResponse {
    let resp = AllocateProducerIdsResponse::default().with_producer_id_start(ProducerId(-1));
    if let Some(code) = not_controller(state) {
        return resp.with_error_code(code.code());
    }
    match state.submit(|c, img, _| c.allocate_producer_ids(img, req.broker_id.0, req.broker_epoch)) {
        Ok(Ok((first, len))) => resp.with_producer_id_start(ProducerId(first)).with_producer_id_len(len),
        Ok(Err((code, _))) | Err((code, _)) => resp.with_error_code(code.code()),
    }
}
