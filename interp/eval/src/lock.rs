//! Serializer and mutex state: who holds the lock and who waits for it, in arrival order.
//!
//! Locks are non-reentrant and FIFO-fair: a release hands the lock straight to the first
//! waiter, so nobody can barge in between.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

/// A task's number within one evaluation.
pub type TaskId = u32;

pub struct Lock {
    /// Given by `(make-serializer NAME)` or by the first variable it is bound to.
    pub name: RefCell<Option<Rc<str>>>,
    /// Used for `serializer#N` when it never gets a name.
    pub id: u64,
    pub holder: Cell<Option<TaskId>>,
    pub waiters: RefCell<VecDeque<TaskId>>,
}

impl Lock {
    pub fn new(name: Option<Rc<str>>, id: u64) -> Lock {
        Lock { name: RefCell::new(name), id, holder: Cell::new(None), waiters: RefCell::new(VecDeque::new()) }
    }

    pub fn display_name(&self) -> String {
        match &*self.name.borrow() {
            Some(n) => n.to_string(),
            None => format!("serializer#{}", self.id),
        }
    }

    /// Names a lock that has no name yet.
    pub fn name_if_unnamed(&self, name: &str) {
        let mut n = self.name.borrow_mut();
        if n.is_none() {
            *n = Some(name.into());
        }
    }

    /// Releases the lock held by its holder; returns the waiter it was handed to.
    pub fn release(&self) -> Option<TaskId> {
        let next = self.waiters.borrow_mut().pop_front();
        self.holder.set(next);
        next
    }

    pub fn remove_waiter(&self, task: TaskId) {
        self.waiters.borrow_mut().retain(|&t| t != task);
    }
}
