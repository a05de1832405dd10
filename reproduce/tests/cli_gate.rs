//! The reproduction pipeline end to end on the reduced embedded grid (`--grid embedded-ci`): the CI gate
//! against the committed baseline (spec/baselines/embedded-ci.csv), the exit codes of `twoway diff`,
//! repeatability for a fixed seed and thread count, and `--resume` after a killed run.
#![cfg(feature = "torch")]

mod common;
use common::*;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `twoway run --grid embedded-ci --threads 2 --out OUT` on the shared data root.
fn grid(out: &Path) -> RunCmd {
    RunCmd::new("embedded-ci").threads(2).out(out).data_root(data_root())
}

fn run_grid(out: &Path, extra: &[&str]) -> (i32, String, String) {
    grid(out).args(extra).run()
}

fn baseline() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/baselines/embedded-ci.csv").to_string()
}

/// The gate's CI outputs on a baseline with one cell raised by 1 point, read by the readers CI uses
/// (tools/read_gate.py): JUnit with one test case per compared number and a failure for exactly the raised
/// one, Markdown that renders as a table with the failing cell first; and a per-metric tolerance that
/// covers the raised metric passes.
fn ci_outputs(results: &str, raised: &str, tmp: &Path) {
    let mut files = Vec::new();
    for format in ["junit", "md"] {
        let (code, report, err) =
            twoway(&["diff", "--results", results, "--against", raised, "--tolerance", "0.5", "--format", format]);
        assert_eq!(code, 1, "{err}");
        let f = tmp.join(format!("gate.{format}"));
        std::fs::write(&f, report).unwrap();
        files.push(f);
    }
    let out = std::process::Command::new(venv_python())
        .arg(workspace().join("tools/read_gate.py"))
        .args(["--junit", files[0].to_str().unwrap(), "--markdown", files[1].to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(read["junit"]["tests"], 6, "{read}");
    let failures = read["junit"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{read}");
    assert_eq!(failures[0][0], "twoway.embedded.tiny.bce");
    assert_eq!(failures[0][1], "map_class");
    let message = failures[0][2].as_str().unwrap();
    assert!(
        message.contains("published none") && message.contains("baseline") && message.contains("reproduced"),
        "{message}"
    );
    let rows = read["markdown"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "{read}");
    assert_eq!(read["markdown"]["header"].as_array().unwrap().len(), 7);
    assert!(rows[0][0].as_str().unwrap().contains("dropped") && rows[0][1] == "embedded/tiny/bce", "{read}");
    assert!(rows[1..].iter().all(|r| r[0].as_str().unwrap().contains('✅')), "{read}");
    // Per metric: 1.5 points of mAP@class cover the raised cell; mAP@sample keeps its default.
    let (code, report, _) =
        twoway(&["diff", "--results", results, "--against", raised, "--tolerance", "map_class=1.5"]);
    assert_eq!(code, 0, "{report}");
    let (code, _, err) = twoway(&["diff", "--results", results, "--against", raised, "--tolerance", "map_clas=1"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown metric `map_clas`") && err.contains("map_class"), "{err}");
}

#[test]
fn the_reduced_grid_reproduces_the_committed_baseline_and_the_gate_exit_codes_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("results");
    let (code, stdout, stderr) = run_grid(&out, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(3 cells)"), "{stdout}");
    let o = out.to_str().unwrap();

    // 0: portable numerics, so bit for bit the committed baseline (made on another machine): an exact gate.
    let (code, report, err) = twoway(&["diff", "--results", o, "--against", &baseline(), "--tolerance", "0"]);
    assert_eq!(code, 0, "{report}{err}");
    assert!(report.contains("passed: 6 cell(s)") && report.contains("numerics: identical (portable"), "{report}");

    // 1: a baseline with one cell raised by more than the tolerance; the failing cell is named.
    let text = std::fs::read_to_string(baseline()).unwrap();
    let line = text.lines().find(|l| l.starts_with("embedded,tiny,bce,,map_class,")).unwrap();
    let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
    let value: f64 = fields[6].parse().unwrap();
    fields[6] = (value + 1.0).to_string();
    // Each seed's value with it (the baseline's `seeds` must average to `reproduced`).
    let seeds: Vec<String> = fields[10]
        .split(' ')
        .map(|p| {
            let (seed, v) = p.split_once(':').unwrap();
            format!("{seed}:{}", v.parse::<f64>().unwrap() + 1.0)
        })
        .collect();
    fields[10] = seeds.join(" ");
    let raised = text.replace(line, &fields.join(","));
    let raised_path = tmp.path().join("raised.csv");
    std::fs::write(&raised_path, raised).unwrap();
    let (code, report, _) =
        twoway(&["diff", "--results", o, "--against", raised_path.to_str().unwrap(), "--tolerance", "0.5"]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("FAILED: 1 of 6") && report.contains("embedded/tiny/bce map_class"), "{report}");
    ci_outputs(o, raised_path.to_str().unwrap(), tmp.path());

    // 2: malformed baselines, a bad tolerance, a missing results folder.
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, text.replace("map_sample", "map_samples")).unwrap();
    let (code, _, err) = twoway(&["diff", "--results", o, "--against", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.csv:") && err.contains("field `metric`"), "{err}");
    std::fs::write(&bad, "dataset,backbone\n").unwrap();
    let (code, _, err) = twoway(&["diff", "--results", o, "--against", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("header"), "{err}");
    let (code, _, _) = twoway(&["diff", "--results", o, "--against", &baseline(), "--tolerance", "-1"]);
    assert_eq!(code, 2);
    let (code, _, err) = twoway(&["diff", "--results", "/nonexistent", "--against", &baseline()]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent"), "{err}");

    // A cell missing from the results fails the gate too.
    std::fs::remove_file(out.join("embedded/tiny/bce/seed0.json")).unwrap();
    let (code, report, _) = twoway(&["diff", "--results", o, "--against", &baseline(), "--tolerance", "0"]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("MISSING"), "{report}");

    // The reproduced table and claims read the same folder.
    let (code, table, _) = twoway(&["table", "--results", o, "--datasets", "embedded", "--format", "csv"]);
    assert_eq!(code, 0);
    // The header first, then the 4 cells, each with the results' portable fingerprint in its numerics column.
    assert!(table.starts_with("dataset,") && table.lines().count() == 1 + 4, "{table}");
    assert_eq!(table.lines().filter(|l| l.contains(",\"{\"\"mode\"\":\"\"portable\"\"")).count(), 4, "{table}");
    let (code, claims, _) = twoway(&["claims", "--results", o]);
    assert_eq!(code, 0);
    assert!(claims.starts_with("Reproduced claims") && claims.contains("Published claims"), "{claims}");
}

#[test]
fn same_seed_and_threads_give_identical_results_and_resume_survives_a_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let (code, _, err) = run_grid(&a, &["--losses", "twoway"]);
    assert_eq!(code, 0, "{err}");
    let b = tmp.path().join("b");
    let (code, _, err) = run_grid(&b, &["--losses", "twoway"]);
    assert_eq!(code, 0, "{err}");
    let read = |dir: &Path| {
        let v = read_json(dir.join("embedded/tiny/twoway-both/seed0.json"));
        (
            v["metrics"].clone(),
            v["epochs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["train_loss"].clone(), e["map_class"].clone()))
                .collect::<Vec<_>>(),
            v["config_hash"].clone(),
        )
    };
    assert_eq!(read(&a), read(&b), "two runs with the same seed and threads differ");

    // Existing results are not overwritten without --resume.
    let (code, _, err) = run_grid(&a, &["--losses", "twoway"]);
    assert_eq!(code, 2);
    assert!(err.contains("--resume"), "{err}");

    // Kill a full run once its first cell is written, then resume.
    let out = tmp.path().join("killed");
    let mut child = grid(&out).command().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let first = out.join("embedded/tiny/twoway-both/seed0.json");
    let start = Instant::now();
    while !first.exists() {
        assert!(start.elapsed() < Duration::from_secs(600), "the first cell never finished");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = std::fs::read(&first).unwrap();
    let (code, _, err) = run_grid(&out, &["--resume"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("finished earlier, kept"), "{err}");
    assert_eq!(std::fs::read(&first).unwrap(), kept, "a finished cell was rewritten");
    for cell in ["twoway-both", "softmax-sample", "bce"] {
        assert!(out.join(format!("embedded/tiny/{cell}/seed0.json")).exists(), "{cell} missing after --resume");
    }
    // No temp file is left behind by the killed run's writes.
    let leftovers: Vec<_> =
        walk(&out).into_iter().filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The resumed folder equals an uninterrupted run.
    assert_eq!(read(&out), read(&a));
}
