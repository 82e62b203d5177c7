//! The metadata log of Streamlet before the cluster (`cluster-metadata.log`): its own records in
//! `[u32 len][u32 crc32c(payload)][payload]` frames, payload = type byte + fields. Read once, on the first start
//! of a data dir written by that version, and converted into Kafka's metadata records ([`convert`]); the encoder
//! stays for the conversion's tests.

use bytes::Buf;
#[cfg(test)]
use bytes::BufMut;
use uuid::Uuid;

use super::cluster::PartitionState;
use super::image::{config_record, partition_record};
use super::records::{self, RESOURCE_TOPIC};
use crate::config::Props;

pub const LEGACY_FILE: &str = "cluster-metadata.log";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    pub configs: Props,
}

/// One change to the cluster's metadata, as the single-broker version wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataRecord {
    ClusterCreated { cluster_id: String },
    TopicCreated(TopicMeta),
    PartitionsIncreased { name: String, total: i32 },
    TopicDeleted { name: String },
    TopicConfigsSet { name: String, configs: Props },
    /// Producer ids below `end` have been (or may have been) handed out: never reuse them.
    ProducerIdBlock { end: i64 },
}

/// The cluster id and Kafka's records equivalent to a legacy log: every partition had this node as its only
/// replica and leader.
pub fn convert(legacy: &[MetadataRecord], node_id: i32) -> (Option<String>, Vec<records::MetadataRecord>) {
    let mut cluster_id = None;
    let mut topics: std::collections::BTreeMap<String, TopicMeta> = Default::default();
    let mut pid_end = 0;
    for r in legacy {
        match r {
            MetadataRecord::ClusterCreated { cluster_id: c } => cluster_id = Some(c.clone()),
            MetadataRecord::TopicCreated(t) => {
                topics.insert(t.name.clone(), t.clone());
            }
            MetadataRecord::PartitionsIncreased { name, total } => {
                if let Some(t) = topics.get_mut(name) {
                    t.partitions = t.partitions.max(*total);
                }
            }
            MetadataRecord::TopicDeleted { name } => {
                topics.remove(name);
            }
            MetadataRecord::TopicConfigsSet { name, configs } => {
                if let Some(t) = topics.get_mut(name) {
                    t.configs = configs.clone();
                }
            }
            MetadataRecord::ProducerIdBlock { end } => pid_end = pid_end.max(*end),
        }
    }
    let mut out = Vec::new();
    for t in topics.values() {
        out.push(records::TopicRecord { name: t.name.clone(), topic_id: t.id }.into());
        for (k, v) in &t.configs {
            out.push(config_record(RESOURCE_TOPIC, &t.name, k, Some(v)));
        }
        for p in 0..t.partitions {
            out.push(partition_record(t.id, p, &PartitionState::single(node_id)));
        }
    }
    if pid_end > 0 {
        out.push(records::ProducerIdsRecord { broker_id: node_id, broker_epoch: -1, next_producer_id: pid_end }.into());
    }
    (cluster_id, out)
}

#[cfg(test)]
fn put_str(out: &mut Vec<u8>, s: &str) {
    out.put_u32(s.len() as u32);
    out.put_slice(s.as_bytes());
}

fn get_str(buf: &mut &[u8]) -> Option<String> {
    if buf.remaining() < 4 {
        return None;
    }
    let len = buf.get_u32() as usize;
    if buf.remaining() < len {
        return None;
    }
    let s = String::from_utf8(buf[..len].to_vec()).ok()?;
    buf.advance(len);
    Some(s)
}

#[cfg(test)]
fn put_props(out: &mut Vec<u8>, props: &Props) {
    out.put_u32(props.len() as u32);
    for (k, v) in props {
        put_str(out, k);
        put_str(out, v);
    }
}

fn get_props(buf: &mut &[u8]) -> Option<Props> {
    if buf.remaining() < 4 {
        return None;
    }
    let n = buf.get_u32();
    let mut props = Props::new();
    for _ in 0..n {
        let k = get_str(buf)?;
        props.insert(k, get_str(buf)?);
    }
    Some(props)
}

#[cfg(test)]
pub fn encode(record: &MetadataRecord) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    match record {
        MetadataRecord::ClusterCreated { cluster_id } => {
            p.put_u8(1);
            put_str(&mut p, cluster_id);
        }
        MetadataRecord::TopicCreated(t) => {
            p.put_u8(2);
            put_str(&mut p, &t.name);
            p.put_slice(t.id.as_bytes());
            p.put_i32(t.partitions);
            put_props(&mut p, &t.configs);
        }
        MetadataRecord::PartitionsIncreased { name, total } => {
            p.put_u8(3);
            put_str(&mut p, name);
            p.put_i32(*total);
        }
        MetadataRecord::TopicDeleted { name } => {
            p.put_u8(4);
            put_str(&mut p, name);
        }
        MetadataRecord::TopicConfigsSet { name, configs } => {
            p.put_u8(5);
            put_str(&mut p, name);
            put_props(&mut p, configs);
        }
        MetadataRecord::ProducerIdBlock { end } => {
            p.put_u8(6);
            p.put_i64(*end);
        }
    }
    let mut out = Vec::with_capacity(p.len() + 8);
    out.put_u32(p.len() as u32);
    out.put_u32(crc32c::crc32c(&p));
    out.extend_from_slice(&p);
    out
}

fn decode_payload(mut p: &[u8]) -> Option<MetadataRecord> {
    let buf = &mut p;
    if !buf.has_remaining() {
        return None;
    }
    let rec = match buf.get_u8() {
        1 => MetadataRecord::ClusterCreated { cluster_id: get_str(buf)? },
        2 => {
            let name = get_str(buf)?;
            if buf.remaining() < 20 {
                return None;
            }
            let mut id = [0u8; 16];
            buf.copy_to_slice(&mut id);
            let partitions = buf.get_i32();
            let configs = get_props(buf)?;
            MetadataRecord::TopicCreated(TopicMeta { name, id: Uuid::from_bytes(id), partitions, configs })
        }
        3 => {
            let name = get_str(buf)?;
            if buf.remaining() < 4 {
                return None;
            }
            MetadataRecord::PartitionsIncreased { name, total: buf.get_i32() }
        }
        4 => MetadataRecord::TopicDeleted { name: get_str(buf)? },
        5 => {
            let name = get_str(buf)?;
            MetadataRecord::TopicConfigsSet { name, configs: get_props(buf)? }
        }
        6 => {
            if buf.remaining() < 8 {
                return None;
            }
            MetadataRecord::ProducerIdBlock { end: buf.get_i64() }
        }
        _ => return None,
    };
    if buf.has_remaining() {
        return None;
    }
    Some(rec)
}

/// Decodes records from the start of `data`; returns them and the length of the valid prefix. Decoding stops at
/// the first torn or corrupt entry (a crash mid-write), which the caller truncates away.
pub fn decode_all(data: &[u8]) -> (Vec<MetadataRecord>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while data.len() - pos >= 8 {
        let len = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        let crc = u32::from_be_bytes(data[pos + 4..pos + 8].try_into().unwrap());
        let Some(payload) = data.get(pos + 8..pos + 8 + len) else { break };
        if crc32c::crc32c(payload) != crc {
            break;
        }
        let Some(rec) = decode_payload(payload) else { break };
        out.push(rec);
        pos += 8 + len;
    }
    (out, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_tail() {
        let recs = vec![
            MetadataRecord::ClusterCreated { cluster_id: "c".into() },
            MetadataRecord::TopicCreated(TopicMeta {
                name: "t".into(),
                id: Uuid::from_u128(7),
                partitions: 3,
                configs: [("retention.ms".to_string(), "5".to_string())].into(),
            }),
            MetadataRecord::PartitionsIncreased { name: "t".into(), total: 4 },
            MetadataRecord::TopicConfigsSet { name: "t".into(), configs: Props::new() },
            MetadataRecord::TopicDeleted { name: "t".into() },
            MetadataRecord::ProducerIdBlock { end: 1000 },
        ];
        let mut data: Vec<u8> = recs.iter().flat_map(encode).collect();
        let (back, len) = decode_all(&data);
        assert_eq!(back, recs);
        assert_eq!(len, data.len());
        data.truncate(data.len() - 3);
        let (back, _) = decode_all(&data);
        assert_eq!(back.len(), recs.len() - 1);
        let mut corrupt: Vec<u8> = recs.iter().flat_map(encode).collect();
        corrupt[10] ^= 1;
        assert!(decode_all(&corrupt).0.is_empty());
    }
}
