//! DescribeGroups: state, protocol and members of each group (unknown groups are reported Dead, as Kafka does).

use std::sync::Arc;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::str_bytes;
use crate::broker::state::BrokerState;

pub fn handle(state: &Arc<BrokerState>, version: i16, req: &DescribeGroupsRequest) -> DescribeGroupsResponse {
    let groups = req
        .groups
        .iter()
        .map(|id| {
            let mut g = DescribedGroup::default().with_group_id(id.clone());
            match state.groups.describe(id.as_str()) {
                Err(e) => g.error_code = e.code(),
                Ok(None) => g.group_state = str_bytes("Dead"),
                Ok(Some(d)) => {
                    g.group_state = str_bytes(d.state.name());
                    g.protocol_type = str_bytes(d.protocol_type);
                    g.protocol_data = str_bytes(d.protocol);
                    g.members = d
                        .members
                        .into_iter()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(str_bytes(m.member_id))
                                .with_group_instance_id(if version >= 4 { m.instance_id.map(str_bytes) } else { None })
                                .with_client_id(str_bytes(m.client_id))
                                .with_client_host(str_bytes(m.client_host))
                                .with_member_metadata(m.metadata)
                                .with_member_assignment(m.assignment)
                        })
                        .collect();
                }
            }
            g
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
