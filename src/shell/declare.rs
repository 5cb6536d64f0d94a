//! `declare`/`typeset`, `local`, `readonly` and `unset`: the builtins that give variables their
//! kind (string, indexed or associative array) and attributes, and print them back in bash's
//! `declare -p` form, which can be read in again. They live in the runner because `local` and
//! `declare` in a function make function-scoped variables, and `unset` also forgets functions.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::Shell;
use crate::commands::Out;
use crate::context::{is_name, Value};
use crate::exit_codes;
use crate::syntax::{Env, Word};

/// The options that matter here, from `-arx` / `+x` words.
#[derive(Default)]
struct Flags {
    indexed: bool,
    assoc: bool,
    readonly: bool,
    export: Option<bool>,
    print: bool,
    functions: bool,
    function_names: bool,
    global: bool,
}

/// `declare`, `typeset`, `local` (`name` says which) and `readonly`.
pub(super) fn declare(sh: &mut Shell, name: &str, args: Vec<OsString>, out: &mut Out) -> i32 {
    let mut flags = Flags {
        readonly: name == "readonly",
        ..Flags::default()
    };
    let mut operands = args.as_slice();
    while let Some(a) = operands.first() {
        let a = a.as_bytes();
        if a == b"--" {
            operands = &operands[1..];
            break;
        }
        let on = match a.first() {
            Some(b'-') if a.len() > 1 => true,
            Some(b'+') if a.len() > 1 => false,
            _ => break,
        };
        for &c in &a[1..] {
            match c {
                b'a' => flags.indexed = on,
                b'A' => flags.assoc = on,
                b'r' => flags.readonly |= on,
                b'x' => flags.export = Some(on),
                b'p' => flags.print = true,
                b'f' => flags.functions = true,
                b'F' => flags.function_names = true,
                b'g' => flags.global = true,
                b'i' | b'l' | b'u' | b't' | b'n' => {}
                _ => {
                    sh.errors.error(format_args!(
                        "{}: invalid option",
                        String::from_utf8_lossy(a)
                    ));
                    return exit_codes::USAGE;
                }
            }
        }
        operands = &operands[1..];
    }
    if flags.functions || flags.function_names {
        return functions(sh, &flags, operands, out);
    }
    if operands.is_empty() {
        return print_all(sh, name, &flags, out);
    }
    if flags.print {
        let mut status = exit_codes::OK;
        for n in operands {
            match print_one(sh, n.as_bytes()) {
                Some(line) => {
                    let _ = out.write_all(&line);
                }
                None => {
                    sh.errors
                        .error(format_args!("{}: not found", n.to_string_lossy()));
                    status = exit_codes::FAILURE;
                }
            }
        }
        return status;
    }
    let local = name == "local" || (name != "readonly" && !flags.global && !sh.locals.is_empty());
    let mut status = exit_codes::OK;
    for a in operands {
        if let Err(msg) = declare_one(sh, a.as_bytes(), &flags, local) {
            sh.errors.error(msg);
            status = exit_codes::FAILURE;
        }
    }
    status
}

/// One operand: `name`, `name=value`, `name+=value`, `name[k]=value` or `name=(...)`.
fn declare_one(sh: &mut Shell, arg: &[u8], flags: &Flags, local: bool) -> Result<(), String> {
    let eq = arg.iter().position(|&c| c == b'=');
    let lhs = &arg[..eq.unwrap_or(arg.len())];
    let (lhs, append) = match lhs.strip_suffix(b"+") {
        Some(l) if eq.is_some() => (l, true),
        _ => (lhs, false),
    };
    let (name, index) = match lhs.iter().position(|&c| c == b'[') {
        Some(open) if lhs.ends_with(b"]") => (&lhs[..open], Some(&lhs[open + 1..lhs.len() - 1])),
        _ => (lhs, None),
    };
    if !is_name(name) {
        return Err(format!(
            "`{}': not a valid identifier",
            String::from_utf8_lossy(arg)
        ));
    }
    if local {
        let fresh = sh
            .locals
            .last()
            .is_some_and(|frame| !frame.iter().any(|(k, _)| k == name));
        if fresh {
            let old = sh.vars.save(name);
            if let Some(frame) = sh.locals.last_mut() {
                frame.push((name.to_vec(), old));
            }
            {
                sh.vars.restore(name, None);
                if !flags.indexed && !flags.assoc && eq.is_none() {
                    sh.vars.declare(name);
                }
            }
        }
    }
    let readonly_error = || format!("{}: readonly variable", String::from_utf8_lossy(name));
    if (eq.is_some() || flags.indexed || flags.assoc) && sh.vars.is_readonly(name) {
        return Err(readonly_error());
    }
    match sh.vars.value(name) {
        _ if flags.assoc && !sh.vars.is_assoc(name) => {
            sh.vars.set_value(name, Value::Assoc(Default::default()))
        }
        None if flags.indexed => sh.vars.set_value(name, Value::Indexed(Default::default())),
        Some(Value::Str(s)) if flags.indexed => {
            let s = s.clone();
            sh.vars.set_value(name, Value::Indexed([(0, s)].into()))
        }
        _ => {}
    }
    if let Some(eq) = eq {
        let value = &arg[eq + 1..];
        let is_array = value.starts_with(b"(") && value.ends_with(b")") && index.is_none();
        if is_array {
            let mut text = name.to_vec();
            text.extend_from_slice(b"=");
            text.extend_from_slice(value);
            let elems = crate::syntax::parse(&text)
                .ok()
                .and_then(|l| l.items.into_iter().next())
                .and_then(|i| i.first.commands.into_iter().next())
                .and_then(|c| c.assignments.into_iter().next())
                .and_then(|a| a.array)
                .ok_or_else(|| format!("{}: bad array assignment", String::from_utf8_lossy(arg)))?;
            sh.assign_array(name, &elems, append)
                .map_err(|e| e.to_string())?;
        } else if let Some(index) = index {
            let word = Word::literal(index, Default::default());
            let key = crate::syntax::subscript(sh, name, &word).map_err(|e| e.to_string())?;
            let mut v = if append {
                sh.elem(name, &key)
                    .map(OsString::into_vec)
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            v.extend_from_slice(value);
            sh.set_elem(name, key, v)?;
        } else {
            let mut v = if append {
                sh.vars.get(name).map(<[u8]>::to_vec).unwrap_or_default()
            } else {
                Vec::new()
            };
            v.extend_from_slice(value);
            sh.assign(name, v)?;
        }
    } else if !local && sh.vars.value(name).is_none() && !flags.readonly && flags.export.is_none() {
        sh.vars.declare(name);
    }
    match flags.export {
        Some(true) => sh.vars.export(name, None),
        Some(false) => sh.vars.unexport(name),
        None => {}
    }
    if flags.readonly {
        sh.vars.set_readonly(name);
    }
    Ok(())
}

/// `declare -p` / `readonly` / `declare` without names.
fn print_all(sh: &Shell, name: &str, flags: &Flags, out: &mut Out) -> i32 {
    let mut text = Vec::new();
    for (n, value, exported, readonly) in sh.vars.declared() {
        let wanted = (!flags.readonly || readonly)
            && (flags.export != Some(true) || exported)
            && (!flags.indexed || matches!(value, Some(Value::Indexed(_))))
            && (!flags.assoc || matches!(value, Some(Value::Assoc(_))));
        if !wanted {
            continue;
        }
        if flags.print || name == "readonly" || flags.readonly || flags.export.is_some() {
            text.extend(render(n, value, exported, readonly));
        } else if let Some(Value::Str(s)) = value {
            text.extend_from_slice(n);
            text.push(b'=');
            text.extend(crate::syntax::quote(s));
            text.push(b'\n');
        } else if value.is_some() {
            text.extend(render(n, value, exported, readonly));
        }
    }
    let _ = out.write_all(&text);
    exit_codes::OK
}

/// `declare -p NAME`'s line, or `None` when there is no such variable.
fn print_one(sh: &Shell, name: &[u8]) -> Option<Vec<u8>> {
    let (value, exported, readonly) = sh.vars.declared_one(name)?;
    Some(render(name, value, exported, readonly))
}

/// `declare -rx NAME="value"`, `declare -a NAME=([0]="x")`: bash's format.
fn render(name: &[u8], value: Option<&Value>, exported: bool, readonly: bool) -> Vec<u8> {
    let mut attrs = String::new();
    match value {
        Some(Value::Indexed(_)) => attrs.push('a'),
        Some(Value::Assoc(_)) => attrs.push('A'),
        _ => {}
    }
    if readonly {
        attrs.push('r');
    }
    if exported {
        attrs.push('x');
    }
    if attrs.is_empty() {
        attrs.push('-');
    }
    let mut line = format!("declare -{attrs} ").into_bytes();
    line.extend_from_slice(name);
    match value {
        Some(Value::Str(s)) => {
            line.push(b'=');
            line.extend(double_quoted(s));
        }
        Some(Value::Indexed(m)) if !m.is_empty() => {
            line.extend_from_slice(b"=(");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    line.push(b' ');
                }
                line.extend(format!("[{k}]=").into_bytes());
                line.extend(double_quoted(v));
            }
            line.push(b')');
        }
        Some(Value::Assoc(m)) if !m.is_empty() => {
            line.extend_from_slice(b"=(");
            for (k, v) in m {
                line.push(b'[');
                line.extend(key_text(k));
                line.extend_from_slice(b"]=");
                line.extend(double_quoted(v));
                line.push(b' ');
            }
            line.push(b')');
        }
        _ => {}
    }
    line.push(b'\n');
    line
}

/// An associative key as bash prints it: bare when plain, else double-quoted.
fn key_text(k: &[u8]) -> Vec<u8> {
    if !k.is_empty()
        && k.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_-./:".contains(c))
    {
        k.to_vec()
    } else {
        double_quoted(k)
    }
}

/// `"..."` with `\`, `"`, `$` and backquote escaped.
fn double_quoted(s: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &c in s {
        if matches!(c, b'\\' | b'"' | b'$' | b'`') {
            out.push(b'\\');
        }
        out.push(c);
    }
    out.push(b'"');
    out
}

/// `declare -f NAME` / `-F`: whether the functions exist, and `-F` lists their names.
fn functions(sh: &Shell, flags: &Flags, operands: &[OsString], out: &mut Out) -> i32 {
    if operands.is_empty() {
        let mut text = Vec::new();
        for name in sh.functions.keys() {
            text.extend_from_slice(b"declare -f ");
            text.extend_from_slice(name);
            text.push(b'\n');
        }
        let _ = out.write_all(&text);
        return exit_codes::OK;
    }
    let mut status = exit_codes::OK;
    for n in operands {
        if sh.functions.contains_key(n.as_bytes()) {
            if flags.function_names {
                let _ = out.write_all(n.as_bytes());
                let _ = out.write_all(b"\n");
            }
        } else {
            status = exit_codes::FAILURE;
        }
    }
    status
}

/// `unset [-v|-f] NAME...`: variables (elements too: `unset 'a[1]'`), else functions.
pub(super) fn unset(sh: &mut Shell, args: Vec<OsString>) -> i32 {
    let mut only_functions = false;
    let mut only_vars = false;
    let mut operands = args.as_slice();
    while let Some(a) = operands.first() {
        match a.as_bytes() {
            b"--" => {
                operands = &operands[1..];
                break;
            }
            b"-f" => only_functions = true,
            b"-v" => only_vars = true,
            b"-n" | b"-fv" | b"-vf" => {}
            a if a.starts_with(b"-") && a.len() > 1 => {
                sh.errors.error(format_args!(
                    "{}: invalid option",
                    String::from_utf8_lossy(a)
                ));
                return exit_codes::USAGE;
            }
            _ => break,
        }
        operands = &operands[1..];
    }
    let mut status = exit_codes::OK;
    for a in operands {
        let arg = a.as_bytes();
        if only_functions {
            sh.functions.remove(arg);
            continue;
        }
        let (name, index) = match arg.iter().position(|&c| c == b'[') {
            Some(open) if arg.ends_with(b"]") => {
                (&arg[..open], Some(&arg[open + 1..arg.len() - 1]))
            }
            _ => (arg, None),
        };
        if !is_name(name) {
            sh.errors.error(format_args!(
                "`{}': not a valid identifier",
                String::from_utf8_lossy(arg)
            ));
            status = exit_codes::FAILURE;
            continue;
        }
        if sh.vars.is_readonly(name) {
            sh.errors.error(format_args!(
                "{}: cannot unset: readonly variable",
                String::from_utf8_lossy(name)
            ));
            status = exit_codes::FAILURE;
            continue;
        }
        match index {
            Some(i) if i == b"@" || i == b"*" => sh.vars.unset(name),
            Some(i) => {
                let word = Word::literal(i, Default::default());
                match crate::syntax::subscript(sh, name, &word) {
                    Ok(key) => sh.vars.unset_elem(name, &key),
                    Err(e) => {
                        sh.errors.error(e);
                        status = exit_codes::FAILURE;
                    }
                }
            }
            None if sh.vars.value(name).is_none() && !only_vars => {
                if sh.functions.remove(name).is_none() {
                    sh.vars.unset(name);
                }
            }
            None => sh.vars.unset(name),
        }
    }
    status
}
