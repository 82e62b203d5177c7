//! This node's metadata: the log (behind [`MetadataLog`]: the openraft quorum, of which a single node is the one
//! voter), the image replayed from it, and the controller that decides what to append. Every change goes through [`MetadataStore::submit`]: the controller's records are made
//! durable and committed first, then applied to the image, then answered — so a restarted node has every change
//! it acknowledged.
//!
//! The cluster id and node id live in `meta.properties` in the data dir, as in Kafka: written on the first start
//! (Streamlet formats an empty data dir itself), checked on every later one. A data dir written by the
//! single-broker version (`cluster-metadata.log`) is converted on its first start: its topics become Kafka's
//! records with this node as their only replica, the file is renamed `cluster-metadata.log.migrated`.

use std::io;
use std::path::Path;
use std::time::Instant;

use super::controller::{Controller, ControllerConfig, ControllerResult};
use super::image::{MetadataImage, Touched};
use super::legacy;
use super::log::{Committed, MetadataLog};
use super::quorum::{QuorumTiming, RaftMetadataLog};
use super::records::{self, MetadataRecord, METADATA_VERSION_FEATURE};

pub const META_PROPERTIES: &str = "meta.properties";
/// The `metadata.version` feature level the log starts with: 3.9-IV0, the level of the record versions written.
pub const METADATA_VERSION_LEVEL: i16 = 21;

/// How long opening waits for the quorum to elect a leader.
const LEADER_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// This node's place in a quorum of several voters.
pub struct QuorumMember {
    /// node id -> `host:port` of each voter's controller listener.
    pub voters: std::collections::BTreeMap<u64, String>,
    /// This node's controller listener (bound already, so that port 0 works in tests).
    pub listener: std::net::TcpListener,
    pub timing: QuorumTiming,
}

pub struct MetadataStore {
    node_id: i32,
    log: Box<dyn MetadataLog>,
    image: MetadataImage,
    controller: Controller,
    /// This node's broker registration epoch, once registered.
    pub broker_epoch: Option<i64>,
    /// The producer-id block this broker hands ids out of: `next..end`.
    producer_ids: (i64, i64),
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Reads or writes `meta.properties`; returns the cluster id.
fn format_or_check(dir: &Path, node_id: i32, configured: Option<&str>, fresh: impl FnOnce() -> String) -> io::Result<String> {
    let path = dir.join(META_PROPERTIES);
    if path.exists() {
        let props = crate::config::read_properties_file(&path).map_err(invalid)?;
        let cluster_id = props.get("cluster.id").cloned().ok_or_else(|| invalid(format!("{}: no cluster.id", path.display())))?;
        if let Some(c) = configured.filter(|c| *c != cluster_id) {
            return Err(invalid(format!("the configured cluster id {c} does not match the data dir's ({cluster_id})")));
        }
        match props.get("node.id").map(|n| n.parse::<i32>()) {
            Some(Ok(n)) if n != node_id => {
                return Err(invalid(format!("stored node.id {n} does not match the configured node.id {node_id}")));
            }
            Some(Err(_)) => return Err(invalid(format!("{}: node.id is not a number", path.display()))),
            _ => {}
        }
        return Ok(cluster_id);
    }
    let cluster_id = configured.map(str::to_string).unwrap_or_else(fresh);
    write_meta_properties(dir, &cluster_id, node_id)?;
    Ok(cluster_id)
}

fn write_meta_properties(dir: &Path, cluster_id: &str, node_id: i32) -> io::Result<()> {
    let tmp = dir.join("meta.properties.tmp");
    std::fs::write(&tmp, format!("#\nversion=1\ncluster.id={cluster_id}\nnode.id={node_id}\n"))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(META_PROPERTIES))?;
    std::fs::File::open(dir)?.sync_all()
}

impl MetadataStore {
    /// Opens the metadata of `dir` (formatting it, or converting a legacy log, on first start) as the one voter
    /// of its quorum, and waits until everything committed before is applied.
    pub fn open(
        dir: &Path,
        node_id: i32,
        controller: ControllerConfig,
        configured_cluster_id: Option<&str>,
        fresh_cluster_id: impl FnOnce() -> String,
    ) -> io::Result<Self> {
        Self::open_in_quorum(dir, node_id, controller, configured_cluster_id, fresh_cluster_id, None)
    }

    /// As [`open`](Self::open), as one voter of a quorum of several (`quorum`), or alone (None). Waits until the
    /// quorum has a leader; the leader then applies everything committed before, a follower what it has so far
    /// (it keeps up through [`catch_up`](Self::catch_up)).
    pub fn open_in_quorum(
        dir: &Path,
        node_id: i32,
        controller: ControllerConfig,
        configured_cluster_id: Option<&str>,
        fresh_cluster_id: impl FnOnce() -> String,
        quorum: Option<QuorumMember>,
    ) -> io::Result<Self> {
        let legacy_path = dir.join(legacy::LEGACY_FILE);
        let mut migrated = None;
        if legacy_path.exists() {
            let data = std::fs::read(&legacy_path)?;
            let (old, _) = legacy::decode_all(&data);
            migrated = Some(legacy::convert(&old, node_id));
        }
        let legacy_cluster_id = migrated.as_ref().and_then(|(c, _)| c.clone());
        let cluster_id = match legacy_cluster_id {
            // The legacy log held the cluster id; Kafka keeps it in meta.properties.
            Some(c) if !dir.join(META_PROPERTIES).exists() => {
                write_meta_properties(dir, &c, node_id)?;
                format_or_check(dir, node_id, configured_cluster_id, || unreachable!())?
            }
            _ => format_or_check(dir, node_id, configured_cluster_id, fresh_cluster_id)?,
        };
        let (voters, listener, timing) = match quorum {
            Some(q) => (q.voters, Some(q.listener), q.timing),
            None => ([(u64::try_from(node_id).unwrap_or(0), String::new())].into(), None, QuorumTiming::default()),
        };
        let log = RaftMetadataLog::open(dir, node_id, &cluster_id, voters, listener, timing)?;
        Self::with_log(Box::new(log), node_id, controller, cluster_id, migrated.map(|(_, r)| r), &legacy_path)
    }

    fn with_log(
        mut log: Box<dyn MetadataLog>,
        node_id: i32,
        controller: ControllerConfig,
        cluster_id: String,
        migrated: Option<Vec<MetadataRecord>>,
        legacy_path: &Path,
    ) -> io::Result<Self> {
        let deadline = std::time::Instant::now() + LEADER_WAIT;
        let leader = loop {
            let Some(l) = log.leader() else {
                if std::time::Instant::now() > deadline {
                    return Err(io::Error::other(format!("no metadata quorum leader within {LEADER_WAIT:?}")));
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            };
            if l != node_id {
                break l;
            }
            // An empty batch commits after everything before it: once it is applied, so is the whole log.
            match log.append(&[]) {
                Ok(_) => break l,
                // A restarted node that led before its crash takes itself for the leader on its committed vote
                // until it hears of a newer term; its barrier is refused then. Wait for the real leader instead of
                // failing the start (an old controller could not rejoin the cluster).
                Err(e) if log.leader() != Some(node_id) && std::time::Instant::now() < deadline => {
                    tracing::info!(error = %e, "this node led before; following the new leader");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        };
        let mut store = MetadataStore {
            node_id,
            log,
            image: MetadataImage::new(cluster_id),
            controller: Controller::new(controller),
            broker_epoch: None,
            producer_ids: (0, 0),
        };
        store.catch_up();
        if leader == node_id && store.image.offset < 0 {
            let mut first: Vec<MetadataRecord> =
                vec![records::FeatureLevelRecord { name: METADATA_VERSION_FEATURE.into(), feature_level: METADATA_VERSION_LEVEL }.into()];
            first.extend(migrated.into_iter().flatten());
            store.append(first)?;
        }
        if legacy_path.exists() {
            // Renamed only once its records are committed: after a crash in between, the next start finds them
            // in the log and only renames the file.
            let mut done = legacy_path.as_os_str().to_owned();
            done.push(".migrated");
            std::fs::rename(legacy_path, done)?;
            tracing::info!("converted the single-broker metadata log to Kafka's metadata records");
        }
        Ok(store)
    }

    /// Applies what the quorum committed since this image's offset; returns what it touched.
    pub fn catch_up(&mut self) -> Vec<Touched> {
        match self.log.committed_after(self.image.offset) {
            Committed::Records(records) => {
                let mut touched = Vec::new();
                for (offset, r) in &records {
                    touched.extend(self.image.apply(*offset, r));
                }
                touched
            }
            Committed::Image(mut image) => {
                image.cluster_id = self.image.cluster_id.clone();
                let old = std::mem::replace(&mut self.image, image);
                let mut touched: Vec<Touched> = Vec::new();
                for t in old.topics.values() {
                    for p in 0..t.partition_count() {
                        if self.image.partition(&t.name, p).is_none() {
                            touched.push(Touched::Removed { topic: t.name.clone(), partition: p });
                        }
                    }
                }
                for t in self.image.topics.values() {
                    for p in 0..t.partition_count() {
                        touched.push(Touched::Partition { topic: t.name.clone(), partition: p });
                    }
                }
                touched
            }
        }
    }

    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// The node id of the active controller.
    pub fn controller_id(&self) -> Option<i32> {
        self.log.leader()
    }

    /// Controller operations run on the active controller only: elsewhere its image may be behind.
    fn check_active(&self) -> io::Result<()> {
        match self.log.leader() {
            Some(l) if l == self.node_id => Ok(()),
            other => Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("not the active controller (it is {other:?})"))),
        }
    }

    /// Whether this node is the active controller (the quorum's leader).
    pub fn is_active_controller(&self) -> bool {
        self.log.leader() == Some(self.node_id)
    }

    fn append(&mut self, records: Vec<MetadataRecord>) -> io::Result<Vec<Touched>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.log.append(&records)?;
        Ok(self.catch_up())
    }

    /// Runs one controller operation: its records are committed and applied before its answer is returned, with
    /// what they touched (for the replica manager).
    pub fn submit<T>(
        &mut self,
        op: impl FnOnce(&mut Controller, &MetadataImage, Instant) -> ControllerResult<T>,
    ) -> io::Result<(T, Vec<Touched>)> {
        self.check_active()?;
        let result = op(&mut self.controller, &self.image, Instant::now());
        let touched = self.append(result.records)?;
        Ok((result.response, touched))
    }

    /// Appends records a periodic controller task produced (fencing, rebalancing).
    pub fn submit_records(
        &mut self,
        op: impl FnOnce(&mut Controller, &MetadataImage, Instant) -> Vec<MetadataRecord>,
    ) -> io::Result<Vec<Touched>> {
        self.check_active()?;
        let records = op(&mut self.controller, &self.image, Instant::now());
        self.append(records)
    }

    /// Hands out a producer id that was never handed out before, even across restarts and brokers: ids come from
    /// blocks the controller allocates (Kafka's AllocateProducerIds).
    pub fn next_producer_id(&mut self) -> io::Result<i64> {
        if self.producer_ids.0 >= self.producer_ids.1 {
            let epoch = self.broker_epoch.ok_or_else(|| io::Error::other("this broker is not registered yet"))?;
            let node = self.node_id;
            let (answer, _) = self.submit(|c, img, _| c.allocate_producer_ids(img, node, epoch))?;
            let (first, len) = answer.map_err(|(code, msg)| io::Error::other(format!("{code:?}: {msg}")))?;
            self.producer_ids = (first, first + i64::from(len));
        }
        let id = self.producer_ids.0;
        self.producer_ids.0 += 1;
        Ok(id)
    }

    /// The next id of the block in hand, if any is left.
    pub fn take_producer_id(&mut self) -> Option<i64> {
        (self.producer_ids.0 < self.producer_ids.1).then(|| {
            self.producer_ids.0 += 1;
            self.producer_ids.0 - 1
        })
    }

    /// A block the active controller allocated to this broker over the wire.
    pub fn set_producer_block(&mut self, first: i64, len: i32) {
        self.producer_ids = (first, first + i64::from(len));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::cluster::PartitionState;
    use crate::metadata::controller::{Heartbeat, NewTopic, RegisterBroker};
    use crate::storage::LogConfig;

    fn config() -> ControllerConfig {
        ControllerConfig {
            session_timeout: std::time::Duration::from_secs(9),
            unclean_leader_election: false,
            delete_topic_enable: true,
            default_partitions: 1,
            default_replication_factor: 1,
            log_defaults: LogConfig::default(),
        }
    }

    fn register(s: &mut MetadataStore, node: i32) {
        let req = RegisterBroker { broker_id: node, incarnation_id: uuid::Uuid::new_v4(), endpoints: vec![], rack: None };
        let (epoch, _) = s.submit(|c, img, now| c.register_broker(img, req, now)).unwrap();
        let epoch = epoch.unwrap();
        s.broker_epoch = Some(epoch);
        let hb = Heartbeat { broker_id: node, broker_epoch: epoch, metadata_offset: s.image().offset, want_fence: false, want_shutdown: false };
        let (reply, _) = s.submit(|c, img, now| c.heartbeat(img, hb, now)).unwrap();
        assert!(!reply.unwrap().is_fenced);
    }

    #[test]
    fn formats_then_checks_meta_properties_and_survives_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first_pid;
        {
            let mut s = MetadataStore::open(dir.path(), 1, config(), None, || "cid".into()).unwrap();
            register(&mut s, 1);
            let t = NewTopic { name: "a".into(), partitions: 2, replication_factor: -1, assignments: vec![vec![1], vec![1]], configs: Default::default() };
            let (answers, touched) = s.submit(|c, img, _| c.create_topics(img, vec![t], false)).unwrap();
            assert!(answers[0].is_ok());
            assert_eq!(touched.len(), 2);
            first_pid = s.next_producer_id().unwrap();
            assert_eq!(s.next_producer_id().unwrap(), first_pid + 1);
        }
        let text = std::fs::read_to_string(dir.path().join(META_PROPERTIES)).unwrap();
        assert!(text.contains("cluster.id=cid") && text.contains("node.id=1"), "{text}");
        assert!(MetadataStore::open(dir.path(), 2, config(), None, || unreachable!()).err().unwrap().to_string().contains("node.id"));
        assert!(MetadataStore::open(dir.path(), 1, config(), Some("other"), || unreachable!()).is_err());
        let mut s = MetadataStore::open(dir.path(), 1, config(), None, || unreachable!()).unwrap();
        assert_eq!(s.image().cluster_id, "cid");
        assert_eq!(s.image().topics["a"].partitions.len(), 2);
        register(&mut s, 1);
        assert!(s.next_producer_id().unwrap() > first_pid + 1, "producer ids are never reused");
    }

    #[test]
    fn followers_replay_what_the_active_controller_commits() {
        use std::collections::BTreeMap;
        use std::time::{Duration, Instant};
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let listeners: Vec<std::net::TcpListener> = (0..3).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        let voters: BTreeMap<u64, String> = listeners.iter().enumerate().map(|(i, l)| (i as u64 + 1, l.local_addr().unwrap().to_string())).collect();
        let timing = QuorumTiming { heartbeat: Duration::from_millis(50), election_min: Duration::from_millis(300), election_max: Duration::from_millis(600) };
        // Each voter waits for a leader while opening: open them side by side.
        let mut stores: Vec<MetadataStore> = std::thread::scope(|s| {
            let handles: Vec<_> = listeners
                .into_iter()
                .enumerate()
                .map(|(i, listener)| {
                    let (dir, voters) = (dirs[i].path().to_path_buf(), voters.clone());
                    s.spawn(move || {
                        let member = QuorumMember { voters, listener, timing };
                        MetadataStore::open_in_quorum(&dir, i as i32 + 1, config(), Some("cid"), || unreachable!(), Some(member)).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let leader = stores.iter().position(|s| s.is_active_controller()).expect("one active controller");
        let leader_id = leader as i32 + 1;
        for (i, s) in stores.iter().enumerate() {
            assert_eq!(s.controller_id(), Some(leader_id), "node {}", i + 1);
        }
        register(&mut stores[leader], leader_id);
        let t = NewTopic { name: "replayed".into(), partitions: 1, replication_factor: 1, assignments: vec![], configs: Default::default() };
        let (answers, _) = stores[leader].submit(|c, img, _| c.create_topics(img, vec![t], false)).unwrap();
        assert!(answers[0].is_ok());
        let offset = stores[leader].image().offset;
        // A follower cannot write.
        let follower = (leader + 1) % 3;
        let t = NewTopic { name: "refused".into(), partitions: 1, replication_factor: 1, assignments: vec![], configs: Default::default() };
        assert!(stores[follower].submit(|c, img, _| c.create_topics(img, vec![t], false)).is_err());
        // Every follower replays the topic, its placement and the broker's registration.
        for (i, s) in stores.iter_mut().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while s.image().offset < offset {
                let touched = s.catch_up();
                let _ = touched;
                assert!(Instant::now() < deadline, "node {} never caught up", i + 1);
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!(s.image().topics["replayed"].partitions[0].leader, leader_id);
            assert!(!s.image().brokers[&leader_id].fenced);
            assert!(!s.image().topics.contains_key("refused"));
        }
    }

    #[test]
    fn a_single_broker_data_dir_is_converted_on_first_start() {
        let dir = tempfile::tempdir().unwrap();
        let old = [
            legacy::MetadataRecord::ClusterCreated { cluster_id: "old-cluster".into() },
            legacy::MetadataRecord::TopicCreated(legacy::TopicMeta {
                name: "t".into(),
                id: uuid::Uuid::from_u128(5),
                partitions: 2,
                configs: [("retention.ms".to_string(), "5".to_string())].into(),
            }),
            legacy::MetadataRecord::PartitionsIncreased { name: "t".into(), total: 3 },
            legacy::MetadataRecord::TopicCreated(legacy::TopicMeta { name: "gone".into(), id: uuid::Uuid::from_u128(6), partitions: 1, configs: Default::default() }),
            legacy::MetadataRecord::TopicDeleted { name: "gone".into() },
            legacy::MetadataRecord::ProducerIdBlock { end: 3000 },
        ];
        let bytes: Vec<u8> = old.iter().flat_map(legacy::encode).collect();
        std::fs::write(dir.path().join(legacy::LEGACY_FILE), bytes).unwrap();
        for _ in 0..2 {
            let s = MetadataStore::open(dir.path(), 4, config(), None, || unreachable!()).unwrap();
            let img = s.image();
            assert_eq!(img.cluster_id, "old-cluster");
            assert_eq!(img.topics.keys().collect::<Vec<_>>(), vec!["t"]);
            let t = &img.topics["t"];
            assert_eq!(t.id, uuid::Uuid::from_u128(5));
            assert_eq!(t.partitions, vec![PartitionState::single(4); 3]);
            assert_eq!(t.configs["retention.ms"], "5");
            assert_eq!(img.next_producer_id, 3000);
            assert!(!dir.path().join(legacy::LEGACY_FILE).exists());
        }
    }
}
