//! AlterPartition (56), served by the active controller: a partition leader proposes a new ISR; the controller
//! checks the epochs it is based on and the eligibility of the new members, writes the change, and answers with
//! the partition's state after it.

use std::sync::Arc;

use kafka_protocol::messages::alter_partition_response::{PartitionData, TopicData};
use kafka_protocol::messages::{AlterPartitionRequest, AlterPartitionResponse, BrokerId};

use super::not_controller;
use crate::broker::state::BrokerState;
use crate::metadata::IsrProposal;
use crate::protocol::ErrorCode;

pub fn handle(state: &Arc<BrokerState>, version: i16, req: &AlterPartitionRequest) -> AlterPartitionResponse {
    let resp = AlterPartitionResponse::default();
    if let Some(code) = not_controller(state) {
        return resp.with_error_code(code.code());
    }
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            // v3 names each new ISR member with the broker epoch the leader saw: a member that re-registered
            // since (it restarted and may have lost data) is not eligible.
            let (new_isr, stale_member) = if version >= 3 {
                let img_epoch = |id: i32| state.metadata().image().brokers.get(&id).map(|b| b.epoch);
                let stale = p.new_isr_with_epochs.iter().any(|b| b.broker_epoch != -1 && img_epoch(b.broker_id.0) != Some(b.broker_epoch));
                (p.new_isr_with_epochs.iter().map(|b| b.broker_id.0).collect::<Vec<_>>(), stale)
            } else {
                (p.new_isr.iter().map(|b| b.0).collect(), false)
            };
            let topic = state.metadata().image().topic_by_id(t.topic_id).map(|t| t.name.clone()).unwrap_or_default();
            let proposal = IsrProposal {
                topic_id: t.topic_id,
                topic,
                partition: p.partition_index,
                leader: req.broker_id.0,
                leader_epoch: p.leader_epoch,
                partition_epoch: p.partition_epoch,
                new_isr,
            };
            let answer = if stale_member {
                Err(ErrorCode::IneligibleReplica)
            } else {
                state.submit(|c, img, _| c.alter_partition(img, req.broker_epoch, &proposal)).unwrap_or_else(|(code, _)| Err(code))
            };
            let entry = PartitionData::default().with_partition_index(p.partition_index);
            partitions.push(match answer {
                Ok(s) => entry
                    .with_leader_id(BrokerId(s.leader))
                    .with_leader_epoch(s.leader_epoch)
                    .with_isr(s.isr.iter().map(|&b| BrokerId(b)).collect())
                    .with_partition_epoch(s.partition_epoch),
                Err(code) => entry.with_error_code(code.code()),
            });
        }
        topics.push(TopicData::default().with_topic_id(t.topic_id).with_partitions(partitions));
    }
    resp.with_topics(topics)
}
