//! Cells as units of `twoway run`: listing and selecting cells, exclusive claims (two runs on one folder
//! train every cell once), exact mid-cell resume after SIGKILL and after SIGTERM (bit-identical to an
//! uninterrupted run on CPU), `--resume` across thread counts but not across recipe or data changes, and
//! several worker processes (a failing cell retried once, then reported).
#![cfg(feature = "torch")]

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// embedded-ci cells made longer (3 epochs of 1,600 images), so that a signal lands inside one.
const LONG: [&str; 4] = ["--set", "epochs=3", "--set", "max_train_samples=1600"];

/// `twoway run --grid embedded-ci --out OUT --data-root ROOT`.
fn ci(out: &Path, root: &Path) -> RunCmd {
    RunCmd::new("embedded-ci").out(out).data_root(root)
}

/// The numbers of a result (not its timings).
fn numbers(path: &Path) -> serde_json::Value {
    let v = read_json(path);
    let epochs: Vec<serde_json::Value> = v["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::json!([e["train_loss"], e["map_class"], e["map_sample"], e["lr_head"]]))
        .collect();
    serde_json::json!({"metrics": v["metrics"], "epochs": epochs, "hash": v["config_hash"]})
}

/// Reads a cell's TensorBoard run with tools/read_events.py (TensorBoard's reader) and checks it against the
/// cell's result: the release's tags that twoway writes, steps 1..=epochs once each, and the values of the
/// last epoch (in f32, as the event files store them).
fn board_matches_result(run: &Path, result: &Path) {
    let out = Command::new(venv_python()).arg(workspace().join("tools/read_events.py")).arg(run).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let board: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(board["version"], "brain.Event:2", "{board}");
    let r = read_json(result);
    let epochs = r["epochs"].as_array().unwrap();
    let last = epochs.last().unwrap();
    let mut compared = 0;
    for (tag, field) in [
        ("LearningRate", "lr_head"),
        ("Loss/train", "train_loss"),
        ("mAP_class/test", "map_class"),
        ("mAP_sample/test", "map_sample"),
    ] {
        let points = board["scalars"][tag].as_array().unwrap_or_else(|| panic!("no `{tag}` in {board}"));
        let steps: Vec<u64> = points.iter().map(|p| p[0].as_u64().unwrap()).collect();
        assert_eq!(steps, (1..=epochs.len() as u64).collect::<Vec<_>>(), "{tag}: {board}");
        // Both sides in f32 (the JSON of the reader's f32 may parse one f64 ulp away from it).
        let got = points.last().unwrap()[1].as_f64().unwrap() as f32;
        assert_eq!(got, last[field].as_f64().unwrap() as f32, "{tag}");
        compared += 1;
    }
    assert_eq!(compared, 4);
    assert!(board["scalars"].get("mAP_class/train").is_none(), "the loop computes no train mAP");
}

fn wait_for(path: &Path, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(300), "{} never appeared", path.display());
        assert!(child.try_wait().unwrap().is_none(), "the run ended before {} appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cells_are_listed_and_selected_by_index_id_or_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let root = data_root();
    let (code, json, err) = ci(&out, &root).args(["--list-cells", "--format", "json"]).run();
    assert_eq!(code, 0, "{err}");
    let cells: serde_json::Value = serde_json::from_str(&json).unwrap();
    let labels: Vec<&str> = cells.as_array().unwrap().iter().map(|c| c["cell"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        ["embedded/tiny/twoway/both/seed0", "embedded/tiny/softmax/sample/seed0", "embedded/tiny/bce/seed0"]
    );
    assert!(cells
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["status"] == "todo" && c["config_hash"].as_str().unwrap().len() == 64));
    let (code, _, err) = ci(&out, &root).args(["--cell", "embedded/tiny/bce/seed0"]).threads(2).run();
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = ci(&out, &root).args(["--shard", "0/2"]).threads(2).resume().run();
    assert_eq!(code, 0, "{err}");
    let (code, text, _) = ci(&out, &root).arg("--list-cells").run();
    assert_eq!(code, 0);
    // Shard 0/2 took cells 0 and 2 (2 was done already); 1 is left.
    assert!(text.contains("   0  done") && text.contains("   1  todo") && text.contains("   2  done"), "{text}");
    for (sel, want) in [(["--cell", "7"], "no such cell"), (["--shard", "2/2"], "expected i/n")] {
        let (code, _, err) = ci(&out, &root).args(sel).resume().run();
        assert_eq!(code, 2);
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn two_runs_on_one_folder_train_every_cell_once() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cmd = ci(&out, &data_root()).threads(1).resume().args(LONG);
    let children: Vec<Child> = (0..2).map(|_| cmd.spawn()).collect();
    let mut trained = Vec::new();
    for c in children {
        let output = c.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{err}");
        trained
            .extend(err.lines().filter(|l| l.contains("mAP@class")).map(|l| l.split(": ").next().unwrap().to_string()));
    }
    trained.sort();
    let cells: Vec<String> = trained.iter().map(|l| l.split("] ").nth(1).unwrap().to_string()).collect();
    let mut unique = cells.clone();
    unique.dedup();
    assert_eq!(cells.len(), 3, "{trained:?}");
    assert_eq!(unique.len(), 3, "a cell was trained twice: {trained:?}");
    assert!(!walk(&out).iter().any(|p| p.extension().is_some_and(|e| e == "claim")), "a claim was left behind");
}

#[test]
fn a_cell_killed_mid_training_resumes_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let root = data_root();
    let cell = |out: &Path| ci(out, &root).threads(2).args(["--cell", "0"]).args(LONG);
    let whole = tmp.path().join("whole");
    let (code, _, err) = cell(&whole).run();
    assert_eq!(code, 0, "{err}");
    let want = numbers(&whole.join("embedded/tiny/twoway-both/seed0.json"));

    // SIGKILL once the first epoch's checkpoint is written.
    let killed = tmp.path().join("killed");
    let mut child = cell(&killed).spawn();
    wait_for(&killed.join("embedded/tiny/twoway-both/seed0.ckpt.json"), &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, _, err) = cell(&killed).resume().run();
    assert_eq!(code, 0, "{err}");
    assert_eq!(numbers(&killed.join("embedded/tiny/twoway-both/seed0.json")), want);
    let log = std::fs::read_to_string(killed.join("embedded/tiny/twoway-both/seed0.log")).unwrap();
    assert!(log.contains("resumed from the checkpoint at epoch"), "{log}");
    // Its TensorBoard run, read by TensorBoard's own reader: one point per epoch and tag, none twice after
    // the resume, the last test mAP the result's.
    for run in [&whole, &killed] {
        board_matches_result(
            &run.join("embedded/tiny/twoway-both/seed0"),
            &run.join("embedded/tiny/twoway-both/seed0.json"),
        );
    }
    assert!(!killed.join("embedded/tiny/twoway-both/seed0.ckpt.json").exists(), "the checkpoint was kept");

    // SIGTERM (SLURM's pre-emption) as the second epoch starts: a checkpoint inside the epoch, exit 2, then
    // --resume from that iteration.
    let termed = tmp.path().join("termed");
    let mut child = cell(&termed).spawn();
    wait_for(&termed.join("embedded/tiny/twoway-both/seed0.ckpt.json"), &mut child);
    assert_eq!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().code(), Some(0));
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("stopped by a signal") && err.contains("--resume"), "{err}");
    let state = read_json(termed.join("embedded/tiny/twoway-both/seed0.ckpt.json"));
    assert_eq!(state["epoch"], 1, "{state}");
    assert!(state["iteration"].as_u64().unwrap() >= 1, "not inside the epoch: {state}");
    let (code, _, err) = cell(&termed).resume().run();
    assert_eq!(code, 0, "{err}");
    assert_eq!(numbers(&termed.join("embedded/tiny/twoway-both/seed0.json")), want);
}

#[test]
fn resume_accepts_other_thread_counts_and_refuses_other_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    let (code, _, err) = twoway(&["data", "fixtures", "--out", root.to_str().unwrap(), "--samples", "40"]);
    assert_eq!(code, 0, "{err}");
    let grid = tmp.path().join("g.yaml");
    std::fs::write(
        &grid,
        "description: coco fixture\nrecipe: embedded-smoke\ndatasets: [coco]\nbackbones: [tiny]\nseeds: [0]\nruns: [{loss: bce}]\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = |extra: &[&str]| RunCmd::new(&grid).out(&out).data_root(&root).set("batch_size=8").args(extra).run();
    let (code, _, err) = run(&["--threads", "1"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["--threads", "2", "--resume"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("finished earlier, kept"), "{err}");
    let (code, _, err) = run(&["--resume", "--set", "epochs=2"]);
    assert_eq!(code, 2);
    assert!(err.contains("another configuration") && err.contains("`recipe.recipe.epochs` changed"), "{err}");
    let ann = root.join("coco/annotations/instances_train2014.json");
    let mut text = std::fs::read_to_string(&ann).unwrap();
    text.push('\n');
    std::fs::write(&ann, text).unwrap();
    let (code, _, err) = run(&["--resume"]);
    assert_eq!(code, 2);
    assert!(err.contains("`data.files.annotations/instances_train2014.json` changed"), "{err}");
}

#[test]
fn worker_processes_share_the_grid_and_a_failing_cell_is_retried_then_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let seq = embedded_ci_reference();
    let par = tmp.path().join("par");
    let (code, stdout, err) = ci(&par, &data_root()).threads(1).args(["--workers", "2"]).run();
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("3 cells) from 2 worker process(es)"), "{stdout}");
    for cell in ["twoway-both", "softmax-sample", "bce"] {
        let p = format!("embedded/tiny/{cell}/seed0.json");
        assert_eq!(numbers(&par.join(&p)), numbers(&seq.join(&p)), "{cell}");
    }
    // A corrupt image fails every cell: each worker fails, the retry fails, the cells are reported.
    let data = tmp.path().join("data");
    let (code, stdout, err) = twoway(&["data", "generate", "--data-root", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let dir = PathBuf::from(stdout.trim().trim_start_matches("embedded dataset written to "));
    std::fs::write(dir.join("val2014/COCO_val2014_000000000002.png"), b"not a png").unwrap();
    let bad = tmp.path().join("bad");
    let (code, _, err) = ci(&bad, &data).threads(1).args(["--workers", "2"]).run();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("retrying their cells once"), "{err}");
    assert!(
        err.contains("3 cell(s) did not finish after a retry") && err.contains("COCO_val2014_000000000002.png"),
        "{err}"
    );
    let (code, status, _) = ci(&bad, &data).arg("--list-cells").run();
    assert_eq!(code, 0);
    assert_eq!(status.matches("failed").count(), 3, "{status}");
}
