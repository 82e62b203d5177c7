//! InitProducerId for idempotent producers: fresh ids that are never reused, and epoch bumps (KIP-360).

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::broker::state::BrokerState;
use crate::protocol::ErrorCode;

pub fn handle(state: &Arc<BrokerState>, req: &InitProducerIdRequest) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default().with_producer_id(ProducerId(-1)).with_producer_epoch(-1);
    if req.transactional_id.as_ref().is_some_and(|t| !t.is_empty()) {
        // Transactions need the transaction coordinator, which this broker does not have yet.
        tracing::warn!("InitProducerId with a transactional.id refused: transactions are not supported yet");
        resp.error_code = ErrorCode::TransactionalIdAuthorizationFailed.code();
        return resp;
    }
    let (pid, epoch) = (req.producer_id.0, req.producer_epoch);
    if pid >= 0 && (0..i16::MAX - 1).contains(&epoch) {
        // An idempotent producer recovering from a sequence error keeps its id with the next epoch.
        return resp.with_producer_id(ProducerId(pid)).with_producer_epoch(epoch + 1);
    }
    match state.next_producer_id() {
        Ok(id) => resp.with_producer_id(ProducerId(id)).with_producer_epoch(0),
        Err((code, msg)) => {
            tracing::error!(error = ?code, "no producer id block: {msg}");
            // Retriable for the client: the controller may be moving.
            let code = if code == ErrorCode::KafkaStorageError { code } else { ErrorCode::CoordinatorNotAvailable };
            resp.with_error_code(code.code())
        }
    }
}
