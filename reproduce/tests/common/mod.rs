//! Helpers shared by the end-to-end tests of the `twoway` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the built `twoway` binary (without LD_LIBRARY_PATH: the rpath must do); returns (exit code,
/// stdout, stderr).
pub fn twoway(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_twoway")).args(args).env_remove("LD_LIBRARY_PATH").output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// The data root the tests share (the embedded dataset is generated there once).
pub fn data_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("twoway-data")
}
