//! `streamlet_conf`: Kafka property names and values, plus the callbacks producers and consumers take from it.

use std::ffi::{c_char, c_void};
use std::sync::Mutex;

use core_lib::client::admin::AdminConfig;
use core_lib::client::consumer::ConsumerConfig;
use core_lib::client::producer::ProducerConfig;
use core_lib::config::{BrokerConfig, ConfigError, Props};

use crate::consumer::{streamlet_commit_cb, streamlet_consumer_interceptor, streamlet_rebalance_cb};
use crate::error::{guard, streamlet_resp_err, Failure, Res};
use crate::producer::{streamlet_dr_cb, streamlet_partitioner_cb, streamlet_producer_interceptor};
use crate::util::{copy_to_buf, handle, str_arg, Opaque};

/// Which component reads a property.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Broker,
    Producer,
    Consumer,
    Admin,
}

#[derive(Clone)]
pub(crate) struct ConfState {
    pub props: Props,
    pub opaque: Opaque,
    pub dr_cb: streamlet_dr_cb,
    pub partitioner: streamlet_partitioner_cb,
    pub partitioner_opaque: Opaque,
    pub producer_interceptors: Vec<streamlet_producer_interceptor>,
    pub rebalance_cb: streamlet_rebalance_cb,
    pub commit_cb: streamlet_commit_cb,
    pub consumer_interceptors: Vec<streamlet_consumer_interceptor>,
}

/// Configuration for a broker, producer, consumer or admin client. Handles copy it when they are created, so
/// one conf may serve several handles and is freed by the application.
pub struct streamlet_conf {
    pub(crate) state: Mutex<ConfState>,
}

impl streamlet_conf {
    pub(crate) fn snapshot(&self) -> ConfState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ConfState {
    /// The properties `role` reads (the rest belong to other components).
    pub(crate) fn props_for(&self, role: Role) -> Props {
        self.props.iter().filter(|(k, _)| knows(role, k)).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

fn knows(role: Role, key: &str) -> bool {
    match role {
        Role::Broker => BrokerConfig::is_known_key(key),
        Role::Producer => ProducerConfig::is_known_key(key),
        Role::Consumer => ConsumerConfig::is_known_key(key),
        Role::Admin => AdminConfig::is_known_key(key),
    }
}

/// Parses `key=value` alone with each component that reads `key`, so a bad value is refused by conf_set rather
/// than later. Rules that tie several keys together are checked when the handle is created.
fn validate(key: &str, value: &str) -> Res {
    let roles = [Role::Broker, Role::Producer, Role::Consumer, Role::Admin];
    let readers: Vec<Role> = roles.into_iter().filter(|r| knows(*r, key)).collect();
    if readers.is_empty() {
        return Err(Failure::new(streamlet_resp_err::STREAMLET_ERR__UNKNOWN_CONFIG, format!("unknown configuration '{key}'")));
    }
    for role in readers {
        let mut props = Props::new();
        // Stand-ins for the keys other rules depend on, so that only this key's own value is judged here.
        if role != Role::Broker {
            props.insert("bootstrap.servers".into(), "localhost:9092".into());
        }
        if role == Role::Consumer {
            props.insert("group.id".into(), "conf-check".into());
        }
        props.insert(key.into(), value.into());
        let r: Result<(), ConfigError> = match role {
            Role::Broker => BrokerConfig::from_props(&props).map(drop),
            Role::Producer => ProducerConfig::from_props(&props).map(drop),
            Role::Consumer => ConsumerConfig::from_props(&props).map(drop),
            Role::Admin => AdminConfig::from_props(&props).map(drop),
        };
        match r {
            Err(e) if e.key == key => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

/// A new, empty configuration. Owned by the caller: free with streamlet_conf_free. NULL only if memory ran out.
#[no_mangle]
pub extern "C" fn streamlet_conf_new() -> *mut streamlet_conf {
    crate::error::guard_value(std::ptr::null_mut(), new_conf)
}

fn new_conf() -> *mut streamlet_conf {
    let state = ConfState {
        props: Props::new(),
        opaque: Opaque(std::ptr::null_mut()),
        dr_cb: None,
        partitioner: None,
        partitioner_opaque: Opaque(std::ptr::null_mut()),
        producer_interceptors: Vec::new(),
        rebalance_cb: None,
        commit_cb: None,
        consumer_interceptors: Vec::new(),
    };
    Box::into_raw(Box::new(streamlet_conf { state: Mutex::new(state) }))
}

/// Frees a configuration. NULL is ignored. Handles created from it are unaffected.
#[no_mangle]
pub extern "C" fn streamlet_conf_free(conf: *mut streamlet_conf) {
    crate::error::guard_value((), || {
        if !conf.is_null() {
            drop(unsafe { Box::from_raw(conf) });
        }
    })
}

/// Sets a property by its Kafka name (`bootstrap.servers`, `linger.ms`, `group.id`, `listeners`, `log.dirs`...).
/// Unknown keys (STREAMLET_ERR__UNKNOWN_CONFIG) and invalid values (STREAMLET_ERR__INVALID_CONFIG) are refused;
/// the reason, naming the key and value, is written to `errstr` (NUL-terminated, truncated to `errstr_size`;
/// `errstr` may be NULL).
#[no_mangle]
pub extern "C" fn streamlet_conf_set(
    conf: *mut streamlet_conf,
    key: *const c_char,
    value: *const c_char,
    errstr: *mut c_char,
    errstr_size: usize,
) -> streamlet_resp_err {
    let r = guard(|| {
        let conf = handle(conf, "conf")?;
        let key = str_arg(key, "key")?;
        let value = str_arg(value, "value")?;
        validate(key, value)?;
        conf.state.lock().unwrap_or_else(|e| e.into_inner()).props.insert(key.to_string(), value.to_string());
        Ok(())
    });
    copy_to_buf(&crate::error::last_message(), errstr, errstr_size);
    r
}

/// Copies the value of `key` into `buf` (NUL-terminated, truncated to `size`) and its full length into
/// `*len` (may be NULL). STREAMLET_ERR__UNKNOWN_CONFIG when the key was never set.
#[no_mangle]
pub extern "C" fn streamlet_conf_get(conf: *const streamlet_conf, key: *const c_char, buf: *mut c_char, size: usize, len: *mut usize) -> streamlet_resp_err {
    guard(|| {
        let conf = handle(conf, "conf")?;
        let key = str_arg(key, "key")?;
        let st = conf.state.lock().unwrap_or_else(|e| e.into_inner());
        let v = st.props.get(key).ok_or_else(|| Failure::new(streamlet_resp_err::STREAMLET_ERR__UNKNOWN_CONFIG, format!("configuration '{key}' is not set")))?;
        copy_to_buf(v, buf, size);
        if !len.is_null() {
            unsafe { *len = v.len() };
        }
        Ok(())
    })
}

/// Sets the application pointer passed to the delivery-report, rebalance and commit callbacks.
#[no_mangle]
pub extern "C" fn streamlet_conf_set_opaque(conf: *mut streamlet_conf, opaque: *mut c_void) -> streamlet_resp_err {
    with_state(conf, |st| st.opaque = Opaque(opaque))
}

pub(crate) fn with_state(conf: *mut streamlet_conf, f: impl FnOnce(&mut ConfState)) -> streamlet_resp_err {
    guard(|| {
        let conf = handle(conf, "conf")?;
        f(&mut conf.state.lock().unwrap_or_else(|e| e.into_inner()));
        Ok(())
    })
}
