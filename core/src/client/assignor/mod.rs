//! Consumer partition assignors, wire- and result-compatible with the Java client's.
//!
//! The group leader runs an assignor over every member's [`Subscription`] (decoded from the JoinGroup member
//! metadata, see [`protocol`]) and sends each member its [`Assignment`] in SyncGroup. The protocol names
//! ("range", "roundrobin", "sticky", "cooperative-sticky") are the Java client's, so Streamlet consumers can
//! share a group with Java, librdkafka and other clients.

pub mod protocol;
mod range;
mod round_robin;
mod sticky;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use bytes::Bytes;

pub use protocol::{
    decode_assignment, decode_subscription, encode_assignment, encode_assignment_version, encode_subscription,
    encode_subscription_version, Assignment, ConsumerProtocolError, ASSIGNMENT_VERSION, SUBSCRIPTION_VERSION,
};
pub use range::RangeAssignor;
pub use round_robin::RoundRobinAssignor;
pub use sticky::{decode_sticky_user_data, encode_sticky_user_data, CooperativeStickyAssignor, StickyAssignor};

/// A topic partition as the assignors handle it: `(topic, partition)`.
pub type TopicPartition = (String, i32);

/// The generation Java uses when none is known (`AbstractStickyAssignor.DEFAULT_GENERATION`).
pub const DEFAULT_GENERATION: i32 = -1;

/// Which rebalance protocol an assignor supports (Java's `ConsumerPartitionAssignor.RebalanceProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RebalanceProtocol {
    /// Every member revokes all its partitions before rejoining.
    Eager,
    /// KIP-429: members keep their partitions across a rebalance; only those that move are revoked, and a
    /// follow-up rebalance hands them to their new owner.
    Cooperative,
}

/// One member's subscription, as the leader sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Subscribed topics (only those present in `partitions_per_topic` get partitions).
    pub topics: Vec<String>,
    /// Assignor-specific data (see [`PartitionAssignor::subscription_user_data`]).
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now (subscription v1+; empty under the eager protocol).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation of `owned_partitions` (subscription v2+), `None` when unknown (-1 on the wire).
    pub generation: Option<i32>,
    /// The member's `client.rack` (subscription v3+).
    pub rack: Option<String>,
    /// `group.instance.id` of a static member (from JoinGroup, not from the subscription bytes). Range and
    /// round-robin order static members by it, ahead of dynamic members.
    pub group_instance_id: Option<String>,
}

impl Subscription {
    /// A subscription to `topics` with nothing else set.
    pub fn new<I, S>(topics: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Subscription { topics: topics.into_iter().map(Into::into).collect(), ..Default::default() }
    }

    pub fn with_owned_partitions(mut self, owned: Vec<TopicPartition>) -> Self {
        self.owned_partitions = owned;
        self
    }

    pub fn with_generation(mut self, generation: Option<i32>) -> Self {
        self.generation = generation;
        self
    }

    pub fn with_user_data(mut self, user_data: Option<Bytes>) -> Self {
        self.user_data = user_data;
        self
    }

    pub fn with_group_instance_id(mut self, id: Option<String>) -> Self {
        self.group_instance_id = id;
        self
    }

    pub fn with_rack(mut self, rack: Option<String>) -> Self {
        self.rack = rack;
        self
    }

    fn subscribes(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }
}

/// A consumer partition assignor (Java's `ConsumerPartitionAssignor`).
pub trait PartitionAssignor: Send + Sync {
    /// The protocol name sent in JoinGroup ("range", "roundrobin", "sticky", "cooperative-sticky").
    fn name(&self) -> &str;

    /// The rebalance protocol this assignor is written for. (Java's cooperative-sticky lists both
    /// `COOPERATIVE` and `EAGER`; the first, preferred one is reported here.)
    fn protocol_kind(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    /// The `user_data` a member puts in its subscription, given what it owns now (`owned`: its current
    /// assignment) and the generation of that assignment. Default: none.
    fn subscription_user_data(&self, _topics: &[String], _owned: &[TopicPartition], _generation: Option<i32>)
        -> Option<Bytes> {
        None
    }

    /// Assigns the partitions of the subscribed topics (`partitions_per_topic`: topic -> partition count) to the
    /// members (member id -> subscription). Every member appears in the result, possibly with no partitions.
    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Vec<TopicPartition>>;
}

/// Java's `String.compareTo`: lexicographic over UTF-16 code units (differs from `str`'s byte order only for
/// characters above U+FFFF against U+E000..U+FFFF).
pub(crate) fn java_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Java's `AbstractPartitionAssignor.MemberInfo` order: static members (with a group instance id) first, by
/// instance id; then dynamic members by member id.
pub(crate) fn member_info_cmp(a: (&str, Option<&str>), b: (&str, Option<&str>)) -> Ordering {
    match (a.1, b.1) {
        (Some(x), Some(y)) => java_cmp(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java_cmp(a.0, b.0),
    }
}

/// The member ids sorted the way Java sorts `MemberInfo`s.
pub(crate) fn sorted_members(subscriptions: &BTreeMap<String, Subscription>) -> Vec<&str> {
    let mut members: Vec<(&str, Option<&str>)> =
        subscriptions.iter().map(|(id, s)| (id.as_str(), s.group_instance_id.as_deref())).collect();
    members.sort_by(|a, b| member_info_cmp(*a, *b).then_with(|| java_cmp(a.0, b.0)));
    members.into_iter().map(|m| m.0).collect()
}

/// An empty assignment for every member.
pub(crate) fn empty_assignment(subscriptions: &BTreeMap<String, Subscription>) -> BTreeMap<String, Vec<TopicPartition>> {
    subscriptions.keys().map(|m| (m.clone(), Vec::new())).collect()
}

/// The assignor for a protocol name, if it is one of the built-ins.
pub fn assignor_by_name(name: &str) -> Option<Box<dyn PartitionAssignor>> {
    match name {
        "range" => Some(Box::new(RangeAssignor)),
        "roundrobin" => Some(Box::new(RoundRobinAssignor)),
        "sticky" => Some(Box::new(StickyAssignor)),
        "cooperative-sticky" => Some(Box::new(CooperativeStickyAssignor)),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    pub fn tp(topic: &str, p: i32) -> TopicPartition {
        (topic.to_string(), p)
    }

    pub fn topics(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    pub fn subs(list: &[(&str, &[&str])]) -> BTreeMap<String, Subscription> {
        list.iter().map(|(m, ts)| (m.to_string(), Subscription::new(ts.iter().copied()))).collect()
    }

    /// Checks that no partition is assigned twice, members only get subscribed, existing partitions, every
    /// partition some member subscribes to is assigned, and (when `check_balance`) the balance property of
    /// `AbstractStickyAssignorTest.verifyValidityAndBalance`.
    pub fn verify_validity_and_balance(
        partitions_per_topic: &BTreeMap<String, i32>,
        subscriptions: &BTreeMap<String, Subscription>,
        assignment: &BTreeMap<String, Vec<TopicPartition>>,
        check_balance: bool,
    ) {
        assert_eq!(
            assignment.keys().collect::<Vec<_>>(),
            subscriptions.keys().collect::<Vec<_>>(),
            "every member gets an entry"
        );
        let mut owner: HashMap<&TopicPartition, &str> = HashMap::new();
        for (m, parts) in assignment {
            let sub = &subscriptions[m];
            for p in parts {
                assert!(sub.subscribes(&p.0), "{m} got {p:?} without subscribing to it");
                let n = partitions_per_topic.get(&p.0).copied().unwrap_or(0);
                assert!(p.1 >= 0 && p.1 < n, "{m} got nonexistent {p:?}");
                if let Some(other) = owner.insert(p, m) {
                    panic!("{p:?} assigned to both {other} and {m}");
                }
            }
        }
        for (t, n) in partitions_per_topic {
            if subscriptions.values().any(|s| s.subscribes(t)) {
                for p in 0..*n {
                    assert!(owner.contains_key(&(t.clone(), p)), "{t}-{p} unassigned");
                }
            }
        }
        if !check_balance {
            return;
        }
        let members: Vec<&String> = assignment.keys().collect();
        for i in 0..members.len() {
            for j in (i + 1)..members.len() {
                let (a, b) = (&assignment[members[i]], &assignment[members[j]]);
                if a.len().abs_diff(b.len()) <= 1 {
                    continue;
                }
                // The member with more partitions must hold none the other could take.
                let (big, small, small_id) =
                    if a.len() > b.len() { (a, b, members[j]) } else { (b, a, members[i]) };
                let small_sub = &subscriptions[small_id];
                let _ = small;
                for p in big {
                    assert!(
                        !small_sub.subscribes(&p.0),
                        "unbalanced: {small_id} ({} partitions) could take {p:?} from a member with {}: {assignment:?}",
                        small.len(),
                        big.len()
                    );
                }
            }
        }
    }

    pub fn as_set(parts: &[TopicPartition]) -> BTreeSet<TopicPartition> {
        parts.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_order() {
        assert_eq!(java_cmp("a", "b"), Ordering::Less);
        assert_eq!(java_cmp("consumer-10", "consumer-9"), Ordering::Less);
        // U+FF5E (one UTF-16 unit 0xFF5E) vs U+1F600 (surrogates 0xD83D...): Java puts the emoji first.
        assert_eq!(java_cmp("\u{1F600}", "\u{FF5E}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF5E}"), Ordering::Greater);
    }

    #[test]
    fn static_members_sort_first_by_instance_id() {
        let mut s = BTreeMap::new();
        s.insert("a".to_string(), Subscription::new(["t"]));
        s.insert("b".to_string(), Subscription::new(["t"]).with_group_instance_id(Some("z".into())));
        s.insert("c".to_string(), Subscription::new(["t"]).with_group_instance_id(Some("y".into())));
        assert_eq!(sorted_members(&s), vec!["c", "b", "a"]);
    }

    #[test]
    fn assignors_by_name() {
        for (name, kind) in [
            ("range", RebalanceProtocol::Eager),
            ("roundrobin", RebalanceProtocol::Eager),
            ("sticky", RebalanceProtocol::Eager),
            ("cooperative-sticky", RebalanceProtocol::Cooperative),
        ] {
            let a = assignor_by_name(name).unwrap();
            assert_eq!(a.name(), name);
            assert_eq!(a.protocol_kind(), kind);
        }
        assert!(assignor_by_name("nope").is_none());
    }
}
