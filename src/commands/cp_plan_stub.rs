//! Temporary stand-in for cp_plan.rs while it is written (GNU cp's top-level decisions).
#![allow(dead_code)]
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node { Missing, File, Dir, Symlink, Other }
#[derive(Debug, Clone)]
pub struct Operand { pub text: OsString, pub node: Node }
#[derive(Debug, Clone, Copy, Default)]
pub struct Opts { pub recursive: bool, pub no_target_dir: bool, pub target_dir_given: bool }
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step { pub src: usize, pub dest: OsString }
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip { pub src: usize, pub message: String }
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal { pub message: String, pub usage: bool }

pub fn plan(sources: &[Operand], dest: &Operand, opts: Opts) -> Result<(Vec<Step>, Vec<Skip>), Fatal> {
    let into_dir = dest.node == Node::Dir && !opts.no_target_dir;
    if sources.len() > 1 && !into_dir {
        return Err(Fatal { message: format!("target '{}' is not a directory", dest.text.to_string_lossy()), usage: false });
    }
    let mut steps = Vec::new();
    let mut skips = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        if s.node == Node::Missing {
            skips.push(Skip { src: i, message: format!("cannot stat '{}': No such file or directory", s.text.to_string_lossy()) });
            continue;
        }
        if s.node == Node::Dir && !opts.recursive {
            skips.push(Skip { src: i, message: format!("-r not specified; omitting directory '{}'", s.text.to_string_lossy()) });
            continue;
        }
        let dest_path = if into_dir {
            let base = s.text.as_bytes().split(|&b| b == b'/').filter(|c| !c.is_empty()).last().unwrap_or(b"");
            let mut d = dest.text.as_bytes().to_vec();
            if d.last() != Some(&b'/') {
                d.push(b'/');
            }
            d.extend_from_slice(base);
            OsString::from_vec(d)
        } else {
            dest.text.clone()
        };
        steps.push(Step { src: i, dest: dest_path });
    }
    Ok((steps, skips))
}
