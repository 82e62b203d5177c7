//! Records of `__consumer_offsets` in Kafka's own formats, so Kafka's tools can read our log:
//! key v1 = OffsetCommitKey (group, topic, partition), key v2 = GroupMetadataKey (group);
//! OffsetCommitValue v3 (offset, leader epoch, metadata, commit timestamp); GroupMetadataValue v3.
//! A null value is a tombstone (the offset or group was deleted).

use bytes::{Buf, BufMut, Bytes};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordKey {
    Offset { group: String, topic: String, partition: i32 },
    Group { group: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberValue {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupValue {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub current_state_timestamp: i64,
    pub members: Vec<MemberValue>,
}

#[derive(Debug, thiserror::Error)]
#[error("malformed __consumer_offsets record: {0}")]
pub struct FormatError(&'static str);

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn put_opt_str(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

fn put_bytes(b: &mut Vec<u8>, v: &[u8]) {
    b.put_i32(v.len() as i32);
    b.put_slice(v);
}

fn need(buf: &[u8], n: usize) -> Result<(), FormatError> {
    if buf.remaining() < n { Err(FormatError("truncated")) } else { Ok(()) }
}

fn get_i16(buf: &mut &[u8]) -> Result<i16, FormatError> {
    need(buf, 2)?;
    Ok(buf.get_i16())
}

fn get_i32(buf: &mut &[u8]) -> Result<i32, FormatError> {
    need(buf, 4)?;
    Ok(buf.get_i32())
}

fn get_i64(buf: &mut &[u8]) -> Result<i64, FormatError> {
    need(buf, 8)?;
    Ok(buf.get_i64())
}

fn get_opt_str(buf: &mut &[u8]) -> Result<Option<String>, FormatError> {
    let len = get_i16(buf)?;
    if len < 0 {
        return Ok(None);
    }
    need(buf, len as usize)?;
    let s = std::str::from_utf8(&buf[..len as usize]).map_err(|_| FormatError("invalid utf-8"))?.to_string();
    buf.advance(len as usize);
    Ok(Some(s))
}

fn get_str(buf: &mut &[u8]) -> Result<String, FormatError> {
    get_opt_str(buf)?.ok_or(FormatError("null string"))
}

fn get_bytes(buf: &mut &[u8]) -> Result<Bytes, FormatError> {
    let len = get_i32(buf)?;
    if len < 0 {
        return Ok(Bytes::new());
    }
    need(buf, len as usize)?;
    let b = Bytes::copy_from_slice(&buf[..len as usize]);
    buf.advance(len as usize);
    Ok(b)
}

impl RecordKey {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        match self {
            RecordKey::Offset { group, topic, partition } => {
                b.put_i16(1);
                put_str(&mut b, group);
                put_str(&mut b, topic);
                b.put_i32(*partition);
            }
            RecordKey::Group { group } => {
                b.put_i16(2);
                put_str(&mut b, group);
            }
        }
        b
    }

    pub fn decode(mut buf: &[u8]) -> Result<RecordKey, FormatError> {
        let b = &mut buf;
        match get_i16(b)? {
            0 | 1 => Ok(RecordKey::Offset { group: get_str(b)?, topic: get_str(b)?, partition: get_i32(b)? }),
            2 => Ok(RecordKey::Group { group: get_str(b)? }),
            _ => Err(FormatError("unknown key version")),
        }
    }

    pub fn group(&self) -> &str {
        match self {
            RecordKey::Offset { group, .. } | RecordKey::Group { group } => group,
        }
    }
}

impl OffsetValue {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(32 + self.metadata.len());
        b.put_i16(3);
        b.put_i64(self.offset);
        b.put_i32(self.leader_epoch);
        put_str(&mut b, &self.metadata);
        b.put_i64(self.commit_timestamp);
        b
    }

    /// Reads versions 0-3 (the non-flexible ones Kafka writes).
    pub fn decode(mut buf: &[u8]) -> Result<OffsetValue, FormatError> {
        let b = &mut buf;
        let version = get_i16(b)?;
        if !(0..=3).contains(&version) {
            return Err(FormatError("unknown offset value version"));
        }
        let offset = get_i64(b)?;
        let leader_epoch = if version >= 3 { get_i32(b)? } else { -1 };
        let metadata = get_str(b)?;
        let commit_timestamp = get_i64(b)?;
        if version == 1 {
            get_i64(b)?; // expire timestamp, unused since Kafka 2.1
        }
        Ok(OffsetValue { offset, leader_epoch, metadata, commit_timestamp })
    }
}

impl GroupValue {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(128);
        b.put_i16(3);
        put_str(&mut b, &self.protocol_type);
        b.put_i32(self.generation);
        put_opt_str(&mut b, self.protocol.as_deref());
        put_opt_str(&mut b, self.leader.as_deref());
        b.put_i64(self.current_state_timestamp);
        b.put_i32(self.members.len() as i32);
        for m in &self.members {
            put_str(&mut b, &m.member_id);
            put_opt_str(&mut b, m.group_instance_id.as_deref());
            put_str(&mut b, &m.client_id);
            put_str(&mut b, &m.client_host);
            b.put_i32(m.rebalance_timeout_ms);
            b.put_i32(m.session_timeout_ms);
            put_bytes(&mut b, &m.subscription);
            put_bytes(&mut b, &m.assignment);
        }
        b
    }

    /// Reads versions 0-3.
    pub fn decode(mut buf: &[u8]) -> Result<GroupValue, FormatError> {
        let b = &mut buf;
        let version = get_i16(b)?;
        if !(0..=3).contains(&version) {
            return Err(FormatError("unknown group value version"));
        }
        let protocol_type = get_str(b)?;
        let generation = get_i32(b)?;
        let protocol = get_opt_str(b)?;
        let leader = get_opt_str(b)?;
        let current_state_timestamp = if version >= 2 { get_i64(b)? } else { -1 };
        let count = get_i32(b)?;
        if count < 0 || count as usize > b.remaining() {
            return Err(FormatError("bad member count"));
        }
        let mut members = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let member_id = get_str(b)?;
            let group_instance_id = if version >= 3 { get_opt_str(b)? } else { None };
            let client_id = get_str(b)?;
            let client_host = get_str(b)?;
            let rebalance_timeout_ms = if version >= 1 { get_i32(b)? } else { -1 };
            let session_timeout_ms = get_i32(b)?;
            let subscription = get_bytes(b)?;
            let assignment = get_bytes(b)?;
            members.push(MemberValue {
                member_id,
                group_instance_id,
                client_id,
                client_host,
                rebalance_timeout_ms,
                session_timeout_ms,
                subscription,
                assignment,
            });
        }
        Ok(GroupValue { protocol_type, generation, protocol, leader, current_state_timestamp, members })
    }
}

/// Java's `String.hashCode`, which decides a group's `__consumer_offsets` partition (as in Kafka, so the
/// layout matches: `abs(hashCode) % partitions`).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

pub fn partition_for(group: &str, partitions: i32) -> i32 {
    // Kafka's Utils.abs: i32::MIN maps to 0.
    let h = java_string_hash(group);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_round_trip() {
        let k = RecordKey::Offset { group: "g".into(), topic: "t".into(), partition: 3 };
        assert_eq!(RecordKey::decode(&k.encode()).unwrap(), k);
        // Kafka's bytes: version 1, "g", "t", partition 3.
        assert_eq!(k.encode(), vec![0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]);
        let g = RecordKey::Group { group: "grp".into() };
        assert_eq!(RecordKey::decode(&g.encode()).unwrap(), g);
        let v = OffsetValue { offset: 42, leader_epoch: 5, metadata: "m".into(), commit_timestamp: 1000 };
        assert_eq!(OffsetValue::decode(&v.encode()).unwrap(), v);
        let gv = GroupValue {
            protocol_type: "consumer".into(),
            generation: 7,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            current_state_timestamp: 99,
            members: vec![MemberValue {
                member_id: "m1".into(),
                group_instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300000,
                session_timeout_ms: 45000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        assert_eq!(GroupValue::decode(&gv.encode()).unwrap(), gv);
        assert!(GroupValue::decode(&gv.encode()[..20]).is_err());
    }

    #[test]
    fn partition_matches_java() {
        // "hello".hashCode() == 99162322 in Java.
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(partition_for("hello", 50), 99162322 % 50);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE: Kafka's abs gives 0.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
    }
}
