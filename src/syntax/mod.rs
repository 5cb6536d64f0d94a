//! The shell language, pure: no I/O, nothing run. A line goes
//!
//! ```text
//! bytes ──lex.rs──▶ tokens ──parse.rs (+ alias.rs)──▶ ast::List ──expand.rs (+ glob.rs)──▶ argv
//! ```
//!
//! - `ast.rs`: the tree (list, and-or, pipeline, command, word parts, redirects), with spans.
//! - `lex.rs`: quoting, escapes, `$` forms, comments, operators; refuses what dockerbox lacks.
//! - `parse.rs`: the grammar; `error.rs`: [`SyntaxError`] (bash's wording, a position,
//!   "incomplete"), shared with the lexer.
//! - `alias.rs`: the alias table's interface and how values are lexed in place of a name.
//! - `expand.rs`: tilde, parameters, field splitting, globbing over any [`Lister`].
//! - `glob.rs`: the fnmatch-style matcher for one path component.
//! - `quote.rs` and `cursor.rs`: for completion, a name written back as a safe word, and the
//!   word at the cursor with its role (command name, redirect target, argument).
//!
//! Lines are bytes throughout, so names that are not UTF-8 can be typed, globbed and passed on.

// Completion (`cursor.rs`, `quote.rs`) is not wired in yet.
#![allow(dead_code, unused_imports)]

pub mod alias;
pub mod arith;
pub mod ast;
pub mod brace;
pub mod cursor;
mod error;
pub mod expand;
pub mod glob;
mod lex;
pub mod parse;
pub mod quote;

pub use alias::Aliases;
pub use ast::{
    AndOr, Assignment, Command, Connector, List, Part, PartKind, Pipeline, RedirOp, RedirTarget,
    Redirect, Span, Word,
};
pub use ast::{CaseArm, CaseEnd, Compound, CondTok, ParamOp};
pub use cursor::{cursor_word, CursorWord};
pub use expand::{
    expand_assignment, expand_pattern, expand_redirect_target, expand_string, expand_word,
    expand_words, glob_field, subscript, word_fields, Env, ExpandError, Field, Key, Lister,
};
pub use parse::{parse, parse_line, parse_with_aliases, ErrorKind, SyntaxError};
pub use quote::quote;

/// A fast hasher for the interpreter's small maps keyed by short byte strings (variable names,
/// arithmetic texts): FNV-1a. Not resistant to chosen collisions; the keys are the user's own.
#[derive(Clone, Copy, Default)]
pub struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = Fnv;
    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

/// The state of [`FastHash`].
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
