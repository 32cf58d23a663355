//! The process's heap, counted: [`Counting`] is the system allocator with a count of the
//! bytes it has handed out and not had back, so that the sandbox can hold a script to its
//! memory budget between any two of its operations. The binary installs it
//! ([`install_heap_meter!`](crate::install_heap_meter)); a test or a bench that runs scripts
//! in its own process installs it the same way. Without it [`live`] stays 0 and no budget
//! is held.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, with a count of the bytes it has handed out and not had back.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Heap bytes in use by the whole process now (0 where [`Counting`] is not installed).
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is kept
// beside it, and the counter never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            LIVE.fetch_add(l.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            LIVE.fetch_add(l.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                LIVE.fetch_add(new - l.size(), Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

/// Make [`Counting`] the process's allocator: once, in a binary, a test or a bench crate.
#[macro_export]
macro_rules! install_heap_meter {
    () => {
        #[global_allocator]
        static HEAP_METER: $crate::heap::Counting = $crate::heap::Counting;
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn live_follows_allocations() {
        // Other test threads allocate too: look for a change far larger than their noise.
        let before = super::live();
        let v = vec![0u8; 64 << 20];
        let during = super::live();
        assert!(during >= before + (60 << 20), "{before} -> {during}");
        drop(v);
        assert!(super::live() < during - (60 << 20));
    }
}
