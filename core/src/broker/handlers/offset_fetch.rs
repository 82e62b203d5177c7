//! OffsetFetch: committed offsets of one group (v1-7) or several (v8+); -1 where nothing was committed.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::str_bytes;
use crate::broker::state::BrokerState;
use crate::coordinator::{OffsetValue, TopicPartition};
use crate::protocol::ErrorCode;

type Fetched = Result<Vec<(TopicPartition, Option<OffsetValue>)>, ErrorCode>;

fn fetch(state: &BrokerState, group: &str, topics: Option<Vec<TopicPartition>>) -> Fetched {
    state.groups.fetch_offsets(group, topics.as_deref())
}

/// Groups per topic, keeping the request's order of topics.
type TopicRows = Vec<(String, Vec<(i32, Option<OffsetValue>)>)>;

fn by_topic(rows: Vec<(TopicPartition, Option<OffsetValue>)>) -> TopicRows {
    let mut order: Vec<String> = Vec::new();
    let mut map: BTreeMap<String, Vec<(i32, Option<OffsetValue>)>> = BTreeMap::new();
    for ((t, p), v) in rows {
        if !map.contains_key(&t) {
            order.push(t.clone());
        }
        map.entry(t).or_default().push((p, v));
    }
    order.into_iter().map(|t| (t.clone(), map.remove(&t).unwrap_or_default())).collect()
}

pub fn handle(state: &Arc<BrokerState>, version: i16, req: &OffsetFetchRequest) -> OffsetFetchResponse {
    let mut resp = OffsetFetchResponse::default();
    if version >= 8 {
        resp.groups = req
            .groups
            .iter()
            .map(|g| {
                let wanted = g.topics.as_ref().map(|ts| ts.iter().flat_map(|t| t.partition_indexes.iter().map(|p| (t.name.to_string(), *p))).collect());
                let mut out = OffsetFetchResponseGroup::default().with_group_id(g.group_id.clone());
                match fetch(state, g.group_id.as_str(), wanted) {
                    Err(e) => out.error_code = e.code(),
                    Ok(rows) => {
                        out.topics = by_topic(rows)
                            .into_iter()
                            .map(|(t, ps)| {
                                OffsetFetchResponseTopics::default().with_name(TopicName(str_bytes(t))).with_partitions(
                                    ps.into_iter()
                                        .map(|(p, v)| {
                                            let v = v.unwrap_or(OffsetValue { offset: -1, leader_epoch: -1, metadata: String::new(), commit_timestamp: -1 });
                                            OffsetFetchResponsePartitions::default()
                                                .with_partition_index(p)
                                                .with_committed_offset(v.offset)
                                                .with_committed_leader_epoch(v.leader_epoch)
                                                .with_metadata(Some(str_bytes(v.metadata)))
                                        })
                                        .collect(),
                                )
                            })
                            .collect();
                    }
                }
                out
            })
            .collect();
        return resp;
    }
    let wanted = req.topics.as_ref().map(|ts| ts.iter().flat_map(|t| t.partition_indexes.iter().map(|p| (t.name.to_string(), *p))).collect());
    match fetch(state, req.group_id.as_str(), wanted) {
        Err(e) => {
            if version >= 2 {
                resp.error_code = e.code();
            }
            // v1 has no group-level error: report it on every partition asked for.
            if let Some(ts) = &req.topics {
                resp.topics = ts
                    .iter()
                    .map(|t| {
                        OffsetFetchResponseTopic::default().with_name(t.name.clone()).with_partitions(
                            t.partition_indexes
                                .iter()
                                .map(|p| OffsetFetchResponsePartition::default().with_partition_index(*p).with_committed_offset(-1).with_error_code(e.code()))
                                .collect(),
                        )
                    })
                    .collect();
            }
        }
        Ok(rows) => {
            resp.topics = by_topic(rows)
                .into_iter()
                .map(|(t, ps)| {
                    OffsetFetchResponseTopic::default().with_name(TopicName(str_bytes(t))).with_partitions(
                        ps.into_iter()
                            .map(|(p, v)| {
                                let v = v.unwrap_or(OffsetValue { offset: -1, leader_epoch: -1, metadata: String::new(), commit_timestamp: -1 });
                                OffsetFetchResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(v.offset)
                                    .with_committed_leader_epoch(if version >= 5 { v.leader_epoch } else { -1 })
                                    .with_metadata(Some(str_bytes(v.metadata)))
                            })
                            .collect(),
                    )
                })
                .collect();
        }
    }
    resp
}
