//! `twoway metrics`: mAP@class and mAP@sample (as `twoway map`) with the thresholded metrics (CP, CR, CF1,
//! OP, OR, OF1, the per-class F1 mean) of scores against targets, at a threshold, at top-k, or at
//! thresholds tuned on a tuning split (`spec/data/metrics.yaml`, `thresholded`).

use super::common::{print_json, OutputFormat};
use crate::metrics::{run_files, Job, Map};
use anyhow::{bail, Context, Result};
use ndarray::ArrayView2;
use std::io::Write;
use std::path::{Path, PathBuf};
use twoway_reference::{
    thresholded, tune_global, tune_per_class, ApOptions, Cut, Decision, Label, MapReport, RefError, Score,
    ThresholdOptions, ThresholdReport, Tuned,
};
use twoway_spec::{Denominator, ScoreKind, Ties, Undefined, Unknowns};

#[derive(clap::Args, Debug)]
pub struct MetricsArgs {
    /// Scores, samples x classes (.npy or .json): logits, or probabilities with --score-kind probability.
    #[arg(long)]
    pub scores: PathBuf,
    /// Targets of the same shape: 1 positive, 0 negative, -1 unknown.
    #[arg(long)]
    pub targets: PathBuf,
    /// Predict the classes whose probability is at least T (default 0.5 without --top-k; with --top-k, a
    /// top-k class must pass it too).
    #[arg(long, value_name = "T", conflicts_with = "tune_scores")]
    pub threshold: Option<f64>,
    /// Predict each sample's K highest-scoring classes (ties in class order).
    #[arg(long, value_name = "K", conflicts_with = "tune_scores")]
    pub top_k: Option<usize>,
    /// What the scores are: logits (thresholded as sigmoid(logit) >= T) or probabilities.
    #[arg(long, value_enum)]
    pub score_kind: Option<ScoreKind>,
    /// Tune the threshold on these scores (a tuning split) and apply it to --scores: one threshold
    /// maximising OF1, or with --per-class one per class maximising its F1.
    #[arg(long, requires = "tune_targets")]
    pub tune_scores: Option<PathBuf>,
    /// The tuning split's targets.
    #[arg(long, requires = "tune_scores")]
    pub tune_targets: Option<PathBuf>,
    /// Tune one threshold per class (with --tune-scores).
    #[arg(long, requires = "tune_scores")]
    pub per_class: bool,
    /// Unknown (-1) labels: excluded from the counts, or taken as negatives.
    #[arg(long, value_enum)]
    pub unknown: Option<Unknowns>,
    /// A ratio whose denominator is 0 (a class never predicted): 0, skipped, or NaN.
    #[arg(long, value_enum)]
    pub undefined: Option<Undefined>,
    /// How tied scores rank in AP.
    #[arg(long, value_enum, default_value = "grouped")]
    pub ties: Ties,
    /// AP denominator: the positive count (exact) or the release's positives + 1e-8.
    #[arg(long, value_enum, default_value = "exact")]
    pub denominator: Denominator,
    /// Also report every class's AP (as `twoway map --per-class`), counts (TP, FP, FN) and, when tuned per
    /// class, its threshold.
    #[arg(long)]
    pub classes: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

/// The thresholded metrics of a decision.
struct Counted<'a> {
    decision: &'a Decision,
    opts: &'a ThresholdOptions,
}

impl Job for Counted<'_> {
    type Out = ThresholdReport;
    fn run<S: Score, L: Label>(&self, s: ArrayView2<S>, t: ArrayView2<L>) -> Result<ThresholdReport, RefError> {
        thresholded(s, t, self.decision, self.opts)
    }
}

/// The tuned thresholds: one (global) or one per class.
struct Tune<'a> {
    per_class: bool,
    default: f64,
    opts: &'a ThresholdOptions,
}

impl Job for Tune<'_> {
    type Out = Vec<Tuned>;
    fn run<S: Score, L: Label>(&self, s: ArrayView2<S>, t: ArrayView2<L>) -> Result<Vec<Tuned>, RefError> {
        if self.per_class {
            tune_per_class(s, t, self.default, self.opts)
        } else {
            Ok(vec![tune_global(s, t, self.default, self.opts)?])
        }
    }
}

/// What was computed, for printing.
struct Outcome {
    map: MapReport,
    report: ThresholdReport,
    tuned: Option<Vec<Tuned>>,
    threshold: Option<f64>,
    top_k: Option<usize>,
    opts: ThresholdOptions,
}

impl MetricsArgs {
    pub fn exec(self, out: &mut dyn Write) -> Result<()> {
        let spec = &twoway_spec::Spec::embedded().metrics.thresholded;
        let opts = ThresholdOptions {
            score_kind: self.score_kind.unwrap_or(spec.score_kind.default),
            unknown: self.unknown.unwrap_or(spec.unknown.default),
            undefined: self.undefined.unwrap_or(spec.undefined.default),
        };
        if self.top_k == Some(0) {
            bail!("--top-k 0: predict at least one class per sample (K >= 1)");
        }
        let default_t = spec.threshold.default;
        let threshold = match (self.threshold, self.top_k, &self.tune_scores) {
            (Some(t), _, _) => Some(t),
            (None, None, None) => Some(default_t),
            _ => None,
        };
        let cut = |t: f64| opts.cut(t).with_context(|| format!("--threshold {t}"));
        let tuned = match (&self.tune_scores, &self.tune_targets) {
            (Some(s), Some(t)) => {
                let job = Tune { per_class: self.per_class, default: cut(default_t)?, opts: &opts };
                Some(run_files(s, t, &job)?)
            }
            _ => None,
        };
        let map =
            run_files(&self.scores, &self.targets, &Map(ApOptions { ties: self.ties, denominator: self.denominator }))?;
        let classes = map.per_class.len();
        let decision = match (&tuned, self.top_k) {
            (Some(t), _) if !self.per_class => Decision::Threshold(Cut::One(t[0].cut)),
            (Some(t), _) => {
                if t.len() != classes {
                    let tune = self.tune_scores.as_deref().unwrap_or(Path::new(""));
                    bail!(
                        "{} has {} classes but {} has {classes}: tune on the same classes",
                        tune.display(),
                        t.len(),
                        self.scores.display()
                    );
                }
                Decision::Threshold(Cut::PerClass(t.iter().map(|t| t.cut).collect()))
            }
            (None, Some(k)) => Decision::TopK { k, cut: threshold.map(cut).transpose()?.map(Cut::One) },
            (None, None) => Decision::Threshold(Cut::One(cut(threshold.unwrap_or(default_t))?)),
        };
        let report = run_files(&self.scores, &self.targets, &Counted { decision: &decision, opts: &opts })?;
        let o = Outcome { map, report, tuned, threshold, top_k: self.top_k, opts };
        match self.format {
            OutputFormat::Json => print_json(out, &self.json(&o))?,
            OutputFormat::Text => out.write_all(self.text(&o).as_bytes())?,
        }
        Ok(())
    }

    fn json(&self, o: &Outcome) -> serde_json::Value {
        let r = &o.report;
        let mut v = serde_json::json!({
            "map_class": o.map.map_class,
            "map_sample": o.map.map_sample,
            "cp": num(r.cp), "cr": num(r.cr), "cf1": num(r.cf1),
            "op": num(r.op), "or": num(r.or), "of1": num(r.of1),
            "f1_mean": num(r.f1_mean),
            "classes_evaluated": r.classes_evaluated,
            "classes_never_predicted": r.classes_never_predicted,
            "predicted": r.predicted,
            "samples": o.map.per_sample.len(),
            "classes": o.map.per_class.len(),
            "score_kind": o.opts.score_kind,
            "unknown": o.opts.unknown,
            "undefined": o.opts.undefined,
            "ties": self.ties,
            "denominator": self.denominator,
        });
        if let Some(t) = o.threshold {
            v["threshold"] = t.into();
        }
        if let Some(k) = o.top_k {
            v["top_k"] = k.into();
        }
        match o.tuned.as_deref() {
            Some([one, ..]) if !self.per_class => {
                v["threshold"] = o.opts.probability(one.cut).into();
                v["tuning"] = serde_json::json!({"per_class": false, "cut": one.cut, "f1": one.f1});
            }
            Some(all) => {
                let p: Vec<f64> = all.iter().map(|t| o.opts.probability(t.cut)).collect();
                v["thresholds"] = p.into();
                let cuts: Vec<f64> = all.iter().map(|t| t.cut).collect();
                let f1: Vec<Option<f64>> = all.iter().map(|t| t.f1).collect();
                v["tuning"] = serde_json::json!({"per_class": true, "cuts": cuts, "f1": f1});
            }
            None => {}
        }
        if self.classes {
            let rows = r.per_class.iter().zip(&o.map.per_class);
            let rows: Vec<_> =
                rows.map(|(c, ap)| serde_json::json!({"ap": ap, "tp": c.tp, "fp": c.fp, "fn": c.fn_})).collect();
            v["per_class"] = rows.into();
        }
        v
    }

    fn text(&self, o: &Outcome) -> String {
        let (r, opts) = (&o.report, &o.opts);
        let f = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
        let (classes, samples) = (o.map.per_class.len(), o.map.per_sample.len());
        let kept = |v: &[Option<f64>]| v.iter().flatten().count();
        let mut s = format!(
            "mAP@class  {} ({} of {classes} classes with a positive)\n",
            f(o.map.map_class),
            kept(&o.map.per_class)
        );
        s += &format!(
            "mAP@sample {} ({} of {samples} samples with a positive)\n",
            f(o.map.map_sample),
            kept(&o.map.per_sample)
        );
        let on = match opts.score_kind {
            ScoreKind::Logit => "logits",
            ScoreKind::Probability => "probabilities",
        };
        let rule = match (&o.tuned, o.top_k, o.threshold) {
            (Some(t), _, _) if !self.per_class => format!(
                "threshold {:.4} tuned for OF1 on {} (score {:.4}; OF1 there {})",
                opts.probability(t[0].cut),
                self.tune_scores.as_deref().unwrap_or(Path::new("")).display(),
                t[0].cut,
                f(t[0].f1)
            ),
            (Some(t), _, _) => format!(
                "per-class thresholds tuned for each class's F1 on {} ({} of {} classes tuned, the rest at {})",
                self.tune_scores.as_deref().unwrap_or(Path::new("")).display(),
                t.iter().filter(|t| t.f1.is_some()).count(),
                t.len(),
                twoway_spec::Spec::embedded().metrics.thresholded.threshold.default
            ),
            (None, Some(k), Some(t)) => format!("top {k}, each at probability >= {t}"),
            (None, Some(k), None) => format!("top {k}"),
            (None, None, t) => format!("probability >= {}", t.unwrap_or(0.5)),
        };
        s += &format!(
            "rule: {rule} on {on}; unknown labels {}; 0/0 -> {}\n",
            opts.unknown.label(),
            opts.undefined.label()
        );
        s += &format!("CP {}  CR {}  CF1 {}\n", f(r.cp), f(r.cr), f(r.cf1));
        s += &format!("OP {}  OR {}  OF1 {}\n", f(r.op), f(r.or), f(r.of1));
        s += &format!(
            "per-class F1 mean {} ({} classes evaluated, {} never predicted; {} predictions)\n",
            f(r.f1_mean),
            r.classes_evaluated,
            r.classes_never_predicted,
            r.predicted
        );
        if self.classes {
            for (j, c) in r.per_class.iter().enumerate() {
                let at = match o.tuned.as_deref() {
                    Some(t) if self.per_class => format!(", threshold {:.4}", opts.probability(t[j].cut)),
                    _ => String::new(),
                };
                s += &format!("class {j}: AP {}, TP {} FP {} FN {}{at}\n", f(o.map.per_class[j]), c.tp, c.fp, c.fn_);
            }
        }
        s
    }
}

/// A metric for JSON: NaN (under `--undefined nan`) as the string "NaN", which JSON has no number for.
fn num(v: Option<f64>) -> serde_json::Value {
    match v {
        Some(x) if x.is_nan() => "NaN".into(),
        Some(x) => x.into(),
        None => serde_json::Value::Null,
    }
}
