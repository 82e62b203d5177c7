//! `ConsumerConfig`: the consumer's settings, parsed from Kafka's consumer property names.

use std::time::Duration;

use crate::client::assignor::{assignor_by_name, PartitionAssignor, RebalanceProtocol};
use crate::config::{ConfigError, PropReader, Props};

/// What to do when a partition has no committed offset, or its position is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    /// Report an error from `poll`.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    ReadUncommitted,
    ReadCommitted,
}

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub bootstrap_servers: Vec<String>,
    pub group_id: Option<String>,
    pub client_id: String,
    pub group_instance_id: Option<String>,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub max_poll_interval: Duration,
    pub enable_auto_commit: bool,
    pub auto_commit_interval: Duration,
    pub auto_offset_reset: OffsetReset,
    /// Protocol names ("range", "roundrobin", "sticky", "cooperative-sticky") in order of preference.
    pub assignment_strategies: Vec<String>,
    pub fetch_min_bytes: i32,
    pub fetch_max_bytes: i32,
    pub fetch_max_wait: Duration,
    pub max_partition_fetch_bytes: i32,
    pub max_poll_records: usize,
    pub isolation_level: IsolationLevel,
    pub request_timeout: Duration,
    pub retry_backoff: Duration,
    /// How often subscribed topics' partition counts are looked up again; a change triggers a rebalance.
    pub metadata_max_age: Duration,
}

const KNOWN_KEYS: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "client.id",
    "group.instance.id",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "auto.offset.reset",
    "partition.assignment.strategy",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.max.wait.ms",
    "max.partition.fetch.bytes",
    "max.poll.records",
    "isolation.level",
    "request.timeout.ms",
    "retry.backoff.ms",
    "metadata.max.age.ms",
    // Java-only settings that have no meaning here but appear in ordinary property files.
    "key.deserializer",
    "value.deserializer",
];

/// Maps a strategy given by protocol name or Java class name to the protocol name.
fn strategy_name(s: &str) -> Option<&'static str> {
    let short = s.rsplit('.').next().unwrap_or(s);
    match short.to_ascii_lowercase().as_str() {
        "range" | "rangeassignor" => Some("range"),
        "roundrobin" | "roundrobinassignor" => Some("roundrobin"),
        "sticky" | "stickyassignor" => Some("sticky"),
        "cooperative-sticky" | "cooperativestickyassignor" => Some("cooperative-sticky"),
        _ => None,
    }
}

fn ms(r: &PropReader, key: &str, default: i64, min: i64) -> Result<Duration, ConfigError> {
    let v = r.i64_min(key, default, min)?;
    Ok(Duration::from_millis(v as u64))
}

impl ConsumerConfig {
    /// Parses Kafka consumer properties. Invalid values are errors naming the key; unknown keys are logged.
    pub fn from_props(props: &Props) -> Result<ConsumerConfig, ConfigError> {
        for k in props.keys() {
            if !KNOWN_KEYS.contains(&k.as_str()) {
                tracing::warn!("unknown consumer configuration '{k}' ignored");
            }
        }
        let r = PropReader::new(props);
        let servers = r.string("bootstrap.servers", "");
        let bootstrap_servers: Vec<String> = servers.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if bootstrap_servers.is_empty() {
            return Err(ConfigError::new("bootstrap.servers", &servers, "at least one host:port is required"));
        }
        for s in &bootstrap_servers {
            if s.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).is_none() {
                return Err(ConfigError::new("bootstrap.servers", s, "expected host:port"));
            }
        }
        let group_id = r.raw("group.id").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let group_instance_id = r.raw("group.instance.id").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let session_timeout = ms(&r, "session.timeout.ms", 45_000, 1)?;
        let heartbeat_interval = ms(&r, "heartbeat.interval.ms", 3_000, 1)?;
        if heartbeat_interval >= session_timeout {
            return Err(ConfigError::new(
                "heartbeat.interval.ms",
                &heartbeat_interval.as_millis().to_string(),
                "must be lower than session.timeout.ms",
            ));
        }
        let max_poll_interval = ms(&r, "max.poll.interval.ms", 300_000, 1)?;
        let enable_auto_commit = r.bool("enable.auto.commit", group_id.is_some())?;
        if enable_auto_commit && group_id.is_none() && r.raw("enable.auto.commit").is_some() {
            return Err(ConfigError::new("enable.auto.commit", "true", "requires group.id"));
        }
        let auto_commit_interval = ms(&r, "auto.commit.interval.ms", 5_000, 0)?;
        let auto_offset_reset = match r.one_of("auto.offset.reset", "latest", &["latest", "earliest", "none"])?.as_str() {
            "earliest" => OffsetReset::Earliest,
            "none" => OffsetReset::None,
            _ => OffsetReset::Latest,
        };
        let raw = r.string("partition.assignment.strategy", "range,cooperative-sticky");
        let mut assignment_strategies = Vec::new();
        for s in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let name = strategy_name(s).ok_or_else(|| {
                ConfigError::new("partition.assignment.strategy", s, "expected range, roundrobin, sticky or cooperative-sticky")
            })?;
            if !assignment_strategies.iter().any(|n| n == name) {
                assignment_strategies.push(name.to_string());
            }
        }
        if assignment_strategies.is_empty() {
            return Err(ConfigError::new("partition.assignment.strategy", &raw, "at least one assignor is required"));
        }
        let fetch_min_bytes = r.i32_min("fetch.min.bytes", 1, 0)?;
        let fetch_max_bytes = r.i32_min("fetch.max.bytes", 52_428_800, 0)?;
        let fetch_max_wait = ms(&r, "fetch.max.wait.ms", 500, 0)?;
        let max_partition_fetch_bytes = r.i32_min("max.partition.fetch.bytes", 1_048_576, 0)?;
        let max_poll_records = r.i32_min("max.poll.records", 500, 1)? as usize;
        let isolation_level = match r.one_of("isolation.level", "read_uncommitted", &["read_uncommitted", "read_committed"])?.as_str() {
            "read_committed" => IsolationLevel::ReadCommitted,
            _ => IsolationLevel::ReadUncommitted,
        };
        let request_timeout = ms(&r, "request.timeout.ms", 30_000, 0)?;
        let retry_backoff = ms(&r, "retry.backoff.ms", 100, 0)?;
        let metadata_max_age = ms(&r, "metadata.max.age.ms", 300_000, 0)?;
        let client_id = r.string("client.id", "");
        let client_id = if client_id.is_empty() { format!("consumer-{}", group_id.as_deref().unwrap_or("")) } else { client_id };
        Ok(ConsumerConfig {
            bootstrap_servers,
            group_id,
            client_id,
            group_instance_id,
            session_timeout,
            heartbeat_interval,
            max_poll_interval,
            enable_auto_commit,
            auto_commit_interval,
            auto_offset_reset,
            assignment_strategies,
            fetch_min_bytes,
            fetch_max_bytes,
            fetch_max_wait,
            max_partition_fetch_bytes,
            max_poll_records,
            isolation_level,
            request_timeout,
            retry_backoff,
            metadata_max_age,
        })
    }

    /// From `(key, value)` pairs.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Result<ConsumerConfig, ConfigError> {
        let props: Props = pairs.iter().map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string())).collect();
        Self::from_props(&props)
    }

    /// The configured assignors, in order of preference.
    pub fn assignors(&self) -> Vec<Box<dyn PartitionAssignor>> {
        self.assignment_strategies.iter().filter_map(|n| assignor_by_name(n)).collect()
    }

    /// Cooperative only when every configured assignor is (as Java picks the common protocol).
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        if self.assignors().iter().all(|a| a.protocol_kind() == RebalanceProtocol::Cooperative) {
            RebalanceProtocol::Cooperative
        } else {
            RebalanceProtocol::Eager
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<ConsumerConfig, ConfigError> {
        let mut all = vec![("bootstrap.servers", "localhost:9092")];
        all.extend_from_slice(pairs);
        ConsumerConfig::from_pairs(&all)
    }

    #[test]
    fn defaults() {
        let c = cfg(&[("group.id", "g")]).unwrap();
        assert_eq!(c.session_timeout, Duration::from_secs(45));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(c.max_poll_interval, Duration::from_secs(300));
        assert!(c.enable_auto_commit);
        assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
        assert_eq!(c.assignment_strategies, vec!["range", "cooperative-sticky"]);
        assert_eq!(c.rebalance_protocol(), RebalanceProtocol::Eager);
        assert_eq!(c.max_poll_records, 500);
        assert_eq!(c.fetch_max_bytes, 52_428_800);
        assert_eq!(c.isolation_level, IsolationLevel::ReadUncommitted);
    }

    #[test]
    fn java_class_names_and_cooperative() {
        let c = cfg(&[("partition.assignment.strategy", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor")]).unwrap();
        assert_eq!(c.assignment_strategies, vec!["cooperative-sticky"]);
        assert_eq!(c.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let c = cfg(&[("partition.assignment.strategy", "roundrobin, org.apache.kafka.clients.consumer.StickyAssignor")]).unwrap();
        assert_eq!(c.assignment_strategies, vec!["roundrobin", "sticky"]);
    }

    #[test]
    fn errors_name_the_key() {
        for (k, v) in [
            ("auto.offset.reset", "smallest"),
            ("session.timeout.ms", "abc"),
            ("enable.auto.commit", "yes"),
            ("max.poll.records", "0"),
            ("isolation.level", "serializable"),
            ("partition.assignment.strategy", "magic"),
            ("fetch.max.wait.ms", "-1"),
            ("heartbeat.interval.ms", "50000"),
        ] {
            let e = cfg(&[(k, v)]).unwrap_err();
            assert_eq!(e.key, k, "{e}");
            assert!(e.to_string().contains(k));
        }
        assert_eq!(ConsumerConfig::from_pairs::<&str, &str>(&[]).unwrap_err().key, "bootstrap.servers");
        assert_eq!(cfg(&[("enable.auto.commit", "true")]).unwrap_err().key, "enable.auto.commit");
        assert!(cfg(&[("some.unknown.key", "1")]).is_ok());
    }
}

impl ConsumerConfig {
    /// Whether `key` is a consumer property this configuration reads (bindings use it to refuse unknown keys early).
    pub fn is_known_key(key: &str) -> bool {
        KNOWN_KEYS.contains(&key)
    }

    /// The fetcher tops a partition up while it holds fewer fetched bytes than this (`max.partition.fetch.bytes`).
    pub(crate) fn top_up_bytes(&self) -> usize {
        self.max_partition_fetch_bytes.max(0) as usize
    }
}
