//! `export`: make variables part of host programs' environment.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::{Builtin, Out};
use crate::context::{is_name, Context};
use crate::exit_codes;

pub struct Export;

impl Builtin for Export {
    fn name(&self) -> &'static str {
        "export"
    }
    fn about(&self) -> &'static str {
        "give variables to the host programs run from here"
    }
    fn usage(&self) -> &'static str {
        "export [-n] [NAME[=VALUE]]...\n  With no NAME, or with -p, list the exported variables.\n  -n  stop exporting NAME (it stays a shell variable)"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            // Not `Args`: operands are `NAME=VALUE`, and a value may start with `-`.
            let (mut unexport, mut list) = (false, false);
            let mut names = args.as_slice();
            while let Some((first, rest)) = names.split_first() {
                match first.as_bytes() {
                    b"--" => {
                        names = rest;
                        break;
                    }
                    b"-n" => unexport = true,
                    b"-p" => list = true,
                    f if f.starts_with(b"-") && f.len() > 1 => {
                        return ctx.usage(super::UsageError(format!(
                            "{}: invalid option",
                            first.to_string_lossy()
                        )))
                    }
                    _ => break,
                }
                names = rest;
            }
            if names.is_empty() || (list && !unexport) {
                if !names.is_empty() {
                    return ctx.usage(super::UsageError("-p takes no NAME".into()));
                }
                let mut text = Vec::new();
                for (name, value) in ctx.vars.exported_names() {
                    text.extend_from_slice(b"export ");
                    text.extend_from_slice(name);
                    if let Some(v) = value {
                        text.push(b'=');
                        text.extend_from_slice(&single_quoted(v));
                    }
                    text.push(b'\n');
                }
                return match out.write_all(&text) {
                    Ok(()) => exit_codes::OK,
                    Err(_) => exit_codes::FAILURE,
                };
            }
            let mut status = exit_codes::OK;
            for arg in names {
                let b = arg.as_bytes();
                let (name, value) = match b.iter().position(|&c| c == b'=') {
                    Some(i) => (&b[..i], Some(b[i + 1..].to_vec())),
                    None => (b, None),
                };
                if !is_name(name) {
                    ctx.fail(format_args!(
                        "'{}': not a valid identifier",
                        arg.to_string_lossy()
                    ));
                    status = exit_codes::FAILURE;
                } else if unexport {
                    if let Some(v) = value {
                        ctx.vars.set(name, v);
                    }
                    ctx.vars.unexport(name);
                } else {
                    ctx.vars.export(name, value);
                }
            }
            status
        })
    }
}

/// `'...'` around bytes, `'` written as `'\''`: how sh prints values to be read back.
pub fn single_quoted(v: &[u8]) -> Vec<u8> {
    let mut q = vec![b'\''];
    for &c in v {
        if c == b'\'' {
            q.extend_from_slice(b"'\\''");
        } else {
            q.push(c);
        }
    }
    q.push(b'\'');
    q
}

#[cfg(test)]
mod tests {
    use super::single_quoted;

    #[test]
    fn quoting() {
        assert_eq!(single_quoted(b"ls -l"), b"'ls -l'");
        assert_eq!(single_quoted(b"it's"), b"'it'\\''s'");
        assert_eq!(single_quoted(b""), b"''");
    }
}
