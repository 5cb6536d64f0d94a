//! Shell arithmetic (`$((...))`, `(( ))`, `${x:off:len}`): 64-bit integers that wrap, C's
//! operators with sh's precedence, assignments (`x += 2`, `i++`), and variables whose values are
//! themselves expressions. Evaluated straight from the text: `&&`, `||` and `?:` skip the side
//! effects of the branch not taken.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use super::expand::{Env, Key};

/// A variable in an expression: a name, or an element `a[expr]` (the subscript evaluated).
struct Lvalue {
    name: Vec<u8>,
    key: Option<Key>,
}

/// How deep parentheses and variables holding expressions may nest.
const MAX_DEPTH: usize = 100;

/// Evaluates `expr`; an error is bash's message without the `dockerbox:` prefix.
pub fn eval(expr: &[u8], env: &mut dyn Env) -> Result<i64, String> {
    eval_depth(expr, env, 0)
}

fn eval_depth(expr: &[u8], env: &mut dyn Env, depth: usize) -> Result<i64, String> {
    if depth > MAX_DEPTH {
        return Err("expression recursion level exceeded".to_string());
    }
    // A loop evaluates the same text every turn: parsed once, then walked.
    if let Some(c) = compiled(expr) {
        if depth + c.nest <= MAX_DEPTH {
            return c.eval(env, depth);
        }
    }
    eval_text(expr, env, depth)
}

/// The text evaluator: parses and evaluates in one pass. It gives every error its message
/// and position; [`Compiled`] covers the expressions it can run the same way.
fn eval_text(expr: &[u8], env: &mut dyn Env, depth: usize) -> Result<i64, String> {
    let mut p = Parser {
        s: expr,
        i: 0,
        env,
        depth,
    };
    p.skip_ws();
    if p.i >= p.s.len() {
        return Ok(0);
    }
    let v = p.comma(true)?;
    p.skip_ws();
    if p.i < p.s.len() {
        return Err(p.error("syntax error in expression"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    env: &'a mut dyn Env,
    depth: usize,
}

type Ops = &'static [(&'static [u8], &'static [&'static [u8]])];
/// Binary operators by precedence, loosest first, each with the longer operators it must not
/// be the start of.
const LEVELS: &[Ops] = &[
    &[(b"||", &[])],
    &[(b"&&", &[])],
    &[(b"|", &[b"||", b"|="])],
    &[(b"^", &[b"^="])],
    &[(b"&", &[b"&&", b"&="])],
    &[(b"==", &[]), (b"!=", &[])],
    &[
        (b"<=", &[]),
        (b">=", &[]),
        (b"<", &[b"<<"]),
        (b">", &[b">>"]),
    ],
    &[(b"<<", &[b"<<="]), (b">>", &[b">>="])],
    &[(b"+", &[b"++", b"+="]), (b"-", &[b"--", b"-="])],
    &[(b"*", &[b"**", b"*="]), (b"/", &[b"/="]), (b"%", &[b"%="])],
];

const ASSIGN_OPS: &[&[u8]] = &[
    b"<<=", b">>=", b"*=", b"/=", b"%=", b"+=", b"-=", b"&=", b"^=", b"|=", b"=",
];

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        let text = String::from_utf8_lossy(self.s);
        let rest = String::from_utf8_lossy(&self.s[self.i.min(self.s.len())..]);
        format!(
            "{}: {what} (error token is \"{}\")",
            text.trim(),
            rest.trim()
        )
    }

    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    /// Consumes `op` if it comes next and is not the start of a longer operator in `not`.
    fn eat(&mut self, op: &[u8], not: &[&[u8]]) -> bool {
        self.skip_ws();
        let rest = &self.s[self.i.min(self.s.len())..];
        if rest.starts_with(op) && !not.iter().any(|n| rest.starts_with(n)) {
            self.i += op.len();
            true
        } else {
            false
        }
    }

    fn comma(&mut self, on: bool) -> Result<i64, String> {
        let mut v = self.assign(on)?;
        while self.eat(b",", &[]) {
            v = self.assign(on)?;
        }
        Ok(v)
    }

    fn assign(&mut self, on: bool) -> Result<i64, String> {
        self.skip_ws();
        let start = self.i;
        if let Some(name) = self.lvalue(on)? {
            self.skip_ws();
            let rest = &self.s[self.i.min(self.s.len())..];
            if let Some(op) = ASSIGN_OPS
                .iter()
                .find(|op| rest.starts_with(op) && !(**op == b"=" && rest.starts_with(b"==")))
            {
                self.i += op.len();
                let rhs = self.assign(on)?;
                if !on {
                    return Ok(0);
                }
                let v = if *op == b"=" {
                    rhs
                } else {
                    let old = self.var(&name)?;
                    binary(&op[..op.len() - 1], old, rhs).map_err(|e| self.error(e))?
                };
                self.set(&name, v)?;
                return Ok(v);
            }
            self.i = start;
        }
        self.ternary(on)
    }

    fn ternary(&mut self, on: bool) -> Result<i64, String> {
        let c = self.binary_level(0, on)?;
        if self.eat(b"?", &[]) {
            let a = self.assign(on && c != 0)?;
            if !self.eat(b":", &[]) {
                return Err(self.error("`:' expected for conditional expression"));
            }
            let b = self.ternary(on && c == 0)?;
            return Ok(if c != 0 { a } else { b });
        }
        Ok(c)
    }

    /// Binary operators by precedence, loosest first.
    fn binary_level(&mut self, level: usize, on: bool) -> Result<i64, String> {
        let Some(ops) = LEVELS.get(level) else {
            return self.power(on);
        };
        let mut v = self.binary_level(level + 1, on)?;
        'outer: loop {
            for (op, not) in ops.iter() {
                if self.eat(op, not) {
                    let short = match *op {
                        b"||" => Some(v != 0),
                        b"&&" => Some(v == 0),
                        _ => None,
                    };
                    let rhs = self.binary_level(level + 1, on && short != Some(true))?;
                    v = match short {
                        Some(true) => i64::from(*op == b"||"),
                        Some(false) => i64::from(rhs != 0),
                        None if on => binary(op, v, rhs).map_err(|e| self.error(e))?,
                        None => 0,
                    };
                    continue 'outer;
                }
            }
            return Ok(v);
        }
    }

    fn power(&mut self, on: bool) -> Result<i64, String> {
        let base = self.unary(on)?;
        if self.eat(b"**", &[b"**="]) {
            let exp = self.power(on)?;
            if !on {
                return Ok(0);
            }
            return binary(b"**", base, exp).map_err(|e| self.error(e));
        }
        Ok(base)
    }

    fn unary(&mut self, on: bool) -> Result<i64, String> {
        self.skip_ws();
        for (op, kind) in [(&b"++"[..], 1i64), (b"--", -1)] {
            if self.s[self.i.min(self.s.len())..].starts_with(op) {
                let save = self.i;
                self.i += 2;
                self.skip_ws();
                if let Some(name) = self.lvalue(on)? {
                    if !on {
                        return Ok(0);
                    }
                    let v = self.var(&name)?.wrapping_add(kind);
                    self.set(&name, v)?;
                    return Ok(v);
                }
                self.i = save;
            }
        }
        if self.eat(b"-", &[b"-="]) {
            return Ok(self.unary(on)?.wrapping_neg());
        }
        if self.eat(b"+", &[b"+="]) {
            return self.unary(on);
        }
        if self.eat(b"!", &[b"!="]) {
            return Ok(i64::from(self.unary(on)? == 0));
        }
        if self.eat(b"~", &[]) {
            return Ok(!self.unary(on)?);
        }
        self.postfix(on)
    }

    fn postfix(&mut self, on: bool) -> Result<i64, String> {
        self.skip_ws();
        if self.eat(b"(", &[]) {
            if self.depth >= MAX_DEPTH {
                return Err(self.error("expression recursion level exceeded"));
            }
            self.depth += 1;
            let v = self.comma(on)?;
            self.depth -= 1;
            if !self.eat(b")", &[]) {
                return Err(self.error("missing `)'"));
            }
            return Ok(v);
        }
        if let Some(name) = self.lvalue(on)? {
            for (op, d) in [(&b"++"[..], 1i64), (b"--", -1)] {
                if self.eat(op, &[]) {
                    if !on {
                        return Ok(0);
                    }
                    let v = self.var(&name)?;
                    self.set(&name, v.wrapping_add(d))?;
                    return Ok(v);
                }
            }
            return if on { self.var(&name) } else { Ok(0) };
        }
        self.number()
    }

    /// A name, with its subscript if `[` follows: arithmetic for an indexed array, the text
    /// for an associative one (evaluated only when `on`).
    fn lvalue(&mut self, on: bool) -> Result<Option<Lvalue>, String> {
        let Some(name) = self.name() else {
            return Ok(None);
        };
        if self.s.get(self.i) != Some(&b'[') {
            return Ok(Some(Lvalue { name, key: None }));
        }
        let from = self.i + 1;
        let mut depth = 0usize;
        let mut j = from;
        loop {
            match self.s.get(j) {
                None => return Err(self.error("missing `]'")),
                Some(b'[') => depth += 1,
                Some(b']') if depth == 0 => break,
                Some(b']') => depth -= 1,
                _ => {}
            }
            j += 1;
        }
        let text = self.s[from..j].to_vec();
        self.i = j + 1;
        let key = if !on {
            Key::Index(0)
        } else if self.env.is_assoc(&name) {
            let t = text.trim_ascii();
            let t = t
                .strip_prefix(b"\"")
                .and_then(|t| t.strip_suffix(b"\""))
                .or_else(|| t.strip_prefix(b"'").and_then(|t| t.strip_suffix(b"'")))
                .unwrap_or(t);
            Key::Name(t.to_vec())
        } else {
            Key::Index(eval_depth(&text, self.env, self.depth + 1)?)
        };
        Ok(Some(Lvalue {
            name,
            key: Some(key),
        }))
    }

    fn name(&mut self) -> Option<Vec<u8>> {
        let rest = &self.s[self.i.min(self.s.len())..];
        match rest.first() {
            Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {}
            _ => return None,
        }
        let n = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        self.i += n;
        Some(rest[..n].to_vec())
    }

    fn number(&mut self) -> Result<i64, String> {
        self.skip_ws();
        let rest = &self.s[self.i.min(self.s.len())..];
        let n = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'#' || **b == b'@' || **b == b'_')
            .count();
        if n == 0 {
            return Err(self.error("syntax error: operand expected"));
        }
        let text = &rest[..n];
        let v = parse_number(text).ok_or_else(|| {
            let t = String::from_utf8_lossy(text);
            format!("{t}: value too great for base (error token is \"{t}\")")
        })?;
        self.i += n;
        Ok(v)
    }

    /// A variable's value as a number: empty or unset is 0, anything else an expression.
    fn var(&mut self, lv: &Lvalue) -> Result<i64, String> {
        let value = match &lv.key {
            None => self.env.var(&lv.name),
            Some(k) => self.env.elem(&lv.name, k),
        };
        let Some(value) = value else {
            if self.env.nounset() {
                return Err(format!(
                    "{}: unbound variable",
                    String::from_utf8_lossy(&lv.name)
                ));
            }
            return Ok(0);
        };
        let value = value.into_vec();
        let t = value.trim_ascii();
        if t.is_empty() {
            return Ok(0);
        }
        if let Some(n) = parse_number(t) {
            return Ok(n);
        }
        eval_depth(t, self.env, self.depth + 1)
    }

    fn set(&mut self, lv: &Lvalue, v: i64) -> Result<(), String> {
        let text = v.to_string().into_bytes();
        match &lv.key {
            None => self.env.set_var(&lv.name, text),
            Some(k) => self.env.set_elem(&lv.name, k.clone(), text),
        }
    }
}

/// The compiled form of each expression text seen on this thread (`None`: one the text
/// evaluator must run), so a loop's `$((x+i))` is parsed once. Cleared when it grows large.
fn compiled(expr: &[u8]) -> Option<std::rc::Rc<Compiled>> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    type Cache = HashMap<Box<[u8]>, Option<std::rc::Rc<Compiled>>, super::FastHash>;
    thread_local! {
        static CACHE: RefCell<Cache> = RefCell::default();
    }
    const MAX_CACHED: usize = 512;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(hit) = c.get(expr) {
            return hit.clone();
        }
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        let made = Compiler::compile(expr).map(std::rc::Rc::new);
        c.insert(expr.into(), made.clone());
        made
    })
}

/// An expression parsed into a tree, walked with the text evaluator's rules: the same order
/// of side effects, `&&`/`||`/`?:` skipping the branch not taken, the same messages.
struct Compiled {
    /// The whole text, for messages.
    text: Box<[u8]>,
    /// `None`: the text is empty (0).
    root: Option<Node>,
    /// How deep parentheses nest in it (the text evaluator counts them against MAX_DEPTH).
    nest: usize,
}

enum Node {
    Num(i64),
    Var(Box<[u8]>),
    /// `-`, `!` or `~` before an operand.
    Unary(u8, Box<Node>),
    /// `++x` (`post` false), `x--` (`post` true)...
    Step {
        name: Box<[u8]>,
        delta: i64,
        post: bool,
    },
    /// An operator that can fail (`/`): `end` is where the message's error token starts.
    Binary {
        op: &'static [u8],
        lhs: Box<Node>,
        rhs: Box<Node>,
        end: usize,
    },
    /// `||` (`or`) or `&&`.
    Logic {
        or: bool,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Cond(Box<Node>, Box<Node>, Box<Node>),
    /// `x = e`, `x += e` (`op` the binary operator).
    Assign {
        name: Box<[u8]>,
        op: Option<&'static [u8]>,
        rhs: Box<Node>,
        end: usize,
    },
    Comma(Box<Node>, Box<Node>),
    /// `( e )`: one level deeper for a variable holding an expression.
    Group(Box<Node>),
}

impl Compiled {
    fn eval(&self, env: &mut dyn Env, depth: usize) -> Result<i64, String> {
        match &self.root {
            None => Ok(0),
            Some(n) => self.node(n, env, depth),
        }
    }

    fn error(&self, at: usize, what: &str) -> String {
        let text = String::from_utf8_lossy(&self.text);
        let rest = String::from_utf8_lossy(&self.text[at.min(self.text.len())..]);
        format!(
            "{}: {what} (error token is \"{}\")",
            text.trim(),
            rest.trim()
        )
    }

    fn node(&self, n: &Node, env: &mut dyn Env, depth: usize) -> Result<i64, String> {
        Ok(match n {
            Node::Num(v) => *v,
            Node::Var(name) => var(env, name, depth)?,
            Node::Unary(op, e) => {
                let v = self.node(e, env, depth)?;
                match op {
                    b'-' => v.wrapping_neg(),
                    b'!' => i64::from(v == 0),
                    _ => !v,
                }
            }
            Node::Step { name, delta, post } => {
                let old = var(env, name, depth)?;
                let new = old.wrapping_add(*delta);
                env.set_var(name, new.to_string().into_bytes())?;
                if *post {
                    old
                } else {
                    new
                }
            }
            Node::Binary { op, lhs, rhs, end } => {
                let a = self.node(lhs, env, depth)?;
                let b = self.node(rhs, env, depth)?;
                binary(op, a, b).map_err(|e| self.error(*end, e))?
            }
            Node::Logic { or, lhs, rhs } => {
                let a = self.node(lhs, env, depth)? != 0;
                if a == *or {
                    i64::from(a)
                } else {
                    i64::from(self.node(rhs, env, depth)? != 0)
                }
            }
            Node::Cond(c, a, b) => {
                if self.node(c, env, depth)? != 0 {
                    self.node(a, env, depth)?
                } else {
                    self.node(b, env, depth)?
                }
            }
            Node::Assign { name, op, rhs, end } => {
                let rhs = self.node(rhs, env, depth)?;
                let v = match op {
                    None => rhs,
                    Some(op) => {
                        let old = var(env, name, depth)?;
                        binary(op, old, rhs).map_err(|e| self.error(*end, e))?
                    }
                };
                env.set_var(name, v.to_string().into_bytes())?;
                v
            }
            Node::Comma(a, b) => {
                self.node(a, env, depth)?;
                self.node(b, env, depth)?
            }
            Node::Group(e) => self.node(e, env, depth + 1)?,
        })
    }
}

/// A variable's value as a number, as [`Parser::var`] reads it (for a plain name).
fn var(env: &mut dyn Env, name: &[u8], depth: usize) -> Result<i64, String> {
    let Some(value) = env.var_bytes(name) else {
        if env.nounset() {
            return Err(format!(
                "{}: unbound variable",
                String::from_utf8_lossy(name)
            ));
        }
        return Ok(0);
    };
    let t = value.trim_ascii();
    if t.is_empty() {
        return Ok(0);
    }
    if let Some(n) = parse_number(t) {
        return Ok(n);
    }
    let t = t.to_vec();
    drop(value);
    eval_depth(&t, env, depth + 1)
}

/// Builds a [`Compiled`] with [`Parser`]'s grammar, call for call (so positions in messages
/// match). `None` for anything it leaves to the text evaluator: a syntax error, a bad
/// number, a subscript.
struct Compiler<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
    nest: usize,
}

impl Compiler<'_> {
    fn compile(expr: &[u8]) -> Option<Compiled> {
        let mut c = Compiler {
            s: expr,
            i: 0,
            depth: 0,
            nest: 0,
        };
        c.skip_ws();
        let root = if c.i >= c.s.len() {
            None
        } else {
            let n = c.comma()?;
            c.skip_ws();
            if c.i < c.s.len() {
                return None;
            }
            Some(n)
        };
        Some(Compiled {
            text: expr.into(),
            root,
            nest: c.nest,
        })
    }

    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn rest(&self) -> &[u8] {
        &self.s[self.i.min(self.s.len())..]
    }

    fn eat(&mut self, op: &[u8], not: &[&[u8]]) -> bool {
        self.skip_ws();
        let rest = self.rest();
        if rest.starts_with(op) && !not.iter().any(|n| rest.starts_with(n)) {
            self.i += op.len();
            true
        } else {
            false
        }
    }

    fn comma(&mut self) -> Option<Node> {
        let mut v = self.assign()?;
        while self.eat(b",", &[]) {
            let next = self.assign()?;
            v = Node::Comma(Box::new(v), Box::new(next));
        }
        Some(v)
    }

    fn assign(&mut self) -> Option<Node> {
        self.skip_ws();
        let start = self.i;
        if let Some(name) = self.lvalue()? {
            self.skip_ws();
            let rest = self.rest();
            if let Some(op) = ASSIGN_OPS
                .iter()
                .find(|op| rest.starts_with(op) && !(**op == b"=" && rest.starts_with(b"==")))
            {
                self.i += op.len();
                let rhs = self.assign()?;
                return Some(Node::Assign {
                    name,
                    op: (*op != b"=").then(|| &op[..op.len() - 1]),
                    rhs: Box::new(rhs),
                    end: self.i,
                });
            }
            self.i = start;
        }
        self.ternary()
    }

    fn ternary(&mut self) -> Option<Node> {
        let c = self.binary_level(0)?;
        if self.eat(b"?", &[]) {
            let a = self.assign()?;
            if !self.eat(b":", &[]) {
                return None;
            }
            let b = self.ternary()?;
            return Some(Node::Cond(Box::new(c), Box::new(a), Box::new(b)));
        }
        Some(c)
    }

    fn binary_level(&mut self, level: usize) -> Option<Node> {
        let Some(ops) = LEVELS.get(level) else {
            return self.power();
        };
        let mut v = self.binary_level(level + 1)?;
        'outer: loop {
            for (op, not) in ops.iter() {
                if self.eat(op, not) {
                    let rhs = Box::new(self.binary_level(level + 1)?);
                    let lhs = Box::new(v);
                    v = match *op {
                        b"||" | b"&&" => Node::Logic {
                            or: *op == b"||",
                            lhs,
                            rhs,
                        },
                        _ => Node::Binary {
                            op,
                            lhs,
                            rhs,
                            end: self.i,
                        },
                    };
                    continue 'outer;
                }
            }
            return Some(v);
        }
    }

    fn power(&mut self) -> Option<Node> {
        let base = self.unary()?;
        if self.eat(b"**", &[b"**="]) {
            let exp = self.power()?;
            return Some(Node::Binary {
                op: b"**",
                lhs: Box::new(base),
                rhs: Box::new(exp),
                end: self.i,
            });
        }
        Some(base)
    }

    fn unary(&mut self) -> Option<Node> {
        self.skip_ws();
        for (op, delta) in [(&b"++"[..], 1i64), (b"--", -1)] {
            if self.rest().starts_with(op) {
                let save = self.i;
                self.i += 2;
                self.skip_ws();
                if let Some(name) = self.lvalue()? {
                    return Some(Node::Step {
                        name,
                        delta,
                        post: false,
                    });
                }
                self.i = save;
            }
        }
        const PREFIX: [(u8, &[&[u8]]); 4] = [
            (b'-', &[b"-="]),
            (b'+', &[b"+="]),
            (b'!', &[b"!="]),
            (b'~', &[]),
        ];
        for (op, not) in PREFIX {
            if self.eat(&[op], not) {
                let e = self.unary()?;
                return Some(match op {
                    b'+' => e,
                    _ => Node::Unary(op, Box::new(e)),
                });
            }
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Option<Node> {
        self.skip_ws();
        if self.eat(b"(", &[]) {
            if self.depth >= MAX_DEPTH {
                return None;
            }
            self.depth += 1;
            self.nest = self.nest.max(self.depth);
            let v = self.comma()?;
            self.depth -= 1;
            if !self.eat(b")", &[]) {
                return None;
            }
            return Some(Node::Group(Box::new(v)));
        }
        if let Some(name) = self.lvalue()? {
            for (op, delta) in [(&b"++"[..], 1i64), (b"--", -1)] {
                if self.eat(op, &[]) {
                    return Some(Node::Step {
                        name,
                        delta,
                        post: true,
                    });
                }
            }
            return Some(Node::Var(name));
        }
        self.number()
    }

    /// A plain name; `Some(None)` when no name comes next, `None` for a subscript.
    fn lvalue(&mut self) -> Option<Option<Box<[u8]>>> {
        let rest = self.rest();
        match rest.first() {
            Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {}
            _ => return Some(None),
        }
        let n = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        let name: Box<[u8]> = rest[..n].into();
        self.i += n;
        if self.s.get(self.i) == Some(&b'[') {
            return None;
        }
        Some(Some(name))
    }

    fn number(&mut self) -> Option<Node> {
        self.skip_ws();
        let rest = self.rest();
        let n = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'#' || **b == b'@' || **b == b'_')
            .count();
        if n == 0 {
            return None;
        }
        let v = parse_number(&rest[..n])?;
        self.i += n;
        Some(Node::Num(v))
    }
}

/// `12`, `0x1f`, `017` (octal), `2#101` (base 2..64).
pub fn parse_number(t: &[u8]) -> Option<i64> {
    // The common case, a short decimal: no UTF-8 check, no base to look for.
    if matches!(t, [b'1'..=b'9', ..] if t.len() <= 18 && t.iter().all(u8::is_ascii_digit)) {
        return Some(t.iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0')));
    }
    let s = std::str::from_utf8(t).ok()?;
    if let Some((base, digits)) = s.split_once('#') {
        if base.starts_with('0') {
            // bash refuses `02#0110`.
            return None;
        }
        let base: u32 = base.parse().ok()?;
        if !(2..=64).contains(&base) || digits.is_empty() {
            return None;
        }
        let mut v: i64 = 0;
        for c in digits.chars() {
            let d = match c {
                '0'..='9' => c as u32 - '0' as u32,
                'a'..='z' => c as u32 - 'a' as u32 + 10,
                'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
                'A'..='Z' => c as u32 - 'A' as u32 + 36,
                '@' => 62,
                '_' => 63,
                _ => return None,
            };
            if d >= base {
                return None;
            }
            v = v.wrapping_mul(i64::from(base)).wrapping_add(i64::from(d));
        }
        return Some(v);
    }
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as i64);
    }
    if s.len() > 1 && s.starts_with('0') {
        return u64::from_str_radix(&s[1..], 8).ok().map(|v| v as i64);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().map(|v| v as i64)
}

fn binary(op: &[u8], a: i64, b: i64) -> Result<i64, &'static str> {
    Ok(match op {
        b"+" => a.wrapping_add(b),
        b"-" => a.wrapping_sub(b),
        b"*" => a.wrapping_mul(b),
        b"/" | b"%" if b == 0 => return Err("division by 0"),
        b"/" => a.wrapping_div(b),
        b"%" => a.wrapping_rem(b),
        b"**" if b < 0 => return Err("exponent less than 0"),
        b"**" => a.wrapping_pow(u32::try_from(b).unwrap_or(u32::MAX)),
        b"<<" => a.wrapping_shl(b as u32),
        b">>" => a.wrapping_shr(b as u32),
        b"&" => a & b,
        b"|" => a | b,
        b"^" => a ^ b,
        b"==" => i64::from(a == b),
        b"!=" => i64::from(a != b),
        b"<" => i64::from(a < b),
        b">" => i64::from(a > b),
        b"<=" => i64::from(a <= b),
        b">=" => i64::from(a >= b),
        _ => return Err("syntax error in expression"),
    })
}

/// Variables for tests: a map with assignment.
#[cfg(test)]
pub(crate) struct MapEnv(pub std::collections::HashMap<Vec<u8>, Vec<u8>>);

#[cfg(test)]
impl Env for MapEnv {
    fn var(&self, name: &[u8]) -> Option<OsString> {
        self.0.get(name).cloned().map(OsString::from_vec)
    }
    fn last_status(&self) -> i32 {
        0
    }
    fn home(&self) -> Option<OsString> {
        None
    }
    fn set_var(&mut self, name: &[u8], value: Vec<u8>) -> Result<(), String> {
        self.0.insert(name.to_vec(), value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let rows: &[(&str, Result<i64, &str>)] = &[
            ("1 + 2 * 3", Ok(7)),
            ("(1 + 2) * 3", Ok(9)),
            ("2 ** 3 ** 2", Ok(512)),
            ("-2 ** 2", Ok(4)),
            ("7 / 2, 7 % 3", Ok(1)),
            ("1 < 2 && 2 < 1", Ok(0)),
            ("0 || 5", Ok(1)),
            ("1 ? 10 : 20", Ok(10)),
            ("0 ? 10 : 0 ? 1 : 2", Ok(2)),
            ("x = 5, x += 2, x", Ok(7)),
            ("y++ + y", Ok(1)),
            ("++z", Ok(1)),
            ("0x10 + 010 + 2#101", Ok(29)),
            ("e", Ok(3)),
            ("~0", Ok(-1)),
            ("1 << 4 | 1", Ok(17)),
            ("!0 + !5", Ok(1)),
            ("", Ok(0)),
            ("0 && (q = 1)", Ok(0)),
            ("q", Ok(0)),
            ("9223372036854775807 + 1", Ok(i64::MIN)),
            ("1 / 0", Err("1 / 0: division by 0 (error token is \"\")")),
            (
                "1 +",
                Err("1 +: syntax error: operand expected (error token is \"\")"),
            ),
            (
                "08",
                Err("08: value too great for base (error token is \"08\")"),
            ),
        ];
        for (expr, want) in rows {
            let mut env = MapEnv(Default::default());
            env.0.insert(b"e".to_vec(), b"1 + 2".to_vec());
            let got = eval(expr.as_bytes(), &mut env);
            assert_eq!(got, want.map_err(str::to_string), "{expr}");
        }
    }

    #[test]
    fn the_compiled_form_does_what_the_text_evaluator_does() {
        let exprs = [
            "x + i",
            "x = 5, x += 2, x",
            "y++ + y, y--, --y, ++y",
            "a = b = 3, a * b",
            "1 ? 10 : 20",
            "0 ? 10 : 0 ? 1 : 2",
            "1 || (q = 1), 0 && (r = 1), q + r",
            "-2 ** 2, ~~5, !!7, - -3, +4",
            "9223372036854775807 + 1",
            "1 / 0",
            "5 % (2 - 2) + 1",
            "x /= 0",
            "2 ** -1",
            "e * 2",
            "((((1)))) + (2)",
            "x << 2 | 1 ^ 3 & 7",
            "x <= 1 >= 0 == 1 != 2 < 3 > 1",
            "n = 0x1f + 017 + 2#101 + 64#_",
            "1 +",
            "08",
            "a[1] = 2",
            "x = ",
            "3 ? 4",
            "",
            "   ",
            "rec + 1",
            "d * 2",
        ];
        let deep = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
        let (p100, p101) = (deep(100), deep(101));
        for expr in exprs.into_iter().chain([p100.as_str(), p101.as_str()]) {
            let env = || {
                let mut env = MapEnv(Default::default());
                env.0.insert(b"e".to_vec(), b"1 + 2".to_vec());
                env.0.insert(b"x".to_vec(), b"4".to_vec());
                env.0.insert(b"i".to_vec(), b" 3 ".to_vec());
                env.0.insert(b"rec".to_vec(), b"rec".to_vec());
                env.0.insert(b"d".to_vec(), deep(99).into_bytes());
                env
            };
            let (mut a, mut b) = (env(), env());
            let text = eval_text(expr.as_bytes(), &mut a, 0);
            let compiled = Compiler::compile(expr.as_bytes());
            let got = match &compiled {
                Some(c) => c.eval(&mut b, 0),
                None => eval_text(expr.as_bytes(), &mut b, 0),
            };
            assert_eq!(got, text, "{expr}");
            let sorted = |e: &MapEnv| {
                let mut v: Vec<_> = e.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                v.sort();
                v
            };
            assert_eq!(sorted(&a), sorted(&b), "{expr}: variables");
        }
        // What the text evaluator keeps: errors in the text, subscripts.
        for expr in ["1 +", "08", "a[1] = 2", "3 ? 4", "(1"] {
            assert!(Compiler::compile(expr.as_bytes()).is_none(), "{expr}");
        }
        assert!(Compiler::compile(b"x + i").is_some());
    }

    #[test]
    fn side_effects_stay_in_the_branch_taken() {
        let mut env = MapEnv(Default::default());
        assert_eq!(
            eval(
                b"1 || (a = 1), 0 && (b = 1), 1 ? (c = 1) : (d = 1)",
                &mut env
            ),
            Ok(1)
        );
        assert!(!env.0.contains_key(&b"a"[..]) && !env.0.contains_key(&b"b"[..]));
        assert_eq!(env.0.get(&b"c"[..]).map(Vec::as_slice), Some(&b"1"[..]));
        assert!(!env.0.contains_key(&b"d"[..]));
    }
}
