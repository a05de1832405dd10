//! See `twoway_reproduce::fuzzing::datasets`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| twoway_reproduce::fuzzing::dataset_root(&tempfile::tempdir().unwrap().keep()))
}

fuzz_target!(|data: &[u8]| twoway_reproduce::fuzzing::datasets(root(), data));
