//! The field types of Kafka's flexible-version message schemas, as metadata records use them: fixed-width
//! big-endian integers, `uint16`, `bool`, `uuid`, compact (varint length + 1) strings and arrays, each nullable
//! or not, and nested structs with their own tagged-field section.
//!
//! The `kafka-protocol` crate has these primitives, but its `Encoder`/`Decoder` traits are crate-private (it
//! exposes only whole generated messages), so the metadata records, which it does not generate, carry their own
//! copy of the same wire rules here, once.

use bytes::{Buf, BufMut};
use uuid::Uuid;

/// A record or a field that does not decode: names what was being read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed metadata record: {0}")]
pub struct RecordError(pub String);

pub(crate) fn short(what: &str) -> RecordError {
    RecordError(format!("{what}: not enough bytes"))
}

pub fn put_uvarint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

pub fn get_uvarint(buf: &mut &[u8], what: &str) -> Result<u32, RecordError> {
    let mut v: u32 = 0;
    for i in 0..5 {
        if !buf.has_remaining() {
            return Err(short(what));
        }
        let b = buf.get_u8();
        // The fifth byte may carry only the top 4 bits of a u32.
        if i == 4 && b > 0x0f {
            return Err(RecordError(format!("{what}: varint longer than 32 bits")));
        }
        v |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(RecordError(format!("{what}: varint longer than 32 bits")))
}

/// One field type of the schema language: how a value is written and read.
pub trait Wire: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn get(buf: &mut &[u8], what: &str) -> Result<Self, RecordError>;
}

macro_rules! fixed {
    ($t:ty, $put:ident, $get:ident, $n:expr) => {
        impl Wire for $t {
            fn put(&self, out: &mut Vec<u8>) {
                out.$put(*self);
            }
            fn get(buf: &mut &[u8], what: &str) -> Result<Self, RecordError> {
                if buf.remaining() < $n {
                    return Err(short(what));
                }
                Ok(buf.$get())
            }
        }
    };
}
fixed!(i8, put_i8, get_i8, 1);
fixed!(i16, put_i16, get_i16, 2);
fixed!(i32, put_i32, get_i32, 4);
fixed!(i64, put_i64, get_i64, 8);
// Kafka's `uint16` (ports).
fixed!(u16, put_u16, get_u16, 2);

impl Wire for bool {
    fn put(&self, out: &mut Vec<u8>) {
        out.put_u8(u8::from(*self));
    }
    fn get(buf: &mut &[u8], what: &str) -> Result<Self, RecordError> {
        Ok(u8::get(buf, what)? != 0)
    }
}

fixed!(u8, put_u8, get_u8, 1);

impl Wire for Uuid {
    fn put(&self, out: &mut Vec<u8>) {
        out.put_slice(self.as_bytes());
    }
    fn get(buf: &mut &[u8], what: &str) -> Result<Self, RecordError> {
        if buf.remaining() < 16 {
            return Err(short(what));
        }
        let mut b = [0u8; 16];
        buf.copy_to_slice(&mut b);
        Ok(Uuid::from_bytes(b))
    }
}

/// Compact length: varint of `len + 1`, 0 meaning null.
fn get_compact_len(buf: &mut &[u8], what: &str) -> Result<Option<usize>, RecordError> {
    Ok(match get_uvarint(buf, what)? {
        0 => None,
        n => Some(n as usize - 1),
    })
}

fn put_compact_len(out: &mut Vec<u8>, len: Option<usize>) {
    put_uvarint(out, len.map_or(0, |l| l as u32 + 1));
}

impl Wire for String {
    fn put(&self, out: &mut Vec<u8>) {
        put_compact_len(out, Some(self.len()));
        out.put_slice(self.as_bytes());
    }
    fn get(buf: &mut &[u8], what: &str) -> Result<Self, RecordError> {
        Option::<String>::get(buf, what)?.ok_or_else(|| RecordError(format!("{what}: null for a non-nullable string")))
    }
}

impl Wire for Option<String> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Some(s) => s.put(out),
            None => put_compact_len(out, None),
        }
    }
    fn get(buf: &mut &[u8], what: &str) -> Result<Self, RecordError> {
        let Some(len) = get_compact_len(buf, what)? else { return Ok(None) };
        if buf.remaining() < len {
            return Err(short(what));
        }
        let s = std::str::from_utf8(&buf[..len]).map_err(|_| RecordError(format!("{what}: not UTF-8")))?.to_string();
        buf.advance(len);
        Ok(Some(s))
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn put(&self, out: &mut Vec<u8>) {
        put_compact_len(out, Some(self.len()));
        for v in self {
            v.put(out);
        }
    }
    fn get(buf: &mut &[u8], what: &str) -> Result<Self, RecordError> {
        Option::<Vec<T>>::get(buf, what)?.ok_or_else(|| RecordError(format!("{what}: null for a non-nullable array")))
    }
}

impl<T: Wire> Wire for Option<Vec<T>> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.put(out),
            None => put_compact_len(out, None),
        }
    }
    fn get(buf: &mut &[u8], what: &str) -> Result<Self, RecordError> {
        let Some(len) = get_compact_len(buf, what)? else { return Ok(None) };
        // Every element takes at least one byte: a length beyond what is left is corrupt, and checking it first
        // keeps a hostile length from reserving gigabytes.
        if len > buf.remaining() {
            return Err(short(what));
        }
        let mut v = Vec::with_capacity(len);
        for _ in 0..len {
            v.push(T::get(buf, what)?);
        }
        Ok(Some(v))
    }
}

/// Writes a tagged field: tag, size, then the value.
pub fn put_tagged<T: Wire>(out: &mut Vec<u8>, tag: u32, value: &T) {
    let mut body = Vec::new();
    value.put(&mut body);
    put_uvarint(out, tag);
    put_uvarint(out, body.len() as u32);
    out.extend_from_slice(&body);
}

/// Reads one tagged field's value, which must fill exactly `size` bytes.
pub fn get_tagged<T: Wire>(buf: &mut &[u8], size: usize, what: &str) -> Result<T, RecordError> {
    if buf.remaining() < size {
        return Err(short(what));
    }
    let mut body = &buf[..size];
    let v = T::get(&mut body, what)?;
    if !body.is_empty() {
        return Err(RecordError(format!("{what}: {} unread bytes in the tagged field", body.len())));
    }
    buf.advance(size);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarints() {
        for v in [0u32, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            let mut s = &b[..];
            assert_eq!(get_uvarint(&mut s, "v").unwrap(), v);
            assert!(s.is_empty());
        }
        let mut b = Vec::new();
        put_uvarint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        assert!(get_uvarint(&mut &[0xff, 0xff, 0xff, 0xff, 0x1f][..], "v").is_err());
        assert!(get_uvarint(&mut &[0x80][..], "v").is_err());
    }

    #[test]
    fn compact_strings_and_arrays() {
        let mut b = Vec::new();
        "ab".to_string().put(&mut b);
        None::<String>.put(&mut b);
        vec![1i32, 2].put(&mut b);
        None::<Vec<i32>>.put(&mut b);
        assert_eq!(b, [3, b'a', b'b', 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0]);
        let mut s = &b[..];
        assert_eq!(String::get(&mut s, "s").unwrap(), "ab");
        assert_eq!(Option::<String>::get(&mut s, "s").unwrap(), None);
        assert_eq!(Vec::<i32>::get(&mut s, "a").unwrap(), vec![1, 2]);
        assert!(Vec::<i32>::get(&mut s, "a").unwrap_err().0.contains("non-nullable"));
        // A length far beyond the data is refused before anything is allocated.
        assert!(Vec::<i32>::get(&mut &[0xff, 0xff, 0xff, 0xff, 0x0f][..], "a").is_err());
    }
}
