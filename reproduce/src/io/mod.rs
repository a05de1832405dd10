//! Files in and out. Matrices in: `.npy` (2-D; f64, f32 or integer) and JSON (nested arrays), read as f64,
//! or for mAP's scores and targets in their file's own f32 / int8 type; every error names the file, and a
//! `.npy` header is checked against the file's length before anything is allocated for it (fuzzed:
//! `fuzz/`, `tests/fuzz_regressions.rs`). Out: an f64 `.npy`, written atomically. The atomic writers
//! themselves are [`atomic`].

pub mod atomic;
pub mod csv;

pub use atomic::{create_new, sha256_file, temp_path, write_atomic, write_text};

use anyhow::{bail, Context, Result};
use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::io::Cursor;
use std::path::Path;

/// Reads a 2-D matrix from a `.npy` or `.json` file, as f64.
pub fn read_matrix(path: &Path) -> Result<Array2<f64>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    parse_matrix(&bytes, path)
}

/// Parses the bytes of a `.npy` or `.json` matrix file (`path` names it in errors).
pub fn parse_matrix(bytes: &[u8], path: &Path) -> Result<Array2<f64>> {
    let is_npy = bytes.starts_with(b"\x93NUMPY");
    let m = if is_npy {
        read_npy(bytes).with_context(|| format!("{}: not a 2-D float or integer .npy array", path.display()))?
    } else if path.extension().is_some_and(|e| e == "json") || bytes.first().is_some_and(|b| *b == b'[') {
        read_json(bytes).with_context(|| format!("{}: malformed JSON matrix", path.display()))?
    } else {
        bail!("{}: neither a .npy file nor a JSON array (nested lists of numbers)", path.display());
    };
    if m.nrows() == 0 || m.ncols() == 0 {
        bail!("{}: empty matrix of shape {:?}", path.display(), m.dim());
    }
    Ok(m)
}

/// Checks a `.npy` file's framing before any reader allocates for it: the header length within the file,
/// and the data its shape and dtype announce present in full (a crafted header must not make a reader ask
/// for gigabytes).
fn check_npy_frame(bytes: &[u8]) -> Result<()> {
    let major = *bytes.get(6).context("truncated .npy header")?;
    let (len, start): (usize, usize) = match major {
        1 => {
            (u16::from_le_bytes([bytes.get(8).copied().unwrap_or(0), bytes.get(9).copied().unwrap_or(0)]) as usize, 10)
        }
        2 | 3 => {
            let b = bytes.get(8..12).context("truncated .npy header")?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => bail!(".npy format version {v} is not 1, 2 or 3"),
    };
    let end =
        start.checked_add(len).filter(|e| *e <= bytes.len()).context("the .npy header is longer than the file")?;
    let header = std::str::from_utf8(&bytes[start..end]).context("the .npy header is not text")?;
    let field = |key: &str| header.split_once(key).map(|(_, rest)| rest);
    let descr = field("'descr':").and_then(|r| r.split('\'').nth(1)).context("the .npy header has no descr")?;
    let item: usize = descr.trim_start_matches(['<', '>', '|', '=']).get(1..).and_then(|d| d.parse().ok()).unwrap_or(1);
    let shape = field("'shape':").and_then(|r| r.split_once('(')).and_then(|(_, r)| r.split_once(')')).map(|(s, _)| s);
    let shape = shape.context("the .npy header has no shape")?;
    let mut count: usize = 1;
    for d in shape.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let d: usize = d.parse().with_context(|| format!("shape entry `{d}` is not a size"))?;
        count = count.checked_mul(d).context("the .npy shape overflows")?;
    }
    let need = count.checked_mul(item.max(1)).context("the .npy shape overflows")?;
    if need > bytes.len() - end {
        bail!("the .npy header announces {need} data bytes, the file holds {}", bytes.len() - end);
    }
    Ok(())
}

fn read_npy(bytes: &[u8]) -> Result<Array2<f64>> {
    check_npy_frame(bytes)?;
    macro_rules! attempt {
        ($($t:ty),*) => {
            $(if let Ok(a) = Array2::<$t>::read_npy(Cursor::new(bytes)) {
                return Ok(a.mapv(|v| v as f64));
            })*
        };
    }
    if let Ok(a) = Array2::<f64>::read_npy(Cursor::new(bytes)) {
        return Ok(a);
    }
    attempt!(f32, i64, i32, i16, i8, u8);
    // Report the f64 attempt's error: it names the shape or dtype problem.
    Array2::<f64>::read_npy(Cursor::new(bytes)).map_err(anyhow::Error::from)
}

/// A score matrix as its file holds it: an f32 `.npy` stays f32; any other file is read as f64.
pub enum Scores {
    F64(Array2<f64>),
    F32(Array2<f32>),
}

/// A target matrix as its file holds it: an int8 or f32 `.npy` stays as it is; any other file is read as
/// f64.
pub enum Targets {
    F64(Array2<f64>),
    F32(Array2<f32>),
    I8(Array2<i8>),
}

impl Scores {
    pub fn dim(&self) -> (usize, usize) {
        match self {
            Scores::F64(a) => a.dim(),
            Scores::F32(a) => a.dim(),
        }
    }
}

impl Targets {
    pub fn dim(&self) -> (usize, usize) {
        match self {
            Targets::F64(a) => a.dim(),
            Targets::F32(a) => a.dim(),
            Targets::I8(a) => a.dim(),
        }
    }
}

/// Reads a 2-D `.npy` of element type `T` when the file holds exactly that type (and is not empty).
fn read_npy_as<T: ndarray_npy::ReadableElement>(bytes: &[u8]) -> Option<Array2<T>> {
    if !bytes.starts_with(b"\x93NUMPY") || check_npy_frame(bytes).is_err() {
        return None;
    }
    Array2::<T>::read_npy(Cursor::new(bytes)).ok().filter(|a| a.nrows() > 0 && a.ncols() > 0)
}

/// Reads a score matrix (`.npy` or `.json`), keeping an f32 `.npy` in f32.
pub fn read_scores(path: &Path) -> Result<Scores> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    parse_scores(&bytes, path)
}

/// Parses the bytes of a score matrix file (`path` names it in errors), keeping an f32 `.npy` in f32.
pub fn parse_scores(bytes: &[u8], path: &Path) -> Result<Scores> {
    if let Some(a) = read_npy_as::<f32>(bytes) {
        return Ok(Scores::F32(a));
    }
    parse_matrix(bytes, path).map(Scores::F64)
}

/// Reads a target matrix (`.npy` or `.json`), keeping an int8 or f32 `.npy` as it is.
pub fn read_targets(path: &Path) -> Result<Targets> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    parse_targets(&bytes, path)
}

/// Parses the bytes of a target matrix file (`path` names it in errors), keeping an int8 or f32 `.npy`
/// as it is.
pub fn parse_targets(bytes: &[u8], path: &Path) -> Result<Targets> {
    if let Some(a) = read_npy_as::<i8>(bytes) {
        return Ok(Targets::I8(a));
    }
    if let Some(a) = read_npy_as::<f32>(bytes) {
        return Ok(Targets::F32(a));
    }
    parse_matrix(bytes, path).map(Targets::F64)
}

fn read_json(bytes: &[u8]) -> Result<Array2<f64>> {
    let rows: Vec<Vec<f64>> = serde_json::from_slice(bytes)?;
    let cols = rows.first().map_or(0, Vec::len);
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != cols) {
        bail!("row {i} has {} entries but row 0 has {cols}", r.len());
    }
    Ok(Array2::from_shape_vec((rows.len(), cols), rows.concat())?)
}

/// Writes an f64 `.npy` atomically.
pub fn write_npy(path: &Path, m: &Array2<f64>) -> Result<()> {
    write_atomic(path, |f| {
        m.write_npy(std::io::BufWriter::new(f)).with_context(|| format!("{}: cannot write", path.display()))
    })
}
