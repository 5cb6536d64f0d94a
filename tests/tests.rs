//! Integration tests: the built binary against the real Docker engine.
//!
//! Each test makes its own containers (labelled `dockerbox.test=1`, `--network none`) and
//! removes them when it ends. Without an engine the tests skip, unless
//! `DOCKERBOX_REQUIRE_DOCKER=1` (as in CI) makes that a failure.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod util;

mod agent;
mod apps;
mod cat;
mod cli;
mod cp;
mod cp_gnu;
mod data;
mod driver;
mod engines;
mod events;
mod exec;
mod faults;
mod fileops;
mod images;
mod lang;
mod logs;
mod ls;
mod messages;
mod meta;
mod mount;
mod multi;
mod nav;
mod objects_nav;
mod realpaths;
mod remote_direct;
mod repl;
mod scale;
mod search;
mod shell;
mod signals;
mod swarm;
mod volumes;
