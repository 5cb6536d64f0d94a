//! The builtins of the language itself, which need the interpreter: `set`, `shift`, `return`,
//! `break`, `continue`, `local`, `readonly`, `eval`, `.`/`source`, `trap`, `read`, `wait`,
//! `jobs`/`fg`/`bg`/`kill` (in `jobs.rs`), `getopts`, `command -v`, `type`, `umask`, plus `echo`,
//! `test`/`[`, `true`, `false` and `:` (builtins so they see the namespace and cost no process).

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::run::Flow;
use super::Shell;
use crate::commands::Out;
use crate::exit_codes;

/// The names, for dispatch and `type`.
const NAMES: &[&str] = &[
    ":", "true", "false", "echo", "test", "[", "set", "shift", "return", "break", "continue",
    "local", "readonly", "eval", ".", "source", "trap", "read", "wait", "jobs", "fg", "bg", "kill",
    "getopts", "command", "type", "umask", "let", "shopt", "builtin", "declare", "typeset",
    "unset", "hash",
];

/// The language builtin called `name`.
pub fn find(name: &str) -> Option<&'static str> {
    NAMES.iter().copied().find(|n| *n == name)
}

/// `help` and completion read `commands::LANGUAGE`: it must describe exactly what runs here.
#[cfg(test)]
#[test]
fn help_describes_every_language_builtin() {
    use crate::commands::{self, LANGUAGE};
    for n in NAMES {
        assert!(
            LANGUAGE.iter().any(|d| d.name == *n && !d.keyword) || commands::find(n).is_some(),
            "{n} is in help's table"
        );
    }
    for d in LANGUAGE.iter().filter(|d| !d.keyword) {
        assert!(
            find(d.name).is_some(),
            "{} runs as a language builtin",
            d.name
        );
    }
}

fn b(s: &OsString) -> &[u8] {
    s.as_bytes()
}

/// Runs language builtin `name`.
pub async fn run(sh: &mut Shell, name: &str, args: Vec<OsString>, out: &mut Out) -> i32 {
    match name {
        ":" | "true" => exit_codes::OK,
        "false" => exit_codes::FAILURE,
        "echo" => echo(&args, out, &sh.errors),
        "test" | "[" => {
            let mut a: Vec<Vec<u8>> = args.into_iter().map(OsString::into_vec).collect();
            if name == "[" {
                if a.last().map(Vec::as_slice) != Some(b"]") {
                    sh.errors.error("missing `]'");
                    return exit_codes::USAGE;
                }
                a.pop();
            }
            match sh.test_args(&a).await {
                Ok(true) => exit_codes::OK,
                Ok(false) => exit_codes::FAILURE,
                Err(msg) => {
                    sh.errors.error(&msg);
                    exit_codes::USAGE
                }
            }
        }
        "set" => set(sh, args, out),
        "shift" => {
            let n = match args.first().map(|a| parse_n(b(a))) {
                None => Some(1),
                Some(n) => n,
            };
            match n {
                Some(n) if n <= sh.args.len() => {
                    sh.args.drain(..n);
                    exit_codes::OK
                }
                Some(_) => exit_codes::FAILURE,
                None => {
                    sh.errors.error("numeric argument required");
                    exit_codes::USAGE
                }
            }
        }
        "return" => {
            let st = match args.first() {
                None => sh.status,
                Some(a) => match std::str::from_utf8(b(a))
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    Some(n) => (n & 0xff) as i32,
                    None => {
                        sh.errors.error(format!(
                            "{}: numeric argument required",
                            a.to_string_lossy()
                        ));
                        exit_codes::USAGE
                    }
                },
            };
            if sh.in_function == 0 && !sh.sourcing {
                sh.errors
                    .error("can only `return' from a function or sourced script");
                return exit_codes::USAGE;
            }
            sh.status = st;
            sh.flow = Flow::Return;
            st
        }
        "break" | "continue" => {
            let n = match args.first().map(|a| parse_n(b(a))) {
                None => Some(1),
                Some(Some(0)) => {
                    sh.errors.error("loop count out of range");
                    return exit_codes::FAILURE;
                }
                Some(None) => {
                    // bash: a fatal error outside the REPL (status 128); every loop stops.
                    let a = args
                        .first()
                        .map(|a| a.to_string_lossy())
                        .unwrap_or_default();
                    sh.errors.error(format!("{a}: numeric argument required"));
                    if sh.loops > 0 {
                        sh.flow = Flow::Break(sh.loops);
                    }
                    if !sh.interactive {
                        sh.exit = Some(128);
                    }
                    return 128;
                }
                Some(n) => n,
            };
            if sh.loops == 0 {
                return exit_codes::OK;
            }
            let n = n.unwrap_or(1).min(sh.loops);
            sh.flow = if name == "break" {
                Flow::Break(n)
            } else {
                Flow::Continue(n)
            };
            exit_codes::OK
        }
        "local" => {
            if sh.locals.is_empty() {
                sh.errors.error("can only be used in a function");
                return exit_codes::FAILURE;
            }
            super::declare::declare(sh, name, args, out)
        }
        "declare" | "typeset" | "readonly" => super::declare::declare(sh, name, args, out),
        "unset" => super::declare::unset(sh, args),
        "eval" => {
            let args = match args.first().map(b) {
                Some(b"--") => &args[1..],
                Some(a) if a.starts_with(b"-") && a.len() > 1 || a == b"-" => {
                    sh.errors.error(format!("{}: invalid option", lossy(a)));
                    return exit_codes::USAGE;
                }
                _ => &args[..],
            };
            let text = args.iter().map(b).collect::<Vec<_>>().join(&b' ');
            sh.run_text(&text).await
        }
        "." | "source" => {
            let args = if args.first().map(b) == Some(b"--") {
                args[1..].to_vec()
            } else {
                args
            };
            let Some(file) = args.first() else {
                sh.errors.error("filename argument required");
                return exit_codes::USAGE;
            };
            let text = match find_script(sh, file) {
                Some(path) => std::fs::read(&path).map_err(|e| crate::vfs::io_text(&e)),
                // A file inside a container (`. /containers/c/etc/profile`), read through the
                // namespace: whole, as sh reads a sourced file before running it.
                None => {
                    let mut text = Vec::new();
                    let p = sh.resolve(file);
                    sh.vfs
                        .read(&p, &mut text)
                        .await
                        .map(|_| text)
                        .map_err(|e| e.to_string())
                }
            };
            let text = match text {
                Ok(t) => t,
                Err(e) => {
                    sh.errors.error(format!("{}: {e}", sh.own.name(file)));
                    return exit_codes::FAILURE;
                }
            };
            let saved =
                (args.len() > 1).then(|| std::mem::replace(&mut sh.args, args[1..].to_vec()));
            let was = std::mem::replace(&mut sh.sourcing, true);
            let st = sh.run_text(&text).await;
            sh.sourcing = was;
            if sh.flow == Flow::Return {
                sh.flow = Flow::Normal;
            }
            if let Some(a) = saved {
                sh.args = a;
            }
            st
        }
        "trap" => trap(sh, args, out),
        "read" => read(sh, args),
        "wait" => sh.wait_builtin(args).await,
        "jobs" | "fg" | "bg" => sh.job_builtin(name, args, out).await,
        "kill" => sh.kill_builtin(args, out),
        "getopts" => getopts(sh, args),
        "command" | "type" | "builtin" => {
            let verbose = name == "type" || args.first().is_some_and(|a| b(a) == b"-V");
            let names: Vec<&OsString> = args.iter().filter(|a| !b(a).starts_with(b"-")).collect();
            if name != "type" && !args.first().is_some_and(|a| matches!(b(a), b"-v" | b"-V")) {
                // `command` alone or with only options: nothing to run.
                return exit_codes::OK;
            }
            if name == "type" {
                let flags: Vec<u8> = args
                    .iter()
                    .map(b)
                    .take_while(|a| a.starts_with(b"-") && a.len() > 1)
                    .flat_map(|a| a[1..].to_vec())
                    .collect();
                if let Some(st) = type_with_flags(sh, &flags, &names, out) {
                    return st;
                }
            }
            let mut st = exit_codes::OK;
            for n in names {
                match describe(sh, n, verbose) {
                    Some(d) => {
                        let _ = out.write_all(&d);
                        let _ = out.write_all(b"\n");
                    }
                    None => {
                        if verbose {
                            sh.errors
                                .error(format!("{}: not found", n.to_string_lossy()));
                        }
                        st = exit_codes::FAILURE;
                    }
                }
            }
            st
        }
        "hash" => hash(sh, &args, out),
        "umask" => {
            let m = crate::commands::umask();
            let symbolic = args.first().is_some_and(|a| a == "-S");
            let mode = args.iter().find(|a| *a != "-S" && *a != "-p");
            match mode {
                None if symbolic => {
                    let who = |shift: u32| {
                        let allowed = !(m >> shift) & 7;
                        [(4, 'r'), (2, 'w'), (1, 'x')]
                            .iter()
                            .filter(|(bit, _)| allowed & bit != 0)
                            .map(|(_, c)| *c)
                            .collect::<String>()
                    };
                    let _ = writeln!(out, "u={},g={},o={}", who(6), who(3), who(0));
                    exit_codes::OK
                }
                None => {
                    let _ = writeln!(out, "{m:04o}");
                    exit_codes::OK
                }
                Some(a) => match u32::from_str_radix(&a.to_string_lossy(), 8) {
                    Ok(v) if v <= 0o777 => {
                        crate::commands::set_umask(v);
                        exit_codes::OK
                    }
                    _ => {
                        sh.errors.error(format!(
                            "{}: octal number out of range",
                            a.to_string_lossy()
                        ));
                        exit_codes::FAILURE
                    }
                },
            }
        }
        "let" => {
            let mut v = 0;
            for a in &args {
                match crate::syntax::arith::eval(b(a), sh) {
                    Ok(x) => v = x,
                    Err(msg) => {
                        sh.errors.error(&msg);
                        return exit_codes::FAILURE;
                    }
                }
            }
            i32::from(v == 0)
        }
        "shopt" => exit_codes::OK,
        _ => exit_codes::NOT_FOUND,
    }
}

/// `hash`: lists the remembered program paths, `-r` forgets them, `hash NAME` looks NAME up.
fn hash(sh: &mut Shell, args: &[OsString], out: &mut Out) -> i32 {
    let mut names = args.iter().map(b).peekable();
    if names.peek() == Some(&&b"-r"[..]) {
        sh.hashed.borrow_mut().clear();
        return exit_codes::OK;
    }
    if names.peek() == Some(&&b"--"[..]) {
        names.next();
    }
    let mut status = exit_codes::OK;
    let mut any = false;
    for n in names {
        any = true;
        if n.contains(&b'/') {
            continue;
        }
        if sh.find_program(n, false).is_none() {
            sh.errors.error(format!("{}: not found", lossy(n)));
            status = exit_codes::FAILURE;
        }
    }
    if !any {
        let table = sh.hashed.borrow();
        if table.programs.is_empty() {
            sh.errors.note("hash table empty");
        } else {
            let _ = writeln!(out, "hits\tcommand");
            for (hits, path) in table.programs.values() {
                let _ = writeln!(out, "{hits:4}\t{}", path.to_string_lossy());
            }
        }
    }
    status
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse_n(a: &[u8]) -> Option<usize> {
    std::str::from_utf8(a).ok()?.parse().ok()
}

/// `echo`: bash's, with `-n`, `-e`, `-E`.
fn echo(args: &[OsString], out: &mut Out, errors: &crate::context::Reporter) -> i32 {
    let mut newline = true;
    let mut escapes = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let a = b(a);
        if a.len() < 2 || a[0] != b'-' || !a[1..].iter().all(|c| b"neE".contains(c)) {
            break;
        }
        for c in &a[1..] {
            match c {
                b'n' => newline = false,
                b'e' => escapes = true,
                _ => escapes = false,
            }
        }
        i += 1;
    }
    let mut line = Vec::new();
    for (k, a) in args[i..].iter().enumerate() {
        if k > 0 {
            line.push(b' ');
        }
        if escapes {
            if unescape(b(a), &mut line) {
                newline = false;
                break;
            }
        } else {
            line.extend_from_slice(b(a));
        }
    }
    if newline {
        line.push(b'\n');
    }
    match out.write_all(&line).and_then(|()| out.flush()) {
        Ok(()) => exit_codes::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit_codes::FAILURE,
        Err(e) => {
            errors.error(format_args!("write error: {}", crate::vfs::io_text(&e)));
            exit_codes::FAILURE
        }
    }
}

/// `echo -e`'s escapes; true at `\c` (stop output).
fn unescape(s: &[u8], out: &mut Vec<u8>) -> bool {
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let (n, stop) = crate::commands::escape_as(&s[i..], true, false, out);
        if stop {
            return true;
        }
        i += n;
    }
    false
}

fn set(sh: &mut Shell, args: Vec<OsString>, out: &mut Out) -> i32 {
    if args.is_empty() {
        for (k, v) in sh.vars.all() {
            let _ = out.write_all(k);
            let _ = out.write_all(b"=");
            let _ = out.write_all(&crate::syntax::quote(v));
            let _ = out.write_all(b"\n");
        }
        return exit_codes::OK;
    }
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let a = b(a);
        if a == b"--" {
            sh.args = args[i + 1..].to_vec();
            return exit_codes::OK;
        }
        if a == b"-" {
            sh.opts.xtrace = false;
            sh.opts.verbose = false;
            i += 1;
            break;
        }
        if a == b"+" {
            // Ignored, as in bash: not an argument.
            i += 1;
            continue;
        }
        let on = match a.first() {
            Some(b'-') => true,
            Some(b'+') => false,
            _ => break,
        };
        if a.len() < 2 {
            break;
        }
        if &a[1..] == b"o" {
            match args.get(i + 1) {
                Some(name) => {
                    if !set_long(sh, b(name), on) {
                        sh.errors
                            .error(format!("{}: invalid option name", name.to_string_lossy()));
                        return exit_codes::USAGE;
                    }
                    i += 2;
                    continue;
                }
                None => {
                    for (n, v) in long_options(sh) {
                        let _ = writeln!(out, "{n:<15}\t{}", if v { "on" } else { "off" });
                    }
                    return exit_codes::OK;
                }
            }
        }
        for c in &a[1..] {
            let o = &mut sh.opts;
            match c {
                b'e' => o.errexit = on,
                b'u' => o.nounset = on,
                b'x' => o.xtrace = on,
                b'f' => o.noglob = on,
                b'C' => o.noclobber = on,
                b'a' => o.allexport = on,
                b'v' => o.verbose = on,
                b'n' => o.noexec = on,
                b'h' | b'b' | b'm' | b'B' | b'H' => {}
                _ => {
                    sh.errors.error(format!("-{}: invalid option", *c as char));
                    return exit_codes::USAGE;
                }
            }
        }
        i += 1;
    }
    if i < args.len() {
        sh.args = args[i..].to_vec();
    }
    exit_codes::OK
}

/// `set`'s flags from dockerbox's command line (`-e`, `+o errexit`...), before anything runs.
pub fn set_flags(sh: &mut Shell, args: Vec<OsString>) -> i32 {
    set(sh, args, &mut std::io::stdout())
}

fn long_options(sh: &Shell) -> Vec<(&'static str, bool)> {
    let o = &sh.opts;
    vec![
        ("allexport", o.allexport),
        ("emacs", o.emacs),
        ("errexit", o.errexit),
        ("noclobber", o.noclobber),
        ("noexec", o.noexec),
        ("noglob", o.noglob),
        ("nounset", o.nounset),
        ("pipefail", o.pipefail),
        ("verbose", o.verbose),
        ("vi", o.vi),
        ("xtrace", o.xtrace),
    ]
}

fn set_long(sh: &mut Shell, name: &[u8], on: bool) -> bool {
    let o = &mut sh.opts;
    match name {
        b"errexit" => o.errexit = on,
        b"nounset" => o.nounset = on,
        b"xtrace" => o.xtrace = on,
        b"noglob" => o.noglob = on,
        b"noclobber" => o.noclobber = on,
        b"pipefail" => o.pipefail = on,
        b"allexport" => o.allexport = on,
        b"verbose" => o.verbose = on,
        b"noexec" => o.noexec = on,
        // The REPL reads these after each line (`set -o vi` switches the editor at once).
        b"vi" => (o.vi, o.emacs) = (on, o.emacs && !on),
        b"emacs" => (o.emacs, o.vi) = (on, o.vi && !on),
        b"posix" | b"monitor" | b"hashall" | b"braceexpand" | b"interactive-comments" => {}
        _ => return false,
    }
    true
}

fn trap(sh: &mut Shell, args: Vec<OsString>, out: &mut Out) -> i32 {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let args: Vec<&[u8]> = match args.first() {
        Some(&b"--") => args[1..].to_vec(),
        _ => args,
    };
    if args.is_empty() || args == [b"-p"] {
        let mut traps: Vec<(&String, &Vec<u8>)> = sh.traps.iter().collect();
        traps.sort_by_key(|(n, _)| signal_number(n));
        for (name, text) in traps {
            let shown = if name == "EXIT" || name == "ERR" || name == "DEBUG" || name == "RETURN" {
                name.clone()
            } else {
                format!("SIG{name}")
            };
            let quoted = lossy(text).replace('\'', "'\\''");
            let _ = writeln!(out, "trap -- '{quoted}' {shown}");
        }
        return exit_codes::OK;
    }
    if args[0].len() > 1 && args[0].starts_with(b"-") {
        sh.errors
            .error(format!("{}: invalid option", lossy(args[0])));
        return exit_codes::USAGE;
    }
    // `trap 0 2`: a first argument that is a number means every one listed is reset.
    let numeric = args[0].iter().all(u8::is_ascii_digit) && !args[0].is_empty();
    let (action, sigs): (Option<&[u8]>, &[&[u8]]) = if args.len() == 1 || args[0] == b"-" || numeric
    {
        (
            None,
            if args.len() == 1 || (numeric && args[0] != b"-") {
                &args[..]
            } else {
                &args[1..]
            },
        )
    } else {
        (Some(args[0]), &args[1..])
    };
    let mut st = exit_codes::OK;
    for s in sigs {
        let name = match signal_name(s) {
            Some(n) => n,
            None => {
                sh.errors
                    .error(format!("{}: invalid signal specification", lossy(s)));
                st = exit_codes::FAILURE;
                continue;
            }
        };
        match action {
            None => {
                sh.traps.remove(name);
            }
            Some(text) => {
                sh.traps.insert(name.to_string(), text.to_vec());
            }
        }
    }
    st
}

/// Where `trap` lists a condition: EXIT first, then by signal number.
fn signal_number(name: &str) -> u32 {
    match name {
        "EXIT" => 0,
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "USR1" => 10,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "CHLD" => 17,
        n => SIGNALS
            .iter()
            .find(|(_, name)| *name == n)
            .map_or(100, |(num, _)| *num),
    }
}

fn signal_name(s: &[u8]) -> Option<&'static str> {
    let upper = std::str::from_utf8(s).ok()?.to_ascii_uppercase();
    let s = upper.strip_prefix("SIG").unwrap_or(&upper);
    Some(match s {
        "0" | "EXIT" => "EXIT",
        "2" | "INT" => "INT",
        "15" | "TERM" => "TERM",
        "1" | "HUP" => "HUP",
        "3" | "QUIT" => "QUIT",
        "ERR" => "ERR",
        "DEBUG" => "DEBUG",
        "RETURN" => "RETURN",
        "USR1" | "10" => "USR1",
        "USR2" | "12" => "USR2",
        "PIPE" | "13" => "PIPE",
        "ALRM" | "14" => "ALRM",
        "CHLD" | "17" => "CHLD",
        other => {
            let num: Option<u32> = other.parse().ok();
            return SIGNALS
                .iter()
                .find(|(n, name)| *name == other || Some(*n) == num)
                .map(|(_, name)| *name);
        }
    })
}

/// The other signals `trap` accepts by name or number (Linux's numbers).
const SIGNALS: &[(u32, &str)] = &[
    (4, "ILL"),
    (5, "TRAP"),
    (6, "ABRT"),
    (7, "BUS"),
    (8, "FPE"),
    (9, "KILL"),
    (11, "SEGV"),
    (16, "STKFLT"),
    (18, "CONT"),
    (19, "STOP"),
    (20, "TSTP"),
    (21, "TTIN"),
    (22, "TTOU"),
    (23, "URG"),
    (24, "XCPU"),
    (25, "XFSZ"),
    (26, "VTALRM"),
    (27, "PROF"),
    (28, "WINCH"),
    (29, "IO"),
    (30, "PWR"),
    (31, "SYS"),
];

/// `read [-r] [-p prompt] [-d delim] [-n N] NAME...`: one line from stdin, byte by byte (so
/// nothing after it is taken from a pipe), split on IFS.
fn read(sh: &mut Shell, args: Vec<OsString>) -> i32 {
    let mut raw = false;
    let mut delim = b'\n';
    let mut count: Option<usize> = None;
    let mut exact = false;
    let mut timeout: Option<f64> = None;
    let mut fd_arg: Option<u32> = None;
    let mut array: Option<Vec<u8>> = None;
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut k = 0;
    // getopt's way: `-rd ''`, `-n1`, `-u 3`.
    while k < args.len() {
        let a = args[k].as_bytes();
        k += 1;
        if a == b"--" {
            break;
        }
        if !a.starts_with(b"-") || a.len() < 2 {
            k -= 1;
            break;
        }
        let mut j = 1;
        while j < a.len() {
            let c = a[j];
            j += 1;
            let value = |k: &mut usize| -> Option<Vec<u8>> {
                if j < a.len() {
                    Some(a[j..].to_vec())
                } else {
                    let v = args.get(*k).map(|v| v.as_bytes().to_vec());
                    *k += 1;
                    v
                }
            };
            match c {
                b'r' => raw = true,
                b's' | b'e' => {}
                b'd' | b'n' | b'N' | b'p' | b't' | b'u' | b'a' | b'i' => {
                    let Some(v) = value(&mut k) else {
                        sh.errors
                            .error(format!("-{}: option requires an argument", c as char));
                        return exit_codes::USAGE;
                    };
                    match c {
                        b'd' => delim = v.first().copied().unwrap_or(0),
                        b'n' | b'N' => {
                            let Some(n) = parse_n(&v) else {
                                sh.errors.error(format!("{}: invalid number", lossy(&v)));
                                return exit_codes::FAILURE;
                            };
                            count = Some(n);
                            exact = c == b'N';
                        }
                        b'p' => {
                            let _ = std::io::stderr().write_all(&v);
                        }
                        b't' => {
                            timeout = std::str::from_utf8(&v)
                                .ok()
                                .and_then(|t| t.parse::<f64>().ok())
                                .filter(|t| t.is_finite() && *t >= 0.0);
                            if timeout.is_none() {
                                sh.errors
                                    .error(format!("{}: invalid timeout specification", lossy(&v)));
                                return exit_codes::FAILURE;
                            }
                        }
                        b'u' => {
                            let Some(n) = parse_n(&v) else {
                                sh.errors.error(format!(
                                    "{}: invalid file descriptor specification",
                                    lossy(&v)
                                ));
                                return exit_codes::FAILURE;
                            };
                            fd_arg = Some(n as u32);
                        }
                        b'a' => array = Some(v),
                        _ => {}
                    }
                    break;
                }
                _ => {
                    sh.errors.error(format!("-{}: invalid option", c as char));
                    return exit_codes::USAGE;
                }
            }
        }
    }
    names.extend(args[k..].iter().map(|a| a.as_bytes().to_vec()));
    let reply = names.is_empty() && array.is_none();
    let fd: std::os::fd::RawFd = match fd_arg {
        Some(n) => match sh
            .command_fds
            .as_ref()
            .and_then(|t| t.get(n))
            .or_else(|| sh.inherited.as_ref().and_then(|t| t.get(n)))
        {
            Some(fd) => std::os::fd::AsRawFd::as_raw_fd(&**fd),
            None => {
                sh.errors
                    .error(format!("{n}: invalid file descriptor: Bad file descriptor"));
                return exit_codes::FAILURE;
            }
        },
        None => match &sh.stdin {
            Some(fd) => std::os::fd::AsRawFd::as_raw_fd(&**fd),
            None => 0,
        },
    };
    let ready = |ms: i32| {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
    };
    if timeout == Some(0.0) {
        return if ready(0) {
            exit_codes::OK
        } else {
            exit_codes::FAILURE
        };
    }
    let deadline =
        timeout.map(|t| std::time::Instant::now() + std::time::Duration::from_secs_f64(t));
    let mut line = Vec::new();
    let mut got_delim = false;
    let mut kept = 0usize;
    loop {
        if count.is_some_and(|n| kept >= n) {
            got_delim = true;
            break;
        }
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(std::time::Instant::now());
            if !ready(left.as_millis().min(i32::MAX as u128) as i32) {
                return 142;
            }
        }
        let mut c = [0u8; 1];
        // SAFETY: one byte into a valid buffer.
        let n = unsafe { libc::read(fd, c.as_mut_ptr().cast(), 1) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            if crate::interrupt::is_set() {
                return exit_codes::INTERRUPTED;
            }
            continue;
        }
        if n <= 0 {
            break;
        }
        if c[0] == delim && !exact {
            got_delim = true;
            break;
        }
        if c[0] == b'\\' && !raw {
            let mut d = [0u8; 1];
            // SAFETY: as above.
            let m = unsafe { libc::read(fd, d.as_mut_ptr().cast(), 1) };
            if m <= 0 {
                break;
            }
            if d[0] == b'\n' {
                continue;
            }
            // An escaped byte is kept and never splits: mark it with a NUL prefix.
            line.push(0);
            line.push(d[0]);
            kept += 1;
            continue;
        }
        line.push(c[0]);
        kept += 1;
    }
    let ifs = sh
        .vars
        .get(b"IFS")
        .map_or_else(|| b" \t\n".to_vec(), <[u8]>::to_vec);
    if reply || exact {
        // `read` alone and `read -N`: the bytes as read, escapes resolved, nothing split.
        let mut v = Vec::with_capacity(line.len());
        let mut i = 0;
        while i < line.len() {
            if line[i] == 0 && i + 1 < line.len() {
                i += 1;
            }
            v.push(line[i]);
            i += 1;
        }
        let name = names.first().cloned().unwrap_or_else(|| b"REPLY".to_vec());
        if let Err(msg) = sh.assign(&name, v) {
            sh.errors.error(&msg);
            return exit_codes::FAILURE;
        }
        for n in names.iter().skip(1) {
            let _ = sh.assign(n, Vec::new());
        }
    } else if let Some(a) = array {
        let fields = split_read(&line, &ifs, usize::MAX);
        let value = crate::context::Value::Indexed(
            fields
                .into_iter()
                .enumerate()
                .map(|(i, f)| (i as i64, f))
                .collect(),
        );
        if sh.vars.is_readonly(&a) {
            sh.errors.error(format!("{}: readonly variable", lossy(&a)));
            return exit_codes::FAILURE;
        }
        sh.vars.set_value(&a, value);
    } else {
        let fields = split_read(&line, &ifs, names.len());
        for (i, n) in names.iter().enumerate() {
            let v = fields.get(i).cloned().unwrap_or_default();
            if let Err(msg) = sh.assign(n, v) {
                sh.errors.error(&msg);
                return exit_codes::FAILURE;
            }
        }
    }
    if got_delim {
        exit_codes::OK
    } else {
        exit_codes::FAILURE
    }
}

/// `read`'s splitting: at most `n` fields, the last taking the rest (without trailing IFS
/// blanks). A NUL marks the next byte as escaped.
fn split_read(line: &[u8], ifs: &[u8], n: usize) -> Vec<Vec<u8>> {
    let is_ws = |c: u8| ifs.contains(&c) && matches!(c, b' ' | b'\t' | b'\n');
    let is_sep = |c: u8| ifs.contains(&c);
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    while i < line.len() && is_ws(line[i]) {
        i += 1;
    }
    let mut cur = Vec::new();
    while i < line.len() {
        let c = line[i];
        if c == 0 && i + 1 < line.len() {
            cur.push(line[i + 1]);
            i += 2;
            continue;
        }
        if out.len() + 1 < n && is_sep(c) {
            out.push(std::mem::take(&mut cur));
            let was_ws = is_ws(c);
            i += 1;
            while i < line.len() && is_ws(line[i]) {
                i += 1;
            }
            if was_ws && i < line.len() && is_sep(line[i]) && !is_ws(line[i]) {
                i += 1;
                while i < line.len() && is_ws(line[i]) {
                    i += 1;
                }
            }
            continue;
        }
        cur.push(c);
        i += 1;
    }
    // The last field loses trailing IFS blanks.
    while cur.last().is_some_and(|&c| is_ws(c)) {
        cur.pop();
    }
    if !cur.is_empty() || !out.is_empty() || !line.is_empty() {
        out.push(cur);
    }
    out
}

fn getopts(sh: &mut Shell, args: Vec<OsString>) -> i32 {
    let (Some(spec), Some(var)) = (args.first(), args.get(1)) else {
        sh.errors.error("usage: getopts optstring name [arg ...]");
        return exit_codes::USAGE;
    };
    let spec = b(spec).to_vec();
    let var = b(var).to_vec();
    let params: Vec<Vec<u8>> = if args.len() > 2 {
        args[2..].iter().map(|a| a.as_bytes().to_vec()).collect()
    } else {
        sh.args.iter().map(|a| a.as_bytes().to_vec()).collect()
    };
    let silent = spec.first() == Some(&b':');
    let mut optind: usize = sh
        .vars
        .get(b"OPTIND")
        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut sub = sh.getopts_pos;
    // At the end OPTIND names the first operand, never past the last argument + 1 (so new
    // `set --` arguments start over), and OPTARG is unset, as bash has them.
    let count = params.len();
    let done = |sh: &mut Shell, optind: usize| {
        let _ = sh.assign(&var, b"?".to_vec());
        sh.vars.unset(b"OPTARG");
        let optind = optind.min(count + 1);
        sh.vars.set(b"OPTIND", optind.to_string().into_bytes());
        sh.getopts_pos = 0;
        exit_codes::FAILURE
    };
    let Some(arg) = params.get(optind - 1) else {
        return done(sh, optind);
    };
    if sub == 0 {
        if arg == b"--" {
            return done(sh, optind + 1);
        }
        if arg.len() < 2 || arg[0] != b'-' {
            return done(sh, optind);
        }
        sub = 1;
    }
    let c = arg[sub];
    sub += 1;
    let at_end = sub >= arg.len();
    let pos = spec.iter().position(|&s| s == c && c != b':');
    let takes = pos.is_some_and(|p| spec.get(p + 1) == Some(&b':'));
    let mut value: Option<Vec<u8>> = None;
    let mut result = vec![c];
    if pos.is_none() {
        if silent {
            value = Some(vec![c]);
        } else {
            sh.errors.note(format!("illegal option -- {}", c as char));
            sh.vars.unset(b"OPTARG");
        }
        result = b"?".to_vec();
    } else if takes {
        if !at_end {
            value = Some(arg[sub..].to_vec());
            sub = arg.len();
        } else if let Some(next) = params.get(optind) {
            value = Some(next.clone());
            optind += 1;
        } else {
            if silent {
                result = b":".to_vec();
                value = Some(vec![c]);
            } else {
                sh.errors
                    .note(format!("option requires an argument -- {}", c as char));
                result = b"?".to_vec();
            }
        }
    }
    if takes || sub >= arg.len() {
        optind += 1;
        sub = 0;
    }
    sh.getopts_pos = sub;
    match value {
        Some(v) => sh.vars.set(b"OPTARG", v),
        None if pos.is_some() => sh.vars.unset(b"OPTARG"),
        None => {}
    }
    sh.vars.set(b"OPTIND", optind.to_string().into_bytes());
    if !crate::context::is_name(&var) {
        sh.errors
            .error(format!("`{}': not a valid identifier", lossy(&var)));
        return exit_codes::FAILURE;
    }
    let _ = sh.assign(&var, result);
    exit_codes::OK
}

/// What `type`/`command -v` say about `name`.
/// `type -t` (the kind of each name: `alias`, `keyword`, `function`, `builtin`, `file`),
/// `type -p` (the file a name would run, if that is what it runs) and `type -P` (the file in
/// `$PATH` whatever it runs), as bash; `None` without those flags. Status 1 if any name gave
/// nothing.
fn type_with_flags(sh: &Shell, flags: &[u8], names: &[&OsString], out: &mut Out) -> Option<i32> {
    let (kind, path, force) = (
        flags.contains(&b't'),
        flags.contains(&b'p'),
        flags.contains(&b'P'),
    );
    if !(kind || path || force) {
        return None;
    }
    let mut st = exit_codes::OK;
    for n in names {
        let what = describe(sh, n, true);
        let word = what.as_deref().and_then(|d| {
            let rest = d.strip_prefix(n.as_bytes())?;
            Some(if rest.starts_with(b" is a shell keyword") {
                "keyword"
            } else if rest.starts_with(b" is aliased") {
                "alias"
            } else if rest.starts_with(b" is a function") {
                "function"
            } else if rest.starts_with(b" is a shell builtin") {
                "builtin"
            } else {
                "file"
            })
        });
        let line = if force || (path && word == Some("file")) {
            let p = if force {
                program_path(sh, n)
            } else {
                describe(sh, n, false)
            };
            p.filter(|_| force || word == Some("file"))
        } else if path {
            // A builtin or function: nothing to print, and not a failure.
            if word.is_some() {
                continue;
            }
            None
        } else {
            word.map(|w| w.as_bytes().to_vec())
        };
        match line {
            Some(l) => {
                let _ = out.write_all(&l);
                let _ = out.write_all(b"\n");
            }
            None => st = exit_codes::FAILURE,
        }
    }
    Some(st)
}

fn describe(sh: &Shell, name: &OsStr, verbose: bool) -> Option<Vec<u8>> {
    let n = name.as_bytes();
    let shown = lossy(n);
    const KEYWORDS: &[&str] = &[
        "if", "then", "else", "elif", "fi", "case", "esac", "for", "while", "until", "do", "done",
        "{", "}", "!", "[[", "]]", "function", "in",
    ];
    if KEYWORDS.contains(&shown.as_str()) {
        return Some(
            if verbose {
                format!("{shown} is a shell keyword")
            } else {
                shown
            }
            .into_bytes(),
        );
    }
    if let Some(v) = sh.aliases.get(n) {
        return Some(if verbose {
            format!("{shown} is aliased to `{}'", lossy(v)).into_bytes()
        } else {
            format!("alias {shown}='{}'", lossy(v)).into_bytes()
        });
    }
    if sh.functions.contains_key(n) {
        return Some(
            if verbose {
                format!("{shown} is a function")
            } else {
                shown
            }
            .into_bytes(),
        );
    }
    if super::pipeline::builtin(name).is_some() {
        return Some(
            if verbose {
                format!("{shown} is a shell builtin")
            } else {
                shown
            }
            .into_bytes(),
        );
    }
    let path = OsString::from_vec(program_path(sh, name)?);
    Some(if verbose {
        format!("{shown} is {}", path.to_string_lossy()).into_bytes()
    } else {
        path.into_vec()
    })
}

/// The executable file `name` names: itself with a slash, else the first in `$PATH`.
fn program_path(sh: &Shell, name: &OsStr) -> Option<Vec<u8>> {
    if name.as_bytes().contains(&b'/') {
        return std::path::Path::new(name)
            .is_file()
            .then(|| name.as_bytes().to_vec());
    }
    let dirs = sh.vars.get(b"PATH").unwrap_or(b"/usr/bin:/bin").to_vec();
    dirs.split(|&c| c == b':').find_map(|d| {
        let p = std::path::Path::new(OsStr::from_bytes(d)).join(name);
        let meta = std::fs::metadata(&p).ok()?;
        use std::os::unix::fs::PermissionsExt;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0)
            .then(|| p.into_os_string().into_vec())
    })
}

/// The file `.` reads: a name with a slash as is, else the first match in PATH, else the
/// current directory.
/// The host file `.` reads: a name without a slash is looked for in `$PATH`, then, as any
/// path, where the shell is. `None`: it names a file in the namespace (a container's).
fn find_script(sh: &Shell, file: &OsStr) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(file);
    if !file.as_bytes().contains(&b'/') {
        if let Some(dirs) = sh.vars.get(b"PATH") {
            for d in dirs.split(|&c| c == b':') {
                let c = std::path::Path::new(OsStr::from_bytes(d)).join(p);
                if c.is_file() {
                    return Some(c);
                }
            }
        }
    }
    match sh.resolve(file) {
        crate::vfs::VPath::Host(h) => Some(h),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_splits_like_bash() {
        type Row<'a> = (&'a [u8], &'a [u8], usize, &'a [&'a [u8]]);
        let rows: &[Row] = &[
            (b"  a  b  c  ", b" \t\n", 2, &[b"a", b"b  c"]),
            (b"a:b:c", b":", 2, &[b"a", b"b:c"]),
            (b"a::b", b":", 3, &[b"a", b"", b"b"]),
            (b" x ", b" \t\n", 1, &[b"x"]),
            (b"a\0 b c", b" ", 2, &[b"a b", b"c"]),
            (b"", b" ", 1, &[]),
        ];
        for (line, ifs, n, want) in rows {
            let got = split_read(line, ifs, *n);
            let want: Vec<Vec<u8>> = want.iter().map(|w| w.to_vec()).collect();
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(line));
        }
    }
}
