//! The inputs the fuzzers keep (`fuzz/regressions/<target>/`: every input that once crashed a parser,
//! after its fix) and their seeds (`fuzz/seeds/<target>/`), replayed through the fuzz targets' entry points
//! (`twoway_reproduce::fuzzing`): none may panic.

mod common;
use common::*;

use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in ["regressions", "seeds"] {
        let dir = workspace().join("fuzz").join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            out.push((e.path().display().to_string(), std::fs::read(e.path()).unwrap()));
        }
    }
    out
}

fn replay(target: &str, f: impl Fn(&[u8])) -> usize {
    let all = inputs(target);
    for (name, data) in &all {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(data)));
        assert!(r.is_ok(), "{target}: {name} panics");
    }
    all.len()
}

#[test]
fn kept_fuzz_inputs_parse_without_panicking() {
    use twoway_reproduce::fuzzing as fz;
    let mut n = 0;
    n += replay("matrix", fz::matrix);
    // The kept matrix inputs crashed the reader once (a crafted .npy header made it allocate gigabytes):
    // they are now refused before any allocation.
    let mut refused = 0;
    for (name, data) in inputs("matrix").iter().filter(|(n, _)| n.contains("regressions")) {
        let e = twoway_reproduce::io::parse_matrix(data, Path::new("x.npy")).unwrap_err();
        assert!(format!("{e:#}").contains("header"), "{name}: {e:#}");
        refused += 1;
    }
    assert!(refused >= 1, "no kept matrix regression was replayed");
    n += replay("table_csv", fz::table_csv);
    n += replay("spec_yaml", fz::spec_yaml);
    n += replay("result_json", fz::result_json);
    let tmp = tempfile::tempdir().unwrap();
    let root = fz::dataset_root(tmp.path());
    n += replay("datasets", |d| fz::datasets(Path::new(&root), d));
    assert!(n >= 16, "only {n} inputs replayed");
}
