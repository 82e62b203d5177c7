//! End-to-end tests of the group coordinator over a real socket: the join/sync protocol as clients speak it,
//! committed offsets, admin APIs, and persistence across broker restarts.

mod common;

use bytes::Bytes;
use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError as E;
use streamlet::record::Compression;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn gid(v: &str) -> GroupId {
    GroupId(s(v))
}

fn join(w: &mut Wire, version: i16, group: &str, member: &str, instance: Option<&str>) -> JoinGroupResponse {
    let req = JoinGroupRequest::default()
        .with_group_id(gid(group))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(s(member))
        .with_group_instance_id(instance.map(s))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default().with_name(s("range")).with_metadata(Bytes::from_static(b"sub"))]);
    w.send(ApiKey::JoinGroup, version, &req)
}

fn sync(w: &mut Wire, group: &str, member: &str, generation: i32, plan: &[(&str, &[u8])]) -> SyncGroupResponse {
    let req = SyncGroupRequest::default()
        .with_group_id(gid(group))
        .with_member_id(s(member))
        .with_generation_id(generation)
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")))
        .with_assignments(
            plan.iter()
                .map(|(m, a)| sync_group_request::SyncGroupRequestAssignment::default().with_member_id(s(m)).with_assignment(Bytes::copy_from_slice(a)))
                .collect(),
        );
    w.send(ApiKey::SyncGroup, 5, &req)
}

fn commit(w: &mut Wire, group: &str, member: &str, generation: i32, topic_name: &str, partition: i32, offset: i64) -> i16 {
    let req = OffsetCommitRequest::default()
        .with_group_id(gid(group))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(vec![offset_commit_request::OffsetCommitRequestTopic::default().with_name(topic(topic_name)).with_partitions(vec![
            offset_commit_request::OffsetCommitRequestPartition::default()
                .with_partition_index(partition)
                .with_committed_offset(offset)
                .with_committed_metadata(Some(s("meta"))),
        ])]);
    let resp: OffsetCommitResponse = w.send(ApiKey::OffsetCommit, 8, &req);
    resp.topics[0].partitions[0].error_code
}

fn fetch_offset(w: &mut Wire, version: i16, group: &str, topic_name: &str, partition: i32) -> i64 {
    if version >= 8 {
        let req = OffsetFetchRequest::default().with_groups(vec![offset_fetch_request::OffsetFetchRequestGroup::default()
            .with_group_id(gid(group))
            .with_topics(Some(vec![offset_fetch_request::OffsetFetchRequestTopics::default().with_name(topic(topic_name)).with_partition_indexes(vec![partition])]))]);
        let resp: OffsetFetchResponse = w.send(ApiKey::OffsetFetch, version, &req);
        assert_eq!(resp.groups[0].error_code, 0);
        resp.groups[0].topics[0].partitions[0].committed_offset
    } else {
        let req = OffsetFetchRequest::default()
            .with_group_id(gid(group))
            .with_topics(Some(vec![offset_fetch_request::OffsetFetchRequestTopic::default().with_name(topic(topic_name)).with_partition_indexes(vec![partition])]));
        let resp: OffsetFetchResponse = w.send(ApiKey::OffsetFetch, version, &req);
        resp.topics[0].partitions[0].committed_offset
    }
}

/// Waits until the coordinator has loaded (FindCoordinator answers, group APIs stop saying "loading").
fn ready(w: &mut Wire) {
    let resp: FindCoordinatorResponse = w.send(ApiKey::FindCoordinator, 3, &FindCoordinatorRequest::default().with_key(s("probe")));
    assert_eq!(resp.error_code, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let resp: ListGroupsResponse = w.send(ApiKey::ListGroups, 4, &ListGroupsRequest::default());
        if resp.error_code == 0 {
            return;
        }
        assert_eq!(resp.error_code, E::CoordinatorLoadInProgress.code());
        assert!(std::time::Instant::now() < deadline, "coordinator never finished loading");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn find_coordinator_v0_to_v4() {
    let broker = start_broker_with(&[("offsets.topic.num.partitions", "3")]);
    let mut w = Wire::connect(&broker);
    for v in 0..=3 {
        let resp: FindCoordinatorResponse = w.send(ApiKey::FindCoordinator, v, &FindCoordinatorRequest::default().with_key(s("g")));
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.port, broker.local_addr().port() as i32);
    }
    let req = FindCoordinatorRequest::default().with_key_type(0).with_coordinator_keys(vec![s("a"), s("b")]);
    let resp: FindCoordinatorResponse = w.send(ApiKey::FindCoordinator, 4, &req);
    assert_eq!(resp.coordinators.len(), 2);
    assert!(resp.coordinators.iter().all(|c| c.error_code == 0 && c.node_id.0 == 0));
    // The offsets topic now exists, compacted and internal.
    let md: MetadataResponse = w.send(ApiKey::Metadata, 12, &MetadataRequest::default().with_topics(None));
    let t = md.topics.iter().find(|t| t.name.as_ref().unwrap().as_str() == "__consumer_offsets").expect("created");
    assert!(t.is_internal);
    assert_eq!(t.partitions.len(), 3);
    assert_eq!(w.produce(9, 1, "__consumer_offsets", 0, batch(1, Compression::None)).error_code, E::InvalidTopicException.code());
}

#[test]
fn join_sync_heartbeat_commit_leave_over_the_wire() {
    let broker = start_broker_with(&[("group.initial.rebalance.delay.ms", "0"), ("offsets.topic.num.partitions", "2")]);
    let mut w = Wire::connect(&broker);
    ready(&mut w);
    assert_eq!(w.create_topic("gt", 2), 0);
    for (i, p) in [(0usize, 0), (10, 1)] {
        w.produce(9, 1, "gt", p, batch_from(i, 10, Compression::None, None));
    }
    // v4+: first join yields MEMBER_ID_REQUIRED with the id to use.
    let first = join(&mut w, 7, "grp", "", None);
    assert_eq!(first.error_code, E::MemberIdRequired.code());
    let member = first.member_id.to_string();
    assert!(member.starts_with("streamlet-test-"));
    let joined = join(&mut w, 7, "grp", &member, None);
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.leader.as_str(), member);
    assert_eq!(joined.protocol_name.as_ref().unwrap().as_str(), "range");
    assert_eq!(joined.members.len(), 1);
    let synced = sync(&mut w, "grp", &member, 1, &[(&member, b"assignment")]);
    assert_eq!(synced.error_code, 0);
    assert_eq!(&synced.assignment[..], b"assignment");
    let hb: HeartbeatResponse = w.send(ApiKey::Heartbeat, 4, &HeartbeatRequest::default().with_group_id(gid("grp")).with_member_id(s(&member)).with_generation_id(1));
    assert_eq!(hb.error_code, 0);
    let hb: HeartbeatResponse = w.send(ApiKey::Heartbeat, 4, &HeartbeatRequest::default().with_group_id(gid("grp")).with_member_id(s(&member)).with_generation_id(7));
    assert_eq!(hb.error_code, E::IllegalGeneration.code());

    assert_eq!(commit(&mut w, "grp", &member, 1, "gt", 0, 7), 0);
    assert_eq!(commit(&mut w, "grp", &member, 0, "gt", 1, 7), E::IllegalGeneration.code());
    assert_eq!(commit(&mut w, "grp", &member, 1, "nope", 0, 7), E::UnknownTopicOrPartition.code());
    for v in [1i16, 5, 7, 8, 9] {
        assert_eq!(fetch_offset(&mut w, v, "grp", "gt", 0), 7, "OffsetFetch v{v}");
        assert_eq!(fetch_offset(&mut w, v, "grp", "gt", 1), -1);
    }

    let d: DescribeGroupsResponse = w.send(ApiKey::DescribeGroups, 5, &DescribeGroupsRequest::default().with_groups(vec![gid("grp"), gid("none")]));
    assert_eq!(d.groups[0].group_state.as_str(), "Stable");
    assert_eq!(d.groups[0].protocol_data.as_str(), "range");
    assert_eq!(d.groups[0].members[0].member_id.as_str(), member);
    assert_eq!(&d.groups[0].members[0].member_assignment[..], b"assignment");
    assert!(d.groups[0].members[0].client_host.as_str().starts_with("/127.0.0.1"));
    assert_eq!(d.groups[1].group_state.as_str(), "Dead");

    let l: ListGroupsResponse = w.send(ApiKey::ListGroups, 4, &ListGroupsRequest::default().with_states_filter(vec![s("Stable")]));
    assert_eq!(l.groups.len(), 1);
    assert_eq!(l.groups[0].group_state.as_str(), "Stable");
    let l: ListGroupsResponse = w.send(ApiKey::ListGroups, 4, &ListGroupsRequest::default().with_states_filter(vec![s("Empty")]));
    assert!(l.groups.is_empty());

    // A live group cannot be deleted; its offsets of subscribed topics cannot either.
    let del: DeleteGroupsResponse = w.send(ApiKey::DeleteGroups, 2, &DeleteGroupsRequest::default().with_groups_names(vec![gid("grp")]));
    assert_eq!(del.results[0].error_code, E::NonEmptyGroup.code());

    let leave = LeaveGroupRequest::default().with_group_id(gid("grp")).with_members(vec![leave_group_request::MemberIdentity::default().with_member_id(s(&member))]);
    let resp: LeaveGroupResponse = w.send(ApiKey::LeaveGroup, 5, &leave);
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.members[0].error_code, 0);
    let d: DescribeGroupsResponse = w.send(ApiKey::DescribeGroups, 5, &DescribeGroupsRequest::default().with_groups(vec![gid("grp")]));
    assert_eq!(d.groups[0].group_state.as_str(), "Empty");

    let od = OffsetDeleteRequest::default().with_group_id(gid("grp")).with_topics(vec![offset_delete_request::OffsetDeleteRequestTopic::default()
        .with_name(topic("gt"))
        .with_partitions(vec![offset_delete_request::OffsetDeleteRequestPartition::default().with_partition_index(0)])]);
    let resp: OffsetDeleteResponse = w.send(ApiKey::OffsetDelete, 0, &od);
    assert_eq!(resp.error_code, 0);
    assert_eq!(fetch_offset(&mut w, 8, "grp", "gt", 0), -1);

    let del: DeleteGroupsResponse = w.send(ApiKey::DeleteGroups, 2, &DeleteGroupsRequest::default().with_groups_names(vec![gid("grp"), gid("grp")]));
    assert_eq!(del.results[0].error_code, 0);
    assert_eq!(del.results[1].error_code, E::GroupIdNotFound.code());
}

#[test]
fn old_join_versions_add_members_without_a_second_round_trip() {
    let broker = start_broker_with(&[("group.initial.rebalance.delay.ms", "0"), ("offsets.topic.num.partitions", "1")]);
    let mut w = Wire::connect(&broker);
    ready(&mut w);
    for v in [0i16, 1, 2, 3] {
        let group = format!("old-{v}");
        let r = join(&mut w, v, &group, "", None);
        assert_eq!(r.error_code, 0, "JoinGroup v{v}");
        assert_eq!(r.generation_id, 1);
        assert_eq!(sync(&mut w, &group, r.member_id.as_str(), 1, &[]).error_code, 0);
    }
}

#[test]
fn committed_offsets_and_groups_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let props = [("group.initial.rebalance.delay.ms", "0"), ("offsets.topic.num.partitions", "4")];
    {
        let broker = start_broker_in(dir.path(), &props);
        let mut w = Wire::connect(&broker);
        ready(&mut w);
        assert_eq!(w.create_topic("persist", 1), 0);
        // A group-less (assign mode) commit and a member's commit.
        assert_eq!(commit(&mut w, "simple", "", -1, "persist", 0, 42), 0);
        let m = join(&mut w, 7, "live", "", None).member_id.to_string();
        let j = join(&mut w, 7, "live", &m, None);
        sync(&mut w, "live", &m, j.generation_id, &[(&m, b"a")]);
        assert_eq!(commit(&mut w, "live", &m, j.generation_id, "persist", 0, 3), 0);
        broker.shutdown();
    }
    let broker = start_broker_in(dir.path(), &props);
    let mut w = Wire::connect(&broker);
    ready(&mut w);
    assert_eq!(fetch_offset(&mut w, 8, "simple", "persist", 0), 42);
    assert_eq!(fetch_offset(&mut w, 8, "live", "persist", 0), 3);
    // The group came back with its member and generation.
    let d: DescribeGroupsResponse = w.send(ApiKey::DescribeGroups, 5, &DescribeGroupsRequest::default().with_groups(vec![gid("live")]));
    assert_eq!(d.groups[0].group_state.as_str(), "Stable");
    assert_eq!(d.groups[0].members.len(), 1);
    assert_eq!(&d.groups[0].members[0].member_assignment[..], b"a");
}

#[test]
fn compacted_topics_need_keys() {
    let broker = start_broker();
    let mut w = Wire::connect(&broker);
    let req = CreateTopicsRequest::default().with_topics(vec![create_topics_request::CreatableTopic::default()
        .with_name(topic("compacted"))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(vec![create_topics_request::CreatableTopicConfig::default().with_name(s("cleanup.policy")).with_value(Some(s("compact")))])]);
    let resp: CreateTopicsResponse = w.send(ApiKey::CreateTopics, 7, &req);
    assert_eq!(resp.topics[0].error_code, 0);
    let mut b = streamlet::record::BatchBuilder::new(Compression::None);
    b.append(0, None, Some(b"no key"), &[]);
    assert_eq!(w.produce(9, 1, "compacted", 0, b.build().unwrap()).error_code, E::InvalidRecord.code());
    assert_eq!(w.produce(9, 1, "compacted", 0, batch(3, Compression::Lz4)).error_code, 0);
    let req = DeleteRecordsRequest::default().with_topics(vec![delete_records_request::DeleteRecordsTopic::default()
        .with_name(topic("compacted"))
        .with_partitions(vec![delete_records_request::DeleteRecordsPartition::default().with_partition_index(0).with_offset(1)])]);
    let resp: DeleteRecordsResponse = w.send(ApiKey::DeleteRecords, 2, &req);
    assert_eq!(resp.topics[0].partitions[0].error_code, E::PolicyViolation.code());
}
