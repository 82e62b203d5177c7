//! Position validation after a leader change (KIP-320), after Kafka's `SubscriptionState`.
//!
//! Each partition remembers the leader epoch of the last batch it fetched (`PartState::fetch_epoch`) and the
//! partition leader's epoch it fetched under (`PartState::leader_epoch`). When metadata shows a new leader epoch,
//! the new leader may hold a different history above some offset (a replica that was behind became leader, or
//! an unclean election): before fetching again, the consumer asks the leader with OffsetForLeaderEpoch where
//! the fetched epoch ends in its log. An end below the fetch position means the log was truncated: the consumer
//! goes back to that end (the first offset known to diverge), or, with `auto.offset.reset=none`, reports it.
//! An epoch the leader does not know at all means nothing can be trusted: `auto.offset.reset` applies.
//!
//! This module is the pure part (what a metadata change or an answer does to a partition's state); the fetcher
//! sends the requests. Brokers that do not serve OffsetForLeaderEpoch skip validation, as in Kafka.

use super::{PartState, Pos};

/// What an OffsetForLeaderEpoch answer means for the position it checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checked {
    /// The leader's log has the position's history: fetch on.
    Valid,
    /// The leader's log diverges from the fetched one at `offset` (it ends there for the fetched epoch).
    Truncated { offset: i64, epoch: i32 },
    /// The leader knows nothing of the fetched epoch: only `auto.offset.reset` can give a position.
    Unknown,
}

/// Notes the partition leader's epoch from metadata (None: unknown); a change of epoch under a position whose
/// epoch is known puts the partition in validation.
pub(crate) fn observe_leader(ps: &mut PartState, leader_epoch: Option<i32>) {
    let Some(epoch) = leader_epoch else { return };
    if ps.leader_epoch == Some(epoch) {
        return;
    }
    if ps.leader_epoch.is_some_and(|known| known > epoch) {
        // Metadata never goes back (client::cluster), but a seek may have left a newer epoch here.
        return;
    }
    if matches!(ps.pos, Pos::At(_)) && ps.fetch_epoch.is_some() {
        ps.validating = true;
    }
    ps.leader_epoch = Some(epoch);
}

/// Compares the leader's end of the fetched epoch with the position's fetch offset.
pub(crate) fn check(fetch_offset: i64, end_offset: i64, end_epoch: i32) -> Checked {
    if end_offset < 0 || end_epoch < 0 {
        Checked::Unknown
    } else if end_offset < fetch_offset {
        Checked::Truncated { offset: end_offset, epoch: end_epoch }
    } else {
        Checked::Valid
    }
}

/// What the consumer does with a check's outcome: Ok(()) when it moved on by itself, Err(()) when the
/// application must be told (`auto.offset.reset=none` and a truncation or unknown epoch).
pub(crate) fn apply(ps: &mut PartState, checked: Checked, reset_none: bool) -> Result<(), ()> {
    ps.validating = false;
    match checked {
        Checked::Valid => Ok(()),
        Checked::Truncated { .. } | Checked::Unknown if reset_none => {
            ps.restart(Pos::Reset(None));
            Err(())
        }
        Checked::Truncated { offset, epoch } => {
            match ps.pos {
                // Fetched records below the divergence are the leader's too: only those above it go.
                Pos::At(pos) if pos <= offset => ps.truncate_fetched(offset),
                // Records already handed out are gone from the leader's log: read its history from there.
                _ => {
                    ps.restart(Pos::At(offset));
                    ps.pos_epoch = Some(epoch);
                }
            }
            ps.fetch_epoch = Some(epoch);
            Ok(())
        }
        Checked::Unknown => {
            ps.restart(Pos::Reset(None));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(offset: i64, fetch_epoch: i32, leader_epoch: i32) -> PartState {
        let mut ps = PartState::new();
        ps.pos = Pos::At(offset);
        ps.fetch_epoch = Some(fetch_epoch);
        ps.leader_epoch = Some(leader_epoch);
        ps
    }

    #[test]
    fn a_new_leader_epoch_puts_a_fetched_position_in_validation() {
        let mut ps = fetched(10, 3, 3);
        observe_leader(&mut ps, Some(3));
        assert!(!ps.validating, "same epoch");
        observe_leader(&mut ps, None);
        assert!(!ps.validating, "epoch unknown");
        observe_leader(&mut ps, Some(2));
        assert!(!ps.validating, "an older epoch");
        observe_leader(&mut ps, Some(4));
        assert!(ps.validating);
        assert_eq!(ps.leader_epoch, Some(4));
        // A position nothing was fetched under (just assigned, or after a seek) has nothing to validate.
        let mut fresh = PartState::new();
        fresh.pos = Pos::At(0);
        observe_leader(&mut fresh, Some(7));
        assert!(!fresh.validating);
        assert_eq!(fresh.leader_epoch, Some(7));
    }

    #[test]
    fn answers_keep_truncate_or_reset_the_position() {
        assert_eq!(check(10, 12, 3), Checked::Valid);
        assert_eq!(check(10, 10, 3), Checked::Valid);
        assert_eq!(check(10, 8, 3), Checked::Truncated { offset: 8, epoch: 3 });
        assert_eq!(check(10, -1, -1), Checked::Unknown);

        let mut ps = fetched(10, 3, 4);
        ps.validating = true;
        assert_eq!(apply(&mut ps, Checked::Truncated { offset: 8, epoch: 3 }, false), Ok(()));
        assert_eq!(ps.pos, Pos::At(8));
        assert_eq!((ps.fetch_epoch, ps.pos_epoch), (Some(3), Some(3)));
        assert!(!ps.validating);

        // Handed out up to 6, fetched up to 10, the leader's log diverges at 8: records 6 and 7 stay.
        let mut ps = fetched(6, 3, 4);
        let tp = ("t".to_string(), 0);
        let rec = |o: i64| super::super::ConsumerRecord {
            topic: tp.0.clone(),
            partition: 0,
            offset: o,
            timestamp: 0,
            timestamp_type: crate::record::TimestampType::CreateTime,
            key: None,
            value: None,
            headers: Vec::new(),
        };
        ps.push((6..10).map(rec).collect(), vec![3; 4], 10);
        assert_eq!(apply(&mut ps, Checked::Truncated { offset: 8, epoch: 3 }, false), Ok(()));
        assert_eq!(ps.pos, Pos::At(6));
        assert_eq!(ps.buf.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![6, 7]);
        assert_eq!(ps.buf_epochs, [3, 3]);
        assert_eq!(ps.fetch_offset(), Some(8));
        assert_eq!(ps.buffered, 2 * 64);

        let mut ps = fetched(10, 3, 4);
        assert_eq!(apply(&mut ps, Checked::Unknown, false), Ok(()));
        assert_eq!(ps.pos, Pos::Reset(None), "auto.offset.reset applies");

        let mut ps = fetched(10, 3, 4);
        assert_eq!(apply(&mut ps, Checked::Truncated { offset: 8, epoch: 3 }, true), Err(()));
        assert_eq!(ps.pos, Pos::Reset(None));

        let mut ps = fetched(10, 3, 4);
        assert_eq!(apply(&mut ps, Checked::Valid, true), Ok(()));
        assert_eq!(ps.pos, Pos::At(10));
    }
}
