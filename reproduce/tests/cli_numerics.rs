//! Portable numerics: the same embedded-ci cell gives the same bits whatever the environment sets for the
//! libraries' kernel choices (the knobs this machine has to stand for other CPUs), while the native mode
//! moves under the same knobs (so the first test can fail); the fingerprint in each result says which
//! numerics made it, and `twoway diff` refuses an exact gate across different numerics.
#![cfg(feature = "torch")]

mod common;
use common::*;

use std::path::Path;

/// The knobs of other CPUs, as this machine can emulate them: ATen's AVX2 build and oneDNN capped at AVX2
/// (a CPU without AVX-512), MKL's own instruction cap and branch choice, glibc's libm without FMA builds.
const KNOBS: [&[(&str, &str)]; 3] = [
    &[],
    &[("ATEN_CPU_CAPABILITY", "avx2"), ("ONEDNN_MAX_CPU_ISA", "AVX2"), ("MKL_ENABLE_INSTRUCTIONS", "AVX2")],
    &[
        ("ATEN_CPU_CAPABILITY", "default"),
        ("MKL_CBWR", "AUTO"),
        ("ONEDNN_MAX_CPU_ISA", "SSE41"),
        ("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX2,-FMA"),
    ],
];

/// Runs the embedded-ci two-way cell into `out` with the environment `env` (and the user's variables of
/// the knobs removed first); returns its result file.
fn run_cell(out: &Path, env: &[(&str, &str)], extra: &[&str]) -> serde_json::Value {
    let mut cmd = RunCmd::new("embedded-ci")
        .args(["--losses", "twoway"])
        .threads(2)
        .out(out)
        .data_root(data_root())
        .args(extra)
        .command();
    for var in ["ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "GLIBC_TUNABLES"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{env:?}: {}", String::from_utf8_lossy(&o.stderr));
    read_json(out.join("embedded/tiny/twoway-both/seed0.json"))
}

/// What must be bit-identical: the final metrics and every epoch's loss and metrics (not its seconds).
fn numbers(r: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut v = vec![r["metrics"].clone()];
    for e in r["epochs"].as_array().unwrap() {
        v.extend([e["train_loss"].clone(), e["map_class"].clone(), e["map_sample"].clone()]);
    }
    v
}

#[test]
fn portable_numerics_give_the_same_bits_under_every_knob_and_native_ones_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let portable: Vec<serde_json::Value> =
        KNOBS.iter().enumerate().map(|(i, env)| run_cell(&tmp.path().join(format!("p{i}")), env, &[])).collect();
    for (env, r) in KNOBS.iter().zip(&portable) {
        assert_eq!(numbers(r), numbers(&portable[0]), "portable numerics moved under {env:?}");
        assert_eq!(r["numerics"], portable[0]["numerics"], "{env:?}");
        let f = &r["numerics"];
        assert_eq!(
            (f["mode"].as_str(), f["aten"].as_str(), f["onednn"].as_str()),
            (Some("portable"), Some("default"), Some("off"))
        );
        assert!(f["blas"].as_str().unwrap().ends_with("CNR COMPATIBLE") && f["libm"] == "sse2", "{f}");
        assert_eq!(f["nnpack"], "off", "{f}");
    }
    // The same knobs move the native mode: the first check above could fail.
    let native_a = run_cell(&tmp.path().join("n0"), KNOBS[0], &["--numerics", "native"]);
    let native_b = run_cell(&tmp.path().join("n2"), KNOBS[2], &["--numerics", "native"]);
    assert_ne!(numbers(&native_a), numbers(&native_b), "the native mode did not move under {:?}", KNOBS[2]);
    assert_eq!(native_a["numerics"]["mode"], "native");
    assert_ne!(native_a["numerics"]["onednn"], native_b["numerics"]["onednn"]);

    // The gate: portable against portable is exact; portable against a native baseline is refused at 0.
    let table = |dir: &str| {
        let (code, csv, err) = twoway(&["table", "--all", "--results", dir, "--format", "csv"]);
        assert_eq!(code, 0, "{err}");
        let path = tmp.path().join(format!("{}.csv", Path::new(dir).file_name().unwrap().to_string_lossy()));
        std::fs::write(&path, csv).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (p0, p2, n0) = (tmp.path().join("p0"), tmp.path().join("p2"), tmp.path().join("n0"));
    let (p0, p2, n0) = (p0.to_str().unwrap(), p2.to_str().unwrap(), n0.to_str().unwrap());
    let portable_csv = table(p2);
    let (code, report, err) = twoway(&["diff", "--results", p0, "--against", &portable_csv, "--tolerance", "0"]);
    assert_eq!(code, 0, "{report}{err}");
    assert!(report.contains("numerics: identical (portable on"), "{report}");
    let native_csv = table(n0);
    let (code, _, err) = twoway(&["diff", "--results", p0, "--against", &native_csv, "--tolerance", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("different numerics") && err.contains("portable on") && err.contains("native on"), "{err}");
    assert!(err.contains("they differ in mode `portable` vs `native`"), "{err}");
    // Without a tolerance it gates at the column's kernel spread (numerics.yaml's for embedded-ci); told
    // otherwise, at 0.
    let (code, report, _) = twoway(&["diff", "--results", p0, "--against", &native_csv]);
    assert!(code <= 1 && report.contains("gating at each column's kernel spread"), "{report}");
    assert!(report.contains("-1.50 (the column's kernel spread)"), "{report}");
    let (code, report, _) =
        twoway(&["diff", "--results", p0, "--against", &native_csv, "--tolerance", "0", "--allow-different-numerics"]);
    assert!(code <= 1 && report.contains("numerics: DIFFERENT"), "{report}");
}
