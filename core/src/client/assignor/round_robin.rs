//! Java's `RoundRobinAssignor` ("roundrobin").

use std::collections::{BTreeMap, BTreeSet};

use super::{empty_assignment, sorted_members, PartitionAssignor, Subscription, TopicPartition};

/// Lays out every partition of every subscribed topic (topics sorted, partitions in order) and deals them to
/// the members in `MemberInfo` order, circularly; a member not subscribed to a partition's topic is skipped.
///
/// Javadoc examples: C0 and C1 on t0 and t1 (3 partitions each) -> C0: [t0p0, t0p2, t1p1], C1: [t0p1, t1p0, t1p2].
/// C0 on t0; C1 on t0, t1; C2 on t0, t1, t2 (1, 2, 3 partitions) -> C0: [t0p0], C1: [t1p0],
/// C2: [t1p1, t2p0, t2p1, t2p2].
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinAssignor;

impl PartitionAssignor for RoundRobinAssignor {
    fn name(&self) -> &str {
        "roundrobin"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        let mut assignment = empty_assignment(subscriptions);
        let members = sorted_members(subscriptions);
        if members.is_empty() {
            return assignment;
        }
        // Topic names are restricted to [a-zA-Z0-9._-], so byte order is Java's order.
        let topics: BTreeSet<&str> =
            subscriptions.values().flat_map(|s| s.topics.iter().map(String::as_str)).collect();
        let mut next = 0usize;
        for topic in topics {
            let Some(&n) = partitions_per_topic.get(topic) else { continue };
            for p in 0..n {
                // Some member subscribes to `topic` (it came from a subscription), so this terminates.
                while !subscriptions[members[next]].subscribes(topic) {
                    next = (next + 1) % members.len();
                }
                assignment.get_mut(members[next]).expect("member").push((topic.to_string(), p));
                next = (next + 1) % members.len();
            }
        }
        assignment
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::assignor::test_util::*;

    fn assign(t: &[(&str, i32)], s: &[(&str, &[&str])]) -> BTreeMap<String, Vec<TopicPartition>> {
        let (t, s) = (topics(t), subs(s));
        let a = RoundRobinAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &a, false);
        a
    }

    #[test]
    fn javadoc_example_equal_subscriptions() {
        let a = assign(&[("t0", 3), ("t1", 3)], &[("C0", &["t0", "t1"]), ("C1", &["t0", "t1"])]);
        assert_eq!(a["C0"], vec![tp("t0", 0), tp("t0", 2), tp("t1", 1)]);
        assert_eq!(a["C1"], vec![tp("t0", 1), tp("t1", 0), tp("t1", 2)]);
    }

    #[test]
    fn javadoc_example_unequal_subscriptions() {
        let a = assign(
            &[("t0", 1), ("t1", 2), ("t2", 3)],
            &[("C0", &["t0"]), ("C1", &["t0", "t1"]), ("C2", &["t0", "t1", "t2"])],
        );
        assert_eq!(a["C0"], vec![tp("t0", 0)]);
        assert_eq!(a["C1"], vec![tp("t1", 0)]);
        assert_eq!(a["C2"], vec![tp("t1", 1), tp("t2", 0), tp("t2", 1), tp("t2", 2)]);
    }

    #[test]
    fn one_consumer_cases() {
        assert_eq!(assign(&[], &[("c", &[])])["c"], vec![]);
        assert_eq!(assign(&[], &[("c", &["t"])])["c"], vec![]);
        assert_eq!(assign(&[("t", 3)], &[("c", &["t"])])["c"], vec![tp("t", 0), tp("t", 1), tp("t", 2)]);
        assert_eq!(
            assign(&[("t", 3), ("other", 3)], &[("c", &["t"])])["c"],
            vec![tp("t", 0), tp("t", 1), tp("t", 2)]
        );
        assert_eq!(
            assign(&[("t1", 1), ("t2", 2)], &[("c", &["t1", "t2"])])["c"],
            vec![tp("t1", 0), tp("t2", 0), tp("t2", 1)]
        );
    }

    #[test]
    fn two_consumers_one_topic() {
        let a = assign(&[("t", 1)], &[("c1", &["t"]), ("c2", &["t"])]);
        assert_eq!(a["c1"], vec![tp("t", 0)]);
        assert_eq!(a["c2"], vec![]);
        let a = assign(&[("t", 2)], &[("c1", &["t"]), ("c2", &["t"])]);
        assert_eq!(a["c1"], vec![tp("t", 0)]);
        assert_eq!(a["c2"], vec![tp("t", 1)]);
    }

    #[test]
    fn multiple_consumers_mixed_topics() {
        // RoundRobinAssignorTest.testMultipleConsumersMixedTopics
        let a = assign(
            &[("t1", 3), ("t2", 2)],
            &[("c1", &["t1"]), ("c2", &["t1", "t2"]), ("c3", &["t1"])],
        );
        assert_eq!(a["c1"], vec![tp("t1", 0)]);
        assert_eq!(a["c2"], vec![tp("t1", 1), tp("t2", 0), tp("t2", 1)]);
        assert_eq!(a["c3"], vec![tp("t1", 2)]);
    }

    #[test]
    fn two_dynamic_consumers_two_topics_six_partitions() {
        let a = assign(&[("t1", 3), ("t2", 3)], &[("c1", &["t1", "t2"]), ("c2", &["t1", "t2"])]);
        assert_eq!(a["c1"], vec![tp("t1", 0), tp("t1", 2), tp("t2", 1)]);
        assert_eq!(a["c2"], vec![tp("t1", 1), tp("t2", 0), tp("t2", 2)]);
    }

    #[test]
    fn static_consumers_ordered_by_instance_id() {
        // RoundRobinAssignorTest.testTwoStaticConsumersTwoTopicsSixPartitions in spirit: member ids sort the
        // other way round, the instance ids decide.
        let t = topics(&[("t1", 3), ("t2", 3)]);
        let mut s = BTreeMap::new();
        s.insert("consumer-b".to_string(), Subscription::new(["t1", "t2"]).with_group_instance_id(Some("instance-1".into())));
        s.insert("consumer-a".to_string(), Subscription::new(["t1", "t2"]).with_group_instance_id(Some("instance-2".into())));
        let a = RoundRobinAssignor.assign(&t, &s);
        assert_eq!(a["consumer-b"], vec![tp("t1", 0), tp("t1", 2), tp("t2", 1)]);
        assert_eq!(a["consumer-a"], vec![tp("t1", 1), tp("t2", 0), tp("t2", 2)]);
    }
}
