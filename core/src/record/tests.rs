//! End-to-end tests of the record layer: builder -> validate -> stamp -> decode.

use bytes::Bytes;

use super::*;

const MAX: usize = 1 << 20;

fn sample(c: Compression) -> Vec<u8> {
    let mut b = BatchBuilder::new(c).producer(7, 1, 10);
    b.append(1000, Some(b"k0"), Some(b"v0"), &[("h".to_string(), Some(Bytes::from_static(b"x")))]);
    b.append(1005, None, Some(&[0u8; 300]), &[]);
    b.append(999, Some(b"k2"), None, &[("n".to_string(), None)]);
    b.build().unwrap()
}

#[test]
fn round_trip_every_codec() {
    for c in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let mut buf = sample(c);
        let hs = validate_produce_batches(&buf, MAX).unwrap();
        assert_eq!(hs.len(), 1);
        let h = hs[0];
        assert_eq!(h.compression().unwrap(), c);
        assert_eq!((h.records_count, h.last_offset_delta), (3, 2));
        assert_eq!((h.base_timestamp, h.max_timestamp), (1000, 1005));
        assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence, h.last_sequence()), (7, 1, 10, 12));
        assert_eq!(h.total_size(), buf.len());
        stamp_batch(&mut buf, 500, 3);
        let recs: Vec<Record> = records(Bytes::from(buf)).unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 3, "{c:?}");
        assert_eq!(recs[0].offset, 500);
        assert_eq!(recs[0].key.as_deref(), Some(&b"k0"[..]));
        assert_eq!(recs[0].headers, vec![("h".to_string(), Some(Bytes::from_static(b"x")))]);
        assert_eq!((recs[1].offset, recs[1].timestamp, recs[1].key.clone()), (501, 1005, None));
        assert_eq!(recs[1].value.as_ref().unwrap().len(), 300);
        assert_eq!((recs[2].timestamp, recs[2].value.clone()), (999, None));
        assert_eq!(recs[2].headers, vec![("n".to_string(), None)]);
    }
}

#[test]
fn several_batches_validate_and_iterate() {
    let mut buf = sample(Compression::None);
    buf.extend(sample(Compression::Lz4));
    assert_eq!(validate_produce_batches(&buf, MAX).unwrap().len(), 2);
    // A trailing partial batch (as in a size-capped fetch response) is skipped by the iterator.
    buf.extend_from_slice(&sample(Compression::None)[..30]);
    assert_eq!(batches(Bytes::from(buf)).count(), 2);
}

#[test]
fn flipped_byte_fails_crc() {
    let good = sample(Compression::None);
    for at in [21, 40, good.len() - 1] {
        let mut buf = good.clone();
        buf[at] ^= 0x01;
        assert!(matches!(validate_produce_batches(&buf, MAX), Err(RecordError::CorruptMessage(_))), "{at}");
    }
}

#[test]
fn stamping_keeps_crc_valid() {
    let mut buf = sample(Compression::Gzip);
    stamp_batch(&mut buf, i64::MAX / 2, 42);
    let h = validate_produce_batches(&buf, MAX).unwrap()[0];
    assert_eq!((h.base_offset, h.partition_leader_epoch, h.last_offset()), (i64::MAX / 2, 42, i64::MAX / 2 + 2));
}

#[test]
fn log_append_time_rewrites_timestamps_and_crc() {
    let mut buf = sample(Compression::Snappy);
    set_log_append_time(&mut buf, 777);
    let h = validate_produce_batches(&buf, MAX).unwrap()[0];
    assert_eq!((h.timestamp_type(), h.max_timestamp), (TimestampType::LogAppendTime, 777));
    assert!(records(Bytes::from(buf)).unwrap().all(|r| r.unwrap().timestamp == 777));
}

#[test]
fn last_offset_delta_mismatch_rejected() {
    let mut buf = sample(Compression::None);
    buf[23..27].copy_from_slice(&5i32.to_be_bytes());
    let crc = batch_crc(&buf);
    buf[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(validate_produce_batches(&buf, MAX), Err(RecordError::InvalidRecord(_))));
}

#[test]
fn truncated_oversized_and_bad_magic_rejected() {
    let buf = sample(Compression::None);
    for cut in [5, 20, 61, buf.len() - 1] {
        assert!(matches!(validate_produce_batches(&buf[..cut], MAX), Err(RecordError::CorruptMessage(_))), "{cut}");
    }
    assert!(matches!(validate_produce_batches(&buf, 100), Err(RecordError::MessageTooLarge { .. })));
    assert!(matches!(validate_produce_batches(&[], MAX), Err(RecordError::InvalidRecord(_))));
    let mut old = buf.clone();
    old[16] = 1;
    assert_eq!(validate_produce_batches(&old, MAX), Err(RecordError::UnsupportedMagic(1)));
}

#[test]
fn control_batches_refused_from_producers() {
    let mut buf = sample(Compression::None);
    buf[22] |= ATTR_CONTROL as u8;
    let crc = batch_crc(&buf);
    buf[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(validate_produce_batches(&buf, MAX), Err(RecordError::InvalidRecord(_))));
}

#[test]
fn crc32c_matches_standard_check_value() {
    // The published CRC-32C (Castagnoli) check value for "123456789".
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
}

/// Laid out by hand from the protocol guide; the CRC was computed with an independent bitwise CRC-32C
/// (polynomial 0x82F63B78) outside this crate.
#[rustfmt::skip]
const HAND_BATCH: [u8; 70] = [
    0, 0, 0, 0, 0, 0, 0, 0,             // baseOffset 0
    0, 0, 0, 0x3a,                      // batchLength 58
    0xff, 0xff, 0xff, 0xff,             // partitionLeaderEpoch -1 (as producers send)
    0x02,                               // magic
    0xe9, 0x9b, 0x8d, 0xd8,             // crc
    0, 0,                               // attributes
    0, 0, 0, 0,                         // lastOffsetDelta
    0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // baseTimestamp 1700000000000
    0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // maxTimestamp
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producerId -1
    0xff, 0xff,                         // producerEpoch -1
    0xff, 0xff, 0xff, 0xff,             // baseSequence -1
    0, 0, 0, 1,                         // recordsCount
    0x10, 0x00, 0x00, 0x00, 0x02, b'k', 0x02, b'v', 0x00, // len 8, attrs, tsDelta, offDelta, key "k", value "v", 0 headers
];

#[test]
fn golden_hand_computed_batch() {
    let mut b = BatchBuilder::new(Compression::None);
    b.append(1_700_000_000_000, Some(b"k"), Some(b"v"), &[]);
    assert_eq!(b.build().unwrap(), HAND_BATCH.to_vec());
    let h = validate_produce_batches(&HAND_BATCH, MAX).unwrap()[0];
    assert_eq!(h.crc, 0xe99b_8dd8);
    let r = records(Bytes::from_static(&HAND_BATCH)).unwrap().next().unwrap().unwrap();
    assert_eq!((r.offset, r.timestamp, r.key.unwrap(), r.value.unwrap()), (0, 1_700_000_000_000, Bytes::from_static(b"k"), Bytes::from_static(b"v")));
}

/// The batch used in the `kafka-protocol` crate's fetch-response test (tests/all_tests/fetch_response.rs), an
/// externally produced vector. Its count (1) differs from lastOffsetDelta + 1 (4), as in a compacted batch, so
/// it is valid on disk but must be refused as producer input.
#[rustfmt::skip]
const EXTERNAL_BATCH: [u8; 79] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x43, 0, 0, 0, 0, 0x02, 0x73, 0x6d, 0x29, 0x7b, 0, 0, 0, 0, 0, 0x03,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x01, 0x22, 0x01, 0xd0, 0x0f, 0x02, 0x0a, b'h', b'e', b'l', b'l', b'o', 0x0a, b'w', b'o', b'r', b'l', b'd', 0x00,
];

#[test]
fn golden_external_batch() {
    let h = BatchHeader::parse(&EXTERNAL_BATCH).unwrap();
    assert_eq!(batch_crc(&EXTERNAL_BATCH), h.crc);
    assert_eq!((h.last_offset_delta, h.records_count, h.total_size()), (3, 1, 79));
    assert!(matches!(validate_produce_batches(&EXTERNAL_BATCH, MAX), Err(RecordError::InvalidRecord(_))));
    let r = records(Bytes::from_static(&EXTERNAL_BATCH)).unwrap().next().unwrap().unwrap();
    assert_eq!((r.offset, r.timestamp), (1, h.base_timestamp + 1000));
    assert_eq!((r.key.unwrap(), r.value.unwrap()), (Bytes::from_static(b"hello"), Bytes::from_static(b"world")));
}
