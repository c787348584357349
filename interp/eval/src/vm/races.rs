//! Data races observed while a program runs (`omega explore`).
//!
//! A race is two accesses to the same shared location — a global assigned with `set!`, a
//! captured variable, or a table, vector or pair passed to a shared-state built-in — from two
//! tasks that may run at the same time, at least one a write, with no lock held by both.
//!
//! "May run at the same time" is the fork/join happens-before order of `parallel`: an access
//! is ordered before another when its task is an ancestor or descendant of the other's, or when
//! the two branches below their closest common ancestor were started by different `parallel`
//! calls (the first was joined before the second started). Locks are not taken as ordering:
//! whether a common lock was held is the lockset half of the check, so a race is reported in
//! every schedule, not only in the ones that happen to interleave badly.

use std::collections::HashMap;
use std::rc::Rc;

use crate::error::Loc;
use crate::lock::{Lock, TaskId};
use crate::value::Value;

/// Where an access went.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) enum Place {
    Global(u32),
    /// A mutable object, by address (kept alive by the log so the address is not reused).
    Cell(usize),
    /// The implicit operation table of `put`/`get`.
    OperationTable,
}

#[derive(Clone)]
struct Access {
    task: TaskId,
    write: bool,
    /// Addresses of the locks the task held.
    locks: Vec<usize>,
    loc: Option<Loc>,
}

/// One side of a reported race.
#[derive(Clone, Debug, PartialEq)]
pub struct RaceAccess {
    pub task: String,
    pub write: bool,
    pub loc: Option<Loc>,
    /// Display names of the locks the task held, sorted.
    pub locks: Vec<String>,
}

/// A data race: `first` happened before `second` in this schedule, but nothing ordered them.
#[derive(Clone, Debug, PartialEq)]
pub struct RaceReport {
    /// The location's name: the variable, or the global that holds the object.
    pub location: String,
    pub first: RaceAccess,
    pub second: RaceAccess,
}

/// The log of one session's accesses and the races found so far.
#[derive(Default)]
pub(super) struct RaceLog {
    /// Task tree of the running evaluation: parent and the `parallel` call that started it.
    tree: Vec<(Option<TaskId>, u32)>,
    groups: u32,
    accesses: HashMap<Place, Vec<Access>>,
    /// Objects whose address is a `Place::Cell`, with a name when one is known.
    cells: HashMap<usize, (Value, Option<String>)>,
    locks: Vec<Rc<Lock>>,
    /// Task labels of the running evaluation.
    labels: Vec<String>,
    pub found: Vec<RaceReport>,
    /// Deadlocks detected, also those the program caught and recovered from.
    pub deadlocks: Vec<crate::error::Error>,
}

impl RaceLog {
    /// A new evaluation (a top-level form) starts: it runs after everything before it.
    pub fn restart(&mut self) {
        self.tree = vec![(None, 0)];
        self.labels = vec!["main".into()];
        self.groups = 0;
        self.accesses.clear();
        self.cells.clear();
    }

    pub fn spawned(&mut self, parent: TaskId, children: &[(TaskId, String)]) {
        self.groups += 1;
        for (child, label) in children {
            let i = *child as usize;
            if self.tree.len() <= i {
                self.tree.resize(i + 1, (None, 0));
                self.labels.resize(i + 1, String::new());
            }
            self.tree[i] = (Some(parent), self.groups);
            self.labels[i] = label.clone();
        }
    }

    pub fn saw_lock(&mut self, lock: &Rc<Lock>) {
        if !self.locks.iter().any(|l| Rc::ptr_eq(l, lock)) {
            self.locks.push(lock.clone());
        }
    }

    /// Remembers the object behind a `Place::Cell` (and a name for it, if known).
    pub fn keep(&mut self, value: &Value, name: Option<String>) {
        if let Some(addr) = address(value) {
            self.cells.entry(addr).or_insert_with(|| (value.clone(), name));
        }
    }

    pub fn cell_name(&self, addr: usize) -> Option<&str> {
        self.cells.get(&addr).and_then(|(_, n)| n.as_deref())
    }

    /// Records an access; returns the earlier access it races with, if any, as a report
    /// without the location's name (the caller knows it).
    pub fn access(&mut self, place: Place, task: TaskId, write: bool, loc: Option<Loc>) -> Option<RaceReport> {
        let held: Vec<usize> = self
            .locks
            .iter()
            .filter(|l| l.holder.get() == Some(task))
            .map(|l| Rc::as_ptr(l) as *const () as usize)
            .collect();
        let history = self.accesses.entry(place).or_default();
        let mut report = None;
        for a in history.iter() {
            if a.task == task || !(a.write || write) || a.locks.iter().any(|l| held.contains(l)) {
                continue;
            }
            if concurrent(&self.tree, a.task, task) {
                let side = |t: TaskId, w: bool, loc: Option<Loc>, locks: &[usize]| RaceAccess {
                    task: self.labels.get(t as usize).cloned().unwrap_or_default(),
                    write: w,
                    loc,
                    locks: lock_names(&self.locks, locks),
                };
                report = Some(RaceReport {
                    location: String::new(),
                    first: side(a.task, a.write, a.loc, &a.locks),
                    second: side(task, write, loc, &held),
                });
                break;
            }
        }
        let history = self.accesses.get_mut(&place).unwrap();
        let known = history.iter().any(|a| a.task == task && a.write == write && a.locks == held);
        if !known {
            history.push(Access { task, write, locks: held, loc });
        }
        report
    }
}

/// The address that identifies a mutable object.
pub(super) fn address(v: &Value) -> Option<usize> {
    match v {
        Value::Pair(p) => Some(Rc::as_ptr(p) as *const () as usize),
        Value::Vector(p) => Some(Rc::as_ptr(p) as *const () as usize),
        Value::Boxed(p) => Some(Rc::as_ptr(p) as *const () as usize),
        Value::Object(p) => Some(Rc::as_ptr(p) as *const () as usize),
        _ => None,
    }
}

fn lock_names(all: &[Rc<Lock>], held: &[usize]) -> Vec<String> {
    let mut names: Vec<String> = all
        .iter()
        .filter(|l| held.contains(&(Rc::as_ptr(l) as *const () as usize)))
        .map(|l| l.display_name())
        .collect();
    names.sort();
    names
}

/// Whether nothing in the fork/join structure orders an access by `a` before one by `b`.
fn concurrent(tree: &[(Option<TaskId>, u32)], a: TaskId, b: TaskId) -> bool {
    let chain = |mut t: TaskId| {
        let mut c = vec![t];
        while let Some(Some(p)) = tree.get(t as usize).map(|n| n.0) {
            c.push(p);
            t = p;
        }
        c
    };
    let (ca, cb) = (chain(a), chain(b));
    if ca.contains(&b) || cb.contains(&a) {
        return false;
    }
    // The children of the closest common ancestor on each side.
    let Some(ia) = ca.iter().position(|t| cb.contains(t)) else { return false };
    let ib = cb.iter().position(|t| *t == ca[ia]).unwrap();
    let group = |t: TaskId| tree.get(t as usize).map_or(0, |n| n.1);
    group(ca[ia - 1]) == group(cb[ib - 1])
}

/// Built-ins among the shared-state ones that change their argument.
pub(super) const WRITES: &[&str] = &[
    "add-entry",
    "write-table!",
    "write-context!",
    "insert-at!",
    "insert!",
    "put",
    "hash-table-set!",
    "hash-table-delete!",
    "hash-table-clear!",
    "hash-set!",
    "vector-set!",
    "vector-fill!",
    "set-car!",
    "set-cdr!",
];

impl super::Machine {
    /// Starts recording accesses to shared state and reporting data races.
    pub fn observe_races(&mut self) {
        let mut log = RaceLog::default();
        log.restart();
        self.races = Some(Box::new(log));
    }

    /// The races found since the last call, each once.
    pub fn take_races(&mut self) -> Vec<RaceReport> {
        self.races.as_mut().map(|r| std::mem::take(&mut r.found)).unwrap_or_default()
    }

    /// The deadlocks detected since the last call, caught by the program or not.
    pub fn take_deadlocks(&mut self) -> Vec<crate::error::Error> {
        self.races.as_mut().map(|r| std::mem::take(&mut r.deadlocks)).unwrap_or_default()
    }

    /// Records an access by the running task to `place`; `cell` is the object for a `Cell`
    /// place, `hint` a name for it when no global holds it.
    pub(super) fn note_access(&mut self, place: Place, write: bool, cell: Option<&Value>, hint: Option<&str>) {
        let loc = self.current_loc();
        let task = self.sched.current;
        if let (Some(v), Place::Cell(addr)) = (cell, place) {
            let known = self.races.as_ref().is_some_and(|r| r.cells.contains_key(&addr));
            if !known {
                let name = self.holder_name(v).or_else(|| hint.map(str::to_string));
                if let Some(log) = self.races.as_mut() {
                    log.keep(v, name);
                }
            }
        }
        let Some(log) = self.races.as_mut() else { return };
        let Some(mut report) = log.access(place, task, write, loc) else { return };
        report.location = match place {
            Place::Global(g) => self.global_names.names[g as usize].to_string(),
            Place::Cell(addr) => log.cell_name(addr).unwrap_or("an unnamed object").to_string(),
            Place::OperationTable => "the operation table".to_string(),
        };
        let same = |r: &RaceReport| {
            r.location == report.location && r.first.loc == report.first.loc && r.second.loc == report.second.loc
        };
        if !log.found.iter().any(same) {
            log.found.push(report);
        }
    }

    /// An access to captured variable `i` of `closure` (a box shared with other closures).
    pub(super) fn note_capture(&mut self, closure: &super::Closure, i: u32, write: bool) {
        let cell = closure.captures[i as usize].clone();
        let Some(addr) = address(&cell) else { return };
        let name = closure.proto.capture_names.get(i as usize).map(|n| n.to_string());
        self.note_access(Place::Cell(addr), write, Some(&cell), name.as_deref());
    }

    /// The global variable whose value is the object `v`, if any.
    fn holder_name(&self, v: &Value) -> Option<String> {
        let addr = address(v)?;
        let g = self.globals.iter().position(|g| address(g) == Some(addr))?;
        Some(self.global_names.names[g].to_string())
    }

    /// A shared-state built-in is about to be called with its arguments at `args`.
    pub(super) fn note_shared_call(&mut self, name: &'static str, args: std::ops::Range<usize>) {
        let write = WRITES.contains(&name);
        if matches!(name, "put" | "get") {
            return self.note_access(Place::OperationTable, write, None, None);
        }
        let target = self.stack[args].iter().find(|v| address(v).is_some()).cloned();
        if let Some(v) = target {
            let place = Place::Cell(address(&v).unwrap());
            self.note_access(place, write, Some(&v), None);
        }
    }
}
