//! Word expansion, in sh's order: tilde, parameters (`$NAME`, `$?`), field splitting of unquoted
//! parameter values on IFS, then pathname expansion of unquoted `*`, `?`, `[...]`. Variables
//! come from an [`Env`] and directory listings from a [`Lister`], so globs run over the
//! dockerbox namespace (`/containers/*/etc/os-release`) as over the host. A name a listing
//! returns is put in the result as it is and never expanded again, whatever it contains.
//! `**` is `*` (bash without globstar); a glob that matches nothing stays as typed.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use super::arith;
use super::ast::{List, ParamOp, Part, PartKind, Word};
use super::glob::Pattern;

/// The shell state expansion reads, and the few things it does: assignments (`${x:=y}`,
/// `$((i+=1))`) and command substitutions.
pub trait Env {
    /// A variable's value; also asked for the one-character specials (`$`, `#`, `1`...).
    fn var(&self, name: &[u8]) -> Option<OsString>;
    /// [`Env::var`], borrowed where the value is stored as it is (no copy per read).
    fn var_bytes(&self, name: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
        self.var(name)
            .map(|v| std::borrow::Cow::Owned(v.into_vec()))
    }
    /// `$?`
    fn last_status(&self) -> i32;
    /// What `~` means.
    fn home(&self) -> Option<OsString>;
    /// What `~user` means; by default no user is known and `~user` stays as typed.
    fn user_home(&self, _user: &[u8]) -> Option<OsString> {
        None
    }
    /// `$1`...: by default there are none.
    fn positional(&self) -> Vec<OsString> {
        Vec::new()
    }
    /// Sets a variable; by default nothing can be (the message says why).
    fn set_var(&mut self, name: &[u8], _value: Vec<u8>) -> Result<(), String> {
        Err(format!(
            "{}: cannot assign here",
            String::from_utf8_lossy(name)
        ))
    }
    /// Runs a command substitution and gives its output; by default nothing runs.
    fn command_sub(&mut self, _list: &List) -> Vec<u8> {
        Vec::new()
    }
    /// Starts a process substitution and gives the name it is reached by.
    fn proc_sub(&mut self, _list: &List, _out: bool) -> Result<Vec<u8>, String> {
        Err("process substitution is not available here".to_string())
    }
    /// `set -u`: an unset variable is an error.
    fn nounset(&self) -> bool {
        false
    }
    /// Whether `name` is an associative array (string subscripts); by default none is.
    fn is_assoc(&self, _name: &[u8]) -> bool {
        false
    }
    /// Whether `name` is an indexed array; by default none is.
    fn is_array(&self, _name: &[u8]) -> bool {
        false
    }
    /// One element of an array (a string is element 0 of itself); by default only that.
    fn elem(&self, name: &[u8], key: &Key) -> Option<OsString> {
        match key {
            Key::Index(0) => self.var(name),
            _ => None,
        }
    }
    /// Every element with its subscript, in order (`${a[@]}`, `${!a[@]}`); `None` for an unset
    /// variable; a string is one element at 0.
    fn elems(&self, name: &[u8]) -> Option<Vec<(Key, OsString)>> {
        self.var(name).map(|v| vec![(Key::Index(0), v)])
    }
    /// `a[k]=v`; by default arrays cannot be set.
    fn set_elem(&mut self, name: &[u8], _key: Key, _value: Vec<u8>) -> Result<(), String> {
        Err(format!(
            "{}: cannot assign here",
            String::from_utf8_lossy(name)
        ))
    }
}

/// The subscript of `name[index]` evaluated for that variable: a string for an associative
/// array, else arithmetic.
pub fn subscript(env: &mut dyn Env, name: &[u8], index: &Word) -> Result<Key, ExpandError> {
    let text = expand_string(index, env)?;
    if env.is_assoc(name) {
        return Ok(Key::Name(text));
    }
    arith::eval(&text, env)
        .map(Key::Index)
        .map_err(ExpandError::Failed)
}

/// An element's subscript, evaluated: a number for indexed arrays (arithmetic, negative from
/// the end), a string for associative ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Index(i64),
    Name(Vec<u8>),
}

/// Directory listings for globbing.
pub trait Lister {
    /// The names in `dir` (without `.` and `..`), or `None` if it is not a readable directory.
    /// `dir` is as typed: relative paths (`.`, `web/`) are relative to the current directory.
    fn list(&self, dir: &Path) -> Option<Vec<OsString>>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// A redirect target that expanded to no word or to several (bash's wording).
    #[error("{0}: ambiguous redirect")]
    AmbiguousRedirect(String),
    /// `set -u` and an unset variable.
    #[error("{0}: unbound variable")]
    Unbound(String),
    /// `${x:?message}`, an arithmetic error, a bad `${...}` at run time: the whole message.
    #[error("{0}")]
    Failed(String),
    /// An error in `$((...))`: bash drops the rest of the line, but a script goes on.
    #[error("{0}")]
    Arith(String),
}

/// The fields of one word, in order; a word can become none (`$EMPTY`) or many (`*.conf`).
pub fn expand_word(
    word: &Word,
    env: &mut dyn Env,
    lister: &dyn Lister,
) -> Result<Vec<OsString>, ExpandError> {
    Ok(word_fields(word, env, true)?
        .into_iter()
        .flat_map(|f| glob_field(f, lister))
        .collect())
}

/// All the words of a command, expanded: its argv.
pub fn expand_words(
    words: &[Word],
    env: &mut dyn Env,
    lister: &dyn Lister,
) -> Result<Vec<OsString>, ExpandError> {
    let mut out = Vec::new();
    for w in words {
        for b in super::brace::expand(w) {
            out.extend(expand_word(&b, env, lister)?);
        }
    }
    Ok(out)
}

/// A redirect's file name: the word must expand to exactly one field.
pub fn expand_redirect_target(
    word: &Word,
    env: &mut dyn Env,
    lister: &dyn Lister,
) -> Result<OsString, ExpandError> {
    let mut fields = expand_word(word, env, lister)?;
    match fields.pop() {
        Some(f) if fields.is_empty() => Ok(f),
        _ => Err(ExpandError::AmbiguousRedirect(word.to_string())),
    }
}

/// An assignment's value (`A=$x`, also `export A=$x`): tilde and parameters, but no field
/// splitting and no globbing, so it is always exactly one string.
pub fn expand_assignment(value: &Word, env: &mut dyn Env) -> Result<OsString, ExpandError> {
    Ok(OsString::from_vec(expand_string(value, env)?))
}

/// A word as one string (no splitting, no globbing): assignments, here-documents, `case`'s word.
pub fn expand_string(value: &Word, env: &mut dyn Env) -> Result<Vec<u8>, ExpandError> {
    // Text typed as it is (an assignment's `=value`, a here-document without `$`).
    if let [Part {
        kind: PartKind::Bare(b) | PartKind::Quoted(b),
        ..
    }] = value.parts.as_slice()
    {
        return Ok(b.clone());
    }
    let mut s = splitter(value, env, false, false);
    for part in &value.parts {
        s.part(part, env, false)?;
    }
    // Unsplit, everything is in the one field (or the first, after an unquoted `$@`).
    Ok(match s.out.into_iter().next() {
        Some(first) => first.bytes,
        None => s.cur.bytes,
    })
}

/// A word as a pattern (`case`, `${x#pat}`, `[[ x == pat ]]`): quoted parts literal.
pub fn expand_pattern(word: &Word, env: &mut dyn Env) -> Result<Pattern, ExpandError> {
    let f = word_fields(word, env, false)?
        .into_iter()
        .next()
        .unwrap_or_default();
    Ok(Pattern::new(&f.bytes, &f.quoted))
}

/// A field being built: its bytes, and for each whether it was quoted (literal to globbing).
#[derive(Debug, Default, Clone)]
pub struct Field {
    pub bytes: Vec<u8>,
    pub quoted: Vec<bool>,
}

impl Field {
    fn push(&mut self, bytes: &[u8], quoted: bool) {
        self.bytes.extend_from_slice(bytes);
        self.quoted.resize(self.bytes.len(), quoted);
    }
}

/// Splits a word into fields as sh does. With `split` off (assignments), the result is one
/// field and everything in it is literal.
pub fn word_fields(word: &Word, env: &mut dyn Env, split: bool) -> Result<Vec<Field>, ExpandError> {
    fields(word, env, split, true)
}

/// [`word_fields`]; without `quotes`, the fields' `quoted` is left empty (a string's callers
/// never glob it).
fn fields(
    word: &Word,
    env: &mut dyn Env,
    split: bool,
    quotes: bool,
) -> Result<Vec<Field>, ExpandError> {
    let mut s = splitter(word, env, split, quotes);
    for part in &word.parts {
        s.part(part, env, false)?;
    }
    if s.exists || !split {
        s.out.push(s.cur);
    }
    Ok(s.out)
}

/// The state to expand `word` with.
fn splitter(word: &Word, env: &dyn Env, split: bool, quotes: bool) -> Splitter {
    // Unsplit, only `$*` and its kin read IFS (most words of a loop's body never do).
    let ifs = if split || word.parts.iter().any(may_join) {
        env.var(b"IFS")
            .map_or_else(|| b" \t\n".to_vec(), OsString::into_vec)
    } else {
        Vec::new()
    };
    Splitter {
        ifs,
        out: Vec::new(),
        cur: Field::default(),
        exists: false,
        after_blank: false,
        split,
        quotes,
    }
}

/// `v` in decimal, written into `buf` (no allocation: a loop's `$((...))` runs every turn).
pub fn itoa(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Whether an unsplit part may join fields with IFS's first byte (`"$*"`, `${a[*]}`...).
fn may_join(p: &Part) -> bool {
    match &p.kind {
        PartKind::Bare(_)
        | PartKind::Quoted(_)
        | PartKind::Tilde(_)
        | PartKind::Status { .. }
        | PartKind::CommandSub { .. }
        | PartKind::ProcSub { .. }
        | PartKind::Arith { .. } => false,
        PartKind::Param { name, .. } => matches!(name.as_slice(), b"@" | b"*"),
        PartKind::ParamOp { .. } => true,
    }
}

/// Field splitting state (POSIX 2.6.5): IFS blanks separate and are trimmed, other IFS bytes
/// separate one field each (`a::b` is three with IFS=:), a blank run around one counts once.
struct Splitter {
    ifs: Vec<u8>,
    out: Vec<Field>,
    cur: Field,
    /// The current field exists even if empty (`''`, `"$empty"`).
    exists: bool,
    /// A blank has just ended a field: a following non-blank IFS byte belongs to that break.
    after_blank: bool,
    /// Field splitting and globbing apply (off in assignments).
    split: bool,
    /// Whether each byte's quoting is kept (for globs and patterns).
    quotes: bool,
}

impl Splitter {
    fn literal(&mut self, bytes: &[u8], quoted: bool) {
        if self.quotes {
            self.cur.push(bytes, quoted);
        } else {
            self.cur.bytes.extend_from_slice(bytes);
        }
        self.exists = true;
        self.after_blank = false;
    }

    fn end_field(&mut self) {
        self.out.push(std::mem::take(&mut self.cur));
        self.exists = false;
    }

    /// An expansion's value: quoted, literal; unquoted, split on IFS (and glob-active).
    fn value(&mut self, value: &[u8], quoted: bool) {
        if quoted || !self.split {
            self.literal(value, quoted);
            // `"$x"` makes a field even when empty.
            self.exists = true;
            return;
        }
        let mut i = 0;
        while i < value.len() {
            let c = value[i];
            if !self.ifs.contains(&c) {
                // A run of bytes that do not separate goes in at once.
                let run = value[i..]
                    .iter()
                    .take_while(|c| !self.ifs.contains(c))
                    .count();
                self.literal(&value[i..i + run], false);
                i += run;
                continue;
            }
            i += 1;
            if matches!(c, b' ' | b'\t' | b'\n') {
                if self.exists {
                    self.end_field();
                    self.after_blank = true;
                }
            } else if self.after_blank {
                self.after_blank = false;
            } else {
                self.end_field();
            }
        }
    }

    /// `"$@"`: one field per parameter, the first joined to what comes before, the last to
    /// what comes after.
    fn params(&mut self, params: &[OsString], quoted: bool, star: bool) {
        if quoted && (star || !self.split) {
            // `"$*"`: one field, joined by IFS's first byte.
            let sep: Vec<u8> = self.ifs.first().map(|b| vec![*b]).unwrap_or_default();
            let joined = params
                .iter()
                .map(|p| p.as_bytes())
                .collect::<Vec<_>>()
                .join(&sep[..]);
            self.value(&joined, true);
            return;
        }
        for (i, p) in params.iter().enumerate() {
            if i > 0 && (quoted || self.exists) {
                self.end_field();
            }
            if quoted {
                self.literal(p.as_bytes(), true);
            } else {
                self.value(p.as_bytes(), false);
            }
        }
    }

    /// One part of a word; `inner` is set inside an unquoted `${x:-...}` word, whose bare text
    /// is split like an expansion's value.
    fn part(&mut self, part: &Part, env: &mut dyn Env, inner: bool) -> Result<(), ExpandError> {
        match &part.kind {
            PartKind::Bare(b) if inner => self.value(b, false),
            PartKind::Bare(b) => self.literal(b, false),
            PartKind::Quoted(b) => self.literal(b, true),
            PartKind::Tilde(user) => {
                let t = tilde(user, env);
                self.literal(&t, true)
            }
            PartKind::Param { name, quoted } => {
                if matches!(name.as_slice(), b"@" | b"*") {
                    let params = env.positional();
                    self.params(&params, *quoted, name == b"*");
                    return Ok(());
                }
                match env.var_bytes(name) {
                    Some(v) => self.value(&v, *quoted),
                    None => {
                        lookup(env, name)?;
                        self.value(b"", *quoted);
                    }
                }
            }
            PartKind::Status { quoted } => {
                self.value(itoa(env.last_status().into(), &mut [0; 20]), *quoted);
            }
            PartKind::CommandSub { list, quoted } => {
                let mut out = env.command_sub(list);
                while out.last() == Some(&b'\n') {
                    out.pop();
                }
                self.value(&out, *quoted);
            }
            PartKind::ProcSub { list, out } => {
                let name = env.proc_sub(list, *out).map_err(ExpandError::Failed)?;
                self.literal(&name, true);
            }
            PartKind::Arith { expr, quoted } => {
                // `$((x+i))`: text typed as it is needs no expansion first.
                let v = match expr.parts.as_slice() {
                    [] => arith::eval(b"", env),
                    [Part {
                        kind: PartKind::Bare(text),
                        ..
                    }] => arith::eval(text, env),
                    _ => arith::eval(&expand_string(expr, env)?, env),
                }
                .map_err(ExpandError::Arith)?;
                self.value(itoa(v, &mut [0; 20]), *quoted);
            }
            PartKind::ParamOp {
                name,
                index,
                op,
                quoted,
            } => self.param_op(name, index.as_deref(), op, *quoted, env)?,
        }
        Ok(())
    }

    /// The parts of a `${x:-word}` word, as if typed in place of the expansion.
    fn inner_word(
        &mut self,
        word: &Word,
        quoted: bool,
        env: &mut dyn Env,
    ) -> Result<(), ExpandError> {
        if word.parts.is_empty() && quoted {
            self.literal(b"", true);
        }
        for p in &word.parts {
            if quoted {
                // Inside double quotes everything is literal, but expansions still expand.
                let s = expand_string(
                    &Word {
                        parts: vec![p.clone()],
                        span: p.span,
                    },
                    env,
                )?;
                self.literal(&s, true);
            } else {
                self.part(p, env, true)?;
            }
        }
        Ok(())
    }

    fn param_op(
        &mut self,
        name: &[u8],
        index: Option<&Word>,
        op: &ParamOp,
        quoted: bool,
        env: &mut dyn Env,
    ) -> Result<(), ExpandError> {
        let shown = || String::from_utf8_lossy(name).into_owned();
        if let ParamOp::Bad(text) = op {
            return Err(ExpandError::Failed(format!("{text}: bad substitution")));
        }
        // `${a[@]}`, `${a[*]}`: every element; `$@`, `$*`: every parameter.
        let all = index.and_then(Word::as_bare);
        let star = all.map_or(name == b"*", |a| a == b"*");
        if let (Some(_), ParamOp::Indirect) = (all, op) {
            // `${!a[@]}`: the subscripts.
            let keys: Vec<OsString> = env
                .elems(name)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, _)| match k {
                    Key::Index(i) => i.to_string().into(),
                    Key::Name(n) => OsString::from_vec(n),
                })
                .collect();
            self.params(&keys, quoted, star);
            return Ok(());
        }
        let list: Option<Vec<OsString>> = match all {
            Some(_) => Some(
                env.elems(name)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect(),
            ),
            None if index.is_none() && matches!(name, b"@" | b"*") => Some(env.positional()),
            None => None,
        };
        let key = match index {
            Some(i) if all.is_none() => Some(subscript(env, name, i)?),
            _ => None,
        };
        let value: Option<Vec<u8>> = if let Some(p) = &list {
            if p.is_empty() && !matches!(op, ParamOp::Length | ParamOp::Slice { .. }) {
                None
            } else {
                let sep = if star {
                    env.var(b"IFS")
                        .map_or(vec![b' '], |i| i.into_vec().into_iter().take(1).collect())
                } else {
                    vec![b' ']
                };
                Some(
                    p.iter()
                        .map(|x| x.as_bytes())
                        .collect::<Vec<_>>()
                        .join(&sep[..]),
                )
            }
        } else if let Some(k) = &key {
            match env.elem(name, k) {
                Some(v) => Some(v.into_vec()),
                None if env.nounset()
                    && !matches!(
                        op,
                        ParamOp::Default { .. }
                            | ParamOp::Assign { .. }
                            | ParamOp::Alt { .. }
                            | ParamOp::Error { .. }
                    ) =>
                {
                    return Err(ExpandError::Unbound(format!(
                        "{}[{}]",
                        shown(),
                        match k {
                            Key::Index(i) => i.to_string(),
                            Key::Name(n) => String::from_utf8_lossy(n).into_owned(),
                        }
                    )))
                }
                None => None,
            }
        } else {
            match op {
                ParamOp::Default { .. }
                | ParamOp::Assign { .. }
                | ParamOp::Error { .. }
                | ParamOp::Alt { .. } => env.var(name).map(OsString::into_vec),
                ParamOp::Indirect => {
                    let target = lookup(env, name)?.unwrap_or_default();
                    if target.is_empty() {
                        return Err(ExpandError::Failed(format!(
                            "{}: invalid indirect expansion",
                            shown()
                        )));
                    }
                    indirect(env, &target)?
                }
                _ => lookup(env, name)?,
            }
        };
        // Per-element operators on a list apply to each element.
        if let Some(p) = &list {
            let each: Option<Vec<OsString>> = match op {
                ParamOp::Value => Some(p.clone()),
                ParamOp::Trim {
                    suffix,
                    longest,
                    pattern,
                } => {
                    let pat = expand_pattern(pattern, env)?;
                    Some(
                        p.iter()
                            .map(|v| {
                                OsString::from_vec(
                                    trim(v.as_bytes(), &pat, *suffix, *longest).to_vec(),
                                )
                            })
                            .collect(),
                    )
                }
                ParamOp::Replace {
                    all,
                    anchor,
                    pattern,
                    with,
                } => {
                    let pat = expand_pattern(pattern, env)?;
                    let with = expand_string(with, env)?;
                    Some(
                        p.iter()
                            .map(|v| {
                                OsString::from_vec(replace(
                                    v.as_bytes(),
                                    &pat,
                                    &with,
                                    *all,
                                    *anchor,
                                ))
                            })
                            .collect(),
                    )
                }
                ParamOp::Case { upper, all } => Some(
                    p.iter()
                        .map(|v| OsString::from_vec(case(v.as_bytes(), *upper, *all)))
                        .collect(),
                ),
                _ => None,
            };
            if let Some(each) = each {
                self.params(&each, quoted, star);
                return Ok(());
            }
        }
        let set = |colon: bool, v: &Option<Vec<u8>>| match v {
            None => false,
            Some(v) => !(colon && v.is_empty()),
        };
        match op {
            ParamOp::Value | ParamOp::Bad(_) => self.value(&value.unwrap_or_default(), quoted),
            ParamOp::Transform(t) => {
                let v = match (t, &value) {
                    (b'a', _) => {
                        let kind = if env.is_assoc(name) {
                            "A"
                        } else if env.is_array(name) {
                            "a"
                        } else {
                            ""
                        };
                        Some(kind.as_bytes().to_vec())
                    }
                    (_, None) => None,
                    (b'Q' | b'K', Some(v)) => Some(single_quoted(v)),
                    (b'E', Some(v)) => {
                        let mut out = Vec::new();
                        let mut text = b"$'".to_vec();
                        text.extend_from_slice(v);
                        text.push(b'\'');
                        super::lex::ansi_c_text(&text, &mut out);
                        Some(out)
                    }
                    (b'U', Some(v)) => Some(case(v, true, true)),
                    (b'u', Some(v)) => Some(case(v, true, false)),
                    (_, Some(v)) => Some(case(v, false, true)),
                };
                match v {
                    Some(v) => self.value(&v, quoted),
                    None if quoted => self.literal(b"", true),
                    None => {}
                }
            }
            ParamOp::Length => {
                let n = if let Some(p) = &list {
                    p.len()
                } else {
                    let v = value.unwrap_or_default();
                    std::str::from_utf8(&v).map_or(v.len(), |s| s.chars().count())
                };
                self.value(n.to_string().as_bytes(), quoted);
            }
            ParamOp::Indirect => self.value(&value.unwrap_or_default(), quoted),
            ParamOp::Default { colon, word } => {
                if set(*colon, &value) {
                    match &list {
                        Some(p) if quoted && !star => self.params(p, true, false),
                        _ => self.value(&value.unwrap_or_default(), quoted),
                    }
                } else {
                    self.inner_word(word, quoted, env)?;
                }
            }
            ParamOp::Alt { colon, word } => {
                if set(*colon, &value) {
                    self.inner_word(word, quoted, env)?;
                } else if quoted {
                    self.literal(b"", true);
                }
            }
            ParamOp::Assign { colon, word } => {
                if set(*colon, &value) {
                    self.value(&value.unwrap_or_default(), quoted);
                } else {
                    let v = expand_string(word, env)?;
                    match key {
                        Some(k) => env.set_elem(name, k, v.clone()),
                        None => env.set_var(name, v.clone()),
                    }
                    .map_err(ExpandError::Failed)?;
                    self.value(&v, quoted);
                }
            }
            ParamOp::Error { colon, word } => {
                if set(*colon, &value) {
                    self.value(&value.unwrap_or_default(), quoted);
                } else {
                    let msg = expand_string(word, env)?;
                    let msg = if msg.is_empty() {
                        if *colon {
                            "parameter null or not set".to_string()
                        } else {
                            "parameter not set".to_string()
                        }
                    } else {
                        String::from_utf8_lossy(&msg).into_owned()
                    };
                    return Err(ExpandError::Failed(format!("{}: {msg}", shown())));
                }
            }
            ParamOp::Trim {
                suffix,
                longest,
                pattern,
            } => {
                let pat = expand_pattern(pattern, env)?;
                let v = value.unwrap_or_default();
                let out = trim(&v, &pat, *suffix, *longest);
                self.value(out, quoted);
            }
            ParamOp::Replace {
                all,
                anchor,
                pattern,
                with,
            } => {
                let pat = expand_pattern(pattern, env)?;
                let with = expand_string(with, env)?;
                let v = value.unwrap_or_default();
                self.value(&replace(&v, &pat, &with, *all, *anchor), quoted);
            }
            ParamOp::Slice { offset, length } => {
                let off_text = expand_string(offset, env)?;
                let off = arith::eval(&off_text, env).map_err(ExpandError::Failed)?;
                let len = match length {
                    Some(l) => {
                        let t = expand_string(l, env)?;
                        Some(arith::eval(&t, env).map_err(ExpandError::Failed)?)
                    }
                    None => None,
                };
                if let Some(mut p) = list {
                    if all.is_none() {
                        p.insert(0, env.var(b"0").unwrap_or_default());
                    }
                    let n = p.len() as i64;
                    let start = if off < 0 {
                        (n + off).max(0)
                    } else {
                        off.min(n)
                    } as usize;
                    let end = match len {
                        Some(l) if l < 0 => {
                            return Err(ExpandError::Failed(format!(
                                "{l}: substring expression < 0"
                            )))
                        }
                        Some(l) => (start as i64 + l).min(n) as usize,
                        None => n as usize,
                    };
                    let picked: Vec<OsString> =
                        p.get(start..end.max(start)).unwrap_or_default().to_vec();
                    self.params(&picked, quoted, name == b"*");
                    return Ok(());
                }
                let v = value.unwrap_or_default();
                let chars = char_bounds(&v);
                let n = chars.len() as i64 - 1;
                let start = if off < 0 { n + off } else { off };
                if start < 0 || start > n {
                    if quoted {
                        self.literal(b"", true);
                    }
                    return Ok(());
                }
                let end = match len {
                    None => n,
                    Some(l) if l < 0 => n + l,
                    Some(l) => (start + l).min(n),
                };
                if end < start {
                    return Err(ExpandError::Failed(format!(
                        "{}: substring expression < 0",
                        len.unwrap_or(0)
                    )));
                }
                let (a, b) = (chars[start as usize], chars[end as usize]);
                self.value(&v[a..b], quoted);
            }
            ParamOp::Case { upper, all } => {
                let v = value.unwrap_or_default();
                self.value(&case(&v, *upper, *all), quoted);
            }
        }
        Ok(())
    }
}

/// `${x@Q}`: `'...'`, a single quote as `'\''`, control bytes in `$'...'`.
fn single_quoted(v: &[u8]) -> Vec<u8> {
    if v.iter().any(|&c| c < 0x20 || c == 0x7f) {
        let mut out = b"$'".to_vec();
        for &c in v {
            match c {
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\'' => out.extend_from_slice(b"\\'"),
                b'\\' => out.extend_from_slice(b"\\\\"),
                c if c < 0x20 || c == 0x7f => {
                    out.extend_from_slice(format!("\\{c:03o}").as_bytes())
                }
                c => out.push(c),
            }
        }
        out.push(b'\'');
        return out;
    }
    let mut out = vec![b'\''];
    for &c in v {
        if c == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(c);
        }
    }
    out.push(b'\'');
    out
}

/// `${x^}`, `${x,,}` and the others.
fn case(v: &[u8], upper: bool, all: bool) -> Vec<u8> {
    let s = String::from_utf8_lossy(v);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 0 || all {
            if upper {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
        } else {
            out.push(c);
        }
    }
    out.into_bytes()
}

/// `${!ref}` where ref holds `a[1]`, `a[@]` or a plain name.
fn indirect(env: &mut dyn Env, target: &[u8]) -> Result<Option<Vec<u8>>, ExpandError> {
    if let Some(open) = target.iter().position(|&b| b == b'[') {
        if target.last() == Some(&b']') {
            let name = &target[..open];
            let inner = &target[open + 1..target.len() - 1];
            if inner == b"@" || inner == b"*" {
                let vals: Vec<Vec<u8>> = env
                    .elems(name)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(_, v)| v.into_vec())
                    .collect();
                return Ok((!vals.is_empty()).then(|| vals.join(&b' ')));
            }
            let word = Word::literal(inner, Default::default());
            let key = subscript(env, name, &word)?;
            return Ok(env.elem(name, &key).map(OsString::into_vec));
        }
    }
    lookup(env, target)
}

/// A parameter's value, or the `set -u` error.
fn lookup(env: &dyn Env, name: &[u8]) -> Result<Option<Vec<u8>>, ExpandError> {
    match env.var(name) {
        Some(v) => Ok(Some(v.into_vec())),
        None if env.nounset() && !matches!(name, b"@" | b"*" | b"!") => Err(ExpandError::Unbound(
            String::from_utf8_lossy(name).into_owned(),
        )),
        None => Ok(None),
    }
}

/// Byte offsets of each character start in `v`, plus its length (bytes that are not UTF-8
/// count one each).
fn char_bounds(v: &[u8]) -> Vec<usize> {
    let mut out = Vec::with_capacity(v.len() + 1);
    let mut i = 0;
    for chunk in v.utf8_chunks() {
        for c in chunk.valid().chars() {
            out.push(i);
            i += c.len_utf8();
        }
        for _ in chunk.invalid() {
            out.push(i);
            i += 1;
        }
    }
    out.push(v.len());
    out
}

/// `${v#pat}` and the others: the value without its shortest or longest matching prefix or
/// suffix.
fn trim<'a>(v: &'a [u8], pat: &Pattern, suffix: bool, longest: bool) -> &'a [u8] {
    let bounds = char_bounds(v);
    let mut cuts: Vec<usize> = bounds.clone();
    if longest != suffix {
        cuts.reverse();
    }
    for &i in &cuts {
        if suffix {
            if pat.matches(&v[i..]) {
                return &v[..i];
            }
        } else if pat.matches(&v[..i]) {
            return &v[i..];
        }
    }
    v
}

/// `${v/pat/with}` and the others; the longest match at each place, as bash.
fn replace(v: &[u8], pat: &Pattern, with: &[u8], all: bool, anchor: Option<bool>) -> Vec<u8> {
    let bounds = char_bounds(v);
    match anchor {
        Some(false) => {
            for &e in bounds.iter().rev() {
                if pat.matches(&v[..e]) {
                    return [with, &v[e..]].concat();
                }
            }
            return v.to_vec();
        }
        Some(true) => {
            for &s in &bounds {
                if pat.matches(&v[s..]) {
                    return [&v[..s], with].concat();
                }
            }
            return v.to_vec();
        }
        None => {}
    }
    let mut out = Vec::new();
    let mut k = 0;
    let mut replaced = false;
    while k < bounds.len() - 1 {
        let s = bounds[k];
        let found = if replaced && !all {
            None
        } else {
            bounds[k + 1..]
                .iter()
                .rev()
                .find(|&&e| pat.matches(&v[s..e]))
                .copied()
        };
        match found {
            Some(e) => {
                out.extend_from_slice(with);
                replaced = true;
                k = bounds
                    .iter()
                    .position(|&b| b == e)
                    .unwrap_or(bounds.len() - 1);
            }
            None => {
                out.extend_from_slice(&v[s..bounds[k + 1]]);
                k += 1;
            }
        }
    }
    out
}

/// Pathname expansion of one field (see [`pathnames`]), as `OsString`s.
pub fn glob_field(field: Field, lister: &dyn Lister) -> Vec<OsString> {
    pathnames(field, lister)
        .into_iter()
        .map(OsString::from_vec)
        .collect()
}

/// `~` is HOME, `~+` PWD, `~-` OLDPWD, `~user` that user's home; unknown ones stay as typed.
fn tilde(user: &[u8], env: &dyn Env) -> Vec<u8> {
    let value = match user {
        b"" => env.home(),
        b"+" => env.var(b"PWD"),
        b"-" => env.var(b"OLDPWD"),
        u => env.user_home(u),
    };
    value
        .map(OsString::into_vec)
        .unwrap_or_else(|| [b"~", user].concat())
}

/// The field as a pattern where a backslash that came unquoted out of an expansion escapes
/// the next character, as in bash 5.2 (`v='*\*.txt'; ls $v` matches names ending in `*.txt`);
/// `None` when it has none. Typed backslashes were taken by the lexer (quoted), so an unquoted
/// one here always came from an expansion. It only shapes the pattern: a field that matches
/// nothing stays as it was, backslashes and all.
fn escapes_taken(field: &Field) -> Option<Field> {
    let unquoted = |i: usize| !field.quoted.get(i).copied().unwrap_or(true);
    if !(0..field.bytes.len()).any(|i| field.bytes[i] == b'\\' && unquoted(i)) {
        return None;
    }
    let mut out = Field::default();
    let mut i = 0;
    while i < field.bytes.len() {
        if field.bytes[i] == b'\\' && unquoted(i) && i + 1 < field.bytes.len() {
            out.push(&field.bytes[i + 1..i + 2], true);
            i += 2;
        } else {
            out.push(&field.bytes[i..i + 1], !unquoted(i));
            i += 1;
        }
    }
    Some(out)
}

/// Pathname expansion of one field: the sorted matches, or the field itself if it has no
/// wildcard or nothing matches (bash without nullglob).
fn pathnames(field: Field, lister: &dyn Lister) -> Vec<Vec<u8>> {
    let escaped = escapes_taken(&field);
    let pat = escaped.as_ref().unwrap_or(&field);
    // Most words have no wildcard: no pattern to compile (a long word would cost memory).
    let wild = pat
        .bytes
        .iter()
        .zip(&pat.quoted)
        .any(|(b, q)| !q && matches!(b, b'*' | b'?' | b'['));
    if !wild {
        return vec![field.bytes];
    }
    // Components split at every `/`, quoted or not: a slash never matches a wildcard.
    let mut comps: Vec<(Pattern, &[u8])> = Vec::new();
    let mut from = 0;
    for i in 0..=pat.bytes.len() {
        if i == pat.bytes.len() || pat.bytes[i] == b'/' {
            let bytes = &pat.bytes[from..i];
            comps.push((Pattern::new(bytes, &pat.quoted[from..i]), bytes));
            from = i + 1;
        }
    }
    let Some(last_magic) = comps.iter().rposition(|(p, _)| p.has_magic()) else {
        return vec![field.bytes];
    };
    let mut paths: Vec<Vec<u8>> = vec![Vec::new()];
    for (i, (pattern, text)) in comps.iter().enumerate() {
        if i > 0 {
            paths.iter_mut().for_each(|p| p.push(b'/'));
        }
        if !pattern.has_magic() {
            paths.iter_mut().for_each(|p| p.extend_from_slice(text));
            continue;
        }
        paths = paths
            .iter()
            .flat_map(|dir| matches_in(dir, pattern, lister))
            .collect();
        if paths.is_empty() {
            return vec![field.bytes];
        }
    }
    // Literal components after the last wildcard were not listed: check they exist.
    if last_magic + 1 < comps.len() {
        paths.retain(|p| exists(p, lister));
    }
    if paths.is_empty() {
        return vec![field.bytes];
    }
    paths.sort();
    paths
}

/// `dir` (as typed so far, empty for the current directory) joined with each matching name.
fn matches_in(dir: &[u8], pattern: &Pattern, lister: &dyn Lister) -> Vec<Vec<u8>> {
    let listed = if dir.is_empty() { b"." } else { dir };
    let Some(names) = lister.list(Path::new(OsStr::from_bytes(listed))) else {
        return Vec::new();
    };
    names
        .iter()
        .map(|n| n.as_bytes())
        // A name with a slash would be another path: a listing that gives one is broken.
        .filter(|n| !n.is_empty() && *n != b"." && *n != b".." && !n.contains(&b'/'))
        .filter(|n| !n.starts_with(b".") || pattern.starts_with_dot())
        .filter(|n| pattern.matches(n))
        .map(|n| [dir, n].concat())
        .collect()
}

/// Whether `path` names something, asked through listings only: a trailing `/` (or a last
/// component `.`/`..`) needs a directory, otherwise the parent must list the name.
fn exists(path: &[u8], lister: &dyn Lister) -> bool {
    let as_path = |b: &[u8]| Path::new(OsStr::from_bytes(b)).to_path_buf();
    let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => (&b"."[..], path),
    };
    if name.is_empty() || name == b"." || name == b".." {
        return lister.list(&as_path(path)).is_some();
    }
    lister
        .list(&as_path(parent))
        .is_some_and(|names| names.iter().any(|n| n.as_bytes() == name))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::syntax::parse::parse;
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    /// Variables, `$?` and HOME for tests.
    #[derive(Default, Clone)]
    pub struct TestEnv {
        pub vars: HashMap<Vec<u8>, Vec<u8>>,
        pub status: i32,
    }

    impl Env for TestEnv {
        fn var(&self, name: &[u8]) -> Option<OsString> {
            self.vars.get(name).cloned().map(OsString::from_vec)
        }
        fn last_status(&self) -> i32 {
            self.status
        }
        fn home(&self) -> Option<OsString> {
            self.var(b"HOME")
        }
        fn user_home(&self, user: &[u8]) -> Option<OsString> {
            (user == b"root").then(|| OsString::from("/root"))
        }
    }

    /// An in-memory tree: directory path -> names. Built from file paths; relative ones are
    /// under `.`, and a path ending in `/` is an empty directory.
    #[derive(Default)]
    pub struct Tree(BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>);

    impl Tree {
        pub fn new(paths: &[&[u8]]) -> Tree {
            let mut t = Tree::default();
            for path in paths {
                let (root, rest): (&[u8], &[u8]) = match path.strip_prefix(b"/") {
                    Some(r) => (b"/", r),
                    None => (b".", path),
                };
                let mut dir = root.to_vec();
                t.0.entry(dir.clone()).or_default();
                for name in rest.split(|&b| b == b'/').filter(|n| !n.is_empty()) {
                    t.0.entry(dir.clone()).or_default().insert(name.to_vec());
                    dir = if dir == b"." {
                        name.to_vec()
                    } else if dir == b"/" {
                        [b"/", name].concat()
                    } else {
                        [&dir[..], b"/", name].concat()
                    };
                }
                if path.ends_with(b"/") {
                    t.0.entry(dir).or_default();
                }
            }
            t
        }
    }

    impl Lister for Tree {
        fn list(&self, dir: &Path) -> Option<Vec<OsString>> {
            let mut d = dir.as_os_str().as_bytes();
            while let Some(rest) = d.strip_prefix(b"./") {
                d = rest;
            }
            while d.len() > 1 && d.ends_with(b"/") {
                d = &d[..d.len() - 1];
            }
            let d = if d.is_empty() { b"." } else { d };
            let names = self.0.get(d)?;
            Some(names.iter().cloned().map(OsString::from_vec).collect())
        }
    }

    fn env() -> TestEnv {
        let mut e = TestEnv {
            status: 3,
            ..TestEnv::default()
        };
        for (k, v) in [
            ("HOME", "/home/u"),
            ("PWD", "/work"),
            ("X", "x"),
            ("SPACED", "  a  b  "),
            ("STAR", "*.conf"),
            // Backslashes in values: glob escapes where the word is globbed (bash 5.2).
            ("ESTAR", "/g/a\\*b"),
            ("EB", "/g/a\\b*"),
            ("EBS", "/g/a\\b"),
            ("ETAIL", "/g/*\\"),
            ("EMPTY", ""),
            ("SUB", "$(rm -rf ~)"),
            ("PATHS", "/containers/*/etc/os-release"),
            ("S", "/a/b"),
        ] {
            e.vars.insert(k.into(), v.into());
        }
        e
    }

    fn tree() -> Tree {
        Tree::new(&[
            b"/containers/web/etc/os-release",
            b"/containers/web/etc/nginx.conf",
            b"/containers/web/etc/.hidden.conf",
            b"/containers/web/etc/resolv.conf",
            b"/containers/db/etc/os-release",
            b"/containers/db/etc/my.cnf",
            b"/containers/empty/",
            b"/containers/cache/tmp/",
            b"a.conf",
            b"b.conf",
            b".env",
            b"dir/x",
            b"[x].txt",
            b"/g/a*b",
            b"/g/ab",
            b"/g/a\\b",
            // Hostile names.
            b"/h/-rf",
            b"/h/new\nline",
            b"/h/$(touch pwned)",
            b"/h/a b",
            b"/h/`id`",
            b"/h/*",
            b"/h/bad\xffbyte",
            b"/h/;ls",
        ])
    }

    /// Expands every word of `line` and shows each field in `<...>`, escaped like Word's Display.
    fn expand_line(line: &[u8], env: &TestEnv) -> String {
        let list = match parse(line) {
            Ok(l) => l,
            Err(e) => return format!("parse error: {e}"),
        };
        let words = &list.items[0].first.commands[0].words;
        expand_words(words, &mut env.clone(), &tree())
            .unwrap_or_default()
            .iter()
            .map(|f| format!("<{}>", show(f.as_bytes())))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn show(b: &[u8]) -> String {
        struct S<'a>(&'a [u8]);
        impl std::fmt::Display for S<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                crate::syntax::ast::write_bytes(f, self.0)
            }
        }
        S(b).to_string()
    }

    #[test]
    fn table() {
        let table: &[(&str, &str)] = &[
            // Quote removal.
            ("echo a 'b c' \"d e\" f\\ g", "<echo> <a> <b c> <d e> <f g>"),
            ("echo '' \"\" x", "<echo> <> <> <x>"),
            // Tilde.
            ("echo ~ ~/x ~root ~root/y ~nobody ~+ a~", "<echo> </home/u> </home/u/x> </root> </root/y> <~nobody> </work> <a~>"),
            ("echo '~' \\~ ~\"/x\" \"~\"", "<echo> <~> <~> <~/x> <~>"),
            // After `=` and `:` of a word that looks like an assignment, as bash outside POSIX.
            ("echo x=~ y=a:~/b --z=~ x=\"~\"", "<echo> <x=/home/u> <y=a:/home/u/b> <--z=~> <x=~>"),
            // In `${x/p/r}` both sides; a `/` right after the operator is the pattern's.
            ("echo ${X/x/~} ${X//x/~root} ${S////-} ${S///}", "<echo> </home/u> </root> <-a-b> <ab>"),
            // Parameters.
            ("echo $X ${X}y \"$X\" $X$X $?", "<echo> <x> <xy> <x> <xx> <3>"),
            ("echo $NOPE \"$NOPE\" a$NOPE", "<echo> <> <a>"),
            ("echo $EMPTY", "<echo>"),
            ("echo $X/$?", "<echo> <x/3>"),
            // A line continuation right after `$`.
            ("echo $\\\n? \"$\\\n?\" $\\\nX $\\\n", "<echo> <3> <3> <x> <$>"),
            ("echo $ a$ \"$\" $/", "<echo> <$> <a$> <$> <$/>"),
            // Field splitting only when unquoted.
            ("echo $SPACED", "<echo> <a> <b>"),
            ("echo \"$SPACED\"", "<echo> <  a  b  >"),
            ("echo x$SPACED'y'", "<echo> <x> <a> <b> <y>"),
            // Values are not parsed again: `$(...)` in a variable is text.
            ("echo $SUB", "<echo> <$(rm> <-rf> <~)>"),
            ("echo \"$SUB\"", "<echo> <$(rm -rf ~)>"),
            // Globs over the tree, sorted, hidden names only for a leading dot.
            ("ls /containers/*/etc/os-release", "<ls> </containers/db/etc/os-release> </containers/web/etc/os-release>"),
            ("cat /containers/web/etc/*.conf", "<cat> </containers/web/etc/nginx.conf> </containers/web/etc/resolv.conf>"),
            ("cat /containers/web/etc/.*.conf", "<cat> </containers/web/etc/.hidden.conf>"),
            ("ls *.conf", "<ls> <a.conf> <b.conf>"),
            ("ls ./*.conf", "<ls> <./a.conf> <./b.conf>"),
            ("ls .*", "<ls> <.env>"),
            ("ls /containers/?b", "<ls> </containers/db>"),
            ("ls /containers/[!w]*", "<ls> </containers/cache> </containers/db> </containers/empty>"),
            ("ls /containers/[c-e]*/", "<ls> </containers/cache/> </containers/db/> </containers/empty/>"),
            ("ls /containers/*/tmp", "<ls> </containers/cache/tmp>"),
            ("ls /containers/*/etc/", "<ls> </containers/db/etc/> </containers/web/etc/>"),
            ("ls d*/x", "<ls> <dir/x>"),
            ("ls /containers/**/etc", "<ls> </containers/db/etc> </containers/web/etc>"),
            // No match: the word stays, quotes removed.
            ("ls /containers/*/nope", "<ls> </containers/*/nope>"),
            ("ls /nowhere/*.c '*'.conf", "<ls> </nowhere/*.c> <*.conf>"),
            ("ls \\*.conf \"*\".conf", "<ls> <*.conf> <*.conf>"),
            ("ls [x].txt", "<ls> <[x].txt>"),
            ("ls [x", "<ls> <[x>"),
            // Unquoted values are globbed, quoted ones not.
            ("ls $STAR \"$STAR\"", "<ls> <a.conf> <b.conf> <*.conf>"),
            // A backslash from a value escapes the next character when the word is globbed,
            // and stays when it is not (no wildcard left, or no match).
            ("ls $ESTAR $EB $EBS $ETAIL", "<ls> </g/a\\*b> </g/ab> </g/a\\b> </g/*\\>"),
            ("ls $EBS* \"$EB\"", "<ls> </g/ab> </g/a\\b*>"),
            ("ls $PATHS", "<ls> </containers/db/etc/os-release> </containers/web/etc/os-release>"),
            // A tilde's value is never globbed or split.
            ("echo ~/*", "<echo> </home/u/*>"),
            // Hostile names come back whole, one argument each, never expanded again.
            (
                "rm /h/*",
                "<rm> </h/$(touch pwned)> </h/*> </h/-rf> </h/;ls> </h/`id`> </h/a b> </h/bad\\xffbyte> </h/new\\x0aline>",
            ),
            ("rm /h/-*", "<rm> </h/-rf>"),
            ("rm /h/*\\ *", "<rm> </h/$(touch pwned)> </h/a b>"),
            ("rm /h/new?line", "<rm> </h/new\\x0aline>"),
            ("rm /h/\\**", "<rm> </h/*>"),
            ("rm /h/bad?byte", "<rm> </h/bad\\xffbyte>"),
            ("rm /h/$'bad\\xff'*", "<rm> </h/bad\\xffbyte>"),
        ];
        let env = env();
        for (line, want) in table {
            assert_eq!(&expand_line(line.as_bytes(), &env), want, "line: {line}");
        }
    }

    #[test]
    fn ifs() {
        // (IFS, value, fields of `$V`) as bash 5.2 gives them.
        let table: &[(Option<&str>, &str, &[&str])] = &[
            (None, " a  b ", &["a", "b"]),
            (None, "a\tb\nc", &["a", "b", "c"]),
            (Some(":"), ":a::b:", &["", "a", "", "b"]),
            (Some(" :"), " a : b :: c ", &["a", "b", "", "c"]),
            (Some(""), " a b ", &[" a b "]),
            (Some(","), "a b,c", &["a b", "c"]),
        ];
        for (ifs, value, want) in table {
            let mut e = env();
            if let Some(ifs) = ifs {
                e.vars.insert(b"IFS".to_vec(), ifs.as_bytes().to_vec());
            }
            e.vars.insert(b"V".to_vec(), value.as_bytes().to_vec());
            let list = parse(b"$V").unwrap();
            let got = expand_word(
                &list.items[0].first.commands[0].words[0],
                &mut e.clone(),
                &tree(),
            )
            .unwrap();
            let got: Vec<_> = got.iter().map(|f| f.to_str().unwrap()).collect();
            assert_eq!(&got, want, "IFS={ifs:?} value={value:?}");
        }
    }

    #[test]
    fn redirect_targets_and_assignments() {
        let e = env();
        let t = tree();
        let word = |line: &str| {
            let list = parse(line.as_bytes()).unwrap();
            list.items[0].first.commands[0].words[0].clone()
        };
        assert_eq!(
            expand_redirect_target(&word("/h/new*"), &mut e.clone(), &t),
            Ok(OsString::from_vec(b"/h/new\nline".to_vec()))
        );
        assert_eq!(
            expand_redirect_target(&word("out.txt"), &mut e.clone(), &t),
            Ok(OsString::from("out.txt"))
        );
        assert_eq!(
            expand_redirect_target(&word("*.conf"), &mut e.clone(), &t)
                .unwrap_err()
                .to_string(),
            "*.conf: ambiguous redirect"
        );
        assert_eq!(
            expand_redirect_target(&word("$EMPTY"), &mut e.clone(), &t)
                .unwrap_err()
                .to_string(),
            "$EMPTY: ambiguous redirect"
        );
        assert_eq!(
            expand_redirect_target(&word("$SPACED"), &mut e.clone(), &t)
                .unwrap_err()
                .to_string(),
            "$SPACED: ambiguous redirect"
        );
        let list = parse(b"A=~/$SPACED*.conf B= C=$?'x'").unwrap();
        let values: Vec<_> = list.items[0].first.commands[0]
            .assignments
            .iter()
            .map(|a| expand_assignment(&a.value, &mut e.clone()).unwrap())
            .collect();
        assert_eq!(values, ["/home/u/  a  b  *.conf", "", "3x"]);
    }
}
