//! ListGroups, with the state filter of v4+.

use std::sync::Arc;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::str_bytes;
use crate::broker::state::BrokerState;

pub fn handle(state: &Arc<BrokerState>, version: i16, req: &ListGroupsRequest) -> ListGroupsResponse {
    let mut resp = ListGroupsResponse::default();
    match state.groups.list() {
        Err(e) => resp.error_code = e.code(),
        Ok(groups) => {
            resp.groups = groups
                .into_iter()
                .filter(|(_, _, s)| version < 4 || req.states_filter.is_empty() || req.states_filter.iter().any(|f| f.eq_ignore_ascii_case(s.name())))
                .map(|(id, protocol_type, s)| {
                    let mut g = ListedGroup::default().with_group_id(GroupId(str_bytes(id))).with_protocol_type(str_bytes(protocol_type));
                    if version >= 4 {
                        g.group_state = str_bytes(s.name());
                    }
                    g
                })
                .collect();
        }
    }
    resp
}
