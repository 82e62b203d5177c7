//! The admin client: every call runs on the thread pool. Calls that touch several resources answer per
//! resource (`error` holds a structured error message that `index.js` turns into a `KafkaError`, or null).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use streamlet::client::admin::{Admin, ConfigOp, NewTopic, OffsetSpec};
use streamlet::client::ClientError;

use crate::task::{self, Blocking, ToJs};
use crate::{error, init_logging};

#[napi(object)]
pub struct JsNewTopic {
    pub name: String,
    /// -1: the broker's num.partitions.
    pub num_partitions: Option<i32>,
    pub replication_factor: Option<i32>,
    pub configs: Option<HashMap<String, String>>,
}

#[napi(object)]
pub struct ResourceResult {
    pub name: String,
    pub error: Option<String>,
}

#[napi(object)]
pub struct JsPartitionDescription {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

#[napi(object)]
pub struct JsTopicDescription {
    pub name: String,
    pub topic_id: String,
    pub internal: bool,
    pub partitions: Vec<JsPartitionDescription>,
}

#[napi(object)]
pub struct JsConfigEntry {
    pub name: String,
    pub value: String,
    pub is_default: bool,
}

/// `op`: "set" (default), "delete" (back to the default), "append" / "subtract" (list-valued keys).
#[napi(object)]
pub struct JsConfigOp {
    pub name: String,
    pub value: Option<String>,
    pub op: Option<String>,
}

#[napi(object)]
pub struct JsGroupListing {
    pub group_id: String,
    pub protocol_type: String,
    pub state: String,
}

#[napi(object)]
pub struct JsMemberAssignment {
    pub topic: String,
    pub partition: i32,
}

#[napi(object)]
pub struct JsMemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub host: String,
    pub assignment: Option<Vec<JsMemberAssignment>>,
}

#[napi(object)]
pub struct JsGroupDescription {
    pub group_id: String,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<JsMemberDescription>,
}

#[napi(object)]
pub struct JsPartitionOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: f64,
}

#[napi(object)]
pub struct JsPartitionResult {
    pub topic: String,
    pub partition: i32,
    pub error: Option<String>,
}

#[napi(object)]
pub struct JsPartitionLag {
    pub topic: String,
    pub partition: i32,
    pub committed: f64,
    pub log_end: f64,
    pub lag: f64,
}

/// `spec`: "earliest", "latest", "maxTimestamp", or a timestamp (ms) in `timestamp`.
#[napi(object)]
pub struct JsOffsetQuery {
    pub topic: String,
    pub partition: i32,
    pub spec: Option<String>,
    pub timestamp: Option<f64>,
}

#[napi(object)]
pub struct JsListedOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: f64,
    pub timestamp: f64,
    pub error: Option<String>,
}

#[napi(object)]
pub struct JsDeletedRecords {
    pub topic: String,
    pub partition: i32,
    pub low_watermark: f64,
    pub error: Option<String>,
}

#[napi(object)]
pub struct JsBrokerNode {
    pub node_id: i32,
    pub address: String,
}

#[napi(object)]
pub struct JsClusterDescription {
    pub cluster_id: String,
    pub controller: i32,
    pub brokers: Vec<JsBrokerNode>,
}

fn err_text(e: &ClientError) -> String {
    error::describe_client(e).into_napi().reason
}

fn per_resource(results: Vec<(String, std::result::Result<(), ClientError>)>) -> ToJs {
    task::value(results.into_iter().map(|(name, r)| ResourceResult { name, error: r.err().map(|e| err_text(&e)) }).collect::<Vec<_>>())
}

fn configs_out(c: BTreeMap<String, (String, bool)>) -> ToJs {
    task::value(c.into_iter().map(|(name, (value, is_default))| JsConfigEntry { name, value, is_default }).collect::<Vec<_>>())
}

#[napi]
pub struct NativeAdmin {
    inner: Arc<Mutex<Option<Arc<Admin>>>>,
}

impl NativeAdmin {
    fn call(&self, what: &'static str, work: impl FnOnce(&Admin) -> std::result::Result<ToJs, ClientError> + Send + 'static) -> AsyncTask<Blocking> {
        let admin = self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone();
        task::blocking(what, move || {
            let admin = admin.ok_or_else(|| error::client(ClientError::Closed))?;
            work(&admin).map_err(error::client)
        })
    }
}

#[napi]
impl NativeAdmin {
    #[napi(constructor, catch_unwind)]
    pub fn new(config: HashMap<String, String>) -> Result<Self> {
        init_logging();
        let props = config.into_iter().collect();
        let admin = Admin::new(&props).map_err(error::client)?;
        Ok(NativeAdmin { inner: Arc::new(Mutex::new(Some(Arc::new(admin)))) })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<ResourceResult[]>")]
    pub fn create_topics(&self, topics: Vec<JsNewTopic>, validate_only: bool) -> AsyncTask<Blocking> {
        let topics: Vec<NewTopic> = topics
            .into_iter()
            .map(|t| {
                let mut n = NewTopic::new(t.name, t.num_partitions.unwrap_or(-1), t.replication_factor.unwrap_or(-1) as i16);
                for (k, v) in t.configs.unwrap_or_default() {
                    n = n.config(k, v);
                }
                n
            })
            .collect();
        self.call("Admin.createTopics", move |a| Ok(per_resource(a.create_topics(&topics, validate_only)?)))
    }

    #[napi(catch_unwind, ts_return_type = "Promise<ResourceResult[]>")]
    pub fn delete_topics(&self, topics: Vec<String>) -> AsyncTask<Blocking> {
        self.call("Admin.deleteTopics", move |a| {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            Ok(per_resource(a.delete_topics(&names)?))
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<string[]>")]
    pub fn list_topics(&self, include_internal: bool) -> AsyncTask<Blocking> {
        self.call("Admin.listTopics", move |a| Ok(task::value(a.list_topics(include_internal)?)))
    }

    #[napi(catch_unwind, ts_return_type = "Promise<JsTopicDescription[]>")]
    pub fn describe_topics(&self, topics: Vec<String>) -> AsyncTask<Blocking> {
        self.call("Admin.describeTopics", move |a| {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            let out: Vec<JsTopicDescription> = a
                .describe_topics(&names)?
                .into_iter()
                .map(|t| JsTopicDescription {
                    name: t.name,
                    topic_id: t.id.to_string(),
                    internal: t.internal,
                    partitions: t
                        .partitions
                        .into_iter()
                        .map(|p| JsPartitionDescription { partition: p.partition, leader: p.leader, replicas: p.replicas, isr: p.isr })
                        .collect(),
                })
                .collect();
            Ok(task::value(out))
        })
    }

    /// Grows each topic to `count` partitions in total.
    #[napi(catch_unwind, ts_return_type = "Promise<ResourceResult[]>")]
    pub fn create_partitions(&self, topics: Vec<String>, counts: Vec<i32>) -> AsyncTask<Blocking> {
        self.call("Admin.createPartitions", move |a| {
            let req: Vec<(&str, i32)> = topics.iter().map(String::as_str).zip(counts.iter().copied()).collect();
            Ok(per_resource(a.create_partitions(&req)?))
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<JsConfigEntry[]>")]
    pub fn describe_configs(&self, topic: String) -> AsyncTask<Blocking> {
        self.call("Admin.describeConfigs", move |a| Ok(configs_out(a.describe_configs(&topic)?)))
    }

    /// Alters a topic's configuration key by key (IncrementalAlterConfigs).
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn alter_configs(&self, topic: String, ops: Vec<JsConfigOp>, validate_only: bool) -> Result<AsyncTask<Blocking>> {
        let mut out = Vec::with_capacity(ops.len());
        for o in ops {
            let value = || {
                o.value.clone().ok_or_else(|| error::local(error::INVALID_ARG, format!("alterConfigs: {} needs a value", o.name)))
            };
            out.push(match o.op.as_deref().unwrap_or("set") {
                "set" => ConfigOp::Set(o.name.clone(), value()?),
                "delete" => ConfigOp::Delete(o.name.clone()),
                "append" => ConfigOp::Append(o.name.clone(), value()?),
                "subtract" => ConfigOp::Subtract(o.name.clone(), value()?),
                other => return Err(error::local(error::INVALID_ARG, format!("alterConfigs: unknown op {other:?} for {}", o.name))),
            });
        }
        Ok(self.call("Admin.alterConfigs", move |a| {
            a.alter_configs(&topic, &out, validate_only)?;
            Ok(task::undefined())
        }))
    }

    #[napi(catch_unwind, ts_return_type = "Promise<JsConfigEntry[]>")]
    pub fn describe_broker_configs(&self, node_id: i32) -> AsyncTask<Blocking> {
        self.call("Admin.describeBrokerConfigs", move |a| Ok(configs_out(a.describe_broker_configs(node_id)?)))
    }

    #[napi(catch_unwind, ts_return_type = "Promise<JsGroupListing[]>")]
    pub fn list_groups(&self) -> AsyncTask<Blocking> {
        self.call("Admin.listGroups", |a| {
            let out: Vec<JsGroupListing> =
                a.list_groups()?.into_iter().map(|(group_id, protocol_type, state)| JsGroupListing { group_id, protocol_type, state }).collect();
            Ok(task::value(out))
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<JsGroupDescription[]>")]
    pub fn describe_groups(&self, groups: Vec<String>) -> AsyncTask<Blocking> {
        self.call("Admin.describeGroups", move |a| {
            let names: Vec<&str> = groups.iter().map(String::as_str).collect();
            let out: Vec<JsGroupDescription> = a
                .describe_groups(&names)?
                .into_iter()
                .map(|g| JsGroupDescription {
                    group_id: g.group_id,
                    state: g.state,
                    protocol_type: g.protocol_type,
                    protocol: g.protocol,
                    members: g
                        .members
                        .into_iter()
                        .map(|m| JsMemberDescription {
                            member_id: m.member_id,
                            group_instance_id: m.group_instance_id,
                            client_id: m.client_id,
                            host: m.host,
                            assignment: m.assignment.map(|a| a.into_iter().map(|(topic, partition)| JsMemberAssignment { topic, partition }).collect()),
                        })
                        .collect(),
                })
                .collect();
            Ok(task::value(out))
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<ResourceResult[]>")]
    pub fn delete_groups(&self, groups: Vec<String>) -> AsyncTask<Blocking> {
        self.call("Admin.deleteGroups", move |a| {
            let names: Vec<&str> = groups.iter().map(String::as_str).collect();
            Ok(per_resource(a.delete_groups(&names)?))
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<JsPartitionOffset[]>")]
    pub fn list_group_offsets(&self, group: String) -> AsyncTask<Blocking> {
        self.call("Admin.listGroupOffsets", move |a| {
            let out: Vec<JsPartitionOffset> =
                a.list_group_offsets(&group)?.into_iter().map(|((topic, partition), o)| JsPartitionOffset { topic, partition, offset: o as f64 }).collect();
            Ok(task::value(out))
        })
    }

    /// Sets a group's committed offsets; refused (UNKNOWN_MEMBER_ID) while the group has members.
    #[napi(catch_unwind, ts_return_type = "Promise<JsPartitionResult[]>")]
    pub fn alter_group_offsets(&self, group: String, offsets: Vec<JsPartitionOffset>) -> AsyncTask<Blocking> {
        self.call("Admin.alterGroupOffsets", move |a| {
            let req: Vec<(&str, i32, i64)> = offsets.iter().map(|p| (p.topic.as_str(), p.partition, p.offset as i64)).collect();
            let out: Vec<JsPartitionResult> = a
                .alter_group_offsets(&group, &req)?
                .into_iter()
                .map(|((topic, partition), r)| JsPartitionResult { topic, partition, error: r.err().map(|e| err_text(&e)) })
                .collect();
            Ok(task::value(out))
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<JsPartitionLag[]>")]
    pub fn group_lag(&self, group: String) -> AsyncTask<Blocking> {
        self.call("Admin.groupLag", move |a| {
            let out: Vec<JsPartitionLag> = a
                .group_lag(&group)?
                .into_iter()
                .map(|((topic, partition), l)| JsPartitionLag {
                    topic,
                    partition,
                    committed: l.committed as f64,
                    log_end: l.log_end as f64,
                    lag: l.lag as f64,
                })
                .collect();
            Ok(task::value(out))
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<JsListedOffset[]>")]
    pub fn list_offsets(&self, queries: Vec<JsOffsetQuery>) -> Result<AsyncTask<Blocking>> {
        let mut req = Vec::with_capacity(queries.len());
        for q in queries {
            let spec = match (q.spec.as_deref(), q.timestamp) {
                (Some("earliest"), _) => OffsetSpec::Earliest,
                (Some("latest"), _) => OffsetSpec::Latest,
                (Some("maxTimestamp"), _) => OffsetSpec::MaxTimestamp,
                (None, Some(ts)) if ts >= 0.0 => OffsetSpec::Timestamp(ts as i64),
                (s, t) => {
                    return Err(error::local(error::INVALID_ARG, format!("invalid offset spec {s:?} / timestamp {t:?} for {}-{}", q.topic, q.partition)))
                }
            };
            req.push((q.topic, q.partition, spec));
        }
        Ok(self.call("Admin.listOffsets", move |a| {
            let req: Vec<(&str, i32, OffsetSpec)> = req.iter().map(|(t, p, s)| (t.as_str(), *p, *s)).collect();
            let out: Vec<JsListedOffset> = a
                .list_offsets(&req)?
                .into_iter()
                .map(|((topic, partition), r)| match r {
                    Ok(o) => JsListedOffset { topic, partition, offset: o.offset as f64, timestamp: o.timestamp as f64, error: None },
                    Err(e) => JsListedOffset { topic, partition, offset: -1.0, timestamp: -1.0, error: Some(err_text(&e)) },
                })
                .collect();
            Ok(task::value(out))
        }))
    }

    /// Deletes records before `offset` in each partition; resolves to the new low watermarks.
    #[napi(catch_unwind, ts_return_type = "Promise<JsDeletedRecords[]>")]
    pub fn delete_records(&self, partitions: Vec<JsPartitionOffset>) -> AsyncTask<Blocking> {
        self.call("Admin.deleteRecords", move |a| {
            let req: Vec<(&str, i32, i64)> = partitions.iter().map(|p| (p.topic.as_str(), p.partition, p.offset as i64)).collect();
            let out: Vec<JsDeletedRecords> = a
                .delete_records(&req)?
                .into_iter()
                .map(|((topic, partition), r)| match r {
                    Ok(lw) => JsDeletedRecords { topic, partition, low_watermark: lw as f64, error: None },
                    Err(e) => JsDeletedRecords { topic, partition, low_watermark: -1.0, error: Some(err_text(&e)) },
                })
                .collect();
            Ok(task::value(out))
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<JsClusterDescription>")]
    pub fn describe_cluster(&self) -> AsyncTask<Blocking> {
        self.call("Admin.describeCluster", |a| {
            let c = a.describe_cluster()?;
            Ok(task::value(JsClusterDescription {
                cluster_id: c.cluster_id,
                controller: c.controller,
                brokers: c.brokers.into_iter().map(|(node_id, address)| JsBrokerNode { node_id, address }).collect(),
            }))
        })
    }

    /// Closes the connections (off the JS thread); later calls fail with _CLOSED.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Blocking> {
        let admin = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
        task::blocking("Admin.close", move || {
            drop(admin);
            Ok(task::undefined())
        })
    }
}

impl Drop for NativeAdmin {
    fn drop(&mut self) {
        if let Some(a) = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = std::thread::Builder::new().name("streamlet-node-drop".into()).spawn(move || drop(a));
        }
    }
}
