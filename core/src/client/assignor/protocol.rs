//! The consumer protocol's member metadata (JoinGroup) and member assignment (SyncGroup) bytes, as Java's
//! `ConsumerProtocol` writes them: an `i16` version, then the `ConsumerProtocolSubscription` /
//! `ConsumerProtocolAssignment` body of that version.
//!
//! Subscription versions: v0 topics + user data, v1 adds owned partitions, v2 the generation id, v3 the rack.
//! Assignment bodies are the same in every version 0-3. Like Java, we write v3 of both and read any version,
//! reading versions newer than 3 as v3 (newer versions only append fields).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignmentTopicPartition;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as SubscriptionTopicPartition;
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::{Subscription, TopicPartition};

/// The subscription version the Java client (Kafka 3.5+/4.x) writes.
pub const SUBSCRIPTION_VERSION: i16 = 3;
/// The assignment version the Java client (Kafka 3.5+/4.x) writes.
pub const ASSIGNMENT_VERSION: i16 = 3;

const HIGHEST_VERSION: i16 = 3;

/// A malformed or unsupported consumer protocol payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumerProtocolError {
    #[error("consumer protocol payload too short to hold a version")]
    MissingVersion,
    #[error("unsupported consumer protocol {what} version {version}")]
    UnsupportedVersion { what: &'static str, version: i16 },
    #[error("malformed consumer protocol {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
}

/// A member's assignment (Java's `ConsumerPartitionAssignor.Assignment`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    pub partitions: Vec<TopicPartition>,
    pub user_data: Option<Bytes>,
}

impl Assignment {
    pub fn new(partitions: Vec<TopicPartition>) -> Self {
        Assignment { partitions, user_data: None }
    }
}

/// Groups `(topic, partition)` pairs by topic, topics in order of first appearance (as Java does).
fn group_by_topic(parts: &[TopicPartition]) -> Vec<(String, Vec<i32>)> {
    let mut out: Vec<(String, Vec<i32>)> = Vec::new();
    for (t, p) in parts {
        match out.iter_mut().find(|(topic, _)| topic == t) {
            Some((_, ps)) => ps.push(*p),
            None => out.push((t.clone(), vec![*p])),
        }
    }
    out
}

fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn read_version(buf: &mut &[u8], what: &'static str) -> Result<i16, ConsumerProtocolError> {
    if buf.len() < 2 {
        return Err(ConsumerProtocolError::MissingVersion);
    }
    let version = buf.get_i16();
    if version < 0 {
        return Err(ConsumerProtocolError::UnsupportedVersion { what, version });
    }
    Ok(version.min(HIGHEST_VERSION))
}

/// Encodes a subscription in the version Java writes ([`SUBSCRIPTION_VERSION`]).
pub fn encode_subscription(sub: &Subscription) -> Bytes {
    encode_subscription_version(sub, SUBSCRIPTION_VERSION).expect("v3 holds every field")
}

/// Encodes a subscription in `version` (0-3); fields the version lacks are dropped.
pub fn encode_subscription_version(sub: &Subscription, version: i16) -> Result<Bytes, ConsumerProtocolError> {
    if !(0..=HIGHEST_VERSION).contains(&version) {
        return Err(ConsumerProtocolError::UnsupportedVersion { what: "subscription", version });
    }
    let msg = ConsumerProtocolSubscription::default()
        .with_topics(sub.topics.iter().map(|t| StrBytes::from_string(t.clone())).collect())
        .with_user_data(sub.user_data.clone())
        .with_owned_partitions(
            group_by_topic(&sub.owned_partitions)
                .into_iter()
                .map(|(t, ps)| SubscriptionTopicPartition::default().with_topic(topic_name(&t)).with_partitions(ps))
                .collect(),
        )
        .with_generation_id(sub.generation.unwrap_or(-1))
        .with_rack_id(sub.rack.as_ref().map(|r| StrBytes::from_string(r.clone())));
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    msg.encode(&mut buf, version)
        .map_err(|e| ConsumerProtocolError::Malformed { what: "subscription", reason: e.to_string() })?;
    Ok(buf.freeze())
}

/// Decodes a subscription of any version (`group_instance_id` is not part of it and stays `None`).
pub fn decode_subscription(bytes: &[u8]) -> Result<Subscription, ConsumerProtocolError> {
    const WHAT: &str = "subscription";
    let mut buf = bytes;
    let version = read_version(&mut buf, WHAT)?;
    let msg = ConsumerProtocolSubscription::decode(&mut buf, version)
        .map_err(|e| ConsumerProtocolError::Malformed { what: WHAT, reason: e.to_string() })?;
    Ok(Subscription {
        topics: msg.topics.iter().map(|t| t.to_string()).collect(),
        user_data: msg.user_data,
        owned_partitions: msg
            .owned_partitions
            .iter()
            .flat_map(|tp| tp.partitions.iter().map(move |p| (tp.topic.0.to_string(), *p)))
            .collect(),
        generation: (msg.generation_id >= 0).then_some(msg.generation_id),
        rack: msg.rack_id.map(|r| r.to_string()),
        group_instance_id: None,
    })
}

/// Encodes an assignment in the version Java writes ([`ASSIGNMENT_VERSION`]).
pub fn encode_assignment(assignment: &Assignment) -> Bytes {
    encode_assignment_version(assignment, ASSIGNMENT_VERSION).expect("valid version")
}

/// Encodes an assignment in `version` (0-3; the body is the same in all of them).
pub fn encode_assignment_version(assignment: &Assignment, version: i16) -> Result<Bytes, ConsumerProtocolError> {
    if !(0..=HIGHEST_VERSION).contains(&version) {
        return Err(ConsumerProtocolError::UnsupportedVersion { what: "assignment", version });
    }
    let msg = ConsumerProtocolAssignment::default()
        .with_assigned_partitions(
            group_by_topic(&assignment.partitions)
                .into_iter()
                .map(|(t, ps)| AssignmentTopicPartition::default().with_topic(topic_name(&t)).with_partitions(ps))
                .collect(),
        )
        .with_user_data(assignment.user_data.clone());
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    msg.encode(&mut buf, version)
        .map_err(|e| ConsumerProtocolError::Malformed { what: "assignment", reason: e.to_string() })?;
    Ok(buf.freeze())
}

/// Decodes an assignment of any version. An empty byte string (what a group member receives when the leader
/// assigned it nothing and wrote no bytes) decodes to an empty assignment, as in Java.
pub fn decode_assignment(bytes: &[u8]) -> Result<Assignment, ConsumerProtocolError> {
    const WHAT: &str = "assignment";
    if bytes.is_empty() {
        return Ok(Assignment::default());
    }
    let mut buf = bytes;
    let version = read_version(&mut buf, WHAT)?;
    let msg = ConsumerProtocolAssignment::decode(&mut buf, version)
        .map_err(|e| ConsumerProtocolError::Malformed { what: WHAT, reason: e.to_string() })?;
    Ok(Assignment {
        partitions: msg
            .assigned_partitions
            .iter()
            .flat_map(|tp| tp.partitions.iter().map(move |p| (tp.topic.0.to_string(), *p)))
            .collect(),
        user_data: msg.user_data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> TopicPartition {
        (t.to_string(), p)
    }

    fn full_subscription() -> Subscription {
        Subscription {
            topics: vec!["t0".into(), "t1".into()],
            user_data: Some(Bytes::from_static(b"\x01\x02\x03")),
            owned_partitions: vec![tp("t0", 0), tp("t1", 2), tp("t0", 1)],
            generation: Some(7),
            rack: Some("rack-a".into()),
            group_instance_id: None,
        }
    }

    #[test]
    fn subscription_round_trips_in_every_version() {
        let sub = full_subscription();
        let bytes = encode_subscription(&sub);
        assert_eq!(&bytes[..2], &[0, 3]);
        let back = decode_subscription(&bytes).unwrap();
        // Owned partitions come back grouped by topic (first-appearance order), like Java's.
        assert_eq!(back.owned_partitions, vec![tp("t0", 0), tp("t0", 1), tp("t1", 2)]);
        assert_eq!(Subscription { owned_partitions: sub.owned_partitions.clone(), ..back.clone() }, sub);

        let v0 = decode_subscription(&encode_subscription_version(&sub, 0).unwrap()).unwrap();
        assert_eq!(v0, Subscription { topics: sub.topics.clone(), user_data: sub.user_data.clone(), ..Default::default() });
        let v1 = decode_subscription(&encode_subscription_version(&sub, 1).unwrap()).unwrap();
        assert_eq!(v1.owned_partitions.len(), 3);
        assert_eq!(v1.generation, None);
        let v2 = decode_subscription(&encode_subscription_version(&sub, 2).unwrap()).unwrap();
        assert_eq!(v2.generation, Some(7));
        assert_eq!(v2.rack, None);
        assert!(encode_subscription_version(&sub, 4).is_err());
    }

    #[test]
    fn subscription_v3_exact_bytes() {
        let sub = Subscription {
            topics: vec!["ab".into()],
            user_data: None,
            owned_partitions: vec![tp("ab", 5)],
            generation: None,
            rack: None,
            group_instance_id: None,
        };
        let expected: Vec<u8> = [
            &[0u8, 3][..],           // version 3
            &[0, 0, 0, 1, 0, 2],     // topics: [ "ab" ]
            b"ab",
            &[0xff, 0xff, 0xff, 0xff], // user data: null
            &[0, 0, 0, 1, 0, 2],     // owned partitions: [ { topic "ab"
            b"ab",
            &[0, 0, 0, 1, 0, 0, 0, 5], //   partitions [5] } ]
            &[0xff, 0xff, 0xff, 0xff], // generation -1
            &[0xff, 0xff],           // rack: null
        ]
        .concat();
        assert_eq!(encode_subscription(&sub).to_vec(), expected);
    }

    #[test]
    fn decodes_hand_built_java_v0_subscription() {
        // Java v0 layout: version i16, topics array (i32 count, each i16 length + UTF-8), user data (i32 length + bytes).
        let mut b = Vec::new();
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&2i32.to_be_bytes());
        for t in ["orders", "payments"] {
            b.extend_from_slice(&(t.len() as i16).to_be_bytes());
            b.extend_from_slice(t.as_bytes());
        }
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(b"xyz");
        let sub = decode_subscription(&b).unwrap();
        assert_eq!(sub.topics, vec!["orders".to_string(), "payments".to_string()]);
        assert_eq!(sub.user_data.as_deref(), Some(&b"xyz"[..]));
        assert!(sub.owned_partitions.is_empty());
        assert_eq!(sub.generation, None);
        assert_eq!(sub.rack, None);

        // Null user data (-1) in v0.
        let mut n = b[..b.len() - 7].to_vec();
        n.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(decode_subscription(&n).unwrap().user_data, None);

        // A version newer than we know is read as v3 (trailing fields ignored), like Java.
        let mut newer = encode_subscription(&full_subscription()).to_vec();
        newer[1] = 9;
        newer.extend_from_slice(b"future fields");
        let back = decode_subscription(&newer).unwrap();
        assert_eq!(back.rack.as_deref(), Some("rack-a"));
    }

    #[test]
    fn malformed_subscriptions_are_errors() {
        assert_eq!(decode_subscription(&[]), Err(ConsumerProtocolError::MissingVersion));
        assert_eq!(decode_subscription(&[0]), Err(ConsumerProtocolError::MissingVersion));
        assert!(matches!(decode_subscription(&[0xff, 0xff]), Err(ConsumerProtocolError::UnsupportedVersion { .. })));
        assert!(matches!(decode_subscription(&[0, 0, 0, 0, 0, 5, 0]), Err(ConsumerProtocolError::Malformed { .. })));
        let bytes = encode_subscription(&full_subscription());
        assert!(decode_subscription(&bytes[..bytes.len() - 3]).is_err());
    }

    #[test]
    fn assignment_round_trips() {
        let a = Assignment {
            partitions: vec![tp("t0", 0), tp("t0", 2), tp("t1", 1)],
            user_data: Some(Bytes::from_static(b"ud")),
        };
        let bytes = encode_assignment(&a);
        assert_eq!(&bytes[..2], &[0, 3]);
        assert_eq!(decode_assignment(&bytes).unwrap(), a);
        for v in 0..=3 {
            assert_eq!(decode_assignment(&encode_assignment_version(&a, v).unwrap()).unwrap(), a);
        }
        assert_eq!(decode_assignment(&[]).unwrap(), Assignment::default());
        let empty = encode_assignment(&Assignment::default());
        // version, empty array, null user data
        assert_eq!(empty.to_vec(), vec![0, 3, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(decode_assignment(&[0, 0, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn decodes_hand_built_java_v0_assignment() {
        let mut b = Vec::new();
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&1i32.to_be_bytes());
        b.extend_from_slice(&2i16.to_be_bytes());
        b.extend_from_slice(b"t0");
        b.extend_from_slice(&2i32.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes()); // empty (non-null) user data
        let a = decode_assignment(&b).unwrap();
        assert_eq!(a.partitions, vec![tp("t0", 0), tp("t0", 3)]);
        assert_eq!(a.user_data, Some(Bytes::new()));
    }
}
