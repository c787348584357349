//! Interned symbols: a `Symbol` is a small copyable id; equal names share an id.
//!
//! The table is process-wide so syntax trees and values can move between threads. Only
//! interned names enter it: an uninterned symbol (a `gensym`, an alias the expander makes
//! for hygiene) is the interned id of its name plus a serial number, so making millions of
//! them over a long-lived process takes no memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(u64);

/// The low half of a symbol is the index of its name; the high half is 0 for an interned
/// symbol and a serial number for an uninterned one.
const NAME_BITS: u32 = 32;

#[derive(Default)]
struct Table {
    ids: HashMap<&'static str, Symbol>,
    names: Vec<&'static str>,
}

fn table() -> &'static RwLock<Table> {
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

impl Symbol {
    pub fn intern(name: &str) -> Symbol {
        if let Some(&s) = table().read().unwrap().ids.get(name) {
            return s;
        }
        let mut t = table().write().unwrap();
        if let Some(&s) = t.ids.get(name) {
            return s;
        }
        let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let s = Symbol(t.names.len() as u64);
        t.names.push(name);
        t.ids.insert(name, s);
        s
    }

    /// A fresh symbol that no other symbol equals, even one with the same name (`gensym`).
    pub fn uninterned(name: &str) -> Symbol {
        static SERIAL: AtomicU64 = AtomicU64::new(1);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        Symbol(serial << NAME_BITS | Symbol::intern(name).0)
    }

    pub fn as_str(self) -> &'static str {
        table().read().unwrap().names[(self.0 & ((1 << NAME_BITS) - 1)) as usize]
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Symbol;

    #[test]
    fn interning_is_by_name_and_gensyms_are_distinct() {
        assert_eq!(Symbol::intern("infer.op"), Symbol::intern("infer.op"));
        assert_ne!(Symbol::uninterned("g1"), Symbol::intern("g1"));
        assert_eq!(Symbol::uninterned("g1").as_str(), "g1");
    }
}
