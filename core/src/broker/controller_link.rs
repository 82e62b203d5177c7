//! This broker's link to the active controller: registration at start, a heartbeat every
//! `broker.heartbeat.interval.ms` (which also unfences it once caught up), and AlterPartition proposals through
//! [`ControllerChannel`].
//!
//! When this node is the active controller (always for a single node), the link is a direct call into the
//! metadata store; otherwise it sends Kafka's BrokerRegistration / BrokerHeartbeat to the active controller's
//! broker listener (found in the replayed image). The answers and records are the same either way. Every tick
//! this node also replays what the quorum committed and hands the changed partitions to the replica manager; the
//! node that hosts the active controller runs its periodic duties here: fencing brokers whose session expired
//! and, with `auto.leader.rebalance.enable`, moving leadership back to preferred replicas.

use std::sync::{Arc, Weak};
use std::time::Duration;

use uuid::Uuid;

use crate::metadata::controller::{Heartbeat, RegisterBroker};
use crate::metadata::records::BrokerEndpoint;
use crate::metadata::{ControllerChannel, IsrProposal, PartitionState};
use crate::metadata::cluster::ProposalFuture;
use crate::protocol::ErrorCode;

use super::state::BrokerState;
use super::ShutdownSignal;

/// Kafka's `SecurityProtocol.PLAINTEXT` id.
const PLAINTEXT: i16 = 0;

pub struct LocalControllerChannel {
    pub(crate) state: Weak<BrokerState>,
}

impl ControllerChannel for LocalControllerChannel {
    fn alter_partition(&self, proposal: IsrProposal) -> ProposalFuture {
        let state = self.state.clone();
        Box::pin(async move {
            let state = state.upgrade().ok_or(ErrorCode::BrokerNotAvailable)?;
            let answer = tokio::task::spawn_blocking(move || -> Result<PartitionState, ErrorCode> {
                let epoch = state.metadata().broker_epoch.ok_or(ErrorCode::BrokerNotAvailable)?;
                if state.metadata().is_active_controller() {
                    return state.submit(|c, img, _| c.alter_partition(img, epoch, &proposal)).map_err(|(code, _)| code)?;
                }
                // The active controller is another node: Kafka's AlterPartition to its broker listener.
                remote::alter_partition(&state, epoch, &proposal).map_err(|(code, why)| {
                    tracing::debug!(topic = %proposal.topic, partition = proposal.partition, error = ?code, "AlterPartition: {why}");
                    code
                })
            })
            .await;
            answer.unwrap_or(Err(ErrorCode::UnknownServerError))
        })
    }
}

/// How long start-up waits for the active controller to take this broker's registration.
const REGISTRATION_WAIT: Duration = Duration::from_secs(60);

fn endpoints(state: &BrokerState) -> Vec<BrokerEndpoint> {
    vec![BrokerEndpoint {
        name: state.listener_name.clone(),
        host: state.advertised_host.clone(),
        port: u16::try_from(state.advertised_port).unwrap_or(0),
        security_protocol: PLAINTEXT,
    }]
}

/// Registers this broker with the active controller and heartbeats until it is unfenced (immediate when the
/// controller is this node: its replay is the controller's own image).
pub(crate) fn register(state: &BrokerState) -> Result<(), (ErrorCode, String)> {
    let incarnation = Uuid::new_v4();
    let deadline = std::time::Instant::now() + REGISTRATION_WAIT;
    let mut last_error = (ErrorCode::NotController, "no active controller".to_string());
    while std::time::Instant::now() < deadline {
        let attempt = if state.metadata().is_active_controller() {
            let req = RegisterBroker {
                broker_id: state.node_id,
                incarnation_id: incarnation,
                endpoints: endpoints(state),
                rack: state.config.props.get("broker.rack").cloned(),
            };
            state.submit(|c, img, now| c.register_broker(img, req, now)).and_then(|r| r)
        } else {
            catch_up(state);
            remote::register(state, incarnation, &endpoints(state))
        };
        match attempt {
            Ok(epoch) => {
                state.metadata().broker_epoch = Some(epoch);
                return wait_unfenced(state, deadline);
            }
            Err(e) => {
                tracing::debug!(error = ?e.0, "registration not taken yet: {}", e.1);
                last_error = e;
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    Err(last_error)
}

fn wait_unfenced(state: &BrokerState, deadline: std::time::Instant) -> Result<(), (ErrorCode, String)> {
    loop {
        catch_up(state);
        match heartbeat(state, false) {
            Ok(r) if !r.is_fenced => return Ok(()),
            Ok(_) => {}
            Err(e) if std::time::Instant::now() > deadline => return Err(e),
            Err(e) => tracing::debug!(error = ?e.0, "heartbeat: {}", e.1),
        }
        if std::time::Instant::now() > deadline {
            return Err((ErrorCode::BrokerNotAvailable, "still fenced".into()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn heartbeat(state: &BrokerState, want_shutdown: bool) -> Result<crate::metadata::controller::HeartbeatReply, (ErrorCode, String)> {
    let (epoch, offset, local) = {
        let m = state.metadata();
        (m.broker_epoch.unwrap_or(-1), m.image().offset, m.is_active_controller())
    };
    let hb = Heartbeat { broker_id: state.node_id, broker_epoch: epoch, metadata_offset: offset, want_fence: false, want_shutdown };
    if local {
        state.submit(|c, img, now| c.heartbeat(img, hb, now))?
    } else {
        remote::heartbeat(state, hb)
    }
}

impl BrokerState {
    /// A producer id never handed out before: from this broker's block, refilled by the active controller (in
    /// process, or with AllocateProducerIds when it is another node).
    pub(crate) fn next_producer_id(&self) -> Result<i64, (ErrorCode, String)> {
        {
            let mut m = self.metadata();
            if let Some(id) = m.take_producer_id() {
                return Ok(id);
            }
            if m.is_active_controller() {
                return m.next_producer_id().map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()));
            }
        }
        // Not under the metadata lock: the controller's answer comes over the network.
        let (first, len) = remote::allocate_producer_ids(self)?;
        let mut m = self.metadata();
        m.set_producer_block(first, len);
        m.take_producer_id().ok_or((ErrorCode::UnknownServerError, "an empty producer-id block".into()))
    }
}

/// Replays what the quorum committed since the last call and hands the changed partitions on.
fn catch_up(state: &BrokerState) {
    let changes = {
        let mut m = state.metadata();
        let touched = m.catch_up();
        m.image().partition_changes(&touched, &state.listener_name)
    };
    if !changes.is_empty() {
        state.apply_partition_changes(changes);
    }
}

/// Kafka's broker-to-controller RPCs, sent to the active controller's broker listener (blocking: they run on
/// start-up and on the heartbeat's blocking task).
mod remote {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use bytes::Bytes;
    use kafka_protocol::messages::{
        broker_registration_request::Listener, AllocateProducerIdsRequest, AllocateProducerIdsResponse, AlterPartitionRequest,
        AlterPartitionResponse, ApiKey, BrokerHeartbeatRequest, BrokerHeartbeatResponse, BrokerId,
        BrokerRegistrationRequest, BrokerRegistrationResponse, ResponseHeader,
    };
    use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
    use uuid::Uuid;

    use crate::broker::state::BrokerState;
    use crate::metadata::controller::{Heartbeat, HeartbeatReply};
    use crate::metadata::records::BrokerEndpoint;
    use crate::metadata::{IsrProposal, PartitionState};
    use crate::protocol::codec::encode_request;
    use crate::protocol::ErrorCode;

    type Failure = (ErrorCode, String);

    fn call<Req: Encodable + HeaderVersion, Resp: Decodable + HeaderVersion>(state: &BrokerState, api: ApiKey, version: i16, req: &Req) -> Result<Resp, Failure> {
        let unavailable = |why: String| (ErrorCode::NotController, why);
        let addr = {
            let m = state.metadata();
            let leader = m.controller_id().ok_or_else(|| unavailable("no active controller".into()))?;
            let e = m.image().brokers.get(&leader).and_then(|b| b.endpoint(&state.listener_name));
            let e = e.ok_or_else(|| unavailable(format!("the active controller {leader} has no broker endpoint yet")))?;
            format!("{}:{}", e.host, e.port)
        };
        let io = |e: std::io::Error| unavailable(format!("{addr}: {e}"));
        let sock = addr.parse().map_err(|_| unavailable(format!("bad address {addr}")))?;
        let mut stream = TcpStream::connect_timeout(&sock, Duration::from_secs(2)).map_err(io)?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(io)?;
        let frame = encode_request(api, version, 1, Some("streamlet-broker"), req).map_err(|e| unavailable(e.to_string()))?;
        stream.write_all(&frame).map_err(io)?;
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).map_err(io)?;
        let len = i32::from_be_bytes(len);
        if !(0..=64 << 20).contains(&len) {
            return Err(unavailable(format!("{addr}: bad response size {len}")));
        }
        let mut buf = vec![0u8; len as usize];
        stream.read_exact(&mut buf).map_err(io)?;
        let mut buf = Bytes::from(buf);
        ResponseHeader::decode(&mut buf, Resp::header_version(version)).map_err(|e| unavailable(e.to_string()))?;
        Resp::decode(&mut buf, version).map_err(|e| unavailable(e.to_string()))
    }

    fn error(code: i16) -> Option<Failure> {
        (code != 0).then(|| {
            let e = ErrorCode::try_from_code(code).unwrap_or(ErrorCode::UnknownServerError);
            (e, format!("the controller answered {e:?}"))
        })
    }

    pub fn register(state: &BrokerState, incarnation: Uuid, endpoints: &[BrokerEndpoint]) -> Result<i64, Failure> {
        let cluster_id = state.metadata().image().cluster_id.clone();
        let req = BrokerRegistrationRequest::default()
            .with_broker_id(BrokerId(state.node_id))
            .with_cluster_id(StrBytes::from_string(cluster_id))
            .with_incarnation_id(incarnation)
            .with_rack(state.config.props.get("broker.rack").map(|r| StrBytes::from_string(r.clone())))
            .with_listeners(
                endpoints
                    .iter()
                    .map(|e| {
                        Listener::default()
                            .with_name(StrBytes::from_string(e.name.clone()))
                            .with_host(StrBytes::from_string(e.host.clone()))
                            .with_port(e.port)
                            .with_security_protocol(e.security_protocol)
                    })
                    .collect(),
            );
        let resp: BrokerRegistrationResponse = call(state, ApiKey::BrokerRegistration, 3, &req)?;
        match error(resp.error_code) {
            Some(e) => Err(e),
            None => Ok(resp.broker_epoch),
        }
    }

    pub fn allocate_producer_ids(state: &BrokerState) -> Result<(i64, i32), Failure> {
        let epoch = state.metadata().broker_epoch.unwrap_or(-1);
        let req = AllocateProducerIdsRequest::default().with_broker_id(BrokerId(state.node_id)).with_broker_epoch(epoch);
        let resp: AllocateProducerIdsResponse = call(state, ApiKey::AllocateProducerIds, 0, &req)?;
        match error(resp.error_code) {
            Some(e) => Err(e),
            None => Ok((resp.producer_id_start.0, resp.producer_id_len)),
        }
    }

    /// One partition's ISR proposal (AlterPartition v2: the new ISR as broker ids, the topic by id).
    pub fn alter_partition(state: &BrokerState, broker_epoch: i64, p: &IsrProposal) -> Result<PartitionState, Failure> {
        use kafka_protocol::messages::alter_partition_request::{PartitionData, TopicData};
        let req = AlterPartitionRequest::default().with_broker_id(BrokerId(state.node_id)).with_broker_epoch(broker_epoch).with_topics(vec![
            TopicData::default().with_topic_id(p.topic_id).with_partitions(vec![PartitionData::default()
                .with_partition_index(p.partition)
                .with_leader_epoch(p.leader_epoch)
                .with_partition_epoch(p.partition_epoch)
                .with_new_isr(p.new_isr.iter().map(|&b| BrokerId(b)).collect())]),
        ]);
        let resp: AlterPartitionResponse = call(state, ApiKey::AlterPartition, 2, &req)?;
        if let Some(e) = error(resp.error_code) {
            return Err(e);
        }
        let part = resp.topics.iter().flat_map(|t| &t.partitions).find(|x| x.partition_index == p.partition);
        let part = part.ok_or_else(|| (ErrorCode::UnknownServerError, "the controller's answer names no partition".to_string()))?;
        if let Some(e) = error(part.error_code) {
            return Err(e);
        }
        // The answer carries leader, epochs and ISR; replicas and reassignment state are unchanged by an ISR change.
        let current = state.metadata().image().partition(&p.topic, p.partition).cloned();
        let (replicas, adding, removing) = current.map_or((Vec::new(), Vec::new(), Vec::new()), |c| (c.replicas, c.adding_replicas, c.removing_replicas));
        Ok(PartitionState {
            replicas,
            isr: part.isr.iter().map(|b| b.0).collect(),
            leader: part.leader_id.0,
            leader_epoch: part.leader_epoch,
            partition_epoch: part.partition_epoch,
            adding_replicas: adding,
            removing_replicas: removing,
        })
    }

    pub fn heartbeat(state: &BrokerState, hb: Heartbeat) -> Result<HeartbeatReply, Failure> {
        let req = BrokerHeartbeatRequest::default()
            .with_broker_id(BrokerId(hb.broker_id))
            .with_broker_epoch(hb.broker_epoch)
            .with_current_metadata_offset(hb.metadata_offset)
            .with_want_fence(hb.want_fence)
            .with_want_shut_down(hb.want_shutdown);
        let resp: BrokerHeartbeatResponse = call(state, ApiKey::BrokerHeartbeat, 1, &req)?;
        match error(resp.error_code) {
            Some(e) => Err(e),
            None => Ok(HeartbeatReply { is_caught_up: resp.is_caught_up, is_fenced: resp.is_fenced, should_shut_down: resp.should_shut_down }),
        }
    }
}

/// Heartbeats and the controller's periodic duties, until shutdown.
pub(crate) async fn run(state: Arc<BrokerState>, mut shutdown: ShutdownSignal) {
    let c = &state.config.cluster;
    let mut heartbeat_timer = tokio::time::interval(Duration::from_millis(c.broker_heartbeat_interval_ms));
    let mut rebalance_timer = tokio::time::interval(Duration::from_millis(c.leader_imbalance_check_interval_ms));
    let mut replay_timer = tokio::time::interval(REPLAY_INTERVAL);
    for t in [&mut heartbeat_timer, &mut rebalance_timer, &mut replay_timer] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = replay_timer.tick() => {
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || catch_up(&s)).await;
            }
            _ = heartbeat_timer.tick() => {
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err((code, msg)) = heartbeat(&s, false) {
                        tracing::warn!(error = ?code, "heartbeat refused: {msg}");
                    }
                    if s.metadata().is_active_controller() {
                        if let Err(e) = s.run_controller_task(|c, img, now| c.fence_stale_brokers(img, now)) {
                            tracing::error!(error = %e, "fencing expired brokers failed");
                        }
                    }
                }).await;
            }
            _ = rebalance_timer.tick(), if state.config.cluster.auto_leader_rebalance => {
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if s.metadata().is_active_controller() {
                        if let Err(e) = s.run_controller_task(|c, img, _| c.rebalance_preferred_leaders(img)) {
                            tracing::error!(error = %e, "preferred leader election failed");
                        }
                    }
                }).await;
            }
        }
    }
}

/// How often a node replays what the quorum committed (a follower learns of changes this way).
const REPLAY_INTERVAL: Duration = Duration::from_millis(50);

impl BrokerState {
    fn run_controller_task(
        &self,
        op: impl FnOnce(&mut crate::metadata::controller::Controller, &crate::metadata::MetadataImage, std::time::Instant) -> Vec<crate::metadata::MetadataRecord>,
    ) -> std::io::Result<()> {
        let changes = {
            let mut m = self.metadata();
            let touched = m.submit_records(op)?;
            m.image().partition_changes(&touched, &self.listener_name)
        };
        self.apply_partition_changes(changes);
        Ok(())
    }
}
