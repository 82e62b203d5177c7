//! The leader's ISR and high-watermark rules as a pure state machine: no I/O, no clock, no locks. The caller
//! (`partition.rs`) feeds it what happened — a follower fetched, the leader's own log became durable up to an
//! offset, time passed, the controller answered — with the current time, and acts on the [`Effect`]s it returns.
//!
//! The rules are Kafka's (`Partition.scala`), with this project's stronger durability:
//!
//! - **High watermark** = the smallest *durable* log end offset among the members of the maximal ISR (the
//!   leader's own fsynced offset, and each follower's fetch offset, which a follower only reports once it has
//!   fsynced everything below it). It never moves back, and never passes the leader's durable end.
//! - **Maximal ISR**: while an ISR change is proposed to the controller and not yet answered, the HW is computed
//!   over the union of the committed ISR and the proposal, as Kafka's `PendingExpandIsr`/`PendingShrinkIsr` do:
//!   an expansion counts the joining follower at once (so the HW cannot get ahead of it), a shrink keeps
//!   counting the leaving one until the controller agrees (so the HW does not advance on an ISR the
//!   controller has not accepted). One proposal at a time; the next is considered after the answer.
//! - **Shrink**: an ISR follower whose log end differs from the leader's and that has not been caught up for
//!   `replica.lag.time.max.ms` is proposed out. "Caught up" at a fetch means the fetch offset reached the
//!   leader's log end at that fetch, or the log end the leader had at the follower's previous fetch (Kafka's
//!   `lastCaughtUpTimeMs` rule, so a follower that keeps up with a busy leader is never "behind").
//! - **Expand**: a replica outside the ISR is proposed in once its log end reaches the HW and the start of the
//!   current leader epoch (it has everything this leader wrote in its own term below the HW).
//! - **min.insync.replicas** is never enforced by refusing a shrink (Kafka shrinks and then refuses acks=all
//!   produces); a shrink below it is flagged in the effect so the caller can say so loudly.

use std::collections::BTreeMap;

use crate::metadata::cluster::PartitionState;

/// What the caller must do after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this ISR to the controller (AlterPartition), based on `partition_epoch`.
    ProposeIsr { new_isr: Vec<i32>, leader_epoch: i32, partition_epoch: i32, below_min_isr: bool },
    /// The high watermark moved to this offset: wake acks=all waiters and consumer fetches.
    HighWatermark(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Follower {
    /// Durable log end the follower last reported (its fetch offset); -1 until its first fetch in this term.
    log_end: i64,
    last_caught_up_ms: i64,
    /// The leader's log end at the follower's previous fetch, and when that fetch came.
    last_fetch_leader_end: i64,
    last_fetch_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderState {
    local: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    /// The ISR proposed to the controller and not yet answered.
    pending: Option<Vec<i32>>,
    /// Log end when this replica became leader: where its own term starts.
    epoch_start_offset: i64,
    high_watermark: i64,
    local_durable_end: i64,
    followers: BTreeMap<i32, Follower>,
    lag_time_max_ms: i64,
    min_isr: usize,
}

impl LeaderState {
    #[allow(clippy::too_many_arguments)]
    /// A replica becoming leader (Kafka's `makeLeader`): every follower's progress is unknown until it
    /// fetches; ISR members count as caught up now (they get a full lag period to show up), others never were.
    pub fn new(
        local: i32,
        state: &PartitionState,
        log_end: i64,
        durable_end: i64,
        high_watermark: i64,
        now_ms: i64,
        lag_time_max_ms: i64,
        min_isr: usize,
    ) -> Self {
        let followers = state
            .replicas
            .iter()
            .chain(&state.adding_replicas)
            .filter(|r| **r != local)
            .map(|r| {
                let caught_up = if state.isr.contains(r) { now_ms } else { 0 };
                (*r, Follower { log_end: -1, last_caught_up_ms: caught_up, last_fetch_leader_end: -1, last_fetch_ms: 0 })
            })
            .collect();
        LeaderState {
            local,
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            replicas: state.replicas.clone(),
            isr: state.isr.clone(),
            pending: None,
            epoch_start_offset: log_end,
            high_watermark: high_watermark.min(log_end),
            local_durable_end: durable_end,
            followers,
            lag_time_max_ms,
            min_isr,
        }
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }
    pub fn partition_epoch(&self) -> i32 {
        self.partition_epoch
    }
    pub fn isr(&self) -> &[i32] {
        &self.isr
    }
    pub fn replicas(&self) -> &[i32] {
        &self.replicas
    }
    pub fn proposal_in_flight(&self) -> bool {
        self.pending.is_some()
    }

    /// The ISR the HW is computed over: committed plus proposed.
    pub fn maximal_isr(&self) -> Vec<i32> {
        let mut m = self.isr.clone();
        for r in self.pending.iter().flatten() {
            if !m.contains(r) {
                m.push(*r);
            }
        }
        m
    }

    pub fn set_min_isr(&mut self, min_isr: usize) {
        self.min_isr = min_isr;
    }

    /// The leader's own log is durable (or, for a topic that relaxed fsync, written) up to `durable_end`.
    pub fn local_durable(&mut self, durable_end: i64) -> Vec<Effect> {
        self.local_durable_end = self.local_durable_end.max(durable_end);
        self.advance_hw().into_iter().collect()
    }

    /// A follower fetched from `fetch_offset` while the leader's log ended at `leader_end`. Its fetch offset is
    /// its durable log end. May advance the HW and propose the follower into the ISR.
    pub fn follower_fetched(&mut self, id: i32, fetch_offset: i64, leader_end: i64, now_ms: i64) -> Vec<Effect> {
        let Some(f) = self.followers.get_mut(&id) else { return Vec::new() };
        if fetch_offset >= leader_end {
            f.last_caught_up_ms = f.last_caught_up_ms.max(now_ms);
        } else if fetch_offset >= f.last_fetch_leader_end {
            f.last_caught_up_ms = f.last_caught_up_ms.max(f.last_fetch_ms);
        }
        f.log_end = fetch_offset;
        f.last_fetch_leader_end = leader_end;
        f.last_fetch_ms = now_ms;
        let mut effects = Vec::new();
        if self.pending.is_none() && !self.isr.contains(&id) && self.replicas.contains(&id) {
            let reached = fetch_offset >= self.high_watermark && fetch_offset >= self.epoch_start_offset;
            if reached {
                let mut new_isr = self.isr.clone();
                new_isr.push(id);
                effects.push(self.propose(new_isr));
            }
        }
        effects.extend(self.advance_hw());
        effects
    }

    /// The periodic ISR check (Kafka runs it every `replica.lag.time.max.ms / 2`): proposes out the followers
    /// that lag. `leader_end` is the leader's current log end.
    pub fn check_lag(&mut self, leader_end: i64, now_ms: i64) -> Vec<Effect> {
        if self.pending.is_some() {
            return Vec::new();
        }
        let out: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|r| *r != self.local)
            .filter(|r| match self.followers.get(r) {
                Some(f) => f.log_end != leader_end && now_ms.saturating_sub(f.last_caught_up_ms) > self.lag_time_max_ms,
                None => false,
            })
            .collect();
        if out.is_empty() {
            return Vec::new();
        }
        let new_isr: Vec<i32> = self.isr.iter().copied().filter(|r| !out.contains(r)).collect();
        vec![self.propose(new_isr)]
    }

    fn propose(&mut self, new_isr: Vec<i32>) -> Effect {
        self.pending = Some(new_isr.clone());
        Effect::ProposeIsr {
            below_min_isr: new_isr.len() < self.min_isr,
            new_isr,
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
        }
    }

    /// The controller's decision for this partition in the same leader epoch (its answer to a proposal, or a
    /// later metadata change). A state from another leader epoch is not for this leader: the caller rebuilds.
    /// Stale states (an older partition epoch) are ignored.
    pub fn apply_committed(&mut self, state: &PartitionState) -> Vec<Effect> {
        if state.leader_epoch != self.leader_epoch || state.partition_epoch < self.partition_epoch {
            return Vec::new();
        }
        if state.partition_epoch == self.partition_epoch && self.pending.is_none() {
            return Vec::new();
        }
        self.partition_epoch = state.partition_epoch;
        self.isr = state.isr.clone();
        self.replicas = state.replicas.clone();
        self.pending = None;
        for r in state.replicas.iter().chain(&state.adding_replicas).filter(|r| **r != self.local) {
            self.followers.entry(*r).or_insert(Follower { log_end: -1, last_caught_up_ms: 0, last_fetch_leader_end: -1, last_fetch_ms: 0 });
        }
        self.followers.retain(|r, _| state.replicas.contains(r) || state.adding_replicas.contains(r));
        self.advance_hw().into_iter().collect()
    }

    /// The controller refused or could not be reached: drop the proposal so the next check proposes anew from
    /// the committed ISR (an INVALID_UPDATE_VERSION is followed by the metadata change that explains it).
    pub fn proposal_failed(&mut self) {
        self.pending = None;
    }

    fn advance_hw(&mut self) -> Option<Effect> {
        let mut hw = self.local_durable_end;
        for r in self.maximal_isr() {
            if r == self.local {
                continue;
            }
            match self.followers.get(&r) {
                Some(f) => hw = hw.min(f.log_end),
                // An ISR member we know nothing about holds the HW where it is.
                None => hw = hw.min(self.high_watermark),
            }
        }
        if hw > self.high_watermark {
            self.high_watermark = hw;
            Some(Effect::HighWatermark(hw))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAG: i64 = 10_000;

    fn state(isr: &[i32], leader_epoch: i32, partition_epoch: i32) -> PartitionState {
        PartitionState {
            replicas: vec![1, 2, 3],
            isr: isr.to_vec(),
            leader: 1,
            leader_epoch,
            partition_epoch,
            adding_replicas: vec![],
            removing_replicas: vec![],
        }
    }

    fn hw_of(effects: &[Effect]) -> Option<i64> {
        effects.iter().find_map(|e| match e {
            Effect::HighWatermark(h) => Some(*h),
            _ => None,
        })
    }

    fn proposal(effects: &[Effect]) -> Option<(Vec<i32>, bool)> {
        effects.iter().find_map(|e| match e {
            Effect::ProposeIsr { new_isr, below_min_isr, .. } => Some((new_isr.clone(), *below_min_isr)),
            _ => None,
        })
    }

    #[test]
    fn hw_is_the_smallest_durable_end_in_the_isr_and_never_goes_back() {
        let mut l = LeaderState::new(1, &state(&[1, 2, 3], 1, 1), 0, 0, 0, 0, LAG, 2);
        assert_eq!(l.local_durable(10), vec![], "followers have not fetched yet");
        assert_eq!(hw_of(&l.follower_fetched(2, 10, 10, 5)), None, "follower 3 still unknown");
        assert_eq!(hw_of(&l.follower_fetched(3, 7, 10, 5)), Some(7));
        assert_eq!(hw_of(&l.follower_fetched(3, 10, 10, 6)), Some(10));
        // The leader's own durability bounds it too.
        assert_eq!(l.follower_fetched(2, 15, 20, 7), vec![]);
        assert_eq!(l.follower_fetched(3, 15, 20, 7), vec![]);
        assert_eq!(hw_of(&l.local_durable(20)), Some(15));
        // A follower that truncated and reports less never pulls the HW back.
        assert_eq!(l.follower_fetched(3, 12, 20, 8), vec![]);
        assert_eq!(l.high_watermark(), 15);
    }

    #[test]
    fn lagging_follower_is_proposed_out_after_the_lag_time_and_back_in_when_caught_up() {
        let mut l = LeaderState::new(1, &state(&[1, 2, 3], 1, 1), 0, 0, 0, 0, LAG, 2);
        l.local_durable(10);
        l.follower_fetched(2, 10, 10, 100);
        l.follower_fetched(3, 10, 10, 100);
        assert_eq!(l.high_watermark(), 10);
        // Follower 3 stops fetching; the leader grows; 2 keeps up.
        l.local_durable(50);
        l.follower_fetched(2, 50, 50, 5_000);
        assert_eq!(l.check_lag(50, 100 + LAG), vec![], "exactly at the lag time: still in");
        let effects = l.check_lag(50, 101 + LAG);
        assert_eq!(proposal(&effects), Some((vec![1, 2], false)));
        assert_eq!(l.maximal_isr(), vec![1, 2, 3], "3 still counts until the controller agrees");
        assert_eq!(l.check_lag(50, 200 + LAG), vec![], "one proposal at a time");
        assert_eq!(l.high_watermark(), 10);
        // The controller commits the shrink: the HW moves on without 3.
        assert_eq!(hw_of(&l.apply_committed(&state(&[1, 2], 1, 2))), Some(50));
        // 3 comes back below the HW: not yet; at the HW: proposed in, and counted at once.
        assert_eq!(proposal(&l.follower_fetched(3, 30, 50, 20_000)), None);
        let effects = l.follower_fetched(3, 50, 60, 20_001);
        assert_eq!(proposal(&effects), Some((vec![1, 2, 3], false)));
        l.local_durable(60);
        l.follower_fetched(2, 60, 60, 20_002);
        assert_eq!(l.high_watermark(), 50, "the joining follower holds the HW while pending");
        l.proposal_failed();
        assert!(!l.proposal_in_flight());
    }

    #[test]
    fn a_follower_keeping_up_with_a_busy_leader_stays_in_sync() {
        let mut l = LeaderState::new(1, &state(&[1, 2], 1, 1), 0, 0, 0, 0, LAG, 1);
        // Each fetch reaches the end the leader had at the previous fetch, never the current end.
        let mut t = 0;
        let mut leader_end = 100;
        let mut fetched = 0;
        while t < 5 * LAG {
            l.follower_fetched(2, fetched, leader_end, t);
            fetched = leader_end;
            leader_end += 100;
            t += 1_000;
            assert_eq!(l.check_lag(leader_end, t), vec![], "at {t}");
        }
    }

    #[test]
    fn shrinking_below_min_isr_is_flagged_and_stale_states_ignored() {
        let mut l = LeaderState::new(1, &state(&[1, 2], 3, 7), 0, 0, 0, 0, LAG, 2);
        let effects = l.check_lag(10, LAG + 1);
        assert_eq!(proposal(&effects), Some((vec![1], true)));
        assert_eq!(l.apply_committed(&state(&[1], 3, 6)), vec![], "older partition epoch");
        assert_eq!(l.apply_committed(&state(&[1], 2, 9)), vec![], "another leader epoch");
        assert!(l.proposal_in_flight());
        l.apply_committed(&state(&[1], 3, 8));
        assert_eq!(l.isr(), &[1]);
        assert_eq!(l.partition_epoch(), 8);
    }

    #[test]
    fn single_replica_hw_follows_local_durability() {
        let mut l = LeaderState::new(1, &PartitionState::single(1), 5, 5, 5, 0, LAG, 1);
        assert_eq!(l.local_durable(9), vec![Effect::HighWatermark(9)]);
        assert_eq!(l.check_lag(9, 1_000_000), vec![]);
    }

    /// A seeded random walk (deterministic: a fixed LCG, no clock) over fetches, local fsyncs, lag checks and
    /// controller answers, checking after every step: the HW never goes back, never passes the leader's durable
    /// end nor any maximal-ISR member's reported end, and the ISR always holds the leader.
    #[test]
    fn random_walk_keeps_the_hw_invariants() {
        for seed in 1..=20u64 {
            let mut rng = seed;
            let mut next = move |n: u64| {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (rng >> 33) % n
            };
            let mut l = LeaderState::new(1, &state(&[1, 2, 3], 1, 1), 0, 0, 0, 0, LAG, 2);
            let (mut now, mut leader_end, mut durable) = (0i64, 0i64, 0i64);
            let mut reported: BTreeMap<i32, i64> = BTreeMap::new();
            let mut committed = state(&[1, 2, 3], 1, 1);
            let mut last_hw = 0;
            for _ in 0..2_000 {
                now += next(500) as i64;
                match next(5) {
                    0 => leader_end += next(10) as i64,
                    1 => durable = (durable + next(10) as i64).min(leader_end),
                    2 => {
                        let f = 2 + next(2) as i32;
                        let prev = reported.get(&f).copied().unwrap_or(0);
                        let at = prev + next((leader_end - prev + 1) as u64) as i64;
                        reported.insert(f, at);
                        l.follower_fetched(f, at, leader_end, now);
                    }
                    3 => {
                        l.check_lag(leader_end, now);
                    }
                    _ => {
                        if let Some(p) = l.pending.clone() {
                            if next(3) == 0 {
                                l.proposal_failed();
                            } else {
                                committed.isr = p;
                                committed.partition_epoch += 1;
                                l.apply_committed(&committed);
                            }
                        }
                    }
                }
                l.local_durable(durable);
                let hw = l.high_watermark();
                assert!(hw >= last_hw, "seed {seed}: HW went back");
                assert!(hw <= durable, "seed {seed}: HW past the leader's durable end");
                for r in l.maximal_isr().iter().filter(|r| **r != 1) {
                    if hw > 0 {
                        assert!(hw <= reported.get(r).copied().unwrap_or(0), "seed {seed}: HW past ISR member {r}");
                    }
                }
                assert!(l.isr().contains(&1));
                last_hw = hw;
            }
        }
    }
}
