//! `alias`: define or show aliases, in sh's format (`alias ll='ls -l'`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use futures_util::future::LocalBoxFuture;

use super::export::single_quoted;
use super::{Builtin, Out};
use crate::context::Context;
use crate::exit_codes;
use crate::syntax::alias::is_valid_name;

pub struct Alias;

impl Builtin for Alias {
    fn name(&self) -> &'static str {
        "alias"
    }
    fn about(&self) -> &'static str {
        "define a short name for a command line, or list them"
    }
    fn usage(&self) -> &'static str {
        "alias [-p] [NAME[=VALUE]]...\n  NAME=VALUE defines, NAME shows one; with no NAME, or with -p, list them all.\n  The value replaces NAME when it starts a command: alias ll='ls -l'"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let mut args = args.as_slice();
            let mut list = args.is_empty();
            while let Some((first, rest)) = args.split_first() {
                match first.as_bytes() {
                    b"-p" => list = true,
                    b"--" => {
                        args = rest;
                        break;
                    }
                    f if f.starts_with(b"-") && f.len() > 1 => {
                        return ctx.usage(super::UsageError(format!(
                            "{}: invalid option",
                            first.to_string_lossy()
                        )))
                    }
                    _ => break,
                }
                args = rest;
            }
            let mut text = Vec::new();
            if list {
                for (name, value) in &ctx.aliases {
                    text.extend_from_slice(&line(name, value));
                }
            }
            let mut status = exit_codes::OK;
            for arg in args {
                let b = arg.as_bytes();
                match b.iter().position(|&c| c == b'=') {
                    Some(i) if is_valid_name(&b[..i]) => {
                        ctx.aliases.insert(b[..i].to_vec(), b[i + 1..].to_vec());
                    }
                    Some(i) => {
                        ctx.fail(format_args!(
                            "'{}': invalid alias name",
                            String::from_utf8_lossy(&b[..i])
                        ));
                        status = exit_codes::FAILURE;
                    }
                    None => match ctx.aliases.get(b) {
                        Some(value) => text.extend_from_slice(&line(b, value)),
                        None => {
                            ctx.fail(format_args!("{}: not found", arg.to_string_lossy()));
                            status = exit_codes::FAILURE;
                        }
                    },
                }
            }
            if out.write_all(&text).is_err() {
                return exit_codes::FAILURE;
            }
            status
        })
    }
}

/// `alias NAME='VALUE'`, as sh prints it to be read back.
fn line(name: &[u8], value: &[u8]) -> Vec<u8> {
    [b"alias ", name, b"=", &single_quoted(value), b"\n"].concat()
}
