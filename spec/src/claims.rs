//! The paper's claims, re-derived from any table of results:
//! 1. in how many (dataset, backbone) columns the proposed loss (`twoway`, its main way) has the best
//!    mAP@class and the best mAP@sample among the losses of the main table;
//! 2. the ways ordering of the set-based losses: `both` is best on both metrics, the class way beats the
//!    sample way on mAP@class, and the sample way beats the class way on mAP@sample.
//!
//! "Best" means no other loss of the column scores strictly higher (a tie counts as best).

use crate::paper::CellKey;
use crate::{Backbone, Dataset, Loss, Metric, Way};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One number of a results table.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Cell {
    pub key: CellKey,
    pub value: f64,
}

/// A column where another loss beats the proposed loss.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Exception {
    pub dataset: Dataset,
    pub backbone: Backbone,
    pub winner: Loss,
    pub winner_value: f64,
    pub ours: f64,
}

/// Claim 1 for one metric.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BestClaim {
    pub metric: Metric,
    /// Columns holding the proposed loss and at least one other loss.
    pub columns: usize,
    /// Columns where the proposed loss is best.
    pub ours_best: usize,
    pub exceptions: Vec<Exception>,
}

/// One statement of claim 2, with whether it holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Statement {
    pub text: String,
    pub holds: bool,
}

/// Claim 2 for one loss in one (dataset, backbone) column with all three ways.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WaysClaim {
    pub dataset: Dataset,
    pub backbone: Backbone,
    pub loss: Loss,
    /// `[way][metric]`, ways in the order both, class, sample; metrics map_class, map_sample.
    pub values: [[f64; 2]; 3],
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Claims {
    pub best: Vec<BestClaim>,
    pub ways: Vec<WaysClaim>,
}

/// Derives the claims from `cells`. `main_way` gives the way each loss runs with in the main table.
pub fn derive(cells: &[Cell], main_way: impl Fn(Loss) -> Option<Way>) -> Claims {
    derive_for(cells, main_way, Metric::MAP)
}

/// [`derive`] with claim 1 ("Ours is best") on each of `metrics`; claim 2 (the ways ordering) is about
/// mAP@class and mAP@sample and is derived where the cells have both.
pub fn derive_for(cells: &[Cell], main_way: impl Fn(Loss) -> Option<Way>, metrics: &[Metric]) -> Claims {
    let value: BTreeMap<CellKey, f64> = cells.iter().map(|c| (c.key, c.value)).collect();

    let columns: BTreeSet<(Dataset, Backbone)> = cells.iter().map(|c| (c.key.dataset, c.key.backbone)).collect();
    let mut best = Vec::new();
    for metric in metrics {
        let mut claim = BestClaim { metric: *metric, columns: 0, ours_best: 0, exceptions: Vec::new() };
        for &(dataset, backbone) in &columns {
            let get = |loss: Loss| {
                let key = CellKey { dataset, backbone, loss, way: main_way(loss), metric: *metric };
                value.get(&key).copied()
            };
            let Some(ours) = get(Loss::Twoway) else {
                continue;
            };
            let others: Vec<(Loss, f64)> =
                Loss::ALL.iter().filter(|l| **l != Loss::Twoway).filter_map(|l| get(*l).map(|v| (*l, v))).collect();
            let Some(&(winner, winner_value)) = others.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
                continue;
            };
            claim.columns += 1;
            if winner_value > ours {
                claim.exceptions.push(Exception { dataset, backbone, winner, winner_value, ours });
            } else {
                claim.ours_best += 1;
            }
        }
        best.push(claim);
    }

    let mut ways = Vec::new();
    for &(dataset, backbone) in &columns {
        for loss in [Loss::Twoway, Loss::Softmax] {
            let mut values = [[0.0; 2]; 3];
            let mut complete = true;
            for (wi, way) in [Way::Both, Way::Class, Way::Sample].into_iter().enumerate() {
                for (mi, metric) in Metric::MAP.iter().enumerate() {
                    match value.get(&CellKey { dataset, backbone, loss, way: Some(way), metric: *metric }) {
                        Some(v) => values[wi][mi] = *v,
                        None => complete = false,
                    }
                }
            }
            if !complete {
                continue;
            }
            let [both, class, sample] = values;
            let statements = vec![
                Statement {
                    text: "both is best on mAP@class".into(),
                    holds: both[0] >= class[0] && both[0] >= sample[0],
                },
                Statement {
                    text: "both is best on mAP@sample".into(),
                    holds: both[1] >= class[1] && both[1] >= sample[1],
                },
                Statement {
                    text: "the class way beats the sample way on mAP@class".into(),
                    holds: class[0] > sample[0],
                },
                Statement {
                    text: "the sample way beats the class way on mAP@sample".into(),
                    holds: sample[1] > class[1],
                },
            ];
            ways.push(WaysClaim { dataset, backbone, loss, values, statements });
        }
    }
    Claims { best, ways }
}

impl fmt::Display for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.best {
            writeln!(
                f,
                "{}: Ours is best in {} of {} (dataset, backbone) columns",
                b.metric.label(),
                b.ours_best,
                b.columns
            )?;
            for e in &b.exceptions {
                writeln!(
                    f,
                    "  except {}/{}: {} {:.2} > Ours {:.2}",
                    e.dataset.label(),
                    e.backbone.label(),
                    e.winner.label(),
                    e.winner_value,
                    e.ours
                )?;
            }
        }
        for w in &self.ways {
            writeln!(
                f,
                "ways of {} on {}/{} (mAP@class, mAP@sample): both {:.2}/{:.2}, class {:.2}/{:.2}, sample {:.2}/{:.2}",
                w.loss.label(),
                w.dataset.label(),
                w.backbone.label(),
                w.values[0][0],
                w.values[0][1],
                w.values[1][0],
                w.values[1][1],
                w.values[2][0],
                w.values[2][1]
            )?;
            for s in &w.statements {
                writeln!(f, "  [{}] {}", if s.holds { "holds" } else { "fails" }, s.text)?;
            }
        }
        Ok(())
    }
}
