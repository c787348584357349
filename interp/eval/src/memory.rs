//! The memory budget of a run: a program that builds ever larger data ends with an error
//! naming the limit, never with the allocator aborting the whole process (which, in an
//! editor, would take the language server down with it).
//!
//! Two measures work together:
//! - [`CountingAlloc`] wraps the process's global allocator and keeps, per thread, the bytes
//!   allocated and not yet freed. A run's use is the growth of its thread's count since the
//!   run started. The machine looks at it every few thousand steps, and when a task starts.
//! - Primitives that build data of a size given by their arguments (`make-vector`, `iota`,
//!   `string-append` of two huge strings, `search.op`'s samples …) ask [`RunBudget::reserve`]
//!   before allocating, so a single call cannot jump past the limit between two checks.
//!
//! A host that does not install [`CountingAlloc`] keeps the second measure only.
//!
//! The budget also carries the run's deadline and cancel flag ([`RunBudget::watch`]), so a
//! primitive that goes through many items stops when they fire, not only after it finished
//! ([`RunBudget::progress`]).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::vm::CancelToken;

/// The memory a run may use unless told otherwise: enough for any reasonable program, and
/// far from what takes a developer's machine down.
pub const DEFAULT_MEMORY_LIMIT: u64 = 512 << 20;

thread_local! {
    /// Bytes allocated minus bytes freed on this thread (freeing memory allocated on another
    /// thread can make it negative; only differences are used).
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn add_live(delta: isize) {
    // `try_with`: the allocator also runs while the thread's locals are torn down.
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_add(delta)));
}

/// A global allocator that counts live bytes per thread: `#[global_allocator] static A:
/// CountingAlloc<System> = CountingAlloc(System);`.
pub struct CountingAlloc<A>(pub A);

unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            add_live(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            add_live(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) };
        add_live(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add_live(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// This thread's live byte count, if the process counts allocations.
pub fn thread_live_bytes() -> Option<isize> {
    counting_installed().then(|| LIVE.with(Cell::get))
}

/// Whether [`CountingAlloc`] is the global allocator: an allocation moves the count.
fn counting_installed() -> bool {
    static INSTALLED: AtomicU8 = AtomicU8::new(0);
    match INSTALLED.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let before = LIVE.with(Cell::get);
            let probe = std::hint::black_box(Box::new([0u64; 4]));
            let after = LIVE.with(Cell::get);
            drop(probe);
            let yes = after != before;
            INSTALLED.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
            yes
        }
    }
}

/// What one run may still spend besides steps: memory, and the work primitives did.
#[derive(Debug, Default)]
pub struct RunBudget {
    /// Bytes, or `None` for no limit.
    limit: Option<u64>,
    /// This thread's live bytes when the run started.
    base: isize,
    /// Steps' worth of work done inside primitives since the machine last collected it.
    pub work: u64,
    /// Items primitives went through since the clock and the cancel flag were last looked at.
    unpolled: u64,
    /// When the run's time is up, and its timeout in seconds for the message.
    deadline: Option<(Instant, f64)>,
    /// Set from another thread to stop the run.
    cancel: Option<CancelToken>,
}

/// Items a primitive goes through between two looks at the clock and the cancel flag: a few
/// milliseconds of work even in a debug build, and a clock read costs nothing next to it.
pub const POLL_EVERY: u64 = 1 << 16;

impl RunBudget {
    /// Starts counting a run's memory from now.
    pub fn start(&mut self, limit: Option<u64>) {
        self.limit = limit;
        self.base = thread_live_bytes().unwrap_or(0);
        self.work = 0;
        self.unpolled = 0;
    }

    /// What stops the run from outside besides its limits: the deadline (with the timeout
    /// it came from, for the message) and the cancel flag, looked at by [`progress`](Self::progress).
    pub fn watch(&mut self, deadline: Option<Instant>, timeout_secs: Option<f64>, cancel: CancelToken) {
        self.deadline = deadline.map(|at| (at, timeout_secs.unwrap_or(0.0)));
        self.cancel = Some(cancel);
    }

    /// Counts `items` a primitive went through; every [`POLL_EVERY`] items, fails if the run was
    /// cancelled or its time is up, with the errors the machine raises between instructions.
    /// Primitives whose work grows with their arguments call it in their loops, so a timeout or
    /// a cancel (a new save in the editor) does not wait for them to finish.
    #[inline]
    pub fn progress(&mut self, items: u64) -> Result<(), Error> {
        self.unpolled += items;
        if self.unpolled >= POLL_EVERY {
            return self.poll();
        }
        Ok(())
    }

    #[cold]
    fn poll(&mut self) -> Result<(), Error> {
        self.unpolled = 0;
        if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            return Err(cancelled_error());
        }
        match self.deadline {
            Some((at, secs)) if Instant::now() >= at => Err(timeout_error(secs)),
            _ => Ok(()),
        }
    }

    /// Bytes the run holds now, as far as it is known.
    pub fn in_use(&self) -> u64 {
        thread_live_bytes().map_or(0, |live| live.saturating_sub(self.base).max(0) as u64)
    }

    /// Fails unless `bytes` more fit in the limit; `0` checks what the run holds already.
    pub fn reserve(&self, bytes: u64) -> Result<(), Error> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        if self.in_use().saturating_add(bytes) > limit {
            return Err(memory_error(limit));
        }
        Ok(())
    }

    /// [`reserve`](Self::reserve) for `count` items of `size` bytes, also counting them as work.
    pub fn reserve_items(&mut self, count: u64, size: usize) -> Result<(), Error> {
        self.work = self.work.saturating_add(count);
        self.reserve(count.saturating_mul(size as u64))
    }
}

/// How the memory error says to raise the limit on the command line; hosts with another knob
/// (the language server's setting) put theirs in its place.
pub const MEMORY_FLAG_HINT: &str = " (raise the limit with --max-memory MB)";

/// The error that ends a run over its memory limit: names the limit and how to raise it.
pub fn memory_error(limit: u64) -> Error {
    Error::with_kind(
        ErrorKind::Budget,
        format!("memory limit exceeded: the run needs more than {} MB{MEMORY_FLAG_HINT}", limit >> 20),
    )
}

/// The error that ends a run whose timeout passed, as the machine raises it between
/// instructions (`Machine::check_clock`, which builds its own to stay small in the hot loop).
pub fn timeout_error(secs: f64) -> Error {
    Error::with_kind(ErrorKind::Budget, format!("timeout after {secs} s"))
}

/// The error that ends a run cancelled from outside.
pub fn cancelled_error() -> Error {
    Error::with_kind(ErrorKind::Cancelled, "evaluation cancelled")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_past_the_limit_names_the_limit_and_the_flag() {
        let mut budget = RunBudget::default();
        budget.start(Some(64 << 20));
        assert!(budget.reserve(1 << 20).is_ok());
        let e = budget.reserve(65 << 20).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Budget);
        assert!(e.message.contains("64 MB") && e.message.contains("--max-memory"), "{}", e.message);
        budget.start(None);
        assert!(budget.reserve(u64::MAX).is_ok());
    }

    #[test]
    fn reserving_items_counts_them_as_work() {
        let mut budget = RunBudget::default();
        budget.start(Some(1 << 30));
        budget.reserve_items(1000, 16).unwrap();
        assert_eq!(budget.work, 1000);
        assert!(budget.reserve_items(u64::MAX, 16).is_err());
    }

    #[test]
    fn progress_stops_at_a_passed_deadline_or_a_cancel_only_when_it_polls() {
        let mut budget = RunBudget::default();
        budget.start(None);
        let cancel = CancelToken::default();
        budget.watch(None, None, cancel.clone());
        assert!(budget.progress(POLL_EVERY * 4).is_ok());
        cancel.cancel();
        assert!(budget.progress(POLL_EVERY - 1).is_ok(), "between polls nothing is looked at");
        assert_eq!(budget.progress(1).unwrap_err().kind, ErrorKind::Cancelled);
        budget.watch(Some(Instant::now()), Some(2.5), CancelToken::default());
        let e = budget.progress(POLL_EVERY).unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Budget, "timeout after 2.5 s"));
    }
}
