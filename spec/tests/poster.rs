//! Every published number in spec/data/paper.yaml equals the poster's, read from the poster's own rows
//! (tests/fixtures/poster_tables.tsv, extracted verbatim from the poster), not from the YAML.

use twoway_spec::{Backbone, CellKey, Dataset, Loss, Metric, Spec, Way};

const POSTER: &str = include_str!("fixtures/poster_tables.tsv");

fn number(cell: &str) -> f64 {
    let clean = cell.replace("<u>", "").replace("</u>", "");
    clean.trim().parse().unwrap_or_else(|_| panic!("not a number in the poster row: {cell:?}"))
}

#[test]
fn all_160_main_numbers_equal_the_poster() {
    let spec = Spec::embedded();
    let mut dataset = None;
    let mut checked = 0;
    for line in POSTER.lines().filter(|l| !l.starts_with('#') && !l.contains("mAP@class")) {
        let cells: Vec<&str> = line.split('\t').collect();
        let first = cells[0];
        for (prefix, d) in
            [("MSCOCO", Dataset::Coco), ("VISPR", Dataset::Vispr), ("VAW", Dataset::Vaw), ("<i>WIDER", Dataset::Wider)]
        {
            if first.starts_with(prefix) {
                dataset = Some(d);
            }
        }
        let loss = match cells[1].split(' ').next().unwrap() {
            "Softmax" => Loss::Softmax,
            "BCE" => Loss::Bce,
            "Focal" => Loss::Focal,
            "ASL" => Loss::Asl,
            "Ours" => Loss::Twoway,
            other => panic!("unexpected poster row label {other:?}"),
        };
        let numbers: Vec<f64> = cells[2..10].iter().map(|c| number(c)).collect();
        for (i, v) in numbers.iter().enumerate() {
            let metric = if i < 4 { Metric::MapClass } else { Metric::MapSample };
            let key = CellKey {
                dataset: dataset.unwrap(),
                backbone: Backbone::PAPER[i % 4],
                loss,
                way: spec.main_way(loss),
                metric,
            };
            assert_eq!(spec.paper.lookup(&key), Some(*v), "{key:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 160);
}

#[test]
fn all_12_ways_numbers_equal_the_poster() {
    let spec = Spec::embedded();
    let line = POSTER.lines().find(|l| l.contains("mAP@class mAP@sample")).unwrap();
    let pairs: Vec<&str> = line.split('\t').skip(2).collect();
    assert_eq!(pairs.len(), 6);
    let mut checked = 0;
    for (i, pair) in pairs.iter().enumerate() {
        let loss = if i < 3 { Loss::Twoway } else { Loss::Softmax };
        let way = [Way::Both, Way::Class, Way::Sample][i % 3];
        for (metric, text) in Metric::ALL.iter().zip(pair.split(' ')) {
            let key =
                CellKey { dataset: Dataset::Coco, backbone: Backbone::Resnet50, loss, way: Some(way), metric: *metric };
            let published = spec.paper.ways.iter().find(|p| p.key == key).map(|p| p.value);
            assert_eq!(published, Some(number(text)), "{key:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}
