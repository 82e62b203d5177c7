//! DescribeCluster: this broker is the whole cluster and its controller.

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
    resp.cluster_id = str_bytes(state.metadata().image().cluster_id.clone());
    resp.controller_id = BrokerId(state.node_id);
    resp.brokers = vec![DescribeClusterBroker::default()
        .with_broker_id(BrokerId(state.node_id))
        .with_host(str_bytes(state.advertised_host.clone()))
        .with_port(state.advertised_port)];
    resp
}
