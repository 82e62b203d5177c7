//! `streamlet_broker`: an embedded Streamlet broker in the application's process.

use std::ffi::{c_char, CString};
use std::sync::Mutex;

use core_lib::broker::{Broker, BrokerBuilder};

use crate::conf::{streamlet_conf, Role};
use crate::error::{guard, guard_value, streamlet_resp_err};
use crate::util::{c_string, handle, out_arg};

/// A running embedded broker.
pub struct streamlet_broker {
    inner: Mutex<Option<Broker>>,
    bootstrap: CString,
}

/// Starts a broker with the conf's broker properties (`listeners`, e.g. "127.0.0.1:0" for a free port;
/// `log.dirs` for the data directory, or none for a temporary one removed on stop; any other Kafka broker
/// property). `*out` is owned by the caller: free with streamlet_broker_free.
#[no_mangle]
pub extern "C" fn streamlet_broker_new(conf: *const streamlet_conf, out: *mut *mut streamlet_broker) -> streamlet_resp_err {
    guard(|| {
        let props = handle(conf, "conf")?.snapshot().props_for(Role::Broker);
        let out = out_arg(out, "out")?;
        let broker = BrokerBuilder::new().configs(props).start()?;
        let bootstrap = c_string(&broker.bootstrap_servers());
        *out = Box::into_raw(Box::new(streamlet_broker { inner: Mutex::new(Some(broker)), bootstrap }));
        Ok(())
    })
}

/// The `host:port` to use as `bootstrap.servers`, borrowed from the broker (valid until it is freed).
#[no_mangle]
pub extern "C" fn streamlet_broker_bootstrap_servers(broker: *const streamlet_broker) -> *const c_char {
    guard_value(c"".as_ptr(), || unsafe { broker.as_ref() }.map_or(c"".as_ptr(), |b| b.bootstrap.as_ptr()))
}

/// Shuts the broker down cleanly (connections finish their current request, logs are closed). Later calls
/// return STREAMLET_OK at once.
#[no_mangle]
pub extern "C" fn streamlet_broker_stop(broker: *mut streamlet_broker) -> streamlet_resp_err {
    guard(|| {
        let b = handle(broker, "broker")?;
        let taken = b.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(broker) = taken {
            broker.shutdown();
        }
        Ok(())
    })
}

/// Stops the broker (if running) and frees it. NULL is ignored.
#[no_mangle]
pub extern "C" fn streamlet_broker_free(broker: *mut streamlet_broker) {
    guard_value((), || {
        if broker.is_null() {
            return;
        }
        streamlet_broker_stop(broker);
        drop(unsafe { Box::from_raw(broker) });
    })
}
