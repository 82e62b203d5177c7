//! Allocation guard for decoding untrusted frames.
//!
//! The `kafka-protocol` decoders call `Vec::with_capacity(n)` with an element count read off the wire before they
//! decode a single element, so a 20-byte frame claiming 2^31 elements asks for hundreds of gigabytes up front; the
//! system allocator refuses and Rust aborts the whole process. A real element costs at least one byte on the wire,
//! so a hostile count can never be *filled*: the decoder runs out of input after at most frame-size elements.
//!
//! This allocator therefore serves very large requests with an anonymous `MAP_NORESERVE` mapping: the address
//! space is reserved but the kernel commits pages only when they are written. A lying count costs address space,
//! not memory, and the decode fails with a clean error a few bytes later. Ordinary allocations go straight to the
//! system allocator. Every artifact we ship installs it (the `guard-alloc` feature, on by default); an embedding
//! Rust program that brings its own global allocator turns the feature off and should cap request sizes itself.

use std::alloc::{GlobalAlloc, Layout, System};

/// Requests at or above this size are served by lazily committed mappings.
pub const LAZY_THRESHOLD: usize = 256 << 20;

pub struct GuardedAllocator;

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

fn is_lazy(layout: &Layout) -> bool {
    layout.size() >= LAZY_THRESHOLD && layout.align() <= page_size()
}

unsafe fn map_lazy(size: usize) -> *mut u8 {
    let p = libc::mmap(
        std::ptr::null_mut(),
        size,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
        -1,
        0,
    );
    if p == libc::MAP_FAILED { std::ptr::null_mut() } else { p as *mut u8 }
}

unsafe impl GlobalAlloc for GuardedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_lazy(&layout) { map_lazy(layout.size()) } else { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // Anonymous mappings are zero-filled already.
        if is_lazy(&layout) { map_lazy(layout.size()) } else { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_lazy(&layout) {
            libc::munmap(ptr as *mut libc::c_void, layout.size());
        } else {
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        match (is_lazy(&layout), is_lazy(&new_layout)) {
            (false, false) => System.realloc(ptr, layout, new_size),
            (true, true) => {
                let p = libc::mremap(ptr as *mut libc::c_void, layout.size(), new_size, libc::MREMAP_MAYMOVE);
                if p == libc::MAP_FAILED { std::ptr::null_mut() } else { p as *mut u8 }
            }
            _ => {
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_reservation_costs_no_memory_and_round_trips() {
        let a = GuardedAllocator;
        unsafe {
            // 64 GiB: more than this machine has; only the touched page is committed.
            let layout = Layout::from_size_align(64 << 30, 8).unwrap();
            let p = a.alloc(layout);
            assert!(!p.is_null());
            *p = 7;
            let p = a.realloc(p, layout, 128 << 30);
            assert!(!p.is_null());
            assert_eq!(*p, 7);
            a.dealloc(p, Layout::from_size_align(128 << 30, 8).unwrap());

            let small = Layout::from_size_align(64, 8).unwrap();
            let q = a.alloc(small);
            *q = 1;
            let q = a.realloc(q, small, LAZY_THRESHOLD);
            assert_eq!(*q, 1);
            let q = a.realloc(q, Layout::from_size_align(LAZY_THRESHOLD, 8).unwrap(), 32);
            assert_eq!(*q, 1);
            a.dealloc(q, Layout::from_size_align(32, 8).unwrap());
        }
    }
}
