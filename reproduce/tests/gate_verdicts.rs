//! The gate's verdicts at their edges (`twoway diff` on results folders written here, as a run writes
//! them, against baselines made by `twoway table --format csv` from other such folders): the seeds both
//! sides have are compared, portable fingerprints of two CPUs are one numerics, unknown numerics stay
//! unknown in a baseline, and `--tolerance-sd` states what it allows and does not lift the numerics check.

mod common;
use common::*;
#[path = "support/old_csv.rs"]
mod old_csv;
use old_csv::old_form;

use std::path::{Path, PathBuf};
use twoway_reproduce::numerics::Fingerprint;
use twoway_spec::{Backbone, Dataset, Loss};

const LOSSES: [Loss; 3] = [Loss::Twoway, Loss::Softmax, Loss::Bce];

/// The three embedded-ci cells at `seeds`, each value 30 + loss index + (2 - seed) / 2 (mAP@class) and 60
/// + the same (mAP@sample; seed 0 the highest), changed by `edit(loss, seed, (class, sample))`; each seed's numerics by `numerics`.
fn write(
    dir: &Path,
    seeds: &[u64],
    numerics: impl Fn(u64) -> Option<Fingerprint>,
    edit: impl Fn(Loss, u64, (f64, f64)) -> (f64, f64),
) {
    for (i, loss) in LOSSES.iter().enumerate() {
        for &seed in seeds {
            let base = i as f64 + (2.0 - seed as f64) / 2.0;
            let v = edit(*loss, seed, (30.0 + base, 60.0 + base));
            write_result(
                dir,
                main_cell(Dataset::Embedded, Backbone::Tiny, *loss, seed),
                v,
                "embedded-ci",
                numerics(seed),
            );
        }
    }
}

fn same(_: Loss, _: u64, v: (f64, f64)) -> (f64, f64) {
    v
}

/// `twoway table --all --format csv` of `dir`, written to `dir.csv`.
fn baseline(dir: &Path) -> PathBuf {
    let (code, csv, err) = twoway(&["table", "--all", "--results", dir.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let path = dir.with_extension("csv");
    std::fs::write(&path, csv).unwrap();
    path
}

fn diff(results: &Path, against: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["diff", "--results", results.to_str().unwrap(), "--against", against.to_str().unwrap()];
    args.extend_from_slice(extra);
    twoway(&args)
}

fn amd() -> Option<Fingerprint> {
    Some(portable_fingerprint("AMD EPYC (family 25 model 17)"))
}

#[test]
fn the_gate_compares_the_seeds_both_sides_have_and_reads_n() {
    let tmp = tempfile::tempdir().unwrap();
    let b3 = tmp.path().join("three");
    write(&b3, &[0, 1, 2], |_| amd(), same);
    let csv = baseline(&b3);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("dataset,") && text.contains(",n,seeds,numerics\n"), "{text}");
    assert!(text.contains(",3,0:31 1:30.5 2:30,\"{\"\"mode\"\":\"\"portable\"\""), "{text}");

    // Seed 0 alone, bit for bit the baseline's seed 0: passes at tolerance 0, compared on seed 0.
    let one = tmp.path().join("one");
    write(&one, &[0], |_| amd(), same);
    let (code, report, err) = diff(&one, &csv, &["--tolerance", "0"]);
    assert_eq!(code, 0, "{report}{err}");
    assert_eq!(report.matches("compared on seed(s) {0} of results {0}, baseline {0, 1, 2}").count(), 6, "{report}");

    // Seed 0 alone with BCE's mAP@class 0.80 lower: compared with the baseline's seed 0, it dropped (against
    // the 3-seed mean, 0.5 below seed 0, it would have been 0.30 lower, within 0.5).
    let low = tmp.path().join("low");
    write(&low, &[0], |_| amd(), |l, _, (c, s)| if l == Loss::Bce { (c - 0.8, s) } else { (c, s) });
    let (code, report, _) = diff(&low, &csv, &["--tolerance", "0.5"]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("FAILED: 1 of 6") && report.contains("embedded/tiny/bce map_class"), "{report}");
    assert!(report.contains("| embedded/tiny/bce | mAP@class | 33.00 | 32.20 | -0.80 |"), "{report}");

    // No seed in common: the cell fails, naming both sets.
    let other = tmp.path().join("other");
    write(&other, &[5], |_| amd(), same);
    let (code, report, _) = diff(&other, &csv, &["--tolerance", "100"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        report.matches("SEEDS DIFFER: no seed in common: results {5}, baseline {0, 1, 2}").count(),
        6,
        "{report}"
    );

    // A baseline of the earlier form (no `seeds`) records n alone: another count fails, naming both.
    let v2: String = old_form(&text)
        .lines()
        .map(|l| if l.starts_with("# numerics") { l } else { l.rsplit_once(',').map_or(l, |x| x.0) })
        .map(|l| l.to_string() + "\n")
        .collect();
    let v2_path = tmp.path().join("v2.csv");
    std::fs::write(&v2_path, &v2).unwrap();
    let (code, report, err) = diff(&one, &v2_path, &["--tolerance", "0"]);
    assert_eq!(code, 1, "{report}{err}");
    assert!(report.contains("SEEDS DIFFER: the baseline has 3 seed(s)"), "{report}");
    let (code, report, err) = diff(&b3, &v2_path, &["--tolerance", "0"]);
    assert_eq!(code, 0, "{report}{err}");
    // `n` is read: a count that is not one is refused, naming the field.
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, text.replacen(",3,0:31 1:30.5 2:30", ",abc,0:31 1:30.5 2:30", 1)).unwrap();
    let (code, _, err) = diff(&b3, &bad, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.csv:") && err.contains("field `n`"), "{err}");
    std::fs::write(&bad, text.replacen(",3,0:31 1:30.5 2:30", ",3,0:31 1:30.5 2:31", 1)).unwrap();
    let (code, _, err) = diff(&b3, &bad, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("field `seeds`"), "{err}");
}

#[test]
fn portable_results_of_two_cpus_are_one_numerics_and_keep_the_gate_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let b = tmp.path().join("base");
    write(&b, &[0, 1, 2], |_| amd(), same);
    let csv = baseline(&b);
    // Seed 0 made on an AMD EPYC, seeds 1 and 2 on an Intel Xeon, both portable; Ours 1.40 lower.
    let mixed = tmp.path().join("mixed");
    let cpu = |s: u64| if s == 0 { amd() } else { Some(portable_fingerprint("Intel Xeon Platinum 8480")) };
    write(&mixed, &[0, 1, 2], cpu, |l, _, (c, s)| if l == Loss::Twoway { (c - 1.4, s) } else { (c, s) });
    let (code, report, err) = diff(&mixed, &csv, &[]);
    assert_eq!(code, 1, "{report}{err}");
    assert!(report.starts_with("numerics: identical (portable"), "{report}");
    assert!(
        report.contains("| embedded/tiny/twoway/both | mAP@class | 30.50 | 29.10 | -1.40 | -0.50 | DROPPED |"),
        "{report}"
    );
}

#[test]
fn a_baseline_records_unknown_numerics_as_unknown() {
    let tmp = tempfile::tempdir().unwrap();
    let b = tmp.path().join("base");
    write(&b, &[0, 1, 2], |s| if s == 2 { None } else { amd() }, same);
    let csv = baseline(&b);
    let text = std::fs::read_to_string(&csv).unwrap();
    // Each reproduced row's seeds ran under the AMD fingerprint (seeds 0, 1) and none (seed 2): a JSON array
    // with `null` for the unknown one.
    let rows: Vec<&str> = text.lines().filter(|l| l.contains(",3,0:")).collect();
    assert_eq!(rows.len(), 6, "{text}");
    assert!(
        rows.iter().all(|l| l.contains(",\"[{\"\"mode\"\":\"\"portable\"\"") && l.ends_with("},null]\"")),
        "{text}"
    );
    let r = tmp.path().join("r");
    write(&r, &[0, 1, 2], |_| amd(), same);
    let (code, _, err) = diff(&r, &csv, &["--tolerance", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("different numerics") && err.contains("none recorded (unknown numerics)"), "{err}");
    // Left to itself the gate takes the column's kernel spread (numerics.yaml's, for embedded-ci).
    let (code, report, err) = diff(&r, &csv, &[]);
    assert_eq!(code, 0, "{report}{err}");
    assert!(
        report.contains("numerics: DIFFERENT") && report.contains("-1.50 (the column's kernel spread)"),
        "{report}"
    );
}

#[test]
fn tolerance_sd_states_each_allowance_and_does_not_lift_the_numerics_check() {
    let tmp = tempfile::tempdir().unwrap();
    let b = tmp.path().join("base");
    // BCE's mAP@class 30, 41, 52 over seeds 0-2: sd 11.
    let wide = |l: Loss, s: u64, (c, m): (f64, f64)| if l == Loss::Bce { (30.0 + 11.0 * s as f64, m) } else { (c, m) };
    write(&b, &[0, 1, 2], |_| amd(), wide);
    let csv = baseline(&b);
    let r = tmp.path().join("r");
    write(
        &r,
        &[0, 1, 2],
        |_| amd(),
        |l, s, v| {
            let (c, m) = wide(l, s, v);
            if l == Loss::Bce {
                (c - 5.0, m)
            } else {
                (c, m)
            }
        },
    );
    let (code, report, err) = diff(&r, &csv, &["--tolerance-sd", "1"]);
    assert_eq!(code, 0, "{report}{err}");
    assert!(report.contains("| -5.00 | -11.00 (1 sd of the baseline (11.00)) | ok |"), "{report}");
    assert!(!report.contains("within 0.5 point(s)"), "{report}");
    assert!(
        report.contains("0.5 point(s), or 1 sd of the baseline where larger; the largest allowed: 11.00"),
        "{report}"
    );
    let (code, md, _) = diff(&r, &csv, &["--tolerance-sd", "1", "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&md).unwrap();
    let bce =
        json["rows"].as_array().unwrap().iter().find(|r| r["loss"] == "bce" && r["metric"] == "map_class").unwrap();
    assert_eq!(bce["allowed"], 11.0);
    // Another CPU in native mode: a 0.0001-point tolerance is refused whatever --tolerance-sd says (the
    // other cells have an sd of 0.5, so 1 sd allows them 0.5 < the 1.5 points of the column's spread).
    let native = tmp.path().join("native");
    let fp = |_| {
        let mut f = portable_fingerprint("Intel Xeon Platinum 8480");
        f.mode = twoway_spec::Numerics::Native;
        Some(f)
    };
    write(&native, &[0, 1, 2], fp, wide);
    let (code, _, err) = diff(&native, &csv, &["--tolerance", "0.0001", "--tolerance-sd", "1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("below its column's kernel spread") && err.contains("--tolerance-sd alone does not"), "{err}");
    let (code, report, err) = diff(&native, &csv, &["--tolerance", "0.0001", "--allow-different-numerics"]);
    assert_eq!(code, 0, "{report}{err}");
}
