//! End-to-end tests of omega-tools, one module per area, in one binary so the build stays fast.
//! Shared servers and helpers live in the `omega_tests` support library (tests/support).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use omega_eval::memory::CountingAlloc;

/// Counts each thread's live bytes, so the memory budget of in-process runs holds as in the
/// CLI, and the whole process's, for tests that look for growth (`session_state.rs`).
#[global_allocator]
static ALLOCATOR: ProcessCounting = ProcessCounting(CountingAlloc(System));

/// Bytes allocated and not yet freed by the whole test process.
pub static PROCESS_LIVE: AtomicIsize = AtomicIsize::new(0);

struct ProcessCounting(CountingAlloc<System>);

unsafe impl GlobalAlloc for ProcessCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        PROCESS_LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { self.0.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        PROCESS_LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { self.0.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            PROCESS_LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
}

mod analysis;
mod analysis_bounds;
mod cli;
mod cli_llm;
mod cli_progress;
mod cli_reports;
mod concurrency;
mod conformance;
mod docs;
mod error_places;
mod explore;
mod forms;
mod fuzz;
mod keys;
mod limits;
mod llm;
mod llm_providers;
mod lsp;
mod lsp_explore;
mod programs;
mod session_state;
mod tidy;
