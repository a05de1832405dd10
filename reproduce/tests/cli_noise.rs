//! `twoway noise` on the embedded-ci grid: the cells rerun at seed 0 under two kernel settings (this CPU's
//! native choices and the portable mode), each a resumable `twoway run` of its own under the results
//! folder's `noise/`; the column's spread (max − min of a cell over the settings, the largest cell) stored
//! beside them and then used by `twoway claims` and, against a baseline of other numerics, by `twoway diff`.
//! The spread is recomputed here from the reruns' own result files.
#![cfg(feature = "torch")]

mod common;
use common::*;

use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn noise_measures_the_embedded_ci_column_and_claims_and_diff_use_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ci = tmp.path().join("ci");
    copy_dir(&embedded_ci_reference(), &ci);
    let data = data_root();
    let run_args = ["--grid", "embedded-ci", "--threads", "1", "--data-root", data.to_str().unwrap()];
    let mut args = vec!["noise", "--results", ci.to_str().unwrap(), "--settings", "native,portable", "--"];
    args.extend_from_slice(&run_args);
    let (code, out, err) = twoway(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 cell(s) at seed 0 under 2 setting(s)") && out.contains("[2/2] setting portable"), "{out}");

    // The spread, recomputed from the two reruns' result files.
    let mut want = [0.0f64; 2];
    let mut compared = 0;
    for cell in ["twoway-both", "softmax-sample", "bce"] {
        let at = |s: &str| read_json(ci.join(format!("noise/{s}/embedded/tiny/{cell}/seed0.json")));
        let (native, portable) = (at("native"), at("portable"));
        assert_eq!(native["numerics"]["mode"], "native");
        assert_eq!(portable["numerics"]["mode"], "portable");
        // The portable rerun is the reference run's configuration: the same bits.
        let reference = read_json(ci.join(format!("embedded/tiny/{cell}/seed0.json")));
        assert_eq!(portable["metrics"], reference["metrics"], "{cell}");
        for (i, m) in ["map_class", "map_sample"].iter().enumerate() {
            let (a, b) = (native["metrics"][m].as_f64().unwrap(), portable["metrics"][m].as_f64().unwrap());
            want[i] = want[i].max((a - b).abs());
            compared += 1;
        }
    }
    assert_eq!(compared, 6);
    let stored = read_json(ci.join("noise/embedded.tiny.embedded-ci.json"));
    assert_eq!(stored["settings"], serde_json::json!(["native", "portable"]));
    assert_eq!(stored["cells"].as_array().unwrap().len(), 6);
    for (i, m) in ["map_class", "map_sample"].iter().enumerate() {
        assert!((stored["spread"][m].as_f64().unwrap() - want[i]).abs() < 1e-12, "{m}: {stored}");
    }

    // The claims use the measured spread, not numerics.yaml's.
    let (code, claims, err) = twoway(&["claims", "--results", ci.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let line =
        format!("Embedded/Tiny mAP@class (kernel spread {:.2} points, measured by `twoway noise` (2 cpu", want[0]);
    assert!(claims.contains(&line), "{claims}");

    // Against a baseline of the native reruns (other numerics), the gate allows each cell the measured
    // spread of its metric.
    let (code, csv, err) =
        twoway(&["table", "--all", "--results", ci.join("noise/native").to_str().unwrap(), "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let native_csv = tmp.path().join("native.csv");
    std::fs::write(&native_csv, csv).unwrap();
    let (code, report, err) = twoway(&[
        "diff",
        "--results",
        ci.to_str().unwrap(),
        "--against",
        native_csv.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{report}{err}");
    let json: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(json["numerics"]["identical"], false);
    for r in json["rows"].as_array().unwrap() {
        let i = usize::from(r["metric"] == "map_sample");
        assert!((r["allowed"].as_f64().unwrap() - want[i]).abs() < 1e-12, "{r}");
        assert_eq!(r["allowance"], "the column's kernel spread");
    }

    // Resumable: a second call keeps every rerun.
    let (code, out, err) = twoway(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(err.matches("finished earlier, kept").count() + out.matches("finished earlier, kept").count(), 6);

    // Bad requests stop before any rerun.
    let bad: [(&[&str], &str); 3] = [
        (&["--settings", "native"], "at least two settings"),
        (&["--settings", "native,avx9"], "`avx9` is not a cpu setting"),
        (&["--", "--grid", "embedded-ci", "--out", "elsewhere"], "--out is set by `twoway noise`"),
    ];
    for (extra, want) in bad {
        let mut a = vec!["noise", "--results", ci.to_str().unwrap()];
        a.extend_from_slice(extra);
        let (code, _, err) = twoway(&a);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
}
