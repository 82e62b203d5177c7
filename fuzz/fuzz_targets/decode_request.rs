//! Any byte string handed to the request decoder yields a request or an error: never a panic, an abort, or an
//! allocation driven by a lying element count.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = streamlet::protocol::codec::decode_request(bytes::Bytes::copy_from_slice(data));
});
