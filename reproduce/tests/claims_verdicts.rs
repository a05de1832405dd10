//! The claims' verdicts at their edges (`twoway claims` on results folders written here, as a run writes
//! them): a lead is judged against its own column's kernel spread (measured, numerics.yaml's for the
//! columns it covers, or none); means and tests compare the seeds every compared loss has; Ours is tested
//! against every baseline with Holm's adjustment; a (cell, seed) found twice counts once. Expected values
//! come from the spec's published numbers and from the closed forms of the cases.

mod common;
use common::*;

use std::path::Path;
use twoway_reproduce::report::noise::{ColumnNoise, Points, FORMAT};
use twoway_spec::{Backbone, Dataset, Loss, Metric, Spec};

fn claims_json(dir: &Path) -> serde_json::Value {
    let (code, out, err) = twoway(&["claims", "--results", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn claims_text(dir: &Path) -> String {
    let (code, out, err) = twoway(&["claims", "--results", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    out
}

/// The per-seed entry of (dataset, backbone, metric).
fn paired<'a>(json: &'a serde_json::Value, d: &str, b: &str, m: &str) -> &'a serde_json::Value {
    json["per_seed"]["paired"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["dataset"] == d && p["backbone"] == b && p["metric"] == m)
        .unwrap_or_else(|| panic!("no paired entry for {d}/{b} {m}"))
}

/// Every published main-table cell over seeds 0-2 at the published value -0.05, +0, +0.05 (sd 0.05), the
/// paper's own recipe named: a folder that reproduces the paper exactly.
fn write_paper(dir: &Path) -> usize {
    let spec = Spec::embedded();
    let mut by_cell = std::collections::BTreeMap::new();
    for p in &spec.paper.main {
        let e = by_cell.entry((p.key.dataset, p.key.backbone, p.key.loss)).or_insert((0.0, 0.0));
        match p.key.metric {
            Metric::MapClass => e.0 = p.value,
            Metric::MapSample => e.1 = p.value,
            other => panic!("the paper publishes no {other}"),
        }
    }
    for ((d, b, l), (c, s)) in &by_cell {
        for (seed, o) in [(0, -0.05), (1, 0.0), (2, 0.05)] {
            write_result(dir, main_cell(*d, *b, *l, seed), (c + o, s + o), "release", None);
        }
    }
    by_cell.len()
}

#[test]
fn a_folder_reproducing_the_paper_has_every_lead_of_ours_as_a_finding_and_a_measured_spread_applies_to_its_column() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("paper");
    assert!(write_paper(&dir) >= 80);
    let json = claims_json(&dir);
    let text = claims_text(&dir);
    assert!(!text.contains("not a finding"), "{text}");
    let mut leads = 0;
    for p in json["per_seed"]["paired"].as_array().unwrap() {
        assert!(p["noise"].is_null(), "no spread is known for the release recipe: {p}");
        for c in p["comparisons"].as_array().unwrap() {
            let t = &c["test"];
            assert_eq!(t["n"], 3, "{c}");
            if t["mean"].as_f64().unwrap() > 0.0 {
                leads += 1;
                assert_eq!(c["within_noise"], false, "{c}");
                // Equal offsets per seed: every difference is the same up to rounding, so t is huge (or
                // infinite, written "inf") and p is 0 to many places.
                assert!(t["t"] == "inf" || t["t"].as_f64().unwrap() > 1e6, "{c}");
                assert!(c["p_holm"].as_f64().unwrap() < 1e-9, "{c}");
            }
        }
        let ours_ahead = p["comparisons"].as_array().unwrap().iter().all(|c| c["test"]["mean"].as_f64().unwrap() > 0.0);
        assert_eq!(p["verdict"], if ours_ahead { "ours_best" } else { "baseline_better" }, "{p}");
    }
    // The paper's 16 columns x 2 metrics, 31 of which Ours leads (15 of 16 on mAP@sample), each against
    // up to 4 baselines.
    assert!(leads >= 31 * 3, "{leads} positive comparisons");
    let best: Vec<&serde_json::Value> =
        json["per_seed"]["paired"].as_array().unwrap().iter().filter(|p| p["verdict"] == "ours_best").collect();
    assert_eq!(best.len(), 31, "{text}");
    assert!(text.contains("kernel spread not measured") && text.contains("twoway noise --results"), "{text}");

    // A spread of 2.0 points of mAP@sample measured for MS-COCO/ResNet50: its lead there (+1.62 over the
    // best baseline) is within it; its mAP@class lead (spread 0.1) stays a finding.
    let noise = ColumnNoise {
        format: FORMAT.into(),
        dataset: Dataset::Coco,
        backbone: Backbone::Resnet50,
        recipe: "release".into(),
        device: "cuda".into(),
        seed: 0,
        settings: vec!["default".into(), "repeat".into()],
        spread: Points { map_class: 0.1, map_sample: 2.0 },
        cells: Vec::new(),
    };
    let path = noise.path(&dir);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_string(&noise).unwrap()).unwrap();
    let json = claims_json(&dir);
    let p = paired(&json, "coco", "resnet50", "map_sample");
    assert_eq!(p["verdict"], "within_noise", "{p}");
    let weakest = p["comparisons"].as_array().unwrap().iter().find(|c| c["baseline"] == p["weakest"]).unwrap();
    // The published lead: Ours − the best baseline of the column (1.61 points).
    let spec = Spec::embedded();
    let of = |loss: Loss| {
        let key = |p: &&twoway_spec::paper::Published| {
            p.key.dataset == Dataset::Coco
                && p.key.backbone == Backbone::Resnet50
                && p.key.metric == Metric::MapSample
                && p.key.loss == loss
        };
        spec.paper.main.iter().find(key).unwrap().value
    };
    let best = Loss::ALL.iter().filter(|l| **l != Loss::Twoway).map(|l| of(*l)).fold(f64::MIN, f64::max);
    let lead = of(Loss::Twoway) - best;
    assert!((lead - 1.61).abs() < 0.005, "{lead}");
    assert!((weakest["test"]["mean"].as_f64().unwrap() - lead).abs() < 1e-9, "{weakest}");
    assert_eq!(weakest["within_noise"], true);
    assert_eq!(p["noise"]["source"], "measured");
    assert_eq!(paired(&json, "coco", "resnet50", "map_class")["verdict"], "ours_best");
    assert_eq!(paired(&json, "coco", "resnext50_32x4d", "map_sample")["verdict"], "ours_best");
    let text = claims_text(&dir);
    assert!(text.contains("is within the column's kernel spread (2.00 points): not a finding"), "{text}");
}

#[test]
fn the_embedded_recipes_keep_numerics_yaml_spread_and_other_recipes_on_that_column_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    for (recipe, scoped) in [("embedded-ci", true), ("embedded", true), ("mine", false)] {
        let dir = tmp.path().join(recipe);
        for (seed, o) in [(0, 0.0), (1, 0.2), (2, 0.1)] {
            for (loss, v) in [(Loss::Twoway, 31.0), (Loss::Bce, 30.0)] {
                write_result(
                    &dir,
                    main_cell(Dataset::Embedded, Backbone::Tiny, loss, seed),
                    (v + o, v + o),
                    recipe,
                    None,
                );
            }
        }
        let json = claims_json(&dir);
        let p = paired(&json, "embedded", "tiny", "map_class");
        if scoped {
            assert_eq!(p["noise"]["source"], "spec", "{p}");
            assert_eq!(p["noise"]["points"]["map_class"], 1.5);
            // A lead of 1.0 at p = 0 is within 1.5 points.
            assert_eq!(p["verdict"], "within_noise", "{p}");
        } else {
            assert!(p["noise"].is_null(), "{p}");
            assert_eq!(p["verdict"], "ours_best", "{p}");
        }
    }
}

#[test]
fn means_and_rankings_use_the_seeds_every_compared_loss_has() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let (d, b) = (Dataset::Embedded, Backbone::Tiny);
    // Ours 40, 41, 50 on seeds 0-2; BCE 41, 42.3 on seeds 0-1: BCE is ahead on both shared seeds.
    for (seed, v) in [(0, 40.0), (1, 41.0), (2, 50.0)] {
        write_result(&dir, main_cell(d, b, Loss::Twoway, seed), (v, v), "mine", None);
    }
    for (seed, v) in [(0, 41.0), (1, 42.3)] {
        write_result(&dir, main_cell(d, b, Loss::Bce, seed), (v, v), "mine", None);
    }
    // Focal only on seed 7, far ahead: no seed in common with Ours, so neither the best nor compared.
    write_result(&dir, main_cell(d, b, Loss::Focal, 7), (90.0, 90.0), "mine", None);
    let json = claims_json(&dir);
    for best in json["reproduced"]["best"].as_array().unwrap() {
        assert_eq!(best["ours_best"], 0, "on seeds 0 and 1 BCE leads: {best}");
    }
    let notes: Vec<&str> = json["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(notes.iter().any(|n| n.contains("no seed that every compared cell has")), "{notes:?}");
    let p = paired(&json, "embedded", "tiny", "map_class");
    assert_eq!(p["baseline"], "bce", "{p}");
    let compared: Vec<&str> =
        p["comparisons"].as_array().unwrap().iter().map(|c| c["baseline"].as_str().unwrap()).collect();
    assert_eq!(compared, ["bce"], "{p}");
    let c = &p["comparisons"][0];
    assert_eq!(c["test"]["n"], 2);
    // Differences -1 and -1.3: mean -1.15.
    assert!((c["test"]["mean"].as_f64().unwrap() + 1.15).abs() < 1e-12, "{c}");

    // Without Focal's lone seed: the means are over seeds 0 and 1, and the note names Ours' seed 2.
    let dir2 = tmp.path().join("r2");
    for (seed, v) in [(0, 40.0), (1, 41.0), (2, 50.0)] {
        write_result(&dir2, main_cell(d, b, Loss::Twoway, seed), (v, v), "mine", None);
    }
    for (seed, v) in [(0, 41.0), (1, 42.3)] {
        write_result(&dir2, main_cell(d, b, Loss::Bce, seed), (v, v), "mine", None);
    }
    let json = claims_json(&dir2);
    let best = &json["reproduced"]["best"][0];
    assert_eq!((best["columns"].as_u64(), best["ours_best"].as_u64()), (Some(1), Some(0)), "{json}");
    assert!((best["exceptions"][0]["ours"].as_f64().unwrap() - 40.5).abs() < 1e-12, "{best}");
    let text = claims_text(&dir2);
    assert!(
        text.contains("Embedded/Tiny mAP@class: means over seed(s) 0, 1 (every compared cell has them); left out: Ours (both) seed(s) 2"),
        "{text}"
    );
}

#[test]
fn ours_is_tested_against_every_baseline_and_the_claim_rests_on_the_weakest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let (d, b) = (Dataset::Embedded, Backbone::Tiny);
    let rows = [(Loss::Twoway, [52.0, 52.3, 51.9]), (Loss::Bce, [50.0, 50.2, 49.8]), (Loss::Focal, [49.0, 54.0, 46.9])];
    for (loss, values) in rows {
        for (seed, v) in values.iter().enumerate() {
            write_result(&dir, main_cell(d, b, loss, seed as u64), (*v, *v), "mine", None);
        }
    }
    let json = claims_json(&dir);
    let p = paired(&json, "embedded", "tiny", "map_class");
    let by = |l: &str| p["comparisons"].as_array().unwrap().iter().find(|c| c["baseline"] == l).unwrap().clone();
    // Ours − BCE: 2, 2.1, 2.1; Ours − Focal: 3, -1.7, 5.0 (mean 2.1, sd 3.44, t 1.057, df 2).
    let (bce, focal) = (by("bce"), by("focal"));
    let t = 2.1 / (((0.9f64.powi(2) + 3.8f64.powi(2) + 2.9f64.powi(2)) / 2.0).sqrt() / 3f64.sqrt());
    let p_focal = 1.0 - t / (t * t + 2.0).sqrt();
    assert!((focal["test"]["p"].as_f64().unwrap() - p_focal).abs() < 1e-9, "{focal}");
    assert!((p_focal - 0.40).abs() < 0.01);
    let p_bce = bce["test"]["p"].as_f64().unwrap();
    assert!(p_bce < 0.001, "{bce}");
    // Holm over two tests: the smaller p doubled, the larger kept (and never below the first).
    assert!((bce["p_holm"].as_f64().unwrap() - 2.0 * p_bce).abs() < 1e-12);
    assert!((focal["p_holm"].as_f64().unwrap() - p_focal.max(2.0 * p_bce)).abs() < 1e-12);
    assert_eq!(p["verdict"], "undecided", "{p}");
    assert_eq!(p["weakest"], "focal");
    let text = claims_text(&dir);
    assert!(text.contains("not settled: Ours − Focal"), "{text}");
    assert!(!text.contains("Ours is best:"), "{text}");
}

#[test]
fn a_cell_and_seed_found_twice_counts_once_when_identical_and_is_refused_when_not() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let (d, b) = (Dataset::Embedded, Backbone::Tiny);
    for copy in ["a", "b"] {
        for (seed, o) in [(0, 0.0), (1, 0.5), (2, 0.25)] {
            for (loss, v) in [(Loss::Twoway, 40.0), (Loss::Bce, 39.0)] {
                write_result(&root.join(copy), main_cell(d, b, loss, seed), (v + o, v - o), "mine", None);
            }
        }
    }
    let (code, csv, err) = twoway(&["table", "--all", "--results", root.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = csv.lines().filter(|l| l.starts_with("embedded,tiny,twoway")).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows.iter().all(|r| r.split(',').nth(9) == Some("3")), "{csv}");
    assert_eq!(err.matches("counted once").count(), 6, "{err}");
    let json = claims_json(&root);
    assert_eq!(paired(&json, "embedded", "tiny", "map_class")["comparisons"][0]["test"]["n"], 3);
    // A second copy that differs is refused, both files named.
    let other = write_result(&root.join("b"), main_cell(d, b, Loss::Bce, 1), (12.0, 12.0), "mine", None);
    let (code, _, err) = twoway(&["claims", "--results", root.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(other.to_str().unwrap()) && err.contains("a/embedded/tiny/bce/seed1.json"), "{err}");
}

#[test]
fn tables_mark_one_side_say_n_for_one_seed_and_never_print_minus_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let spec = Spec::embedded();
    let published = |loss: Loss, m: Metric| {
        spec.paper
            .main
            .iter()
            .find(|p| {
                p.key.dataset == Dataset::Coco
                    && p.key.backbone == Backbone::Resnet50
                    && p.key.loss == loss
                    && p.key.metric == m
            })
            .unwrap()
            .value
    };
    // Ours far below its published value over three seeds; BCE at its published value + 0.001 (delta
    // rounds to 0.00) on one seed.
    for (seed, o) in [(0, -0.1), (1, 0.0), (2, 0.1)] {
        let c = published(Loss::Twoway, Metric::MapClass) - 14.0 + o;
        let s = published(Loss::Twoway, Metric::MapSample) + o;
        write_result(&dir, main_cell(Dataset::Coco, Backbone::Resnet50, Loss::Twoway, seed), (c, s), "release", None);
    }
    let bce = (published(Loss::Bce, Metric::MapClass) - 0.001, published(Loss::Bce, Metric::MapSample) + 0.001);
    write_result(&dir, main_cell(Dataset::Coco, Backbone::Resnet50, Loss::Bce, 0), bce, "release", None);
    let (code, md, err) = twoway(&["table", "--results", dir.to_str().unwrap(), "--datasets", "coco"]);
    assert_eq!(code, 0, "{err}");
    let ours = md.lines().find(|l| l.contains("Ours")).unwrap();
    let best = format!("**{:.2}** / ", published(Loss::Twoway, Metric::MapClass));
    assert!(ours.contains(&best), "{ours}");
    assert!(
        !ours.contains(" (-14.00)**") && !ours.contains("(3) (-14.00)**"),
        "bold wraps the reproduced side: {ours}"
    );
    assert!(ours.contains("± 0.10 (3) (-14.00)"), "{ours}");
    let bce_line = md.lines().find(|l| l.contains("| BCE |")).unwrap();
    assert!(bce_line.contains(" (1) (+0.00)"), "{bce_line}");
    assert!(!md.contains("-0.00"), "{md}");
    assert!(md.contains("**Bold**: the best of its column, on the published values"), "{md}");
}
