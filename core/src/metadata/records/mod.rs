//! Kafka's metadata records (`metadata/src/main/resources/common/metadata/*.json` in Apache Kafka), each declared
//! once below, field for field and in the current version of its schema; the encoding is derived from the
//! declaration by [`wire_struct!`] and the record frame by [`metadata_records!`].
//!
//! A record in the metadata log is Kafka's `ApiMessageAndVersion` serde: frame version (1), api key and record
//! version as unsigned varints, then the record in its flexible-version encoding (compact strings and arrays,
//! then the tagged-field section). Only the version listed for each record is written or read: these logs are
//! written by Streamlet only, so the older versions Kafka still reads for upgrades have no writer here.
//! Unknown tagged fields are skipped on read (a newer writer's optional additions) and not written back.

pub mod wire;

use bytes::Buf;
use uuid::Uuid;

pub use wire::RecordError;
use wire::{get_tagged, get_uvarint, put_tagged, put_uvarint, short, Wire};

/// Declares a struct of a flexible-version schema: its regular fields in wire order, then its tagged fields
/// (tag, name, type, default; a tagged field is written only when it differs from its default, as Kafka does).
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $fty:ty, )*
        }
        tagged {
            $( $(#[$tmeta:meta])* $tag:literal => pub $tfield:ident : $tty:ty = $tdefault:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $fty, )*
            $( $(#[$tmeta])* pub $tfield: $tty, )*
        }

        impl Wire for $name {
            fn put(&self, out: &mut Vec<u8>) {
                $( self.$field.put(out); )*
                let present: u32 = 0 $( + u32::from(self.$tfield != <$tty>::from($tdefault)) )*;
                put_uvarint(out, present);
                $( if self.$tfield != <$tty>::from($tdefault) { put_tagged(out, $tag, &self.$tfield); } )*
            }

            fn get(buf: &mut &[u8], _what: &str) -> Result<Self, RecordError> {
                $( let $field = <$fty as Wire>::get(buf, concat!(stringify!($name), ".", stringify!($field)))?; )*
                $( #[allow(unused_mut)] let mut $tfield: $tty = $tdefault; )*
                let count = get_uvarint(buf, concat!(stringify!($name), " tagged field count"))?;
                for _ in 0..count {
                    let tag = get_uvarint(buf, concat!(stringify!($name), " tag"))?;
                    let size = get_uvarint(buf, concat!(stringify!($name), " tagged field size"))? as usize;
                    match tag {
                        $( $tag => $tfield = get_tagged(buf, size, concat!(stringify!($name), ".", stringify!($tfield)))?, )*
                        _ => {
                            if buf.remaining() < size {
                                return Err(short(concat!(stringify!($name), " unknown tagged field")));
                            }
                            buf.advance(size);
                        }
                    }
                }
                Ok($name { $( $field, )* $( $tfield, )* })
            }
        }
    };
}

/// The frame version of `ApiMessageAndVersion` (Kafka's `AbstractApiMessageSerde.DEFAULT_FRAME_VERSION`).
pub const FRAME_VERSION: u32 = 1;

/// Declares the records of the metadata log: name, Kafka api key, the version written.
macro_rules! metadata_records {
    ( $( $(#[$meta:meta])* $name:ident = key $key:literal, version $ver:literal; )* ) => {
        /// One record of the metadata log.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum MetadataRecord {
            $( $(#[$meta])* $name($name), )*
        }

        $( impl From<$name> for MetadataRecord {
            fn from(r: $name) -> Self {
                MetadataRecord::$name(r)
            }
        } )*

        impl MetadataRecord {
            pub fn api_key(&self) -> u16 {
                match self { $( MetadataRecord::$name(_) => $key, )* }
            }

            pub fn version(&self) -> u16 {
                match self { $( MetadataRecord::$name(_) => $ver, )* }
            }

            /// Kafka's `ApiMessageAndVersion` serde: frame version, api key, version, record.
            pub fn encode(&self) -> Vec<u8> {
                let mut out = Vec::with_capacity(64);
                put_uvarint(&mut out, FRAME_VERSION);
                put_uvarint(&mut out, u32::from(self.api_key()));
                put_uvarint(&mut out, u32::from(self.version()));
                match self { $( MetadataRecord::$name(r) => r.put(&mut out), )* }
                out
            }

            /// Decodes one whole framed record; trailing bytes are an error, as in Kafka.
            pub fn decode(mut data: &[u8]) -> Result<Self, RecordError> {
                let buf = &mut data;
                let frame = get_uvarint(buf, "frame version")?;
                if frame != FRAME_VERSION {
                    return Err(RecordError(format!("unknown frame version {frame} (only {FRAME_VERSION} is supported)")));
                }
                let key = get_uvarint(buf, "api key")?;
                let version = get_uvarint(buf, "record version")?;
                let record = match key {
                    $( $key => {
                        if version != $ver {
                            return Err(RecordError(format!(
                                "{} version {version} is not supported (only version {})", stringify!($name), $ver
                            )));
                        }
                        MetadataRecord::$name($name::get(buf, stringify!($name))?)
                    } )*
                    other => return Err(RecordError(format!("unknown metadata record type {other}"))),
                };
                if !buf.is_empty() {
                    return Err(RecordError(format!("{} byte(s) of garbage after record type {key}", buf.len())));
                }
                Ok(record)
            }
        }
    };
}

metadata_records! {
    RegisterBrokerRecord = key 0, version 3;
    UnregisterBrokerRecord = key 1, version 0;
    TopicRecord = key 2, version 0;
    PartitionRecord = key 3, version 2;
    ConfigRecord = key 4, version 0;
    PartitionChangeRecord = key 5, version 2;
    FenceBrokerRecord = key 7, version 0;
    UnfenceBrokerRecord = key 8, version 0;
    RemoveTopicRecord = key 9, version 0;
    FeatureLevelRecord = key 12, version 0;
    ProducerIdsRecord = key 15, version 0;
    BrokerRegistrationChangeRecord = key 17, version 2;
    NoOpRecord = key 20, version 0;
}

wire_struct! {
    pub struct BrokerEndpoint {
        /// The listener name.
        pub name: String,
        pub host: String,
        pub port: u16,
        /// Kafka's `SecurityProtocol` id (0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL).
        pub security_protocol: i16,
    }
    tagged {}
}

wire_struct! {
    pub struct BrokerFeature {
        pub name: String,
        pub min_supported_version: i16,
        pub max_supported_version: i16,
    }
    tagged {}
}

wire_struct! {
    /// A broker registered (or re-registered, with a new epoch) with the controller.
    pub struct RegisterBrokerRecord {
        pub broker_id: i32,
        pub is_migrating_zk_broker: bool,
        pub incarnation_id: Uuid,
        pub broker_epoch: i64,
        pub end_points: Vec<BrokerEndpoint>,
        pub features: Vec<BrokerFeature>,
        pub rack: Option<String>,
        pub fenced: bool,
        pub in_controlled_shutdown: bool,
    }
    tagged {
        0 => pub log_dirs: Vec<Uuid> = Vec::new(),
    }
}

wire_struct! {
    pub struct UnregisterBrokerRecord {
        pub broker_id: i32,
        pub broker_epoch: i64,
    }
    tagged {}
}

wire_struct! {
    pub struct TopicRecord {
        pub name: String,
        pub topic_id: Uuid,
    }
    tagged {}
}

wire_struct! {
    pub struct PartitionRecord {
        pub partition_id: i32,
        pub topic_id: Uuid,
        /// Sorted by preference: the first is the preferred leader.
        pub replicas: Vec<i32>,
        pub isr: Vec<i32>,
        pub removing_replicas: Vec<i32>,
        pub adding_replicas: Vec<i32>,
        /// -1 when there is no leader.
        pub leader: i32,
        pub leader_epoch: i32,
        pub partition_epoch: i32,
        /// One log-directory id per replica (KIP-858); empty when unknown.
        pub directories: Vec<Uuid>,
    }
    tagged {
        /// 0 recovered, 1 recovering (after an unclean election).
        0 => pub leader_recovery_state: i8 = 0,
        1 => pub eligible_leader_replicas: Option<Vec<i32>> = None,
        2 => pub last_known_elr: Option<Vec<i32>> = None,
    }
}

wire_struct! {
    pub struct ConfigRecord {
        /// Kafka's `ConfigResource.Type`: 2 topic, 4 broker.
        pub resource_type: i8,
        pub resource_name: String,
        pub name: String,
        /// None removes the override.
        pub value: Option<String>,
    }
    tagged {}
}

wire_struct! {
    /// A change to a partition: only the fields that changed are present.
    pub struct PartitionChangeRecord {
        pub partition_id: i32,
        pub topic_id: Uuid,
    }
    tagged {
        0 => pub isr: Option<Vec<i32>> = None,
        /// -1 no leader now, -2 unchanged ([`LEADER_UNCHANGED`]).
        1 => pub leader: i32 = LEADER_UNCHANGED,
        2 => pub replicas: Option<Vec<i32>> = None,
        3 => pub removing_replicas: Option<Vec<i32>> = None,
        4 => pub adding_replicas: Option<Vec<i32>> = None,
        /// -1 unchanged.
        5 => pub leader_recovery_state: i8 = -1,
        6 => pub eligible_leader_replicas: Option<Vec<i32>> = None,
        7 => pub last_known_elr: Option<Vec<i32>> = None,
        8 => pub directories: Option<Vec<Uuid>> = None,
    }
}

/// `PartitionChangeRecord.leader` when the leader did not change.
pub const LEADER_UNCHANGED: i32 = -2;

impl PartitionChangeRecord {
    /// A change of `topic_id`-`partition` that changes nothing yet: every tagged field at its default.
    pub fn unchanged(topic_id: Uuid, partition: i32) -> Self {
        PartitionChangeRecord {
            partition_id: partition,
            topic_id,
            isr: None,
            leader: LEADER_UNCHANGED,
            replicas: None,
            removing_replicas: None,
            adding_replicas: None,
            leader_recovery_state: -1,
            eligible_leader_replicas: None,
            last_known_elr: None,
            directories: None,
        }
    }
}

wire_struct! {
    pub struct FenceBrokerRecord {
        pub id: i32,
        pub epoch: i64,
    }
    tagged {}
}

wire_struct! {
    pub struct UnfenceBrokerRecord {
        pub id: i32,
        pub epoch: i64,
    }
    tagged {}
}

wire_struct! {
    pub struct RemoveTopicRecord {
        pub topic_id: Uuid,
    }
    tagged {}
}

wire_struct! {
    pub struct FeatureLevelRecord {
        pub name: String,
        pub feature_level: i16,
    }
    tagged {}
}

wire_struct! {
    /// Producer ids below `next_producer_id` have been handed out (to `broker_id`); the next block starts there.
    pub struct ProducerIdsRecord {
        pub broker_id: i32,
        pub broker_epoch: i64,
        pub next_producer_id: i64,
    }
    tagged {}
}

wire_struct! {
    pub struct BrokerRegistrationChangeRecord {
        pub broker_id: i32,
        pub broker_epoch: i64,
    }
    tagged {
        /// -1 unfenced, 0 no change, 1 fenced.
        0 => pub fenced: i8 = 0,
        /// 0 no change, 1 in controlled shutdown.
        1 => pub in_controlled_shutdown: i8 = 0,
        2 => pub log_dirs: Vec<Uuid> = Vec::new(),
    }
}

wire_struct! {
    /// Written by a new controller leader so that its epoch has a committed entry (Kafka's NoOpRecord).
    pub struct NoOpRecord {}
    tagged {}
}

/// `ConfigRecord.resource_type` of a topic (Kafka's `ConfigResource.Type.TOPIC`).
pub const RESOURCE_TOPIC: i8 = 2;
/// `ConfigRecord.resource_type` of a broker (`ConfigResource.Type.BROKER`).
pub const RESOURCE_BROKER: i8 = 4;
/// The feature every metadata log starts with (Kafka's `MetadataVersion` feature).
pub const METADATA_VERSION_FEATURE: &str = "metadata.version";

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<MetadataRecord> {
        let id = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        vec![
            RegisterBrokerRecord {
                broker_id: 2,
                is_migrating_zk_broker: false,
                incarnation_id: Uuid::from_u128(9),
                broker_epoch: 77,
                end_points: vec![BrokerEndpoint { name: "PLAINTEXT".into(), host: "h".into(), port: 9092, security_protocol: 0 }],
                features: vec![BrokerFeature { name: METADATA_VERSION_FEATURE.into(), min_supported_version: 1, max_supported_version: 21 }],
                rack: Some("r1".into()),
                fenced: true,
                in_controlled_shutdown: false,
                log_dirs: vec![Uuid::from_u128(5)],
            }
            .into(),
            UnregisterBrokerRecord { broker_id: 2, broker_epoch: 77 }.into(),
            TopicRecord { name: "orders".into(), topic_id: id }.into(),
            PartitionRecord {
                partition_id: 3,
                topic_id: id,
                replicas: vec![1, 2, 3],
                isr: vec![1, 2],
                removing_replicas: vec![],
                adding_replicas: vec![],
                leader: 1,
                leader_epoch: 4,
                partition_epoch: 9,
                directories: vec![],
                leader_recovery_state: 0,
                eligible_leader_replicas: Some(vec![3]),
                last_known_elr: None,
            }
            .into(),
            ConfigRecord { resource_type: RESOURCE_TOPIC, resource_name: "orders".into(), name: "retention.ms".into(), value: None }.into(),
            PartitionChangeRecord {
                partition_id: 0,
                topic_id: id,
                isr: Some(vec![1]),
                leader: -1,
                replicas: None,
                removing_replicas: None,
                adding_replicas: None,
                leader_recovery_state: -1,
                eligible_leader_replicas: None,
                last_known_elr: None,
                directories: Some(vec![Uuid::nil()]),
            }
            .into(),
            FenceBrokerRecord { id: 1, epoch: 5 }.into(),
            UnfenceBrokerRecord { id: 1, epoch: 6 }.into(),
            RemoveTopicRecord { topic_id: id }.into(),
            FeatureLevelRecord { name: METADATA_VERSION_FEATURE.into(), feature_level: 21 }.into(),
            ProducerIdsRecord { broker_id: 1, broker_epoch: 5, next_producer_id: 2000 }.into(),
            BrokerRegistrationChangeRecord { broker_id: 1, broker_epoch: 5, fenced: 1, in_controlled_shutdown: 1, log_dirs: vec![] }.into(),
            NoOpRecord {}.into(),
        ]
    }

    #[test]
    fn every_record_round_trips() {
        for r in samples() {
            let bytes = r.encode();
            assert_eq!(MetadataRecord::decode(&bytes).unwrap(), r);
            // Every strict prefix is refused, never mis-read.
            for cut in 0..bytes.len() {
                assert!(MetadataRecord::decode(&bytes[..cut]).is_err(), "{r:?} cut at {cut}");
            }
        }
    }

    /// Bytes derived by hand from TopicRecord.json (v0, flexible): frame 1, key 2, version 0, compact string,
    /// uuid, empty tagged section.
    #[test]
    fn topic_record_bytes_match_kafka_schema() {
        let r: MetadataRecord = TopicRecord { name: "foo".into(), topic_id: Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10) }.into();
        let mut expected = vec![0x01, 0x02, 0x00, 0x04, b'f', b'o', b'o'];
        expected.extend(1..=16u8);
        expected.push(0x00);
        assert_eq!(r.encode(), expected);
    }

    /// PartitionChangeRecord v2: only the tagged fields that differ from their defaults are written, in tag order:
    /// ISR (tag 0) and leader (tag 1); the replicas (tag 2) and the rest stay out.
    #[test]
    fn partition_change_record_bytes_match_kafka_schema() {
        let r: MetadataRecord = PartitionChangeRecord { isr: Some(vec![1, 2]), leader: 2, ..PartitionChangeRecord::unchanged(Uuid::nil(), 7) }.into();
        let mut expected = vec![0x01, 0x05, 0x02, 0, 0, 0, 7];
        expected.extend([0u8; 16]);
        expected.extend([0x02]); // two tagged fields
        expected.extend([0x00, 0x09, 0x03, 0, 0, 0, 1, 0, 0, 0, 2]); // tag 0, 9 bytes: compact array [1, 2]
        expected.extend([0x01, 0x04, 0, 0, 0, 2]); // tag 1, 4 bytes: int32 2
        assert_eq!(r.encode(), expected);
    }

    #[test]
    fn unknown_tagged_fields_are_skipped_and_bad_frames_named() {
        let mut bytes = TopicRecord { name: "a".into(), topic_id: Uuid::nil() }.into_record().encode();
        let last = bytes.len() - 1;
        bytes.truncate(last);
        bytes.extend([0x01, 0x63, 0x02, 0xaa, 0xbb]); // one tagged field, tag 99, 2 bytes
        assert!(matches!(MetadataRecord::decode(&bytes).unwrap(), MetadataRecord::TopicRecord(t) if t.name == "a"));
        assert!(MetadataRecord::decode(&[0x00, 0x02, 0x00]).unwrap_err().0.contains("frame version 0"));
        assert!(MetadataRecord::decode(&[0x01, 0x63, 0x00]).unwrap_err().0.contains("unknown metadata record type 99"));
        assert!(MetadataRecord::decode(&[0x01, 0x02, 0x01]).unwrap_err().0.contains("TopicRecord version 1"));
        let mut garbage = NoOpRecord {}.into_record().encode();
        garbage.push(0);
        assert!(MetadataRecord::decode(&garbage).unwrap_err().0.contains("garbage"));
    }

    trait IntoRecord {
        fn into_record(self) -> MetadataRecord;
    }
    impl<T: Into<MetadataRecord>> IntoRecord for T {
        fn into_record(self) -> MetadataRecord {
            self.into()
        }
    }
}
