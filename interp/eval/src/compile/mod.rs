//! From syntax tree to machine code: expansion (`expand`, `macros`) to the core language
//! (`core`), then code generation (`codegen`).

pub mod codegen;
pub mod core;
pub mod expand;
pub mod macros;
mod own_name;

use std::rc::Rc;

pub use codegen::GlobalNames;
pub use expand::{datum_to_value, internal_name, value_to_datum, ExpandEnv};

use crate::error::Error;
use crate::syntax::Datum;
use crate::vm::code::Proto;

/// Compiles one top-level form of source `source` into a procedure of no arguments.
/// `hidden` marks prelude code, which call stacks leave out.
pub fn compile_toplevel(
    form: &Datum,
    env: &mut ExpandEnv,
    globals: &mut GlobalNames,
    source: u32,
    hidden: bool,
) -> Result<Rc<Proto>, Error> {
    let mut ex = expand::Expander::new(env, hidden);
    let expanded = ex.toplevel(form);
    let mut vars = std::mem::take(&mut ex.vars);
    env.end_form();
    let node = expanded.map_err(|mut e| {
        if let Some(loc) = &mut e.loc {
            loc.source = source;
        }
        e
    })?;
    own_name::resolve(&node, &mut vars);
    Ok(codegen::compile_toplevel(&node, &vars, globals, source, hidden))
}
