//! The result codes, the panic boundary every entry point goes through, and the per-thread last error.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use core_lib::broker::BrokerError;
use core_lib::client::consumer::ConsumerError;
use core_lib::client::ClientError;
use core_lib::config::ConfigError;

pub use crate::codes::streamlet_resp_err;

use streamlet_resp_err::*;

/// A failure on its way to C: the code returned and the message kept for `streamlet_error_last`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: streamlet_resp_err,
    pub message: String,
}

pub(crate) type Res<T = ()> = Result<T, Failure>;

impl Failure {
    pub fn new(code: streamlet_resp_err, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }
    pub fn arg(message: impl Into<String>) -> Failure {
        Failure::new(STREAMLET_ERR__INVALID_ARG, message)
    }
}

pub(crate) fn client_code(e: &ClientError) -> streamlet_resp_err {
    match e {
        ClientError::Config(_) => STREAMLET_ERR__INVALID_CONFIG,
        ClientError::Connection { .. } => STREAMLET_ERR__TRANSPORT,
        ClientError::Protocol { .. } => STREAMLET_ERR__PROTOCOL,
        ClientError::UnsupportedApi { .. } => STREAMLET_ERR__UNSUPPORTED,
        ClientError::Kafka { code, .. } => streamlet_resp_err::from_kafka(code.code()),
        ClientError::Timeout(_) => STREAMLET_ERR__TIMED_OUT,
        ClientError::Closed => STREAMLET_ERR__CLOSED,
    }
}

pub(crate) fn consumer_code(e: &ConsumerError) -> streamlet_resp_err {
    match e {
        ConsumerError::Client(c) => client_code(c),
        ConsumerError::NoOffset(..) => STREAMLET_ERR__NO_OFFSET,
        ConsumerError::CommitFailed(_) => STREAMLET_ERR__COMMIT_FAILED,
        ConsumerError::Fatal(_) => STREAMLET_ERR__FATAL,
        ConsumerError::IllegalState(_) => STREAMLET_ERR__STATE,
        ConsumerError::Wakeup => STREAMLET_ERR__WAKEUP,
        ConsumerError::InvalidArgument(_) => STREAMLET_ERR__INVALID_ARG,
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        Failure::new(client_code(&e), e.to_string())
    }
}

impl From<ConsumerError> for Failure {
    fn from(e: ConsumerError) -> Failure {
        Failure::new(consumer_code(&e), e.to_string())
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Failure {
        Failure::new(STREAMLET_ERR__INVALID_CONFIG, e.to_string())
    }
}

impl From<BrokerError> for Failure {
    fn from(e: BrokerError) -> Failure {
        let code = match e {
            BrokerError::Config(_) => STREAMLET_ERR__INVALID_CONFIG,
            BrokerError::Io { .. } => STREAMLET_ERR__IO,
        };
        Failure::new(code, e.to_string())
    }
}

/// Owned copy of a failure: its code and message.
pub struct streamlet_error {
    code: streamlet_resp_err,
    message: CString,
}

thread_local! {
    static LAST: RefCell<Option<(streamlet_resp_err, String)>> = const { RefCell::new(None) };
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default()
}

fn record(r: Res) -> streamlet_resp_err {
    match r {
        Ok(()) => {
            LAST.with(|l| *l.borrow_mut() = None);
            STREAMLET_OK
        }
        Err(f) => {
            let code = f.code;
            LAST.with(|l| *l.borrow_mut() = Some((f.code, f.message)));
            code
        }
    }
}

/// Runs an entry point's body: panics are caught (STREAMLET_ERR__PANIC) and the outcome is remembered for
/// `streamlet_error_last` on this thread.
pub(crate) fn guard(f: impl FnOnce() -> Res) -> streamlet_resp_err {
    let r = catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(Failure::new(STREAMLET_ERR__PANIC, format!("internal panic: {}", panic_text(&*p)))));
    record(r)
}

/// The message of this thread's last failure ("" after a success).
pub(crate) fn last_message() -> String {
    LAST.with(|l| l.borrow().as_ref().map(|(_, m)| m.clone()).unwrap_or_default())
}

/// For entry points that return a value rather than a result code: a panic yields `fallback`.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// The name of a result code (a streamlet_resp_err value), e.g. "UNKNOWN_TOPIC_OR_PARTITION" or
/// "_INVALID_ARG"; "UNKNOWN" for a value that is not one. Static storage, never NULL.
#[no_mangle]
pub extern "C" fn streamlet_err_name(err: i32) -> *const c_char {
    guard_value(c"UNKNOWN".as_ptr(), || streamlet_resp_err::from_i32(err).map_or(c"UNKNOWN".as_ptr(), |e| e.name().as_ptr().cast()))
}

/// The failure of the last call made on this thread that returned a streamlet_resp_err, or NULL when it
/// succeeded. Owned by the caller: free with streamlet_error_free.
#[no_mangle]
pub extern "C" fn streamlet_error_last() -> *mut streamlet_error {
    guard_value(std::ptr::null_mut(), || {
        LAST.with(|l| match &*l.borrow() {
            None => std::ptr::null_mut(),
            Some((code, msg)) => Box::into_raw(Box::new(streamlet_error { code: *code, message: crate::util::c_string(msg) })),
        })
    })
}

/// The error's code.
#[no_mangle]
pub extern "C" fn streamlet_error_code(err: *const streamlet_error) -> streamlet_resp_err {
    guard_value(STREAMLET_ERR__INVALID_ARG, || unsafe { err.as_ref() }.map_or(STREAMLET_ERR__INVALID_ARG, |e| e.code))
}

/// The error's human-readable message. Borrowed from `err`; "" for NULL.
#[no_mangle]
pub extern "C" fn streamlet_error_message(err: *const streamlet_error) -> *const c_char {
    guard_value(c"".as_ptr(), || unsafe { err.as_ref() }.map_or(c"".as_ptr(), |e| e.message.as_ptr()))
}

/// Frees an error from streamlet_error_last. NULL is ignored.
#[no_mangle]
pub extern "C" fn streamlet_error_free(err: *mut streamlet_error) {
    guard_value((), || {
        if !err.is_null() {
            drop(unsafe { Box::from_raw(err) });
        }
    })
}

/// Copies the message of this thread's last failure into `buf` (always NUL-terminated, truncated to `size`);
/// "" when the last call succeeded. Returns the message's full length in bytes, without the NUL.
#[no_mangle]
pub extern "C" fn streamlet_last_error_message(buf: *mut c_char, size: usize) -> usize {
    guard_value(0, || {
        LAST.with(|l| {
            let b = l.borrow();
            let msg = b.as_ref().map_or("", |(_, m)| m.as_str());
            crate::util::copy_to_buf(msg, buf, size);
            msg.len()
        })
    })
}
