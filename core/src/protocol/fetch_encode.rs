//! Fetch responses without copying the records: the response is encoded by `kafka-protocol` with a 16-byte
//! marker in place of each large records field, then split at the markers so that the frame goes out as
//! parts, the records being the very buffers read from the segment files. The bytes on the wire are exactly what
//! encoding the whole response would give (tested below for every served version).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{FetchResponse, ResponseHeader};
use kafka_protocol::protocol::{Encodable, HeaderVersion};

/// Records smaller than this are copied into the frame: a separate part costs more than the copy.
const ZERO_COPY_MIN: usize = 4096;
const MARKER_LEN: usize = 16;
/// Fetch v12 is the first flexible version: records carry a varint length (+1) instead of an i32.
const FIRST_FLEXIBLE: i16 = 12;

fn unsigned_varint(mut v: u32, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The frame (size prefix, header, body) of `resp` as parts to be written in order.
pub fn encode_fetch_response(correlation_id: i32, version: i16, mut resp: FetchResponse) -> anyhow::Result<Vec<Bytes>> {
    let nonce = uuid::Uuid::new_v4();
    let nonce = &nonce.as_bytes()[..MARKER_LEN - 4];
    let mut taken: Vec<Bytes> = Vec::new();
    for t in resp.responses.iter_mut() {
        for p in t.partitions.iter_mut() {
            if p.records.as_ref().is_some_and(|r| r.len() >= ZERO_COPY_MIN) {
                let mut marker = Vec::with_capacity(MARKER_LEN);
                marker.extend_from_slice(nonce);
                marker.extend_from_slice(&(taken.len() as u32).to_be_bytes());
                taken.push(p.records.replace(Bytes::from(marker)).expect("checked above"));
            }
        }
    }
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_version = FetchResponse::header_version(version);
    let size = 4 + header.compute_size(header_version)? + resp.compute_size(version)?;
    let mut frame = BytesMut::with_capacity(size);
    frame.put_i32(0);
    header.encode(&mut frame, header_version)?;
    resp.encode(&mut frame, version)?;

    // Where each marker sits, and how long its length prefix is.
    let prefix_len = if version >= FIRST_FLEXIBLE { 1 } else { 4 };
    let mut cuts: Vec<usize> = Vec::with_capacity(taken.len());
    let mut from = 0;
    for i in 0..taken.len() {
        let at = frame[from..]
            .windows(MARKER_LEN)
            .position(|w| &w[..MARKER_LEN - 4] == nonce && w[MARKER_LEN - 4..] == (i as u32).to_be_bytes())
            .map(|p| p + from)
            .ok_or_else(|| anyhow::anyhow!("fetch response marker {i} not found"))?;
        anyhow::ensure!(at >= from + prefix_len, "fetch response marker {i} has no length prefix");
        cuts.push(at);
        from = at + MARKER_LEN;
    }
    let mut prefixes: Vec<Vec<u8>> = Vec::with_capacity(taken.len());
    for r in &taken {
        let mut p = Vec::with_capacity(5);
        if version >= FIRST_FLEXIBLE {
            unsigned_varint(u32::try_from(r.len() + 1)?, &mut p);
        } else {
            p.extend_from_slice(&i32::try_from(r.len())?.to_be_bytes());
        }
        prefixes.push(p);
    }
    // Each marker and its length prefix give way to the records and their real prefix.
    let grown: usize = taken.iter().zip(&prefixes).map(|(r, p)| r.len() + p.len()).sum();
    let total = frame.len() + grown - taken.len() * (MARKER_LEN + prefix_len);
    frame[..4].copy_from_slice(&i32::try_from(total - 4)?.to_be_bytes());
    let frame = frame.freeze();
    let mut parts = Vec::with_capacity(taken.len() * 3 + 1);
    let mut last = 0;
    for ((at, prefix), records) in cuts.into_iter().zip(prefixes).zip(taken) {
        parts.push(frame.slice(last..at - prefix_len));
        parts.push(Bytes::from(prefix));
        parts.push(records);
        last = at + MARKER_LEN;
    }
    parts.push(frame.slice(last..));
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codec::encode_response;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::StrBytes;

    fn records(n: usize, seed: u8) -> Bytes {
        Bytes::from((0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect::<Vec<u8>>())
    }

    fn response(sizes: &[Option<usize>]) -> FetchResponse {
        let partitions = sizes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                PartitionData::default()
                    .with_partition_index(i as i32)
                    .with_high_watermark(1000 + i as i64)
                    .with_last_stable_offset(1000)
                    .with_log_start_offset(0)
                    .with_records(s.map(|n| records(n, i as u8)))
            })
            .collect();
        FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
            .with_topic(TopicName(StrBytes::from_static_str("zero-copy")))
            .with_partitions(partitions)])
    }

    #[test]
    fn parts_are_byte_identical_to_the_plain_encoding_in_every_version() {
        let cases: &[&[Option<usize>]] = &[
            &[],
            &[None],
            &[Some(10)],
            &[Some(5000)],
            &[Some(100), None, Some(70_000), Some(4096), Some(200_000), Some(0)],
        ];
        for version in 4..=12 {
            for sizes in cases {
                let plain = encode_response(7, version, &response(sizes)).unwrap();
                let parts = encode_fetch_response(7, version, response(sizes)).unwrap();
                let joined: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
                assert_eq!(joined.len(), plain.len(), "v{version} {sizes:?}");
                assert!(joined == plain[..], "v{version} {sizes:?}: bytes differ");
                let big = sizes.iter().flatten().filter(|n| **n >= ZERO_COPY_MIN).count();
                assert_eq!(parts.len(), big * 3 + 1, "v{version} {sizes:?}");
            }
        }
    }
}
