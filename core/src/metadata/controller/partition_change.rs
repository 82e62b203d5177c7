//! One partition's next state: Kafka's `PartitionChangeBuilder` (without reassignment completion and eligible
//! leader replicas, which Streamlet does not implement yet). Given the current state, a target ISR, which
//! brokers may lead and the kind of election, it returns the `PartitionChangeRecord` to write, or nothing when
//! nothing changes.

use uuid::Uuid;

use crate::metadata::cluster::{PartitionState, NO_LEADER};
use crate::metadata::records::{PartitionChangeRecord, LEADER_UNCHANGED};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Election {
    /// Move leadership to the first replica if it is eligible (Kafka's PREFERRED).
    Preferred,
    /// Keep a valid leader; otherwise the first eligible ISR member in replica order.
    Online,
    /// As Online, then any live replica even outside the ISR (data may be lost).
    Unclean,
}

pub struct PartitionChange<'a> {
    pub topic_id: Uuid,
    pub partition: i32,
    pub current: &'a PartitionState,
    pub target_isr: Vec<i32>,
    pub election: Election,
}

impl PartitionChange<'_> {
    /// `acceptable(r)`: r is alive and not shutting down (whether it is in the ISR is checked here).
    pub fn build(self, acceptable: impl Fn(i32) -> bool) -> Option<PartitionChangeRecord> {
        let cur = self.current;
        let mut target_isr = self.target_isr;
        let valid = |r: i32, isr: &[i32]| isr.contains(&r) && acceptable(r);
        let (leader, unclean) = elect(cur, &target_isr, self.election, &valid, &acceptable);
        let mut record = PartitionChangeRecord::unchanged(self.topic_id, self.partition);
        if leader != cur.leader {
            record.leader = leader;
            if unclean {
                // The new leader may lack acknowledged records: it alone is in sync with itself now, and it must
                // recover (Kafka's LeaderRecoveryState.RECOVERING) before the ISR grows again.
                target_isr = vec![leader];
                record.isr = Some(target_isr.clone());
                record.leader_recovery_state = 1;
            }
        }
        // An empty ISR is never written (without ELR): the last member stays, leaderless, so that it is the one
        // elected when it comes back and no acknowledged write is lost.
        if record.isr.is_none() && !target_isr.is_empty() && target_isr != cur.isr {
            record.isr = Some(target_isr);
        }
        let noop = record.isr.is_none()
            && record.leader == LEADER_UNCHANGED
            && record.replicas.is_none()
            && record.leader_recovery_state == -1;
        (!noop).then_some(record)
    }
}

fn elect(
    cur: &PartitionState,
    isr: &[i32],
    election: Election,
    valid: &impl Fn(i32, &[i32]) -> bool,
    acceptable: &impl Fn(i32) -> bool,
) -> (i32, bool) {
    if election == Election::Preferred {
        if let Some(&preferred) = cur.replicas.first() {
            if valid(preferred, isr) {
                return (preferred, false);
            }
        }
    }
    // Don't move a leader that still meets every constraint.
    if cur.leader != NO_LEADER && valid(cur.leader, isr) {
        return (cur.leader, false);
    }
    if let Some(&r) = cur.replicas.iter().find(|&&r| valid(r, isr)) {
        return (r, false);
    }
    if election == Election::Unclean {
        if let Some(&r) = cur.replicas.iter().find(|&&r| acceptable(r)) {
            return (r, true);
        }
    }
    (NO_LEADER, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(replicas: &[i32], isr: &[i32], leader: i32) -> PartitionState {
        PartitionState {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 3,
            partition_epoch: 5,
            adding_replicas: vec![],
            removing_replicas: vec![],
        }
    }

    fn change<'a>(cur: &'a PartitionState, isr: &[i32], election: Election) -> PartitionChange<'a> {
        PartitionChange { topic_id: Uuid::nil(), partition: 0, current: cur, target_isr: isr.to_vec(), election }
    }

    #[test]
    fn leader_is_first_live_isr_member_in_replica_order() {
        let cur = state(&[1, 2, 3], &[1, 2, 3], 1);
        // Broker 1 fenced and removed from the ISR: 2 comes before 3 in replica order.
        let r = change(&cur, &[3, 2], Election::Online).build(|b| b != 1).unwrap();
        assert_eq!((r.leader, r.isr), (2, Some(vec![3, 2])));
        // Nothing changes: no record.
        assert!(change(&cur, &[1, 2, 3], Election::Online).build(|_| true).is_none());
        // A valid leader stays even if it is not the first replica.
        let cur = state(&[1, 2, 3], &[1, 2, 3], 3);
        assert!(change(&cur, &[1, 2, 3], Election::Online).build(|_| true).is_none());
        // Preferred election moves it back.
        assert_eq!(change(&cur, &[1, 2, 3], Election::Preferred).build(|_| true).unwrap().leader, 1);
        assert!(change(&cur, &[2, 3], Election::Preferred).build(|_| true).is_some_and(|r| r.leader == LEADER_UNCHANGED));
    }

    #[test]
    fn last_isr_member_stays_and_unclean_only_when_enabled() {
        let cur = state(&[1, 2], &[1], 1);
        let r = change(&cur, &[], Election::Online).build(|b| b == 2).unwrap();
        assert_eq!((r.leader, r.isr), (NO_LEADER, None), "ISR kept as [1], no leader");
        let r = change(&cur, &[], Election::Unclean).build(|b| b == 2).unwrap();
        assert_eq!((r.leader, r.isr, r.leader_recovery_state), (2, Some(vec![2]), 1));
        // Leaderless partition whose ISR member comes back: elected again.
        let off = state(&[1, 2], &[1], NO_LEADER);
        assert_eq!(change(&off, &[1], Election::Online).build(|_| true).unwrap().leader, 1);
    }
}
