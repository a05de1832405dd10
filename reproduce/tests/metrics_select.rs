//! `--metrics` of `twoway table`, `diff`, `claims`, `report` and `plots` on results that carry the
//! thresholded metrics (CF1, OF1), and the plain table CSV: its header on the first line, read by Python's
//! `csv` and by `pandas.read_csv` without options, and gated alike in its earlier form (comment lines above
//! the header). The results are written here; the expected numbers come from the values written.

mod common;
use common::*;
#[path = "support/old_csv.rs"]
mod old_csv;
use old_csv::old_form;

use std::path::{Path, PathBuf};
use twoway_reproduce::numerics::Fingerprint;
use twoway_reproduce::results::ResultFile;
use twoway_spec::{Backbone, Dataset, Loss};

const LOSSES: [Loss; 3] = [Loss::Twoway, Loss::Softmax, Loss::Bce];
const SEEDS: [u64; 3] = [0, 1, 2];

fn amd() -> Option<Fingerprint> {
    Some(portable_fingerprint("AMD EPYC (family 25 model 17)"))
}

/// mAP@class 30 + i + s/4, mAP@sample 60 + i; with `thresholded`, CF1 50 − 2i + 0.1 s (i + 1) and OF1
/// 70 − i, changed by `cf1_edit(loss, value)`. (i: the loss's index in LOSSES, s: the seed.)
fn write(dir: &Path, thresholded: bool, cf1_edit: impl Fn(Loss, f64) -> f64) {
    for (i, loss) in LOSSES.iter().enumerate() {
        for s in SEEDS {
            let (i, sf) = (i as f64, s as f64);
            let cell = main_cell(Dataset::Embedded, Backbone::Tiny, *loss, s);
            let path = write_result(dir, cell, (30.0 + i + sf / 4.0, 60.0 + i), "embedded-ci", amd());
            if thresholded {
                let mut r: ResultFile = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                r.metrics.cf1 = Some(cf1_edit(*loss, 50.0 - 2.0 * i + 0.1 * sf * (i + 1.0)));
                r.metrics.of1 = Some(70.0 - i);
                assert_eq!(r.write(dir).unwrap(), path);
            }
        }
    }
}

fn keep(_: Loss, v: f64) -> f64 {
    v
}

fn table_csv(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["table", "--all", "--results", dir.to_str().unwrap(), "--format", "csv"];
    args.extend_from_slice(extra);
    let (code, csv, err) = twoway(&args);
    assert_eq!(code, 0, "{err}");
    csv
}

fn diff(results: &Path, against: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["diff", "--results", results.to_str().unwrap(), "--against", against.to_str().unwrap()];
    args.extend_from_slice(extra);
    twoway(&args)
}

/// The rows of the CSV for the embedded column (dataset `embedded`), split at commas (their first eleven
/// fields hold none) and the rest (the numerics field).
fn embedded_rows(csv: &str) -> Vec<(Vec<String>, String)> {
    csv.lines()
        .filter(|l| l.starts_with("embedded,"))
        .map(|l| {
            let cut = l.match_indices(',').nth(10).unwrap().0;
            (l[..cut].split(',').map(str::to_string).collect(), l[cut + 1..].to_string())
        })
        .collect()
}

#[test]
fn the_default_selection_leaves_every_output_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let (with, without) = (tmp.path().join("with"), tmp.path().join("without"));
    write(&with, true, keep);
    write(&without, false, keep);
    let strip = |text: String, dir: &Path| text.replace(dir.to_str().unwrap(), "DIR");
    // The thresholded metrics are in the results of `with` alone: by default nothing shows them.
    for args in [&["table", "--all", "--format", "csv"][..], &["table"], &["table", "--ways", "--format", "json"]] {
        let run = |d: &Path| {
            let mut a = args.to_vec();
            a.extend(["--results", d.to_str().unwrap()]);
            twoway(&a)
        };
        assert_eq!(run(&with), run(&without), "{args:?}");
    }
    let (code, a, err) = twoway(&["claims", "--results", with.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (_, b, _) = twoway(&["claims", "--results", without.to_str().unwrap()]);
    assert_eq!(strip(a, &with), strip(b, &without));
    let base = tmp.path().join("base.csv");
    std::fs::write(&base, table_csv(&without, &[])).unwrap();
    let (c1, a, _) = diff(&with, &base, &["--format", "json"]);
    let (c2, b, _) = diff(&without, &base, &["--format", "json"]);
    assert_eq!((c1, strip(a, &with)), (c2, strip(b, &without)));
}

#[test]
fn the_table_shows_selected_metrics_as_mean_and_sd_over_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    write(&dir, true, keep);
    let csv = table_csv(&dir, &["--metrics", "map_class,map_sample,cf1,of1"]);
    let rows = embedded_rows(&csv);
    // 3 losses x 4 metrics.
    assert_eq!(rows.len(), 12, "{csv}");
    let mut compared = 0;
    for (i, loss) in LOSSES.iter().enumerate() {
        let i = i as f64;
        // CF1 over seeds 0, 1, 2: 50 − 2i + 0.1 (i + 1) s, so mean 50 − 2i + 0.1 (i + 1), sd 0.1 (i + 1).
        let (mean, sd) = (50.0 - 2.0 * i + 0.1 * (i + 1.0), 0.1 * (i + 1.0));
        let (f, numerics) = rows.iter().find(|(f, _)| f[2] == loss.as_str() && f[4] == "cf1").expect("a cf1 row");
        assert_eq!(f[5], "", "the paper publishes no CF1");
        assert!((f[6].parse::<f64>().unwrap() - mean).abs() < 1e-9, "{f:?}");
        assert!((f[8].parse::<f64>().unwrap() - sd).abs() < 1e-9, "{f:?}");
        assert_eq!(f[9], "3");
        assert!(numerics.starts_with("\"{\"\"mode\"\"") && numerics.ends_with("}\""), "{numerics}");
        let (f, _) = rows.iter().find(|(f, _)| f[2] == loss.as_str() && f[4] == "of1").expect("an of1 row");
        assert_eq!((f[6].parse::<f64>().unwrap(), f[8].as_str()), (70.0 - i, "0"), "{f:?}");
        compared += 2;
    }
    assert_eq!(compared, 6);
    // Markdown: a column group per metric, in the order given.
    let (code, md, err) = twoway(&["table", "--results", dir.to_str().unwrap(), "--metrics", "of1,map_class"]);
    assert_eq!(code, 0, "{err}");
    let header = md.lines().next().unwrap();
    assert!(header.contains("| OF1 Tiny") && header.find("OF1").unwrap() < header.find("mAP@class").unwrap(), "{md}");
    assert!(!header.contains("mAP@sample"), "{md}");
    let (code, _, err) = twoway(&["table", "--metrics", "cf1,nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn the_table_csv_is_plain_for_python_csv_and_pandas() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    write(&dir, true, keep);
    let csv_path = tmp.path().join("table.csv");
    let csv = table_csv(&dir, &["--metrics", "map_class,map_sample,cf1"]);
    std::fs::write(&csv_path, &csv).unwrap();
    assert!(csv.starts_with("dataset,backbone,loss,way,metric,"), "the header is the first line: {csv}");
    let script = r#"
import csv, json, sys
import pandas as pd
path = sys.argv[1]
with open(path, newline="") as f:
    rows = list(csv.reader(f))
df = pd.read_csv(path)
emb = df[df["dataset"] == "embedded"]
print(json.dumps({
    "header": rows[0],
    "widths": sorted({len(r) for r in rows}),
    "csv_rows": len(rows) - 1,
    "pandas_rows": len(df),
    "pandas_columns": list(df.columns),
    "numerics": [json.loads(x) for x in emb["numerics"]],
    "cf1_mean_twoway": float(emb[(emb["loss"] == "twoway") & (emb["metric"] == "cf1")]["reproduced"].iloc[0]),
}))
"#;
    let out =
        std::process::Command::new(venv_python()).args(["-c", script, csv_path.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let header: Vec<&str> =
        "dataset,backbone,loss,way,metric,published,reproduced,delta,sd,n,seeds,numerics".split(',').collect();
    assert_eq!(v["header"], serde_json::json!(header));
    assert_eq!(v["pandas_columns"], serde_json::json!(header));
    assert_eq!(v["widths"], serde_json::json!([12]), "every record has the header's 12 fields");
    let lines = csv.lines().count() - 1;
    assert_eq!((v["csv_rows"].as_u64(), v["pandas_rows"].as_u64()), (Some(lines as u64), Some(lines as u64)));
    // Each embedded row's numerics, read by Python's json, is the fingerprint the results were written with.
    let numerics = v["numerics"].as_array().unwrap();
    assert_eq!(numerics.len(), 9);
    let want = serde_json::to_value(amd().unwrap()).unwrap();
    assert!(numerics.iter().all(|n| *n == want), "{numerics:?}");
    // Ours' CF1: 50 + 0.1 s over seeds 0, 1, 2.
    assert!((v["cf1_mean_twoway"].as_f64().unwrap() - 50.1).abs() < 1e-9, "{v}");
}

#[test]
fn old_and_new_baselines_give_the_same_verdicts_and_numerics() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    write(&base, true, keep);
    let all = ["--metrics", "map_class,map_sample,cf1"];
    let new_csv = table_csv(&base, &all);
    let (new_path, old_path) = (tmp.path().join("new.csv"), tmp.path().join("old.csv"));
    std::fs::write(&new_path, &new_csv).unwrap();
    let old = old_form(&new_csv);
    assert_eq!(old.lines().filter(|l| l.starts_with("# numerics: {\"arch\":\"x86_64\"")).count(), 1, "{old}");
    assert!(old.lines().nth(1).unwrap().starts_with("dataset,"), "{old}");
    std::fs::write(&old_path, &old).unwrap();
    // The library reads both alike.
    let a = twoway_reproduce::report::diff::read_csv_baseline(&new_path).unwrap();
    let b = twoway_reproduce::report::diff::read_csv_baseline(&old_path).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.numerics, vec![amd()]);
    // Results: the same, Softmax's CF1 1 point lower, and under unknown numerics.
    let (same, low, unknown) = (tmp.path().join("same"), tmp.path().join("low"), tmp.path().join("unknown"));
    write(&same, true, keep);
    write(&low, true, |l, v| if l == Loss::Softmax { v - 1.0 } else { v });
    for s in SEEDS {
        for loss in LOSSES {
            let cell = main_cell(Dataset::Embedded, Backbone::Tiny, loss, s);
            write_result(&unknown, cell, (20.0, 50.0), "embedded-ci", None);
        }
    }
    let cases: Vec<(&PathBuf, Vec<&str>, i32)> = vec![
        (&same, vec!["--tolerance", "0"], 0),
        (&same, [&["--tolerance", "0"][..], &all].concat(), 0),
        (&low, [&["--tolerance", "0.5"][..], &all].concat(), 1),
        (&low, [&["--tolerance", "cf1=1.5"][..], &all].concat(), 0),
        (&low, vec!["--tolerance", "0.5"], 0),
        (&unknown, vec!["--tolerance", "0"], 2),
        (&unknown, vec![], 1),
    ];
    let mut compared = 0;
    for (results, extra, want) in &cases {
        for format in ["text", "json", "md"] {
            let args = [&extra[..], &["--format", format]].concat();
            let (c1, o1, e1) = diff(results, &new_path, &args);
            let (c2, o2, e2) = diff(results, &old_path, &args);
            assert_eq!(c1, *want, "{extra:?}: {o1}{e1}");
            assert_eq!(
                (c1, o1.replace("new.csv", "X.csv"), e1.replace("new.csv", "X.csv")),
                (c2, o2.replace("old.csv", "X.csv"), e2.replace("old.csv", "X.csv"))
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 21);
    // The committed baselines (the earlier form) still read, with their numerics.
    for name in ["embedded.csv", "embedded-ci.csv"] {
        let b =
            twoway_reproduce::report::diff::read_csv_baseline(&workspace().join("spec/baselines").join(name)).unwrap();
        assert!(!b.cells.is_empty() && !b.numerics.is_empty(), "{name}");
    }
}

#[test]
fn diff_gates_selected_metrics_and_says_what_it_cannot_compare() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    write(&base, true, keep);
    let with_cf1 = base.with_extension("csv");
    std::fs::write(&with_cf1, table_csv(&base, &["--metrics", "map_class,map_sample,cf1"])).unwrap();
    let low = tmp.path().join("low");
    write(&low, true, |l, v| if l == Loss::Bce { v - 1.0 } else { v });
    // By default the baseline's CF1 rows are not compared: 3 losses x 2 metrics.
    let (code, json, err) = diff(&low, &with_cf1, &["--format", "json"]);
    assert_eq!(code, 0, "{json}{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 6);
    assert_eq!(v["tolerance"], serde_json::json!({"map_class": null, "map_sample": null}));
    // With CF1: 9 rows; BCE's CF1 is 1 point lower than its baseline on every seed.
    let (code, json, _) = diff(&low, &with_cf1, &["--format", "json", "--metrics", "map_class,map_sample,cf1"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 9);
    let dropped: Vec<&serde_json::Value> = rows.iter().filter(|r| r["status"] == "dropped").collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!((dropped[0]["loss"].as_str(), dropped[0]["metric"].as_str()), (Some("bce"), Some("cf1")));
    assert!((dropped[0]["delta"].as_f64().unwrap() + 1.0).abs() < 1e-9);
    // A bare tolerance covers every selected metric; a per-metric one names any metric.
    for t in ["1.5", "cf1=1.5", "map_class=0.1,cf1=1.5"] {
        let (code, out, err) = diff(&low, &with_cf1, &["--metrics", "map_class,map_sample,cf1", "--tolerance", t]);
        assert_eq!(code, 0, "{t}: {out}{err}");
    }
    let (code, out, _) = diff(&low, &with_cf1, &["--metrics", "cf1,map_class", "--tolerance", "map_class=0.1,cf1=2"]);
    assert_eq!(code, 0);
    assert!(out.contains("(2 point(s) of CF1 and 0.1 point(s) of mAP@class;"), "{out}");
    let (code, _, err) = diff(&low, &with_cf1, &["--tolerance", "f2=1"]);
    assert_eq!(code, 2);
    assert!(err.contains("f2"), "{err}");
    // A baseline without CF1 rows, or the published numbers (the paper has no CF1): said, not passed in silence.
    let map_only = tmp.path().join("map.csv");
    std::fs::write(&map_only, table_csv(&base, &[])).unwrap();
    let (code, out, err) = diff(&low, &map_only, &["--metrics", "map_class,map_sample,cf1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("NOT COMPARED: CF1 (cf1) of 3 reproduced cell(s)"), "{out}");
    let (code, xml, _) = diff(&low, &map_only, &["--metrics", "map_class,map_sample,cf1", "--format", "junit"]);
    assert_eq!(code, 0);
    assert!(xml.contains("<system-out>NOT COMPARED: CF1 (cf1) of 3 reproduced cell(s)"), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 6, "{xml}");
    let (code, out, err) = diff(&low, Path::new("published"), &["--metrics", "cf1"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("NOT COMPARED: CF1 (cf1)") && err.contains("the paper publishes no value of it"), "{err}");
}

#[test]
fn claims_report_and_plots_take_the_thresholded_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    write(&dir, true, keep);
    let d = dir.to_str().unwrap();
    let (code, text, err) = twoway(&["claims", "--results", d, "--metrics", "map_class,map_sample,cf1"]);
    assert_eq!(code, 0, "{err}");
    // Ours − Softmax on CF1 per seed: (50 + 0.1 s) − (48 + 0.2 s) = 2 − 0.1 s: 2.0, 1.9, 1.8; mean 1.90, sd 0.10.
    assert!(text.contains("Ours − Softmax = +1.90 ± 0.10 over 3 seeds (0, 1, 2)"), "{text}");
    // Ours − BCE: (50 + 0.1 s) − (46 + 0.3 s) = 4 − 0.2 s: mean 3.80, sd 0.20.
    assert!(text.contains("Ours − BCE = +3.80 ± 0.20 over 3 seeds"), "{text}");
    assert!(text.contains("CF1 (kernel spread not measured for this metric)"), "{text}");
    assert!(text.contains("Ours is best on CF1: holds in 3 of 3 seed(s)"), "{text}");
    let page = tmp.path().join("report.html");
    let (code, _, err) = twoway(&[
        "report",
        "--results",
        d,
        "--out",
        page.to_str().unwrap(),
        "--metrics",
        "map_class,map_sample,cf1,of1",
    ]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    let cf1: Vec<&str> = html.lines().filter(|l| l.contains("<td>CF1</td><td class=\"num\">–</td>")).collect();
    assert_eq!(cf1.len(), 3, "a CF1 row per loss: {cf1:#?}");
    // OF1: a table row per loss, and Ours against each of the 2 baselines in the paired tests.
    assert_eq!(html.matches("<td>OF1</td><td class=\"num\">–</td>").count(), 3);
    assert_eq!(
        html.matches("<td>OF1</td><td>Softmax</td>").count() + html.matches("<td>OF1</td><td>BCE</td>").count(),
        2
    );
    assert!(
        html.contains("<td>CF1</td><td>Softmax</td>") && html.contains("<td>not measured</td>"),
        "paired, no spread"
    );
    // Without --metrics the report shows every metric the results record, beside mAP.
    let default_page = tmp.path().join("default.html");
    let (code, _, err) = twoway(&["report", "--results", d, "--out", default_page.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&default_page).unwrap();
    assert_eq!(html.matches("<td>CF1</td><td class=\"num\">–</td>").count(), 3, "CF1 by default");
    assert!(html.contains("mAP@class"));
    let plots = tmp.path().join("plots");
    let (code, out, err) = twoway(&["plots", "--results", d, "--out", plots.to_str().unwrap(), "--metrics", "cf1,of1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("losses_embedded_tiny.png") && plots.join("losses_embedded_tiny.png").exists(), "{out}");
}
