//! The bench binary's global allocator: the system allocator, counting allocations and
//! bytes while counting is switched on.
//!
//! The counters are atomics that every core shares. Counting every allocation of a timed
//! measure would make each allocation and free pull their cache line from the other core,
//! a cost that grows with the allocations a side makes (so it weighs on the runtime more
//! than on the router) and that no real program pays. So counting is off unless a measure
//! switches it on: the memory measures, and the untimed warm-up passes that count
//! allocations per event. Timed passes run with it off, where the allocator costs one
//! relaxed load of a flag no one writes meanwhile.
// `GlobalAlloc` is an unsafe trait; this is the one place of the workspace allowed to
// implement it (see pm-bench's lint table).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static ON: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting while [`switch`] has counting on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

fn allocated(bytes: usize) {
    if ON.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

fn freed(bytes: usize) {
    if ON.load(Ordering::Relaxed) {
        FREED.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counting around it neither
// allocates nor touches the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on to `System`.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            allocated(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on to `System`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            allocated(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on to `System`.
        unsafe { System.dealloc(ptr, layout) };
        freed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on to `System`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Counted as a free of the old block and an allocation of the new one.
            freed(layout.size());
            allocated(new_size);
        }
        new
    }
}

/// Switches counting on or off; returns whether it was on.
pub fn switch(on: bool) -> bool {
    ON.swap(on, Ordering::SeqCst)
}

/// Allocations counted so far (a reallocation counts as one).
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Bytes counted as allocated minus bytes counted as freed. Only differences taken while
/// counting stayed on mean anything.
pub fn live_bytes() -> i64 {
    ALLOCATED.load(Ordering::Relaxed) as i64 - FREED.load(Ordering::Relaxed) as i64
}
