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
        type Ops = &'static [(&'static [u8], &'static [&'static [u8]])];
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

/// `12`, `0x1f`, `017` (octal), `2#101` (base 2..64).
pub fn parse_number(t: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(t).ok()?;
    if let Some((base, digits)) = s.split_once('#') {
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
