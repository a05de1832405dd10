//! End-to-end tests of `twoway table` and `twoway claims`, through the built binary.

mod common;
use common::*;

use twoway_spec::{Backbone, CellKey, Dataset, Loss, Metric, Spec, Way};

/// Parses the table CSV into (key, published) pairs, checking the header and the empty result columns.
fn parse_csv(text: &str) -> Vec<(CellKey, f64)> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("dataset,backbone,loss,way,metric,published,reproduced,delta,sd,n,seeds,numerics"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 12, "{l}");
            assert_eq!((f[6], f[7], f[8], f[9], f[10], f[11]), ("", "", "", "", "", ""), "no results yet: {l}");
            let way = if f[3].is_empty() { None } else { Some(f[3].parse::<Way>().unwrap()) };
            let key = CellKey {
                dataset: f[0].parse::<Dataset>().unwrap(),
                backbone: f[1].parse::<Backbone>().unwrap(),
                loss: f[2].parse::<Loss>().unwrap(),
                way,
                metric: f[4].parse::<Metric>().unwrap(),
            };
            assert_eq!(f[5].split('.').nth(1).map(str::len), Some(2), "two decimals: {l}");
            (key, f[5].parse().unwrap())
        })
        .collect()
}

#[test]
fn csv_main_table_has_160_rows_equal_to_the_spec() {
    let (code, out, err) = twoway(&["table", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let rows = parse_csv(&out);
    assert_eq!(rows.len(), 160);
    let spec = Spec::embedded();
    for (key, v) in &rows {
        assert_eq!(spec.paper.lookup(key), Some(*v), "{key:?}");
        let expected_way = match key.loss {
            Loss::Twoway => Some(Way::Both),
            Loss::Softmax => Some(Way::Sample),
            _ => None,
        };
        assert_eq!(key.way, expected_way);
    }
    // First row is the poster's first number (MS-COCO, Softmax, mAP@class, ResNet50).
    assert!(out.lines().nth(1).unwrap().starts_with("coco,resnet50,softmax,sample,map_class,58.00,"));
}

#[test]
fn csv_ways_table_has_12_rows() {
    let (code, out, _) = twoway(&["table", "--ways", "--format", "csv"]);
    assert_eq!(code, 0);
    let rows = parse_csv(&out);
    assert_eq!(rows.len(), 12);
    let spec = Spec::embedded();
    for (key, v) in &rows {
        assert!(key.way.is_some() && key.loss.has_ways());
        assert_eq!(spec.paper.ways.iter().find(|p| p.key == *key).map(|p| p.value), Some(*v));
    }
}

#[test]
fn markdown_main_table_snapshot() {
    let (code, out, _) = twoway(&["table"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("table_main_md", out);
}

#[test]
fn markdown_ways_table_snapshot() {
    let (_, out, _) = twoway(&["table", "--ways", "--format", "md"]);
    insta::assert_snapshot!("table_ways_md", out);
}

#[test]
fn json_and_latex_carry_every_number() {
    let (code, out, _) = twoway(&["table", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["table"], "main");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 160);
    assert!(rows.iter().all(|r| r["reproduced"].is_null() && r["published"].is_f64()));

    let (code, tex, _) = twoway(&["table", "--format", "latex"]);
    assert_eq!(code, 0);
    assert!(tex.starts_with("\\begin{tabular}") && tex.contains("\\toprule") && tex.contains("\\bottomrule"));
    for p in &Spec::embedded().paper.main {
        assert!(tex.contains(&format!("{:.2}", p.value)), "{}", p.value);
    }
    // 20 body rows (4 datasets x 5 losses), each with 8 numbers.
    let body: Vec<&str> = tex.lines().filter(|l| l.ends_with("\\\\") && l.matches('&').count() == 9).collect();
    assert_eq!(body.len(), 21, "header + 20 rows");
}

#[test]
fn claims_state_16_of_16_and_15_of_16() {
    let (code, out, _) = twoway(&["claims"]);
    assert_eq!(code, 0);
    assert!(out.contains("mAP@class: Ours is best in 16 of 16"), "{out}");
    assert!(out.contains("mAP@sample: Ours is best in 15 of 16"), "{out}");
    assert!(out.contains("except VISPR/ResNeXt50: Softmax 85.43 > Ours 85.40"), "{out}");
    assert!(!out.contains("[fails]"), "{out}");
}

#[test]
fn bad_arguments_and_a_broken_spec_exit_2() {
    let (code, _, err) = twoway(&["table", "--format", "xml"]);
    assert_eq!(code, 2);
    assert!(err.contains("xml"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = twoway(&["spec", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.starts_with("twoway: error: ") && err.contains("losses.yaml"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");

    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/data");
    let (code, out, _) = twoway(&["spec", "--dir", data]);
    assert_eq!(code, 0);
    assert!(out.contains("valid (160 published numbers in the main table, 12 in the ways ablation)"), "{out}");
}
