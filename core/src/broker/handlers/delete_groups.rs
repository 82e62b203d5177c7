//! DeleteGroups: only empty groups; their offsets go too.

use std::sync::Arc;

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::broker::state::BrokerState;

pub async fn handle(state: &Arc<BrokerState>, req: &DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(req.groups_names.len());
    for id in &req.groups_names {
        let e = state.groups.delete_group(id.as_str()).await.err();
        results.push(DeletableGroupResult::default().with_group_id(id.clone()).with_error_code(e.map(|e| e.code()).unwrap_or(0)));
    }
    DeleteGroupsResponse::default().with_results(results)
}
