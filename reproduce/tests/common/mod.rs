//! Helpers shared by the end-to-end tests of the `twoway` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Runs a tools/ script with the venv's Python once per distinct argument list and script version, into a
/// cached folder under the test target dir; `{dir}` in `args` is replaced by that folder. Concurrent tests
/// (and test binaries) share the result: each builds in its own temporary folder and the first rename wins.
pub fn tool_fixture(script: &str, args: &[&str]) -> PathBuf {
    use sha2::Digest;
    let source = std::fs::read(workspace().join("tools").join(script)).unwrap();
    let mut h = sha2::Sha256::new();
    h.update(&source);
    h.update(args.join("\u{1f}").as_bytes());
    let key: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fixtures")
        .join(format!("{}-{key}", script.trim_end_matches(".py")));
    if dir.join("done").exists() {
        return dir;
    }
    let tmp = dir
        .with_extension(format!("tmp{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], ""));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let args: Vec<String> = args.iter().map(|a| a.replace("{dir}", tmp.to_str().unwrap())).collect();
    let out = Command::new(venv_python()).arg(workspace().join("tools").join(script)).args(&args).output().unwrap();
    assert!(out.status.success(), "tools/{script} {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(tmp.join("done"), &out.stdout).unwrap();
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another test got there first; use its folder.
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(dir.join("done").exists(), "{}: fixture folder without its done marker", dir.display());
    }
    dir
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
