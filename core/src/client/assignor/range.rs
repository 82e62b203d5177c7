//! Java's `RangeAssignor` ("range"), without the rack-aware variant (KIP-881 needs partition replica racks).

use std::collections::BTreeMap;

use super::{empty_assignment, member_info_cmp, PartitionAssignor, Subscription, TopicPartition};

/// Assigns each topic on its own: the members subscribed to the topic, in `MemberInfo` order (static members by
/// `group.instance.id` first, then member id), get contiguous ranges of its partitions; the first
/// `partitions % members` members get one extra partition.
///
/// Example (the Java javadoc's): C0 and C1 subscribed to t0 and t1, 3 partitions each:
/// C0: [t0p0, t0p1, t1p0, t1p1], C1: [t0p2, t1p2].
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl PartitionAssignor for RangeAssignor {
    fn name(&self) -> &str {
        "range"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        let mut assignment = empty_assignment(subscriptions);
        // topic -> subscribed members (deduplicated: a member listing a topic twice counts once)
        let mut consumers_per_topic: BTreeMap<&str, Vec<(&str, Option<&str>)>> = BTreeMap::new();
        for (member, sub) in subscriptions {
            for topic in &sub.topics {
                let list = consumers_per_topic.entry(topic.as_str()).or_default();
                if !list.iter().any(|(m, _)| *m == member.as_str()) {
                    list.push((member.as_str(), sub.group_instance_id.as_deref()));
                }
            }
        }
        for (topic, mut consumers) in consumers_per_topic {
            let Some(&num_partitions) = partitions_per_topic.get(topic) else { continue };
            if num_partitions <= 0 || consumers.is_empty() {
                continue;
            }
            consumers.sort_by(|a, b| member_info_cmp(*a, *b).then_with(|| a.0.cmp(b.0)));
            let n = consumers.len() as i32;
            let per_consumer = num_partitions / n;
            let with_extra = num_partitions % n;
            for (i, (member, _)) in consumers.iter().enumerate() {
                let i = i as i32;
                let start = per_consumer * i + i.min(with_extra);
                let len = per_consumer + if i + 1 > with_extra { 0 } else { 1 };
                let list = assignment.get_mut(*member).expect("member present");
                list.extend((start..start + len).map(|p| (topic.to_string(), p)));
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
        let a = RangeAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &a, false);
        a
    }

    #[test]
    fn javadoc_example() {
        let a = assign(&[("t0", 3), ("t1", 3)], &[("C0", &["t0", "t1"]), ("C1", &["t0", "t1"])]);
        assert_eq!(a["C0"], vec![tp("t0", 0), tp("t0", 1), tp("t1", 0), tp("t1", 1)]);
        assert_eq!(a["C1"], vec![tp("t0", 2), tp("t1", 2)]);
    }

    #[test]
    fn one_consumer_no_topic() {
        let a = assign(&[], &[("c", &[])]);
        assert_eq!(a["c"], vec![]);
    }

    #[test]
    fn one_consumer_nonexistent_topic() {
        let a = assign(&[], &[("c", &["t"])]);
        assert_eq!(a["c"], vec![]);
    }

    #[test]
    fn one_consumer_one_topic() {
        let a = assign(&[("t", 3)], &[("c", &["t"])]);
        assert_eq!(a["c"], vec![tp("t", 0), tp("t", 1), tp("t", 2)]);
    }

    #[test]
    fn only_assigns_partitions_from_subscribed_topics() {
        let a = assign(&[("t", 3), ("other", 3)], &[("c", &["t"])]);
        assert_eq!(a["c"], vec![tp("t", 0), tp("t", 1), tp("t", 2)]);
    }

    #[test]
    fn one_consumer_multiple_topics() {
        let a = assign(&[("t1", 1), ("t2", 2)], &[("c", &["t1", "t2"])]);
        assert_eq!(a["c"], vec![tp("t1", 0), tp("t2", 0), tp("t2", 1)]);
    }

    #[test]
    fn two_consumers_one_topic_one_partition() {
        let a = assign(&[("t", 1)], &[("c1", &["t"]), ("c2", &["t"])]);
        assert_eq!(a["c1"], vec![tp("t", 0)]);
        assert_eq!(a["c2"], vec![]);
    }

    #[test]
    fn two_consumers_one_topic_two_partitions() {
        let a = assign(&[("t", 2)], &[("c1", &["t"]), ("c2", &["t"])]);
        assert_eq!(a["c1"], vec![tp("t", 0)]);
        assert_eq!(a["c2"], vec![tp("t", 1)]);
    }

    #[test]
    fn multiple_consumers_mixed_topics() {
        // RangeAssignorTest.testMultipleConsumersMixedTopicSubscriptions
        let a = assign(
            &[("t1", 3), ("t2", 2)],
            &[("c1", &["t1"]), ("c2", &["t1", "t2"]), ("c3", &["t1"])],
        );
        assert_eq!(a["c1"], vec![tp("t1", 0)]);
        assert_eq!(a["c2"], vec![tp("t1", 1), tp("t2", 0), tp("t2", 1)]);
        assert_eq!(a["c3"], vec![tp("t1", 2)]);
    }

    #[test]
    fn two_consumers_two_topics_six_partitions() {
        let a = assign(&[("t1", 3), ("t2", 3)], &[("c1", &["t1", "t2"]), ("c2", &["t1", "t2"])]);
        assert_eq!(a["c1"], vec![tp("t1", 0), tp("t1", 1), tp("t2", 0), tp("t2", 1)]);
        assert_eq!(a["c2"], vec![tp("t1", 2), tp("t2", 2)]);
    }

    #[test]
    fn static_members_ordered_by_instance_id() {
        // RangeAssignorTest.testStaticMemberRangeAssignmentPersistent in spirit: instance ids, not member ids,
        // decide the order, so a static member that rejoins with a new member id keeps its range.
        let t = topics(&[("t1", 5), ("t2", 4)]);
        let mut s = BTreeMap::new();
        s.insert("consumer-b-uuid".to_string(), Subscription::new(["t1", "t2"]).with_group_instance_id(Some("instance-1".into())));
        s.insert("consumer-a-uuid".to_string(), Subscription::new(["t1", "t2"]).with_group_instance_id(Some("instance-2".into())));
        s.insert("consumer-0".to_string(), Subscription::new(["t1", "t2"]));
        let a = RangeAssignor.assign(&t, &s);
        assert_eq!(a["consumer-b-uuid"], vec![tp("t1", 0), tp("t1", 1), tp("t2", 0), tp("t2", 1)]);
        assert_eq!(a["consumer-a-uuid"], vec![tp("t1", 2), tp("t1", 3), tp("t2", 2)]);
        assert_eq!(a["consumer-0"], vec![tp("t1", 4), tp("t2", 3)]);
        // The static member rejoins with a new member id: same partitions.
        let sub = s.remove("consumer-b-uuid").unwrap();
        s.insert("consumer-z-new".to_string(), sub);
        let b = RangeAssignor.assign(&t, &s);
        assert_eq!(b["consumer-z-new"], a["consumer-b-uuid"]);
        assert_eq!(b["consumer-a-uuid"], a["consumer-a-uuid"]);
    }

    #[test]
    fn uneven_ranges() {
        let a = assign(&[("t", 10)], &[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]);
        assert_eq!(a["a"], (0..4).map(|p| tp("t", p)).collect::<Vec<_>>());
        assert_eq!(a["b"], (4..7).map(|p| tp("t", p)).collect::<Vec<_>>());
        assert_eq!(a["c"], (7..10).map(|p| tp("t", p)).collect::<Vec<_>>());
    }
}
