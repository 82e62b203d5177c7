//! The replica manager's side of the metadata contract: [`BrokerState::apply_partition_changes`] receives, in log
//! order, every partition whose state the metadata replay changed.
//!
//! MINIMAL VERSION, REPLACED AT MERGE by the replica manager of the replication work (leader/follower replicas,
//! ISR, HW, follower fetchers). This one makes the metadata side work end to end: a partition this broker leads
//! is opened (its log created when missing) and served; one it does not lead is not served (no follower fetching
//! here); a partition this broker is no longer a replica of, or of a deleted topic, loses its log.

use std::sync::Arc;

use crate::metadata::PartitionChange;

use super::partition::Partition;
use super::state::BrokerState;
use super::topics::fsync_on_ack;

impl BrokerState {
    pub(crate) fn apply_partition_changes(&self, changes: Vec<PartitionChange>) {
        for change in changes {
            match change {
                PartitionChange::Upsert { topic, partition, state, .. } => {
                    if state.leader == self.node_id {
                        if let Err(e) = self.serve_partition(&topic, partition) {
                            tracing::error!(topic, partition, error = %e, "cannot open a partition this broker leads");
                        }
                    } else {
                        self.stop_serving(&topic, partition);
                        if !state.replicas.contains(&self.node_id) {
                            self.delete_local_log(&topic, partition);
                        }
                    }
                }
                PartitionChange::Removed { topic, partition } => {
                    self.stop_serving(&topic, partition);
                    self.delete_local_log(&topic, partition);
                }
            }
        }
    }

    fn serve_partition(&self, topic: &str, partition: i32) -> std::io::Result<()> {
        if self.partition(topic, partition).is_some() {
            return Ok(());
        }
        let configs = self.metadata().image().topics.get(topic).map(|t| t.configs.clone()).unwrap_or_default();
        let log_config = self.log_config(&configs).unwrap_or_else(|_| self.config.log_defaults.clone());
        let log = match self.logs.get(topic, partition) {
            Some(log) => log,
            None => self.logs.create_partition(topic, partition, log_config.clone())?,
        };
        let p = Arc::new(Partition::new(topic, partition, log, log_config, fsync_on_ack(self, &configs)));
        let mut map = self.partitions.write().unwrap_or_else(|e| e.into_inner());
        map.entry(topic.to_string()).or_default().entry(partition).or_insert(p);
        Ok(())
    }

    fn stop_serving(&self, topic: &str, partition: i32) {
        let removed = {
            let mut map = self.partitions.write().unwrap_or_else(|e| e.into_inner());
            let removed = map.get_mut(topic).and_then(|ps| ps.remove(&partition));
            if map.get(topic).is_some_and(|ps| ps.is_empty()) {
                map.remove(topic);
            }
            removed
        };
        // Wake parked fetches so they answer now instead of waiting out their timeout.
        if let Some(p) = removed {
            p.wake_waiters();
        }
    }

    fn delete_local_log(&self, topic: &str, partition: i32) {
        if self.logs.get(topic, partition).is_none() {
            return;
        }
        if let Err(e) = self.logs.delete_partition(topic, partition) {
            // The metadata no longer lists it here; the directory is removed on the next start.
            tracing::warn!(topic, partition, error = %e, "could not delete partition directory");
        }
    }
}
