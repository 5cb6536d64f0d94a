//! `help`: list the builtins, or show one's usage.

use std::ffi::OsString;

use futures_util::future::LocalBoxFuture;

use super::{Builtin, Out, BUILTINS};
use crate::context::Context;
use crate::exit_codes;

pub struct Help;

impl Builtin for Help {
    fn name(&self) -> &'static str {
        "help"
    }
    fn about(&self) -> &'static str {
        "list the builtins, or show how to use one"
    }
    fn usage(&self) -> &'static str {
        "help [COMMAND]"
    }
    fn run<'a>(
        &'a self,
        ctx: &'a mut Context,
        args: Vec<OsString>,
        out: &'a mut Out,
    ) -> LocalBoxFuture<'a, i32> {
        Box::pin(async move {
            let text = match args.first() {
                None => {
                    let mut s = String::from(
                        "dockerbox: a shell where /containers/NAME/... is the filesystem of container NAME.\n\
                         Anything that is not a builtin runs on the host; exec (and sh or bash alone)\n\
                         runs in the container of the current directory.\n\nBuiltins:\n",
                    );
                    let width = BUILTINS.iter().map(|b| b.name().len()).max().unwrap_or(0);
                    for b in BUILTINS {
                        s.push_str(&format!("  {:<width$}  {}\n", b.name(), b.about()));
                    }
                    s.push_str("\nhelp COMMAND shows a builtin's options.\n");
                    s
                }
                Some(name) => match super::find(&name.to_string_lossy()) {
                    Some(b) => format!("usage: {}\n{}\n", b.usage(), b.about()),
                    None => {
                        ctx.fail(format_args!(
                            "no builtin called '{}'",
                            name.to_string_lossy()
                        ));
                        return exit_codes::FAILURE;
                    }
                },
            };
            match out.write_all(text.as_bytes()) {
                Ok(()) => exit_codes::OK,
                Err(_) => exit_codes::FAILURE,
            }
        })
    }
}
