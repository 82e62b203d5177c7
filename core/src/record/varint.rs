//! Zigzag varints as used inside v2 records (the same encoding as protobuf's sint32/sint64).

use super::RecordError;

pub fn put_varint(out: &mut Vec<u8>, v: i32) {
    put_varlong(out, v as i64)
}

/// Encoded size of a zigzag varlong.
pub fn varlong_len(v: i64) -> usize {
    let z = ((v << 1) ^ (v >> 63)) as u64;
    (64 - (z | 1).leading_zeros() as usize).div_ceil(7)
}

pub fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

pub fn get_varlong(buf: &[u8], pos: &mut usize) -> Result<i64, RecordError> {
    let mut z: u64 = 0;
    let mut shift = 0;
    loop {
        let b = *buf
            .get(*pos)
            .ok_or_else(|| RecordError::CorruptMessage("truncated varint".into()))?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return Err(RecordError::CorruptMessage("varlong overflow".into()));
        }
        z |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return Err(RecordError::CorruptMessage("varlong too long".into()));
        }
    }
    Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
}

pub fn get_varint(buf: &[u8], pos: &mut usize) -> Result<i32, RecordError> {
    let v = get_varlong(buf, pos)?;
    i32::try_from(v).map_err(|_| RecordError::CorruptMessage("varint out of range".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trip_and_known_encodings() {
        let mut out = Vec::new();
        put_varint(&mut out, -1);
        put_varint(&mut out, 1);
        put_varint(&mut out, 300);
        // Kafka/protobuf zigzag: -1 -> 1, 1 -> 2, 300 -> 600 = 0xd8 0x04
        assert_eq!(out, vec![0x01, 0x02, 0xd8, 0x04]);
        for v in [0i64, -1, 1, i64::MAX, i64::MIN, i32::MIN as i64, 1 << 40] {
            let mut b = Vec::new();
            put_varlong(&mut b, v);
            let mut pos = 0;
            assert_eq!(get_varlong(&b, &mut pos).unwrap(), v);
            assert_eq!(pos, b.len());
        }
        let mut pos = 0;
        assert!(get_varlong(&[0x80, 0x80], &mut pos).is_err());
    }
}
