//! `twoway slurm` against a real SLURM: a single-node cluster (Debian's slurm-wlm and munge; slurmctld and
//! slurmd on this machine, CPU only) that tools/slurm_local.sh configures and starts, installing the
//! packages when they are absent (as root, as CI runs). The embedded CI grid runs as a job array and its
//! results equal a local run's; an array task cancelled mid-cell (SLURM's SIGTERM) and submitted again
//! continues from its checkpoint to the same numbers. Without a cluster: the scripts are those of earlier
//! versions, and the run-only flags of `twoway run` are refused.
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

/// The scripts of an earlier twoway for these flags (as it wrote them; `{exe}`, `{out}` and `{root}` stand
/// for the binary, the results folder and the data root): `twoway slurm` must keep writing them, so that
/// the scripts and habits of its users stay valid.
const CELLS_SCRIPT: &str = r#"#!/bin/bash
#SBATCH --job-name=twoway-embedded-ci
#SBATCH --partition=p
#SBATCH --time=1:00:00
#SBATCH --array=0-3%2
#SBATCH --cpus-per-task=1
#SBATCH --gpus-per-task=1
#SBATCH --output={out}/slurm/logs/%A_%a.out
#SBATCH --requeue
#SBATCH --signal=B:USR1@120
# One cell of the grid per array task; SIGTERM (pre-emption) or SIGUSR1 (120 s before the time limit)
# makes twoway write a checkpoint, and the requeued task resumes from it.
exec {exe} run --grid embedded-ci --set epochs=2 --losses bce,twoway --seeds 0,1 --out {out} --data-root {root} --lease 300 --keep-checkpoints --cell "$SLURM_ARRAY_TASK_ID" --resume --threads 1 --device cuda
"#;

const COLLECT_SCRIPT: &str = r#"#!/bin/bash
#SBATCH --job-name=twoway-embedded-ci
#SBATCH --partition=p
#SBATCH --time=1:00:00
#SBATCH --cpus-per-task=1
#SBATCH --output={out}/slurm/logs/collect-%j.out
# After the array (whatever its outcome): the table, the claims, the plots and the status.
set -u
{exe} status --out {out} > {out}/status.txt
{exe} table --all --results {out} > {out}/table.md && \
  {exe} table --all --results {out} --format csv > {out}/table.csv && \
  {exe} claims --results {out} > {out}/claims.txt && \
  {exe} plots --results {out} > /dev/null
"#;

/// Without a cluster: `twoway slurm` writes the same scripts as before for its own flags, and each of
/// `twoway run`'s run-only flags is an error (exit 2) that names the flag, with nothing written.
#[test]
fn slurm_writes_the_same_scripts_and_refuses_run_only_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, out) = (data_root(), tmp.path().join("o1"));
    let (r, o) = (root.to_str().unwrap(), out.to_str().unwrap());
    let own = [
        "slurm",
        "--grid",
        "embedded-ci",
        "--out",
        o,
        "--data-root",
        r,
        "--cpus-per-task",
        "1",
        "--set",
        "epochs=2",
        "--losses",
        "bce,twoway",
        "--seeds",
        "0,1",
        "--lease",
        "300",
        "--keep-checkpoints",
        "--partition",
        "p",
        "--time",
        "1:00:00",
        "--array-limit",
        "2",
        "--gpus-per-task",
        "1",
    ];
    let (code, stdout, err) = twoway(&own);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("4 unfinished cell(s) of 4 as array tasks 0-3"), "{stdout}");
    let fill = |t: &str| t.replace("{exe}", env!("CARGO_BIN_EXE_twoway")).replace("{out}", o).replace("{root}", r);
    let read = |name: &str| std::fs::read_to_string(out.join("slurm").join(name)).unwrap();
    assert_eq!(read("cells.sbatch"), fill(CELLS_SCRIPT));
    assert_eq!(read("collect.sbatch"), fill(COLLECT_SCRIPT));
    let run_only: [(&str, Option<&str>); 11] = [
        ("--shard", Some("0/2")),
        ("--cell", Some("0")),
        ("--workers", Some("2")),
        ("--devices", Some("cpu")),
        ("--list-cells", None),
        ("--data-workers", Some("2")),
        ("--keep-going", None),
        ("--device", Some("cpu")),
        ("--threads", Some("2")),
        ("--resume", None),
        ("--format", Some("json")),
    ];
    for (flag, value) in run_only {
        let out2 = tmp.path().join("o2");
        let mut args = vec!["slurm", "--grid", "embedded-ci", "--out", out2.to_str().unwrap(), "--data-root", r, flag];
        args.extend(value);
        let (code, _, err) = twoway(&args);
        assert_eq!(code, 2, "{flag}: {err}");
        assert!(err.contains(&format!("'{flag}'")), "{flag}: {err}");
        assert!(!out2.exists(), "{flag}: {} was written", out2.display());
    }
}
