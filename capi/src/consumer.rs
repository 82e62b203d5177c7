//! `streamlet_consumer`: group or manual consumption. Messages, rebalance callbacks and async-commit callbacks
//! are all delivered from streamlet_consumer_poll on the calling thread.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

use core_lib::client::consumer::{Consumer, ConsumerConfig, ConsumerError, ConsumerInterceptor, ConsumerRecord, RebalanceListener, TopicPartition};
use core_lib::config::Props;

use crate::conf::{streamlet_conf, Role};
use crate::error::{consumer_code, guard, streamlet_resp_err, Failure};
use crate::message::{streamlet_message, streamlet_tpl};
use crate::util::{handle, out_arg, str_arg, timeout, Opaque};

/// Why a rebalance callback runs.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum streamlet_rebalance_event {
    /// Partitions were assigned; a seek made now decides where consumption starts.
    STREAMLET_REBALANCE_ASSIGNED = 1,
    /// Partitions are about to be taken away (after the automatic commit, if enabled): commit now.
    STREAMLET_REBALANCE_REVOKED = 2,
    /// Partitions were lost without a chance to commit (fenced, session expired).
    STREAMLET_REBALANCE_LOST = 3,
}

/// Rebalance callback, run inside streamlet_consumer_poll. `partitions` is borrowed for the call. The consumer
/// may be used inside (seek, commit_sync, position, committed), except poll and close.
pub type streamlet_rebalance_cb = Option<
    unsafe extern "C" fn(consumer: *mut streamlet_consumer, event: streamlet_rebalance_event, partitions: *const streamlet_tpl, opaque: *mut c_void),
>;

/// Outcome of streamlet_consumer_commit_async, run inside a later streamlet_consumer_poll (or close).
/// `offsets` (borrowed for the call) holds what was committed.
pub type streamlet_commit_cb =
    Option<unsafe extern "C" fn(consumer: *mut streamlet_consumer, err: streamlet_resp_err, offsets: *const streamlet_tpl, opaque: *mut c_void)>;

/// A consumer interceptor (Kafka's ConsumerInterceptor); any callback may be NULL. `on_consume` sees each
/// message inside streamlet_consumer_poll before it is returned (borrowed for the call) and may change it with
/// streamlet_message_set_key / _set_value; `on_commit` sees the offsets of each successful commit (inside
/// commit_sync/close, or poll for async and automatic commits); `on_close` runs once when the consumer closes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct streamlet_consumer_interceptor {
    pub on_consume: Option<unsafe extern "C" fn(msg: *mut streamlet_message, opaque: *mut c_void)>,
    pub on_commit: Option<unsafe extern "C" fn(offsets: *const streamlet_tpl, opaque: *mut c_void)>,
    pub on_close: Option<unsafe extern "C" fn(opaque: *mut c_void)>,
    pub opaque: *mut c_void,
}

unsafe impl Send for streamlet_consumer_interceptor {}
unsafe impl Sync for streamlet_consumer_interceptor {}

impl ConsumerInterceptor for streamlet_consumer_interceptor {
    fn on_consume(&self, records: Vec<ConsumerRecord>) -> Vec<ConsumerRecord> {
        let Some(cb) = self.on_consume else { return records };
        records
            .into_iter()
            .map(|r| {
                let mut msg = streamlet_message::from_record(r);
                unsafe { cb(&mut msg, self.opaque) };
                msg.to_consumer_record()
            })
            .collect()
    }

    fn on_commit(&self, offsets: &BTreeMap<TopicPartition, i64>) {
        if let Some(cb) = self.on_commit {
            let tpl = streamlet_tpl::from_tps(offsets.iter().map(|(tp, o)| (tp, *o)));
            unsafe { cb(&tpl, self.opaque) };
        }
    }

    fn close(&self) {
        if let Some(cb) = self.on_close {
            unsafe { cb(self.opaque) };
        }
    }
}

/// A consumer. Safe to use from several threads (poll from one at a time).
pub struct streamlet_consumer {
    inner: Consumer,
    rebalance_cb: streamlet_rebalance_cb,
    commit_cb: streamlet_commit_cb,
    opaque: Opaque,
    closed: AtomicBool,
}

#[derive(Clone, Copy)]
struct ConsumerPtr(*mut streamlet_consumer);
unsafe impl Send for ConsumerPtr {}

struct CListener {
    me: ConsumerPtr,
    cb: unsafe extern "C" fn(*mut streamlet_consumer, streamlet_rebalance_event, *const streamlet_tpl, *mut c_void),
    opaque: Opaque,
}

impl CListener {
    fn call(&self, ev: streamlet_rebalance_event, parts: &[TopicPartition]) {
        let tpl = streamlet_tpl::from_tps(parts.iter().map(|tp| (tp, crate::STREAMLET_OFFSET_INVALID)));
        unsafe { (self.cb)(self.me.0, ev, &tpl, self.opaque.0) };
    }
}

impl RebalanceListener for CListener {
    fn on_partitions_revoked(&mut self, _: &Consumer, parts: &[TopicPartition]) {
        self.call(streamlet_rebalance_event::STREAMLET_REBALANCE_REVOKED, parts)
    }
    fn on_partitions_assigned(&mut self, _: &Consumer, parts: &[TopicPartition]) {
        self.call(streamlet_rebalance_event::STREAMLET_REBALANCE_ASSIGNED, parts)
    }
    fn on_partitions_lost(&mut self, _: &Consumer, parts: &[TopicPartition]) {
        self.call(streamlet_rebalance_event::STREAMLET_REBALANCE_LOST, parts)
    }
}

fn consumer_props(conf: &crate::conf::ConfState) -> Props {
    let mut props = conf.props_for(Role::Consumer);
    // One record per poll: the C API hands out one message at a time, and the core commits (automatically or on
    // revocation) everything poll has returned, so buffering here would commit records the application never saw.
    props.insert("max.poll.records".into(), "1".into());
    props
}

/// Creates a consumer from `conf` (`bootstrap.servers`, and `group.id` to subscribe or commit; the conf is
/// copied and stays the caller's). `*out` is owned by the caller: free with streamlet_consumer_free.
/// `max.poll.records` is always 1 here (see streamlet_consumer_poll).
#[no_mangle]
pub extern "C" fn streamlet_consumer_new(conf: *const streamlet_conf, out: *mut *mut streamlet_consumer) -> streamlet_resp_err {
    guard(|| {
        let st = handle(conf, "conf")?.snapshot();
        let out = out_arg(out, "out")?;
        let cfg = ConsumerConfig::from_props(&consumer_props(&st))?;
        let mut b = Consumer::builder(cfg);
        for ic in &st.consumer_interceptors {
            b = b.interceptor(*ic);
        }
        let inner = b.build()?;
        *out = Box::into_raw(Box::new(streamlet_consumer {
            inner,
            rebalance_cb: st.rebalance_cb,
            commit_cb: st.commit_cb,
            opaque: st.opaque,
            closed: AtomicBool::new(false),
        }));
        Ok(())
    })
}

fn listener(c: &streamlet_consumer, me: *mut streamlet_consumer) -> Option<Box<dyn RebalanceListener>> {
    c.rebalance_cb.map(|cb| Box::new(CListener { me: ConsumerPtr(me), cb, opaque: c.opaque }) as Box<dyn RebalanceListener>)
}

/// Subscribes to `topic_count` topics (replacing any subscription); partitions come from the group and the
/// conf's rebalance callback is told about them. An empty list unsubscribes.
#[no_mangle]
pub extern "C" fn streamlet_consumer_subscribe(consumer: *mut streamlet_consumer, topics: *const *const c_char, topic_count: usize) -> streamlet_resp_err {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        if topics.is_null() && topic_count > 0 {
            return Err(Failure::arg("topics is NULL but topic_count > 0"));
        }
        let names: Vec<&str> = if topic_count == 0 { Vec::new() } else { unsafe { std::slice::from_raw_parts(topics, topic_count) }.iter().map(|t| str_arg(*t, "topic")).collect::<Result<_, _>>()? };
        Ok(c.inner.subscribe(&names, listener(c, consumer))?)
    })
}

/// Subscribes to every topic whose whole name matches the regular expression `pattern` (Java's regex syntax
/// as far as Rust's `regex` crate shares it), including topics created later. STREAMLET_ERR__INVALID_ARG for an
/// invalid pattern.
#[no_mangle]
pub extern "C" fn streamlet_consumer_subscribe_pattern(consumer: *mut streamlet_consumer, pattern: *const c_char) -> streamlet_resp_err {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let pattern = str_arg(pattern, "pattern")?;
        Ok(c.inner.subscribe_pattern(pattern, listener(c, consumer))?)
    })
}

/// Drops the subscription or assignment (revoking partitions through the rebalance callback).
#[no_mangle]
pub extern "C" fn streamlet_consumer_unsubscribe(consumer: *mut streamlet_consumer) -> streamlet_resp_err {
    guard(|| Ok(handle(consumer, "consumer")?.inner.unsubscribe()?))
}

fn tps(tpl: *const streamlet_tpl) -> Result<Vec<TopicPartition>, Failure> {
    Ok(handle(tpl, "partitions")?.pairs().into_iter().map(|(tp, _)| tp).collect())
}

/// Manual assignment of the list's partitions (offsets ignored: positions come from committed offsets or
/// `auto.offset.reset`; seek to choose). An empty list unassigns.
#[no_mangle]
pub extern "C" fn streamlet_consumer_assign(consumer: *mut streamlet_consumer, partitions: *const streamlet_tpl) -> streamlet_resp_err {
    guard(|| Ok(handle(consumer, "consumer")?.inner.assign(&tps(partitions)?)?))
}

/// The partitions assigned now. `*out` is owned by the caller: free with streamlet_tpl_free.
#[no_mangle]
pub extern "C" fn streamlet_consumer_assignment(consumer: *mut streamlet_consumer, out: *mut *mut streamlet_tpl) -> streamlet_resp_err {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let out = out_arg(out, "out")?;
        let parts = c.inner.assignment();
        *out = Box::into_raw(Box::new(streamlet_tpl::from_tps(parts.iter().map(|tp| (tp, crate::STREAMLET_OFFSET_INVALID)))));
        Ok(())
    })
}

/// Waits up to `timeout_ms` (negative: indefinitely) for the next message, running rebalance and commit
/// callbacks first. On STREAMLET_OK `*msg` is a message owned by the caller (free with streamlet_message_free),
/// or NULL when the timeout passed without one. Errors (e.g. STREAMLET_ERR__NO_OFFSET) leave `*msg` untouched.
#[no_mangle]
pub extern "C" fn streamlet_consumer_poll(consumer: *mut streamlet_consumer, timeout_ms: i32, msg: *mut *mut streamlet_message) -> streamlet_resp_err {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let out = out_arg(msg, "msg")?;
        let mut records = c.inner.poll(timeout(timeout_ms))?;
        *out = match records.pop() {
            Some(r) => Box::into_raw(Box::new(streamlet_message::from_record(r))),
            None => std::ptr::null_mut(),
        };
        Ok(())
    })
}

fn offsets_arg(offsets: *const streamlet_tpl) -> Result<Option<BTreeMap<TopicPartition, i64>>, Failure> {
    if offsets.is_null() {
        return Ok(None);
    }
    let pairs = unsafe { &*offsets }.pairs();
    if let Some((tp, o)) = pairs.iter().find(|(_, o)| *o < 0) {
        return Err(Failure::arg(format!("invalid offset {o} to commit for {}-{}", tp.0, tp.1)));
    }
    Ok(Some(pairs.into_iter().collect()))
}

/// Commits `offsets` (each the next offset to read), or with NULL the position of every assigned partition
/// (what poll has returned), and waits for the result.
#[no_mangle]
pub extern "C" fn streamlet_consumer_commit_sync(consumer: *mut streamlet_consumer, offsets: *const streamlet_tpl) -> streamlet_resp_err {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        Ok(c.inner.commit_sync(offsets_arg(offsets)?)?)
    })
}

/// Like commit_sync without waiting; the conf's commit callback reports the outcome from a later poll.
#[no_mangle]
pub extern "C" fn streamlet_consumer_commit_async(consumer: *mut streamlet_consumer, offsets: *const streamlet_tpl) -> streamlet_resp_err {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let offsets = offsets_arg(offsets)?;
        let callback = c.commit_cb.map(|cb| {
            let (me, opaque) = (ConsumerPtr(consumer), c.opaque);
            Box::new(move |committed: &BTreeMap<TopicPartition, i64>, result: Result<(), ConsumerError>| {
                let (me, opaque) = (me, opaque);
                let tpl = streamlet_tpl::from_tps(committed.iter().map(|(tp, o)| (tp, *o)));
                let err = result.as_ref().err().map_or(streamlet_resp_err::STREAMLET_OK, consumer_code);
                unsafe { cb(me.0, err, &tpl, opaque.0) };
            }) as core_lib::client::consumer::CommitCallback
        });
        Ok(c.inner.commit_async(offsets, callback)?)
    })
}

fn tp_arg(topic: *const c_char, partition: i32) -> Result<TopicPartition, Failure> {
    let topic = str_arg(topic, "topic")?;
    if partition < 0 {
        return Err(Failure::arg(format!("invalid partition {partition}")));
    }
    Ok((topic.to_string(), partition))
}

/// Makes the next poll of an assigned partition start at `offset` (STREAMLET_OFFSET_BEGINNING or
/// STREAMLET_OFFSET_END for either end).
#[no_mangle]
pub extern "C" fn streamlet_consumer_seek(consumer: *mut streamlet_consumer, topic: *const c_char, partition: i32, offset: i64) -> streamlet_resp_err {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let tp = tp_arg(topic, partition)?;
        match offset {
            crate::STREAMLET_OFFSET_BEGINNING => c.inner.seek_to_beginning(&[tp])?,
            crate::STREAMLET_OFFSET_END => c.inner.seek_to_end(&[tp])?,
            o if o >= 0 => c.inner.seek(&tp, o)?,
            o => return Err(Failure::arg(format!("invalid offset {o}"))),
        }
        Ok(())
    })
}

/// The offset of the next record poll returns for an assigned partition (looked up if not known yet).
#[no_mangle]
pub extern "C" fn streamlet_consumer_position(consumer: *mut streamlet_consumer, topic: *const c_char, partition: i32, offset: *mut i64) -> streamlet_resp_err {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let tp = tp_arg(topic, partition)?;
        let out = out_arg(offset, "offset")?;
        *out = c.inner.position(&tp)?;
        Ok(())
    })
}

/// The group's committed offsets for the list's partitions: `*out` (owned by the caller, free with
/// streamlet_tpl_free) has one entry each, offset STREAMLET_OFFSET_INVALID where nothing is committed.
#[no_mangle]
pub extern "C" fn streamlet_consumer_committed(consumer: *mut streamlet_consumer, partitions: *const streamlet_tpl, out: *mut *mut streamlet_tpl) -> streamlet_resp_err {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let parts = tps(partitions)?;
        let out = out_arg(out, "out")?;
        let committed = c.inner.committed(&parts)?;
        let list = streamlet_tpl::from_tps(parts.iter().map(|tp| (tp, committed.get(tp).copied().flatten().unwrap_or(crate::STREAMLET_OFFSET_INVALID))));
        *out = Box::into_raw(Box::new(list));
        Ok(())
    })
}

/// Stops fetching the list's partitions until resumed (they stay assigned).
#[no_mangle]
pub extern "C" fn streamlet_consumer_pause(consumer: *mut streamlet_consumer, partitions: *const streamlet_tpl) -> streamlet_resp_err {
    guard(|| Ok(handle(consumer, "consumer")?.inner.pause(&tps(partitions)?)?))
}

/// Resumes fetching paused partitions.
#[no_mangle]
pub extern "C" fn streamlet_consumer_resume(consumer: *mut streamlet_consumer, partitions: *const streamlet_tpl) -> streamlet_resp_err {
    guard(|| Ok(handle(consumer, "consumer")?.inner.resume(&tps(partitions)?)?))
}

/// Makes a poll blocked in another thread return STREAMLET_ERR__WAKEUP.
#[no_mangle]
pub extern "C" fn streamlet_consumer_wakeup(consumer: *mut streamlet_consumer) -> streamlet_resp_err {
    guard(|| {
        handle(consumer, "consumer")?.inner.wakeup();
        Ok(())
    })
}

/// Leaves the group (committing first when auto commit is on, running pending commit callbacks) and stops the
/// consumer. Later calls return STREAMLET_OK at once.
#[no_mangle]
pub extern "C" fn streamlet_consumer_close(consumer: *mut streamlet_consumer) -> streamlet_resp_err {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        if c.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        Ok(c.inner.close()?)
    })
}

/// Closes (if not closed yet) and frees the consumer. NULL is ignored.
#[no_mangle]
pub extern "C" fn streamlet_consumer_free(consumer: *mut streamlet_consumer) {
    crate::error::guard_value((), || {
        if consumer.is_null() {
            return;
        }
        streamlet_consumer_close(consumer);
        drop(unsafe { Box::from_raw(consumer) });
    })
}

/// Registers the rebalance callback consumers created from `conf` use (NULL to remove it).
#[no_mangle]
pub extern "C" fn streamlet_conf_set_rebalance_cb(conf: *mut streamlet_conf, cb: streamlet_rebalance_cb) -> streamlet_resp_err {
    crate::conf::with_state(conf, |st| st.rebalance_cb = cb)
}

/// Registers the async-commit callback consumers created from `conf` use (NULL to remove it).
#[no_mangle]
pub extern "C" fn streamlet_conf_set_commit_cb(conf: *mut streamlet_conf, cb: streamlet_commit_cb) -> streamlet_resp_err {
    crate::conf::with_state(conf, |st| st.commit_cb = cb)
}

/// Appends a consumer interceptor (copied) to the chain; they run in the order added.
#[no_mangle]
pub extern "C" fn streamlet_conf_add_consumer_interceptor(conf: *mut streamlet_conf, interceptor: *const streamlet_consumer_interceptor) -> streamlet_resp_err {
    guard(|| {
        let ic = *handle(interceptor, "interceptor")?;
        handle(conf, "conf")?.state.lock().unwrap_or_else(|e| e.into_inner()).consumer_interceptors.push(ic);
        Ok(())
    })
}
