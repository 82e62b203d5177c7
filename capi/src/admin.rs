//! `streamlet_admin`: topics, partitions, groups and offsets. Every call blocks until the broker answers (up to
//! `request.timeout.ms`).

use std::ffi::{c_char, CString};

use core_lib::client::admin::{Admin, GroupDescription, NewTopic, OffsetSpec, TopicDescription};
use core_lib::client::ClientError;

use crate::conf::{streamlet_conf, Role};
use crate::error::{client_code, guard, guard_value, streamlet_resp_err, Failure, Res};
use crate::message::{streamlet_strlist, streamlet_tpl, TpEntry};
use crate::util::{c_string, handle, out_arg, str_arg};

/// An admin client. Safe to use from several threads.
pub struct streamlet_admin {
    inner: Admin,
}

/// Creates an admin client from `conf` (`bootstrap.servers`, optionally `client.id`, `request.timeout.ms`; the
/// conf is copied). `*out` is owned by the caller: free with streamlet_admin_free.
#[no_mangle]
pub extern "C" fn streamlet_admin_new(conf: *const streamlet_conf, out: *mut *mut streamlet_admin) -> streamlet_resp_err {
    guard(|| {
        let props = handle(conf, "conf")?.snapshot().props_for(Role::Admin);
        let out = out_arg(out, "out")?;
        let inner = Admin::new(&props)?;
        *out = Box::into_raw(Box::new(streamlet_admin { inner }));
        Ok(())
    })
}

/// Frees the admin client. NULL is ignored.
#[no_mangle]
pub extern "C" fn streamlet_admin_free(admin: *mut streamlet_admin) {
    guard_value((), || {
        if !admin.is_null() {
            drop(unsafe { Box::from_raw(admin) });
        }
    })
}

/// The one result of a single-topic request.
fn single(results: Vec<(String, Result<(), ClientError>)>, topic: &str) -> Res {
    match results.into_iter().find(|(t, _)| t == topic) {
        Some((_, r)) => Ok(r?),
        None => Err(Failure::new(streamlet_resp_err::STREAMLET_ERR__PROTOCOL, format!("the broker's answer does not mention topic '{topic}'"))),
    }
}

/// Creates a topic with `partitions` partitions and `replication_factor` replicas (-1 for the broker's
/// defaults), and `config_count` topic configs given as parallel arrays of Kafka names and values (both may be
/// NULL when `config_count` is 0). STREAMLET_ERR_TOPIC_ALREADY_EXISTS, STREAMLET_ERR_INVALID_TOPIC_EXCEPTION...
/// come from the broker.
#[no_mangle]
pub extern "C" fn streamlet_admin_create_topic(
    admin: *mut streamlet_admin,
    topic: *const c_char,
    partitions: i32,
    replication_factor: i16,
    config_names: *const *const c_char,
    config_values: *const *const c_char,
    config_count: usize,
) -> streamlet_resp_err {
    guard(|| {
        let a = handle(admin, "admin")?;
        let name = str_arg(topic, "topic")?;
        let mut t = NewTopic::new(name, partitions, replication_factor);
        if config_count > 0 {
            if config_names.is_null() || config_values.is_null() {
                return Err(Failure::arg("config_names or config_values is NULL but config_count > 0"));
            }
            let (ks, vs) = unsafe { (std::slice::from_raw_parts(config_names, config_count), std::slice::from_raw_parts(config_values, config_count)) };
            for (k, v) in ks.iter().zip(vs) {
                t = t.config(str_arg(*k, "config name")?, str_arg(*v, "config value")?);
            }
        }
        single(a.inner.create_topics(&[t], false)?, name)
    })
}

/// Deletes a topic.
#[no_mangle]
pub extern "C" fn streamlet_admin_delete_topic(admin: *mut streamlet_admin, topic: *const c_char) -> streamlet_resp_err {
    guard(|| {
        let a = handle(admin, "admin")?;
        let name = str_arg(topic, "topic")?;
        single(a.inner.delete_topics(&[name])?, name)
    })
}

/// Raises a topic's partition count to `total_partitions`.
#[no_mangle]
pub extern "C" fn streamlet_admin_create_partitions(admin: *mut streamlet_admin, topic: *const c_char, total_partitions: i32) -> streamlet_resp_err {
    guard(|| {
        let a = handle(admin, "admin")?;
        let name = str_arg(topic, "topic")?;
        single(a.inner.create_partitions(&[(name, total_partitions)])?, name)
    })
}

fn strlist(items: impl IntoIterator<Item = String>) -> *mut streamlet_strlist {
    Box::into_raw(Box::new(streamlet_strlist { items: items.into_iter().map(|s| c_string(&s)).collect() }))
}

/// The topics' names, sorted (internal ones such as __consumer_offsets only when `include_internal`). `*out` is
/// owned by the caller: free with streamlet_strlist_free.
#[no_mangle]
pub extern "C" fn streamlet_admin_list_topics(admin: *mut streamlet_admin, include_internal: bool, out: *mut *mut streamlet_strlist) -> streamlet_resp_err {
    guard(|| {
        let a = handle(admin, "admin")?;
        let out = out_arg(out, "out")?;
        *out = strlist(a.inner.list_topics(include_internal)?);
        Ok(())
    })
}

/// A topic's description: its partitions and their leaders.
pub struct streamlet_topic_description {
    name: CString,
    inner: TopicDescription,
}

/// Describes a topic (STREAMLET_ERR_UNKNOWN_TOPIC_OR_PARTITION if it does not exist). `*out` is owned by the
/// caller: free with streamlet_topic_description_free.
#[no_mangle]
pub extern "C" fn streamlet_admin_describe_topic(admin: *mut streamlet_admin, topic: *const c_char, out: *mut *mut streamlet_topic_description) -> streamlet_resp_err {
    guard(|| {
        let a = handle(admin, "admin")?;
        let name = str_arg(topic, "topic")?;
        let out = out_arg(out, "out")?;
        let d = a.inner.describe_topics(&[name])?.into_iter().next().ok_or_else(|| Failure::new(streamlet_resp_err::STREAMLET_ERR_UNKNOWN_TOPIC_OR_PARTITION, format!("topic '{name}'")))?;
        *out = Box::into_raw(Box::new(streamlet_topic_description { name: c_string(&d.name), inner: d }));
        Ok(())
    })
}

/// The topic's name, borrowed from the description.
#[no_mangle]
pub extern "C" fn streamlet_topic_description_name(d: *const streamlet_topic_description) -> *const c_char {
    guard_value(c"".as_ptr(), || unsafe { d.as_ref() }.map_or(c"".as_ptr(), |d| d.name.as_ptr()))
}

/// Whether the topic is internal (__consumer_offsets).
#[no_mangle]
pub extern "C" fn streamlet_topic_description_internal(d: *const streamlet_topic_description) -> bool {
    guard_value(false, || unsafe { d.as_ref() }.is_some_and(|d| d.inner.internal))
}

/// How many partitions the topic has (0 for NULL).
#[no_mangle]
pub extern "C" fn streamlet_topic_description_partition_count(d: *const streamlet_topic_description) -> usize {
    guard_value(0, || unsafe { d.as_ref() }.map_or(0, |d| d.inner.partitions.len()))
}

/// Partition entry `index`: its number, leader's node id and replica count (out-parameters may be NULL).
#[no_mangle]
pub extern "C" fn streamlet_topic_description_partition(
    d: *const streamlet_topic_description,
    index: usize,
    partition: *mut i32,
    leader: *mut i32,
    replica_count: *mut i32,
) -> streamlet_resp_err {
    guard(|| {
        let d = handle(d, "description")?;
        let p = d.inner.partitions.get(index).ok_or_else(|| Failure::arg(format!("index {index} out of range ({} partitions)", d.inner.partitions.len())))?;
        unsafe {
            if !partition.is_null() {
                *partition = p.partition;
            }
            if !leader.is_null() {
                *leader = p.leader;
            }
            if !replica_count.is_null() {
                *replica_count = p.replicas.len() as i32;
            }
        }
        Ok(())
    })
}

/// Frees a topic description. NULL is ignored.
#[no_mangle]
pub extern "C" fn streamlet_topic_description_free(d: *mut streamlet_topic_description) {
    guard_value((), || {
        if !d.is_null() {
            drop(unsafe { Box::from_raw(d) });
        }
    })
}

/// The ids of the cluster's consumer groups. `*out` is owned by the caller: free with streamlet_strlist_free.
#[no_mangle]
pub extern "C" fn streamlet_admin_list_groups(admin: *mut streamlet_admin, out: *mut *mut streamlet_strlist) -> streamlet_resp_err {
    guard(|| {
        let a = handle(admin, "admin")?;
        let out = out_arg(out, "out")?;
        let mut ids: Vec<String> = a.inner.list_groups()?.into_iter().map(|(id, _, _)| id).collect();
        ids.sort();
        *out = strlist(ids);
        Ok(())
    })
}

struct MemberC {
    member_id: CString,
    client_id: CString,
    host: CString,
}

/// A consumer group's description: state, protocol and members.
pub struct streamlet_group_description {
    state: CString,
    protocol: CString,
    members: Vec<MemberC>,
}

impl streamlet_group_description {
    fn new(g: &GroupDescription) -> Self {
        streamlet_group_description {
            state: c_string(&g.state),
            protocol: c_string(&g.protocol),
            members: g.members.iter().map(|m| MemberC { member_id: c_string(&m.member_id), client_id: c_string(&m.client_id), host: c_string(&m.host) }).collect(),
        }
    }
}

/// Describes a consumer group (a group nobody knows is reported in state "Dead"). `*out` is owned by the caller:
/// free with streamlet_group_description_free.
#[no_mangle]
pub extern "C" fn streamlet_admin_describe_group(admin: *mut streamlet_admin, group: *const c_char, out: *mut *mut streamlet_group_description) -> streamlet_resp_err {
    guard(|| {
        let a = handle(admin, "admin")?;
        let group = str_arg(group, "group")?;
        let out = out_arg(out, "out")?;
        let d = a.inner.describe_groups(&[group])?.into_iter().next().ok_or_else(|| Failure::new(streamlet_resp_err::STREAMLET_ERR_GROUP_ID_NOT_FOUND, format!("group '{group}'")))?;
        *out = Box::into_raw(Box::new(streamlet_group_description::new(&d)));
        Ok(())
    })
}

/// The group's state ("Stable", "Empty", "PreparingRebalance", "Dead"...), borrowed from the description.
#[no_mangle]
pub extern "C" fn streamlet_group_description_state(d: *const streamlet_group_description) -> *const c_char {
    guard_value(c"".as_ptr(), || unsafe { d.as_ref() }.map_or(c"".as_ptr(), |d| d.state.as_ptr()))
}

/// The group's assignment protocol ("range", "cooperative-sticky"...), borrowed from the description.
#[no_mangle]
pub extern "C" fn streamlet_group_description_protocol(d: *const streamlet_group_description) -> *const c_char {
    guard_value(c"".as_ptr(), || unsafe { d.as_ref() }.map_or(c"".as_ptr(), |d| d.protocol.as_ptr()))
}

/// How many members the group has (0 for NULL).
#[no_mangle]
pub extern "C" fn streamlet_group_description_member_count(d: *const streamlet_group_description) -> usize {
    guard_value(0, || unsafe { d.as_ref() }.map_or(0, |d| d.members.len()))
}

/// Member `index`: member id, client id and host, borrowed from the description (out-parameters may be NULL).
#[no_mangle]
pub extern "C" fn streamlet_group_description_member(
    d: *const streamlet_group_description,
    index: usize,
    member_id: *mut *const c_char,
    client_id: *mut *const c_char,
    host: *mut *const c_char,
) -> streamlet_resp_err {
    guard(|| {
        let d = handle(d, "description")?;
        let m = d.members.get(index).ok_or_else(|| Failure::arg(format!("index {index} out of range ({} members)", d.members.len())))?;
        unsafe {
            for (out, v) in [(member_id, &m.member_id), (client_id, &m.client_id), (host, &m.host)] {
                if !out.is_null() {
                    *out = v.as_ptr();
                }
            }
        }
        Ok(())
    })
}

/// Frees a group description. NULL is ignored.
#[no_mangle]
pub extern "C" fn streamlet_group_description_free(d: *mut streamlet_group_description) {
    guard_value((), || {
        if !d.is_null() {
            drop(unsafe { Box::from_raw(d) });
        }
    })
}

/// Looks up offsets: each entry's offset in `query` says what to find (STREAMLET_OFFSET_BEGINNING,
/// STREAMLET_OFFSET_END, STREAMLET_OFFSET_MAX_TIMESTAMP, or a timestamp in ms for the first offset at or after
/// it). `*out` (owned by the caller, free with streamlet_tpl_free) has one entry per query entry with the offset
/// found (STREAMLET_OFFSET_INVALID when none) or a per-entry error (see streamlet_tpl_get).
#[no_mangle]
pub extern "C" fn streamlet_admin_list_offsets(admin: *mut streamlet_admin, query: *const streamlet_tpl, out: *mut *mut streamlet_tpl) -> streamlet_resp_err {
    guard(|| {
        let a = handle(admin, "admin")?;
        let pairs = handle(query, "query")?.pairs();
        let out = out_arg(out, "out")?;
        let mut specs = Vec::with_capacity(pairs.len());
        for (tp, o) in &pairs {
            let spec = match *o {
                crate::STREAMLET_OFFSET_BEGINNING => OffsetSpec::Earliest,
                crate::STREAMLET_OFFSET_END => OffsetSpec::Latest,
                crate::STREAMLET_OFFSET_MAX_TIMESTAMP => OffsetSpec::MaxTimestamp,
                t if t >= 0 => OffsetSpec::Timestamp(t),
                t => return Err(Failure::arg(format!("invalid offset query {t} for {}-{}", tp.0, tp.1))),
            };
            specs.push((tp.0.as_str(), tp.1, spec));
        }
        let answers = a.inner.list_offsets(&specs)?;
        let entries = answers
            .into_iter()
            .map(|((topic, partition), r)| {
                let (offset, err) = match r {
                    Ok(l) => (if l.offset < 0 { crate::STREAMLET_OFFSET_INVALID } else { l.offset }, streamlet_resp_err::STREAMLET_OK),
                    Err(e) => (crate::STREAMLET_OFFSET_INVALID, client_code(&e)),
                };
                TpEntry { topic: c_string(&topic), partition, offset, err }
            })
            .collect();
        *out = Box::into_raw(Box::new(streamlet_tpl::from_entries(entries)));
        Ok(())
    })
}
