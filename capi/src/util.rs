//! Argument checks shared by every entry point: NULLs, UTF-8, buffers.

use std::ffi::{c_char, c_void, CStr, CString};
use std::time::Duration;

use bytes::Bytes;

use crate::error::{Failure, Res};

/// A CString from Rust text; interior NULs (never produced by Kafka names) end the string early.
pub(crate) fn c_string(s: &str) -> CString {
    let end = s.find('\0').unwrap_or(s.len());
    CString::new(&s[..end]).expect("NUL removed")
}

/// Writes `s` NUL-terminated into a caller buffer of `size` bytes, truncating.
pub(crate) fn copy_to_buf(s: &str, buf: *mut c_char, size: usize) {
    if buf.is_null() || size == 0 {
        return;
    }
    let n = s.len().min(size - 1);
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
}

/// A required string argument.
pub(crate) fn str_arg<'a>(p: *const c_char, name: &str) -> Res<&'a str> {
    if p.is_null() {
        return Err(Failure::arg(format!("{name} is NULL")));
    }
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| Failure::arg(format!("{name} is not valid UTF-8")))
}

/// A required handle argument.
pub(crate) fn handle<'a, T>(p: *const T, name: &str) -> Res<&'a T> {
    unsafe { p.as_ref() }.ok_or_else(|| Failure::arg(format!("{name} is NULL")))
}

/// A required out-parameter; written only once the call has succeeded.
pub(crate) fn out_arg<'a, T>(p: *mut T, name: &str) -> Res<&'a mut T> {
    unsafe { p.as_mut() }.ok_or_else(|| Failure::arg(format!("{name} (out-parameter) is NULL")))
}

/// Optional bytes: NULL means absent (Kafka's null key/value); a non-NULL pointer with length 0 is empty.
pub(crate) fn opt_bytes(p: *const c_void, len: usize) -> Option<Bytes> {
    if p.is_null() {
        None
    } else {
        Some(Bytes::copy_from_slice(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }))
    }
}

/// A timeout in milliseconds; negative values mean "wait a very long time" (a year).
pub(crate) fn timeout(ms: i32) -> Duration {
    if ms < 0 {
        Duration::from_secs(365 * 24 * 3600)
    } else {
        Duration::from_millis(ms as u64)
    }
}

/// A pointer + length for C, NULL for absent.
pub(crate) fn bytes_out(b: &Option<Bytes>, len: *mut usize) -> *const c_void {
    let (p, n) = match b {
        Some(b) => (if b.is_empty() { b"".as_ptr() } else { b.as_ptr() }, b.len()),
        None => (std::ptr::null(), 0),
    };
    if !len.is_null() {
        unsafe { *len = n };
    }
    p.cast()
}

/// An opaque pointer the application handed over; it owns the pointee and promises it may be used from the
/// threads it calls us on.
#[derive(Clone, Copy)]
pub(crate) struct Opaque(pub *mut c_void);
unsafe impl Send for Opaque {}
unsafe impl Sync for Opaque {}
