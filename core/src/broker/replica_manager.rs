//! The replica manager: turns the controller's decisions ([`PartitionChange`]s, replayed from the metadata log in
//! log order) into local replicas, as Kafka's `ReplicaManager.applyDelta` does, and carries a leader's ISR
//! proposals to the controller.
//!
//! For each change, in order:
//! 1. This broker is not (or no longer) a replica, or the partition was `Removed`: stop fetching it, stop serving
//!    it (parked requests are woken and answer UNKNOWN_TOPIC_OR_PARTITION), delete its log.
//! 2. A state that is not newer than what the replica has (leader epoch, then partition epoch) is ignored, so a
//!    replayed or reordered decision cannot take a replica back in time.
//! 3. Leader here: open (or create) the log, stop fetching, become leader at the new epoch (the leader-epoch
//!    cache gets the epoch at the log end; follower progress resets). In the same leader epoch, only the ISR
//!    and replicas are updated (an AlterPartition the controller committed).
//! 4. Leader elsewhere: become follower and point the fetcher at the leader. Truncation is the fetcher's job: its
//!    first Fetch carries LastFetchedEpoch and the leader answers with the diverging epoch (KIP-320/KIP-101).
//!
//! ISR proposals go to the controller through the broker's [`ControllerChannel`]; the ISR changes only when the
//! answer (or a later change from the replay) says so. Until then the leader keeps the maximal ISR for its HW.

use std::sync::Arc;

use crate::metadata::cluster::{IsrProposal, PartitionChange, PartitionState, NO_LEADER};

use super::partition::{IsrChange, Partition};
use super::state::{now_ms, BrokerState};

impl BrokerState {
    /// Applies partition changes in metadata-log order (see the module doc). Errors opening a log are logged and
    /// leave that partition offline on this broker; the others proceed.
    pub fn apply_partition_changes(&self, changes: Vec<PartitionChange>) {
        for change in changes {
            match change {
                PartitionChange::Removed { topic, partition } => self.remove_replica(&topic, partition),
                PartitionChange::Upsert { topic, topic_id, partition, state, leader_endpoint } => {
                    let local = self.node_id;
                    if !state.replicas.contains(&local) && !state.adding_replicas.contains(&local) {
                        self.remove_replica(&topic, partition);
                        continue;
                    }
                    let existing = self.partition(&topic, partition);
                    let replica = match &existing {
                        Some(p) if !p.is_newer(&state) => {
                            // Same epochs: only a follower's leader endpoint can have changed.
                            if state.leader != local && state.leader != NO_LEADER {
                                if let Some(ep) = leader_endpoint {
                                    self.fetchers.add_partition(ep, p.clone(), state.leader_epoch);
                                }
                            }
                            continue;
                        }
                        Some(p) => p.clone(),
                        None => match self.open_replica(&topic, topic_id, partition) {
                            Ok(p) => p,
                            Err(e) => {
                                tracing::error!(topic, partition, error = %e, "cannot open the partition's log");
                                continue;
                            }
                        },
                    };
                    if state.leader == local {
                        self.fetchers.remove_partition(&topic, partition);
                        match replica.make_leader(&state, now_ms()) {
                            Ok(Some(change)) => self.propose_isr(&replica, change),
                            Ok(None) => {}
                            Err(e) => tracing::error!(topic, partition, error = %e, "cannot become leader"),
                        }
                    } else {
                        replica.make_follower(&state);
                        // An ISR change in the same leader epoch keeps the fetcher as it is (add is a no-op then).
                        match leader_endpoint {
                            Some(ep) if state.leader != NO_LEADER => self.fetchers.add_partition(ep, replica.clone(), state.leader_epoch),
                            _ => {
                                self.fetchers.remove_partition(&topic, partition);
                                tracing::info!(topic, partition, leader = state.leader, "no leader to fetch from");
                            }
                        }
                    }
                    if existing.is_none() {
                        self.insert_partition(replica);
                    }
                }
            }
        }
    }

    /// Opens (creating when missing) the log of a partition this broker replicates, with its topic's configs.
    fn open_replica(&self, topic: &str, topic_id: uuid::Uuid, partition: i32) -> std::io::Result<Arc<Partition>> {
        let topic_props = self.metadata().image().topics.get(topic).map(|t| t.configs.clone()).unwrap_or_default();
        let config = self.log_config(&topic_props).unwrap_or_else(|e| {
            tracing::warn!(topic, error = %e, "invalid topic configs; using the broker defaults");
            self.config.log_defaults.clone()
        });
        let log = match self.logs.get(topic, partition) {
            Some(log) => log,
            None => self.logs.create_partition(topic, partition, config.clone())?,
        };
        let hw = self.checkpointed_hws.lock().unwrap_or_else(|e| e.into_inner()).remove(&(topic.to_string(), partition));
        Ok(Arc::new(Partition::new(
            topic,
            partition,
            topic_id,
            self.node_id,
            log,
            config,
            super::topics::fsync_on_ack(self, &topic_props),
            hw,
            self.config.replication.lag_time_max_ms,
        )))
    }

    fn remove_replica(&self, topic: &str, partition: i32) {
        self.fetchers.remove_partition(topic, partition);
        if let Some(p) = self.take_partition(topic, partition) {
            // Parked fetches answer UNKNOWN_TOPIC_OR_PARTITION now instead of waiting out their timeout.
            p.wake_waiters();
        }
        if let Err(e) = self.logs.delete_partition(topic, partition) {
            tracing::warn!(topic, partition, error = %e, "could not delete the partition's directory");
        }
    }

    /// Sends a leader's ISR proposal to the controller; applies the answer, or lets the leader propose again on
    /// failure. Without a controller (a single broker, where the ISR never changes) nothing can be proposed.
    pub(crate) fn propose_isr(&self, partition: &Arc<Partition>, change: IsrChange) {
        let controller = self.controller.read().unwrap_or_else(|e| e.into_inner()).clone();
        let (Some(controller), Some(runtime)) = (controller, self.runtime.get()) else {
            tracing::warn!(topic = %partition.topic, partition = partition.index, "no controller to propose an ISR change to");
            partition.proposal_failed();
            return;
        };
        let proposal = IsrProposal {
            topic_id: partition.topic_id,
            topic: partition.topic.clone(),
            partition: partition.index,
            leader: self.node_id,
            leader_epoch: change.leader_epoch,
            partition_epoch: change.partition_epoch,
            new_isr: change.new_isr,
        };
        tracing::info!(topic = %proposal.topic, partition = proposal.partition, isr = ?proposal.new_isr, "proposing ISR change");
        let partition = partition.clone();
        let local = self.node_id;
        runtime.spawn(async move {
            match controller.alter_partition(proposal).await {
                Ok(state) if state.leader == local => apply_answer(&partition, &state),
                // Leadership moved meanwhile: the replay brings that change.
                Ok(_) => partition.proposal_failed(),
                Err(code) => {
                    tracing::info!(topic = %partition.topic, partition = partition.index, error = ?code, "ISR change refused");
                    partition.proposal_failed();
                }
            }
        });
    }
}

/// The controller's answer, for the leader epoch the proposal was made in; ignored when stale.
fn apply_answer(partition: &Arc<Partition>, state: &PartitionState) {
    if state.leader_epoch != partition.leader_epoch() {
        partition.proposal_failed();
        return;
    }
    if let Err(e) = partition.make_leader(state, now_ms()) {
        tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "cannot apply the ISR change");
    }
}
