//! Several brokers in one process, each with its own listener, controller listener and data dir, forming one
//! cluster (every node a broker and a voter of the metadata quorum: Kafka's combined mode) — for tests and for
//! applications that want to exercise failover. `stop(i)` shuts a node down cleanly, `kill(i)` abruptly.
//!
//! Partitions are placed on several brokers and leadership moves between them; copying the data between
//! replicas (follower fetching) is the replication work's part.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;

use crate::config::Props;

use super::{io_err, Broker, BrokerBuilder, BrokerError};

pub struct ClusterBuilder {
    brokers: usize,
    data_dir: Option<PathBuf>,
    props: Props,
}

impl ClusterBuilder {
    pub fn new(brokers: usize) -> Self {
        ClusterBuilder { brokers, data_dir: None, props: Props::new() }
    }

    /// Node i keeps its data in `<dir>/node-<i+1>`; without one, a temp dir removed with the cluster.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// A broker property for every node.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.props.insert(key.into(), value.into());
        self
    }

    /// Starts every node (side by side: each waits for the quorum to elect a leader) and returns once all are
    /// registered and unfenced.
    pub fn start(self) -> Result<Cluster, BrokerError> {
        let (root, tempdir) = match self.data_dir {
            Some(d) => (d, None),
            None => {
                let t = tempfile::Builder::new().prefix("streamlet-cluster-").tempdir().map_err(io_err("cannot create a temp dir"))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let mut listeners = Vec::new();
        let mut voters = BTreeMap::new();
        for i in 0..self.brokers {
            let l = TcpListener::bind("127.0.0.1:0").map_err(io_err("cannot bind a controller listener"))?;
            voters.insert(i as u64 + 1, l.local_addr().map_err(io_err("controller listener"))?.to_string());
            listeners.push(l);
        }
        let mut props = self.props.clone();
        // Every node of one cluster has the same cluster id (Kafka formats them all with it).
        props.entry("cluster.id".into()).or_insert_with(super::new_cluster_id);
        let builders: Vec<BrokerBuilder> = listeners
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                BrokerBuilder::new()
                    .listen("127.0.0.1:0")
                    .data_dir(root.join(format!("node-{}", i + 1)))
                    .configs(props.clone())
                    .config("node.id", (i + 1).to_string())
                    .quorum(voters.clone(), l)
            })
            .collect();
        let started: Vec<Result<Broker, BrokerError>> = std::thread::scope(|s| {
            let handles: Vec<_> = builders.into_iter().map(|b| s.spawn(move || b.start())).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(io_err("a node panicked while starting")(std::io::Error::other("panic"))))).collect()
        });
        let mut nodes = Vec::new();
        for b in started {
            nodes.push(Some(b?));
        }
        Ok(Cluster { nodes, _tempdir: tempdir })
    }
}

pub struct Cluster {
    nodes: Vec<Option<Broker>>,
    _tempdir: Option<tempfile::TempDir>,
}

impl Cluster {
    /// The running node at index `i` (node id `i + 1`).
    pub fn broker(&self, i: usize) -> Option<&Broker> {
        self.nodes.get(i).and_then(|b| b.as_ref())
    }

    /// `host:port,...` of the running nodes.
    pub fn bootstrap_servers(&self) -> String {
        self.nodes.iter().flatten().map(|b| b.bootstrap_servers()).collect::<Vec<_>>().join(",")
    }

    /// Clean shutdown of node `i`.
    pub fn stop(&mut self, i: usize) {
        if let Some(b) = self.nodes.get_mut(i).and_then(Option::take) {
            b.shutdown();
        }
    }

    /// Abrupt stop of node `i`, as with SIGKILL.
    pub fn kill(&mut self, i: usize) {
        if let Some(b) = self.nodes.get_mut(i).and_then(Option::take) {
            b.kill();
        }
    }
}
