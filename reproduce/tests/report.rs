//! `twoway report` in a real browser: a results folder (written here: two seeds of three embedded cells and
//! of two MS-COCO cells the paper has, one failed cell) as one HTML page, opened by headless Chromium
//! (Debian's, installed by tools/chromium.sh when absent). Every reproduced number of the table is on the
//! page the browser built, every figure is an SVG in it, the page has no script and fetches nothing, and it
//! prints to PDF.

mod common;
use common::*;

use std::path::Path;
use twoway_reproduce::results::{self, CellId, Epoch, Metrics, ResultFile, Versions};
use twoway_spec::{Backbone, Dataset, Loss, Way};

/// Writes one result file; its numbers are made from the cell's position and seed.
fn result(dir: &Path, dataset: Dataset, backbone: Backbone, (loss, way): (Loss, Option<Way>), seed: u64, base: f64) {
    let c = base + seed as f64 * 0.731;
    let s = base + 20.0 - seed as f64 * 0.412;
    let config = serde_json::json!({"loss": {"loss": loss, "way": way}, "seed": seed, "recipe": {"name": "test"},
        "data": {"dataset": dataset}, "weights_sha256": null});
    let epochs: Vec<Epoch> = (1..=3)
        .map(|e| Epoch {
            epoch: e,
            train_loss: 2.0 / e as f64,
            map_class: Some(c - 3.0 + e as f64),
            map_sample: Some(s - 3.0 + e as f64),
            lr_head: 0.1 / e as f64,
            seconds: 1.0,
        })
        .collect();
    let r = ResultFile {
        format: results::FORMAT.into(),
        cell: CellId { dataset, backbone, loss, way, variant: None, seed },
        metrics: Metrics { map_class: Some(c), map_sample: Some(s), ..Default::default() },
        epochs,
        config_hash: results::hash(&config),
        config,
        versions: Versions { twoway: "test".into(), libtorch: "none".into() },
        device: "Cpu".into(),
        threads: 2,
        wall_seconds: 12.5,
        numerics: None,
        tuning: None,
    };
    r.write(dir).unwrap();
}

#[test]
fn the_report_opens_in_a_browser_with_every_number_and_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("results");
    let embedded = [(Loss::Bce, None), (Loss::Twoway, Some(Way::Both)), (Loss::Softmax, Some(Way::Sample))];
    for seed in [0, 1] {
        for (i, run) in embedded.iter().enumerate() {
            result(&dir, Dataset::Embedded, Backbone::Tiny, *run, seed, 30.0 + 4.0 * i as f64);
        }
        for (i, run) in [(Loss::Bce, None), (Loss::Twoway, Some(Way::Both))].iter().enumerate() {
            result(&dir, Dataset::Coco, Backbone::Resnet50, *run, seed, 70.0 + 3.0 * i as f64);
        }
    }
    let failed = dir.join("embedded/tiny/asl/seed0.failed");
    std::fs::create_dir_all(failed.parent().unwrap()).unwrap();
    std::fs::write(&failed, r#"{"error": "the training loss became NaN", "host": "h", "pid": 1, "time": 0}"#).unwrap();
    let page = tmp.path().join("report.html");
    let (code, out, err) = twoway(&["report", "--results", dir.to_str().unwrap(), "--out", page.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("report.html"), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"));

    let browser = std::process::Command::new(workspace().join("tools/chromium.sh"))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(browser.status.success(), "chromium: {}", String::from_utf8_lossy(&browser.stderr));
    let dom = String::from_utf8_lossy(&browser.stdout);
    // Every reproduced number of the table (mean and sd over the seeds), as the table shows it.
    let all = results::load_dir(&dir).unwrap();
    let cells = results::summarize(&all);
    let mut numbers = 0;
    for s in cells.values() {
        let shown = format!("{:.2} ± {:.2} (n=2)", s.mean, s.sd.unwrap());
        assert!(dom.contains(&shown), "{shown} is not on the page");
        numbers += 1;
    }
    assert_eq!(numbers, 10);
    // The published numbers and the deltas of the MS-COCO cells.
    let spec = twoway_spec::Spec::embedded();
    for (k, s) in cells.iter().filter(|(k, _)| k.dataset == Dataset::Coco) {
        let p = spec.paper.lookup(k).unwrap();
        assert!(dom.contains(&format!("{p:.2}")) && dom.contains(&format!("{:+.2}", s.mean - p)), "{k:?}");
    }
    // Every figure is an SVG the browser parsed: the scatter, two columns' bars and ten cells' curves.
    let figures = dom.matches("<figure").count();
    assert_eq!(figures, 13);
    assert_eq!(dom.matches("<svg").count(), figures, "a figure without its SVG");
    // The status names the failed cell with its error, and the claims and provenance are there.
    assert!(dom.contains("embedded/tiny/asl/seed0: the training loss became NaN"));
    assert!(dom.contains("Ours against every baseline, paired over the seeds both have"));
    assert_eq!(dom.matches("<details").count(), 10, "one provenance entry per result file");
    // It prints to PDF.
    let pdf = tmp.path().join("report.pdf");
    let printed = std::process::Command::new(workspace().join("tools/chromium.sh"))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(printed.status.success(), "chromium: {}", String::from_utf8_lossy(&printed.stderr));
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF") && bytes.len() > 20_000, "{} bytes", bytes.len());
}
