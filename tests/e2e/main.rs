//! End-to-end tests of omega-tools, one module per area, in one binary so the build stays fast.
//! Shared servers and helpers live in the `omega_tests` support library (tests/support).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

use omega_eval::memory::CountingAlloc;

/// Counts each thread's live bytes, so the memory budget of in-process runs holds as in the
/// CLI, and the whole process's, for tests that look for growth (`session_state.rs`).
#[global_allocator]
static ALLOCATOR: ProcessCounting = ProcessCounting(CountingAlloc(System));

/// Bytes allocated and not yet freed by the whole test process.
pub static PROCESS_LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// This thread's live bytes and the most they reached since [`reset_thread_peak`], for
    /// tests that show how much one evaluation allocated at its peak.
    static THREAD_LIVE: Cell<(isize, isize)> = const { Cell::new((0, 0)) };
}

fn count_on_thread(delta: isize) {
    let _ = THREAD_LIVE.try_with(|c| {
        let (live, peak) = c.get();
        c.set((live + delta, peak.max(live + delta)));
    });
}

/// Starts measuring this thread's peak from its live bytes now.
pub fn reset_thread_peak() {
    THREAD_LIVE.with(|c| c.set((c.get().0, c.get().0)));
}

/// The most live bytes this thread held since [`reset_thread_peak`].
pub fn thread_peak() -> isize {
    THREAD_LIVE.with(|c| c.get().1)
}

/// This thread's live bytes now.
pub fn thread_live() -> isize {
    THREAD_LIVE.with(|c| c.get().0)
}

struct ProcessCounting(CountingAlloc<System>);

unsafe impl GlobalAlloc for ProcessCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        PROCESS_LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        count_on_thread(layout.size() as isize);
        unsafe { self.0.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        PROCESS_LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        count_on_thread(-(layout.size() as isize));
        unsafe { self.0.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            PROCESS_LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
            count_on_thread(new_size as isize - layout.size() as isize);
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
mod lsp_chaos;
mod lsp_copy;
mod lsp_explore;
mod lsp_log;
mod lsp_on_type;
mod lsp_semantic;
mod lsp_workspace;
mod primitive_stops;
mod programs;
mod session_state;
mod tidy;
