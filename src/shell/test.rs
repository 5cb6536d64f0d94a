//! `test`/`[` and `[[ ]]`'s operators over the whole namespace: `-f -d -e -s -x -nt` ask the
//! vfs, so `[ -f /containers/web/etc/nginx/nginx.conf ]` works as on a host path.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::Shell;
use crate::vfs::{Entry, Kind};

/// Whether `op` is a unary test operator.
pub fn is_unary(op: &[u8]) -> bool {
    matches!(
        op,
        b"-e"
            | b"-a"
            | b"-f"
            | b"-d"
            | b"-s"
            | b"-x"
            | b"-r"
            | b"-w"
            | b"-L"
            | b"-h"
            | b"-p"
            | b"-S"
            | b"-b"
            | b"-c"
            | b"-g"
            | b"-u"
            | b"-k"
            | b"-t"
            | b"-z"
            | b"-n"
            | b"-v"
            | b"-o"
            | b"-O"
            | b"-G"
            | b"-N"
    )
}

/// Whether `op` is a binary test operator (`<` and `>` only in `[[ ]]` or escaped).
pub fn is_binary(op: &[u8]) -> bool {
    matches!(
        op,
        b"=" | b"=="
            | b"!="
            | b"<"
            | b">"
            | b"-eq"
            | b"-ne"
            | b"-lt"
            | b"-le"
            | b"-gt"
            | b"-ge"
            | b"-nt"
            | b"-ot"
            | b"-ef"
    )
}

impl Shell {
    async fn entry(&self, path: &[u8], follow: bool) -> Option<Entry> {
        if path.is_empty() {
            return None;
        }
        let p = self.resolve(OsStr::from_bytes(path));
        if follow {
            self.vfs.stat(&p).await.ok()
        } else {
            self.vfs.lstat(&p).await.ok()
        }
    }

    /// A unary operator on its operand.
    pub(super) async fn unary_test(&self, op: &[u8], arg: &[u8]) -> Result<bool, String> {
        Ok(match op {
            b"-z" => arg.is_empty(),
            b"-n" => !arg.is_empty(),
            b"-e" | b"-a" => self.entry(arg, true).await.is_some(),
            b"-f" => self
                .entry(arg, true)
                .await
                .is_some_and(|e| e.kind == Kind::File),
            b"-d" => self
                .entry(arg, true)
                .await
                .is_some_and(|e| e.kind == Kind::Dir),
            b"-s" => self.entry(arg, true).await.is_some_and(|e| e.size > 0),
            b"-p" => self
                .entry(arg, true)
                .await
                .is_some_and(|e| e.kind == Kind::Fifo),
            b"-S" => self
                .entry(arg, true)
                .await
                .is_some_and(|e| e.kind == Kind::Socket),
            b"-b" => self
                .entry(arg, true)
                .await
                .is_some_and(|e| e.kind == Kind::BlockDevice),
            b"-c" => self
                .entry(arg, true)
                .await
                .is_some_and(|e| e.kind == Kind::CharDevice),
            b"-g" => self
                .entry(arg, true)
                .await
                .is_some_and(|e| e.perm & 0o2000 != 0),
            b"-u" => self
                .entry(arg, true)
                .await
                .is_some_and(|e| e.perm & 0o4000 != 0),
            b"-k" => self
                .entry(arg, true)
                .await
                .is_some_and(|e| e.perm & 0o1000 != 0),
            b"-L" | b"-h" => self
                .entry(arg, false)
                .await
                .is_some_and(|e| e.kind == Kind::Symlink),
            b"-x" | b"-r" | b"-w" | b"-O" | b"-G" | b"-N" => {
                let p = self.resolve(OsStr::from_bytes(arg));
                match p {
                    crate::vfs::VPath::Host(h) => {
                        let mode = match op {
                            b"-x" => libc::X_OK,
                            b"-r" => libc::R_OK,
                            b"-w" => libc::W_OK,
                            _ => libc::F_OK,
                        };
                        let Ok(c) = std::ffi::CString::new(h.as_os_str().as_bytes()) else {
                            return Ok(false);
                        };
                        // SAFETY: a valid C string; access only inspects the path.
                        unsafe { libc::access(c.as_ptr(), mode) == 0 }
                    }
                    _ => {
                        let bits = match op {
                            b"-x" => 0o111,
                            b"-r" => 0o444,
                            b"-w" => 0o222,
                            _ => 0o7777,
                        };
                        self.entry(arg, true)
                            .await
                            .is_some_and(|e| e.perm & bits != 0 || op == b"-O")
                    }
                }
            }
            b"-t" => {
                // Not a descriptor number (`-t x`, one past int): false, as in bash.
                let n: Option<i32> = std::str::from_utf8(arg)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                // SAFETY: isatty only inspects the descriptor.
                n.is_some_and(|n| unsafe { libc::isatty(n) == 1 })
            }
            b"-v" => self.vars.get(arg).is_some(),
            b"-o" => {
                let o = &self.opts;
                match arg {
                    b"errexit" => o.errexit,
                    b"nounset" => o.nounset,
                    b"xtrace" => o.xtrace,
                    b"noglob" => o.noglob,
                    b"noclobber" => o.noclobber,
                    b"pipefail" => o.pipefail,
                    _ => false,
                }
            }
            _ => return Err(format!("{}: unary operator expected", lossy(op))),
        })
    }

    /// A binary operator on its operands (string comparison for `=`; `[[ ]]` matches patterns
    /// itself before asking here).
    pub(super) async fn binary_test(&self, a: &[u8], op: &[u8], b: &[u8]) -> Result<bool, String> {
        let int = |s: &[u8]| -> Result<i64, String> {
            let t = std::str::from_utf8(s).unwrap_or("").trim();
            t.parse::<i64>()
                .map_err(|_| format!("{}: integer expression expected", lossy(s)))
        };
        Ok(match op {
            b"=" | b"==" => a == b,
            b"!=" => a != b,
            b"<" => a < b,
            b">" => a > b,
            b"-eq" => int(a)? == int(b)?,
            b"-ne" => int(a)? != int(b)?,
            b"-lt" => int(a)? < int(b)?,
            b"-le" => int(a)? <= int(b)?,
            b"-gt" => int(a)? > int(b)?,
            b"-ge" => int(a)? >= int(b)?,
            b"-nt" | b"-ot" => {
                let (x, y) = (self.entry(a, true).await, self.entry(b, true).await);
                let newer = |x: &Option<Entry>, y: &Option<Entry>| match (x, y) {
                    (Some(x), Some(y)) => x.mtime > y.mtime,
                    (Some(_), None) => true,
                    _ => false,
                };
                if op == b"-nt" {
                    newer(&x, &y)
                } else {
                    newer(&y, &x)
                }
            }
            b"-ef" => match (self.entry(a, true).await, self.entry(b, true).await) {
                (Some(x), Some(y)) => x.dev == y.dev && x.ino == y.ino,
                _ => false,
            },
            _ => return Err(format!("{}: binary operator expected", lossy(op))),
        })
    }

    /// `test ARGS` / `[ ARGS ]`: POSIX's rules by argument count, then `!`, `-a`, `-o`, `( )`.
    pub(super) async fn test_args(&self, args: &[Vec<u8>]) -> Result<bool, String> {
        let a = |i: usize| args[i].as_slice();
        match args.len() {
            0 => Ok(false),
            1 => Ok(!a(0).is_empty()),
            2 if a(0) == b"!" => Ok(a(1).is_empty()),
            2 if is_unary(a(0)) => self.unary_test(a(0), a(1)).await,
            2 => Err(format!("{}: unary operator expected", lossy(a(0)))),
            3 if is_binary(a(1)) => self.binary_test(a(0), a(1), a(2)).await,
            3 if a(0) == b"!" => Ok(!Box::pin(self.test_args(&args[1..])).await?),
            3 if a(0) == b"(" && a(2) == b")" => Ok(!a(1).is_empty()),
            3 if a(1) == b"-a" => Ok(!a(0).is_empty() && !a(2).is_empty()),
            3 if a(1) == b"-o" => Ok(!a(0).is_empty() || !a(2).is_empty()),
            3 => Err(format!("{}: binary operator expected", lossy(a(1)))),
            4 if a(0) == b"!" => Ok(!Box::pin(self.test_args(&args[1..])).await?),
            4 if a(0) == b"(" && a(3) == b")" => Box::pin(self.test_args(&args[1..3])).await,
            _ => {
                let mut p = TestParser { args, i: 0 };
                let tree = p.or()?;
                if p.i < args.len() {
                    return Err(format!("{}: too many arguments", lossy(a(p.i))));
                }
                self.eval_test(&tree).await
            }
        }
    }

    fn eval_test<'a>(
        &'a self,
        t: &'a TestTree,
    ) -> futures_util::future::LocalBoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            match t {
                TestTree::Not(x) => Ok(!self.eval_test(x).await?),
                TestTree::And(x, y) => Ok(self.eval_test(x).await? && self.eval_test(y).await?),
                TestTree::Or(x, y) => Ok(self.eval_test(x).await? || self.eval_test(y).await?),
                TestTree::Str(s) => Ok(!s.is_empty()),
                TestTree::Unary(op, a) => self.unary_test(op, a).await,
                TestTree::Binary(a, op, b) => self.binary_test(a, op, b).await,
            }
        })
    }
}

/// A parsed `test` expression of more than four arguments.
#[derive(Debug)]
pub(super) enum TestTree {
    Not(Box<TestTree>),
    And(Box<TestTree>, Box<TestTree>),
    Or(Box<TestTree>, Box<TestTree>),
    Str(Vec<u8>),
    Unary(Vec<u8>, Vec<u8>),
    Binary(Vec<u8>, Vec<u8>, Vec<u8>),
}

struct TestParser<'a> {
    args: &'a [Vec<u8>],
    i: usize,
}

impl TestParser<'_> {
    fn peek(&self, k: usize) -> Option<&[u8]> {
        self.args.get(self.i + k).map(Vec::as_slice)
    }

    fn or(&mut self) -> Result<TestTree, String> {
        let mut l = self.and()?;
        while self.peek(0) == Some(b"-o") {
            self.i += 1;
            l = TestTree::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<TestTree, String> {
        let mut l = self.not()?;
        while self.peek(0) == Some(b"-a") {
            self.i += 1;
            l = TestTree::And(Box::new(l), Box::new(self.not()?));
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<TestTree, String> {
        if self.peek(0) == Some(b"!") {
            self.i += 1;
            return Ok(TestTree::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<TestTree, String> {
        let Some(a) = self.peek(0).map(<[u8]>::to_vec) else {
            return Err("argument expected".to_string());
        };
        if a == b"(" {
            self.i += 1;
            let t = self.or()?;
            if self.peek(0) != Some(b")") {
                return Err("`)' expected".to_string());
            }
            self.i += 1;
            return Ok(t);
        }
        if let Some(op) = self.peek(1).filter(|op| is_binary(op)).map(<[u8]>::to_vec) {
            if let Some(b) = self.peek(2).map(<[u8]>::to_vec) {
                self.i += 3;
                return Ok(TestTree::Binary(a, op, b));
            }
        }
        if is_unary(&a) {
            if let Some(b) = self.peek(1).map(<[u8]>::to_vec) {
                self.i += 2;
                return Ok(TestTree::Unary(a, b));
            }
        }
        self.i += 1;
        Ok(TestTree::Str(a))
    }
}

pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
