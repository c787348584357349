//! The chapter example 10,000 times in one process, as a language server runs buffers for
//! hours: once with a fresh session per run, once in one kept session (the whole file again
//! each run, form by form, as a REPL would). Reports the time per run, the bytes still held
//! per run after warming up (counted by the allocator: exact, whatever the allocator's
//! caching), and resident memory along the way.
//!
//! `cargo bench -p omega-tests --bench soak` (`OMEGA_SOAK_RUNS=N` for another count). The
//! tests (`e2e/session_state.rs`) check the same growth over 200 runs in debug builds, which
//! exact counting makes enough to see a leak of a few bytes per run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use omega_eval::memory::CountingAlloc;
use omega_tests::programs::{run_in, scripted, session, without_delays, Captured};

#[global_allocator]
static ALLOCATOR: ProcessCounting = ProcessCounting(CountingAlloc(System));

/// Bytes allocated and not yet freed by the whole process (the LLM layer has threads too).
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// Counts the process's live bytes on top of the per-thread count the memory budget reads.
struct ProcessCounting(CountingAlloc<System>);

unsafe impl GlobalAlloc for ProcessCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { self.0.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { self.0.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
}

const WARM_RUNS: usize = 100;

/// Resident memory of this process in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let root = omega_tests::repo_root();
    let runs: usize = std::env::var("OMEGA_SOAK_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let text = std::fs::read_to_string(root.join("examples/chapter-39.omega")).unwrap();
    // The example's answers without their delays: the soak measures the evaluator, not sleeps.
    let script = without_delays(&root.join("examples/responses.toml"));
    let cfg = scripted(&script);

    let check = |r: omega_tests::programs::Run| {
        assert!(
            r.syntax_errors.is_empty() && r.results.iter().flatten().all(|r| !r.starts_with("error")),
            "{:?}",
            r.results
        );
    };
    let mut kept = session(&cfg);
    println!("{runs} runs of examples/chapter-39.omega after {WARM_RUNS} warm-up runs");
    println!("{:<8} {:>10} {:>12} {:>14} {:>16}", "sessions", "per run", "bytes/run", "RSS at warm", "RSS at end");
    for mode in ["fresh", "kept"] {
        let run_once = |kept: &mut (omega_eval::Session, Captured)| {
            if mode == "fresh" {
                let (mut s, out) = session(&cfg);
                check(run_in(&mut s, &out, &text));
            } else {
                let (s, out) = kept;
                out.0.borrow_mut().clear();
                check(run_in(s, out, &text));
            }
        };
        for _ in 0..WARM_RUNS {
            run_once(&mut kept);
        }
        let (live_warm, rss_warm) = (LIVE.load(Ordering::Relaxed), rss_kib());
        let start = Instant::now();
        for _ in 0..runs {
            run_once(&mut kept);
        }
        let elapsed = start.elapsed();
        let growth = (LIVE.load(Ordering::Relaxed) - live_warm) as f64 / runs as f64;
        println!(
            "{:<8} {:>7.2} ms {:>12.1} {:>10} KiB {:>12} KiB",
            mode,
            elapsed.as_secs_f64() * 1000.0 / runs as f64,
            growth,
            rss_warm,
            rss_kib()
        );
    }
    let _ = std::fs::remove_file(&script);
}
