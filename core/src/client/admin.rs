//! The admin client, after Kafka's `Admin`: topics, partitions, configs, consumer groups, offsets and the
//! cluster, as a blocking API over the client's own small tokio runtime (one worker thread).
//!
//! Every call is bounded by `request.timeout.ms` as a whole. Broker error codes become `ClientError::Kafka` with
//! Kafka's meaning; a call that touches several resources answers per resource where Kafka's does. Topic
//! operations go to the controller (any broker when it is unknown), offset operations to partition leaders and
//! group operations to the group coordinator found with FindCoordinator.
//!
//! Leadership moves (a controller or leader killed, an election): a resource answered NOT_CONTROLLER,
//! NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE or a leader epoch error, or whose broker could not be reached,
//! is asked again, alone, after a metadata refresh and `RETRY_BACKOFF`, until the call's deadline, as Kafka's
//! admin client retries. A create that reached the old controller before it died may then answer
//! TOPIC_ALREADY_EXISTS, as in Kafka.
//!
//! Not offered: AlterConfigs / IncrementalAlterConfigs (the broker does not serve them, see
//! `protocol::versions::SERVED`), ACLs, reassignments, transactions.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::assignor::protocol::decode_assignment;
use super::cluster::{Cluster, ClusterConfig};
use super::connection::Connection;
use super::error::ClientError;
use crate::config::{ConfigError, PropReader, Props};
use crate::protocol::ErrorCode;

const KNOWN_KEYS: &[&str] = &["bootstrap.servers", "client.id", "request.timeout.ms"];

/// DescribeConfigs resource types and the DEFAULT_CONFIG source.
const NO_TOPICS: &[String] = &[];
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub bootstrap_servers: Vec<String>,
    pub client_id: String,
    pub request_timeout: Duration,
}

impl AdminConfig {
    /// Parses `bootstrap.servers` (required), `client.id` and `request.timeout.ms`.
    pub fn from_props(props: &Props) -> Result<Self, ConfigError> {
        for key in props.keys() {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                tracing::warn!(key = %key, "unknown admin configuration ignored");
            }
        }
        let r = PropReader::new(props);
        let raw = r.string("bootstrap.servers", "");
        let bootstrap_servers: Vec<String> = raw.split(',').map(|s| s.trim()).filter(|s| !s.is_empty()).map(String::from).collect();
        if bootstrap_servers.is_empty() {
            return Err(ConfigError::new("bootstrap.servers", &raw, "at least one HOST:PORT is required"));
        }
        for s in &bootstrap_servers {
            if !s.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) {
                return Err(ConfigError::new("bootstrap.servers", s, "expected HOST:PORT"));
            }
        }
        let timeout = r.i64_min("request.timeout.ms", 30_000, 1)?;
        Ok(AdminConfig {
            bootstrap_servers,
            client_id: r.string("client.id", "streamlet-admin"),
            request_timeout: Duration::from_millis(timeout as u64),
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewTopic {
    pub name: String,
    /// -1: the broker's default.
    pub partitions: i32,
    /// -1: the broker's default.
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        NewTopic { name: name.into(), partitions, replication_factor, configs: BTreeMap::new() }
    }
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(key.into(), value.into());
        self
    }
}

/// One change to a topic config for [`Admin::alter_configs`] (Kafka's `AlterConfigOp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOp {
    Set(String, String),
    /// Removes the override: the broker default applies again.
    Delete(String),
    /// Adds items to a list-valued key such as `cleanup.policy`.
    Append(String, String),
    Subtract(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

#[derive(Debug, Clone)]
pub struct TopicDescription {
    pub name: String,
    pub id: uuid::Uuid,
    pub internal: bool,
    pub partitions: Vec<PartitionDescription>,
}

#[derive(Debug, Clone)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub host: String,
    /// Decoded when the group's protocol type is "consumer" (None otherwise, or when undecodable).
    pub assignment: Option<Vec<(String, i32)>>,
}

#[derive(Debug, Clone)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: String,
    pub protocol_type: String,
    /// The chosen assignor (empty while the group is not stable).
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    Earliest,
    Latest,
    MaxTimestamp,
    /// The first offset whose timestamp is at or after this (ms since the epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// -1 when no record matches a timestamp.
    pub offset: i64,
    pub timestamp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLag {
    /// -1: nothing committed.
    pub committed: i64,
    pub log_end: i64,
    /// log_end - committed (log_end when nothing is committed), never negative.
    pub lag: i64,
}

#[derive(Debug, Clone)]
pub struct ClusterDescription {
    pub cluster_id: String,
    pub controller: i32,
    /// (node id, "host:port"), by node id.
    pub brokers: Vec<(i32, String)>,
}

type TopicResults = Vec<(String, Result<(), ClientError>)>;
pub type PartitionKey = (String, i32);
/// One answer per requested partition, in request order.
pub type PerPartition<T> = Vec<(PartitionKey, Result<T, ClientError>)>;

pub struct Admin {
    runtime: Option<tokio::runtime::Runtime>,
    cluster: Arc<Cluster>,
    timeout: Duration,
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn tn(v: &str) -> TopicName {
    TopicName(s(v))
}

fn kafka_err(code: i16, msg: Option<&StrBytes>) -> Result<(), ClientError> {
    match ClientError::kafka(code, msg.map(|m| m.to_string())) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn is_code(e: &ClientError, code: ErrorCode) -> bool {
    matches!(e, ClientError::Kafka { code: c, .. } if *c == code)
}

/// Pause before asking a moved controller or leader again.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// The request went to a broker that is not (or no longer) the controller or the partition leader, or never
/// got an answer: worth sending again to whoever it is after a metadata refresh.
fn moved(e: &ClientError) -> bool {
    matches!(e, ClientError::Connection { .. })
        || [ErrorCode::NotController, ErrorCode::NotLeaderOrFollower, ErrorCode::LeaderNotAvailable, ErrorCode::FencedLeaderEpoch, ErrorCode::UnknownLeaderEpoch]
            .iter()
            .any(|c| is_code(e, *c))
}

/// Worth asking the coordinator again: it is loading, moved, or the connection broke.
fn coordinator_transient(e: &ClientError) -> bool {
    is_code(e, ErrorCode::CoordinatorLoadInProgress)
        || is_code(e, ErrorCode::CoordinatorNotAvailable)
        || is_code(e, ErrorCode::NotCoordinator)
        || matches!(e, ClientError::Connection { .. })
}

/// Splits request indexes into rounds that name each partition at most once (a broker answers a partition
/// once per request), keeping the order asked.
fn rounds<T>(wanted: &[(String, i32, T)], idx: Vec<usize>) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in idx {
        let key = (&wanted[i].0, wanted[i].1);
        match out.iter_mut().find(|r| !r.iter().any(|&j| (&wanted[j].0, wanted[j].1) == key)) {
            Some(r) => r.push(i),
            None => out.push(vec![i]),
        }
    }
    out
}

impl Admin {
    pub fn new(props: &Props) -> Result<Admin, ClientError> {
        Self::with_config(AdminConfig::from_props(props)?)
    }

    pub fn with_config(config: AdminConfig) -> Result<Admin, ClientError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("streamlet-admin")
            .enable_all()
            .build()
            .map_err(|e| ClientError::Connection { addr: String::new(), reason: format!("cannot start the admin runtime: {e}") })?;
        let cluster = Cluster::new(ClusterConfig {
            bootstrap: config.bootstrap_servers,
            client_id: config.client_id,
            request_timeout: config.request_timeout,
            connect_timeout: config.request_timeout.min(Duration::from_secs(10)),
        });
        Ok(Admin { runtime: Some(runtime), cluster, timeout: config.request_timeout })
    }

    /// Runs `f` on the admin runtime, bounded by `request.timeout.ms`.
    fn run<T>(&self, f: impl Future<Output = Result<T, ClientError>>) -> Result<T, ClientError> {
        let rt = self.runtime.as_ref().ok_or(ClientError::Closed)?;
        let timeout = self.timeout;
        rt.block_on(async move { tokio::time::timeout(timeout, f).await.map_err(|_| ClientError::Timeout(timeout.as_millis() as u64))? })
    }

    /// The controller's connection (any broker when the controller is unknown or unreachable).
    async fn controller(&self) -> Result<Arc<Connection>, ClientError> {
        let meta = self.cluster.refresh(Some(NO_TOPICS), false).await?;
        if meta.controller >= 0 {
            if let Ok(c) = self.cluster.broker(meta.controller).await {
                return Ok(c);
            }
        }
        self.cluster.any_broker().await
    }

    async fn find_coordinator_once(&self, group: &str) -> Result<Arc<Connection>, ClientError> {
        let conn = self.cluster.any_broker().await?;
        let v = conn.version(ApiKey::FindCoordinator).unwrap_or(0);
        let req = if v >= 4 {
            FindCoordinatorRequest::default().with_key_type(0).with_coordinator_keys(vec![s(group)])
        } else {
            FindCoordinatorRequest::default().with_key_type(0).with_key(s(group))
        };
        let (resp, v): (FindCoordinatorResponse, i16) = conn.send(ApiKey::FindCoordinator, &req).await?;
        let (code, msg, host, port) = if v >= 4 {
            let c = resp.coordinators.into_iter().next().ok_or_else(|| ClientError::Protocol {
                addr: conn.addr.clone(),
                reason: "FindCoordinator answered no coordinator".into(),
            })?;
            (c.error_code, c.error_message, c.host, c.port)
        } else {
            (resp.error_code, resp.error_message, resp.host, resp.port)
        };
        kafka_err(code, msg.as_ref())?;
        self.cluster.connect_addr(&format!("{}:{}", host.as_str(), port)).await
    }

    /// Runs `op` against the coordinator of `group`, finding it again while it is loading or moves.
    async fn with_coordinator<T, F, Fut>(&self, group: &str, mut op: F) -> Result<T, ClientError>
    where
        F: FnMut(Arc<Connection>) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        loop {
            let r = match self.find_coordinator_once(group).await {
                Ok(conn) => op(conn).await,
                Err(e) => Err(e),
            };
            match r {
                Err(e) if coordinator_transient(&e) => tokio::time::sleep(Duration::from_millis(50)).await,
                r => return r,
            }
        }
    }

    /// Sends `send(conn, pending)` to the controller until every topic of `names` has an answer that is not
    /// `moved` (the call's deadline bounds it). Answers come back in the order of `names`.
    async fn per_topic_on_controller<F, Fut>(&self, names: Vec<String>, mut send: F) -> Result<TopicResults, ClientError>
    where
        F: FnMut(Arc<Connection>, Vec<String>) -> Fut,
        Fut: Future<Output = Result<TopicResults, ClientError>>,
    {
        let mut pending = names.clone();
        let mut answered: HashMap<String, Result<(), ClientError>> = HashMap::new();
        while !pending.is_empty() {
            let sent = match self.controller().await {
                Ok(conn) => send(conn, pending.clone()).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(results) => {
                    for (name, r) in results {
                        match r {
                            Err(e) if moved(&e) => tracing::debug!(topic = %name, error = %e, "controller moved; asking again"),
                            r => {
                                pending.retain(|n| *n != name);
                                answered.insert(name, r);
                            }
                        }
                    }
                }
                Err(e) if moved(&e) => tracing::debug!(error = %e, "controller unreachable; asking again"),
                Err(e) => return Err(e),
            }
            if !pending.is_empty() {
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
        }
        Ok(names
            .into_iter()
            .filter_map(|n| {
                let r = answered.remove(&n)?;
                Some((n, r))
            })
            .collect())
    }

    /// Runs `attempt` for the partitions of `wanted` not answered yet, until none answers a `moved` error (the
    /// call's deadline bounds it). `attempt` answers by index into `wanted`.
    async fn per_partition_on_leaders<T, R, F, Fut>(&self, wanted: &[(String, i32, T)], mut attempt: F) -> Result<PerPartition<R>, ClientError>
    where
        T: Clone,
        F: FnMut(Vec<(String, i32, T)>) -> Fut,
        Fut: Future<Output = Result<PerPartition<R>, ClientError>>,
    {
        let mut pending: Vec<usize> = (0..wanted.len()).collect();
        let mut answered: HashMap<usize, Result<R, ClientError>> = HashMap::new();
        loop {
            let subset: Vec<(String, i32, T)> = pending.iter().map(|&i| wanted[i].clone()).collect();
            let results = attempt(subset).await?;
            let mut still = Vec::new();
            for (&i, (_, r)) in pending.iter().zip(results) {
                match r {
                    Err(e) if moved(&e) => still.push((i, e)),
                    r => {
                        answered.insert(i, r);
                    }
                }
            }
            if still.is_empty() {
                break;
            }
            tracing::debug!(partitions = still.len(), error = %still[0].1, "partition leaders moved; asking again");
            pending = still.into_iter().map(|(i, _)| i).collect();
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        Ok(wanted
            .iter()
            .enumerate()
            .map(|(i, (t, p, _))| ((t.clone(), *p), answered.remove(&i).expect("every partition answered")))
            .collect())
    }

    // ---------------------------------------------------------------- topics

    /// Creates topics; one result per topic, in the broker's order. `validate_only` checks without creating.
    pub fn create_topics(&self, topics: &[NewTopic], validate_only: bool) -> Result<TopicResults, ClientError> {
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(self.timeout.as_millis().min(i32::MAX as u128) as i32)
            .with_validate_only(validate_only)
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        create_topics_request::CreatableTopic::default()
                            .with_name(tn(&t.name))
                            .with_num_partitions(t.partitions)
                            .with_replication_factor(t.replication_factor)
                            .with_configs(
                                t.configs
                                    .iter()
                                    .map(|(k, v)| create_topics_request::CreatableTopicConfig::default().with_name(s(k)).with_value(Some(s(v))))
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        self.run(self.per_topic_on_controller(names, |conn, pending| {
            let mut req = req.clone();
            req.topics.retain(|t| pending.iter().any(|n| n == t.name.as_str()));
            async move {
                let (resp, _): (CreateTopicsResponse, i16) = conn.send(ApiKey::CreateTopics, &req).await?;
                Ok(resp.topics.iter().map(|t| (t.name.to_string(), kafka_err(t.error_code, t.error_message.as_ref()))).collect())
            }
        }))
    }

    pub fn delete_topics(&self, topics: &[&str]) -> Result<TopicResults, ClientError> {
        let names: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        let timeout_ms = self.timeout.as_millis().min(i32::MAX as u128) as i32;
        self.run(self.per_topic_on_controller(names, |conn, pending| async move {
            let mut req = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
            if conn.version(ApiKey::DeleteTopics).unwrap_or(0) >= 6 {
                req.topics = pending.iter().map(|t| delete_topics_request::DeleteTopicState::default().with_name(Some(tn(t)))).collect();
            } else {
                req.topic_names = pending.iter().map(|t| tn(t)).collect();
            }
            let (resp, _): (DeleteTopicsResponse, i16) = conn.send(ApiKey::DeleteTopics, &req).await?;
            Ok(resp
                .responses
                .iter()
                .map(|t| (t.name.as_ref().map(|n| n.to_string()).unwrap_or_default(), kafka_err(t.error_code, t.error_message.as_ref())))
                .collect())
        }))
    }

    /// Topic names, sorted; internal topics (`__consumer_offsets`, ...) only when asked for.
    pub fn list_topics(&self, include_internal: bool) -> Result<Vec<String>, ClientError> {
        self.run(async {
            let meta = self.cluster.refresh(None, false).await?;
            let mut names: Vec<String> =
                meta.topics.values().filter(|t| t.error == 0 && (include_internal || !t.is_internal)).map(|t| t.name.clone()).collect();
            names.sort();
            Ok(names)
        })
    }

    /// Fails with the first topic's error (UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist).
    pub fn describe_topics(&self, topics: &[&str]) -> Result<Vec<TopicDescription>, ClientError> {
        let names: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        self.run(async {
            let meta = self.cluster.refresh(Some(&names), false).await?;
            names
                .iter()
                .map(|n| {
                    let t = meta.topics.get(n).ok_or_else(|| ClientError::kafka(ErrorCode::UnknownTopicOrPartition.code(), Some(n.clone())).unwrap())?;
                    kafka_err(t.error, None).map_err(|e| match e {
                        ClientError::Kafka { code, .. } => ClientError::Kafka { code, message: Some(format!("topic '{n}'")) },
                        e => e,
                    })?;
                    Ok(TopicDescription {
                        name: t.name.clone(),
                        id: t.id,
                        internal: t.is_internal,
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| PartitionDescription { partition: p.partition, leader: p.leader, replicas: p.replicas.clone(), isr: p.isr.clone() })
                            .collect(),
                    })
                })
                .collect()
        })
    }

    /// Grows topics to `total` partitions each; shrinking is refused with INVALID_PARTITIONS.
    pub fn create_partitions(&self, topics: &[(&str, i32)]) -> Result<TopicResults, ClientError> {
        let req = CreatePartitionsRequest::default()
            .with_timeout_ms(self.timeout.as_millis().min(i32::MAX as u128) as i32)
            .with_topics(topics.iter().map(|(t, n)| create_partitions_request::CreatePartitionsTopic::default().with_assignments(None).with_name(tn(t)).with_count(*n)).collect());
        let names: Vec<String> = topics.iter().map(|(t, _)| t.to_string()).collect();
        self.run(self.per_topic_on_controller(names, |conn, pending| {
            let mut req = req.clone();
            req.topics.retain(|t| pending.iter().any(|n| n == t.name.as_str()));
            async move {
                let (resp, _): (CreatePartitionsResponse, i16) = conn.send(ApiKey::CreatePartitions, &req).await?;
                Ok(resp.results.iter().map(|t| (t.name.to_string(), kafka_err(t.error_code, t.error_message.as_ref()))).collect())
            }
        }))
    }

    // ---------------------------------------------------------------- configs

    /// A topic's effective configuration: key -> (value, is_default).
    pub fn describe_configs(&self, topic: &str) -> Result<BTreeMap<String, (String, bool)>, ClientError> {
        self.run(async {
            let conn = self.cluster.any_broker().await?;
            self.describe_configs_on(conn, RESOURCE_TOPIC, topic).await
        })
    }

    /// A broker's configuration: key -> (value, is_default).
    pub fn describe_broker_configs(&self, node: i32) -> Result<BTreeMap<String, (String, bool)>, ClientError> {
        self.run(async {
            if self.cluster.metadata().brokers.is_empty() {
                self.cluster.refresh(Some(NO_TOPICS), false).await?;
            }
            let conn = self.cluster.broker(node).await?;
            self.describe_configs_on(conn, RESOURCE_BROKER, &node.to_string()).await
        })
    }

    /// Alters a topic's configuration key by key (IncrementalAlterConfigs): each op sets, deletes (back to the
    /// default), appends to or subtracts from a list-valued key. With `validate_only` nothing changes.
    pub fn alter_configs(&self, topic: &str, ops: &[ConfigOp], validate_only: bool) -> Result<(), ClientError> {
        use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
        let configs = ops
            .iter()
            .map(|op| {
                let (code, key, value) = match op {
                    ConfigOp::Set(k, v) => (0, k, Some(v)),
                    ConfigOp::Delete(k) => (1, k, None),
                    ConfigOp::Append(k, v) => (2, k, Some(v)),
                    ConfigOp::Subtract(k, v) => (3, k, Some(v)),
                };
                AlterableConfig::default().with_name(s(key)).with_config_operation(code).with_value(value.map(|v| s(v)))
            })
            .collect();
        let req = IncrementalAlterConfigsRequest::default()
            .with_resources(vec![AlterConfigsResource::default().with_resource_type(RESOURCE_TOPIC).with_resource_name(s(topic)).with_configs(configs)])
            .with_validate_only(validate_only);
        self.run(async {
            let conn = self.cluster.any_broker().await?;
            let (resp, _): (IncrementalAlterConfigsResponse, i16) = conn.send(ApiKey::IncrementalAlterConfigs, &req).await?;
            let r = resp.responses.into_iter().next().ok_or_else(|| ClientError::Protocol {
                addr: conn.addr.clone(),
                reason: "IncrementalAlterConfigs answered no resource".into(),
            })?;
            kafka_err(r.error_code, r.error_message.as_ref())
        })
    }

    async fn describe_configs_on(&self, conn: Arc<Connection>, kind: i8, name: &str) -> Result<BTreeMap<String, (String, bool)>, ClientError> {
        let req = DescribeConfigsRequest::default()
            .with_resources(vec![describe_configs_request::DescribeConfigsResource::default().with_resource_type(kind).with_resource_name(s(name))]);
        let (resp, _): (DescribeConfigsResponse, i16) = conn.send(ApiKey::DescribeConfigs, &req).await?;
        let r = resp.results.into_iter().next().ok_or_else(|| ClientError::Protocol { addr: conn.addr.clone(), reason: "DescribeConfigs answered no resource".into() })?;
        kafka_err(r.error_code, r.error_message.as_ref())?;
        Ok(r.configs
            .iter()
            .map(|c| (c.name.to_string(), (c.value.as_ref().map(|v| v.to_string()).unwrap_or_default(), c.config_source == SOURCE_DEFAULT)))
            .collect())
    }

    // ---------------------------------------------------------------- groups

    /// (group, protocol type, state) of every group on every broker, sorted by group.
    pub fn list_groups(&self) -> Result<Vec<(String, String, String)>, ClientError> {
        self.run(async {
            let meta = self.cluster.refresh(Some(NO_TOPICS), false).await?;
            let mut nodes: Vec<i32> = meta.brokers.keys().copied().collect();
            nodes.sort();
            let mut out = Vec::new();
            for node in nodes {
                loop {
                    let conn = self.cluster.broker(node).await?;
                    let (resp, _): (ListGroupsResponse, i16) = conn.send(ApiKey::ListGroups, &ListGroupsRequest::default()).await?;
                    match kafka_err(resp.error_code, None) {
                        Err(e) if coordinator_transient(&e) => tokio::time::sleep(Duration::from_millis(50)).await,
                        Err(e) => return Err(e),
                        Ok(()) => {
                            out.extend(resp.groups.iter().map(|g| (g.group_id.to_string(), g.protocol_type.to_string(), g.group_state.to_string())));
                            break;
                        }
                    }
                }
            }
            out.sort();
            Ok(out)
        })
    }

    /// Fails with the first group's error. A group that does not exist is reported in state "Dead", as Kafka does.
    pub fn describe_groups(&self, groups: &[&str]) -> Result<Vec<GroupDescription>, ClientError> {
        self.run(async {
            let mut out = Vec::new();
            for group in groups {
                let req = DescribeGroupsRequest::default().with_groups(vec![GroupId(s(group))]);
                let g = self
                    .with_coordinator(group, |conn| {
                        let req = &req;
                        async move {
                            let (resp, _): (DescribeGroupsResponse, i16) = conn.send(ApiKey::DescribeGroups, req).await?;
                            let g = resp.groups.into_iter().next().ok_or_else(|| ClientError::Protocol {
                                addr: conn.addr.clone(),
                                reason: "DescribeGroups answered no group".into(),
                            })?;
                            kafka_err(g.error_code, g.error_message.as_ref())?;
                            Ok(g)
                        }
                    })
                    .await?;
                let consumer = g.protocol_type.as_str() == "consumer";
                out.push(GroupDescription {
                    group_id: g.group_id.to_string(),
                    state: g.group_state.to_string(),
                    protocol_type: g.protocol_type.to_string(),
                    protocol: g.protocol_data.to_string(),
                    members: g
                        .members
                        .iter()
                        .map(|m| MemberDescription {
                            member_id: m.member_id.to_string(),
                            group_instance_id: m.group_instance_id.as_ref().map(|i| i.to_string()),
                            client_id: m.client_id.to_string(),
                            host: m.client_host.to_string(),
                            assignment: consumer.then(|| decode_assignment(&m.member_assignment).ok().map(|a| a.partitions)).flatten(),
                        })
                        .collect(),
                });
            }
            Ok(out)
        })
    }

    /// Deletes groups; a group with members is refused with NON_EMPTY_GROUP, an unknown one with GROUP_ID_NOT_FOUND.
    pub fn delete_groups(&self, groups: &[&str]) -> Result<TopicResults, ClientError> {
        self.run(async {
            let mut out = Vec::new();
            for group in groups {
                let req = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s(group))]);
                let code = self
                    .with_coordinator(group, |conn| {
                        let req = &req;
                        async move {
                            let (resp, _): (DeleteGroupsResponse, i16) = conn.send(ApiKey::DeleteGroups, req).await?;
                            let code = resp.results.first().map(|r| r.error_code).unwrap_or(0);
                            // Retry the coordinator's transient answers; keep the rest as the group's result.
                            match kafka_err(code, None) {
                                Err(e) if coordinator_transient(&e) => Err(e),
                                _ => Ok(code),
                            }
                        }
                    })
                    .await?;
                out.push((group.to_string(), kafka_err(code, None)));
            }
            Ok(out)
        })
    }

    /// Every committed offset of `group` (OffsetFetch with null topics).
    pub fn list_group_offsets(&self, group: &str) -> Result<BTreeMap<PartitionKey, i64>, ClientError> {
        self.run(self.group_offsets(group))
    }

    async fn group_offsets(&self, group: &str) -> Result<BTreeMap<PartitionKey, i64>, ClientError> {
        self.with_coordinator(group, |conn| async move {
            let v = conn.negotiated(ApiKey::OffsetFetch)?;
            let mut out = BTreeMap::new();
            if v >= 8 {
                let req = OffsetFetchRequest::default()
                    .with_groups(vec![offset_fetch_request::OffsetFetchRequestGroup::default().with_group_id(GroupId(s(group))).with_topics(None)]);
                let (resp, _): (OffsetFetchResponse, i16) = conn.send(ApiKey::OffsetFetch, &req).await?;
                let g = resp.groups.into_iter().next().ok_or_else(|| ClientError::Protocol { addr: conn.addr.clone(), reason: "OffsetFetch answered no group".into() })?;
                kafka_err(g.error_code, None)?;
                for t in g.topics {
                    for p in t.partitions {
                        kafka_err(p.error_code, None)?;
                        if p.committed_offset >= 0 {
                            out.insert((t.name.to_string(), p.partition_index), p.committed_offset);
                        }
                    }
                }
            } else {
                if v < 2 {
                    return Err(ClientError::UnsupportedApi { addr: conn.addr.clone(), api: "OffsetFetch v2+ (all topics)".into() });
                }
                let req = OffsetFetchRequest::default().with_group_id(GroupId(s(group))).with_topics(None);
                let (resp, _): (OffsetFetchResponse, i16) = conn.send(ApiKey::OffsetFetch, &req).await?;
                kafka_err(resp.error_code, None)?;
                for t in resp.topics {
                    for p in t.partitions {
                        kafka_err(p.error_code, None)?;
                        if p.committed_offset >= 0 {
                            out.insert((t.name.to_string(), p.partition_index), p.committed_offset);
                        }
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// Committed offset against log end offset for every partition `group` has committed.
    pub fn group_lag(&self, group: &str) -> Result<BTreeMap<PartitionKey, PartitionLag>, ClientError> {
        self.run(async {
            let committed = self.group_offsets(group).await?;
            let wanted: Vec<(String, i32, OffsetSpec)> = committed.keys().map(|(t, p)| (t.clone(), *p, OffsetSpec::Latest)).collect();
            let ends = self.list_offsets_inner(&wanted).await?;
            let mut out = BTreeMap::new();
            for ((key, end), (_, committed)) in ends.into_iter().zip(committed) {
                let log_end = end?.offset;
                let lag = if committed >= 0 { (log_end - committed).max(0) } else { log_end };
                out.insert(key, PartitionLag { committed, log_end, lag });
            }
            Ok(out)
        })
    }

    // ---------------------------------------------------------------- offsets and records

    /// One result per requested partition, in the order asked.
    pub fn list_offsets(&self, partitions: &[(&str, i32, OffsetSpec)]) -> Result<PerPartition<ListedOffset>, ClientError> {
        let wanted: Vec<(String, i32, OffsetSpec)> = partitions.iter().map(|(t, p, s)| (t.to_string(), *p, *s)).collect();
        self.run(self.list_offsets_inner(&wanted))
    }

    /// Groups partitions by leader; partitions without a known leader answer UNKNOWN_TOPIC_OR_PARTITION or
    /// LEADER_NOT_AVAILABLE.
    async fn by_leader<T: Clone>(&self, wanted: &[(String, i32, T)]) -> Result<(BTreeMap<i32, Vec<usize>>, HashMap<usize, ClientError>), ClientError> {
        let mut topics: Vec<String> = wanted.iter().map(|w| w.0.clone()).collect();
        topics.sort();
        topics.dedup();
        let meta = self.cluster.refresh(Some(&topics), false).await?;
        let mut leaders: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        let mut failed = HashMap::new();
        for (i, (t, p, _)) in wanted.iter().enumerate() {
            let known = meta.topics.get(t).is_some_and(|ti| ti.error == 0 && *p >= 0 && (*p as usize) < ti.partitions.len());
            match meta.leader(t, *p) {
                Some(l) if known => leaders.entry(l).or_default().push(i),
                _ => {
                    let code = if known { ErrorCode::LeaderNotAvailable } else { ErrorCode::UnknownTopicOrPartition };
                    failed.insert(i, ClientError::Kafka { code, message: Some(format!("{t}-{p}")) });
                }
            }
        }
        Ok((leaders, failed))
    }

    /// ListOffsets, asking again where leaders moved.
    async fn list_offsets_inner(&self, wanted: &[(String, i32, OffsetSpec)]) -> Result<PerPartition<ListedOffset>, ClientError> {
        self.per_partition_on_leaders(wanted, |subset| async move { self.list_offsets_once(&subset).await }).await
    }

    async fn list_offsets_once(&self, wanted: &[(String, i32, OffsetSpec)]) -> Result<PerPartition<ListedOffset>, ClientError> {
        let (leaders, mut failed) = self.by_leader(wanted).await?;
        let mut done: HashMap<usize, Result<ListedOffset, ClientError>> = HashMap::new();
        let meta = self.cluster.metadata();
        for (leader, idx) in leaders.into_iter().flat_map(|(l, idx)| rounds(wanted, idx).into_iter().map(move |r| (l, r))) {
            let conn = match self.cluster.broker(leader).await {
                Ok(c) => c,
                Err(e) => {
                    // That leader is gone: its partitions are asked again (per_partition_on_leaders).
                    failed.extend(idx.iter().map(|&i| (i, e.clone())));
                    continue;
                }
            };
            let v = conn.version(ApiKey::ListOffsets).unwrap_or(0);
            let mut topics: BTreeMap<&str, Vec<list_offsets_request::ListOffsetsPartition>> = BTreeMap::new();
            for &i in &idx {
                let (t, p, spec) = &wanted[i];
                if *spec == OffsetSpec::MaxTimestamp && v < 7 {
                    failed.insert(i, ClientError::kafka(ErrorCode::UnsupportedVersion.code(), Some("MaxTimestamp needs ListOffsets v7".into())).unwrap());
                    continue;
                }
                topics.entry(t.as_str()).or_default().push(
                    list_offsets_request::ListOffsetsPartition::default()
                        .with_partition_index(*p)
                        .with_current_leader_epoch(meta.leader_epoch(t, *p).unwrap_or(-1))
                        .with_timestamp(spec.wire()),
                );
            }
            if topics.is_empty() {
                continue;
            }
            let req = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_isolation_level(0).with_topics(
                topics.into_iter().map(|(t, ps)| list_offsets_request::ListOffsetsTopic::default().with_name(tn(t)).with_partitions(ps)).collect(),
            );
            let resp: ListOffsetsResponse = match conn.send(ApiKey::ListOffsets, &req).await {
                Ok((r, _)) => r,
                Err(e) if moved(&e) => {
                    failed.extend(idx.iter().map(|&i| (i, e.clone())));
                    continue;
                }
                Err(e) => return Err(e),
            };
            for t in &resp.topics {
                for p in &t.partitions {
                    if let Some(&i) = idx.iter().find(|&&i| wanted[i].0 == t.name.as_str() && wanted[i].1 == p.partition_index) {
                        done.insert(i, kafka_err(p.error_code, None).map(|_| ListedOffset { offset: p.offset, timestamp: p.timestamp }));
                    }
                }
            }
        }
        Ok(wanted
            .iter()
            .enumerate()
            .map(|(i, (t, p, _))| {
                let r = failed.remove(&i).map(Err).or_else(|| done.remove(&i)).unwrap_or_else(|| {
                    Err(ClientError::Protocol { addr: String::new(), reason: format!("ListOffsets did not answer for {t}-{p}") })
                });
                ((t.clone(), *p), r)
            })
            .collect())
    }

    /// Deletes records before the given offsets (-1: the high watermark); answers each partition's new low
    /// watermark.
    pub fn delete_records(&self, partitions: &[(&str, i32, i64)]) -> Result<PerPartition<i64>, ClientError> {
        let wanted: Vec<(String, i32, i64)> = partitions.iter().map(|(t, p, o)| (t.to_string(), *p, *o)).collect();
        self.run(self.per_partition_on_leaders(&wanted, |wanted| async move {
            let (leaders, mut failed) = self.by_leader(&wanted).await?;
            let mut done: HashMap<usize, Result<i64, ClientError>> = HashMap::new();
            for (leader, idx) in leaders.into_iter().flat_map(|(l, idx)| rounds(&wanted, idx).into_iter().map(move |r| (l, r))) {
                let conn = match self.cluster.broker(leader).await {
                    Ok(c) => c,
                    Err(e) => {
                        failed.extend(idx.iter().map(|&i| (i, e.clone())));
                        continue;
                    }
                };
                let mut topics: BTreeMap<&str, Vec<delete_records_request::DeleteRecordsPartition>> = BTreeMap::new();
                for &i in &idx {
                    let (t, p, o) = &wanted[i];
                    topics.entry(t.as_str()).or_default().push(delete_records_request::DeleteRecordsPartition::default().with_partition_index(*p).with_offset(*o));
                }
                let req = DeleteRecordsRequest::default()
                    .with_timeout_ms(self.timeout.as_millis().min(i32::MAX as u128) as i32)
                    .with_topics(topics.into_iter().map(|(t, ps)| delete_records_request::DeleteRecordsTopic::default().with_name(tn(t)).with_partitions(ps)).collect());
                let resp: DeleteRecordsResponse = match conn.send(ApiKey::DeleteRecords, &req).await {
                    Ok((r, _)) => r,
                    Err(e) if moved(&e) => {
                        failed.extend(idx.iter().map(|&i| (i, e.clone())));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                for t in &resp.topics {
                    for p in &t.partitions {
                        if let Some(&i) = idx.iter().find(|&&i| wanted[i].0 == t.name.as_str() && wanted[i].1 == p.partition_index) {
                            done.insert(i, kafka_err(p.error_code, None).map(|_| p.low_watermark));
                        }
                    }
                }
            }
            Ok(wanted
                .iter()
                .enumerate()
                .map(|(i, (t, p, _))| {
                    let r = failed.remove(&i).map(Err).or_else(|| done.remove(&i)).unwrap_or_else(|| {
                        Err(ClientError::Protocol { addr: String::new(), reason: format!("DeleteRecords did not answer for {t}-{p}") })
                    });
                    ((t.clone(), *p), r)
                })
                .collect())
        }))
    }

    // ---------------------------------------------------------------- cluster

    /// Cluster id, controller and brokers (DescribeCluster, or Metadata when the broker does not serve it).
    pub fn describe_cluster(&self) -> Result<ClusterDescription, ClientError> {
        self.run(async {
            let conn = self.cluster.any_broker().await?;
            if conn.version(ApiKey::DescribeCluster).is_some() {
                let (resp, _): (DescribeClusterResponse, i16) = conn.send(ApiKey::DescribeCluster, &DescribeClusterRequest::default()).await?;
                kafka_err(resp.error_code, resp.error_message.as_ref())?;
                let mut brokers: Vec<(i32, String)> = resp.brokers.iter().map(|b| (b.broker_id.0, format!("{}:{}", b.host.as_str(), b.port))).collect();
                brokers.sort();
                return Ok(ClusterDescription { cluster_id: resp.cluster_id.to_string(), controller: resp.controller_id.0, brokers });
            }
            let meta = self.cluster.refresh(Some(NO_TOPICS), false).await?;
            let mut brokers: Vec<(i32, String)> = meta.brokers.iter().map(|(k, v)| (*k, v.clone())).collect();
            brokers.sort();
            Ok(ClusterDescription { cluster_id: meta.cluster_id.clone().unwrap_or_default(), controller: meta.controller, brokers })
        })
    }

    // ---------------------------------------------------------------- group offsets (alter)

    /// Sets committed offsets of `group` as Kafka's `alterConsumerGroupOffsets` does: an OffsetCommit outside
    /// any generation, which the coordinator accepts only while the group has no members (UNKNOWN_MEMBER_ID
    /// otherwise). One result per requested partition, in the order asked.
    pub fn alter_group_offsets(&self, group: &str, offsets: &[(&str, i32, i64)]) -> Result<PerPartition<()>, ClientError> {
        let mut topics: BTreeMap<&str, Vec<offset_commit_request::OffsetCommitRequestPartition>> = BTreeMap::new();
        for (t, p, o) in offsets {
            topics.entry(t).or_default().push(
                offset_commit_request::OffsetCommitRequestPartition::default()
                    .with_partition_index(*p)
                    .with_committed_offset(*o)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(Some(s(""))),
            );
        }
        let req = OffsetCommitRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id_or_member_epoch(-1)
            .with_member_id(s(""))
            .with_retention_time_ms(-1)
            .with_topics(topics.into_iter().map(|(t, ps)| offset_commit_request::OffsetCommitRequestTopic::default().with_name(tn(t)).with_partitions(ps)).collect());
        self.run(async {
            let resp = self
                .with_coordinator(group, |conn| {
                    let req = &req;
                    async move {
                        let (resp, _): (OffsetCommitResponse, i16) = conn.send(ApiKey::OffsetCommit, req).await?;
                        // A coordinator that moved or is loading answers so for every partition: ask again.
                        let first = resp.topics.first().and_then(|t| t.partitions.first()).map(|p| p.error_code).unwrap_or(0);
                        if let Err(e) = kafka_err(first, None) {
                            if coordinator_transient(&e) {
                                return Err(e);
                            }
                        }
                        Ok(resp)
                    }
                })
                .await?;
            Ok(offsets
                .iter()
                .map(|(t, p, _)| {
                    let code = resp
                        .topics
                        .iter()
                        .filter(|rt| rt.name.as_str() == *t)
                        .flat_map(|rt| rt.partitions.iter())
                        .find(|rp| rp.partition_index == *p)
                        .map(|rp| rp.error_code);
                    let r = match code {
                        Some(c) => kafka_err(c, None),
                        None => Err(ClientError::Protocol { addr: String::new(), reason: format!("OffsetCommit did not answer for {t}-{p}") }),
                    };
                    ((t.to_string(), *p), r)
                })
                .collect())
        })
    }

    /// Closes the connections and stops the runtime (also done on drop).
    pub fn close(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.close();
    }
}

impl AdminConfig {
    /// Whether `key` is a admin property this configuration reads (bindings use it to refuse unknown keys early).
    pub fn is_known_key(key: &str) -> bool {
        KNOWN_KEYS.contains(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_that_met_the_wrong_or_a_dead_broker_are_asked_again() {
        let kafka = |code: ErrorCode| ClientError::Kafka { code, message: None };
        for code in [ErrorCode::NotController, ErrorCode::NotLeaderOrFollower, ErrorCode::LeaderNotAvailable, ErrorCode::FencedLeaderEpoch, ErrorCode::UnknownLeaderEpoch] {
            assert!(moved(&kafka(code)), "{code:?}");
        }
        assert!(moved(&ClientError::Connection { addr: "127.0.0.1:9092".into(), reason: "connection refused".into() }));
        // Answers about the resource itself are final.
        for code in [ErrorCode::TopicAlreadyExists, ErrorCode::UnknownTopicOrPartition, ErrorCode::InvalidPartitions, ErrorCode::PolicyViolation] {
            assert!(!moved(&kafka(code)), "{code:?}");
        }
        assert!(!moved(&ClientError::Timeout(30_000)), "the call's deadline has passed");
    }
}
