//! The C ABI of Streamlet (`libstreamlet.so` / `libstreamlet.a`, header `include/streamlet.h`). Only
//! `extern "C"` wrappers over the `streamlet` crate live here: argument checks, conversions, the panic
//! boundary and callback trampolines.
#![allow(non_camel_case_types, clippy::missing_safety_doc, clippy::not_unsafe_ptr_arg_deref)]

mod admin;
mod broker;
mod codes;
mod conf;
mod consumer;
mod error;
mod message;
mod producer;
mod util;

use std::ffi::c_char;

/// streamlet_producer_send's partition for "let the partitioner choose".
pub const STREAMLET_PARTITION_UA: i32 = -1;
/// Offsets: seek / list_offsets to the start of a partition.
pub const STREAMLET_OFFSET_BEGINNING: i64 = -2;
/// Offsets: seek / list_offsets to the end of a partition (the next offset to be written).
pub const STREAMLET_OFFSET_END: i64 = -1;
/// Offsets: list_offsets for the record with the largest timestamp.
pub const STREAMLET_OFFSET_MAX_TIMESTAMP: i64 = -3;
/// Offsets: no offset (nothing committed, not known).
pub const STREAMLET_OFFSET_INVALID: i64 = -1001;

const VERSION_STR: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version as (major << 16) | (minor << 8) | patch, to compare with STREAMLET_VERSION.
#[no_mangle]
pub extern "C" fn streamlet_version() -> u32 {
    error::guard_value(0, || {
        let part = |s: &str| s.parse::<u32>().unwrap_or(0);
        (part(env!("CARGO_PKG_VERSION_MAJOR")) << 16) | (part(env!("CARGO_PKG_VERSION_MINOR")) << 8) | part(env!("CARGO_PKG_VERSION_PATCH"))
    })
}

/// The library's version as "major.minor.patch" (static storage).
#[no_mangle]
pub extern "C" fn streamlet_version_str() -> *const c_char {
    error::guard_value(c"".as_ptr(), || VERSION_STR.as_ptr().cast())
}

#[cfg(test)]
mod tests {
    /// The checked-in header must be what cbindgen generates from this source.
    #[test]
    fn header_is_current() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/streamlet.h"));
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../include/streamlet.h");
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            generated == checked_in,
            "include/streamlet.h is stale: regenerate it with `STREAMLET_UPDATE_HEADER=1 cargo build -p streamlet-capi` and commit it"
        );
    }
}
