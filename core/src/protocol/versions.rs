//! The one table of API versions this broker serves. ApiVersions answers from it and the dispatcher refuses
//! anything outside it.

use kafka_protocol::messages::ApiKey;

/// (api, min, max) as served. Produce advertises min 0 (see `advertised_min`) but only 3+ is decoded.
pub const SERVED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 10),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    // Controller APIs (served by the active controller; NOT_CONTROLLER elsewhere).
    (ApiKey::AlterPartition, 2, 3),
    (ApiKey::BrokerRegistration, 0, 4),
    (ApiKey::BrokerHeartbeat, 0, 1),
    (ApiKey::AllocateProducerIds, 0, 0),
];

/// The range a client is told about. Older librdkafka disables compression unless Produce's min is 0, so we
/// advertise 0 and refuse 0-2 on use, as Kafka 4 does.
pub fn advertised_range(api: ApiKey) -> Option<(i16, i16)> {
    served_range(api).map(|(min, max)| if api == ApiKey::Produce { (0, max) } else { (min, max) })
}

pub fn served_range(api: ApiKey) -> Option<(i16, i16)> {
    SERVED.iter().find(|(k, _, _)| *k == api).map(|(_, min, max)| (*min, *max))
}

pub fn is_served(api: ApiKey, version: i16) -> bool {
    matches!(served_range(api), Some((min, max)) if version >= min && version <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_ranges_are_decodable_by_the_codec_crate() {
        for (api, min, max) in SERVED {
            let crate_range = api.valid_versions();
            assert!(*min >= crate_range.min && *max <= crate_range.max, "{api:?} {min}-{max} outside {crate_range:?}");
        }
    }

    #[test]
    fn produce_advertises_zero() {
        assert_eq!(advertised_range(ApiKey::Produce), Some((0, 10)));
        assert!(!is_served(ApiKey::Produce, 2));
        assert!(is_served(ApiKey::Produce, 3));
    }
}
