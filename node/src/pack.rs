//! Records cross the JS/Rust boundary in packed form, a few values per call instead of a handful of napi calls
//! per record: one buffer with every key, value and header value back to back, one `Float64Array` of numbers
//! per record, and one array of strings (topics and header keys) that the numbers index. `index.js` packs
//! and unpacks (`packRecords` / `unpackRecords`), so both sides must agree on the layouts below.
//!
//! Producer record: topic string index, partition (-1: none), timestamp (NaN: none), key length (-1: null),
//! value length (-1: null), header count; then per header: key string index, value length (-1: null).
//! Consumer record: topic string index, partition, offset, timestamp, timestamp type (0 create, 1 log append),
//! key length, value length, header count; then per header as above.

use std::collections::HashMap;

use bytes::Bytes;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use streamlet::client::consumer::ConsumerRecord;
use streamlet::client::producer::ProducerRecord;
use streamlet::record::TimestampType;

use crate::error;

pub(crate) const PRODUCER_FIELDS: usize = 6;

fn bad(msg: &str) -> napi::Error {
    error::local(error::INVALID_ARG, format!("malformed packed records: {msg}"))
}

struct Cursor<'a> {
    data: &'a Bytes,
    meta: &'a [f64],
    pos: usize,
    at: usize,
}

impl Cursor<'_> {
    fn num(&mut self) -> Result<f64> {
        let v = *self.meta.get(self.at).ok_or_else(|| bad("meta is short"))?;
        self.at += 1;
        Ok(v)
    }

    fn bytes(&mut self, len: f64) -> Result<Option<Bytes>> {
        if len < 0.0 {
            return Ok(None);
        }
        let end = self.pos + len as usize;
        if end > self.data.len() {
            return Err(bad("data is short"));
        }
        let b = self.data.slice(self.pos..end);
        self.pos = end;
        Ok(Some(b))
    }

    fn string<'s>(&mut self, strings: &'s [String]) -> Result<&'s String> {
        let i = self.num()?;
        strings.get(i as usize).ok_or_else(|| bad("string index out of range"))
    }
}

pub(crate) fn unpack_producer(data: &[u8], meta: &[f64], strings: &[String]) -> Result<Vec<ProducerRecord>> {
    let data = Bytes::copy_from_slice(data);
    let mut c = Cursor { data: &data, meta, pos: 0, at: 0 };
    let mut out = Vec::with_capacity(meta.len() / PRODUCER_FIELDS);
    while c.at < meta.len() {
        let topic = c.string(strings)?.clone();
        let partition = c.num()?;
        let timestamp = c.num()?;
        let (key_len, value_len, headers) = (c.num()?, c.num()?, c.num()? as usize);
        let mut r = ProducerRecord::new(topic);
        if partition >= 0.0 {
            r.partition = Some(partition as i32);
        }
        if !timestamp.is_nan() {
            r.timestamp = Some(timestamp as i64);
        }
        r.key = c.bytes(key_len)?;
        r.value = c.bytes(value_len)?;
        for _ in 0..headers {
            let k = c.string(strings)?.clone();
            let len = c.num()?;
            let v = c.bytes(len)?;
            r.headers.push((k, v));
        }
        out.push(r);
    }
    Ok(out)
}

#[napi(object)]
pub struct PackedRecords {
    pub data: Buffer,
    pub meta: Float64Array,
    pub strings: Vec<String>,
}

#[derive(Default)]
pub(crate) struct Packer {
    data: Vec<u8>,
    meta: Vec<f64>,
    strings: Vec<String>,
    index: HashMap<String, usize>,
}

impl Packer {
    fn intern(&mut self, s: &str) -> f64 {
        if let Some(i) = self.index.get(s) {
            return *i as f64;
        }
        let i = self.strings.len();
        self.strings.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i as f64
    }

    fn bytes(&mut self, b: &Option<Bytes>) -> f64 {
        match b {
            None => -1.0,
            Some(b) => {
                self.data.extend_from_slice(b);
                b.len() as f64
            }
        }
    }

    pub fn push(&mut self, r: &ConsumerRecord) {
        let topic = self.intern(&r.topic);
        let ts_type = if r.timestamp_type == TimestampType::LogAppendTime { 1.0 } else { 0.0 };
        let key = self.bytes(&r.key);
        let value = self.bytes(&r.value);
        self.meta.extend_from_slice(&[topic, r.partition as f64, r.offset as f64, r.timestamp as f64, ts_type, key, value, r.headers.len() as f64]);
        for (k, v) in &r.headers {
            let k = self.intern(k);
            let len = self.bytes(v);
            self.meta.extend_from_slice(&[k, len]);
        }
    }

    pub fn finish(self) -> Packed {
        Packed { data: self.data, meta: self.meta, strings: self.strings }
    }
}

/// Packed records before they become JS values (built off the JS thread; `into_js` runs on it).
pub(crate) struct Packed {
    data: Vec<u8>,
    meta: Vec<f64>,
    strings: Vec<String>,
}

impl Packed {
    pub fn into_js(self) -> PackedRecords {
        PackedRecords { data: self.data.into(), meta: Float64Array::new(self.meta), strings: self.strings }
    }
}

pub(crate) fn pack_consumer(records: &[ConsumerRecord]) -> Packed {
    let mut p = Packer::default();
    p.data.reserve(records.iter().map(|r| r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len())).sum());
    p.meta.reserve(records.len() * 8);
    for r in records {
        p.push(r);
    }
    p.finish()
}
