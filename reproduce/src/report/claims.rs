//! The paper's claims re-derived from a results folder ([`report`]: on the means, and over seeds) and the
//! claims over several seeds: each claim re-derived from each seed's results alone ("holds in k of n
//! seeds"), and, for each "Ours is best" claim, a paired t-test of Ours against every baseline.
//!
//! Why a paired t-test: the runs of one seed share their data order, augmentation draws and head
//! initialisation across losses, so the per-seed difference Ours − baseline removes what the seed does to
//! both; the t-test on those differences is the standard small-sample test of a mean difference (it assumes
//! the differences are roughly normal, which a handful of seeds cannot check; with fewer than two seeds no
//! test is made). It is two-sided: it asks whether the gap is distinguishable from zero, in either
//! direction. "Ours is best" is a claim against every baseline at once, so each column and metric tests
//! Ours against each baseline and adjusts the p-values for their number (Holm), and the claim is stated
//! by its weakest comparison.
//!
//! Like with like: a mean, a ranking or a test only uses the seeds every compared cell has; where a cell
//! has more, the report says which were left out. A lead within its column's kernel spread
//! ([`super::noise`]: measured by `twoway noise`, or numerics.yaml's for the columns it covers) is no
//! finding, whatever its p-value; a column without a known spread gets no caveat, and a line saying so.

use super::noise::{self, Applied, Yardsticks};
use crate::results::{ResultFile, Summary};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use twoway_spec::claims::{self, Cell};
use twoway_spec::stats::{holm, paired_t, PairedT};
use twoway_spec::{Backbone, CellKey, Dataset, Loss, Metric, Spec};

/// The level of the tests (after Holm's adjustment).
pub const ALPHA: f64 = 0.05;

/// How often one statement held over the seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Count {
    pub text: String,
    pub holds: usize,
    pub seeds: usize,
}

/// Ours against one baseline, over the seeds both have.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    pub baseline: Loss,
    /// Per seed both have: (seed, Ours − baseline).
    pub differences: Vec<(u64, f64)>,
    /// The test; `None` with fewer than two shared seeds.
    pub test: Option<PairedT>,
    /// Its p-value adjusted over the column and metric's comparisons (Holm); `None` without a test.
    pub p_holm: Option<f64>,
    /// The mean difference is smaller than the column's kernel spread (false when the spread is unknown).
    pub within_noise: bool,
}

impl Comparison {
    fn mean(&self) -> Option<f64> {
        (!self.differences.is_empty())
            .then(|| self.differences.iter().map(|d| d.1).sum::<f64>() / self.differences.len() as f64)
    }
}

/// What the comparisons of a column and metric say of "Ours is best".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Ahead of every baseline, each at a Holm-adjusted p below [`ALPHA`], each lead outside the kernel spread.
    OursBest,
    /// As above, but a lead is within the column's kernel spread: not a finding.
    WithinNoise,
    /// A baseline is ahead at a Holm-adjusted p below [`ALPHA`].
    BaselineBetter,
    /// Neither: a comparison is not distinguishable from 0, or has no test.
    Undecided,
}

/// Ours against every baseline in one column and metric.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Paired {
    pub dataset: Dataset,
    pub backbone: Backbone,
    pub metric: Metric,
    /// The baseline with the best mean over the seeds it shares with Ours.
    pub baseline: Loss,
    pub comparisons: Vec<Comparison>,
    pub verdict: Verdict,
    /// The comparison the verdict rests on (the largest adjusted p, or the baseline ahead).
    pub weakest: Loss,
    /// The column's kernel spread, when known.
    pub noise: Option<Applied>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SeedClaims {
    pub seeds: Vec<u64>,
    pub counts: Vec<Count>,
    pub paired: Vec<Paired>,
    /// The columns whose kernel spread is not known, each with the command that measures it.
    pub unmeasured: Vec<String>,
}

/// Each result's values of `metrics`, per seed (sweep variants left out).
fn by_seed(results: &[(PathBuf, ResultFile)], metrics: &[Metric]) -> BTreeMap<u64, Vec<Cell>> {
    let mut by_seed: BTreeMap<u64, Vec<Cell>> = BTreeMap::new();
    for (_, r) in results.iter().filter(|(_, r)| r.cell.variant.is_none()) {
        for m in metrics {
            if let Some(v) = r.metric(*m) {
                by_seed.entry(r.cell.seed).or_default().push(Cell { key: r.cell.key(*m), value: v });
            }
        }
    }
    by_seed
}

/// The claims of `results` on `metrics` per seed and paired over seeds; `yardsticks` gives each column's
/// kernel spread (measured for mAP only: the thresholded metrics get none) and `root` names the folder in
/// the command that measures a missing one.
pub fn derive(
    spec: &Spec,
    results: &[(PathBuf, ResultFile)],
    yardsticks: &Yardsticks,
    root: &Path,
    metrics: &[Metric],
) -> SeedClaims {
    let by_seed = by_seed(results, metrics);
    let seeds: Vec<u64> = by_seed.keys().copied().collect();
    let counts = counts(spec, &by_seed, metrics);
    let value = |key: &CellKey, seed: u64| by_seed.get(&seed)?.iter().find(|c| c.key == *key).map(|c| c.value);
    let key = |d, b, loss: Loss, metric| CellKey { dataset: d, backbone: b, loss, way: spec.main_way(loss), metric };
    let mut paired = Vec::new();
    let mut unmeasured = Vec::new();
    let columns: BTreeSet<(Dataset, Backbone)> =
        by_seed.values().flatten().map(|c| (c.key.dataset, c.key.backbone)).collect();
    for (d, b) in columns {
        let spread = yardsticks.of(d, b);
        let mut any = false;
        for metric in metrics {
            let ours = key(d, b, Loss::Twoway, *metric);
            let differences = |l: Loss| -> Vec<(u64, f64)> {
                let other = key(d, b, l, *metric);
                seeds.iter().filter_map(|s| Some((*s, value(&ours, *s)? - value(&other, *s)?))).collect()
            };
            let Some(p) = compare_column(d, b, *metric, differences, spread.as_ref()) else { continue };
            any = true;
            paired.push(p);
        }
        if any && spread.is_none() {
            unmeasured.push(format!(
                "{}/{} (recipe {}): kernel spread not measured, so no lead there is checked against it; `{}` \
                 measures it (GRID: the grid these results came from)",
                d.label(),
                b.label(),
                yardsticks.recipes(d, b).join(", "),
                noise::how_to_measure(d, b, root, &yardsticks.recipes(d, b))
            ));
        }
    }
    SeedClaims { seeds, counts, paired, unmeasured }
}

/// Ours against every baseline of one column and metric (`differences(baseline)`: per shared seed, Ours −
/// baseline), Holm-adjusted, with its verdict; `None` when no baseline shares a seed with Ours.
fn compare_column(
    dataset: Dataset,
    backbone: Backbone,
    metric: Metric,
    differences: impl Fn(Loss) -> Vec<(u64, f64)>,
    spread: Option<&Applied>,
) -> Option<Paired> {
    let mut comparisons: Vec<Comparison> = Loss::ALL
        .iter()
        .filter(|l| **l != Loss::Twoway)
        .filter_map(|l| {
            let differences = differences(*l);
            // A baseline (or Ours) that is not there, or has no seed in common, is not compared.
            (!differences.is_empty()).then(|| {
                let test = paired_t(&differences.iter().map(|x| x.1).collect::<Vec<_>>());
                Comparison { baseline: *l, differences, test, p_holm: None, within_noise: false }
            })
        })
        .collect();
    if comparisons.is_empty() {
        return None;
    }
    let tested: Vec<usize> = (0..comparisons.len()).filter(|i| comparisons[*i].test.is_some()).collect();
    let adjusted = holm(&tested.iter().map(|i| comparisons[*i].test.unwrap().p).collect::<Vec<_>>());
    for (i, p) in tested.iter().zip(adjusted) {
        comparisons[*i].p_holm = Some(p);
    }
    for c in &mut comparisons {
        c.within_noise = spread.and_then(|s| s.points.of(metric)).is_some_and(|s| c.mean().unwrap_or(0.0).abs() < s);
    }
    // The best baseline: by its mean over the seeds it shares with Ours (Ours − baseline smallest).
    let baseline = comparisons
        .iter()
        .min_by(|x, y| x.mean().unwrap_or(0.0).total_cmp(&y.mean().unwrap_or(0.0)))
        .map(|c| c.baseline)
        .expect("non-empty");
    let (verdict, weakest) = verdict_of(&comparisons);
    Some(Paired { dataset, backbone, metric, baseline, comparisons, verdict, weakest, noise: spread.cloned() })
}

/// How often each statement of the claims holds over the seeds, each seed's claims derived from its cells.
fn counts(spec: &Spec, by_seed: &BTreeMap<u64, Vec<Cell>>, metrics: &[Metric]) -> Vec<Count> {
    // Each statement of each seed's claims, by its text.
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut tally = |text: String, holds: bool| {
        let e = counts.entry(text).or_insert((0, 0));
        e.0 += usize::from(holds);
        e.1 += 1;
    };
    for cells in by_seed.values() {
        let c = claims::derive_for(cells, |l| spec.main_way(l), metrics);
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
    counts.into_iter().map(|(text, (holds, seeds))| Count { text, holds, seeds }).collect()
}

/// The verdict of one column and metric, and the comparison it rests on.
fn verdict_of(comparisons: &[Comparison]) -> (Verdict, Loss) {
    let significant = |c: &Comparison| c.p_holm.is_some_and(|p| p < ALPHA);
    // A baseline ahead beyond doubt settles it against Ours (the one with the smallest adjusted p).
    let ahead = comparisons
        .iter()
        .filter(|c| significant(c) && c.mean().unwrap_or(0.0) < 0.0)
        .min_by(|x, y| x.p_holm.unwrap_or(1.0).total_cmp(&y.p_holm.unwrap_or(1.0)));
    if let Some(c) = ahead {
        return (Verdict::BaselineBetter, c.baseline);
    }
    // Else the claim stands or falls with its weakest comparison: no test first, then the largest adjusted
    // p, then the smallest lead.
    let weakest = comparisons
        .iter()
        .max_by(|x, y| {
            let px = x.p_holm.unwrap_or(f64::INFINITY);
            let py = y.p_holm.unwrap_or(f64::INFINITY);
            px.total_cmp(&py).then(y.mean().unwrap_or(0.0).total_cmp(&x.mean().unwrap_or(0.0)))
        })
        .expect("non-empty");
    let all = comparisons.iter().all(|c| significant(c) && c.mean().unwrap_or(0.0) > 0.0);
    let verdict = if !all {
        Verdict::Undecided
    } else if let Some(c) = comparisons
        .iter()
        .filter(|c| c.within_noise)
        .min_by(|x, y| x.mean().unwrap_or(0.0).total_cmp(&y.mean().unwrap_or(0.0)))
    {
        return (Verdict::WithinNoise, c.baseline);
    } else {
        Verdict::OursBest
    };
    (verdict, weakest.baseline)
}

/// `+1.23` with a negative zero written as `+0.00`.
pub fn signed(v: f64) -> String {
    let s = format!("{v:+.2}");
    if s == "-0.00" {
        "+0.00".into()
    } else {
        s
    }
}

fn seeds_text(d: &[(u64, f64)]) -> String {
    d.iter().map(|x| x.0.to_string()).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for SeedClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        writeln!(f, "Per seed ({} seed(s): {}):", self.seeds.len(), seeds.join(", "))?;
        for c in &self.counts {
            writeln!(f, "  {}: holds in {} of {} seed(s)", c.text, c.holds, c.seeds)?;
        }
        writeln!(
            f,
            "Ours against every baseline, paired over the seeds both have (two-sided paired t-tests; Holm-adjusted \
             over the baselines of a column and metric):"
        )?;
        for p in &self.paired {
            let noise = match &p.noise {
                Some(n) => match n.points.of(p.metric) {
                    Some(points) => format!("kernel spread {points:.2} points, {}", n.detail),
                    None => "kernel spread not measured for this metric".into(),
                },
                None => "kernel spread not measured".into(),
            };
            writeln!(f, "  {}/{} {} ({noise}):", p.dataset.label(), p.backbone.label(), p.metric.label())?;
            for c in &p.comparisons {
                let head = format!("    Ours − {}", c.baseline.label());
                let caveat = if c.within_noise { "; within the column's kernel spread: not a finding" } else { "" };
                match &c.test {
                    None => {
                        let d = c.mean().map_or("n/a".to_string(), signed);
                        writeln!(
                            f,
                            "{head} = {d} on {} seed(s) ({}): no test below two shared seeds{caveat}",
                            c.differences.len(),
                            seeds_text(&c.differences)
                        )?;
                    }
                    Some(t) => {
                        let tt = if t.t.is_finite() { format!("{:.2}", t.t) } else { format!("{}", t.t) };
                        writeln!(
                            f,
                            "{head} = {} ± {:.2} over {} seeds ({}), 95% CI [{}, {}], t({}) = {tt}, p = {:.3}, Holm p = \
                             {:.3}{caveat}",
                            signed(t.mean),
                            t.sd,
                            t.n,
                            seeds_text(&c.differences),
                            signed(t.ci95.0),
                            signed(t.ci95.1),
                            t.df,
                            t.p,
                            c.p_holm.unwrap_or(f64::NAN)
                        )?;
                    }
                }
            }
            writeln!(f, "    => {}", verdict_text(p))?;
        }
        for u in &self.unmeasured {
            writeln!(f, "  {u}")?;
        }
        Ok(())
    }
}

/// The verdict of a column and metric in a sentence.
pub fn verdict_text(p: &Paired) -> String {
    let w = p.comparisons.iter().find(|c| c.baseline == p.weakest).expect("the weakest is compared");
    let lead = w.mean().map_or("n/a".to_string(), signed);
    let holm = w.p_holm.map_or("no test".to_string(), |q| format!("Holm p = {q:.3}"));
    let n = p.comparisons.len();
    match p.verdict {
        Verdict::OursBest => format!(
            "Ours is best: ahead of all {n} baseline(s) at the {ALPHA} level, the weakest lead over {} ({lead}, {holm})",
            w.baseline.label()
        ),
        Verdict::WithinNoise => format!(
            "Ours is ahead of all {n} baseline(s) at the {ALPHA} level, but its lead over {} ({lead}) is within the \
             column's kernel spread ({:.2} points): not a finding",
            w.baseline.label(),
            p.noise.as_ref().and_then(|s| s.points.of(p.metric)).unwrap_or(0.0)
        ),
        Verdict::BaselineBetter => {
            format!("{} is better than Ours ({lead} for Ours, {holm}): Ours is not best", w.baseline.label())
        }
        Verdict::Undecided if w.test.is_none() => format!(
            "not settled: Ours − {} ({lead}) has no test below two shared seeds",
            w.baseline.label()
        ),
        Verdict::Undecided => format!(
            "not settled: Ours − {} ({lead}, {holm}) is the weakest of {n} comparison(s), not distinguishable from \
             0 at the {ALPHA} level",
            w.baseline.label()
        ),
    }
}

/// Each compared group's cells as means over the seeds all of the group's cells have, and a note for each
/// group where a cell had more (or where no seed is shared, and the group is left out).
fn like_with_like<G: Ord + Clone>(
    summaries: &BTreeMap<CellKey, Summary>,
    group_of: impl Fn(&CellKey) -> Option<G>,
    describe: impl Fn(&G) -> String,
    notes: &mut Vec<String>,
) -> Vec<Cell> {
    let mut groups: BTreeMap<G, Vec<(&CellKey, &Summary)>> = BTreeMap::new();
    for (k, s) in summaries {
        if let Some(g) = group_of(k) {
            groups.entry(g).or_default().push((k, s));
        }
    }
    let mut out = Vec::new();
    for (g, cells) in groups {
        let sets: Vec<BTreeSet<u64>> = cells.iter().map(|(_, s)| s.values.iter().map(|v| v.0).collect()).collect();
        let common: BTreeSet<u64> = sets.iter().skip(1).fold(sets[0].clone(), |a, b| &a & b);
        let extra: Vec<String> = cells
            .iter()
            .zip(&sets)
            .filter(|(_, set)| **set != common)
            .map(|((k, _), set)| {
                let left: Vec<String> = set.difference(&common).map(u64::to_string).collect();
                let way = k.way.map(|w| format!(" ({w})")).unwrap_or_default();
                format!("{}{way} seed(s) {}", k.loss.label(), left.join(", "))
            })
            .collect();
        let list: Vec<String> = common.iter().map(u64::to_string).collect();
        if common.is_empty() {
            notes.push(format!("{}: no seed that every compared cell has: no claim on the means", describe(&g)));
            continue;
        }
        if !extra.is_empty() {
            notes.push(format!(
                "{}: means over seed(s) {} (every compared cell has them); left out: {}",
                describe(&g),
                list.join(", "),
                extra.join("; ")
            ));
        }
        for (k, s) in cells {
            let v: Vec<f64> = s.values.iter().filter(|v| common.contains(&v.0)).map(|v| v.1).collect();
            out.push(Cell { key: *k, value: v.iter().sum::<f64>() / v.len() as f64 });
        }
    }
    out
}

/// The claims on the means: "Ours is best" over the main-table cells of each column and metric, the ways
/// claims over each loss's ways, each on the seeds its compared cells share; and the notes on seeds left out.
/// "Ours is best" is derived on each of `metrics`, the ways claims on mAP.
pub fn on_means(spec: &Spec, results: &[(PathBuf, ResultFile)], metrics: &[Metric]) -> (claims::Claims, Vec<String>) {
    let all = crate::results::summarize(results);
    let of = |keep: &dyn Fn(Metric) -> bool| -> BTreeMap<CellKey, Summary> {
        all.iter().filter(|(k, _)| keep(k.metric)).map(|(k, s)| (*k, s.clone())).collect()
    };
    let (selected, map) = (of(&|m| metrics.contains(&m)), of(&|m| m.is_map()));
    let mut notes = Vec::new();
    let main = like_with_like(
        &selected,
        |k| (k.way == spec.main_way(k.loss)).then_some((k.dataset, k.backbone, k.metric)),
        |(d, b, m)| format!("{}/{} {}", d.label(), b.label(), m.label()),
        &mut notes,
    );
    let ways = like_with_like(
        &map,
        |k| {
            (k.way.is_some() && matches!(k.loss, Loss::Twoway | Loss::Softmax))
                .then_some((k.dataset, k.backbone, k.loss))
        },
        |(d, b, l)| format!("{}/{}, ways of {}", d.label(), b.label(), l.label()),
        &mut notes,
    );
    let best = claims::derive_for(&main, |l| spec.main_way(l), metrics).best;
    let ways = claims::derive(&ways, |l| spec.main_way(l)).ways;
    (claims::Claims { best, ways }, notes)
}

/// The claims of a results folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Reproduced {
    pub dir: PathBuf,
    /// The claims on the means (each on the seeds its compared cells share).
    pub means: claims::Claims,
    /// Where the means left seeds out, or a group had none in common.
    pub notes: Vec<String>,
    pub per_seed: SeedClaims,
}

/// `twoway claims`: the published claims, and with a results folder the claims re-derived from it (on the
/// means over seeds) and over its seeds.
pub struct ClaimsReport {
    pub published: claims::Claims,
    pub reproduced: Option<Reproduced>,
}

/// The published claims, and those of the results under `dir` when given.
pub fn report(spec: &Spec, dir: Option<&Path>) -> anyhow::Result<ClaimsReport> {
    report_for(spec, dir, Metric::MAP)
}

/// [`report`] on `metrics` (`--metrics`; the published claims are on mAP alone).
pub fn report_for(spec: &Spec, dir: Option<&Path>, metrics: &[Metric]) -> anyhow::Result<ClaimsReport> {
    let reproduced = match dir {
        Some(dir) => Some((dir, crate::results::load_dir(dir)?)),
        None => None,
    };
    report_of(spec, reproduced.as_ref().map(|(d, all)| (*d, all.as_slice())), metrics)
}

/// The published claims, and those of `results` on `metrics` (already read from their folder, whose
/// measured kernel spreads are read here) when given.
pub fn report_of(
    spec: &Spec,
    results: Option<(&Path, &[(PathBuf, ResultFile)])>,
    metrics: &[Metric],
) -> anyhow::Result<ClaimsReport> {
    let reproduced = match results {
        None => None,
        Some((dir, all)) => {
            let yardsticks = Yardsticks::of_folder(spec, dir, all)?;
            let (means, notes) = on_means(spec, all, metrics);
            let per_seed = derive(spec, all, &yardsticks, dir, metrics);
            Some(Reproduced { dir: dir.to_path_buf(), means, notes, per_seed })
        }
    };
    Ok(ClaimsReport { published: spec.published_claims(), reproduced })
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
            Some(r) => {
                let notes: String = r.notes.iter().map(|n| format!("  note: {n}\n")).collect();
                format!(
                    "Reproduced claims (from {}, on the means over seeds):\n{notes}{}\n{}\n",
                    r.dir.display(),
                    r.means,
                    r.per_seed
                )
            }
            None => String::new(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let r = self.reproduced.as_ref();
        serde_json::json!({"published": self.published, "reproduced": r.map(|r| &r.means),
            "notes": r.map(|r| &r.notes), "per_seed": r.map(|r| &r.per_seed)})
    }
}
