//! `twoway slurm` against a real SLURM: a single-node cluster (Debian's slurm-wlm and munge; slurmctld and
//! slurmd on this machine, CPU only) that tools/slurm_local.sh configures and starts, installing the
//! packages when they are absent (as root, as CI runs). The embedded CI grid runs as a job array and its
//! results equal a local run's; an array task cancelled mid-cell (SLURM's SIGTERM) and submitted again
//! continues from its checkpoint to the same numbers.
#![cfg(feature = "torch")]

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let port = 20000 + std::process::id() % 20000;
        let out = Command::new(workspace().join("tools/slurm_local.sh"))
            .args(["start", dir.path().to_str().unwrap()])
            .env("SLURM_PORT", port.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tools/slurm_local.sh could not start a SLURM cluster:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let conf = dir.path().join("slurm.conf");
        Cluster { dir, conf }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf).env_remove("LD_LIBRARY_PATH");
        c
    }

    fn twoway(&self, args: &[&str]) -> (i32, String, String) {
        let o = self.command(env!("CARGO_BIN_EXE_twoway")).args(args).output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into(),
            String::from_utf8_lossy(&o.stderr).into(),
        )
    }

    /// Waits until none of `jobs` is queued or running.
    fn wait(&self, jobs: &[String]) {
        let start = Instant::now();
        loop {
            let o = self.command("squeue").args(["-h", "-o", "%i", "-j", &jobs.join(",")]).output().unwrap();
            let queued = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if queued.is_empty() || !o.status.success() {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(600), "jobs {jobs:?} still queued: {queued}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(workspace().join("tools/slurm_local.sh"))
            .args(["stop", self.dir.path().to_str().unwrap()])
            .output();
    }
}

/// The job ids `twoway slurm --submit` printed: (array, collector).
fn job_ids(stdout: &str) -> (String, String) {
    let line = stdout.lines().find(|l| l.starts_with("submitted: array job")).unwrap_or_else(|| panic!("{stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[3].to_string(), words.last().unwrap().to_string())
}

fn numbers(path: &Path) -> serde_json::Value {
    let v = read_json(path);
    let epochs: Vec<serde_json::Value> =
        v["epochs"].as_array().unwrap().iter().map(|e| serde_json::json!([e["train_loss"], e["map_class"]])).collect();
    serde_json::json!({"metrics": v["metrics"], "epochs": epochs, "hash": v["config_hash"]})
}

#[test]
fn a_grid_runs_as_a_slurm_array_and_a_cancelled_task_resumes() {
    let cluster = Cluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let root = data_root();
    let r = root.to_str().unwrap();
    // The local run the array must equal; it also makes sure the embedded dataset exists before tasks race
    // to generate it.
    let local = embedded_ci_reference();

    // The grid as an array of 3 tasks, then the collector.
    let out = tmp.path().join("slurm");
    let o = out.to_str().unwrap();
    let (code, stdout, err) = cluster.twoway(&[
        "slurm",
        "--grid",
        "embedded-ci",
        "--out",
        o,
        "--data-root",
        r,
        "--cpus-per-task",
        "1",
        "--submit",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("3 unfinished cell(s) of 3 as array tasks 0-2"), "{stdout}");
    let (array, collector) = job_ids(&stdout);
    cluster.wait(&[array.clone(), collector]);
    for cell in ["twoway-both", "softmax-sample", "bce"] {
        let p = format!("embedded/tiny/{cell}/seed0.json");
        assert!(out.join(&p).exists(), "{cell}: no result; logs in {}", out.join("slurm/logs").display());
        assert_eq!(numbers(&out.join(&p)), numbers(&local.join(&p)), "{cell}");
        assert!(out
            .join(format!(
                "slurm/logs/{array}_{}.out",
                ["twoway-both", "softmax-sample", "bce"].iter().position(|c| c == &cell).unwrap()
            ))
            .exists());
    }
    for f in ["table.md", "table.csv", "claims.txt", "status.txt"] {
        assert!(out.join(f).exists(), "the collector did not write {f}");
    }
    let status = std::fs::read_to_string(out.join("status.txt")).unwrap();
    assert!(status.contains("3 finished cell(s)") && status.contains("running: 0"), "{status}");

    // A task cancelled inside its cell, then submitted again: it resumes from its checkpoint.
    let long = ["--set", "epochs=3", "--set", "max_train_samples=1600", "--losses", "twoway"];
    let whole = tmp.path().join("whole");
    let (code, _, err) = RunCmd::new("embedded-ci").out(&whole).data_root(&root).threads(1).args(long).run();
    assert_eq!(code, 0, "{err}");
    let out2 = tmp.path().join("cancelled");
    let o2 = out2.to_str().unwrap();
    let mut args =
        vec!["slurm", "--grid", "embedded-ci", "--out", o2, "--data-root", r, "--cpus-per-task", "1", "--submit"];
    args.extend(long);
    let (code, stdout, err) = cluster.twoway(&args);
    assert_eq!(code, 0, "{err}");
    let (array, collector) = job_ids(&stdout);
    let ckpt = out2.join("embedded/tiny/twoway-both/seed0.ckpt.json");
    let start = Instant::now();
    while !ckpt.exists() {
        assert!(start.elapsed() < Duration::from_secs(300), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = cluster.command("scancel").arg(&array).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    cluster.wait(&[array.clone(), collector]);
    let result = out2.join("embedded/tiny/twoway-both/seed0.json");
    assert!(!result.exists(), "the cancelled task finished its cell anyway (cancel came too late)");
    assert!(ckpt.exists(), "the cancelled task left no checkpoint");
    let (code, stdout, err) = cluster.twoway(&args);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("1 unfinished cell(s) of 1"), "{stdout}");
    let (array, collector) = job_ids(&stdout);
    cluster.wait(&[array, collector]);
    assert!(result.exists(), "the resubmitted task did not finish; logs in {}", out2.join("slurm/logs").display());
    let log = std::fs::read_to_string(out2.join("embedded/tiny/twoway-both/seed0.log")).unwrap();
    assert!(log.contains("resumed from the checkpoint"), "{log}");
    assert_eq!(numbers(&result), numbers(&whole.join("embedded/tiny/twoway-both/seed0.json")));
}
