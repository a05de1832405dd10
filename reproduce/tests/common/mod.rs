//! Helpers shared by the end-to-end tests of the `twoway` binary.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Runs the built `twoway` binary (without LD_LIBRARY_PATH: the rpath must do); returns (exit code,
/// stdout, stderr).
pub fn twoway(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_twoway")).args(args).env_remove("LD_LIBRARY_PATH").output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// The data root the tests share (the embedded dataset is generated there once).
pub fn data_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("twoway-data")
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The tools venv's Python (made by `make setup`); a test that needs it fails loudly without it.
pub fn venv_python() -> PathBuf {
    let p = workspace().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run `make setup` (these tests need torchvision from the tools venv)",
        p.display()
    );
    p
}

/// A folder under the test target dir, `fixtures/{name}-{key}` with `key` a hash of `key_parts`, that
/// `build` fills once (it returns what the folder's `done` marker holds). Concurrent tests (and test
/// binaries) share it: each builds in its own temporary folder and the first rename wins.
fn cached(name: &str, key_parts: &[&[u8]], build: impl FnOnce(&Path) -> Vec<u8>) -> PathBuf {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in key_parts {
        h.update(part);
    }
    let key: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures").join(format!("{name}-{key}"));
    if dir.join("done").exists() {
        return dir;
    }
    let tmp = dir
        .with_extension(format!("tmp{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], ""));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let done = build(&tmp);
    std::fs::write(tmp.join("done"), done).unwrap();
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another test got there first; use its folder.
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(dir.join("done").exists(), "{}: fixture folder without its done marker", dir.display());
    }
    dir
}

/// Runs a tools/ script with the venv's Python once per distinct argument list and script version, into a
/// cached folder (see [`cached`]); `{dir}` in `args` is replaced by that folder.
pub fn tool_fixture(script: &str, args: &[&str]) -> PathBuf {
    let source = std::fs::read(workspace().join("tools").join(script)).unwrap();
    let joined = args.join("\u{1f}");
    cached(script.trim_end_matches(".py"), &[&source[..], joined.as_bytes()], |tmp| {
        let args: Vec<String> = args.iter().map(|a| a.replace("{dir}", tmp.to_str().unwrap())).collect();
        let out = Command::new(venv_python()).arg(workspace().join("tools").join(script)).args(&args).output().unwrap();
        assert!(out.status.success(), "tools/{script} {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    })
}

/// The results folder of `cmd` (a `twoway run` without `--out`), run once per argument list and build of
/// the binary into a cached folder (see [`cached`]); its `done` marker holds the run's stdout.
pub fn run_fixture(cmd: &RunCmd) -> PathBuf {
    let bin = std::fs::metadata(env!("CARGO_BIN_EXE_twoway")).unwrap();
    let build = format!("{} {:?}", bin.len(), bin.modified().unwrap());
    let argv = cmd.argv().join("\u{1f}");
    cached("run", &[build.as_bytes(), argv.as_bytes()], |tmp| {
        let (code, stdout, stderr) = cmd.clone().out(tmp).run();
        assert_eq!(code, 0, "{cmd:?} failed:\n{stderr}");
        stdout.into_bytes()
    })
}

/// The uninterrupted embedded-ci grid with 1 thread on the shared data root (the run that makes the folder
/// generates the embedded dataset there if need be): what multi-process and SLURM runs of it must equal.
pub fn embedded_ci_reference() -> PathBuf {
    run_fixture(&RunCmd::new("embedded-ci").data_root(data_root()).threads(1))
}

/// A `twoway run` command line, its arguments in the order they are added:
/// `RunCmd::new("embedded-ci").out(&dir).threads(2).set("epochs=3").run()`.
#[derive(Debug, Clone)]
pub struct RunCmd {
    argv: Vec<String>,
}

fn utf8(arg: &OsStr) -> String {
    arg.to_str().unwrap_or_else(|| panic!("{arg:?}: not UTF-8")).to_string()
}

impl RunCmd {
    /// `twoway run --grid GRID` (a grid's name or file).
    pub fn new(grid: impl AsRef<OsStr>) -> RunCmd {
        RunCmd { argv: vec!["run".into(), "--grid".into(), utf8(grid.as_ref())] }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> RunCmd {
        self.argv.push(utf8(arg.as_ref()));
        self
    }

    pub fn args<I>(mut self, args: I) -> RunCmd
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        self.argv.extend(args.into_iter().map(|a| utf8(a.as_ref())));
        self
    }

    pub fn out(self, dir: impl AsRef<OsStr>) -> RunCmd {
        self.arg("--out").arg(dir)
    }

    pub fn data_root(self, dir: impl AsRef<OsStr>) -> RunCmd {
        self.arg("--data-root").arg(dir)
    }

    pub fn weights_dir(self, dir: impl AsRef<OsStr>) -> RunCmd {
        self.arg("--weights-dir").arg(dir)
    }

    pub fn threads(self, n: usize) -> RunCmd {
        self.arg("--threads").arg(n.to_string())
    }

    /// `--set KEY=VALUE`.
    pub fn set(self, key_value: &str) -> RunCmd {
        self.arg("--set").arg(key_value)
    }

    pub fn resume(self) -> RunCmd {
        self.arg("--resume")
    }

    /// The arguments after the binary's name.
    pub fn argv(&self) -> Vec<&str> {
        self.argv.iter().map(String::as_str).collect()
    }

    /// The command (LD_LIBRARY_PATH removed, as [`twoway`] does), to set its environment or stdio.
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_twoway"));
        c.args(&self.argv).env_remove("LD_LIBRARY_PATH");
        c
    }

    /// Runs it through [`twoway`]: (exit code, stdout, stderr).
    pub fn run(&self) -> (i32, String, String) {
        twoway(&self.argv())
    }

    /// Starts it with stdout discarded and stderr piped.
    pub fn spawn(&self) -> Child {
        self.command().stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
    }
}

/// A JSON file's contents; panics naming the file.
pub fn read_json(path: impl AsRef<Path>) -> serde_json::Value {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A torchvision backbone exported with random weights and randomised BatchNorm, plus inputs and
/// torchvision's float64 outputs (tools/export_torchvision.py): (weight file, check folder).
pub fn backbone_fixture(backbone: &str, dtype: &str, sizes: &str) -> (PathBuf, PathBuf) {
    let dir = tool_fixture(
        "export_torchvision.py",
        &[
            "--backbone",
            backbone,
            "--random-init",
            "--randomize-bn",
            "--seed",
            "7",
            "--dtype",
            dtype,
            "--out",
            "{dir}/weights.safetensors",
            "--check-dir",
            "{dir}/check",
            "--sizes",
            sizes,
        ],
    );
    (dir.join("weights.safetensors"), dir.join("check"))
}

/// Reads an .npy of any float kind and rank as f64 values with its shape.
pub fn read_npy_f64(path: &Path) -> (Vec<usize>, Vec<f64>) {
    use ndarray_npy::ReadNpyExt;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let a = match ndarray::ArrayD::<f64>::read_npy(std::io::Cursor::new(&bytes)) {
        Ok(a) => a,
        Err(_) => ndarray::ArrayD::<f32>::read_npy(std::io::Cursor::new(&bytes)).unwrap().mapv(f64::from),
    };
    (a.shape().to_vec(), a.iter().copied().collect())
}

/// Reads a u8 .npy of any rank: (shape, values).
pub fn read_npy_u8(path: &Path) -> (Vec<usize>, Vec<u8>) {
    use ndarray_npy::ReadNpyExt;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let a = ndarray::ArrayD::<u8>::read_npy(std::io::Cursor::new(&bytes)).unwrap();
    (a.shape().to_vec(), a.iter().copied().collect())
}

/// The device the device-dependent tests run on: `TWOWAY_TEST_DEVICE` (`cpu` unless `make gpu-check` sets
/// `cuda`).
pub fn test_device() -> String {
    std::env::var("TWOWAY_TEST_DEVICE").unwrap_or_else(|_| "cpu".into())
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A synthetic cell's result file under `dir` (as `twoway run` lays it out): its two final metrics, the
/// recipe it names and its numerics fingerprint (`None`: not recorded). Returns its path.
pub fn write_result(
    dir: &Path,
    cell: twoway_reproduce::results::CellId,
    (class, sample): (f64, f64),
    recipe: &str,
    numerics: Option<twoway_reproduce::numerics::Fingerprint>,
) -> PathBuf {
    use twoway_reproduce::results::{self, Epoch, Metrics, ResultFile, Versions};
    let config = serde_json::json!({"dataset": cell.dataset, "backbone": cell.backbone, "loss": cell.loss,
        "way": cell.way, "seed": cell.seed, "recipe": {"name": recipe}});
    let (c, s) = (Some(class), Some(sample));
    let r = ResultFile {
        format: results::FORMAT.into(),
        metrics: Metrics { map_class: c, map_sample: s, ..Default::default() },
        epochs: vec![Epoch { epoch: 1, train_loss: 1.0, map_class: c, map_sample: s, lr_head: 0.1, seconds: 1.0 }],
        config_hash: results::hash(&config),
        config,
        cell,
        versions: Versions { twoway: "test".into(), libtorch: "none".into() },
        device: "cpu".into(),
        threads: 2,
        wall_seconds: 1.0,
        numerics,
        tuning: None,
    };
    r.write(dir).unwrap()
}

/// The cell of (dataset, backbone, loss in its main-table way, seed).
pub fn main_cell(
    dataset: twoway_spec::Dataset,
    backbone: twoway_spec::Backbone,
    loss: twoway_spec::Loss,
    seed: u64,
) -> twoway_reproduce::results::CellId {
    let way = twoway_spec::Spec::embedded().main_way(loss);
    twoway_reproduce::results::CellId { dataset, backbone, loss, way, variant: None, seed }
}

/// A portable numerics fingerprint made on `cpu`.
pub fn portable_fingerprint(cpu: &str) -> twoway_reproduce::numerics::Fingerprint {
    twoway_reproduce::numerics::Fingerprint {
        mode: twoway_spec::Numerics::Portable,
        arch: "x86_64".into(),
        cpu: cpu.into(),
        libtorch: "2.13.0".into(),
        glibc: "2.36".into(),
        aten: "default".into(),
        onednn: "off".into(),
        nnpack: "off".into(),
        blas: "oneMKL 2024.0; CNR COMPATIBLE".into(),
        libm: "sse2".into(),
        threads: 2,
        device: "cpu".into(),
    }
}
