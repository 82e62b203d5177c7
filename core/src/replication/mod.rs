//! Follower replication: fetchers that keep this broker's follower replicas in step with their leaders, Kafka's
//! way (`ReplicaFetcherManager`, `AbstractFetcherThread`, `ReplicaFetcherThread`).
//!
//! **Threading.** One tokio task per leader broker this broker follows, carrying every partition led there in
//! one Fetch request (Kafka's one fetcher thread per source broker, `num.replica.fetchers=1`). The replica
//! manager adds and removes partitions as leadership moves ([`FetcherManager::add_partition`] /
//! [`FetcherManager::remove_partition`], callable from any thread); a fetcher with no partitions left stops, and
//! every fetcher stops on broker shutdown.
//!
//! **Ordering, per partition, in each round:**
//! 1. The request names the replica's log end as FetchOffset and the latest epoch of its leader-epoch cache as
//!    LastFetchedEpoch, with the leader epoch the replica follows as CurrentLeaderEpoch.
//! 2. A DivergingEpoch in the answer means our log holds batches the leader does not: truncate (KIP-101/279
//!    rule, `truncation_offset`), and fetch again from the new end with the new last epoch; the leader checks
//!    again, so a divergence several epochs deep is resolved round by round.
//! 3. Records are appended as they are (the leader's offsets and epochs), then fsynced — group-committed, every
//!    partition of the round at once — **before** the next request reports the new end to the leader: the
//!    leader's HW only covers data every ISR member has on disk. Topics that relaxed fsync skip the wait.
//! 4. The follower's HW becomes min(leader's HW, own log end); its log start follows the leader's.
//!
//! Errors: an fsync failure is retried (with backoff) before anything is reported to the leader; a connection
//! failure backs off `replica.fetch.backoff.ms` and reconnects; a partition-level error
//! (the leader moved, a stale epoch) delays that partition only until the metadata catches up.
//!
//! This module speaks the protocol directly (`protocol::codec`), never through `client`, and reaches the
//! replicas through [`FollowerReplica`], so it depends on nothing of the broker.

mod connection;
mod fetcher;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tokio::sync::watch;

use crate::config::ReplicaSettings;
use crate::metadata::cluster::BrokerEndpoint;
use crate::storage::AppendError;

pub use fetcher::truncation_offset;

/// What a fetcher needs of a follower replica.
pub trait FollowerReplica: Send + Sync + 'static {
    fn topic(&self) -> &str;
    fn partition(&self) -> i32;
    /// (log start, log end, latest epoch in the leader-epoch cache or -1).
    fn fetch_position(&self) -> (i64, i64, i32);
    /// This replica's `endOffsetForEpoch` (the largest epoch <= `epoch` it knows and where that epoch ends).
    fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64);
    fn high_watermark(&self) -> i64;
    /// Appends fetched batches keeping the leader's offsets; returns the new log end. Refused unless the replica
    /// still follows at `leader_epoch` (a response that arrives after a leadership change is not applied).
    fn append_fetched(&self, leader_epoch: i32, records: &[u8]) -> Result<i64, AppendError>;
    /// Cuts the log at `offset`, under the same condition.
    fn truncate_to(&self, leader_epoch: i32, offset: i64) -> io::Result<()>;
    /// Sets the follower HW from the leader's (capped at the own log end).
    fn update_high_watermark(&self, leader_hw: i64);
    /// Moves the log start up to the leader's (DeleteRecords on the leader), never past the own log end.
    fn update_log_start(&self, leader_log_start: i64);
    /// Returns once everything appended is durable (immediately for topics that relaxed fsync).
    fn make_durable(&self) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + '_>>;
}

type Key = (String, i32);

/// One partition a fetcher carries.
#[derive(Clone)]
struct Target {
    replica: Arc<dyn FollowerReplica>,
    leader_epoch: i32,
    /// A partition-level error pauses this partition until then.
    delayed_until: Option<tokio::time::Instant>,
}

/// State shared between the manager and one fetcher task.
struct Shared {
    partitions: Mutex<HashMap<Key, Target>>,
    /// Partitions added (or the fetcher stopped): the task re-plans without waiting out an idle period.
    changed: tokio::sync::Notify,
    stopped: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn partitions(&self) -> MutexGuard<'_, HashMap<Key, Target>> {
        self.partitions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct FetcherHandle {
    endpoint: BrokerEndpoint,
    shared: Arc<Shared>,
    started: bool,
}

/// Every fetcher of this broker, by leader broker id.
pub struct FetcherManager {
    local: i32,
    settings: ReplicaSettings,
    runtime: OnceLock<(tokio::runtime::Handle, watch::Receiver<bool>)>,
    fetchers: Mutex<HashMap<i32, FetcherHandle>>,
}

impl FetcherManager {
    pub fn new(local: i32, settings: ReplicaSettings) -> Self {
        FetcherManager { local, settings, runtime: OnceLock::new(), fetchers: Mutex::new(HashMap::new()) }
    }

    fn fetchers(&self) -> MutexGuard<'_, HashMap<i32, FetcherHandle>> {
        self.fetchers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives the manager the broker's runtime and shutdown signal; fetchers for partitions added before start now.
    pub fn attach(&self, runtime: tokio::runtime::Handle, shutdown: watch::Receiver<bool>) {
        if self.runtime.set((runtime, shutdown)).is_err() {
            return;
        }
        let mut fetchers = self.fetchers();
        for handle in fetchers.values_mut() {
            self.start(handle);
        }
    }

    fn start(&self, handle: &mut FetcherHandle) {
        let Some((runtime, shutdown)) = self.runtime.get() else { return };
        if handle.started {
            return;
        }
        handle.started = true;
        let task = fetcher::Fetcher::new(self.local, handle.endpoint.clone(), self.settings.clone(), handle.shared.clone());
        runtime.spawn(task.run(shutdown.clone()));
    }

    /// Fetch `replica` from the leader at `endpoint`, following `leader_epoch`. Moves it off any other fetcher;
    /// a no-op when it is already fetched from there at that epoch.
    pub fn add_partition(&self, endpoint: BrokerEndpoint, replica: Arc<dyn FollowerReplica>, leader_epoch: i32) {
        let key = (replica.topic().to_string(), replica.partition());
        let mut fetchers = self.fetchers();
        if let Some(h) = fetchers.get(&endpoint.node_id) {
            if h.endpoint == endpoint {
                let mut parts = h.shared.partitions();
                if let Some(t) = parts.get_mut(&key) {
                    // Same leader, same address: a new epoch (or none) only changes what the requests say.
                    if t.leader_epoch != leader_epoch {
                        *t = Target { replica, leader_epoch, delayed_until: None };
                        drop(parts);
                        h.shared.changed.notify_one();
                    }
                    return;
                }
            }
        }
        remove_from(&mut fetchers, &key);
        // A leader that re-registered at another address gets a new fetcher (with its other partitions).
        if fetchers.get(&endpoint.node_id).is_some_and(|h| h.endpoint != endpoint) {
            if let Some(old) = fetchers.remove(&endpoint.node_id) {
                stop(&old);
                let moved: Vec<_> = old.shared.partitions().drain().collect();
                let h = self.new_handle(&mut fetchers, &endpoint);
                h.shared.partitions().extend(moved);
            }
        }
        let handle = self.new_handle(&mut fetchers, &endpoint);
        handle.shared.partitions().insert(key, Target { replica, leader_epoch, delayed_until: None });
        handle.shared.changed.notify_one();
        let handle = fetchers.get_mut(&endpoint.node_id).expect("just inserted");
        self.start(handle);
    }

    fn new_handle<'a>(&self, fetchers: &'a mut HashMap<i32, FetcherHandle>, endpoint: &BrokerEndpoint) -> &'a mut FetcherHandle {
        fetchers.entry(endpoint.node_id).or_insert_with(|| FetcherHandle {
            endpoint: endpoint.clone(),
            shared: Arc::new(Shared {
                partitions: Mutex::new(HashMap::new()),
                changed: tokio::sync::Notify::new(),
                stopped: std::sync::atomic::AtomicBool::new(false),
            }),
            started: false,
        })
    }

    /// Stops fetching a partition (it became leader, or was removed). A response already in flight may still
    /// reach it; the replica refuses it unless it still follows the same leader epoch.
    pub fn remove_partition(&self, topic: &str, partition: i32) {
        let mut fetchers = self.fetchers();
        remove_from(&mut fetchers, &(topic.to_string(), partition));
    }

    /// The partitions fetched from each leader (tests, tools).
    pub fn assignments(&self) -> HashMap<i32, Vec<(String, i32)>> {
        self.fetchers().iter().map(|(id, h)| (*id, h.shared.partitions().keys().cloned().collect())).collect()
    }
}

fn remove_from(fetchers: &mut HashMap<i32, FetcherHandle>, key: &Key) {
    let mut emptied = Vec::new();
    for (id, h) in fetchers.iter() {
        let mut parts = h.shared.partitions();
        if parts.remove(key).is_some() && parts.is_empty() {
            emptied.push(*id);
        }
    }
    // Kafka shuts down idle fetchers; one is started again when a partition needs it.
    for id in emptied {
        if let Some(h) = fetchers.remove(&id) {
            stop(&h);
        }
    }
}

fn stop(h: &FetcherHandle) {
    h.shared.stopped.store(true, std::sync::atomic::Ordering::Release);
    h.shared.changed.notify_one();
}

/// A follower replica that is only an epoch cache: what `truncation_offset` and the manager's bookkeeping need.
#[cfg(test)]
pub(crate) mod fake {
    use super::FollowerReplica;
    use crate::storage::AppendError;

    /// A replica with an epoch cache and nothing else: what `truncation_offset` reads.
    pub struct Epochs {
        /// (epoch, start offset), oldest first.
        pub entries: Vec<(i32, i64)>,
        pub topic: String,
        pub partition: i32,
        pub log_end: i64,
        pub hw: i64,
    }

    impl FollowerReplica for Epochs {
        fn topic(&self) -> &str {
            &self.topic
        }
        fn partition(&self) -> i32 {
            self.partition
        }
        fn fetch_position(&self) -> (i64, i64, i32) {
            (0, self.log_end, self.entries.last().map(|e| e.0).unwrap_or(-1))
        }
        fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
            // The same rule as the storage cache (tested there); restated for a self-contained fake.
            if self.entries.last().map(|e| e.0) == Some(epoch) {
                return (epoch, self.log_end);
            }
            let Some(higher) = self.entries.iter().find(|e| e.0 > epoch) else { return (-1, -1) };
            match self.entries.iter().rev().find(|e| e.0 <= epoch) {
                None => (epoch, higher.1),
                Some(floor) => (floor.0, higher.1),
            }
        }
        fn high_watermark(&self) -> i64 {
            self.hw
        }
        fn append_fetched(&self, _: i32, _: &[u8]) -> Result<i64, AppendError> {
            unreachable!("a fake replica stores nothing")
        }
        fn truncate_to(&self, _: i32, _: i64) -> std::io::Result<()> {
            unreachable!("a fake replica stores nothing")
        }
        fn update_high_watermark(&self, _: i64) {}
        fn update_log_start(&self, _: i64) {}
        fn make_durable(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send + '_>> {
            Box::pin(async { Ok(()) })
        }
    }

    impl Epochs {
        pub fn new(topic: &str, partition: i32) -> Self {
            Epochs { entries: Vec::new(), topic: topic.to_string(), partition, log_end: 0, hw: 0 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(id: i32, port: u16) -> BrokerEndpoint {
        BrokerEndpoint { node_id: id, host: "127.0.0.1".into(), port, rack: None }
    }

    fn sorted(m: HashMap<i32, Vec<(String, i32)>>) -> Vec<(i32, Vec<(String, i32)>)> {
        let mut v: Vec<_> = m.into_iter().map(|(k, mut p)| { p.sort(); (k, p) }).collect();
        v.sort();
        v
    }

    #[test]
    fn partitions_move_between_fetchers_as_leadership_moves() {
        let m = FetcherManager::new(1, crate::config::BrokerConfig::default().replication);
        let a = Arc::new(fake::Epochs::new("t", 0));
        let b = Arc::new(fake::Epochs::new("t", 1));
        m.add_partition(endpoint(2, 9002), a.clone(), 0);
        m.add_partition(endpoint(2, 9002), b.clone(), 0);
        assert_eq!(sorted(m.assignments()), vec![(2, vec![("t".into(), 0), ("t".into(), 1)])]);
        // t-1's leader moves to broker 3: one fetcher each.
        m.add_partition(endpoint(3, 9003), b.clone(), 1);
        assert_eq!(sorted(m.assignments()), vec![(2, vec![("t".into(), 0)]), (3, vec![("t".into(), 1)])]);
        // Broker 2 re-registers elsewhere: its fetcher is replaced, its partitions kept.
        m.add_partition(endpoint(2, 9012), a.clone(), 1);
        assert_eq!(m.fetchers()[&2].endpoint.port, 9012);
        // This broker becomes leader of t-0: the fetcher for broker 2 has nothing left and goes.
        m.remove_partition("t", 0);
        assert_eq!(sorted(m.assignments()), vec![(3, vec![("t".into(), 1)])]);
        m.remove_partition("t", 1);
        assert!(m.assignments().is_empty());
    }
}
