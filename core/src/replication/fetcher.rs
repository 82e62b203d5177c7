//! One fetcher task: the fetch loop for every partition this broker follows on one leader (see the module doc
//! of `replication` for the order of steps).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;
use tokio::time::Instant;

use super::connection::LeaderConnection;
use super::{FollowerReplica, Key, Shared, Target};
use crate::config::ReplicaSettings;
use crate::metadata::cluster::BrokerEndpoint;
use crate::protocol::ErrorCode;

/// How long a request may take beyond the fetch's own wait (Kafka's `replica.socket.timeout.ms`).
const SOCKET_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) struct Fetcher {
    local: i32,
    endpoint: BrokerEndpoint,
    settings: ReplicaSettings,
    shared: Arc<Shared>,
    conn: Option<LeaderConnection>,
}

/// Where a follower must cut its log given the leader's answer for `leader_epoch` (its end offset
/// `leader_end`), Kafka's `getOffsetTruncationState`. Returns the offset to truncate to; the follower then
/// fetches from there and the leader checks its new last epoch again, so a divergence that spans several
/// epochs is resolved in as many rounds.
pub fn truncation_offset(replica: &dyn FollowerReplica, leader_epoch: i32, leader_end: i64) -> i64 {
    let (_, log_end, _) = replica.fetch_position();
    if leader_end < 0 {
        // The leader knows no epoch this old (or none at all): keep only what is known committed.
        return replica.high_watermark().min(log_end);
    }
    if leader_epoch < 0 {
        return leader_end.min(log_end);
    }
    let (local_epoch, local_end) = replica.end_offset_for_epoch(leader_epoch);
    if local_epoch < 0 {
        // Everything we have is from epochs the leader's answer postdates.
        return leader_end.min(log_end);
    }
    if local_epoch == leader_epoch {
        leader_end.min(local_end).min(log_end)
    } else {
        // Our largest epoch <= the leader's is an older one: cut at its end (or the leader's), then ask again.
        local_end.min(leader_end).min(log_end)
    }
}

impl Fetcher {
    pub(super) fn new(local: i32, endpoint: BrokerEndpoint, settings: ReplicaSettings, shared: Arc<Shared>) -> Self {
        Fetcher { local, endpoint, settings, shared, conn: None }
    }

    fn stopped(&self, shutdown: &watch::Receiver<bool>) -> bool {
        self.shared.stopped.load(Ordering::Acquire) || *shutdown.borrow()
    }

    pub(super) async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(leader = self.endpoint.node_id, host = %self.endpoint.host, port = self.endpoint.port, "fetcher started");
        let backoff = Duration::from_millis(self.settings.fetch_backoff_ms);
        while !self.stopped(&shutdown) {
            let (targets, next_ready) = self.ready_targets();
            if targets.is_empty() {
                let wait = next_ready.unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
                tokio::select! {
                    _ = self.shared.changed.notified() => {}
                    _ = tokio::time::sleep_until(wait) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let request = self.build_request(&targets);
            let result = tokio::select! {
                r = self.exchange(&request) => r,
                _ = shutdown.changed() => break,
            };
            match result {
                Ok(resp) => {
                    let appended = self.process(&targets, resp.responses.into_iter().flat_map(|t| {
                        let name = t.topic.0.to_string();
                        t.partitions.into_iter().map(move |p| (name.clone(), p))
                    }));
                    // Durable before the next request reports the new log ends to the leader: a failed fsync is
                    // retried, never skipped.
                    for replica in appended {
                        while let Err(e) = replica.make_durable().await {
                            tracing::error!(topic = replica.topic(), partition = replica.partition(), error = %e, "fsync of replicated data failed; retrying");
                            tokio::select! {
                                _ = tokio::time::sleep(backoff) => {}
                                _ = shutdown.changed() => return,
                            }
                            if self.stopped(&shutdown) {
                                return;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(leader = self.endpoint.node_id, error = %e, "fetch failed; backing off");
                    self.conn = None;
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
        tracing::info!(leader = self.endpoint.node_id, "fetcher stopped");
    }

    /// The partitions to fetch now, and when the earliest delayed one is due.
    fn ready_targets(&self) -> (HashMap<Key, Target>, Option<Instant>) {
        let now = Instant::now();
        let parts = self.shared.partitions();
        let next = parts.values().filter_map(|t| t.delayed_until).filter(|d| *d > now).min();
        let ready = parts.iter().filter(|(_, t)| t.delayed_until.is_none_or(|d| d <= now)).map(|(k, t)| (k.clone(), t.clone())).collect();
        (ready, next)
    }

    fn build_request(&self, targets: &HashMap<Key, Target>) -> FetchRequest {
        let mut by_topic: HashMap<&str, Vec<FetchPartition>> = HashMap::new();
        for ((topic, partition), t) in targets {
            let (log_start, log_end, last_epoch) = t.replica.fetch_position();
            by_topic.entry(topic.as_str()).or_default().push(
                FetchPartition::default()
                    .with_partition(*partition)
                    .with_current_leader_epoch(t.leader_epoch)
                    .with_fetch_offset(log_end)
                    .with_last_fetched_epoch(last_epoch)
                    .with_log_start_offset(log_start)
                    .with_partition_max_bytes(self.settings.fetch_max_bytes),
            );
        }
        let topics = by_topic
            .into_iter()
            .map(|(name, partitions)| FetchTopic::default().with_topic(TopicName(StrBytes::from_string(name.to_string()))).with_partitions(partitions))
            .collect();
        FetchRequest::default()
            .with_replica_id(BrokerId(self.local))
            .with_max_wait_ms(self.settings.fetch_wait_max_ms)
            .with_min_bytes(self.settings.fetch_min_bytes)
            .with_max_bytes(self.settings.fetch_response_max_bytes)
            .with_isolation_level(0)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(topics)
    }

    async fn exchange(&mut self, request: &FetchRequest) -> anyhow::Result<kafka_protocol::messages::FetchResponse> {
        if self.conn.is_none() {
            self.conn = Some(LeaderConnection::connect(&self.endpoint, self.local, SOCKET_TIMEOUT).await?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        let timeout = Duration::from_millis(self.settings.fetch_wait_max_ms.max(0) as u64) + SOCKET_TIMEOUT;
        let resp = conn.fetch(request, timeout).await?;
        if resp.error_code != 0 {
            anyhow::bail!("leader answered {:?}", ErrorCode::try_from_code(resp.error_code));
        }
        Ok(resp)
    }

    /// Applies one response; returns the replicas that appended (to fsync before the next request).
    fn process(&self, sent: &HashMap<Key, Target>, partitions: impl Iterator<Item = (String, PartitionData)>) -> Vec<Arc<dyn FollowerReplica>> {
        let mut appended = Vec::new();
        let now = Instant::now();
        let mut delay = Vec::new();
        for (topic, pd) in partitions {
            let key = (topic, pd.partition_index);
            let Some(target) = sent.get(&key) else { continue };
            // Removed from this fetcher (or re-targeted) while the request was out: not ours to apply any more.
            if self.shared.partitions().get(&key).is_none_or(|t| t.leader_epoch != target.leader_epoch) {
                continue;
            }
            let replica = target.replica.as_ref();
            let epoch = target.leader_epoch;
            match ErrorCode::try_from_code(pd.error_code) {
                None => {
                    if pd.diverging_epoch.epoch >= 0 || pd.diverging_epoch.end_offset >= 0 {
                        let offset = truncation_offset(replica, pd.diverging_epoch.epoch, pd.diverging_epoch.end_offset);
                        tracing::info!(topic = key.0, partition = key.1, leader_epoch = pd.diverging_epoch.epoch,
                            leader_end = pd.diverging_epoch.end_offset, offset, "log diverges from the leader's; truncating");
                        if let Err(e) = replica.truncate_to(epoch, offset) {
                            tracing::error!(topic = key.0, partition = key.1, error = %e, "truncation failed");
                            delay.push(key);
                        }
                        continue;
                    }
                    if let Some(records) = pd.records.as_ref().filter(|r| !r.is_empty()) {
                        match replica.append_fetched(epoch, records) {
                            Ok(_) => appended.push(target.replica.clone()),
                            Err(e) => {
                                tracing::warn!(topic = key.0, partition = key.1, error = %e, "cannot append fetched batches");
                                delay.push(key.clone());
                            }
                        }
                    }
                    replica.update_high_watermark(pd.high_watermark);
                    replica.update_log_start(pd.log_start_offset);
                }
                Some(ErrorCode::OffsetOutOfRange) => {
                    // Below the leader's log start: start over there. Above its end (the leader lost data we
                    // had, only possible with unclean election): cut back to its HW, which it certainly has.
                    let (_, log_end, _) = replica.fetch_position();
                    let to = if log_end < pd.log_start_offset { pd.log_start_offset } else { pd.high_watermark.max(0) };
                    tracing::warn!(topic = key.0, partition = key.1, log_end, to, "fetch offset out of the leader's range");
                    if let Err(e) = replica.truncate_to(epoch, to) {
                        tracing::error!(topic = key.0, partition = key.1, error = %e, "truncation failed");
                        delay.push(key);
                    }
                }
                Some(code) => {
                    // NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, ...: our metadata and the
                    // leader's disagree; wait for the next change rather than hammer it.
                    tracing::debug!(topic = key.0, partition = key.1, error = ?code, "fetch refused for partition");
                    delay.push(key);
                }
            }
        }
        if !delay.is_empty() {
            let until = now + Duration::from_millis(self.settings.fetch_backoff_ms);
            let mut parts = self.shared.partitions();
            for key in delay {
                if let Some(t) = parts.get_mut(&key) {
                    t.delayed_until = Some(until);
                }
            }
        }
        appended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::fake::Epochs;

    #[test]
    fn old_leader_cuts_its_unreplicated_tail_in_the_same_epoch() {
        // We led epoch 0 and wrote to 17; the new leader says epoch 0 ended at 10.
        let r = Epochs { entries: vec![(0, 0)], log_end: 17, hw: 10, ..Epochs::new("t", 0) };
        assert_eq!(truncation_offset(&r, 0, 10), 10);
    }

    #[test]
    fn a_deeper_divergence_cuts_at_our_older_epoch_first() {
        // We have epochs 1 and 3; the leader's largest epoch <= 3 is 2, ending at 30. Our largest epoch <= 2 is 1,
        // which ends where our 3 starts (25): cut there and ask again.
        let r = Epochs { entries: vec![(1, 0), (3, 25)], log_end: 40, hw: 20, ..Epochs::new("t", 0) };
        assert_eq!(truncation_offset(&r, 2, 30), 25);
        // Leader's answer beyond our log: nothing to cut.
        let r = Epochs { entries: vec![(1, 0)], log_end: 12, hw: 5, ..Epochs::new("t", 0) };
        assert_eq!(truncation_offset(&r, 1, 50), 12);
    }

    #[test]
    fn unknown_epochs_fall_back_to_safe_points() {
        let r = Epochs { entries: vec![(4, 0)], log_end: 9, hw: 6, ..Epochs::new("t", 0) };
        assert_eq!(truncation_offset(&r, -1, -1), 6, "leader knows nothing this old: keep what is committed");
        assert_eq!(truncation_offset(&r, -1, 3), 3);
        // All we hold is from epoch 4, which the leader never saw (its epoch 2 ends at 7): ours is "epoch 2, ending
        // where epoch 4 starts" (Kafka's answer for an epoch older than any known), so everything goes.
        assert_eq!(truncation_offset(&r, 2, 7), 0);
        let empty = Epochs { entries: vec![], log_end: 9, hw: 6, ..Epochs::new("t", 0) };
        assert_eq!(truncation_offset(&empty, 2, 7), 7, "no epochs at all: cut at the leader's end");
    }
}
