//! Messages (consumed records, delivery reports, records seen by interceptors), topic-partition lists and
//! string lists.

use std::ffi::{c_char, c_void, CString};
use std::sync::Mutex;

use bytes::Bytes;
use core_lib::client::consumer::{ConsumerRecord, TopicPartition};
use core_lib::client::producer::ProducerRecord;
use core_lib::record::TimestampType;

use crate::error::{guard, guard_value, streamlet_resp_err, Failure};
use crate::util::{bytes_out, c_string, handle, opt_bytes, out_arg, str_arg, Opaque};

/// A record: consumed (from streamlet_consumer_poll, owned by the caller, freed with streamlet_message_free), a
/// delivery report or a record seen by an interceptor (both borrowed for the callback's duration).
pub struct streamlet_message {
    pub(crate) topic: CString,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) timestamp: i64,
    pub(crate) timestamp_type: TimestampType,
    pub(crate) key: Option<Bytes>,
    pub(crate) value: Option<Bytes>,
    pub(crate) headers: Vec<(CString, Option<Bytes>)>,
    pub(crate) err: streamlet_resp_err,
    pub(crate) errstr: CString,
    pub(crate) opaque: Opaque,
}

fn c_headers(h: &[(String, Option<Bytes>)]) -> Vec<(CString, Option<Bytes>)> {
    h.iter().map(|(k, v)| (c_string(k), v.clone())).collect()
}

impl streamlet_message {
    pub(crate) fn blank(topic: &str) -> streamlet_message {
        streamlet_message {
            topic: c_string(topic),
            partition: -1,
            offset: crate::STREAMLET_OFFSET_INVALID,
            timestamp: -1,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: None,
            headers: Vec::new(),
            err: streamlet_resp_err::STREAMLET_OK,
            errstr: CString::default(),
            opaque: Opaque(std::ptr::null_mut()),
        }
    }

    pub(crate) fn from_record(r: ConsumerRecord) -> streamlet_message {
        streamlet_message {
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp,
            timestamp_type: r.timestamp_type,
            key: r.key,
            value: r.value,
            headers: c_headers(&r.headers),
            ..streamlet_message::blank(&r.topic)
        }
    }

    pub(crate) fn from_producer_record(r: &ProducerRecord) -> streamlet_message {
        streamlet_message {
            partition: r.partition.unwrap_or(crate::STREAMLET_PARTITION_UA),
            timestamp: r.timestamp.unwrap_or(-1),
            key: r.key.clone(),
            value: r.value.clone(),
            headers: c_headers(&r.headers),
            ..streamlet_message::blank(&r.topic)
        }
    }

    pub(crate) fn to_consumer_record(&self) -> ConsumerRecord {
        ConsumerRecord {
            topic: self.topic.to_string_lossy().into_owned(),
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            timestamp_type: self.timestamp_type,
            key: self.key.clone(),
            value: self.value.clone(),
            headers: self.headers.iter().map(|(k, v)| (k.to_string_lossy().into_owned(), v.clone())).collect(),
        }
    }
}

static NONE: Option<Bytes> = None;

/// The topic (borrowed from the message); "" for NULL.
#[no_mangle]
pub extern "C" fn streamlet_message_topic(msg: *const streamlet_message) -> *const c_char {
    guard_value(c"".as_ptr(), || unsafe { msg.as_ref() }.map_or(c"".as_ptr(), |m| m.topic.as_ptr()))
}

/// The partition; -1 when unknown (a failed delivery, or NULL).
#[no_mangle]
pub extern "C" fn streamlet_message_partition(msg: *const streamlet_message) -> i32 {
    guard_value(-1, || unsafe { msg.as_ref() }.map_or(-1, |m| m.partition))
}

/// The offset; STREAMLET_OFFSET_INVALID when unknown.
#[no_mangle]
pub extern "C" fn streamlet_message_offset(msg: *const streamlet_message) -> i64 {
    guard_value(crate::STREAMLET_OFFSET_INVALID, || unsafe { msg.as_ref() }.map_or(crate::STREAMLET_OFFSET_INVALID, |m| m.offset))
}

/// The timestamp in milliseconds since the epoch; -1 when unknown.
#[no_mangle]
pub extern "C" fn streamlet_message_timestamp(msg: *const streamlet_message) -> i64 {
    guard_value(-1, || unsafe { msg.as_ref() }.map_or(-1, |m| m.timestamp))
}

/// STREAMLET_OK, or why the delivery failed (delivery reports, on_acknowledgement).
#[no_mangle]
pub extern "C" fn streamlet_message_err(msg: *const streamlet_message) -> streamlet_resp_err {
    guard_value(streamlet_resp_err::STREAMLET_ERR__INVALID_ARG, || unsafe { msg.as_ref() }.map_or(streamlet_resp_err::STREAMLET_ERR__INVALID_ARG, |m| m.err))
}

/// The failure's message ("" on success), borrowed from the message.
#[no_mangle]
pub extern "C" fn streamlet_message_errstr(msg: *const streamlet_message) -> *const c_char {
    guard_value(c"".as_ptr(), || unsafe { msg.as_ref() }.map_or(c"".as_ptr(), |m| m.errstr.as_ptr()))
}

/// The per-message opaque given to streamlet_producer_send (delivery reports); NULL otherwise.
#[no_mangle]
pub extern "C" fn streamlet_message_opaque(msg: *const streamlet_message) -> *mut c_void {
    guard_value(std::ptr::null_mut(), || unsafe { msg.as_ref() }.map_or(std::ptr::null_mut(), |m| m.opaque.0))
}

/// How many headers the message has.
#[no_mangle]
pub extern "C" fn streamlet_message_header_count(msg: *const streamlet_message) -> usize {
    guard_value(0, || unsafe { msg.as_ref() }.map_or(0, |m| m.headers.len()))
}

/// The key (borrowed from the message) and its length in `*len` (may be NULL); NULL for a null key.
#[no_mangle]
pub extern "C" fn streamlet_message_key(msg: *const streamlet_message, len: *mut usize) -> *const c_void {
    guard_value(std::ptr::null(), || bytes_out(unsafe { msg.as_ref() }.map_or(&NONE, |m| &m.key), len))
}

/// The value (borrowed from the message) and its length in `*len` (may be NULL); NULL for a null value.
#[no_mangle]
pub extern "C" fn streamlet_message_value(msg: *const streamlet_message, len: *mut usize) -> *const c_void {
    guard_value(std::ptr::null(), || bytes_out(unsafe { msg.as_ref() }.map_or(&NONE, |m| &m.value), len))
}

/// Header `index`: its name, and its value and length (value NULL for a null header), all borrowed from the
/// message. STREAMLET_ERR__INVALID_ARG when `index` is out of range.
#[no_mangle]
pub extern "C" fn streamlet_message_header(
    msg: *const streamlet_message,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_void,
    value_len: *mut usize,
) -> streamlet_resp_err {
    guard(|| {
        let m = handle(msg, "msg")?;
        let (name, value, value_len) = (out_arg(name, "name")?, out_arg(value, "value")?, out_arg(value_len, "value_len")?);
        let (k, v) = m.headers.get(index).ok_or_else(|| Failure::arg(format!("header index {index} out of range ({} headers)", m.headers.len())))?;
        *name = k.as_ptr();
        *value = bytes_out(v, value_len);
        Ok(())
    })
}

/// Replaces the key (copied; NULL for a null key). Only for the message an on_send interceptor receives.
#[no_mangle]
pub extern "C" fn streamlet_message_set_key(msg: *mut streamlet_message, key: *const c_void, len: usize) -> streamlet_resp_err {
    guard(|| {
        let m = unsafe { msg.as_mut() }.ok_or_else(|| Failure::arg("msg is NULL"))?;
        m.key = opt_bytes(key, len);
        Ok(())
    })
}

/// Replaces the value (copied; NULL for a null value). Only for the message an on_send interceptor receives.
#[no_mangle]
pub extern "C" fn streamlet_message_set_value(msg: *mut streamlet_message, value: *const c_void, len: usize) -> streamlet_resp_err {
    guard(|| {
        let m = unsafe { msg.as_mut() }.ok_or_else(|| Failure::arg("msg is NULL"))?;
        m.value = opt_bytes(value, len);
        Ok(())
    })
}

/// Frees a message returned by streamlet_consumer_poll. NULL is ignored. Never free a message a callback was
/// given.
#[no_mangle]
pub extern "C" fn streamlet_message_free(msg: *mut streamlet_message) {
    guard_value((), || {
        if !msg.is_null() {
            drop(unsafe { Box::from_raw(msg) });
        }
    })
}

// ------------------------------------------------------------------------------------------ topic-partition lists

pub(crate) struct TpEntry {
    pub topic: CString,
    pub partition: i32,
    pub offset: i64,
    pub err: streamlet_resp_err,
}

/// A list of (topic, partition, offset, error) entries: for assign, pause/resume, commits, committed offsets,
/// rebalance callbacks and list_offsets.
pub struct streamlet_tpl {
    pub(crate) entries: Mutex<Vec<TpEntry>>,
}

impl streamlet_tpl {
    pub(crate) fn from_entries(entries: Vec<TpEntry>) -> streamlet_tpl {
        streamlet_tpl { entries: Mutex::new(entries) }
    }

    pub(crate) fn from_tps<'a>(tps: impl IntoIterator<Item = (&'a TopicPartition, i64)>) -> streamlet_tpl {
        Self::from_entries(
            tps.into_iter()
                .map(|(tp, offset)| TpEntry { topic: c_string(&tp.0), partition: tp.1, offset, err: streamlet_resp_err::STREAMLET_OK })
                .collect(),
        )
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Vec<TpEntry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entries as (TopicPartition, offset).
    pub(crate) fn pairs(&self) -> Vec<(TopicPartition, i64)> {
        self.lock().iter().map(|e| ((e.topic.to_string_lossy().into_owned(), e.partition), e.offset)).collect()
    }
}

/// A new, empty list. Owned by the caller: free with streamlet_tpl_free. NULL only if memory ran out.
#[no_mangle]
pub extern "C" fn streamlet_tpl_new() -> *mut streamlet_tpl {
    guard_value(std::ptr::null_mut(), || Box::into_raw(Box::new(streamlet_tpl::from_entries(Vec::new()))))
}

/// Frees a list. NULL is ignored. Never free a list a callback was given.
#[no_mangle]
pub extern "C" fn streamlet_tpl_free(tpl: *mut streamlet_tpl) {
    guard_value((), || {
        if !tpl.is_null() {
            drop(unsafe { Box::from_raw(tpl) });
        }
    })
}

/// Appends an entry (the topic is copied). `offset` is STREAMLET_OFFSET_INVALID when it does not matter.
#[no_mangle]
pub extern "C" fn streamlet_tpl_add(tpl: *mut streamlet_tpl, topic: *const c_char, partition: i32, offset: i64) -> streamlet_resp_err {
    guard(|| {
        let tpl = handle(tpl, "tpl")?;
        let topic = str_arg(topic, "topic")?;
        if topic.is_empty() || partition < 0 {
            return Err(Failure::arg(format!("invalid topic-partition '{topic}'-{partition}")));
        }
        tpl.lock().push(TpEntry { topic: c_string(topic), partition, offset, err: streamlet_resp_err::STREAMLET_OK });
        Ok(())
    })
}

/// How many entries the list has (0 for NULL).
#[no_mangle]
pub extern "C" fn streamlet_tpl_count(tpl: *const streamlet_tpl) -> usize {
    guard_value(0, || unsafe { tpl.as_ref() }.map_or(0, |t| t.lock().len()))
}

/// Entry `index`: topic (borrowed from the list), partition, offset and per-entry result (any of the four
/// out-parameters may be NULL). STREAMLET_ERR__INVALID_ARG when `index` is out of range.
#[no_mangle]
pub extern "C" fn streamlet_tpl_get(
    tpl: *const streamlet_tpl,
    index: usize,
    topic: *mut *const c_char,
    partition: *mut i32,
    offset: *mut i64,
    err: *mut streamlet_resp_err,
) -> streamlet_resp_err {
    guard(|| {
        let tpl = handle(tpl, "tpl")?;
        let entries = tpl.lock();
        let e = entries.get(index).ok_or_else(|| Failure::arg(format!("index {index} out of range ({} entries)", entries.len())))?;
        unsafe {
            if !topic.is_null() {
                *topic = e.topic.as_ptr();
            }
            if !partition.is_null() {
                *partition = e.partition;
            }
            if !offset.is_null() {
                *offset = e.offset;
            }
            if !err.is_null() {
                *err = e.err;
            }
        }
        Ok(())
    })
}

/// Changes entry `index`'s offset (e.g. in a rebalance callback before committing it).
#[no_mangle]
pub extern "C" fn streamlet_tpl_set_offset(tpl: *mut streamlet_tpl, index: usize, offset: i64) -> streamlet_resp_err {
    guard(|| {
        let tpl = handle(tpl, "tpl")?;
        let mut entries = tpl.lock();
        let n = entries.len();
        entries.get_mut(index).ok_or_else(|| Failure::arg(format!("index {index} out of range ({n} entries)")))?.offset = offset;
        Ok(())
    })
}

// -------------------------------------------------------------------------------------------------- string lists

/// An immutable list of strings (topic names, group ids). Owned by the caller: free with streamlet_strlist_free.
pub struct streamlet_strlist {
    pub(crate) items: Vec<CString>,
}

/// How many strings the list has (0 for NULL).
#[no_mangle]
pub extern "C" fn streamlet_strlist_count(list: *const streamlet_strlist) -> usize {
    guard_value(0, || unsafe { list.as_ref() }.map_or(0, |l| l.items.len()))
}

/// String `index`, borrowed from the list; NULL when out of range.
#[no_mangle]
pub extern "C" fn streamlet_strlist_get(list: *const streamlet_strlist, index: usize) -> *const c_char {
    guard_value(std::ptr::null(), || unsafe { list.as_ref() }.and_then(|l| l.items.get(index)).map_or(std::ptr::null(), |s| s.as_ptr()))
}

/// Frees a list. NULL is ignored.
#[no_mangle]
pub extern "C" fn streamlet_strlist_free(list: *mut streamlet_strlist) {
    guard_value((), || {
        if !list.is_null() {
            drop(unsafe { Box::from_raw(list) });
        }
    })
}
