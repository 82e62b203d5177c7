//! The broker: a tokio server speaking Kafka's protocol over the storage layer. [`Broker`] embeds one in-process;
//! the `streamlet broker` command runs the same thing as a server.

pub mod cluster;
mod connection;
mod controller_link;
mod handlers;
mod maintenance;
mod offsets_topic;
pub mod partition;
pub mod replica;
mod replica_manager;
pub mod state;
mod topics;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::config::{resolve_listen, BrokerConfig, ConfigError, Props};
use crate::coordinator::{GroupConfig, GroupCoordinator};
use crate::metadata::cluster::ControllerChannel;
use crate::metadata::controller::ControllerConfig;
use crate::metadata::MetadataStore;
use crate::replication::FetcherManager;
use offsets_topic::OffsetsTopic;
use crate::storage::LogManager;
pub use cluster::{Cluster, ClusterBuilder};
pub use state::BrokerState;
pub use topics::validate_topic_name;

pub(crate) type ShutdownSignal = watch::Receiver<bool>;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BrokerError {
    let context = context.into();
    move |source| BrokerError::Io { context, source }
}

/// Configures and starts a broker.
#[derive(Clone, Default)]
pub struct BrokerBuilder {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    props: Props,
    quorum: Option<QuorumSetup>,
    controller: Option<Arc<dyn ControllerChannel>>,
}

impl std::fmt::Debug for BrokerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerBuilder")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("props", &self.props)
            .field("quorum", &self.quorum)
            .field("controller", &self.controller.is_some())
            .finish()
    }
}

/// This node as one voter of a metadata quorum of several (see [`BrokerBuilder::quorum`]).
#[derive(Debug, Clone)]
struct QuorumSetup {
    voters: std::collections::BTreeMap<u64, String>,
    /// Taken by `start`: a listener is not clonable.
    listener: Arc<std::sync::Mutex<Option<std::net::TcpListener>>>,
}

impl BrokerBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Where the logs live. Without one, an ephemeral temp dir is used and removed on shutdown.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// `HOST:PORT` to listen on; port 0 picks a free port. Default `127.0.0.1:9092`, or `listeners` if set.
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = Some(addr.into());
        self
    }

    /// A broker property by its Kafka name (`num.partitions`, `log.segment.bytes`, ...).
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.props.insert(key.into(), value.into());
        self
    }

    pub fn configs(mut self, props: Props) -> Self {
        self.props.extend(props);
        self
    }

    /// Makes this node one voter of a metadata quorum: `voters` maps each node id to the `host:port` of its
    /// controller listener, and `controller_listener` is this node's, already bound (port 0 works).
    /// Replaces how this broker's partition leaders reach the active controller (AlterPartition). By default
    /// they go through this node's link to the metadata quorum; tests that play the controller themselves set
    /// their own.
    pub fn controller_channel(mut self, channel: Arc<dyn ControllerChannel>) -> Self {
        self.controller = Some(channel);
        self
    }

    pub fn quorum(mut self, voters: std::collections::BTreeMap<u64, String>, controller_listener: std::net::TcpListener) -> Self {
        self.quorum = Some(QuorumSetup { voters, listener: Arc::new(std::sync::Mutex::new(Some(controller_listener))) });
        self
    }

    /// Starts the broker on its own runtime; returns once it accepts connections.
    pub fn start(self) -> Result<Broker, BrokerError> {
        let mut config = BrokerConfig::from_props(&self.props)?;
        let quorum = match &self.quorum {
            Some(q) => {
                let listener = q.listener.lock().unwrap_or_else(|e| e.into_inner()).take();
                let listener = listener.ok_or_else(|| io_err("the controller listener was already used")(std::io::Error::other("taken")))?;
                Some(crate::metadata::QuorumMember { voters: q.voters.clone(), listener, timing: Default::default() })
            }
            None => quorum_from_config(&config)?,
        };
        if let Some(l) = self.listen {
            config.listen = l;
        }
        let addr = resolve_listen("listeners", &config.listen)?;
        let (data_dir, tempdir) = match self.data_dir.or(config.log_dir.clone()) {
            Some(d) => (d, None),
            None => {
                let t = tempfile::Builder::new().prefix("streamlet-").tempdir().map_err(io_err("cannot create a temp dir"))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        // Bound with std and handed to tokio, and the runtime built last: `start` never blocks on the runtime nor
        // drops one on an error path, so it may be called from inside another runtime (an async test, a host
        // language's event-loop thread).
        let std_listener = std::net::TcpListener::bind(addr).map_err(io_err(format!("cannot listen on {addr}")))?;
        std_listener.set_nonblocking(true).map_err(io_err("cannot configure the listener"))?;
        let local_addr = std_listener.local_addr().map_err(io_err("cannot read the bound address"))?;
        let state = open_state(config, &data_dir, local_addr, quorum)?;
        if let Some(c) = self.controller {
            state.set_controller_channel(c);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("streamlet-broker")
            .enable_all()
            .build()
            .map_err(io_err("cannot start the broker runtime"))?;
        let listener = {
            let _guard = runtime.enter();
            TcpListener::from_std(std_listener)
        };
        let listener = match listener {
            Ok(l) => l,
            Err(e) => {
                runtime.shutdown_background();
                return Err(io_err("cannot register the listener")(e));
            }
        };
        state.offsets_topic.attach(&state);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let _ = state.runtime.set(runtime.handle().clone());
        state.fetchers.attach(runtime.handle().clone(), shutdown_rx.clone());
        let (alive_tx, alive_rx) = mpsc::channel::<()>(1);
        runtime.spawn(accept_loop(listener, state.clone(), shutdown_rx.clone(), alive_tx.clone()));
        runtime.spawn(maintenance::run(state.clone(), shutdown_rx.clone()));
        runtime.spawn(controller_link::run(state.clone(), shutdown_rx));
        runtime.spawn(load_groups(state.clone()));
        tracing::info!(address = %local_addr, data_dir = %data_dir.display(), "broker started");
        Ok(Broker { runtime: Some(runtime), state, shutdown_tx, alive_rx: Some(alive_rx), alive_tx: Some(alive_tx), local_addr, _tempdir: tempdir, stopped: false })
    }
}

/// The quorum this node is a voter of, from `process.roles`, `controller.quorum.voters` and the controller
/// listener in `listeners`: None for a node alone (the one-voter case, which needs no controller listener).
fn quorum_from_config(config: &BrokerConfig) -> Result<Option<crate::metadata::QuorumMember>, BrokerError> {
    let c = &config.cluster;
    if c.roles != ["broker", "controller"] {
        let v = c.roles.join(",");
        return Err(ConfigError::new("process.roles", &v, "only the combined broker,controller role is supported so far").into());
    }
    let me = u64::try_from(config.node_id).unwrap_or(u64::MAX);
    let alone = c.voters.is_empty() || (c.voters.len() == 1 && c.voters.contains_key(&me));
    if alone {
        return Ok(None);
    }
    let voters: Vec<String> = c.voters.iter().map(|(id, a)| format!("{id}@{a}")).collect();
    if !c.voters.contains_key(&me) {
        return Err(ConfigError::new(
            "controller.quorum.voters",
            &voters.join(","),
            format!("node.id {} is not a voter (observer-only brokers are not supported yet)", config.node_id),
        )
        .into());
    }
    let Some(addr) = &config.controller_listen else {
        return Err(ConfigError::new("listeners", config.props.get("listeners").map_or("", |v| v), "no controller listener (see controller.listener.names)").into());
    };
    let bind = resolve_listen("listeners", addr)?;
    let listener = std::net::TcpListener::bind(bind).map_err(io_err(format!("cannot listen on the controller listener {bind}")))?;
    Ok(Some(crate::metadata::QuorumMember { voters: c.voters.clone(), listener, timing: Default::default() }))
}

/// The listener name this broker registers its endpoint under (Kafka's default listener name).
const LISTENER_NAME: &str = "PLAINTEXT";

fn controller_config(config: &BrokerConfig) -> ControllerConfig {
    ControllerConfig {
        session_timeout: std::time::Duration::from_millis(config.cluster.broker_session_timeout_ms),
        unclean_leader_election: config.cluster.unclean_leader_election,
        delete_topic_enable: config.delete_topic_enable,
        default_partitions: config.num_partitions,
        default_replication_factor: config.default_replication_factor,
        log_defaults: config.log_defaults.clone(),
    }
}

fn open_state(
    config: BrokerConfig,
    data_dir: &std::path::Path,
    local_addr: SocketAddr,
    quorum: Option<crate::metadata::QuorumMember>,
) -> Result<Arc<BrokerState>, BrokerError> {
    if data_dir.exists() && !data_dir.is_dir() {
        let e = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory");
        return Err(io_err(format!("cannot use data dir {}", data_dir.display()))(e));
    }
    std::fs::create_dir_all(data_dir).map_err(io_err(format!("cannot create data dir {}", data_dir.display())))?;
    let logs = LogManager::new(data_dir).map_err(io_err(format!("cannot open data dir {}", data_dir.display())))?;
    if quorum.is_some() && config.cluster_id.is_none() && !data_dir.join(crate::metadata::META_PROPERTIES).exists() {
        // Each node would otherwise format itself with its own id. Kafka's nodes are all formatted with one id
        // (`kafka-storage.sh format -t`); here it is given as cluster.id.
        return Err(ConfigError::new("cluster.id", "", "must be set on every node of a quorum of several nodes (the same value on each)").into());
    }
    let metadata = MetadataStore::open_in_quorum(data_dir, config.node_id, controller_config(&config), config.cluster_id.as_deref(), new_cluster_id, quorum)
        .map_err(io_err("cannot open the metadata log"))?;
    let (advertised_host, advertised_port) = match &config.advertised {
        Some(a) => {
            let (h, p) = a.rsplit_once(':').expect("validated");
            (h.to_string(), p.parse::<i32>().expect("validated"))
        }
        None => (local_addr.ip().to_string(), local_addr.port() as i32),
    };
    let topics = metadata.image().topics.clone();
    let defaults = config.log_defaults.clone();
    let g = &config.groups;
    let offsets_topic = Arc::new(OffsetsTopic::new(g.offsets_partitions, g.offsets_segment_bytes));
    let group_config = GroupConfig {
        min_session_timeout: std::time::Duration::from_millis(g.min_session_timeout_ms),
        max_session_timeout: std::time::Duration::from_millis(g.max_session_timeout_ms),
        initial_rebalance_delay: std::time::Duration::from_millis(g.initial_rebalance_delay_ms),
        max_size: g.max_size,
    };
    let topics_for_logs = topics.clone();
    logs.open_all(|topic| {
        topics_for_logs
            .get(topic)
            .and_then(|t| crate::config::topic_log_config(&defaults, &t.configs).ok())
            .unwrap_or_else(|| defaults.clone())
    })
    .map_err(io_err("cannot recover the logs"))?;
    // Read before any replica opens: each takes its entry.
    let checkpointed_hws = logs.read_high_watermarks().map_err(io_err("cannot read the high-watermark checkpoint"))?;
    let state = Arc::new_cyclic(|weak| BrokerState {
        fetchers: FetcherManager::new(config.node_id, config.replication.clone()),
        runtime: std::sync::OnceLock::new(),
        checkpointed_hws: std::sync::Mutex::new(checkpointed_hws),
        groups: GroupCoordinator::new(group_config, offsets_topic.clone()),
        offsets_topic,
        node_id: config.node_id,
        config,
        advertised_host,
        advertised_port,
        metadata: std::sync::Mutex::new(metadata),
        logs,
        partitions: RwLock::new(Default::default()),
        controller: RwLock::new(Some(Arc::new(controller_link::LocalControllerChannel { state: weak.clone() }))),
        listener_name: LISTENER_NAME.to_string(),
    });
    // Register (a restart is a new incarnation: the controller takes this broker out of the ISRs and elects it
    // again once unfenced), then serve what the image says this broker leads.
    controller_link::register(&state).map_err(|(code, msg)| BrokerError::Io {
        context: "cannot register with the controller".into(),
        source: std::io::Error::other(format!("{code:?}: {msg}")),
    })?;
    let changes: Vec<_> = {
        let m = state.metadata();
        let img = m.image();
        img.topics
            .values()
            .flat_map(|t| (0..t.partition_count()).map(|p| img.partition_change(&t.name, p, &state.listener_name)))
            .collect()
    };
    state.apply_partition_changes(changes);
    // Directories of partitions the metadata no longer places here (a crash during a delete) are removed now.
    for (topic, partition) in state.logs.partitions() {
        let here = state.metadata().image().partition(&topic, partition).is_some_and(|p| p.replicas.contains(&state.node_id));
        if !here {
            tracing::info!(topic, partition, "removing the log of a partition no longer on this broker");
            state.logs.delete_partition(&topic, partition).map_err(io_err("cannot remove a deleted topic's log"))?;
        }
    }
    Ok(state)
}

/// Replays `__consumer_offsets` into the group coordinator. Until it finishes, group APIs answer
/// COORDINATOR_LOAD_IN_PROGRESS and clients retry.
async fn load_groups(state: Arc<BrokerState>) {
    let s = state.clone();
    let records = tokio::task::spawn_blocking(move || OffsetsTopic::read_all(&s)).await;
    match records {
        Ok(Ok(records)) => state.groups.load(records),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot read __consumer_offsets; committed offsets are unavailable");
            state.groups.load(Vec::new());
        }
        Err(e) => tracing::error!(error = %e, "group loading task failed"),
    }
}

fn new_cluster_id() -> String {
    // Kafka's cluster ids are 22-character URL-safe base64 renderings of a UUID.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bits = uuid::Uuid::new_v4().as_u128();
    (0..22).map(|i| ALPHABET[((bits >> (i * 6)) & 63) as usize] as char).collect()
}

async fn accept_loop(listener: TcpListener, state: Arc<BrokerState>, mut shutdown: ShutdownSignal, alive: mpsc::Sender<()>) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(connection::serve(stream, peer, state.clone(), shutdown.clone(), alive.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: keep serving the connections we have.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// A running broker. Dropping it shuts it down cleanly.
pub struct Broker {
    runtime: Option<tokio::runtime::Runtime>,
    state: Arc<BrokerState>,
    shutdown_tx: watch::Sender<bool>,
    alive_rx: Option<mpsc::Receiver<()>>,
    alive_tx: Option<mpsc::Sender<()>>,
    local_addr: SocketAddr,
    _tempdir: Option<tempfile::TempDir>,
    stopped: bool,
}

impl Broker {
    pub fn builder() -> BrokerBuilder {
        BrokerBuilder::new()
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        format!("{}:{}", self.state.advertised_host, self.state.advertised_port)
    }

    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Stops abruptly, as a killed process would: no clean shutdown of the logs (the next start recovers them),
    /// connections dropped, the metadata quorum member gone at once.
    pub fn kill(mut self) {
        self.stopped = true;
        let _ = self.shutdown_tx.send(true);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        tracing::info!("broker killed");
    }

    /// Stops accepting, lets every connection finish its current request, then closes the logs cleanly (so the
    /// next start skips recovery).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = self.shutdown_tx.send(true);
        let Some(runtime) = self.runtime.take() else { return };
        drop(self.alive_tx.take());
        let alive = self.alive_rx.take();
        // On a plain thread: this may be called from inside an async context, where blocking on (or dropping) a
        // runtime is not allowed.
        let _ = std::thread::scope(|s| {
            s.spawn(|| {
                if let Some(mut rx) = alive {
                    // Every connection holds a sender; recv() yields None once all have finished.
                    let wait = async move { while rx.recv().await.is_some() {} };
                    let _ = runtime.block_on(async { tokio::time::timeout(std::time::Duration::from_secs(10), wait).await });
                }
                // Stop every task (timers, maintenance) before the logs close, so nothing writes behind them and
                // nothing keeps the data directory's lock.
                runtime.shutdown_timeout(std::time::Duration::from_secs(5));
            })
            .join()
        });
        if let Err(e) = self.state.checkpoint_high_watermarks() {
            tracing::error!(error = %e, "cannot checkpoint the high watermarks");
        }
        if let Err(e) = self.state.logs.shutdown() {
            tracing::error!(error = %e, "clean shutdown of the logs failed; the next start will recover them");
        }
        tracing::info!("broker stopped");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
