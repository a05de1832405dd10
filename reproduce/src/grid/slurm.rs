//! `twoway slurm`: a grid as a SLURM job array, one unfinished cell per array task (`twoway run --cell
//! $SLURM_ARRAY_TASK_ID --resume`), requeued on pre-emption (SLURM's SIGTERM, or SIGUSR1 before the time
//! limit, makes the task write a checkpoint, and the requeued task continues from it), plus a collector job
//! that runs after the array (`--dependency=afterany`) and writes the table, claims, plots and status. The
//! array tasks' command line is the request's own ([`RunRequest::to_args`]). Tested against a real
//! single-node SLURM in `tests/slurm.rs`.

use super::plan;
use super::request::{RunRequest, SlurmRequest};
use anyhow::{bail, Context, Result};
use std::path::Path;
use twoway_spec::Spec;

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

/// The two scripts of a submission.
struct Scripts {
    cells: String,
    collect: String,
}

/// Writes the array's and the collector's scripts for the unfinished cells `todo`.
fn scripts(s: &SlurmRequest, run: &RunRequest, todo: &[usize], dir: &Path) -> Result<Scripts> {
    let exe = std::env::current_exe().context("cannot find the twoway executable")?;
    let grid = &run.selection.grid;
    let name =
        format!("twoway-{}", Path::new(grid).file_stem().map_or(grid.clone(), |x| x.to_string_lossy().to_string()));
    let mut head = format!("#!/bin/bash\n#SBATCH --job-name={name}\n");
    for (flag, value) in [("partition", &s.partition), ("account", &s.account), ("time", &s.time)] {
        if let Some(v) = value {
            head.push_str(&format!("#SBATCH --{flag}={v}\n"));
        }
    }
    let mut args = run.to_args();
    args.extend(["--cell".into(), "$SLURM_ARRAY_TASK_ID".into(), "--resume".into()]);
    args.extend(["--threads".into(), s.cpus_per_task.to_string()]);
    args.extend(["--device".into(), if s.gpus_per_task > 0 { "cuda".into() } else { "cpu".into() }]);
    let command: Vec<String> = args
        .iter()
        .map(|x| if x == "$SLURM_ARRAY_TASK_ID" { "\"$SLURM_ARRAY_TASK_ID\"".into() } else { quote(x) })
        .collect();
    let limit = s.array_limit.map(|k| format!("%{k}")).unwrap_or_default();
    let mut cells = head.clone();
    cells.push_str(&format!(
        "#SBATCH --array={}{limit}\n#SBATCH --cpus-per-task={}\n{}#SBATCH --output={}/logs/%A_%a.out\n\
         #SBATCH --requeue\n#SBATCH --signal=B:USR1@120\n\
         # One cell of the grid per array task; SIGTERM (pre-emption) or SIGUSR1 (120 s before the time limit)\n\
         # makes twoway write a checkpoint, and the requeued task resumes from it.\n\
         exec {} {}\n",
        if todo.is_empty() { "0".to_string() } else { ranges(todo) },
        s.cpus_per_task,
        if s.gpus_per_task > 0 { format!("#SBATCH --gpus-per-task={}\n", s.gpus_per_task) } else { String::new() },
        dir.display(),
        quote(&exe.display().to_string()),
        command.join(" ")
    ));
    let results = quote(&run.out.display().to_string());
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
    Ok(Scripts { cells, collect })
}

/// Runs `sbatch --parsable` on a script; returns the job id.
fn sbatch(extra: &[String], script: &Path) -> Result<String> {
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
}

/// Writes the scripts of a submission (and submits them with `submit`); returns what it did, in lines.
pub fn slurm(spec: &Spec, s: &SlurmRequest) -> Result<String> {
    if s.cpus_per_task == 0 {
        bail!("--cpus-per-task must be at least 1");
    }
    let resolved = plan::resolve(spec, &s.run.selection)?;
    let plan::Prepared { plan, root, .. } = plan::prepare(spec, &s.run, &resolved, true)?;
    // The lenient plan marks the cells whose result (of this configuration) is there.
    let todo: Vec<usize> = plan.iter().filter(|p| !p.done).map(|p| p.index).collect();
    let run = RunRequest { data_root: Some(root), ..s.run.clone() }.absolute()?;
    let dir = run.out.join(crate::layout::SLURM);
    std::fs::create_dir_all(dir.join("logs")).with_context(|| format!("{}: cannot create", dir.display()))?;
    let scripts = scripts(s, &run, &todo, &dir)?;
    let cells_path = dir.join("cells.sbatch");
    let collect_path = dir.join("collect.sbatch");
    crate::io::write_text(&cells_path, &scripts.cells)?;
    crate::io::write_text(&collect_path, &scripts.collect)?;
    let mut o = format!(
        "{}: {} unfinished cell(s) of {} as array tasks {}\n{}: the collector\n",
        cells_path.display(),
        todo.len(),
        plan.len(),
        if todo.is_empty() { "-".to_string() } else { ranges(&todo) },
        collect_path.display()
    );
    if !s.submit {
        return Ok(o);
    }
    if todo.is_empty() {
        o.push_str("nothing to submit: every cell is done\n");
        return Ok(o);
    }
    let array = sbatch(&[], &cells_path)?;
    let collector = sbatch(&[format!("--dependency=afterany:{array}")], &collect_path)?;
    o.push_str(&format!("submitted: array job {array} ({} tasks), collector job {collector}\n", todo.len()));
    Ok(o)
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
