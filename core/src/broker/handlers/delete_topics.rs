//! DeleteTopics (by name, and by id from v6).

use std::sync::Arc;

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};

use super::str_bytes;
use crate::broker::state::{is_internal_topic, BrokerState};
use crate::protocol::ErrorCode;

pub fn handle(state: &Arc<BrokerState>, version: i16, req: &DeleteTopicsRequest) -> DeleteTopicsResponse {
    let targets: Vec<(Option<String>, uuid::Uuid)> = if version >= 6 {
        req.topics.iter().map(|t| (t.name.as_ref().map(|n| n.as_str().to_string()), t.topic_id)).collect()
    } else {
        req.topic_names.iter().map(|n| (Some(n.as_str().to_string()), uuid::Uuid::nil())).collect()
    };
    let responses = targets
        .into_iter()
        .map(|(name, id)| {
            let name = name.or_else(|| state.metadata().image().topic_by_id(id).map(|t| t.name.clone()));
            let mut r = DeletableTopicResult::default().with_topic_id(id);
            let result = match &name {
                None => Err((ErrorCode::UnknownTopicId, format!("no topic has id {id}"))),
                Some(n) if is_internal_topic(n) => {
                    Err((ErrorCode::TopicDeletionDisabled, format!("internal topic {n} cannot be deleted")))
                }
                Some(n) => state.delete_topic(n),
            };
            r.name = name.map(|n| TopicName(str_bytes(n)));
            match result {
                Ok(meta) => r.topic_id = meta.id,
                Err((code, msg)) => {
                    r.error_code = code.code();
                    r.error_message = Some(str_bytes(msg));
                }
            }
            r
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}
