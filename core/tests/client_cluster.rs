//! The client's connection and metadata layer against a Streamlet broker.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use kafka_protocol::messages::{ApiKey, ListGroupsRequest, ListGroupsResponse};
use streamlet::client::cluster::{Cluster, ClusterConfig};
use streamlet::client::ClientError;

fn cluster_for(bootstrap: &str) -> Arc<Cluster> {
    Cluster::new(ClusterConfig {
        bootstrap: vec![bootstrap.to_string()],
        client_id: "cluster-test".into(),
        request_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
    })
}

#[tokio::test]
async fn metadata_refresh_and_pipelined_requests() {
    if skip_on_external("needs num.partitions=4") {
        return;
    }
    let broker = start_broker_with(&[("num.partitions", "4")]);
    let cluster = cluster_for(&broker.bootstrap_servers());
    let md = cluster.refresh(Some(&["auto-t".to_string()]), true).await.unwrap();
    assert_eq!(md.partition_count("auto-t"), Some(4));
    assert_eq!(md.leader("auto-t", 3), Some(0));
    assert_eq!(md.brokers[&0], broker.bootstrap_servers());
    assert_eq!(md.cluster_id.as_ref().map(|c| c.len()), Some(22));

    // Many requests in flight on one connection come back to the right callers.
    let conn = cluster.broker(0).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let c = conn.clone();
        tasks.push(tokio::spawn(async move {
            let (r, v): (ListGroupsResponse, i16) = c.send(ApiKey::ListGroups, &ListGroupsRequest::default()).await.unwrap();
            (r.error_code, v)
        }));
    }
    for t in tasks {
        let (code, version) = t.await.unwrap();
        assert!(code == 0 || code == 14, "{code}");
        assert_eq!(version, 4);
    }
}

#[tokio::test]
async fn unreachable_bootstrap_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let cluster = cluster_for(&addr);
    match cluster.refresh(None, false).await {
        Err(ClientError::Connection { addr: a, .. }) => assert_eq!(a, addr),
        other => panic!("expected a connection error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_broken_connection_fails_pending_requests_and_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    if skip_on_external("restarts the broker") {
        return;
    }
    let broker = start_broker_in(dir.path(), &[]);
    let addr = broker.bootstrap_servers();
    let cluster = cluster_for(&addr);
    cluster.refresh(None, false).await.unwrap();
    let conn = cluster.broker(0).await.unwrap();
    let port = broker.local_addr().port();
    tokio::task::spawn_blocking(move || broker.shutdown()).await.unwrap();
    let r: Result<(ListGroupsResponse, i16), _> = conn.send(ApiKey::ListGroups, &ListGroupsRequest::default()).await;
    assert!(matches!(r, Err(ClientError::Connection { .. })), "{r:?}");
    // A broker back on the same port: the cluster opens a new connection.
    let _broker = streamlet::BrokerBuilder::new().listen(format!("127.0.0.1:{port}")).data_dir(dir.path()).start().unwrap();
    let fresh = cluster.broker(0).await.unwrap();
    assert!(!fresh.is_closed());
    assert!(cluster.refresh(None, false).await.is_ok());
}
