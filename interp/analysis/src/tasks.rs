//! Task paths and the may-run-concurrently relation (tasks as docs/language.md §8.1 and §8.6 name them).
//!
//! A path lists, from the root, each spawn site passed and the branch taken there: `Index(i)`
//! for the i-th argument of a `parallel`, `Star` for the element tasks of a `parallel-map`
//! (one abstract task stands for all of them, so it is concurrent with itself).

use std::rc::Rc;

use crate::syntax::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Branch {
    Index(u32),
    Star,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Step {
    /// Index into the spawn table: one per abstract evaluation of a `parallel`/`parallel-map`.
    pub site: u32,
    pub branch: Branch,
}

pub type TaskPath = Rc<Vec<Step>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnKind {
    Parallel,
    ParallelMap,
}

/// One spawn: where it is written and where each task starts.
#[derive(Clone, Debug)]
pub struct Spawn {
    pub kind: SpawnKind,
    /// The `parallel` / `parallel-map` keyword.
    pub head: Span,
    /// Branch expressions (`parallel`) or the procedure argument (`parallel-map`).
    pub branches: Vec<Span>,
    /// For `parallel-map`: the procedure's name, if it has one.
    pub proc_name: Option<String>,
    /// The region of code standing for several runs (a `map` procedure over a list of unknown
    /// length, a `parallel-map` family) this spawn was evaluated in, or 0.
    pub region: u32,
}

/// Where two paths part: the index of the first differing step, if neither is a prefix.
pub fn divergence(a: &[Step], b: &[Step]) -> Option<usize> {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] || a[i].branch == Branch::Star {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Whether events on the two paths may run at the same time.
pub fn concurrent(a: &[Step], b: &[Step]) -> bool {
    match divergence(a, b) {
        Some(i) => a[i].site == b[i].site,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(site: u32, b: Branch) -> Step {
        Step { site, branch: b }
    }

    #[test]
    fn siblings_run_concurrently_ancestors_and_sequential_sites_do_not() {
        let t1 = [s(0, Branch::Index(1))];
        let t2 = [s(0, Branch::Index(2))];
        assert!(concurrent(&t1, &t2));
        assert!(!concurrent(&t1, &t1));
        assert!(!concurrent(&[], &t1));
        assert!(!concurrent(&[s(1, Branch::Index(1))], &t1));
        let star = [s(3, Branch::Star)];
        assert!(concurrent(&star, &star));
    }
}
