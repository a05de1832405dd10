//! The paper's published tables (`data/paper.yaml`), typed and flattened into keyed numbers.

use crate::error::SpecError;
use crate::load::{check_printed, parse, Printed};
use crate::{Backbone, Dataset, Loss, Metric, Way};
use std::collections::BTreeMap;

/// The key of one number of a results table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct CellKey {
    pub dataset: Dataset,
    pub backbone: Backbone,
    pub loss: Loss,
    /// `None` for the element-wise losses (BCE, focal, ASL), which have no way.
    pub way: Option<Way>,
    pub metric: Metric,
}

/// Which of the poster's tables a number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// "Performance comparison": 4 datasets x 4 backbones x 5 losses x 2 metrics.
    Main,
    /// "Ablation Study: Ways": MS-COCO, ResNet50; Ours and Softmax x 3 ways x 2 metrics.
    Ways,
}

/// One published number.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Published {
    pub key: CellKey,
    pub value: f64,
    pub table: Table,
}

/// The published tables, flattened, in the paper's order (dataset, loss, metric, backbone; ways by loss,
/// way, metric).
#[derive(Debug, Clone)]
pub struct Paper {
    pub main: Vec<Published>,
    pub ways: Vec<Published>,
    pub main_provenance: String,
    pub ways_provenance: String,
}

impl Paper {
    /// The published number for `key`, looked up in the main table, then the ways ablation.
    pub fn lookup(&self, key: &CellKey) -> Option<f64> {
        self.main.iter().chain(&self.ways).find(|p| p.key == *key).map(|p| p.value)
    }

    /// Every number of `table`.
    pub fn table(&self, table: Table) -> &[Published] {
        match table {
            Table::Main => &self.main,
            Table::Ways => &self.ways,
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PaperFile {
    main: MainFile,
    ways: WaysFile,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MainFile {
    provenance: String,
    table: BTreeMap<Dataset, BTreeMap<Loss, MetricRow>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricRow {
    map_class: PerBackbone,
    map_sample: PerBackbone,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PerBackbone {
    resnet50: Printed,
    resnext50_32x4d: Printed,
    densenet169: Printed,
    regnety_32gf: Printed,
}

impl PerBackbone {
    fn values(&self) -> [(Backbone, f64); 4] {
        [
            (Backbone::Resnet50, self.resnet50.0),
            (Backbone::Resnext50, self.resnext50_32x4d.0),
            (Backbone::Densenet169, self.densenet169.0),
            (Backbone::Regnety32gf, self.regnety_32gf.0),
        ]
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WaysFile {
    provenance: String,
    dataset: Dataset,
    backbone: Backbone,
    table: BTreeMap<Loss, BTreeMap<Way, MetricPair>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricPair {
    map_class: Printed,
    map_sample: Printed,
}

/// Parses and validates `paper.yaml`. `main_way` gives the way of each loss's main-table row (from the
/// losses' default ways).
pub(crate) fn load(file: &str, text: &str, main_way: impl Fn(Loss) -> Option<Way>) -> Result<Paper, SpecError> {
    let doc: PaperFile = parse(file, text)?;

    // A key that is not one of the paper's datasets (a typo parses as a dataset file's name) is named
    // before any missing one.
    if let Some(extra) = doc.main.table.keys().find(|d| !Dataset::PAPER.contains(d)) {
        let expected = Dataset::PAPER.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ");
        let why =
            if extra.is_builtin() { "the paper publishes no numbers for this dataset" } else { "unknown dataset" };
        return Err(SpecError::invalid(
            file,
            format!("main.table.{extra}"),
            format!("{why} `{extra}`; expected one of: {expected}"),
        ));
    }

    let mut main = Vec::new();
    for dataset in Dataset::PAPER {
        let Some(rows) = doc.main.table.get(dataset) else {
            return Err(SpecError::invalid(file, "main.table", format!("missing dataset `{dataset}`")));
        };
        for loss in Loss::PAPER {
            let Some(row) = rows.get(loss) else {
                return Err(SpecError::invalid(
                    file,
                    format!("main.table.{dataset}"),
                    format!("missing loss `{loss}`"),
                ));
            };
            for (metric, per) in [(Metric::MapClass, &row.map_class), (Metric::MapSample, &row.map_sample)] {
                for (backbone, value) in per.values() {
                    let value =
                        check_printed(file, &format!("main.table.{dataset}.{loss}.{metric}.{backbone}"), value)?;
                    let key = CellKey { dataset: *dataset, backbone, loss: *loss, way: main_way(*loss), metric };
                    main.push(Published { key, value, table: Table::Main });
                }
            }
        }
    }

    let mut ways = Vec::new();
    for loss in [Loss::Twoway, Loss::Softmax] {
        let Some(per_way) = doc.ways.table.get(&loss) else {
            return Err(SpecError::invalid(file, "ways.table", format!("missing loss `{loss}`")));
        };
        for way in Way::ALL {
            let Some(pair) = per_way.get(way) else {
                return Err(SpecError::invalid(file, format!("ways.table.{loss}"), format!("missing way `{way}`")));
            };
            for (metric, value) in [(Metric::MapClass, pair.map_class.0), (Metric::MapSample, pair.map_sample.0)] {
                let value = check_printed(file, &format!("ways.table.{loss}.{way}.{metric}"), value)?;
                let key =
                    CellKey { dataset: doc.ways.dataset, backbone: doc.ways.backbone, loss, way: Some(*way), metric };
                ways.push(Published { key, value, table: Table::Ways });
            }
        }
    }
    if let Some(extra) = doc.ways.table.keys().find(|l| !l.has_ways()) {
        return Err(SpecError::invalid(
            file,
            format!("ways.table.{extra}"),
            "only the set-based losses (twoway, softmax) have ways",
        ));
    }

    // A number printed in both tables must agree.
    for w in &ways {
        if let Some(m) = main.iter().find(|m| m.key == w.key) {
            if m.value != w.value {
                return Err(SpecError::invalid(
                    file,
                    format!("ways.table.{}.{}.{}", w.key.loss, w.key.way.unwrap(), w.key.metric),
                    format!("{} disagrees with the main table's {}", w.value, m.value),
                ));
            }
        }
    }

    Ok(Paper { main, ways, main_provenance: doc.main.provenance, ways_provenance: doc.ways.provenance })
}
