//! Interned symbols: a `Symbol` is a small copyable id; equal names share an id.
//!
//! The table is process-wide so syntax trees and values can move between threads.

use std::collections::HashMap;
use std::fmt;
use std::sync::{OnceLock, RwLock};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(u32);

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
        let s = Symbol(t.names.len() as u32);
        t.names.push(name);
        t.ids.insert(name, s);
        s
    }

    /// A fresh symbol that no other symbol equals, even one with the same name (`gensym`).
    pub fn uninterned(name: &str) -> Symbol {
        let mut t = table().write().unwrap();
        let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let s = Symbol(t.names.len() as u32);
        t.names.push(name);
        s
    }

    pub fn as_str(self) -> &'static str {
        table().read().unwrap().names[self.0 as usize]
    }

    pub fn id(self) -> u32 {
        self.0
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
