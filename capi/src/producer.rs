//! `streamlet_producer`: sends records; delivery reports, interceptors' acknowledgements and the partitioner run
//! on the application's threads (producer_poll/flush/close, producer_send).

use std::ffi::{c_char, c_void};
use std::time::Duration;

use core_lib::client::producer::{DeliveryResult, PartitionChooser, Producer, ProducerConfig, ProducerInterceptor, ProducerRecord, RecordMetadata};
use core_lib::client::ClientError;

use crate::conf::{streamlet_conf, Role};
use crate::error::{client_code, guard, guard_value, streamlet_resp_err, Failure, Res};
use crate::message::streamlet_message;
use crate::util::{c_string, handle, opt_bytes, out_arg, str_arg, timeout, Opaque};

/// Delivery report: `msg` (borrowed for the call) carries the outcome (streamlet_message_err), topic,
/// partition, offset, timestamp, key, value and the per-message opaque; `opaque` is the conf's.
pub type streamlet_dr_cb = Option<unsafe extern "C" fn(producer: *mut streamlet_producer, msg: *const streamlet_message, opaque: *mut c_void)>;

/// Custom partitioner for records sent with STREAMLET_PARTITION_UA: returns a partition in
/// [0, partition_count). `topic`, `key` and `value` are borrowed for the call (key/value NULL when null).
pub type streamlet_partitioner_cb = Option<
    unsafe extern "C" fn(topic: *const c_char, key: *const c_void, key_len: usize, value: *const c_void, value_len: usize, partition_count: i32, opaque: *mut c_void) -> i32,
>;

/// A producer interceptor (Kafka's ProducerInterceptor); any callback may be NULL. `on_send` runs inside
/// streamlet_producer_send before partitioning and may change the record through streamlet_message_set_key /
/// _set_value; `on_acknowledgement` runs for every record (delivered or failed) from producer_poll/flush/close
/// just before its delivery report; `on_close` runs once when the producer is closed.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct streamlet_producer_interceptor {
    pub on_send: Option<unsafe extern "C" fn(msg: *mut streamlet_message, opaque: *mut c_void)>,
    pub on_acknowledgement: Option<unsafe extern "C" fn(msg: *const streamlet_message, opaque: *mut c_void)>,
    pub on_close: Option<unsafe extern "C" fn(opaque: *mut c_void)>,
    pub opaque: *mut c_void,
}

unsafe impl Send for streamlet_producer_interceptor {}
unsafe impl Sync for streamlet_producer_interceptor {}

/// A record header for streamlet_producer_send: `name` NUL-terminated, `value` NULL for a null header.
#[repr(C)]
pub struct streamlet_header {
    pub name: *const c_char,
    pub value: *const c_void,
    pub value_len: usize,
}

/// A producer. Safe to use from several threads.
pub struct streamlet_producer {
    inner: Producer,
    dr_cb: streamlet_dr_cb,
    opaque: Opaque,
}

struct CPartitioner {
    cb: unsafe extern "C" fn(*const c_char, *const c_void, usize, *const c_void, usize, i32, *mut c_void) -> i32,
    opaque: Opaque,
}

fn slice_ptr(b: Option<&[u8]>) -> (*const c_void, usize) {
    b.map_or((std::ptr::null(), 0), |b| (if b.is_empty() { b"".as_ptr() } else { b.as_ptr() }.cast(), b.len()))
}

impl PartitionChooser for CPartitioner {
    fn partition(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, partition_count: i32, _available: &[i32]) -> i32 {
        let topic = c_string(topic);
        let ((k, kl), (v, vl)) = (slice_ptr(key), slice_ptr(value));
        unsafe { (self.cb)(topic.as_ptr(), k, kl, v, vl, partition_count, self.opaque.0) }
    }
}

fn report(result: &DeliveryResult, base: streamlet_message) -> streamlet_message {
    match result {
        Ok(md) => streamlet_message { partition: md.partition, offset: md.offset, timestamp: md.timestamp, ..base },
        Err(e) => streamlet_message { err: client_code(e), errstr: c_string(&e.to_string()), ..base },
    }
}

impl ProducerInterceptor for streamlet_producer_interceptor {
    fn on_send(&self, record: ProducerRecord) -> ProducerRecord {
        let Some(cb) = self.on_send else { return record };
        let mut msg = streamlet_message::from_producer_record(&record);
        unsafe { cb(&mut msg, self.opaque) };
        ProducerRecord { key: msg.key, value: msg.value, ..record }
    }

    fn on_acknowledgement(&self, result: &Result<RecordMetadata, ClientError>) {
        let Some(cb) = self.on_acknowledgement else { return };
        let topic = result.as_ref().map_or("", |md| md.topic.as_str());
        let msg = report(result, streamlet_message::blank(topic));
        unsafe { cb(&msg, self.opaque) };
    }

    fn close(&self) {
        if let Some(cb) = self.on_close {
            unsafe { cb(self.opaque) };
        }
    }
}

/// Creates a producer from `conf` (which needs `bootstrap.servers`; the conf is copied and stays the caller's).
/// `*out` is owned by the caller: free with streamlet_producer_free.
#[no_mangle]
pub extern "C" fn streamlet_producer_new(conf: *const streamlet_conf, out: *mut *mut streamlet_producer) -> streamlet_resp_err {
    guard(|| {
        let st = handle(conf, "conf")?.snapshot();
        let out = out_arg(out, "out")?;
        let cfg = ProducerConfig::from_props(&st.props_for(Role::Producer))?;
        let mut b = Producer::builder(cfg);
        for ic in &st.producer_interceptors {
            b = b.interceptor(*ic);
        }
        if let Some(cb) = st.partitioner {
            b = b.partitioner(CPartitioner { cb, opaque: st.partitioner_opaque });
        }
        let inner = b.build()?;
        *out = Box::into_raw(Box::new(streamlet_producer { inner, dr_cb: st.dr_cb, opaque: st.opaque }));
        Ok(())
    })
}

struct SendArgs {
    record: ProducerRecord,
}

#[allow(clippy::too_many_arguments)]
fn build_record(
    topic: *const c_char,
    partition: i32,
    key: *const c_void,
    key_len: usize,
    value: *const c_void,
    value_len: usize,
    headers: *const streamlet_header,
    header_count: usize,
    timestamp: i64,
) -> Res<SendArgs> {
    let topic = str_arg(topic, "topic")?;
    if topic.is_empty() {
        return Err(Failure::arg("topic is empty"));
    }
    if partition < crate::STREAMLET_PARTITION_UA {
        return Err(Failure::arg(format!("invalid partition {partition}")));
    }
    if headers.is_null() && header_count > 0 {
        return Err(Failure::arg("headers is NULL but header_count > 0"));
    }
    let mut record = ProducerRecord::new(topic);
    if partition >= 0 {
        record = record.partition(partition);
    }
    record.key = opt_bytes(key, key_len);
    record.value = opt_bytes(value, value_len);
    if timestamp > 0 {
        record = record.timestamp(timestamp);
    }
    if header_count > 0 {
        for h in unsafe { std::slice::from_raw_parts(headers, header_count) } {
            let name = str_arg(h.name, "header name")?;
            record = record.header(name, opt_bytes(h.value, h.value_len));
        }
    }
    Ok(SendArgs { record })
}

struct ProducerPtr(*mut streamlet_producer);
unsafe impl Send for ProducerPtr {}

/// Sends a record asynchronously. `partition` is a partition number or STREAMLET_PARTITION_UA (the partitioner
/// picks one); `key`/`value` NULL mean null (both are copied); `headers` may be NULL when `header_count` is 0;
/// `timestamp` is milliseconds since the epoch, or 0 for now; `msg_opaque` comes back in the delivery report.
/// Failures after the argument checks (unknown topic, timeouts, a closed producer) arrive in the delivery report
/// served by streamlet_producer_poll / _flush. May block up to `max.block.ms` for metadata or buffer space.
#[no_mangle]
pub extern "C" fn streamlet_producer_send(
    producer: *mut streamlet_producer,
    topic: *const c_char,
    partition: i32,
    key: *const c_void,
    key_len: usize,
    value: *const c_void,
    value_len: usize,
    headers: *const streamlet_header,
    header_count: usize,
    timestamp: i64,
    msg_opaque: *mut c_void,
) -> streamlet_resp_err {
    guard(|| {
        let p = handle(producer, "producer")?;
        let args = build_record(topic, partition, key, key_len, value, value_len, headers, header_count, timestamp)?;
        let Some(dr) = p.dr_cb else {
            p.inner.send(args.record);
            return Ok(());
        };
        let base = streamlet_message { opaque: Opaque(msg_opaque), ..streamlet_message::from_producer_record(&args.record) };
        let (me, opaque) = (ProducerPtr(producer), p.opaque);
        p.inner.send_with_callback(args.record, move |result| {
            let (me, opaque) = (me, opaque);
            let msg = report(&result, base);
            unsafe { dr(me.0, &msg, opaque.0) };
        });
        Ok(())
    })
}

/// Sends a record and waits for its acknowledgement (arguments as streamlet_producer_send, without an opaque;
/// no delivery report is produced for it). On success writes the partition and offset (either out-parameter
/// may be NULL). Serves other records' delivery reports only through producer_poll/flush.
#[no_mangle]
pub extern "C" fn streamlet_producer_send_sync(
    producer: *mut streamlet_producer,
    topic: *const c_char,
    partition: i32,
    key: *const c_void,
    key_len: usize,
    value: *const c_void,
    value_len: usize,
    headers: *const streamlet_header,
    header_count: usize,
    timestamp: i64,
    partition_out: *mut i32,
    offset_out: *mut i64,
) -> streamlet_resp_err {
    guard(|| {
        let p = handle(producer, "producer")?;
        let args = build_record(topic, partition, key, key_len, value, value_len, headers, header_count, timestamp)?;
        let md = p.inner.send(args.record).wait()?;
        unsafe {
            if !partition_out.is_null() {
                *partition_out = md.partition;
            }
            if !offset_out.is_null() {
                *offset_out = md.offset;
            }
        }
        Ok(())
    })
}

/// Serves delivery reports (and interceptors' on_acknowledgement) on this thread, waiting up to `timeout_ms`
/// (negative: indefinitely) for the first. Returns how many records were served; -1 when `producer` is NULL.
#[no_mangle]
pub extern "C" fn streamlet_producer_poll(producer: *mut streamlet_producer, timeout_ms: i32) -> i32 {
    guard_value(-1, || match unsafe { producer.as_ref() } {
        Some(p) => p.inner.poll(timeout(timeout_ms)).min(i32::MAX as usize) as i32,
        None => -1,
    })
}

/// Sends everything buffered now and waits until every record sent before this call is acknowledged, serving
/// delivery reports on this thread. STREAMLET_ERR__TIMED_OUT when `timeout_ms` passes first.
#[no_mangle]
pub extern "C" fn streamlet_producer_flush(producer: *mut streamlet_producer, timeout_ms: i32) -> streamlet_resp_err {
    guard(|| Ok(handle(producer, "producer")?.inner.flush(timeout(timeout_ms))?))
}

/// Refuses new records, waits up to `timeout_ms` for buffered ones (serving their reports), fails the rest with
/// STREAMLET_ERR__CLOSED and runs interceptors' on_close. Later calls return STREAMLET_OK at once.
#[no_mangle]
pub extern "C" fn streamlet_producer_close(producer: *mut streamlet_producer, timeout_ms: i32) -> streamlet_resp_err {
    guard(|| Ok(handle(producer, "producer")?.inner.close(timeout(timeout_ms))?))
}

/// Closes without waiting (pending records are reported as failed, on this thread) and frees the producer.
/// NULL is ignored.
#[no_mangle]
pub extern "C" fn streamlet_producer_free(producer: *mut streamlet_producer) {
    guard_value((), || {
        if producer.is_null() {
            return;
        }
        let _ = unsafe { &*producer }.inner.close(Duration::ZERO);
        drop(unsafe { Box::from_raw(producer) });
    })
}

/// Registers the delivery-report callback producers created from `conf` call (NULL to remove it).
#[no_mangle]
pub extern "C" fn streamlet_conf_set_dr_cb(conf: *mut streamlet_conf, cb: streamlet_dr_cb) -> streamlet_resp_err {
    crate::conf::with_state(conf, |st| st.dr_cb = cb)
}

/// Registers a custom partitioner (NULL restores Kafka's default) with its own opaque.
#[no_mangle]
pub extern "C" fn streamlet_conf_set_partitioner(conf: *mut streamlet_conf, cb: streamlet_partitioner_cb, opaque: *mut c_void) -> streamlet_resp_err {
    crate::conf::with_state(conf, |st| {
        st.partitioner = cb;
        st.partitioner_opaque = Opaque(opaque);
    })
}

/// Appends a producer interceptor (copied) to the chain; they run in the order added.
#[no_mangle]
pub extern "C" fn streamlet_conf_add_producer_interceptor(conf: *mut streamlet_conf, interceptor: *const streamlet_producer_interceptor) -> streamlet_resp_err {
    guard(|| {
        let ic = *handle(interceptor, "interceptor")?;
        handle(conf, "conf")?.state.lock().unwrap_or_else(|e| e.into_inner()).producer_interceptors.push(ic);
        Ok(())
    })
}

