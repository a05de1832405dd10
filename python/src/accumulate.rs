//! The streaming accumulator behind `twoway.metrics.MeanAP`: every batch's scores and targets appended
//! once to one buffer each (scores in the batches' float type, targets as int8), validated on the way
//! in; mAP computed over the buffers by the engine of `twoway map`.

use crate::metrics::{options, to_python, PyReport, Scores, Targets};
use ndarray::{ArrayView2, Axis};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use twoway_reference::{evaluate_as, Label, RefError, Score};

/// The scores held so far: f32 until a float64 batch arrives (then widened, exactly, to f64).
#[derive(Clone)]
enum Held {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// The bytes of a pickled accumulator start with this.
const MAGIC: &[u8; 8] = b"twmeanap";

#[pyclass(module = "twoway._native")]
#[derive(Clone)]
pub struct Accumulator {
    classes: usize,
    scores: Held,
    targets: Vec<i8>,
    rows: usize,
    updates: usize,
}

/// A batch's first bad entry, as the engine's error (row and column within the batch). The common case,
/// a clean batch, is one pass of branch-free reductions over contiguous memory.
fn check_batch<S: Score, L: Label>(s: &ArrayView2<S>, t: &ArrayView2<L>) -> Result<(), RefError> {
    let clean = match (s.as_slice(), t.as_slice()) {
        (Some(s), Some(t)) => {
            s.iter().fold(true, |ok, v| ok & v.is_finite()) && t.iter().fold(true, |ok, l| ok & l.is_valid())
        }
        _ => false,
    };
    if clean {
        return Ok(());
    }
    for ((row, col), v) in s.indexed_iter() {
        if !v.is_finite() {
            return Err(RefError::NonFinite { what: "scores", row, col, value: v.widen() });
        }
    }
    for ((row, col), l) in t.indexed_iter() {
        if !l.is_valid() {
            return Err(RefError::BadLabel { row, col, value: l.value() });
        }
    }
    Ok(())
}

/// A valid label as int8, without a branch: 1, 0 or -1.
#[inline(always)]
fn label_i8<L: Label>(l: L) -> i8 {
    let (pos, neg) = (l.is_positive() as i8, l.is_negative() as i8);
    pos - (1 - pos - neg)
}

impl Accumulator {
    fn append<S: Score, L: Label>(&mut self, s: ArrayView2<S>, t: ArrayView2<L>) {
        let is_f32 = std::mem::size_of::<S>() == 4;
        if let (Held::F32(h), false) = (&self.scores, is_f32) {
            self.scores = Held::F64(h.iter().map(|&v| v as f64).collect());
        }
        match &mut self.scores {
            Held::F64(h) => extend(h, &s, |v| v.widen()),
            Held::F32(h) => extend(h, &s, |v| v.widen() as f32),
        }
        extend(&mut self.targets, &t, |l| label_i8(l));
        self.rows += s.len_of(Axis(0));
    }

    fn held_bytes(&self) -> usize {
        let scores = match &self.scores {
            Held::F32(h) => 4 * h.capacity(),
            Held::F64(h) => 8 * h.capacity(),
        };
        scores + self.targets.capacity()
    }
}

/// Appends a matrix's entries, row-major, converted by `f` (a copy loop over contiguous memory when the
/// matrix is in standard layout).
fn extend<T: Copy, U>(h: &mut Vec<U>, m: &ArrayView2<T>, f: impl Fn(T) -> U) {
    match m.as_slice() {
        Some(slice) => h.extend(slice.iter().map(|&v| f(v))),
        None => h.extend(m.iter().map(|&v| f(v))),
    }
}

#[pymethods]
impl Accumulator {
    #[new]
    #[pyo3(signature = (num_classes, capacity=0))]
    fn new(num_classes: usize, capacity: usize) -> PyResult<Self> {
        if num_classes == 0 {
            return Err(PyValueError::new_err("num_classes=0: give the number of classes (the scores' columns)"));
        }
        let n = capacity.saturating_mul(num_classes);
        Ok(Accumulator {
            classes: num_classes,
            scores: Held::F32(Vec::with_capacity(n)),
            targets: Vec::with_capacity(n),
            rows: 0,
            updates: 0,
        })
    }

    /// Validates the batch (shape, finite scores, labels in {-1, 0, 1}) and appends it; nothing is
    /// appended when it is refused.
    fn update(&mut self, py: Python<'_>, scores: &Bound<'_, PyAny>, targets: &Bound<'_, PyAny>) -> PyResult<()> {
        let (s, t) = (Scores::extract(scores, "scores")?, Targets::extract(targets)?);
        let update = self.updates;
        let (rows_before, classes) = (self.rows, self.classes);
        let checked: PyResult<()> = crate::metrics::with_views!(&s, &t, |sv, tv| {
            if sv.dim() != tv.dim() {
                return Err(crate::value_error(
                    RefError::ShapeMismatch { logits: sv.dim(), targets: tv.dim() },
                    "scores",
                ));
            }
            if sv.ncols() != classes {
                return Err(PyValueError::new_err(format!(
                    "scores has shape ({}, {}) but this MeanAP has num_classes={classes}",
                    sv.nrows(),
                    sv.ncols()
                )));
            }
            py.detach(|| check_batch(&sv, &tv)).map_err(|e| {
                let e = crate::value_error(e, "scores");
                PyValueError::new_err(format!(
                    "update {update} (samples {rows_before} to {} of the accumulator): {}",
                    rows_before + sv.nrows().max(1) - 1,
                    e.value(py)
                ))
            })?;
            py.detach(|| self.append(sv, tv));
            Ok(())
        });
        checked?;
        self.updates += 1;
        Ok(())
    }

    /// (map_class, map_sample, per_class, per_sample) of everything accumulated.
    fn compute<'py>(&self, py: Python<'py>, ties: &str, denominator: &str) -> PyResult<PyReport<'py>> {
        let opts = options(ties, denominator)?;
        if self.rows == 0 {
            return Err(PyValueError::new_err("MeanAP.compute(): no sample yet; call update(scores, targets) first"));
        }
        let shape = (self.rows, self.classes);
        let t = ArrayView2::from_shape(shape, &self.targets).expect("rows x classes entries");
        let r = match &self.scores {
            Held::F32(h) => py.detach(|| evaluate_as(ArrayView2::from_shape(shape, h).expect("shape"), t, opts)),
            Held::F64(h) => py.detach(|| evaluate_as(ArrayView2::from_shape(shape, h).expect("shape"), t, opts)),
        };
        Ok(to_python(py, r.map_err(|e| crate::value_error(e, "scores"))?))
    }

    /// Appends another accumulator's samples (after this one's).
    fn merge(&mut self, other: &Accumulator) -> PyResult<()> {
        if other.classes != self.classes {
            return Err(PyValueError::new_err(format!(
                "merge: this MeanAP has num_classes={} and the other {}",
                self.classes, other.classes
            )));
        }
        let shape = (other.rows, other.classes);
        let t = ArrayView2::from_shape(shape, &other.targets).expect("shape");
        match &other.scores {
            Held::F32(h) => self.append(ArrayView2::from_shape(shape, h).expect("shape"), t),
            Held::F64(h) => self.append(ArrayView2::from_shape(shape, h).expect("shape"), t),
        }
        self.updates += other.updates;
        Ok(())
    }

    fn reset(&mut self) {
        let keep = Accumulator::new(self.classes, 0).expect("classes > 0");
        *self = keep;
    }

    fn copy(&self) -> Self {
        self.clone()
    }

    #[getter]
    fn num_classes(&self) -> usize {
        self.classes
    }

    #[getter]
    fn num_samples(&self) -> usize {
        self.rows
    }

    /// "float32" or "float64": the type the scores are held in.
    #[getter]
    fn dtype(&self) -> &'static str {
        match self.scores {
            Held::F32(_) => "float32",
            Held::F64(_) => "float64",
        }
    }

    /// Bytes allocated for the scores and targets.
    #[getter]
    fn nbytes(&self) -> usize {
        self.held_bytes()
    }

    /// The accumulator as bytes (for pickling): magic, classes, rows, updates, dtype, scores, targets.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let mut b = Vec::with_capacity(40 + self.held_bytes());
        b.extend_from_slice(MAGIC);
        for n in [self.classes, self.rows, self.updates] {
            b.extend_from_slice(&(n as u64).to_le_bytes());
        }
        match &self.scores {
            Held::F32(h) => {
                b.push(4);
                h.iter().for_each(|v| b.extend_from_slice(&v.to_le_bytes()));
            }
            Held::F64(h) => {
                b.push(8);
                h.iter().for_each(|v| b.extend_from_slice(&v.to_le_bytes()));
            }
        }
        b.extend(self.targets.iter().map(|&t| t as u8));
        PyBytes::new(py, &b)
    }

    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        let bad = |why: &str| PyValueError::new_err(format!("not a pickled MeanAP: {why}"));
        if data.len() < 33 || &data[..8] != MAGIC {
            return Err(bad("missing header"));
        }
        let word = |i: usize| u64::from_le_bytes(data[8 + 8 * i..16 + 8 * i].try_into().expect("8 bytes")) as usize;
        let (classes, rows, updates, width) = (word(0), word(1), word(2), data[32] as usize);
        let n = rows.checked_mul(classes).ok_or_else(|| bad("sizes overflow"))?;
        let body = &data[33..];
        if classes == 0 || !matches!(width, 4 | 8) || body.len() != n * (width + 1) {
            return Err(bad("sizes do not match"));
        }
        let (s, t) = body.split_at(n * width);
        let scores = match width {
            4 => Held::F32(s.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4"))).collect()),
            _ => Held::F64(s.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8"))).collect()),
        };
        let targets: Vec<i8> = t.iter().map(|&v| v as i8).collect();
        if targets.iter().any(|v| !(-1..=1).contains(v)) {
            return Err(bad("a target outside {-1, 0, 1}"));
        }
        Ok(Accumulator { classes, scores, targets, rows, updates })
    }

    fn __len__(&self) -> usize {
        self.rows
    }

    fn __repr__(&self) -> String {
        format!("MeanAP(num_classes={}, samples={}, dtype={})", self.classes, self.rows, self.dtype())
    }
}
