//! `ProducerConfig`: Kafka's producer property names and defaults, with Kafka's idempotence rules.

use std::time::Duration;

use crate::config::{ConfigError, PropReader, Props};
use crate::record::Compression;

/// Producer properties this client reads. Anything else is accepted with a warning.
const KNOWN_KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "acks",
    "linger.ms",
    "batch.size",
    "buffer.memory",
    "max.block.ms",
    "compression.type",
    "max.request.size",
    "max.in.flight.requests.per.connection",
    "request.timeout.ms",
    "delivery.timeout.ms",
    "retries",
    "retry.backoff.ms",
    "enable.idempotence",
    "metadata.max.age.ms",
    "partitioner.class",
];

#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// `partitioner.class` named Kafka's RoundRobinPartitioner (else the default: murmur2 / sticky).
    pub round_robin_partitioner: bool,
    pub bootstrap_servers: Vec<String>,
    pub client_id: String,
    /// 0, 1 or -1 (`all`).
    pub acks: i16,
    pub linger: Duration,
    pub batch_size: usize,
    pub buffer_memory: usize,
    pub max_block: Duration,
    pub compression: Compression,
    pub max_request_size: usize,
    pub max_in_flight: usize,
    pub request_timeout: Duration,
    pub delivery_timeout: Duration,
    pub retries: i32,
    pub retry_backoff: Duration,
    pub enable_idempotence: bool,
    pub metadata_max_age: Duration,
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}

impl ProducerConfig {
    /// Parses Kafka producer properties. `bootstrap.servers` is required.
    pub fn from_props(props: &Props) -> Result<Self, ConfigError> {
        for key in props.keys() {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                tracing::warn!(key = %key, "unknown producer configuration ignored");
            }
        }
        let r = PropReader::new(props);
        let servers_raw = r.string("bootstrap.servers", "");
        let bootstrap_servers: Vec<String> = servers_raw.split(',').map(|s| s.trim()).filter(|s| !s.is_empty()).map(String::from).collect();
        if bootstrap_servers.is_empty() {
            return Err(ConfigError::new("bootstrap.servers", &servers_raw, "at least one HOST:PORT is required"));
        }
        for s in &bootstrap_servers {
            let ok = s.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                return Err(ConfigError::new("bootstrap.servers", s, "expected HOST:PORT"));
            }
        }
        let acks_raw = r.raw("acks");
        let acks = match acks_raw.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("all") | Some("-1") => -1,
            Some("0") => 0,
            Some("1") => 1,
            Some(other) => return Err(ConfigError::new("acks", other, "expected 0, 1, -1 or all")),
        };
        let compression = match r.one_of("compression.type", "none", &["none", "gzip", "snappy", "lz4", "zstd"])?.as_str() {
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            _ => Compression::None,
        };
        let linger_ms = r.i64_min("linger.ms", 5, 0)?;
        let request_timeout_ms = r.i32_min("request.timeout.ms", 30_000, 0)? as i64;
        let max_in_flight = r.i32_min("max.in.flight.requests.per.connection", 5, 1)?;
        let retries = r.i32_min("retries", i32::MAX, 0)?;
        let round_robin_partitioner = match r.raw("partitioner.class").map(str::trim) {
            None | Some("") => false,
            Some(c) if c.ends_with("RoundRobinPartitioner") || c.eq_ignore_ascii_case("round_robin") || c.eq_ignore_ascii_case("roundrobin") => true,
            Some(c) if c.ends_with("DefaultPartitioner") || c.eq_ignore_ascii_case("default") => false,
            Some(c) => {
                return Err(ConfigError::new(
                    "partitioner.class",
                    c,
                    "expected RoundRobinPartitioner or DefaultPartitioner; a custom partitioner is passed to the builder",
                ))
            }
        };
        let mut cfg = ProducerConfig {
            round_robin_partitioner,
            client_id: r.string("client.id", "streamlet-producer"),
            bootstrap_servers,
            acks,
            linger: ms(linger_ms),
            batch_size: r.i32_min("batch.size", 16_384, 0)? as usize,
            buffer_memory: r.i64_min("buffer.memory", 33_554_432, 0)? as usize,
            max_block: ms(r.i64_min("max.block.ms", 60_000, 0)?),
            compression,
            max_request_size: r.i32_min("max.request.size", 1_048_576, 1)? as usize,
            max_in_flight: max_in_flight as usize,
            request_timeout: ms(request_timeout_ms),
            delivery_timeout: Duration::ZERO,
            retries,
            retry_backoff: ms(r.i64_min("retry.backoff.ms", 100, 0)?),
            enable_idempotence: false,
            metadata_max_age: ms(r.i64_min("metadata.max.age.ms", 300_000, 0)?),
        };

        // Kafka: delivery.timeout.ms >= linger.ms + request.timeout.ms; an explicit smaller value is an error,
        // the default is raised to the sum.
        let floor = linger_ms.saturating_add(request_timeout_ms);
        cfg.delivery_timeout = match r.i32_min("delivery.timeout.ms", 120_000, 0)? as i64 {
            v if r.raw("delivery.timeout.ms").is_some() && v < floor => {
                return Err(ConfigError::new(
                    "delivery.timeout.ms",
                    &v.to_string(),
                    format!("must be at least linger.ms + request.timeout.ms ({floor})"),
                ))
            }
            v => ms(v.max(floor)),
        };

        // Kafka's idempotence rules: an explicit `enable.idempotence=true` with a conflicting setting is an error;
        // the default (true) quietly gives way to conflicting explicit settings.
        let explicit = r.raw("enable.idempotence").is_some();
        let idempotence = r.bool("enable.idempotence", true)?;
        let conflict = if acks != -1 {
            Some(("acks", acks.to_string(), "must be all (-1) for the idempotent producer"))
        } else if max_in_flight > 5 {
            Some(("max.in.flight.requests.per.connection", max_in_flight.to_string(), "must be at most 5 for the idempotent producer"))
        } else if retries == 0 {
            Some(("retries", retries.to_string(), "must be greater than 0 for the idempotent producer"))
        } else {
            None
        };
        cfg.enable_idempotence = match (idempotence, explicit, conflict) {
            (true, true, Some((key, value, reason))) => return Err(ConfigError::new(key, &value, format!("{reason}; or set enable.idempotence=false"))),
            (true, false, Some((key, _, _))) => {
                tracing::info!(conflicting = key, "idempotence disabled: enable.idempotence is not set and {key} conflicts with it");
                false
            }
            (v, _, _) => v,
        };
        Ok(cfg)
    }

    /// Builds from `(key, value)` pairs.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, ConfigError> {
        let props: Props = pairs.into_iter().map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string())).collect();
        Self::from_props(&props)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<ProducerConfig, ConfigError> {
        let mut all = vec![("bootstrap.servers", "localhost:9092")];
        all.extend_from_slice(pairs);
        ProducerConfig::from_pairs(all)
    }

    #[test]
    fn defaults_are_kafkas() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.acks, -1);
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.batch_size, 16_384);
        assert_eq!(c.buffer_memory, 33_554_432);
        assert_eq!(c.max_block, Duration::from_secs(60));
        assert_eq!(c.max_request_size, 1_048_576);
        assert_eq!(c.max_in_flight, 5);
        assert_eq!(c.delivery_timeout, Duration::from_secs(120));
        assert_eq!(c.retries, i32::MAX);
        assert!(c.enable_idempotence);
        assert_eq!(c.compression, Compression::None);
    }

    #[test]
    fn invalid_values_name_the_key() {
        assert_eq!(cfg(&[("linger.ms", "soon")]).unwrap_err().key, "linger.ms");
        assert_eq!(cfg(&[("acks", "2")]).unwrap_err().key, "acks");
        assert_eq!(cfg(&[("compression.type", "brotli")]).unwrap_err().key, "compression.type");
        assert_eq!(cfg(&[("enable.idempotence", "yes")]).unwrap_err().key, "enable.idempotence");
        assert_eq!(ProducerConfig::from_pairs([("acks", "1")]).unwrap_err().key, "bootstrap.servers");
        assert_eq!(cfg(&[("bootstrap.servers", "nohost")]).unwrap_err().key, "bootstrap.servers");
        assert_eq!(cfg(&[("delivery.timeout.ms", "100")]).unwrap_err().key, "delivery.timeout.ms");
        assert!(cfg(&[("some.unknown.key", "x")]).is_ok());
    }

    #[test]
    fn idempotence_rules() {
        // Implicit idempotence gives way to acks != all.
        assert!(!cfg(&[("acks", "1")]).unwrap().enable_idempotence);
        assert!(!cfg(&[("max.in.flight.requests.per.connection", "6")]).unwrap().enable_idempotence);
        assert!(!cfg(&[("retries", "0")]).unwrap().enable_idempotence);
        // Explicit idempotence with a conflicting setting is an error naming that setting.
        assert_eq!(cfg(&[("acks", "1"), ("enable.idempotence", "true")]).unwrap_err().key, "acks");
        assert_eq!(cfg(&[("max.in.flight.requests.per.connection", "6"), ("enable.idempotence", "true")]).unwrap_err().key, "max.in.flight.requests.per.connection");
        assert_eq!(cfg(&[("retries", "0"), ("enable.idempotence", "true")]).unwrap_err().key, "retries");
        assert!(!cfg(&[("acks", "0"), ("enable.idempotence", "false")]).unwrap().enable_idempotence);
        assert_eq!(cfg(&[("acks", "all")]).unwrap().acks, -1);
    }

    #[test]
    fn delivery_timeout_default_is_raised() {
        let c = cfg(&[("request.timeout.ms", "200000")]).unwrap();
        assert_eq!(c.delivery_timeout, Duration::from_millis(200_005));
    }
}

impl ProducerConfig {
    /// Whether `key` is a producer property this configuration reads (bindings use it to refuse unknown keys early).
    pub fn is_known_key(key: &str) -> bool {
        KNOWN_KEYS.contains(&key)
    }
}
