//! The entry points of the fuzz targets (`fuzz/`, `make fuzz`), one per kind of file a user hands twoway:
//! any input must give a value or an error, never a panic, an abort or an unbounded allocation. The
//! regression test `reproduce/tests/fuzz_regressions.rs` replays the kept inputs (`fuzz/regressions/`)
//! and the seeds (`fuzz/seeds/`) through the same functions.

use std::path::{Path, PathBuf};
use twoway_spec::{grids::Grid, recipes, Dataset, Spec, FILES};

/// `.npy` and JSON matrices (`twoway eval`; `twoway map`, which keeps f32 scores and int8 / f32 targets).
pub fn matrix(data: &[u8]) {
    for name in ["x.npy", "x.json"] {
        let _ = crate::io::parse_matrix(data, Path::new(name));
        let _ = crate::io::parse_scores(data, Path::new(name));
        let _ = crate::io::parse_targets(data, Path::new(name));
    }
}

/// Table CSVs read as baselines by `twoway diff`.
pub fn table_csv(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::report::diff::parse_csv_baseline(text, Path::new("baseline.csv"));
    }
}

/// The spec's YAML files, grid files and recipe files; the first byte picks which the rest stands for.
pub fn spec_yaml(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match which as usize % (FILES.len() + 2) {
        k if k < FILES.len() => {
            let _ = Spec::with_file(FILES[k], text);
        }
        k if k == FILES.len() => {
            let _ = Grid::parse("grid.yaml", text, Spec::embedded());
        }
        _ => {
            let _ = recipes::parse_recipe("recipe.yaml", text);
        }
    }
}

/// Result files.
pub fn result_json(data: &[u8]) {
    let _ = crate::results::ResultFile::parse(data, Path::new("seed0.json"));
}

/// The annotation files the dataset loaders read: (dataset, split, file under the data root).
pub const DATASET_FILES: [(Dataset, &str, &str); 6] = [
    (Dataset::Coco, "train2014", "coco/annotations/instances_train2014.json"),
    (Dataset::Vispr, "train2017", "vispr/attributes.tsv"),
    (Dataset::Vispr, "val2017", "vispr/val2017/zz_fuzz.json"),
    (Dataset::Vaw, "val", "vaw/data/attribute_index.json"),
    (Dataset::Vaw, "test", "vaw/data/test.json"),
    (Dataset::Wider, "test", "wider/wider_attribute_annotation/wider_attribute_test.json"),
];

/// A data root of small valid datasets in their own layouts, for [`datasets`].
pub fn dataset_root(dir: &Path) -> PathBuf {
    let sizes = crate::data::fixtures::Sizes { per_split: 4, side: (16, 24) };
    crate::data::fixtures::write_all(dir, 0, sizes).expect("the fixtures are written");
    dir.to_path_buf()
}

/// An annotation file through its loader, as `twoway data labels` runs it: the first byte picks the file
/// of [`DATASET_FILES`], the rest replaces it under `root` (the file is restored afterwards).
pub fn datasets(root: &Path, data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    let (dataset, split, file) = DATASET_FILES[which as usize % DATASET_FILES.len()];
    let path = root.join(file);
    let original = std::fs::read(&path).ok();
    std::fs::write(&path, rest).expect("the data root is writable");
    let _ = crate::data::load_split(Spec::embedded(), dataset, split, root, false);
    match original {
        Some(o) => std::fs::write(&path, o).expect("the data root is writable"),
        None => std::fs::remove_file(&path).expect("the data root is writable"),
    }
}
