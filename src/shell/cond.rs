//! bash's `[[ ... ]]`: words are expanded without splitting or globbing, `==`/`!=` match the
//! right side as a pattern (quoted parts literal), `=~` as a POSIX extended regular expression
//! (libc's `regcomp`, as bash uses), and `&&`, `||`, `!`, `( )` combine; file tests go through
//! the namespace like `test`'s.

use std::ffi::CString;

use super::test::{is_binary, is_unary, lossy};
use super::Shell;
use crate::syntax::{self, CondTok, Word};

enum Node<'a> {
    Not(Box<Node<'a>>),
    And(Box<Node<'a>>, Box<Node<'a>>),
    Or(Box<Node<'a>>, Box<Node<'a>>),
    Word(&'a Word),
    Unary(&'a Word, &'a Word),
    Binary(&'a Word, String, &'a CondTok),
}

struct P<'a> {
    toks: &'a [CondTok],
    i: usize,
}

fn bare(t: &CondTok) -> Option<&[u8]> {
    match t {
        CondTok::Word(w) => w.as_bare(),
        _ => None,
    }
}

impl<'a> P<'a> {
    fn or(&mut self) -> Result<Node<'a>, String> {
        let mut l = self.and()?;
        while matches!(self.toks.get(self.i), Some(CondTok::Or)) {
            self.i += 1;
            l = Node::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Node<'a>, String> {
        let mut l = self.not()?;
        while matches!(self.toks.get(self.i), Some(CondTok::And)) {
            self.i += 1;
            l = Node::And(Box::new(l), Box::new(self.not()?));
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Node<'a>, String> {
        if matches!(self.toks.get(self.i), Some(CondTok::Not)) {
            self.i += 1;
            return Ok(Node::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node<'a>, String> {
        let unexpected = |t: Option<&CondTok>| match t {
            None => "unexpected argument to conditional expression".to_string(),
            Some(_) => "syntax error in conditional expression".to_string(),
        };
        match self.toks.get(self.i) {
            Some(CondTok::LParen) => {
                self.i += 1;
                let n = self.or()?;
                if !matches!(self.toks.get(self.i), Some(CondTok::RParen)) {
                    return Err(unexpected(self.toks.get(self.i)));
                }
                self.i += 1;
                Ok(n)
            }
            Some(CondTok::Word(w)) => {
                let op = match self.toks.get(self.i + 1) {
                    Some(CondTok::Less) => Some("<".to_string()),
                    Some(CondTok::Greater) => Some(">".to_string()),
                    Some(t) => bare(t)
                        .filter(|b| is_binary(b) || *b == b"=~")
                        .map(|b| String::from_utf8_lossy(b).into_owned()),
                    None => None,
                };
                if let Some(op) = op {
                    let Some(rhs) = self.toks.get(self.i + 2) else {
                        return Err(unexpected(None));
                    };
                    if (op == "=~") != matches!(rhs, CondTok::Regex(_)) {
                        return Err(unexpected(Some(rhs)));
                    }
                    self.i += 3;
                    return Ok(Node::Binary(w, op, rhs));
                }
                if w.as_bare().is_some_and(is_unary) {
                    if let Some(CondTok::Word(arg)) = self.toks.get(self.i + 1) {
                        self.i += 2;
                        return Ok(Node::Unary(w, arg));
                    }
                }
                self.i += 1;
                Ok(Node::Word(w))
            }
            t => Err(unexpected(t)),
        }
    }
}

/// Evaluates the tokens of one `[[ ]]`.
pub async fn eval(sh: &mut Shell, toks: &[CondTok]) -> Result<bool, String> {
    let mut p = P { toks, i: 0 };
    let tree = p.or()?;
    if p.i < toks.len() {
        return Err("syntax error in conditional expression".to_string());
    }
    node(sh, &tree).await
}

fn node<'a>(
    sh: &'a mut Shell,
    n: &'a Node<'a>,
) -> futures_util::future::LocalBoxFuture<'a, Result<bool, String>> {
    Box::pin(async move {
        let s = |sh: &mut Shell, w: &Word| syntax::expand_string(w, sh).map_err(|e| e.to_string());
        match n {
            Node::Not(x) => Ok(!node(sh, x).await?),
            Node::And(x, y) => Ok(node(sh, x).await? && node(sh, y).await?),
            Node::Or(x, y) => Ok(node(sh, x).await? || node(sh, y).await?),
            Node::Word(w) => Ok(!s(sh, w)?.is_empty()),
            Node::Unary(op, arg) => {
                let op = s(sh, op)?;
                let arg = s(sh, arg)?;
                sh.unary_test(&op, &arg).await
            }
            Node::Binary(a, op, rhs) => {
                let left = s(sh, a)?;
                match (op.as_str(), rhs) {
                    ("=" | "==" | "!=", CondTok::Word(w)) => {
                        let pat = syntax::expand_pattern(w, sh).map_err(|e| e.to_string())?;
                        Ok(pat.matches(&left) == (op != "!="))
                    }
                    ("=~", CondTok::Regex(w)) => {
                        let re = regex_text(sh, w)?;
                        regex_match(&left, &re, sh)
                    }
                    ("-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge", CondTok::Word(w)) => {
                        // Arithmetic on both sides, as bash's `[[ ]]` does.
                        let right = s(sh, w)?;
                        let x = syntax::arith::eval(&left, sh)?;
                        let y = syntax::arith::eval(&right, sh)?;
                        Ok(match op.as_str() {
                            "-eq" => x == y,
                            "-ne" => x != y,
                            "-lt" => x < y,
                            "-le" => x <= y,
                            "-gt" => x > y,
                            _ => x >= y,
                        })
                    }
                    (_, CondTok::Word(w)) => {
                        let right = s(sh, w)?;
                        sh.binary_test(&left, op.as_bytes(), &right).await
                    }
                    _ => Err("syntax error in conditional expression".to_string()),
                }
            }
        }
    })
}

/// The regular expression as typed, quoted parts escaped so they match literally.
fn regex_text(sh: &mut Shell, w: &Word) -> Result<Vec<u8>, String> {
    let fields = syntax::word_fields(w, sh, false).map_err(|e| e.to_string())?;
    let f = fields.into_iter().next().unwrap_or_default();
    let mut out = Vec::new();
    for (b, q) in f.bytes.iter().zip(&f.quoted) {
        if *q && b"\\.[]()*+?{}|^$".contains(b) {
            out.push(b'\\');
        }
        out.push(*b);
    }
    Ok(out)
}

/// How many groups an extended regex has: its `(`s outside brackets and not escaped (libc's
/// `regex_t` keeps its own count private).
fn groups_in(re: &[u8]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < re.len() {
        match re[i] {
            b'\\' => i += 1,
            b'(' => n += 1,
            b'[' => {
                // `[]...]` and `[^]...]` hold a literal `]` first.
                i += 1;
                if re.get(i) == Some(&b'^') {
                    i += 1;
                }
                if re.get(i) == Some(&b']') {
                    i += 1;
                }
                while i < re.len() && re[i] != b']' {
                    // `[:alpha:]` and its kin end with `:]`.
                    if re[i] == b'[' && matches!(re.get(i + 1), Some(b':' | b'.' | b'=')) {
                        let close = re.get(i + 1).copied().unwrap_or(b':');
                        i += 2;
                        while i + 1 < re.len() && !(re[i] == close && re[i + 1] == b']') {
                            i += 1;
                        }
                        i += 1;
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    n
}

/// `regexec` of `re` on `s`; sets BASH_REMATCH to the match and its groups (an unmatched
/// group is empty), or to no elements when it does not match, as bash does.
fn regex_match(s: &[u8], re: &[u8], sh: &mut Shell) -> Result<bool, String> {
    /// Groups past this many are not kept (POSIX regexes rarely have so many).
    const MAX_GROUPS: usize = 64;
    let (Ok(cre), Ok(cs)) = (CString::new(re), CString::new(s)) else {
        return Ok(false);
    };
    // SAFETY: a zeroed regex_t is what regcomp expects to fill.
    let mut r: libc::regex_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers; the regex is freed below.
    if unsafe { libc::regcomp(&mut r, cre.as_ptr(), libc::REG_EXTENDED) } != 0 {
        return Err(format!("{}: invalid regular expression", lossy(re)));
    }
    let n = (groups_in(re) + 1).min(MAX_GROUPS);
    let mut m = vec![
        libc::regmatch_t {
            rm_so: -1,
            rm_eo: -1,
        };
        n
    ];
    // SAFETY: `r` was compiled; `m` has room for `n` matches.
    let hit = unsafe { libc::regexec(&r, cs.as_ptr(), n, m.as_mut_ptr(), 0) } == 0;
    // SAFETY: frees what regcomp allocated.
    unsafe { libc::regfree(&mut r) };
    let mut groups = std::collections::BTreeMap::new();
    if hit {
        for (i, g) in m.iter().enumerate() {
            let text = match (usize::try_from(g.rm_so), usize::try_from(g.rm_eo)) {
                (Ok(a), Ok(b)) => s.get(a..b).unwrap_or_default().to_vec(),
                _ => Vec::new(),
            };
            groups.insert(i as i64, text);
        }
    }
    sh.vars
        .set_value(b"BASH_REMATCH", crate::context::Value::Indexed(groups));
    Ok(hit)
}
