//! AlterConfigs (the legacy form: the request's set replaces every override) and IncrementalAlterConfigs
//! (SET / DELETE / APPEND / SUBTRACT per key) for topics. Broker configs are static here (`server.properties`
//! and `--set`), so altering them is refused with INVALID_REQUEST, as Kafka refuses keys it cannot update
//! dynamically.

use std::sync::Arc;

use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::broker::state::BrokerState;
use crate::config::Props;
use crate::protocol::ErrorCode;

const RESOURCE_TOPIC: i8 = 2;
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

type Failure = (ErrorCode, String);

/// Keys whose value is a comma-separated list (the only ones APPEND / SUBTRACT apply to).
fn is_list(key: &str) -> bool {
    key == "cleanup.policy"
}

fn check_key(key: &str) -> Result<(), Failure> {
    if crate::config::is_topic_config_key(key) {
        Ok(())
    } else {
        Err((ErrorCode::InvalidConfig, format!("unknown topic config '{key}'")))
    }
}

fn topic_configs(state: &BrokerState, resource_type: i8, name: &str) -> Result<Props, Failure> {
    if resource_type != RESOURCE_TOPIC {
        return Err((ErrorCode::InvalidRequest, format!("resource type {resource_type} cannot be altered: only topic configs are dynamic")));
    }
    state
        .metadata()
        .image()
        .topics
        .get(name)
        .map(|t| t.configs.clone())
        .ok_or_else(|| (ErrorCode::UnknownTopicOrPartition, format!("unknown topic '{name}'")))
}

fn list_items(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

/// The topic's overrides after one incremental operation. APPEND / SUBTRACT start from the value in force.
fn apply_op(state: &BrokerState, props: &mut Props, key: &str, op: i8, value: Option<&str>) -> Result<(), Failure> {
    check_key(key)?;
    let value_of = |v: Option<&str>| v.map(String::from).ok_or_else(|| (ErrorCode::InvalidConfig, format!("config '{key}' needs a value")));
    match op {
        OP_SET => {
            props.insert(key.to_string(), value_of(value)?);
        }
        OP_DELETE => {
            props.remove(key);
        }
        OP_APPEND | OP_SUBTRACT => {
            if !is_list(key) {
                return Err((ErrorCode::InvalidConfig, format!("config '{key}' is not a list: APPEND and SUBTRACT do not apply")));
            }
            let (current, _) = crate::config::effective_topic_config(&state.config, props, key);
            let mut items = list_items(&current);
            let given = list_items(&value_of(value)?);
            if op == OP_APPEND {
                for g in given {
                    if !items.contains(&g) {
                        items.push(g);
                    }
                }
            } else {
                items.retain(|i| !given.contains(i));
            }
            props.insert(key.to_string(), items.join(","));
        }
        other => return Err((ErrorCode::InvalidRequest, format!("unknown config operation {other} for '{key}'"))),
    }
    Ok(())
}

fn incremental(state: &BrokerState, res: &kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource, validate_only: bool) -> Result<(), Failure> {
    let name = res.resource_name.as_str();
    let mut props = topic_configs(state, res.resource_type, name)?;
    for c in &res.configs {
        apply_op(state, &mut props, c.name.as_str(), c.config_operation, c.value.as_ref().map(|v| v.as_str()))?;
    }
    state.set_topic_configs(name, props, validate_only)
}

fn replace(state: &BrokerState, res: &kafka_protocol::messages::alter_configs_request::AlterConfigsResource, validate_only: bool) -> Result<(), Failure> {
    let name = res.resource_name.as_str();
    topic_configs(state, res.resource_type, name)?;
    let mut props = Props::new();
    for c in &res.configs {
        check_key(c.name.as_str())?;
        if let Some(v) = &c.value {
            props.insert(c.name.to_string(), v.to_string());
        }
    }
    state.set_topic_configs(name, props, validate_only)
}

fn outcome(r: Result<(), Failure>) -> (i16, Option<StrBytes>) {
    match r {
        Ok(()) => (0, None),
        Err((code, msg)) => (code.code(), Some(str_bytes(msg))),
    }
}

pub fn handle_incremental(state: &Arc<BrokerState>, req: &IncrementalAlterConfigsRequest) -> IncrementalAlterConfigsResponse {
    let responses = req
        .resources
        .iter()
        .map(|res| {
            let (code, msg) = outcome(incremental(state, res, req.validate_only));
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(msg)
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone())
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

pub fn handle_replace(state: &Arc<BrokerState>, req: &AlterConfigsRequest) -> AlterConfigsResponse {
    let responses = req
        .resources
        .iter()
        .map(|res| {
            let (code, msg) = outcome(replace(state, res, req.validate_only));
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(msg)
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone())
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}
