//! Record-level helpers for compacted topics: the produce-time key check and rebuilding a batch with only
//! the records the log cleaner retains.

use bytes::Bytes;

use super::builder::encode_record;
use super::header::{ATTR_COMPRESSION_MASK, ATTR_DELETE_HORIZON};
use super::{batches, compress, records, BatchHeader, Record, RecordError, TimestampType, CRC_OFFSET, HEADER_SIZE};
use super::{batch_crc, LOG_OVERHEAD};

/// Kafka's produce-time rule for `cleanup.policy` including `compact`: every record needs a key, else the
/// request fails with INVALID_RECORD. `buf` holds the concatenated batches of one partition. This decodes
/// (and decompresses) every record, so the broker calls it only for compacted topics, after
/// `validate_produce_batches` (a trailing partial batch is not looked at here).
pub fn validate_keys_for_compaction(buf: &[u8]) -> Result<(), RecordError> {
    for batch in batches(Bytes::copy_from_slice(buf)) {
        let (header, bytes) = batch?;
        if header.is_control() {
            continue;
        }
        for r in records(bytes)? {
            if r?.key.is_none() {
                return Err(RecordError::InvalidRecord("Compacted topic cannot accept message without key".into()));
            }
        }
    }
    Ok(())
}

/// Re-encodes `original` with only `kept` (a subset of its records, in order), as Kafka's cleaner does:
/// base offset, last offset delta, partition leader epoch, producer id/epoch/base sequence, timestamp type and
/// transactional/control bits stay, so every record keeps its offset and the producer-state view of the batch
/// (first/last sequence and offset) is unchanged. The records are compressed with the original codec; an
/// empty result (kept only to remember its producer) is written without a records section and codec bits.
///
/// With `delete_horizon_ms`, the batch gets Kafka's (>= 2.8, KIP-534) delete horizon: attribute bit 6 set and
/// `baseTimestamp` holding the horizon, record timestamp deltas being relative to it.
pub fn rebuild_batch(original: &BatchHeader, kept: &[Record], delete_horizon_ms: Option<i64>) -> Result<Vec<u8>, RecordError> {
    let mut attributes = original.attributes;
    let codec = original.compression()?;
    if kept.is_empty() {
        attributes &= !ATTR_COMPRESSION_MASK;
    }
    let base_timestamp = match delete_horizon_ms {
        Some(h) => {
            attributes |= ATTR_DELETE_HORIZON;
            h
        }
        None if original.has_delete_horizon() => original.base_timestamp,
        None => kept.first().map_or(original.base_timestamp, |r| r.timestamp),
    };
    let max_timestamp = match original.timestamp_type() {
        TimestampType::LogAppendTime => original.max_timestamp,
        TimestampType::CreateTime => kept.iter().map(|r| r.timestamp).max().unwrap_or(original.max_timestamp),
    };
    let mut body = Vec::new();
    for r in kept {
        let delta = r.offset - original.base_offset;
        if delta < 0 || delta > original.last_offset_delta as i64 {
            return Err(RecordError::InvalidRecord(format!("record offset {} outside its batch", r.offset)));
        }
        encode_record(&mut body, r.timestamp - base_timestamp, delta as i32, r.key.as_deref(), r.value.as_deref(), &r.headers);
    }
    let payload = if kept.is_empty() { Vec::new() } else { compress(codec, &body)? };
    let mut out = Vec::with_capacity(HEADER_SIZE + payload.len());
    out.extend_from_slice(&original.base_offset.to_be_bytes());
    out.extend_from_slice(&((HEADER_SIZE - LOG_OVERHEAD + payload.len()) as i32).to_be_bytes());
    out.extend_from_slice(&original.partition_leader_epoch.to_be_bytes());
    out.push(2);
    out.extend_from_slice(&0u32.to_be_bytes()); // crc, filled below
    out.extend_from_slice(&attributes.to_be_bytes());
    out.extend_from_slice(&original.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&base_timestamp.to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&original.producer_id.to_be_bytes());
    out.extend_from_slice(&original.producer_epoch.to_be_bytes());
    out.extend_from_slice(&original.base_sequence.to_be_bytes());
    out.extend_from_slice(&(kept.len() as i32).to_be_bytes());
    out.extend_from_slice(&payload);
    let crc = batch_crc(&out);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{stamp_batch, validate_batch, BatchBuilder, Compression};

    #[test]
    fn keyless_records_refused_for_compaction() {
        let mut b = BatchBuilder::new(Compression::Lz4);
        b.append(1, Some(b"k"), Some(b"v"), &[]);
        let good = b.build().unwrap();
        assert!(validate_keys_for_compaction(&good).is_ok());
        let mut b = BatchBuilder::new(Compression::None);
        b.append(1, Some(b"k"), Some(b"v"), &[]);
        b.append(2, None, Some(b"v"), &[]);
        let mut both = good.clone();
        both.extend(b.build().unwrap());
        let e = validate_keys_for_compaction(&both).unwrap_err();
        assert!(matches!(e, RecordError::InvalidRecord(m) if m.contains("without key")));
    }

    #[test]
    fn rebuilt_batch_keeps_offsets_producer_and_codec() {
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let mut b = BatchBuilder::new(c).producer(9, 2, 40);
            for i in 0..4 {
                b.append(100 + i, Some(format!("k{i}").as_bytes()), if i == 3 { None } else { Some(b"v") }, &[]);
            }
            let mut buf = b.build().unwrap();
            stamp_batch(&mut buf, 1000, 5);
            let h = BatchHeader::parse(&buf).unwrap();
            let all: Vec<Record> = records(Bytes::from(buf)).unwrap().map(|r| r.unwrap()).collect();
            let kept = vec![all[1].clone(), all[3].clone()];
            let out = rebuild_batch(&h, &kept, Some(5_000)).unwrap();
            let n = BatchHeader::parse(&out).unwrap();
            assert_eq!(batch_crc(&out), n.crc);
            assert_eq!(n.total_size(), out.len());
            assert_eq!((n.base_offset, n.last_offset(), n.records_count), (1000, 1003, 2));
            assert_eq!((n.producer_id, n.producer_epoch, n.base_sequence, n.last_sequence()), (9, 2, 40, 43));
            assert_eq!(n.compression().unwrap(), c);
            assert!(n.has_delete_horizon());
            assert_eq!((n.base_timestamp, n.max_timestamp, n.partition_leader_epoch), (5_000, 103, 5));
            // Count != lastOffsetDelta + 1 is what compacted batches look like; only producers must match.
            assert!(validate_batch(&out, 1 << 20).is_err());
            let back: Vec<Record> = records(Bytes::from(out)).unwrap().map(|r| r.unwrap()).collect();
            assert_eq!(back, kept, "{c:?}");
            let empty = rebuild_batch(&h, &[], None).unwrap();
            let e = BatchHeader::parse(&empty).unwrap();
            assert_eq!((e.records_count, e.last_offset(), e.total_size()), (0, 1003, HEADER_SIZE));
            assert_eq!(records(Bytes::from(empty)).unwrap().count(), 0);
        }
    }
}
