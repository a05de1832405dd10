//! `twoway slurm`: a grid as a SLURM job array, one unfinished cell per array task (`twoway run --cell
//! $SLURM_ARRAY_TASK_ID --resume`), requeued on pre-emption (SLURM's SIGTERM, or SIGUSR1 before the time
//! limit, makes the task write a checkpoint, and the requeued task continues from it), plus a collector job
//! that runs after the array (`--dependency=afterany`) and writes the table, claims, plots and status.

use crate::plan;
use crate::run::{RunArgs, SlurmArgs};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// "0-3,5,7-9" for the sorted indices.
pub fn ranges(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let mut j = i;
        while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { indices[i].to_string() } else { format!("{}-{}", indices[i], indices[j]) });
        i = j + 1;
    }
    parts.join(",")
}

fn quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir()?.join(p) })
}

/// The `twoway run` arguments that select the grid's cells and their inputs, for the array tasks.
fn run_args(a: &RunArgs, root: &Path) -> Result<Vec<String>> {
    let mut v = vec!["run".to_string(), "--grid".into()];
    v.push(if Path::new(&a.grid).is_file() {
        absolute(Path::new(&a.grid))?.display().to_string()
    } else {
        a.grid.clone()
    });
    if let Some(r) = &a.recipe {
        v.extend([
            "--recipe".into(),
            if Path::new(r).is_file() { absolute(Path::new(r))?.display().to_string() } else { r.clone() },
        ]);
    }
    for s in &a.set {
        v.extend(["--set".into(), s.clone()]);
    }
    if let Some(n) = a.numerics {
        v.extend(["--numerics".into(), n.to_string()]);
    }
    let list = |items: Vec<String>| items.join(",");
    if !a.datasets.is_empty() {
        v.extend(["--datasets".into(), list(a.datasets.iter().map(|d| d.to_string()).collect())]);
    }
    if !a.backbones.is_empty() {
        v.extend(["--backbones".into(), list(a.backbones.iter().map(|d| d.to_string()).collect())]);
    }
    if !a.losses.is_empty() {
        v.extend(["--losses".into(), list(a.losses.iter().map(|d| d.to_string()).collect())]);
    }
    if !a.ways.is_empty() {
        v.extend(["--ways".into(), list(a.ways.iter().map(|d| d.to_string()).collect())]);
    }
    if !a.seeds.is_empty() {
        v.extend(["--seeds".into(), list(a.seeds.iter().map(|d| d.to_string()).collect())]);
    }
    v.extend(["--out".into(), absolute(&a.out)?.display().to_string()]);
    v.extend(["--data-root".into(), absolute(root)?.display().to_string()]);
    if let Some(w) = &a.weights_dir {
        v.extend(["--weights-dir".into(), absolute(w)?.display().to_string()]);
    }
    v.extend(["--lease".into(), a.lease.to_string()]);
    if a.keep_checkpoints {
        v.push("--keep-checkpoints".into());
    }
    Ok(v)
}

pub fn slurm(s: &SlurmArgs, out: &mut dyn Write) -> Result<()> {
    let a = &s.run;
    if s.cpus_per_task == 0 {
        bail!("--cpus-per-task must be at least 1");
    }
    let spec = twoway_spec::Spec::embedded();
    let plan::Prepared { plan, root, .. } = plan::prepare(spec, a, true)?;
    // The lenient plan marks the cells whose result (of this configuration) is there.
    let todo: Vec<usize> = plan.iter().filter(|p| !p.done).map(|p| p.index).collect();
    let exe = std::env::current_exe().context("cannot find the twoway executable")?;
    let out_dir = absolute(&a.out)?;
    let dir = out_dir.join("slurm");
    std::fs::create_dir_all(dir.join("logs")).with_context(|| format!("{}: cannot create", dir.display()))?;
    let name: String = format!(
        "twoway-{}",
        Path::new(&a.grid).file_stem().map_or(a.grid.clone(), |s| s.to_string_lossy().to_string())
    );
    let mut head = format!("#!/bin/bash\n#SBATCH --job-name={name}\n");
    for (flag, value) in [("partition", &s.partition), ("account", &s.account), ("time", &s.time)] {
        if let Some(v) = value {
            head.push_str(&format!("#SBATCH --{flag}={v}\n"));
        }
    }
    let mut args = run_args(a, &root)?;
    args.extend(["--cell".into(), "$SLURM_ARRAY_TASK_ID".into(), "--resume".into()]);
    args.extend(["--threads".into(), s.cpus_per_task.to_string()]);
    args.extend(["--device".into(), if s.gpus_per_task > 0 { "cuda".into() } else { "cpu".into() }]);
    let command: Vec<String> = args
        .iter()
        .map(|x| if x == "$SLURM_ARRAY_TASK_ID" { "\"$SLURM_ARRAY_TASK_ID\"".into() } else { quote(x) })
        .collect();
    let limit = s.array_limit.map(|k| format!("%{k}")).unwrap_or_default();
    let mut cells_script = head.clone();
    cells_script.push_str(&format!(
        "#SBATCH --array={}{limit}\n#SBATCH --cpus-per-task={}\n{}#SBATCH --output={}/logs/%A_%a.out\n\
         #SBATCH --requeue\n#SBATCH --signal=B:USR1@120\n\
         # One cell of the grid per array task; SIGTERM (pre-emption) or SIGUSR1 (120 s before the time limit)\n\
         # makes twoway write a checkpoint, and the requeued task resumes from it.\n\
         exec {} {}\n",
        if todo.is_empty() { "0".to_string() } else { ranges(&todo) },
        s.cpus_per_task,
        if s.gpus_per_task > 0 { format!("#SBATCH --gpus-per-task={}\n", s.gpus_per_task) } else { String::new() },
        dir.display(),
        quote(&exe.display().to_string()),
        command.join(" ")
    ));
    let results = quote(&out_dir.display().to_string());
    let tw = quote(&exe.display().to_string());
    let mut collect = head;
    collect.push_str(&format!(
        "#SBATCH --cpus-per-task=1\n#SBATCH --output={d}/logs/collect-%j.out\n\
         # After the array (whatever its outcome): the table, the claims, the plots and the status.\n\
         set -u\n{tw} status --out {results} > {results}/status.txt\n\
         {tw} table --all --results {results} > {results}/table.md && \\\n  \
         {tw} table --all --results {results} --format csv > {results}/table.csv && \\\n  \
         {tw} claims --results {results} > {results}/claims.txt && \\\n  \
         {tw} plots --results {results} > /dev/null\n",
        d = dir.display()
    ));
    let cells_path = dir.join("cells.sbatch");
    let collect_path = dir.join("collect.sbatch");
    crate::io::write_text(&cells_path, &cells_script)?;
    crate::io::write_text(&collect_path, &collect)?;
    writeln!(
        out,
        "{}: {} unfinished cell(s) of {} as array tasks {}\n{}: the collector",
        cells_path.display(),
        todo.len(),
        plan.len(),
        if todo.is_empty() { "-".to_string() } else { ranges(&todo) },
        collect_path.display()
    )?;
    if !s.submit {
        return Ok(());
    }
    if todo.is_empty() {
        writeln!(out, "nothing to submit: every cell is done")?;
        return Ok(());
    }
    let sbatch = |extra: &[String], script: &Path| -> Result<String> {
        let o = std::process::Command::new("sbatch")
            .arg("--parsable")
            .args(extra)
            .arg(script)
            .output()
            .context("cannot run sbatch (is SLURM installed, and SLURM_CONF set where needed?)")?;
        if !o.status.success() {
            bail!("sbatch {}: {}", script.display(), String::from_utf8_lossy(&o.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().split(';').next().unwrap_or("").to_string())
    };
    let array = sbatch(&[], &cells_path)?;
    let collector = sbatch(&[format!("--dependency=afterany:{array}")], &collect_path)?;
    writeln!(out, "submitted: array job {array} ({} tasks), collector job {collector}", todo.len())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_compress_to_slurm_ranges() {
        assert_eq!(ranges(&[0, 1, 2, 3, 5, 7, 8, 9]), "0-3,5,7-9");
        assert_eq!(ranges(&[4]), "4");
        assert_eq!(ranges(&[]), "");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("/x/y-z_1.yaml"), "/x/y-z_1.yaml");
    }
}
