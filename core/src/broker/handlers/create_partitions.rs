//! CreatePartitions: grow a topic; shrinking is refused as Kafka does.

use std::sync::Arc;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::str_bytes;
use crate::broker::state::BrokerState;
use crate::protocol::ErrorCode;

pub fn handle(state: &Arc<BrokerState>, req: &CreatePartitionsRequest) -> CreatePartitionsResponse {
    let results = req
        .topics
        .iter()
        .map(|t| {
            let name = t.name.as_str();
            let bad_assignment = t
                .assignments
                .as_ref()
                .is_some_and(|a| a.iter().any(|x| x.broker_ids.len() != 1 || x.broker_ids[0].0 != state.node_id));
            let current = state.metadata().image().topics.get(name).map(|t| t.partition_count());
            // Kafka wants one assignment per new partition when the list is given at all (null: broker's choice).
            let miscounted = match (&t.assignments, current) {
                (Some(a), Some(cur)) if t.count > cur && a.len() as i32 != t.count - cur => Some(format!(
                    "increasing the number of partitions of '{name}' by {} but {} assignments provided",
                    t.count - cur,
                    a.len()
                )),
                _ => None,
            };
            let result = if let Some(msg) = miscounted {
                Err((ErrorCode::InvalidReplicaAssignment, msg))
            } else if bad_assignment {
                Err((ErrorCode::InvalidReplicaAssignment, format!("assignments for '{name}' must name broker {} once", state.node_id)))
            } else {
                state.create_partitions(name, t.count, req.validate_only)
            };
            let mut r = CreatePartitionsTopicResult::default().with_name(t.name.clone());
            if let Err((code, msg)) = result {
                r.error_code = code.code();
                r.error_message = Some(str_bytes(msg));
            }
            r
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}
