//! Calling an implementation: twoway writes a case folder, runs the implementation once over it, and reads
//! its answers back.
//!
//! The folder holds `cases.json` (a list of `{"name", "params"}`; `params` names the loss or metric, every
//! parameter and the dtype) and, per case, `NAME.logits.npy` (or `NAME.scores.npy`) and `NAME.targets.npy`,
//! float64 (logits already rounded to the dtype). The implementation writes `NAME.loss.npy` (shape `()` or
//! `(1,)`) and `NAME.grad.npy` (the logits' shape), or `NAME.value.npy` for a metric, float64 or float32; or
//! `NAME.error.txt` when the case raised. `--python` runs the engine's [`DRIVER`], which does this for a
//! Python function or class.

use super::request::{Implementation, Request};
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use twoway_conform::{Answer, Case, Subject, DRIVER};
use twoway_spec::Dtype;

/// A case folder under the temporary directory, removed when dropped.
struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn new_folder() -> Result<Folder> {
    let base = std::env::temp_dir();
    for k in 0..1000u32 {
        let dir = base.join(format!("twoway-conform-{}-{k}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(Folder(dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("{}: cannot create the case folder", dir.display())),
        }
    }
    bail!("{}: no free name for a case folder", base.display())
}

fn write_inputs(dir: &Path, subject: &Subject, dtype: Dtype, cases: &[Case]) -> Result<()> {
    let params = subject.params(dtype);
    let list: Vec<serde_json::Value> =
        cases.iter().map(|c| serde_json::json!({"name": c.name, "params": params})).collect();
    std::fs::write(dir.join("cases.json"), serde_json::to_string_pretty(&list)?)?;
    let input = if matches!(subject, Subject::Loss(_)) { "logits" } else { "scores" };
    for c in cases {
        crate::io::write_npy(&dir.join(format!("{}.{input}.npy", c.name)), &c.inputs)?;
        crate::io::write_npy(&dir.join(format!("{}.targets.npy", c.name)), &c.targets)?;
    }
    Ok(())
}

/// The command that runs the implementation over `dir`.
fn command(imp: &Implementation, dir: &Path) -> Result<Command> {
    match imp {
        Implementation::Python { file, name, init, exe } => {
            if !file.is_file() {
                bail!("{}: no such Python file (--python FILE.py:NAME)", file.display());
            }
            let file = std::path::absolute(file)?;
            std::fs::write(dir.join("twoway_conform_driver.py"), DRIVER)?;
            let mut c = Command::new(exe);
            c.arg(dir.join("twoway_conform_driver.py")).arg("--impl").arg(file).arg("--name").arg(name);
            if let Some(init) = init {
                c.arg("--init").arg(init.to_string());
            }
            c.arg(dir);
            Ok(c)
        }
        Implementation::Cmd(cmd) => {
            if cmd.trim().is_empty() {
                bail!("--cmd is empty: give the program and its arguments; twoway appends the case folder");
            }
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!("{cmd} \"$1\"")).arg("twoway-conform").arg(dir);
            Ok(c)
        }
    }
}

/// How many cases have an answer in `dir`.
fn answered(dir: &Path, cases: &[Case], metric: bool) -> usize {
    let out = if metric { "value" } else { "loss" };
    cases
        .iter()
        .filter(|c| {
            dir.join(format!("{}.{out}.npy", c.name)).exists() || dir.join(format!("{}.error.txt", c.name)).exists()
        })
        .count()
}

/// Runs the implementation once over all cases; per case its answer or what went wrong. An error is bad
/// input: the implementation could not be started or exited non-zero (its stderr's last lines shown).
pub fn call(request: &Request, cases: &[Case]) -> Result<Vec<Result<Answer>>> {
    let (imp, subject, dtype) = (&request.implementation, &request.suite.subject, request.suite.dtype);
    let folder = new_folder()?;
    let dir = &folder.0;
    write_inputs(dir, subject, dtype, cases)?;
    let mut cmd = command(imp, dir)?;
    let program = match imp {
        Implementation::Python { exe, .. } => exe.display().to_string(),
        Implementation::Cmd(c) => c.clone(),
    };
    // Its own process group, so that a timeout stops the program and everything it started.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{program}`"))?;
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let metric = matches!(subject, Subject::Metric { .. });
    let bar = ProgressBar::new(cases.len() as u64);
    bar.set_style(ProgressStyle::with_template("conform [{bar:30}] {pos}/{len} cases, {elapsed}").unwrap());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if request.timeout.is_some_and(|t| started.elapsed() > t) {
            // SAFETY: killpg only sends a signal to the group this function created for the child.
            unsafe { libc::killpg(child.id() as libc::pid_t, libc::SIGKILL) };
            let _ = child.wait();
            bar.finish_and_clear();
            let done = answered(dir, cases, metric);
            bail!(
                "`{program}` ran past --timeout {} s ({done} of {} cases answered) and was stopped",
                request.timeout.map_or(0, |t| t.as_secs()),
                cases.len()
            );
        }
        bar.set_position(answered(dir, cases, metric) as u64);
        std::thread::sleep(Duration::from_millis(100));
    };
    bar.finish_and_clear();
    let err = reader.join().unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = err.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
        let code = status.code().map_or("a signal".to_string(), |c| format!("status {c}"));
        if tail.is_empty() {
            bail!("`{program}` exited with {code} and wrote nothing on stderr");
        }
        bail!("`{program}` exited with {code}; its last lines on stderr:\n{}", tail.join("\n"));
    }
    Ok(cases.iter().map(|c| read_answer(dir, c, metric)).collect())
}

/// An `.npy` array of any shape, f64 or f32, as f64.
fn read_any(path: &Path) -> Result<ArrayD<f64>> {
    let bytes = std::fs::read(path).map_err(|_| anyhow!("{} is missing", file_name(path)))?;
    if let Ok(a) = ArrayD::<f64>::read_npy(bytes.as_slice()) {
        return Ok(a);
    }
    if let Ok(a) = ArrayD::<f32>::read_npy(bytes.as_slice()) {
        return Ok(a.mapv(f64::from));
    }
    bail!("{}: not a float64 or float32 .npy array", file_name(path))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// A scalar: shape `()` or `(1,)`.
fn scalar(path: &Path) -> Result<f64> {
    let a = read_any(path)?;
    if a.len() != 1 || a.ndim() > 1 {
        bail!("{}: shape {:?}, expected () or (1,)", file_name(path), a.shape());
    }
    Ok(a.iter().next().copied().unwrap_or(f64::NAN))
}

fn read_answer(dir: &Path, case: &Case, metric: bool) -> Result<Answer> {
    let error = dir.join(format!("{}.error.txt", case.name));
    if let Ok(text) = std::fs::read_to_string(&error) {
        bail!("raised: {}", text.trim());
    }
    if metric {
        return Ok(Answer::Metric(scalar(&dir.join(format!("{}.value.npy", case.name)))?));
    }
    let value = scalar(&dir.join(format!("{}.loss.npy", case.name)))?;
    let path = dir.join(format!("{}.grad.npy", case.name));
    let grad = read_any(&path)?;
    if grad.shape() != case.inputs.shape() {
        bail!("{}: shape {:?}, expected {:?} (the logits')", file_name(&path), grad.shape(), case.inputs.shape());
    }
    let grad = grad.into_dimensionality::<ndarray::Ix2>().expect("shape checked");
    Ok(Answer::Loss { value, grad })
}
