//! Builds the in-container agent (crates/agent) as a static executable and hands its path and
//! build id to the dockerbox crate, which embeds it: `cargo build` alone gives a working program.
//!
//! The agent is built by a nested cargo into its own target directory (so it never waits on the
//! outer build's lock) for x86_64-unknown-linux-gnu with `+crt-static`: this machine has no musl
//! target, and a static glibc executable runs in a scratch container.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "x86_64-unknown-linux-gnu";

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    for dir in ["crates/agent", "crates/proto", "crates/search"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    // The build id is a hash of the agent's and the protocol's sources.
    let mut h = DefaultHasher::new();
    for dir in ["crates/agent", "crates/proto", "crates/search"] {
        hash_tree(&root.join(dir), &mut h);
    }
    let build_id = format!("{:016x}", h.finish());

    let target_dir = out.join("agent-target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "-p",
            "dockerbox-agent",
            "--profile",
            "agent",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("DOCKERBOX_AGENT_BUILD_ID", &build_id)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("run cargo to build the agent");
    assert!(status.success(), "building the dockerbox agent failed");

    let bin = target_dir
        .join(TARGET)
        .join("agent")
        .join("dockerbox-agent");
    assert!(bin.exists(), "agent not found at {}", bin.display());
    println!("cargo:rustc-env=DOCKERBOX_AGENT_X86_64={}", bin.display());
    println!("cargo:rustc-env=DOCKERBOX_AGENT_BUILD_ID={build_id}");
}

fn hash_tree(dir: &Path, h: &mut DefaultHasher) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.file_name().is_some_and(|n| n == "target" || n == "fuzz") {
            continue;
        }
        if p.is_dir() {
            hash_tree(&p, h);
        } else if let Ok(bytes) = std::fs::read(&p) {
            p.file_name().hash(h);
            bytes.hash(h);
        }
    }
}
