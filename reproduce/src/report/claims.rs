//! The paper's claims re-derived from a results folder ([`report`]: on the means, and over seeds) and the
//! claims over several seeds: each claim re-derived from each seed's results alone ("holds in k of n
//! seeds"), and, for each "Ours is best" claim, a paired t-test of Ours against the best baseline.
//!
//! Why a paired t-test: the runs of one seed share their data order, augmentation draws and head
//! initialisation across losses, so the per-seed difference Ours − baseline removes what the seed does to
//! both; the t-test on those differences is the standard small-sample test of a mean difference (it assumes
//! the differences are roughly normal, which a handful of seeds cannot check; with fewer than two seeds no
//! test is made). It is two-sided: it asks whether the gap is distinguishable from zero, in either
//! direction.

use crate::results::ResultFile;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use twoway_spec::claims::{self, Cell};
use twoway_spec::stats::{paired_t, PairedT};
use twoway_spec::{Backbone, CellKey, Dataset, Loss, Metric, Spec};

/// How often one statement held over the seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Count {
    pub text: String,
    pub holds: usize,
    pub seeds: usize,
}

/// Ours against the best baseline (by mean) in one column and metric.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Paired {
    pub dataset: Dataset,
    pub backbone: Backbone,
    pub metric: Metric,
    pub baseline: Loss,
    /// Per seed: (seed, Ours − baseline).
    pub differences: Vec<(u64, f64)>,
    /// The test; `None` with fewer than two seeds.
    pub test: Option<PairedT>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SeedClaims {
    pub seeds: Vec<u64>,
    pub counts: Vec<Count>,
    pub paired: Vec<Paired>,
    /// How far a cell moves between kernel choices alone (`numerics.yaml`): a lead within it is not a
    /// finding, however small its p-value over seeds.
    pub numerics_noise: twoway_spec::numerics::CrossTolerance,
}

/// The claims of `results` per seed (sweep variants left out).
pub fn derive(spec: &Spec, results: &[(PathBuf, ResultFile)]) -> SeedClaims {
    let mut by_seed: BTreeMap<u64, Vec<Cell>> = BTreeMap::new();
    for (_, r) in results.iter().filter(|(_, r)| r.cell.variant.is_none()) {
        for m in Metric::ALL {
            if let Some(v) = r.metric(*m) {
                by_seed.entry(r.cell.seed).or_default().push(Cell { key: r.cell.key(*m), value: v });
            }
        }
    }
    let seeds: Vec<u64> = by_seed.keys().copied().collect();
    // Each statement of each seed's claims, by its text.
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut tally = |text: String, holds: bool| {
        let e = counts.entry(text).or_insert((0, 0));
        e.0 += usize::from(holds);
        e.1 += 1;
    };
    for cells in by_seed.values() {
        let c = claims::derive(cells, |l| spec.main_way(l));
        let columns: BTreeSet<(Dataset, Backbone)> = cells
            .iter()
            .filter(|x| x.key.loss == Loss::Twoway && x.key.way == spec.main_way(Loss::Twoway))
            .map(|x| (x.key.dataset, x.key.backbone))
            .collect();
        for b in &c.best {
            for (d, bb) in &columns {
                let others = cells.iter().any(|x| {
                    x.key.dataset == *d
                        && x.key.backbone == *bb
                        && x.key.loss != Loss::Twoway
                        && x.key.metric == b.metric
                });
                if others {
                    let lost = b.exceptions.iter().any(|e| e.dataset == *d && e.backbone == *bb);
                    tally(format!("{}/{}: Ours is best on {}", d.label(), bb.label(), b.metric.label()), !lost);
                }
            }
        }
        for w in &c.ways {
            for s in &w.statements {
                let text =
                    format!("{}/{}, ways of {}: {}", w.dataset.label(), w.backbone.label(), w.loss.label(), s.text);
                tally(text, s.holds);
            }
        }
    }
    let counts = counts.into_iter().map(|(text, (holds, seeds))| Count { text, holds, seeds }).collect();

    // Paired tests: per column and metric, Ours against the baseline with the best mean.
    let value = |key: &CellKey, seed: u64| by_seed.get(&seed)?.iter().find(|c| c.key == *key).map(|c| c.value);
    let key = |d, b, loss: Loss, metric| CellKey { dataset: d, backbone: b, loss, way: spec.main_way(loss), metric };
    let mut paired = Vec::new();
    let columns: BTreeSet<(Dataset, Backbone)> =
        by_seed.values().flatten().map(|c| (c.key.dataset, c.key.backbone)).collect();
    for (d, b) in columns {
        for metric in Metric::ALL {
            let ours = key(d, b, Loss::Twoway, *metric);
            let mean = |k: &CellKey| {
                let v: Vec<f64> = seeds.iter().filter_map(|s| value(k, *s)).collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            };
            if mean(&ours).is_none() {
                continue;
            }
            let best = Loss::ALL
                .iter()
                .filter(|l| **l != Loss::Twoway)
                .filter_map(|l| mean(&key(d, b, *l, *metric)).map(|m| (*l, m)))
                .max_by(|x, y| x.1.total_cmp(&y.1));
            let Some((baseline, _)) = best else { continue };
            let other = key(d, b, baseline, *metric);
            let differences: Vec<(u64, f64)> =
                seeds.iter().filter_map(|s| Some((*s, value(&ours, *s)? - value(&other, *s)?))).collect();
            let test = paired_t(&differences.iter().map(|x| x.1).collect::<Vec<_>>());
            paired.push(Paired { dataset: d, backbone: b, metric: *metric, baseline, differences, test });
        }
    }
    SeedClaims { seeds, counts, paired, numerics_noise: spec.numerics.gate.cross_numerics_tolerance.clone() }
}

impl fmt::Display for SeedClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        writeln!(f, "Per seed ({} seed(s): {}):", self.seeds.len(), seeds.join(", "))?;
        for c in &self.counts {
            writeln!(f, "  {}: holds in {} of {} seed(s)", c.text, c.holds, c.seeds)?;
        }
        writeln!(f, "Ours against the best baseline, paired over seeds (two-sided paired t-test of Ours − baseline):")?;
        for p in &self.paired {
            let head = format!(
                "  {}/{} {}: Ours − {}",
                p.dataset.label(),
                p.backbone.label(),
                p.metric.label(),
                p.baseline.label()
            );
            match &p.test {
                None => {
                    let d = p.differences.first().map_or("n/a".to_string(), |d| format!("{:+.2}", d.1));
                    let within = p.differences.first().is_some_and(|d| d.1.abs() < self.numerics_noise.of(p.metric));
                    let caveat =
                        if within { "; within the spread of kernel choices alone (numerics.yaml)" } else { "" };
                    writeln!(f, "{head} = {d} on {} seed(s): no test below two seeds{caveat}", p.differences.len())?;
                }
                Some(t) => {
                    let verdict = if t.p < 0.05 {
                        if t.mean > 0.0 {
                            "Ours is better (p < 0.05)"
                        } else {
                            "the baseline is better (p < 0.05)"
                        }
                    } else {
                        "not distinguishable from 0 at the 0.05 level"
                    };
                    let noise = self.numerics_noise.of(p.metric);
                    let caveat = if t.mean.abs() < noise {
                        format!(
                            "; but |{:.2}| is within the {noise:.1} points a cell moves between kernel choices alone \
                             (numerics.yaml): not a finding",
                            t.mean
                        )
                    } else {
                        String::new()
                    };
                    writeln!(
                        f,
                        "{head} = {:+.2} ± {:.2} over {} seeds, 95% CI [{:+.2}, {:+.2}], t({}) = {:.2}, p = {:.3}: \
                         {verdict}{caveat}",
                        t.mean, t.sd, t.n, t.ci95.0, t.ci95.1, t.df, t.t, t.p
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// `twoway claims`: the published claims, and with a results folder the claims re-derived from it (on the
/// means over seeds) and over its seeds.
pub struct ClaimsReport {
    pub published: claims::Claims,
    /// The results folder, the claims on its means, and per seed.
    pub reproduced: Option<(PathBuf, claims::Claims, SeedClaims)>,
}

/// The published claims, and those of the results under `dir` when given.
pub fn report(spec: &Spec, dir: Option<&std::path::Path>) -> anyhow::Result<ClaimsReport> {
    let reproduced = match dir {
        Some(dir) => Some((dir, crate::results::load_dir(dir)?)),
        None => None,
    };
    Ok(report_of(spec, reproduced.as_ref().map(|(d, all)| (*d, all.as_slice()))))
}

/// The published claims, and those of `results` (already read from their folder) when given.
pub fn report_of(spec: &Spec, results: Option<(&std::path::Path, &[(PathBuf, ResultFile)])>) -> ClaimsReport {
    let reproduced = results.map(|(dir, all)| {
        let cells: Vec<Cell> =
            crate::results::aggregate(all).into_iter().map(|(key, value)| Cell { key, value }).collect();
        (dir.to_path_buf(), claims::derive(&cells, |l| spec.main_way(l)), derive(spec, all))
    });
    ClaimsReport { published: spec.published_claims(), reproduced }
}

impl ClaimsReport {
    pub fn render_text(&self) -> String {
        let mut o = self.render_reproduced();
        o.push_str(&format!("Published claims (from the poster's tables):\n{}", self.published));
        o
    }

    /// The reproduced claims alone (empty without results): what a run on a user's own data prints.
    pub fn render_reproduced(&self) -> String {
        match &self.reproduced {
            Some((dir, mean, per_seed)) => {
                format!("Reproduced claims (from {}, on the means over seeds):\n{mean}\n{per_seed}\n", dir.display())
            }
            None => String::new(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let (mean, per_seed) = match &self.reproduced {
            Some((_, m, p)) => (Some(m), Some(p)),
            None => (None, None),
        };
        serde_json::json!({"published": self.published, "reproduced": mean, "per_seed": per_seed})
    }
}
