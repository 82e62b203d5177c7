//! Typed configuration parsed from Kafka property names (`log.segment.bytes`, `retention.ms`, ...).
//!
//! Values use Kafka's syntax. An invalid value is an error that names the key and the value; an unknown key is
//! only a warning, so existing `server.properties` files keep working.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::record::TimestampType;
use crate::storage::{CleanupPolicy, LogConfig};

/// A configuration problem: which key, which value, and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub value: String,
    pub reason: String,
    /// The key itself is not a configuration (a typo, or one this component does not have), as opposed to a
    /// known key with a bad value.
    pub unknown_key: bool,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unknown_key {
            write!(f, "{}: {}", self.reason, self.key)
        } else {
            write!(f, "invalid value '{}' for configuration '{}': {}", self.value, self.key, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub fn new(key: &str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError { key: key.to_string(), value: value.to_string(), reason: reason.into(), unknown_key: false }
    }

    /// `key` is not a configuration at all; `what` says so in Kafka's words ("Unknown topic config name").
    pub fn unknown_key(key: &str, value: &str, what: &str) -> Self {
        ConfigError { key: key.to_string(), value: value.to_string(), reason: what.to_string(), unknown_key: true }
    }
}

/// Property map in Kafka's `key=value` form.
pub type Props = BTreeMap<String, String>;

/// Parses the `key=value` lines of a Java properties file (`#`/`!` comments, `:` separators, blank lines).
pub fn parse_properties(text: &str) -> Result<Props, ConfigError> {
    let mut props = Props::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line.find(['=', ':']).ok_or_else(|| ConfigError::new(line, "", "expected key=value"))?;
        props.insert(line[..split].trim().to_string(), line[split + 1..].trim().to_string());
    }
    Ok(props)
}

/// Reads a properties file, naming the file in the error.
pub fn read_properties_file(path: &Path) -> Result<Props, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_properties(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Typed accessors over a property map; every parse error names the key.
pub struct PropReader<'a> {
    props: &'a Props,
}

impl<'a> PropReader<'a> {
    pub fn new(props: &'a Props) -> Self {
        PropReader { props }
    }

    pub fn raw(&self, key: &str) -> Option<&'a str> {
        self.props.get(key).map(|s| s.as_str())
    }

    pub fn i64(&self, key: &str, default: i64) -> Result<i64, ConfigError> {
        self.i64_opt(key).map(|v| v.unwrap_or(default))
    }

    pub fn i64_opt(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| ConfigError::new(key, v, "expected an integer")),
        }
    }

    pub fn i64_min(&self, key: &str, default: i64, min: i64) -> Result<i64, ConfigError> {
        let v = self.i64(key, default)?;
        if v < min {
            return Err(ConfigError::new(key, &v.to_string(), format!("must be at least {min}")));
        }
        Ok(v)
    }

    pub fn i32_min(&self, key: &str, default: i32, min: i32) -> Result<i32, ConfigError> {
        let v = self.i64_min(key, default as i64, min as i64)?;
        i32::try_from(v).map_err(|_| ConfigError::new(key, &v.to_string(), "out of range for a 32-bit integer"))
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ConfigError::new(key, v, "expected true or false")),
            },
        }
    }

    pub fn string(&self, key: &str, default: &str) -> String {
        self.raw(key).unwrap_or(default).trim().to_string()
    }

    pub fn one_of(&self, key: &str, default: &str, allowed: &[&str]) -> Result<String, ConfigError> {
        let v = self.string(key, default).to_ascii_lowercase();
        if allowed.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(ConfigError::new(key, &v, format!("expected one of {}", allowed.join(", "))))
        }
    }
}

/// The broker properties this broker understands. Anything else is accepted with a warning.
const KNOWN_BROKER_KEYS: &[&str] = &[
    "listeners",
    "advertised.listeners",
    "node.id",
    "broker.id",
    "log.dirs",
    "log.dir",
    "num.partitions",
    "default.replication.factor",
    "auto.create.topics.enable",
    "message.max.bytes",
    "socket.request.max.bytes",
    "log.segment.bytes",
    "log.roll.ms",
    "log.roll.hours",
    "log.index.size.max.bytes",
    "log.index.interval.bytes",
    "log.retention.ms",
    "log.retention.minutes",
    "log.retention.hours",
    "log.retention.bytes",
    "log.retention.check.interval.ms",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.message.timestamp.type",
    "log.cleanup.policy",
    "log.cleaner.delete.retention.ms",
    "log.cleaner.min.cleanable.ratio",
    "log.cleaner.min.compaction.lag.ms",
    "log.cleaner.backoff.ms",
    "cluster.id",
    "delete.topic.enable",
    "group.initial.rebalance.delay.ms",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "group.max.size",
    "offsets.topic.num.partitions",
    "offsets.topic.segment.bytes",
    "offsets.topic.replication.factor",
    "offsets.retention.minutes",
    "offsets.retention.check.interval.ms",
    "offset.metadata.max.bytes",
    "min.insync.replicas",
    "replica.lag.time.max.ms",
    "replica.fetch.wait.max.ms",
    "replica.fetch.max.bytes",
    "replica.fetch.min.bytes",
    "replica.fetch.response.max.bytes",
    "replica.fetch.backoff.ms",
    "replica.high.watermark.checkpoint.interval.ms",
    // Cluster: roles, quorum, controller (see `ClusterSettings`).
    "process.roles",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "controller.listener.names",
    "listener.security.protocol.map",
    "inter.broker.listener.name",
    "broker.session.timeout.ms",
    "broker.heartbeat.interval.ms",
    "unclean.leader.election.enable",
    "auto.leader.rebalance.enable",
    "leader.imbalance.check.interval.seconds",
    "transaction.state.log.replication.factor",
];

/// Broker-wide configuration (`server.properties`).
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub node_id: i32,
    pub listen: String,
    /// The controller listener's `host:port` (the listener named in `controller.listener.names`), if any.
    pub controller_listen: Option<String>,
    /// `host:port` clients are told to connect to; None means the bound address.
    pub advertised: Option<String>,
    pub log_dir: Option<PathBuf>,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics: bool,
    pub delete_topic_enable: bool,
    pub socket_request_max_bytes: usize,
    pub retention_check_interval_ms: u64,
    /// `log.cleaner.backoff.ms`: how often the compaction cleaner looks for dirty logs.
    pub cleaner_backoff_ms: u64,
    pub cluster_id: Option<String>,
    /// Defaults for every topic; per-topic configs override them.
    pub log_defaults: LogConfig,
    /// Group coordinator settings (`group.*`, `offsets.*`).
    pub groups: GroupSettings,
    /// Replication settings (`replica.*`).
    pub replication: ReplicaSettings,
    /// Roles, the metadata quorum and the controller's settings.
    pub cluster: ClusterSettings,
    /// The properties as given, for DescribeConfigs on the broker resource.
    pub props: Props,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig::from_props(&Props::new()).expect("defaults are valid")
    }
}

/// `NAME://host:port,...` -> (name, `host:port`) pairs; an entry without a scheme is PLAINTEXT.
fn named_listeners(v: &str) -> Vec<(String, String)> {
    v.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| match e.split_once("://") {
            Some((name, addr)) => (name.trim().to_ascii_uppercase(), addr.trim().to_string()),
            None => ("PLAINTEXT".to_string(), e.to_string()),
        })
        .collect()
}

/// The first listener not named in `controller.listener.names` (the one clients use), and the first controller
/// listener.
fn split_listeners(v: &str, controller_names: &[String]) -> (Option<String>, Option<String>) {
    let all = named_listeners(v);
    let broker = all.iter().find(|(n, _)| !controller_names.contains(n)).map(|(_, a)| a.clone());
    let controller = all.iter().find(|(n, _)| controller_names.contains(n)).map(|(_, a)| a.clone());
    (broker, controller)
}

impl BrokerConfig {
    pub fn from_props(props: &Props) -> Result<Self, ConfigError> {
        for key in props.keys() {
            if !KNOWN_BROKER_KEYS.contains(&key.as_str()) {
                tracing::warn!(key = %key, "unknown broker configuration ignored");
            }
        }
        let r = PropReader::new(props);
        let node_id = match r.i64_opt("node.id")? {
            Some(v) => v,
            None => r.i64("broker.id", 0)?,
        };
        let node_id = i32::try_from(node_id).map_err(|_| ConfigError::new("node.id", &node_id.to_string(), "out of range"))?;
        let controller_names: Vec<String> =
            r.string("controller.listener.names", "CONTROLLER").split(',').map(|n| n.trim().to_ascii_uppercase()).filter(|n| !n.is_empty()).collect();
        let (listen, controller_listen) = match r.raw("listeners") {
            Some(v) => split_listeners(v, &controller_names),
            None => (None, None),
        };
        let listen = listen.unwrap_or_else(|| "127.0.0.1:9092".into());
        let advertised = r.raw("advertised.listeners").and_then(|v| split_listeners(v, &controller_names).0);
        let log_dir = r.raw("log.dirs").or(r.raw("log.dir")).map(|v| PathBuf::from(v.split(',').next().unwrap_or("").trim()));
        let rf = r.i32_min("default.replication.factor", 1, 1)?;
        let cfg = BrokerConfig {
            node_id,
            listen,
            controller_listen,
            advertised,
            log_dir,
            num_partitions: r.i32_min("num.partitions", 1, 1)?,
            default_replication_factor: i16::try_from(rf).map_err(|_| ConfigError::new("default.replication.factor", &rf.to_string(), "out of range"))?,
            auto_create_topics: r.bool("auto.create.topics.enable", true)?,
            delete_topic_enable: r.bool("delete.topic.enable", true)?,
            socket_request_max_bytes: r.i32_min("socket.request.max.bytes", 104_857_600, 1024)? as usize,
            retention_check_interval_ms: r.i64_min("log.retention.check.interval.ms", 300_000, 1)? as u64,
            cleaner_backoff_ms: r.i64_min("log.cleaner.backoff.ms", 15_000, 1)? as u64,
            cluster_id: r.raw("cluster.id").map(|s| s.to_string()),
            log_defaults: log_defaults_from_broker_props(&r)?,
            groups: GroupSettings::from_props(&r)?,
            replication: ReplicaSettings::from_props(&r)?,
            cluster: ClusterSettings::from_props(&r)?,
            props: props.clone(),
        };
        if let Some(a) = &cfg.advertised {
            validate_host_port("advertised.listeners", a)?;
        }
        Ok(cfg)
    }
}

fn validate_host_port(key: &str, v: &str) -> Result<(), ConfigError> {
    let (host, port) = v.rsplit_once(':').ok_or_else(|| ConfigError::new(key, v, "expected HOST:PORT"))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(ConfigError::new(key, v, "expected HOST:PORT"));
    }
    Ok(())
}

/// Parses `HOST:PORT` into a socket address, resolving host names.
pub fn resolve_listen(key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    use std::net::ToSocketAddrs;
    validate_host_port(key, v)?;
    v.to_socket_addrs()
        .map_err(|e| ConfigError::new(key, v, e.to_string()))?
        .next()
        .ok_or_else(|| ConfigError::new(key, v, "host does not resolve"))
}

fn log_defaults_from_broker_props(r: &PropReader) -> Result<LogConfig, ConfigError> {
    // Kafka's coarser synonyms give the defaults that the exact `.ms` keys then override.
    let mut d = LogConfig::default();
    if let Some(m) = r.i64_opt("log.retention.minutes")? {
        d.retention_ms = m.saturating_mul(60_000);
    } else if let Some(h) = r.i64_opt("log.retention.hours")? {
        d.retention_ms = h.saturating_mul(3_600_000);
    }
    if let Some(h) = r.i64_opt("log.roll.hours")? {
        d.segment_ms = h.saturating_mul(3_600_000);
    }
    // Validated here; the broker reads the value itself for its maintenance task.
    r.i64_min("log.cleaner.backoff.ms", 15_000, 0)?;
    read_log_config(r, &d, broker_key)
}

/// The broker property that sets a topic config's default (`segment.bytes` -> `log.segment.bytes`).
fn broker_key(topic_key: &'static str) -> &'static str {
    TOPIC_CONFIG_KEYS.iter().find(|(t, _)| *t == topic_key).map(|(_, b)| *b).unwrap_or(topic_key)
}

/// Reads a log configuration over `defaults`. `key` names each setting: the topic's own name for topic
/// configs, the broker's `log.*` name for broker defaults; one reader keeps the two in step.
fn read_log_config(r: &PropReader, defaults: &LogConfig, key: fn(&'static str) -> &'static str) -> Result<LogConfig, ConfigError> {
    let cleanup_key = key("cleanup.policy");
    let cleanup_policy = match r.raw(cleanup_key) {
        None => defaults.cleanup_policy,
        Some(v) => CleanupPolicy::parse(v).ok_or_else(|| ConfigError::new(cleanup_key, v, "expected delete, compact or compact,delete"))?,
    };
    let ratio_key = key("min.cleanable.dirty.ratio");
    let ratio = match r.raw(ratio_key) {
        None => defaults.min_cleanable_dirty_ratio,
        Some(v) => match v.trim().parse::<f64>() {
            Ok(x) if (0.0..=1.0).contains(&x) => x,
            _ => return Err(ConfigError::new(ratio_key, v, "expected a number between 0 and 1")),
        },
    };
    let ts_default = match defaults.message_timestamp_type {
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
    };
    let ts_type = r.one_of(key("message.timestamp.type"), ts_default, &["createtime", "logappendtime"])?;
    let retention_key = key("retention.ms");
    Ok(LogConfig {
        segment_bytes: r.i64_min(key("segment.bytes"), defaults.segment_bytes as i64, 14)? as u64,
        segment_ms: r.i64_min(key("segment.ms"), defaults.segment_ms, 1)?,
        segment_index_bytes: r.i64_min(key("segment.index.bytes"), defaults.segment_index_bytes as i64, 8)? as usize,
        index_interval_bytes: r.i64_min(key("index.interval.bytes"), defaults.index_interval_bytes as i64, 0)? as usize,
        retention_ms: check_retention(retention_key, r.i64(retention_key, defaults.retention_ms)?)?,
        retention_bytes: r.i64(key("retention.bytes"), defaults.retention_bytes)?,
        flush_messages: r.i64_min(key("flush.messages"), defaults.flush_messages, 1)?,
        flush_ms: r.i64_min(key("flush.ms"), defaults.flush_ms, 0)?,
        max_message_bytes: r.i32_min(key("max.message.bytes"), defaults.max_message_bytes as i32, 0)? as usize,
        message_timestamp_type: if ts_type == "logappendtime" { TimestampType::LogAppendTime } else { TimestampType::CreateTime },
        cleanup_policy,
        delete_retention_ms: r.i64_min(key("delete.retention.ms"), defaults.delete_retention_ms, 0)?,
        min_cleanable_dirty_ratio: ratio,
        min_compaction_lag_ms: r.i64_min(key("min.compaction.lag.ms"), defaults.min_compaction_lag_ms, 0)?,
        min_insync_replicas: r.i32_min(key("min.insync.replicas"), defaults.min_insync_replicas, 1)?,
    })
}

fn check_retention(key: &str, v: i64) -> Result<i64, ConfigError> {
    if v < -1 {
        return Err(ConfigError::new(key, &v.to_string(), "must be -1 (unlimited) or at least 0"));
    }
    Ok(v)
}

/// Topic-level configuration keys this broker applies, with their broker-level counterparts.
pub const TOPIC_CONFIG_KEYS: &[(&str, &str)] = &[
    ("cleanup.policy", "log.cleanup.policy"),
    ("segment.bytes", "log.segment.bytes"),
    ("segment.ms", "log.roll.ms"),
    ("segment.index.bytes", "log.index.size.max.bytes"),
    ("index.interval.bytes", "log.index.interval.bytes"),
    ("retention.ms", "log.retention.ms"),
    ("retention.bytes", "log.retention.bytes"),
    ("flush.messages", "log.flush.interval.messages"),
    ("flush.ms", "log.flush.interval.ms"),
    ("max.message.bytes", "message.max.bytes"),
    ("message.timestamp.type", "log.message.timestamp.type"),
    ("delete.retention.ms", "log.cleaner.delete.retention.ms"),
    ("min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio"),
    ("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms"),
    ("min.insync.replicas", "min.insync.replicas"),
];

/// Whether `key` is a topic-level configuration Streamlet knows.
pub fn is_topic_config_key(key: &str) -> bool {
    TOPIC_CONFIG_KEYS.iter().any(|(k, _)| *k == key)
}

/// Applies per-topic overrides to the broker defaults. Unknown topic keys are refused (as Kafka does on
/// CreateTopics), because a typo there would silently change nothing.
pub fn topic_log_config(defaults: &LogConfig, topic_props: &Props) -> Result<LogConfig, ConfigError> {
    for (key, value) in topic_props {
        if !is_topic_config_key(key) {
            return Err(ConfigError::unknown_key(key, value, "Unknown topic config name"));
        }
    }
    read_log_config(&PropReader::new(topic_props), defaults, |k| k)
}

/// The value in force for a topic config key, and whether it is the broker default.
pub fn effective_topic_config(broker: &BrokerConfig, topic_props: &Props, key: &str) -> (String, bool) {
    if let Some(v) = topic_props.get(key) {
        return (v.clone(), false);
    }
    let d = &broker.log_defaults;
    let v = match key {
        "cleanup.policy" => d.cleanup_policy.to_string(),
        "delete.retention.ms" => d.delete_retention_ms.to_string(),
        "min.cleanable.dirty.ratio" => d.min_cleanable_dirty_ratio.to_string(),
        "min.compaction.lag.ms" => d.min_compaction_lag_ms.to_string(),
        "min.insync.replicas" => d.min_insync_replicas.to_string(),
        "segment.bytes" => d.segment_bytes.to_string(),
        "segment.ms" => d.segment_ms.to_string(),
        "segment.index.bytes" => d.segment_index_bytes.to_string(),
        "index.interval.bytes" => d.index_interval_bytes.to_string(),
        "retention.ms" => d.retention_ms.to_string(),
        "retention.bytes" => d.retention_bytes.to_string(),
        "flush.messages" => d.flush_messages.to_string(),
        "flush.ms" => d.flush_ms.to_string(),
        "max.message.bytes" => d.max_message_bytes.to_string(),
        "message.timestamp.type" => match d.message_timestamp_type {
            TimestampType::CreateTime => "CreateTime".into(),
            TimestampType::LogAppendTime => "LogAppendTime".into(),
        },
        _ => String::new(),
    };
    (v, true)
}

/// How replicas keep in sync (`replica.*`), with Kafka's defaults.
#[derive(Debug, Clone)]
pub struct ReplicaSettings {
    /// `replica.lag.time.max.ms`: an ISR follower not caught up for this long is proposed out of the ISR.
    pub lag_time_max_ms: i64,
    /// `replica.fetch.wait.max.ms`, `replica.fetch.min.bytes`: a follower's Fetch waits this long for this much.
    pub fetch_wait_max_ms: i32,
    pub fetch_min_bytes: i32,
    /// `replica.fetch.max.bytes` (per partition) and `replica.fetch.response.max.bytes` (per request).
    pub fetch_max_bytes: i32,
    pub fetch_response_max_bytes: i32,
    /// `replica.fetch.backoff.ms`: pause after a failed fetch.
    pub fetch_backoff_ms: u64,
    /// `replica.high.watermark.checkpoint.interval.ms`
    pub hw_checkpoint_interval_ms: u64,
}

impl ReplicaSettings {
    fn from_props(r: &PropReader) -> Result<Self, ConfigError> {
        let lag = r.i64_min("replica.lag.time.max.ms", 30_000, 1)?;
        let wait = r.i32_min("replica.fetch.wait.max.ms", 500, 0)?;
        if i64::from(wait) > lag {
            // Kafka's own check: a follower waiting longer than the lag time would drop out of the ISR while idle.
            return Err(ConfigError::new("replica.fetch.wait.max.ms", &wait.to_string(), "must not exceed replica.lag.time.max.ms"));
        }
        Ok(ReplicaSettings {
            lag_time_max_ms: lag,
            fetch_wait_max_ms: wait,
            fetch_min_bytes: r.i32_min("replica.fetch.min.bytes", 1, 0)?,
            fetch_max_bytes: r.i32_min("replica.fetch.max.bytes", 1_048_576, 0)?,
            fetch_response_max_bytes: r.i32_min("replica.fetch.response.max.bytes", 10_485_760, 0)?,
            fetch_backoff_ms: r.i64_min("replica.fetch.backoff.ms", 1000, 0)? as u64,
            hw_checkpoint_interval_ms: r.i64_min("replica.high.watermark.checkpoint.interval.ms", 5000, 1)? as u64,
        })
    }
}

/// Cluster settings, with Kafka's KRaft names.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// `process.roles`: broker, controller, or both (the default).
    pub roles: Vec<String>,
    /// `controller.quorum.voters`: node id -> `host:port` of its controller listener (empty: this node alone).
    pub voters: std::collections::BTreeMap<u64, String>,
    /// `broker.session.timeout.ms`: a broker without a heartbeat for this long is fenced.
    pub broker_session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms`
    pub broker_heartbeat_interval_ms: u64,
    /// `unclean.leader.election.enable` (cluster default; a topic may override it).
    pub unclean_leader_election: bool,
    /// `auto.leader.rebalance.enable`, checked every `leader.imbalance.check.interval.seconds`.
    pub auto_leader_rebalance: bool,
    pub leader_imbalance_check_interval_ms: u64,
}

impl ClusterSettings {
    fn from_props(r: &PropReader) -> Result<Self, ConfigError> {
        let session = r.i64_min("broker.session.timeout.ms", 9000, 1)? as u64;
        let heartbeat = r.i64_min("broker.heartbeat.interval.ms", 2000, 1)? as u64;
        if heartbeat >= session {
            return Err(ConfigError::new(
                "broker.heartbeat.interval.ms",
                &heartbeat.to_string(),
                format!("must be less than broker.session.timeout.ms ({session})"),
            ));
        }
        let roles_raw = r.string("process.roles", "broker,controller");
        let mut roles: Vec<String> = roles_raw.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
        roles.sort();
        roles.dedup();
        if roles.is_empty() || roles.iter().any(|x| x != "broker" && x != "controller") {
            return Err(ConfigError::new("process.roles", &roles_raw, "expected broker, controller or broker,controller"));
        }
        let voters = match r.raw("controller.quorum.voters").filter(|v| !v.trim().is_empty()) {
            Some(v) => crate::metadata::quorum::parse_voters(v).map_err(|why| ConfigError::new("controller.quorum.voters", v, why))?,
            None => Default::default(),
        };
        Ok(ClusterSettings {
            roles,
            voters,
            broker_session_timeout_ms: session,
            broker_heartbeat_interval_ms: heartbeat,
            unclean_leader_election: r.bool("unclean.leader.election.enable", false)?,
            auto_leader_rebalance: r.bool("auto.leader.rebalance.enable", true)?,
            leader_imbalance_check_interval_ms: r.i64_min("leader.imbalance.check.interval.seconds", 300, 1)? as u64 * 1000,
        })
    }
}

/// The group coordinator's broker settings, with Kafka's defaults.
#[derive(Debug, Clone)]
pub struct GroupSettings {
    pub min_session_timeout_ms: u64,
    pub max_session_timeout_ms: u64,
    pub initial_rebalance_delay_ms: u64,
    pub max_size: usize,
    pub offsets_partitions: i32,
    pub offsets_segment_bytes: i64,
    pub offsets_retention_ms: u64,
    pub offsets_retention_check_ms: u64,
    pub offset_metadata_max_bytes: usize,
}

impl GroupSettings {
    fn from_props(r: &PropReader) -> Result<Self, ConfigError> {
        let min = r.i64_min("group.min.session.timeout.ms", 6000, 0)? as u64;
        let max = r.i64_min("group.max.session.timeout.ms", 1_800_000, 0)? as u64;
        if max < min {
            return Err(ConfigError::new("group.max.session.timeout.ms", &max.to_string(), "must not be below group.min.session.timeout.ms"));
        }
        Ok(GroupSettings {
            min_session_timeout_ms: min,
            max_session_timeout_ms: max,
            initial_rebalance_delay_ms: r.i64_min("group.initial.rebalance.delay.ms", 3000, 0)? as u64,
            max_size: r.i32_min("group.max.size", i32::MAX, 1)? as usize,
            offsets_partitions: r.i32_min("offsets.topic.num.partitions", 50, 1)?,
            offsets_segment_bytes: r.i64_min("offsets.topic.segment.bytes", 104_857_600, 1024)?,
            offsets_retention_ms: (r.i64_min("offsets.retention.minutes", 10080, 1)? as u64).saturating_mul(60_000),
            offsets_retention_check_ms: r.i64_min("offsets.retention.check.interval.ms", 600_000, 1)? as u64,
            offset_metadata_max_bytes: r.i32_min("offset.metadata.max.bytes", 4096, 0)? as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn properties_file_syntax() {
        let p = parse_properties("# c\n! c\n\nlog.dirs=/tmp/x\nnum.partitions : 3\n").unwrap();
        assert_eq!(p["log.dirs"], "/tmp/x");
        assert_eq!(p["num.partitions"], "3");
    }

    #[test]
    fn invalid_value_names_key_and_value() {
        let err = BrokerConfig::from_props(&props(&[("num.partitions", "many")])).unwrap_err();
        assert_eq!(err.key, "num.partitions");
        assert!(err.to_string().contains("'many'") && err.to_string().contains("num.partitions"));
        let err = BrokerConfig::from_props(&props(&[("num.partitions", "0")])).unwrap_err();
        assert!(err.reason.contains("at least 1"));
    }

    #[test]
    fn unknown_broker_key_is_accepted() {
        assert!(BrokerConfig::from_props(&props(&[("zookeeper.connect", "x")])).is_ok());
    }

    #[test]
    fn retention_hours_and_minutes() {
        let c = BrokerConfig::from_props(&props(&[("log.retention.hours", "1")])).unwrap();
        assert_eq!(c.log_defaults.retention_ms, 3_600_000);
        let c = BrokerConfig::from_props(&props(&[("log.retention.minutes", "2"), ("log.retention.hours", "1")])).unwrap();
        assert_eq!(c.log_defaults.retention_ms, 120_000);
    }

    #[test]
    fn named_listeners_split_broker_and_controller() {
        let c = BrokerConfig::from_props(&props(&[
            ("listeners", "CONTROLLER://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092"),
            ("advertised.listeners", "PLAINTEXT://localhost:9092"),
        ]))
        .unwrap();
        assert_eq!((c.listen.as_str(), c.controller_listen.as_deref(), c.advertised.as_deref()), ("127.0.0.1:9092", Some("127.0.0.1:9093"), Some("localhost:9092")));
        let c = BrokerConfig::from_props(&props(&[("listeners", "INTERNAL://h:1,BROKER://h:2"), ("controller.listener.names", "INTERNAL")])).unwrap();
        assert_eq!((c.listen.as_str(), c.controller_listen.as_deref()), ("h:2", Some("h:1")));
    }

    #[test]
    fn cluster_settings_use_kafka_names() {
        let c = BrokerConfig::from_props(&props(&[])).unwrap().cluster;
        assert_eq!(c.roles, vec!["broker", "controller"]);
        assert!(c.voters.is_empty());
        assert_eq!((c.broker_session_timeout_ms, c.broker_heartbeat_interval_ms), (9000, 2000));
        assert!(!c.unclean_leader_election && c.auto_leader_rebalance);
        let c = BrokerConfig::from_props(&props(&[("process.roles", "controller,broker"), ("controller.quorum.voters", "1@h1:9093,2@h2:9093")])).unwrap().cluster;
        assert_eq!(c.roles, vec!["broker", "controller"]);
        assert_eq!(c.voters.len(), 2);
        for (k, v) in [("process.roles", "observer"), ("controller.quorum.voters", "1@h1"), ("broker.heartbeat.interval.ms", "9000")] {
            let e = BrokerConfig::from_props(&props(&[(k, v)])).unwrap_err().to_string();
            assert!(e.contains(k), "{e}");
        }
    }

    #[test]
    fn listeners_scheme_is_stripped() {
        let c = BrokerConfig::from_props(&props(&[("listeners", "PLAINTEXT://0.0.0.0:9093")])).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9093");
    }

    #[test]
    fn topic_overrides() {
        let b = BrokerConfig::default();
        let c = topic_log_config(&b.log_defaults, &props(&[("segment.bytes", "1024"), ("retention.ms", "-1")])).unwrap();
        assert_eq!(c.segment_bytes, 1024);
        assert_eq!(c.retention_ms, -1);
        let e = topic_log_config(&b.log_defaults, &props(&[("segmnt.bytes", "1024")])).unwrap_err();
        assert_eq!(e.key, "segmnt.bytes");
        let e = topic_log_config(&b.log_defaults, &props(&[("cleanup.policy", "shred")])).unwrap_err();
        assert_eq!(e.key, "cleanup.policy");
        assert_eq!(effective_topic_config(&b, &Props::new(), "segment.bytes"), ("1073741824".into(), true));
    }

    #[test]
    fn replication_settings_and_min_insync_replicas() {
        let c = BrokerConfig::default();
        assert_eq!((c.replication.lag_time_max_ms, c.replication.fetch_wait_max_ms), (30_000, 500));
        assert_eq!(c.log_defaults.min_insync_replicas, 1);
        let c = BrokerConfig::from_props(&props(&[("min.insync.replicas", "2"), ("replica.lag.time.max.ms", "1000")])).unwrap();
        assert_eq!((c.log_defaults.min_insync_replicas, c.replication.lag_time_max_ms), (2, 1000));
        let topic = topic_log_config(&c.log_defaults, &props(&[("min.insync.replicas", "3")])).unwrap();
        assert_eq!(topic.min_insync_replicas, 3);
        assert_eq!(topic_log_config(&c.log_defaults, &props(&[("min.insync.replicas", "0")])).unwrap_err().key, "min.insync.replicas");
        // Kafka refuses a follower wait longer than the lag time: an idle follower would drop out of the ISR.
        let e = BrokerConfig::from_props(&props(&[("replica.lag.time.max.ms", "100"), ("replica.fetch.wait.max.ms", "500")])).unwrap_err();
        assert_eq!(e.key, "replica.fetch.wait.max.ms");
    }
}

impl BrokerConfig {
    /// Whether `key` is a broker property this configuration reads (bindings use it to refuse unknown keys early).
    pub fn is_known_key(key: &str) -> bool {
        KNOWN_BROKER_KEYS.contains(&key)
    }
}
