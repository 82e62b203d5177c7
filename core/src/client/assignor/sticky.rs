//! Java's `StickyAssignor` ("sticky", eager) and `CooperativeStickyAssignor` ("cooperative-sticky", KIP-429),
//! both on the algorithm of `AbstractStickyAssignor`:
//!
//! * When every member subscribes to the same topics, the "constrained" assignment: each member keeps up to its
//!   quota (`floor` or `ceil` of partitions / members) of the partitions it owned, the rest are dealt round-robin
//!   to the members under quota (members in id order, partitions in topic/partition order).
//! * Otherwise the "general" assignment: keep every still-valid owned partition, give each unassigned partition
//!   (fewest potential owners first) to the least loaded member that can take it, then move partitions from
//!   members with 2+ more partitions than another eligible member until balanced, keeping the result only if
//!   it is more balanced than before, and avoiding cyclic moves (`PartitionMovements`).
//!
//! Owned partitions come, for "sticky", from its user data (the previous assignment and its generation) and, for
//! "cooperative-sticky", from the subscription's owned partitions and generation (v2+), or the generation in
//! its user data for older subscriptions. Only claims of the highest generation count; a partition claimed by
//! two members of that generation is owned by neither.
//!
//! The cooperative variant then drops from the result every partition that moves from one member to another, so
//! that its owner revokes it first; the follow-up rebalance assigns it.
//!
//! Results are deterministic (members in id order where Java iterates a `HashMap`), so they can differ from
//! Java's in the choice between equally good assignments, never in balance or stickiness.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{java_cmp, PartitionAssignor, RebalanceProtocol, Subscription, TopicPartition, DEFAULT_GENERATION};

/// Encodes the "sticky" assignor's user data (Java's `STICKY_ASSIGNOR_USER_DATA_V1`):
/// `previous_assignment: [{topic: string, partitions: [int32]}]`, `generation: int32`.
pub fn encode_sticky_user_data(partitions: &[TopicPartition], generation: Option<i32>) -> Bytes {
    let mut grouped: Vec<(&str, Vec<i32>)> = Vec::new();
    for (t, p) in partitions {
        match grouped.iter_mut().find(|(topic, _)| topic == t) {
            Some((_, ps)) => ps.push(*p),
            None => grouped.push((t.as_str(), vec![*p])),
        }
    }
    let mut b = BytesMut::new();
    b.put_i32(grouped.len() as i32);
    for (t, ps) in grouped {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
        b.put_i32(ps.len() as i32);
        for p in ps {
            b.put_i32(p);
        }
    }
    b.put_i32(generation.unwrap_or(DEFAULT_GENERATION));
    b.freeze()
}

fn read_sticky_partitions(buf: &mut &[u8]) -> Option<Vec<TopicPartition>> {
    let mut out = Vec::new();
    if buf.remaining() < 4 {
        return None;
    }
    let n = buf.get_i32();
    if n < 0 {
        return None;
    }
    for _ in 0..n {
        if buf.remaining() < 2 {
            return None;
        }
        let len = buf.get_i16();
        if len < 0 || buf.remaining() < len as usize {
            return None;
        }
        let topic = std::str::from_utf8(&buf[..len as usize]).ok()?.to_string();
        buf.advance(len as usize);
        if buf.remaining() < 4 {
            return None;
        }
        let np = buf.get_i32();
        if np < 0 || buf.remaining() < 4 * np as usize {
            return None;
        }
        for _ in 0..np {
            out.push((topic.clone(), buf.get_i32()));
        }
    }
    Some(out)
}

/// Decodes the "sticky" assignor's user data, V1 (with generation) or V0 (without). Unparseable data counts as
/// no previous assignment, as in Java.
pub fn decode_sticky_user_data(data: &[u8]) -> (Vec<TopicPartition>, Option<i32>) {
    let mut buf = data;
    match read_sticky_partitions(&mut buf) {
        Some(parts) if buf.remaining() >= 4 => (parts, Some(buf.get_i32())),
        Some(parts) => (parts, None),
        None => (Vec::new(), Some(DEFAULT_GENERATION)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Eager,
    Cooperative,
}

struct MemberData {
    partitions: Vec<TopicPartition>,
    generation: Option<i32>,
}

fn member_data(flavor: Flavor, sub: &Subscription) -> MemberData {
    match flavor {
        Flavor::Eager => match &sub.user_data {
            Some(ud) if !ud.is_empty() => {
                let (partitions, generation) = decode_sticky_user_data(ud);
                MemberData { partitions, generation }
            }
            _ => MemberData { partitions: Vec::new(), generation: None },
        },
        Flavor::Cooperative => {
            let generation = if sub.generation.is_some() {
                sub.generation
            } else {
                match &sub.user_data {
                    None => None,
                    Some(ud) if ud.len() >= 4 => Some((&ud[..4]).get_i32()),
                    Some(_) => Some(DEFAULT_GENERATION),
                }
            };
            MemberData { partitions: sub.owned_partitions.clone(), generation }
        }
    }
}

type AssignmentMap = BTreeMap<String, Vec<TopicPartition>>;

fn all_partitions_sorted(partitions_per_topic: &BTreeMap<String, i32>) -> Vec<TopicPartition> {
    partitions_per_topic.iter().flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p))).collect()
}

fn exists(partitions_per_topic: &BTreeMap<String, i32>, tp: &TopicPartition) -> bool {
    partitions_per_topic.get(&tp.0).is_some_and(|n| tp.1 >= 0 && tp.1 < *n)
}

/// The sticky algorithm; returns the assignment and, for the constrained path, the partitions that change owner.
fn sticky_assign(
    flavor: Flavor,
    partitions_per_topic: &BTreeMap<String, i32>,
    subscriptions: &BTreeMap<String, Subscription>,
) -> (AssignmentMap, Option<BTreeMap<TopicPartition, String>>) {
    if subscriptions.is_empty() {
        return (BTreeMap::new(), Some(BTreeMap::new()));
    }
    // Only topics someone subscribes to take part (Java's partitionsPerTopic holds nothing else).
    let subscribed: BTreeMap<String, i32> = partitions_per_topic
        .iter()
        .filter(|(t, _)| subscriptions.values().any(|s| s.subscribes(t)))
        .map(|(t, n)| (t.clone(), *n))
        .collect();
    let partitions_per_topic = &subscribed;
    let data: BTreeMap<&str, MemberData> =
        subscriptions.iter().map(|(m, s)| (m.as_str(), member_data(flavor, s))).collect();

    let first: BTreeSet<&str> = subscriptions.values().next().unwrap().topics.iter().map(String::as_str).collect();
    let all_equal = subscriptions
        .values()
        .all(|s| s.topics.iter().map(String::as_str).collect::<BTreeSet<_>>() == first);
    if all_equal {
        let (owned, multi) = owned_partitions_of_highest_generation(partitions_per_topic, &data);
        let (a, t) = constrained_assign(partitions_per_topic, owned, &multi);
        (a, Some(t))
    } else {
        (general_assign(partitions_per_topic, subscriptions, &data), None)
    }
}

/// Each member's still-valid owned partitions: only members of the highest generation (or, when no generation
/// is known at all, members without one) keep their claims; partitions claimed by several of them are dropped
/// and returned separately.
fn owned_partitions_of_highest_generation(
    partitions_per_topic: &BTreeMap<String, i32>,
    data: &BTreeMap<&str, MemberData>,
) -> (BTreeMap<String, Vec<TopicPartition>>, HashSet<TopicPartition>) {
    let max_generation = data.values().filter_map(|d| d.generation).fold(DEFAULT_GENERATION, i32::max);
    let valid = |d: &MemberData| match d.generation {
        Some(g) => g == max_generation,
        None => max_generation == DEFAULT_GENERATION,
    };
    let mut claims: HashMap<&TopicPartition, usize> = HashMap::new();
    for d in data.values().filter(|d| valid(d)) {
        let mine: HashSet<&TopicPartition> = d.partitions.iter().collect();
        for tp in mine {
            *claims.entry(tp).or_default() += 1;
        }
    }
    let multi: HashSet<TopicPartition> =
        claims.iter().filter(|(_, n)| **n > 1).map(|(tp, _)| (*tp).clone()).collect();
    let owned = data
        .iter()
        .map(|(m, d)| {
            let mut seen = HashSet::new();
            let parts = if valid(d) {
                d.partitions
                    .iter()
                    .filter(|tp| exists(partitions_per_topic, tp) && !multi.contains(*tp) && seen.insert(*tp))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            (m.to_string(), parts)
        })
        .collect();
    (owned, multi)
}

fn constrained_assign(
    partitions_per_topic: &BTreeMap<String, i32>,
    owned: BTreeMap<String, Vec<TopicPartition>>,
    multi_owner: &HashSet<TopicPartition>,
) -> (AssignmentMap, BTreeMap<TopicPartition, String>) {
    let all = all_partitions_sorted(partitions_per_topic);
    let members = owned.len();
    let total = all.len();
    let min_quota = total / members;
    let max_quota = total.div_ceil(members);
    let expected_over_min = total % members;
    let mut current_over_min = 0usize;

    let mut assignment: AssignmentMap = BTreeMap::new();
    let mut assigned: HashSet<TopicPartition> = HashSet::new();
    let mut revoked: HashSet<TopicPartition> = HashSet::new();
    let mut under_min: Vec<String> = Vec::new();
    let mut exactly_min: std::collections::VecDeque<String> = Default::default();
    let mut transferring: BTreeMap<TopicPartition, String> = BTreeMap::new();

    // 1. Keep owned partitions up to the quota; revoke the rest.
    for (member, parts) in owned {
        let keep = if parts.len() < min_quota {
            under_min.push(member.clone());
            parts.len()
        } else if parts.len() >= max_quota && current_over_min < expected_over_min {
            current_over_min += 1;
            if current_over_min == expected_over_min {
                exactly_min.clear();
            }
            max_quota
        } else {
            if current_over_min < expected_over_min {
                exactly_min.push_back(member.clone());
            }
            min_quota
        };
        revoked.extend(parts[keep..].iter().cloned());
        assigned.extend(parts[..keep].iter().cloned());
        assignment.insert(member, parts[..keep].to_vec());
    }

    // 2. Deal the unassigned partitions round-robin to members under the min quota, then one each to members
    //    at the min quota until the expected number of members reached the max quota.
    let unassigned: Vec<TopicPartition> = all.into_iter().filter(|tp| !assigned.contains(tp)).collect();
    under_min.sort_by(|a, b| java_cmp(a, b));
    exactly_min.make_contiguous().sort_by(|a, b| java_cmp(a, b));
    let mut cursor = 0usize;
    for tp in unassigned {
        let member = if cursor < under_min.len() {
            under_min[cursor].clone()
        } else if under_min.is_empty() {
            match exactly_min.pop_front() {
                Some(m) => m,
                None => {
                    tracing::error!(partition = ?tp, "sticky assignor: no member left under quota");
                    break;
                }
            }
        } else {
            cursor = 0;
            under_min[0].clone()
        };
        let list = assignment.get_mut(&member).expect("member");
        list.push(tp.clone());
        if revoked.contains(&tp) || multi_owner.contains(&tp) {
            transferring.insert(tp, member.clone());
        }
        let count = list.len();
        if count == min_quota && cursor < under_min.len() && under_min[cursor] == member {
            under_min.remove(cursor);
            exactly_min.push_back(member);
        } else {
            if cursor < under_min.len() && under_min[cursor] == member {
                cursor += 1;
            }
            if count == max_quota {
                current_over_min += 1;
                if current_over_min == expected_over_min {
                    exactly_min.clear();
                }
            }
        }
    }
    (assignment, transferring)
}

/// Movement bookkeeping that prevents partitions of one topic from moving in cycles (Java's `PartitionMovements`).
#[derive(Default)]
struct PartitionMovements {
    by_topic: BTreeMap<String, BTreeMap<(String, String), BTreeSet<TopicPartition>>>,
    movements: HashMap<TopicPartition, (String, String)>,
}

impl PartitionMovements {
    fn remove_record(&mut self, tp: &TopicPartition) -> (String, String) {
        let pair = self.movements.remove(tp).expect("recorded");
        let topic = self.by_topic.get_mut(&tp.0).expect("topic");
        let set = topic.get_mut(&pair).expect("pair");
        set.remove(tp);
        if set.is_empty() {
            topic.remove(&pair);
        }
        if topic.is_empty() {
            self.by_topic.remove(&tp.0);
        }
        pair
    }

    fn add_record(&mut self, tp: &TopicPartition, pair: (String, String)) {
        self.movements.insert(tp.clone(), pair.clone());
        self.by_topic.entry(tp.0.clone()).or_default().entry(pair).or_default().insert(tp.clone());
    }

    fn move_partition(&mut self, tp: &TopicPartition, old: &str, new: &str) {
        if self.movements.contains_key(tp) {
            let (src, _dst) = self.remove_record(tp);
            if src != new {
                self.add_record(tp, (src, new.to_string()));
            }
        } else {
            self.add_record(tp, (old.to_string(), new.to_string()));
        }
    }

    fn actual_partition_to_move(&self, tp: &TopicPartition, old: &str, new: &str) -> TopicPartition {
        let Some(topic) = self.by_topic.get(&tp.0) else { return tp.clone() };
        let old = match self.movements.get(tp) {
            Some((src, _)) => src.as_str(),
            None => old,
        };
        match topic.get(&(new.to_string(), old.to_string())) {
            Some(set) => set.iter().next().expect("non-empty").clone(),
            None => tp.clone(),
        }
    }
}

struct General<'a> {
    current: AssignmentMap,
    partition_consumer: HashMap<TopicPartition, String>,
    prev: HashMap<TopicPartition, String>,
    partition_potential: BTreeMap<TopicPartition, Vec<String>>,
    consumer_potential: BTreeMap<String, (Vec<TopicPartition>, HashSet<TopicPartition>)>,
    movements: PartitionMovements,
    _subs: &'a BTreeMap<String, Subscription>,
}

impl General<'_> {
    /// Members in `SubscriptionComparator` order: fewest partitions first, then member id.
    fn sorted_consumers(&self) -> Vec<String> {
        let mut v: Vec<(&String, usize)> = self.current.iter().map(|(m, p)| (m, p.len())).collect();
        v.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| java_cmp(a.0, b.0)));
        v.into_iter().map(|(m, _)| m.clone()).collect()
    }

    fn count(&self, m: &str) -> Option<usize> {
        self.current.get(m).map(Vec::len)
    }

    fn can_take(&self, m: &str, tp: &TopicPartition) -> bool {
        self.consumer_potential.get(m).is_some_and(|(_, set)| set.contains(tp))
    }

    fn assign_unassigned(&mut self, tp: &TopicPartition) {
        if let Some(m) = self.sorted_consumers().into_iter().find(|m| self.can_take(m, tp)) {
            self.current.get_mut(&m).unwrap().push(tp.clone());
            self.partition_consumer.insert(tp.clone(), m);
        }
    }

    fn partition_can_move(&self, tp: &TopicPartition) -> bool {
        self.partition_potential.get(tp).is_some_and(|c| c.len() >= 2)
    }

    fn consumer_can_participate(&self, m: &str) -> bool {
        let parts = &self.current[m];
        let max = self.consumer_potential[m].0.len();
        parts.len() < max || parts.iter().any(|tp| self.partition_can_move(tp))
    }

    fn is_balanced(&self) -> bool {
        let counts: Vec<usize> = self.current.values().map(Vec::len).collect();
        let (Some(min), Some(max)) = (counts.iter().min(), counts.iter().max()) else { return true };
        if *min + 1 >= *max {
            return true;
        }
        for (m, parts) in &self.current {
            let n = parts.len();
            let potential = &self.consumer_potential[m].0;
            if n == potential.len() {
                continue;
            }
            let mine: HashSet<&TopicPartition> = parts.iter().collect();
            for tp in potential {
                if mine.contains(tp) {
                    continue;
                }
                if let Some(other) = self.partition_consumer.get(tp) {
                    if self.count(other).is_some_and(|o| n < o) {
                        return false;
                    }
                }
            }
        }
        true
    }

    fn process_movement(&mut self, tp: &TopicPartition, new: &str) {
        let old = self.partition_consumer[tp].clone();
        self.movements.move_partition(tp, &old, new);
        if let Some(list) = self.current.get_mut(&old) {
            list.retain(|x| x != tp);
        }
        self.current.get_mut(new).expect("member").push(tp.clone());
        self.partition_consumer.insert(tp.clone(), new.to_string());
    }

    fn reassign_to(&mut self, tp: &TopicPartition, new: &str) {
        let old = self.partition_consumer[tp].clone();
        let actual = self.movements.actual_partition_to_move(tp, &old, new);
        self.process_movement(&actual, new);
    }

    fn reassign(&mut self, tp: &TopicPartition) {
        if let Some(new) = self.sorted_consumers().into_iter().find(|m| self.can_take(m, tp)) {
            self.reassign_to(tp, &new);
        }
    }

    fn perform_reassignments(&mut self, partitions: &[TopicPartition]) -> bool {
        let mut performed = false;
        // Every pass that moves something improves the balance; the cap only guards against a livelock.
        let max_passes = partitions.len().saturating_mul(self.current.len().max(1)).saturating_add(16);
        for _ in 0..max_passes {
            let mut modified = false;
            for tp in partitions {
                if self.is_balanced() {
                    break;
                }
                if !self.partition_can_move(tp) {
                    continue;
                }
                let Some(consumer) = self.partition_consumer.get(tp).cloned() else { continue };
                let Some(n) = self.count(&consumer) else { continue };
                if let Some(prev) = self.prev.get(tp).cloned() {
                    if self.count(&prev).is_some_and(|p| n > p + 1) {
                        self.reassign_to(tp, &prev);
                        performed = true;
                        modified = true;
                        continue;
                    }
                }
                let others = self.partition_potential[tp].clone();
                if others.iter().any(|o| self.count(o).is_some_and(|c| n > c + 1)) {
                    self.reassign(tp);
                    performed = true;
                    modified = true;
                }
            }
            if !modified {
                return performed;
            }
        }
        tracing::warn!("sticky assignor: balancing stopped after {max_passes} passes");
        performed
    }
}

fn balance_score(a: &AssignmentMap) -> usize {
    let counts: Vec<usize> = a.values().map(Vec::len).collect();
    let mut score = 0;
    for i in 0..counts.len() {
        for j in (i + 1)..counts.len() {
            score += counts[i].abs_diff(counts[j]);
        }
    }
    score
}

fn general_assign(
    partitions_per_topic: &BTreeMap<String, i32>,
    subscriptions: &BTreeMap<String, Subscription>,
    data: &BTreeMap<&str, MemberData>,
) -> AssignmentMap {
    // Current owner = the claimant of the highest generation; previous owner = the next highest. Two claims in
    // the same generation: the first (member id order) wins.
    let mut by_generation: BTreeMap<&TopicPartition, BTreeMap<i32, &str>> = BTreeMap::new();
    for (m, d) in data {
        for tp in &d.partitions {
            let g = d.generation.unwrap_or(DEFAULT_GENERATION);
            let e = by_generation.entry(tp).or_default();
            match e.entry(g) {
                std::collections::btree_map::Entry::Occupied(_) => {
                    tracing::warn!(partition = ?tp, generation = g, "partition claimed by several members of a generation");
                }
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(*m);
                }
            }
        }
    }
    let mut current: AssignmentMap = subscriptions.keys().map(|m| (m.clone(), Vec::new())).collect();
    let mut prev: HashMap<TopicPartition, String> = HashMap::new();
    for (tp, owners) in &by_generation {
        let mut it = owners.iter().rev();
        let (_, owner) = it.next().expect("non-empty");
        current.get_mut(*owner).expect("member").push((*tp).clone());
        if let Some((_, p)) = it.next() {
            prev.insert((*tp).clone(), p.to_string());
        }
    }

    let mut partition_potential: BTreeMap<TopicPartition, Vec<String>> =
        all_partitions_sorted(partitions_per_topic).into_iter().map(|tp| (tp, Vec::new())).collect();
    let mut consumer_potential = BTreeMap::new();
    for (m, sub) in subscriptions {
        let mut list = Vec::new();
        let mut set = HashSet::new();
        let topics: BTreeSet<&String> = sub.topics.iter().collect();
        for t in topics {
            if let Some(n) = partitions_per_topic.get(t) {
                for p in 0..*n {
                    let tp = (t.clone(), p);
                    partition_potential.get_mut(&tp).unwrap().push(m.clone());
                    set.insert(tp.clone());
                    list.push(tp);
                }
            }
        }
        consumer_potential.insert(m.clone(), (list, set));
    }

    let initializing = current.values().all(Vec::is_empty);
    // Partitions with the fewest potential owners first.
    let mut sorted_partitions: Vec<TopicPartition> = partition_potential.keys().cloned().collect();
    sorted_partitions.sort_by_key(|tp| partition_potential[tp].len());

    let mut g = General {
        current,
        partition_consumer: HashMap::new(),
        prev,
        partition_potential,
        consumer_potential,
        movements: PartitionMovements::default(),
        _subs: subscriptions,
    };

    // Drop claims that are no longer valid.
    let mut keep: HashSet<TopicPartition> = HashSet::new();
    let mut revocation_required = false;
    for (m, parts) in g.current.iter_mut() {
        let sub = &subscriptions[m];
        parts.retain(|tp| {
            if !exists(partitions_per_topic, tp) {
                false
            } else if !sub.subscribes(&tp.0) {
                revocation_required = true;
                false
            } else {
                keep.insert(tp.clone())
            }
        });
        for tp in parts.iter() {
            g.partition_consumer.insert(tp.clone(), m.clone());
        }
    }
    let unassigned: Vec<TopicPartition> = sorted_partitions.iter().filter(|tp| !keep.contains(*tp)).cloned().collect();

    // Balance.
    for tp in &unassigned {
        if !g.partition_potential[tp].is_empty() {
            g.assign_unassigned(tp);
        }
    }
    let reassignable: Vec<TopicPartition> =
        sorted_partitions.iter().filter(|tp| g.partition_can_move(tp)).cloned().collect();
    let fixed_members: Vec<String> =
        g.current.keys().filter(|m| !g.consumer_can_participate(m)).cloned().collect();
    let mut fixed = BTreeMap::new();
    for m in fixed_members {
        let parts = g.current.remove(&m).unwrap();
        fixed.insert(m, parts);
    }
    let pre_balance = g.current.clone();
    let pre_balance_consumers = g.partition_consumer.clone();
    if !revocation_required {
        g.perform_reassignments(&unassigned);
    }
    let performed = g.perform_reassignments(&reassignable);
    if !initializing && performed && balance_score(&g.current) >= balance_score(&pre_balance) {
        g.current = pre_balance;
        g.partition_consumer = pre_balance_consumers;
    }
    g.current.extend(fixed);
    g.current
}

/// Java's `computePartitionsTransferringOwnership`: partitions newly assigned to a member that another member
/// owns now (per the subscriptions' owned partitions) and must revoke first.
fn partitions_transferring_ownership(
    subscriptions: &BTreeMap<String, Subscription>,
    assignment: &AssignmentMap,
) -> BTreeMap<TopicPartition, String> {
    let mut added: BTreeMap<TopicPartition, String> = BTreeMap::new();
    let mut revoked: HashSet<TopicPartition> = HashSet::new();
    for (m, assigned) in assignment {
        let owned: HashSet<&TopicPartition> = subscriptions[m].owned_partitions.iter().collect();
        let assigned_set: HashSet<&TopicPartition> = assigned.iter().collect();
        for tp in assigned {
            if !owned.contains(tp) {
                added.insert(tp.clone(), m.clone());
            }
        }
        for tp in &subscriptions[m].owned_partitions {
            if !assigned_set.contains(tp) {
                revoked.insert(tp.clone());
            }
        }
    }
    added.retain(|tp, _| revoked.contains(tp));
    added
}

/// "sticky": balanced and sticky, eager protocol; the previous assignment travels in the user data.
#[derive(Debug, Clone, Copy, Default)]
pub struct StickyAssignor;

impl PartitionAssignor for StickyAssignor {
    fn name(&self) -> &str {
        "sticky"
    }

    fn protocol_kind(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    /// The member's last assignment and its generation (Java sends nothing before the first assignment).
    fn subscription_user_data(&self, _topics: &[String], owned: &[TopicPartition], generation: Option<i32>)
        -> Option<Bytes> {
        if owned.is_empty() && generation.is_none() {
            return None;
        }
        Some(encode_sticky_user_data(owned, generation))
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        sticky_assign(Flavor::Eager, partitions_per_topic, subscriptions).0
    }
}

/// "cooperative-sticky": the sticky assignment under KIP-429's cooperative protocol. Partitions that change
/// owner are left out of this round's assignment (their owner revokes them), to be assigned in the follow-up
/// rebalance.
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeStickyAssignor;

impl PartitionAssignor for CooperativeStickyAssignor {
    fn name(&self) -> &str {
        "cooperative-sticky"
    }

    fn protocol_kind(&self) -> RebalanceProtocol {
        RebalanceProtocol::Cooperative
    }

    /// Java's `COOPERATIVE_STICKY_ASSIGNOR_USER_DATA_V0`: the generation as an `int32` (for brokers/leaders
    /// reading subscriptions older than v2).
    fn subscription_user_data(&self, _topics: &[String], _owned: &[TopicPartition], generation: Option<i32>)
        -> Option<Bytes> {
        let mut b = BytesMut::with_capacity(4);
        b.put_i32(generation.unwrap_or(DEFAULT_GENERATION));
        Some(b.freeze())
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        let (mut assignment, transferring) = sticky_assign(Flavor::Cooperative, partitions_per_topic, subscriptions);
        let transferring = transferring.unwrap_or_else(|| partitions_transferring_ownership(subscriptions, &assignment));
        for (tp, member) in transferring {
            if let Some(list) = assignment.get_mut(&member) {
                list.retain(|x| *x != tp);
            }
        }
        assignment
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::assignor::test_util::*;
    use crate::client::partitioner::SplitMix;

    fn with_user_data(
        subs: &mut BTreeMap<String, Subscription>,
        prev: &BTreeMap<String, Vec<TopicPartition>>,
        generation: i32,
    ) {
        for (m, s) in subs.iter_mut() {
            if let Some(parts) = prev.get(m) {
                s.user_data = StickyAssignor.subscription_user_data(&s.topics, parts, Some(generation));
            }
        }
    }

    fn with_owned(subs: &mut BTreeMap<String, Subscription>, prev: &BTreeMap<String, Vec<TopicPartition>>, generation: i32) {
        for (m, s) in subs.iter_mut() {
            if let Some(parts) = prev.get(m) {
                s.owned_partitions = parts.clone();
                s.generation = Some(generation);
            }
        }
    }

    #[test]
    fn user_data_round_trips() {
        let parts = vec![tp("t0", 1), tp("t1", 0), tp("t0", 0)];
        let ud = encode_sticky_user_data(&parts, Some(4));
        let (back, g) = decode_sticky_user_data(&ud);
        assert_eq!(as_set(&back), as_set(&parts));
        assert_eq!(g, Some(4));
        // V0 (no generation): the same bytes without the trailing int32.
        let (back, g) = decode_sticky_user_data(&ud[..ud.len() - 4]);
        assert_eq!(as_set(&back), as_set(&parts));
        assert_eq!(g, None);
        // Garbage: no previous assignment.
        assert_eq!(decode_sticky_user_data(&[0, 0, 0, 9, 1]), (vec![], Some(DEFAULT_GENERATION)));
        assert_eq!(StickyAssignor.subscription_user_data(&[], &[], None), None);
        let coop = CooperativeStickyAssignor.subscription_user_data(&[], &[], Some(3)).unwrap();
        assert_eq!(&coop[..], &[0, 0, 0, 3]);
    }

    #[test]
    fn javadoc_example_1() {
        let t = topics(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
        let all: &[&str] = &["t0", "t1", "t2", "t3"];
        let mut s = subs(&[("C0", all), ("C1", all), ("C2", all)]);
        let a = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &a, true);
        assert_eq!(a["C0"], vec![tp("t0", 0), tp("t1", 1), tp("t3", 0)]);
        assert_eq!(a["C1"], vec![tp("t0", 1), tp("t2", 0), tp("t3", 1)]);
        assert_eq!(a["C2"], vec![tp("t1", 0), tp("t2", 1)]);

        // C1 leaves: C0 and C2 keep everything they had (the javadoc's point), 4 each.
        s.remove("C1");
        with_user_data(&mut s, &a, 1);
        let b = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &b, true);
        assert_eq!(b["C0"].len(), 4);
        assert_eq!(b["C2"].len(), 4);
        assert!(as_set(&b["C0"]).is_superset(&as_set(&a["C0"])));
        assert!(as_set(&b["C2"]).is_superset(&as_set(&a["C2"])));
    }

    #[test]
    fn javadoc_example_2() {
        let t = topics(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let mut s = subs(&[("C0", &["t0"]), ("C1", &["t0", "t1"]), ("C2", &["t0", "t1", "t2"])]);
        let a = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &a, true);
        assert_eq!(a["C0"], vec![tp("t0", 0)]);
        assert_eq!(a["C1"], vec![tp("t1", 0), tp("t1", 1)]);
        assert_eq!(a["C2"], vec![tp("t2", 0), tp("t2", 1), tp("t2", 2)]);

        s.remove("C0");
        with_user_data(&mut s, &a, 1);
        let b = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &b, true);
        assert_eq!(b["C1"], vec![tp("t1", 0), tp("t1", 1), tp("t0", 0)]);
        assert_eq!(b["C2"], vec![tp("t2", 0), tp("t2", 1), tp("t2", 2)]);
    }

    #[test]
    fn one_consumer_cases() {
        for assignor in [&StickyAssignor as &dyn PartitionAssignor, &CooperativeStickyAssignor] {
            let t = topics(&[]);
            let s = subs(&[("c", &[])]);
            assert_eq!(assignor.assign(&t, &s)["c"], vec![]);
            let s = subs(&[("c", &["t"])]);
            assert_eq!(assignor.assign(&t, &s)["c"], vec![]);
            let t = topics(&[("t", 3), ("other", 2)]);
            assert_eq!(assignor.assign(&t, &s)["c"], vec![tp("t", 0), tp("t", 1), tp("t", 2)]);
            assert!(assignor.assign(&t, &BTreeMap::new()).is_empty());
        }
    }

    #[test]
    fn two_consumers_one_topic_one_partition() {
        let t = topics(&[("t", 1)]);
        let s = subs(&[("c1", &["t"]), ("c2", &["t"])]);
        let a = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &a, true);
        assert_eq!(a["c1"].len() + a["c2"].len(), 1);
    }

    #[test]
    fn adding_and_removing_members_keeps_balance_and_stickiness() {
        let t = topics(&[("t1", 5), ("t2", 7)]);
        let both: &[&str] = &["t1", "t2"];
        let mut s = subs(&[("c1", both), ("c2", both), ("c3", both)]);
        let mut prev = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &prev, true);
        for (generation, step) in ["add c4", "add c5", "remove c2", "remove c1", "add c6"].iter().enumerate() {
            let (op, m) = step.split_once(' ').unwrap();
            if op == "add" {
                s.insert(m.to_string(), Subscription::new(both.iter().copied()));
            } else {
                s.remove(m);
            }
            with_user_data(&mut s, &prev, generation as i32 + 1);
            let next = StickyAssignor.assign(&t, &s);
            verify_validity_and_balance(&t, &s, &next, true);
            // Stickiness: a surviving member keeps min(owned, new quota floor) of its partitions.
            let min_quota = 12 / s.len();
            for (member, parts) in &next {
                if let Some(old) = prev.get(member) {
                    let kept = as_set(parts).intersection(&as_set(old)).count();
                    assert!(kept >= old.len().min(min_quota), "{step}: {member} kept {kept} of {old:?}");
                }
            }
            prev = next;
        }
    }

    #[test]
    fn highest_generation_wins_in_constrained_path() {
        // c1 still claims t-0..t-2 from generation 1; c2 claims t-0 and t-1 from generation 2.
        let t = topics(&[("t", 4)]);
        let mut s = subs(&[("c1", &["t"]), ("c2", &["t"])]);
        s.get_mut("c1").unwrap().user_data = Some(encode_sticky_user_data(&[tp("t", 0), tp("t", 1), tp("t", 2)], Some(1)));
        s.get_mut("c2").unwrap().user_data = Some(encode_sticky_user_data(&[tp("t", 0), tp("t", 1)], Some(2)));
        let a = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &a, true);
        assert_eq!(a["c2"], vec![tp("t", 0), tp("t", 1)]);
        assert_eq!(a["c1"], vec![tp("t", 2), tp("t", 3)]);
    }

    #[test]
    fn highest_generation_wins_in_general_path() {
        let t = topics(&[("t", 2), ("u", 1)]);
        let mut s = subs(&[("c1", &["t"]), ("c2", &["t", "u"]), ("c3", &["t"])]);
        s.get_mut("c1").unwrap().user_data = Some(encode_sticky_user_data(&[tp("t", 0)], Some(1)));
        s.get_mut("c3").unwrap().user_data = Some(encode_sticky_user_data(&[tp("t", 0)], Some(2)));
        s.get_mut("c2").unwrap().user_data = Some(encode_sticky_user_data(&[tp("t", 1)], Some(2)));
        let a = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &a, true);
        // c3 (generation 2) keeps t-0 over c1 (generation 1); balancing then moves t-1 from c2 to c1.
        assert_eq!(a["c3"], vec![tp("t", 0)]);
        assert_eq!(a["c2"], vec![tp("u", 0)]);
        assert_eq!(a["c1"], vec![tp("t", 1)]);
    }

    #[test]
    fn cooperative_same_generation_conflict_is_revoked_first() {
        // CooperativeStickyAssignorTest: two members of one generation claim t-0; it is owned by nobody and, as
        // someone "owns" it, it is not handed out before both revoked it.
        let t = topics(&[("t", 3)]);
        let mut s = subs(&[("c1", &["t"]), ("c2", &["t"]), ("c3", &["t"])]);
        s.get_mut("c1").unwrap().owned_partitions = vec![tp("t", 0), tp("t", 1)];
        s.get_mut("c2").unwrap().owned_partitions = vec![tp("t", 0), tp("t", 2)];
        for m in ["c1", "c2", "c3"] {
            s.get_mut(m).unwrap().generation = Some(1);
        }
        let a = CooperativeStickyAssignor.assign(&t, &s);
        assert_eq!(a["c1"], vec![tp("t", 1)]);
        assert_eq!(a["c2"], vec![tp("t", 2)]);
        assert_eq!(a["c3"], vec![]);
        // The eager variant reads user data only: no claims at all, a fresh assignment.
        let e = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &e, true);
    }

    #[test]
    fn cooperative_two_rounds_when_a_member_joins() {
        let t = topics(&[("t", 6)]);
        let mut s = subs(&[("c1", &["t"]), ("c2", &["t"])]);
        let r0 = CooperativeStickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &r0, true);
        assert_eq!(r0["c1"].len(), 3);

        // c3 joins: round 1 only revokes; nothing moves straight from one owner to another.
        with_owned(&mut s, &r0, 1);
        s.insert("c3".into(), Subscription::new(["t"]));
        let r1 = CooperativeStickyAssignor.assign(&t, &s);
        assert_eq!(r1["c1"].len(), 2);
        assert_eq!(r1["c2"].len(), 2);
        assert_eq!(r1["c3"], vec![]);
        assert!(as_set(&r1["c1"]).is_subset(&as_set(&r0["c1"])));
        assert!(as_set(&r1["c2"]).is_subset(&as_set(&r0["c2"])));

        // Round 2 (after the revocation): the revoked partitions go to c3.
        with_owned(&mut s, &r1, 2);
        let r2 = CooperativeStickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &r2, true);
        assert_eq!(r2["c1"], r1["c1"]);
        assert_eq!(r2["c2"], r1["c2"]);
        assert_eq!(r2["c3"].len(), 2);
    }

    #[test]
    fn cooperative_general_path_revokes_before_moving() {
        let t = topics(&[("t1", 4), ("t2", 2)]);
        let mut s = subs(&[("c1", &["t1", "t2"]), ("c2", &["t1"])]);
        // c1 owned everything in the last generation.
        s.get_mut("c1").unwrap().owned_partitions = all_partitions_sorted(&t);
        s.get_mut("c1").unwrap().generation = Some(3);
        s.get_mut("c2").unwrap().generation = Some(3);
        let r1 = CooperativeStickyAssignor.assign(&t, &s);
        // c2 is not given anything c1 still owns.
        assert!(r1["c2"].is_empty(), "{r1:?}");
        assert!(as_set(&r1["c1"]).is_subset(&as_set(&s["c1"].owned_partitions)));
        with_owned(&mut s, &r1, 4);
        let r2 = CooperativeStickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &r2, true);
        assert_eq!(r2["c1"], r1["c1"]);
        assert_eq!(r2["c1"].len(), 3);
        assert_eq!(r2["c2"].len(), 3);
    }

    #[test]
    fn subscription_change_moves_only_what_must_move() {
        // c2 drops t2: its t2 partitions go to c1, nothing else moves.
        let t = topics(&[("t1", 2), ("t2", 2)]);
        let both: &[&str] = &["t1", "t2"];
        let mut s = subs(&[("c1", both), ("c2", both)]);
        let a = StickyAssignor.assign(&t, &s);
        s.get_mut("c2").unwrap().topics = vec!["t1".into()];
        with_user_data(&mut s, &a, 1);
        let b = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &b, true);
        // Before: c1 [t1-0, t2-0], c2 [t1-1, t2-1]. c2's t2-1 must go to c1, and balance (which comes before
        // stickiness) then moves t1-0 to c2; the partitions that could stay, stay.
        assert_eq!(a["c1"], vec![tp("t1", 0), tp("t2", 0)]);
        assert_eq!(a["c2"], vec![tp("t1", 1), tp("t2", 1)]);
        assert_eq!(as_set(&b["c1"]), as_set(&[tp("t2", 0), tp("t2", 1)]));
        assert_eq!(as_set(&b["c2"]), as_set(&[tp("t1", 0), tp("t1", 1)]));
    }

    /// AbstractStickyAssignorTest.testReassignmentWithRandomSubscriptionsAndChanges in spirit.
    #[test]
    fn random_subscriptions_and_changes_stay_valid_and_balanced() {
        let rng = SplitMix::with_seed(0x5eed);
        let r = |n: usize| (rng.next_u64() % n as u64) as usize;
        for round in 0..25 {
            let topic_count = 1 + r(5);
            let t: BTreeMap<String, i32> = (0..topic_count).map(|i| (format!("t{i}"), 1 + r(6) as i32)).collect();
            let names: Vec<String> = t.keys().cloned().collect();
            let random_sub = |r: &dyn Fn(usize) -> usize| {
                let mut topics: Vec<String> = names.iter().filter(|_| r(2) == 0).cloned().collect();
                if topics.is_empty() {
                    topics.push(names[r(names.len())].clone());
                }
                Subscription::new(topics)
            };
            let mut s: BTreeMap<String, Subscription> =
                (0..2 + r(5)).map(|i| (format!("m{i:02}"), random_sub(&r))).collect();
            for assignor in [&StickyAssignor as &dyn PartitionAssignor, &CooperativeStickyAssignor] {
                let mut s = s.clone();
                let mut prev = assignor.assign(&t, &s);
                verify_validity_and_balance(&t, &s, &prev, true);
                for change in 0..3 {
                    // Change a few subscriptions, drop or add a member.
                    match r(3) {
                        0 if s.len() > 1 => {
                            let k = s.keys().nth(r(s.len())).unwrap().clone();
                            s.remove(&k);
                        }
                        1 => {
                            s.insert(format!("n{round}-{change}"), random_sub(&r));
                        }
                        _ => {
                            let k = s.keys().nth(r(s.len())).unwrap().clone();
                            s.insert(k, random_sub(&r));
                        }
                    }
                    let generation = change + 1;
                    if assignor.protocol_kind() == RebalanceProtocol::Eager {
                        with_user_data(&mut s, &prev, generation);
                        prev = assignor.assign(&t, &s);
                    } else {
                        // Cooperative: two rounds; the first never moves a partition between two members.
                        for m in s.values_mut() {
                            m.owned_partitions.clear();
                        }
                        with_owned(&mut s, &prev, generation);
                        let first = assignor.assign(&t, &s);
                        for (m, parts) in &first {
                            for p in parts {
                                let owner = s.iter().find(|(_, sub)| sub.owned_partitions.contains(p)).map(|(o, _)| o);
                                assert!(owner.is_none() || owner == Some(m), "{p:?} moves from {owner:?} to {m}");
                            }
                        }
                        for m in s.values_mut() {
                            m.owned_partitions.clear();
                        }
                        with_owned(&mut s, &first, generation + 10);
                        prev = assignor.assign(&t, &s);
                    }
                    verify_validity_and_balance(&t, &s, &prev, true);
                }
            }
            s.clear();
        }
    }

    #[test]
    fn larger_unequal_subscriptions_are_balanced() {
        let rng = SplitMix::with_seed(42);
        let t: BTreeMap<String, i32> = (0..6).map(|i| (format!("t{i}"), 20)).collect();
        let names: Vec<String> = t.keys().cloned().collect();
        let mut s: BTreeMap<String, Subscription> = (0..15)
            .map(|i| {
                let topics: Vec<String> = names.iter().filter(|_| rng.next_u64() & 1 == 0).cloned().collect();
                let topics = if topics.is_empty() { vec![names[i % 6].clone()] } else { topics };
                (format!("m{i:02}"), Subscription::new(topics))
            })
            .collect();
        let a = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &a, true);
        s.remove("m03");
        s.remove("m07");
        with_user_data(&mut s, &a, 1);
        let b = StickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &b, true);
        // Most partitions stay where they were.
        let kept: usize = b.iter().map(|(m, p)| as_set(p).intersection(&as_set(&a[m])).count()).sum();
        let removed = a["m03"].len() + a["m07"].len();
        assert!(kept * 10 >= (120 - removed) * 7, "kept only {kept} of {}", 120 - removed);
    }

    #[test]
    fn large_equal_subscriptions_are_balanced() {
        let t: BTreeMap<String, i32> = (0..10).map(|i| (format!("topic-{i}"), 17)).collect();
        let topics: Vec<String> = t.keys().cloned().collect();
        let mut s: BTreeMap<String, Subscription> =
            (0..13).map(|i| (format!("member-{i}"), Subscription::new(topics.clone()))).collect();
        let a = CooperativeStickyAssignor.assign(&t, &s);
        verify_validity_and_balance(&t, &s, &a, true);
        let counts: BTreeSet<usize> = a.values().map(Vec::len).collect();
        assert_eq!(counts, [13usize, 14].into_iter().collect());
        with_owned(&mut s, &a, 1);
        // Same group again: nothing changes.
        assert_eq!(CooperativeStickyAssignor.assign(&t, &s), a);
    }
}
