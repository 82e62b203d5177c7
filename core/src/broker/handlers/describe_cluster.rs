//! DescribeCluster: the registered, unfenced brokers and the active controller, from the metadata image.

use std::sync::Arc;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::str_bytes;
use crate::broker::state::BrokerState;
use crate::protocol::ErrorCode;

const ENDPOINT_BROKERS: i8 = 1;

pub fn handle(state: &Arc<BrokerState>, req: &DescribeClusterRequest) -> DescribeClusterResponse {
    let mut resp = DescribeClusterResponse::default().with_endpoint_type(ENDPOINT_BROKERS);
    if req.endpoint_type != ENDPOINT_BROKERS {
        resp.error_code = ErrorCode::UnsupportedEndpointType.code();
        resp.error_message = Some(str_bytes("this broker has no separate controller endpoints"));
        return resp;
    }
    {
        let m = state.metadata();
        resp.cluster_id = str_bytes(m.image().cluster_id.clone());
        resp.controller_id = BrokerId(m.controller_id().unwrap_or(-1));
    }
    resp.brokers = state
        .live_broker_endpoints()
        .into_iter()
        .map(|e| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(e.node_id))
                .with_host(str_bytes(e.host))
                .with_port(i32::from(e.port))
                .with_rack(e.rack.map(str_bytes))
        })
        .collect();
    resp
}
