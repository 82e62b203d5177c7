//! DescribeConfigs for topics (every topic config with its effective value and source) and for the broker.

use std::sync::Arc;

use kafka_protocol::messages::describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsResult};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::str_bytes;
use crate::broker::state::BrokerState;
use crate::config::{effective_topic_config, TOPIC_CONFIG_KEYS};
use crate::protocol::ErrorCode;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
// ConfigSource values from Kafka's DescribeConfigsResponse.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;

/// ConfigType values (v3+): the type Kafka declares for each key.
fn config_type(key: &str) -> i8 {
    const INT: i8 = 3;
    const LONG: i8 = 5;
    const STRING: i8 = 2;
    const LIST: i8 = 7;
    const BOOLEAN: i8 = 1;
    match key {
        "cleanup.policy" => LIST,
        "message.timestamp.type" | "log.message.timestamp.type" => STRING,
        "segment.bytes" | "segment.index.bytes" | "index.interval.bytes" | "max.message.bytes" | "num.partitions" => INT,
        "auto.create.topics.enable" | "delete.topic.enable" => BOOLEAN,
        _ => LONG,
    }
}

pub fn handle(state: &Arc<BrokerState>, _version: i16, req: &DescribeConfigsRequest) -> DescribeConfigsResponse {
    let results = req
        .resources
        .iter()
        .map(|res| {
            // Null or empty: every key.
            let wanted = |k: &str| res.configuration_keys.as_ref().is_none_or(|keys| keys.is_empty() || keys.iter().any(|w| w.as_str() == k));
            let mut r = DescribeConfigsResult::default()
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone());
            match res.resource_type {
                RESOURCE_TOPIC => {
                    let topic = state.metadata().image().topics.get(res.resource_name.as_str()).cloned();
                    match topic {
                        None => {
                            r.error_code = ErrorCode::UnknownTopicOrPartition.code();
                            r.error_message = Some(str_bytes(format!("unknown topic '{}'", res.resource_name.as_str())));
                        }
                        Some(t) => {
                            r.configs = TOPIC_CONFIG_KEYS
                                .iter()
                                .filter(|(k, _)| wanted(k))
                                .map(|(k, _)| {
                                    let (value, is_default) = effective_topic_config(&state.config, &t.configs, k);
                                    let source = if !is_default {
                                        DYNAMIC_TOPIC_CONFIG
                                    } else if broker_synonyms(k).iter().any(|b| state.config.props.contains_key(*b)) {
                                        STATIC_BROKER_CONFIG
                                    } else {
                                        DEFAULT_CONFIG
                                    };
                                    entry(k, value, source)
                                })
                                .collect();
                        }
                    }
                }
                RESOURCE_BROKER => {
                    let own = res.resource_name.is_empty() || res.resource_name.as_str() == state.node_id.to_string();
                    if !own {
                        r.error_code = ErrorCode::InvalidRequest.code();
                        r.error_message = Some(str_bytes(format!("this is broker {}", state.node_id)));
                    } else {
                        r.configs = broker_configs(state).into_iter().filter(|(k, _, _)| wanted(k)).map(|(k, v, s)| entry(&k, v, s)).collect();
                    }
                }
                other => {
                    r.error_code = ErrorCode::InvalidRequest.code();
                    r.error_message = Some(str_bytes(format!("resource type {other} is not supported")));
                }
            }
            r
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// The broker properties that set a topic key's default (Kafka's synonyms, most specific first).
fn broker_synonyms(topic_key: &str) -> Vec<&'static str> {
    match topic_key {
        "retention.ms" => vec!["log.retention.ms", "log.retention.minutes", "log.retention.hours"],
        "segment.ms" => vec!["log.roll.ms", "log.roll.hours"],
        k => TOPIC_CONFIG_KEYS.iter().filter(|(t, _)| *t == k).map(|(_, b)| *b).collect(),
    }
}

fn entry(key: &str, value: String, source: i8) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult::default()
        .with_name(str_bytes(key))
        .with_value(Some(str_bytes(value)))
        .with_config_source(source)
        .with_config_type(config_type(key))
}

fn broker_configs(state: &BrokerState) -> Vec<(String, String, i8)> {
    let c = &state.config;
    let defaults = [
        ("num.partitions", c.num_partitions.to_string()),
        ("default.replication.factor", c.default_replication_factor.to_string()),
        ("auto.create.topics.enable", c.auto_create_topics.to_string()),
        ("delete.topic.enable", c.delete_topic_enable.to_string()),
        ("log.segment.bytes", c.log_defaults.segment_bytes.to_string()),
        ("log.retention.ms", c.log_defaults.retention_ms.to_string()),
        ("log.retention.bytes", c.log_defaults.retention_bytes.to_string()),
        ("message.max.bytes", c.log_defaults.max_message_bytes.to_string()),
        ("socket.request.max.bytes", c.socket_request_max_bytes.to_string()),
    ];
    let mut out: Vec<(String, String, i8)> = c.props.iter().map(|(k, v)| (k.clone(), v.clone(), STATIC_BROKER_CONFIG)).collect();
    for (k, v) in defaults {
        if !c.props.contains_key(k) {
            out.push((k.to_string(), v, DEFAULT_CONFIG));
        }
    }
    out
}
