//! The spec files load, hold the paper's numbers, and a malformed copy is rejected with an error that
//! names the file, the line and the field.

use std::path::{Path, PathBuf};
use twoway_spec::{Backbone, CellKey, Dataset, Loss, Metric, Spec, SpecError, Table, Way};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A copy of spec/data in a temp dir with `file` edited by `edit`.
fn load_edited(file: &str, edit: impl Fn(&str) -> String) -> (tempfile::TempDir, Result<Spec, SpecError>) {
    let dir = tempfile::tempdir().unwrap();
    for f in twoway_spec::FILES {
        let text = std::fs::read_to_string(data_dir().join(f)).unwrap();
        let text = if f == file { edit(&text) } else { text };
        std::fs::write(dir.path().join(f), text).unwrap();
    }
    let r = Spec::load_dir(dir.path());
    (dir, r)
}

fn edit_err(file: &str, from: &str, to: &str) -> String {
    let (_d, r) = load_edited(file, |t| {
        assert!(t.contains(from), "test setup: {from:?} not in {file}");
        t.replacen(from, to, 1)
    });
    r.expect_err("the edited spec must be rejected").to_string()
}

#[test]
fn embedded_spec_equals_the_files_on_disk() {
    let disk = Spec::load_dir(&data_dir()).unwrap();
    let emb = Spec::embedded();
    assert_eq!(disk.paper.main, emb.paper.main);
    assert_eq!(disk.paper.ways, emb.paper.ways);
    assert_eq!(disk.losses, emb.losses);
}

#[test]
fn paper_tables_have_160_and_12_numbers_with_unique_keys() {
    let p = &Spec::embedded().paper;
    assert_eq!(p.main.len(), 160);
    assert_eq!(p.ways.len(), 12);
    let mut keys: Vec<CellKey> = p.main.iter().map(|x| x.key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 160);
    assert!(p.main.iter().all(|x| x.table == Table::Main));
    assert!(p.ways.iter().all(|x| x.table == Table::Ways));
}

#[test]
fn spot_values_as_printed_in_the_poster() {
    let spec = Spec::embedded();
    let key =
        |dataset, backbone, loss: Loss, metric| CellKey { dataset, backbone, loss, way: spec.main_way(loss), metric };
    // Values read off the poster's "Performance comparison" table.
    let cases = [
        (Dataset::Coco, Backbone::Resnet50, Loss::Softmax, Metric::MapClass, 58.00),
        (Dataset::Coco, Backbone::Regnety32gf, Loss::Twoway, Metric::MapSample, 89.54),
        (Dataset::Vispr, Backbone::Resnext50, Loss::Softmax, Metric::MapSample, 85.43),
        (Dataset::Vispr, Backbone::Resnext50, Loss::Twoway, Metric::MapSample, 85.40),
        (Dataset::Vaw, Backbone::Densenet169, Loss::Bce, Metric::MapSample, 66.50),
        (Dataset::Wider, Backbone::Densenet169, Loss::Asl, Metric::MapClass, 67.34),
        (Dataset::Wider, Backbone::Resnet50, Loss::Focal, Metric::MapClass, 65.88),
    ];
    for (d, b, l, m, v) in cases {
        assert_eq!(spec.paper.lookup(&key(d, b, l, m)), Some(v), "{d}/{b}/{l}/{m}");
    }
    // The ways ablation (MS-COCO, ResNet50).
    let w = |loss, way, metric| CellKey {
        dataset: Dataset::Coco,
        backbone: Backbone::Resnet50,
        loss,
        way: Some(way),
        metric,
    };
    assert_eq!(spec.paper.lookup(&w(Loss::Twoway, Way::Class, Metric::MapClass)), Some(73.06));
    assert_eq!(spec.paper.lookup(&w(Loss::Softmax, Way::Class, Metric::MapSample)), Some(69.15));
    assert_eq!(spec.paper.lookup(&w(Loss::Softmax, Way::Both, Metric::MapClass)), Some(69.19));
}

#[test]
fn main_table_ways_follow_the_loss_defaults() {
    let spec = Spec::embedded();
    assert_eq!(spec.main_way(Loss::Twoway), Some(Way::Both));
    assert_eq!(spec.main_way(Loss::Softmax), Some(Way::Sample));
    for l in [Loss::Bce, Loss::Focal, Loss::Asl] {
        assert_eq!(spec.main_way(l), None);
    }
}

#[test]
fn published_claims_are_16_of_16_and_15_of_16() {
    let claims = Spec::embedded().published_claims();
    let class = &claims.best[0];
    let sample = &claims.best[1];
    assert_eq!((class.metric, class.ours_best, class.columns), (Metric::MapClass, 16, 16));
    assert_eq!((sample.metric, sample.ours_best, sample.columns), (Metric::MapSample, 15, 16));
    let e = &sample.exceptions[0];
    assert_eq!((e.dataset, e.backbone, e.winner), (Dataset::Vispr, Backbone::Resnext50, Loss::Softmax));
    assert_eq!((e.winner_value, e.ours), (85.43, 85.40));
    // Both set-based losses follow the ways ordering in the ablation.
    assert_eq!(claims.ways.len(), 2);
    assert!(claims.ways.iter().all(|w| w.statements.iter().all(|s| s.holds)), "{claims}");
}

#[test]
fn defaults_carry_their_sources() {
    let l = &Spec::embedded().losses;
    assert_eq!(l.twoway.params.tp.default, 4.0);
    assert_eq!(l.twoway.params.tn.default, 1.0);
    assert_eq!(l.asl.params.gamma_neg.default, 4.0);
    assert_eq!(l.asl.params.gamma_pos.default, 0.0);
    assert_eq!(l.asl.params.clip.default, 0.05);
    assert_eq!(l.focal.params.gamma.default, 2.0);
    assert_eq!(l.focal.params.alpha.default, None);
    assert!(l.focal.params.alpha.reason.is_some());
}

#[test]
fn wrong_type_names_file_line_and_field() {
    let e = edit_err("paper.yaml", "resnext50_32x4d: 69.68", "resnext50_32x4d: high");
    assert!(e.contains("paper.yaml:"), "{e}");
    assert!(e.contains("field `main.table.coco.bce.map_class.resnext50_32x4d`"), "{e}");
    assert!(e.contains("invalid type"), "{e}");
    // The line of the edited number: the 20th line of paper.yaml.
    let text = std::fs::read_to_string(data_dir().join("paper.yaml")).unwrap();
    let line = text.lines().position(|l| l.contains("resnext50_32x4d: 69.68")).unwrap() + 1;
    assert!(e.contains(&format!("paper.yaml:{line}:")), "expected line {line}: {e}");
}

#[test]
fn unknown_key_is_rejected_and_named() {
    let e = edit_err(
        "losses.yaml",
        "    tn: {default: 1.0, source: release}",
        "    tn: {default: 1.0, source: release, scale: 2}",
    );
    assert!(e.contains("losses.yaml:"), "{e}");
    assert!(e.contains("unknown field `scale`"), "{e}");
    assert!(e.contains("field `twoway.params.tn"), "{e}");
}

#[test]
fn missing_field_is_named() {
    let e = edit_err("paper.yaml", ", densenet169: 64.04", "");
    assert!(e.contains("missing field `densenet169`"), "{e}");
    assert!(e.contains("field `main.table.coco.bce.map_class`"), "{e}");
}

#[test]
fn unknown_key_names_are_rejected_with_choices() {
    let e = edit_err("paper.yaml", "    vispr:", "    visper:");
    assert!(e.contains("unknown dataset `visper`"), "{e}");
    assert!(e.contains("coco, vispr, vaw, wider"), "{e}");
}

#[test]
fn missing_table_entry_and_bad_defaults_are_named() {
    let e = edit_err("paper.yaml", "      class:  {map_class: 73.06, map_sample: 82.75}\n", "");
    assert!(e.contains("field `ways.table.twoway`") && e.contains("missing way `class`"), "{e}");
    let e = edit_err("losses.yaml", "tp: {default: 4.0", "tp: {default: -4.0");
    assert!(e.contains("field `twoway.params.tp.default`") && e.contains("> 0"), "{e}");
    let e = edit_err("paper.yaml", "resnet50: 58.00", "resnet50: 58.001");
    assert!(e.contains("two decimals"), "{e}");
    let e = edit_err("metrics.yaml", "    source: ours\n    reason: >-", "    source: ours\n    notes: >-");
    assert!(e.contains("unknown field `notes`"), "{e}");
}

#[test]
fn malformed_yaml_and_missing_file_name_the_file() {
    let e = edit_err("recipes.yaml", "  epochs: 40", "  epochs: [40");
    assert!(e.contains("recipes.yaml"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = Spec::load_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("losses.yaml"), "{e}");
}

#[test]
fn every_dataset_and_backbone_is_registered() {
    let s = Spec::embedded();
    for d in Dataset::ALL {
        assert!(s.datasets.contains_key(d));
    }
    assert_eq!(s.datasets[&Dataset::Coco].classes, 80);
    assert_eq!(s.datasets[&Dataset::Vaw].classes, 620);
    assert_eq!(s.datasets[&Dataset::Vispr].classes, 68);
    assert_eq!(s.datasets[&Dataset::Wider].classes, 14);
    for b in Backbone::ALL {
        assert!(s.backbones.contains_key(b));
    }
    assert_eq!(s.recipes["release"].epochs, 40);
    assert_eq!(s.recipes["release"].batch_size, 512);
}

#[test]
fn vectors_load_and_cover_every_loss_and_way() {
    let v = twoway_spec::vectors::embedded();
    for loss in Loss::ALL {
        assert!(v.losses.iter().any(|x| x.loss == *loss), "no vector for {loss}");
    }
    for way in Way::ALL {
        assert!(
            v.losses.iter().any(|x| x.loss == Loss::Twoway && x.params.way == Some(*way)),
            "no two-way vector for {way}"
        );
    }
    assert!(v.metrics.len() >= 8);
    assert!(v.losses.iter().chain([]).all(|x| !x.derivation.trim().is_empty()));
}

#[test]
fn vector_files_reject_parameters_of_another_loss() {
    let text = "losses:\n  - name: x\n    loss: bce\n    params: {tp: 1.0}\n    logits: [[0.0]]\n    targets: [[1]]\n    derivation: d\n    value: 0.0\n    grad: [[0.0]]\n";
    let e = twoway_spec::vectors::load("v.yaml", text).unwrap_err().to_string();
    assert!(e.contains("losses[x].params.tp") && e.contains("not a parameter of `bce`"), "{e}");
    let text = text.replace("params: {tp: 1.0}", "params: {}").replace("grad: [[0.0]]", "grad: [[0.0, 1.0]]");
    let e = twoway_spec::vectors::load("v.yaml", &text).unwrap_err().to_string();
    assert!(e.contains("losses[x].grad") && e.contains("shape"), "{e}");
}

#[test]
fn the_numerics_spec_names_what_portable_sets_and_rejects_bad_entries() {
    let n = &Spec::embedded().numerics;
    let env: Vec<(&str, &str)> = n.portable.environment.iter().map(|e| (e.name.as_str(), e.value.as_str())).collect();
    assert!(env.contains(&("ATEN_CPU_CAPABILITY", "default")) && env.contains(&("MKL_CBWR", "COMPATIBLE")), "{env:?}");
    assert!(!n.portable.mkldnn && !n.portable.nnpack);
    assert!(n.portable.glibc_hwcaps_masked.iter().any(|f| f == "FMA"));
    assert_eq!(Spec::embedded().recipes["embedded-ci"].numerics, twoway_spec::Numerics::Portable);
    assert_eq!(Spec::embedded().recipes["release"].numerics, twoway_spec::Numerics::Native);
    let e = edit_err("numerics.yaml", "    map_class: ", "    map_class: -");
    assert!(e.contains("numerics.yaml") && e.contains("gate.cross_numerics_tolerance.map_class"), "{e}");
    let e = edit_err("numerics.yaml", "    - name: MKL_CBWR\n", "    - name: mkl cbwr\n");
    assert!(e.contains("numerics.yaml") && e.contains("not an environment variable name"), "{e}");
    // The kernel spread's scope and `twoway noise`'s settings.
    let scope = &n.gate.cross_numerics_tolerance.scope;
    assert!(scope.covers(twoway_spec::Dataset::Embedded, twoway_spec::Backbone::Tiny, "embedded-ci"));
    assert!(!scope.covers(twoway_spec::Dataset::Embedded, twoway_spec::Backbone::Tiny, "release"));
    assert!(!scope.covers(twoway_spec::Dataset::Coco, twoway_spec::Backbone::Tiny, "embedded"));
    let names: Vec<&str> = n.noise.cpu.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"native") && names.contains(&"portable"), "{names:?}");
    let e = edit_err("numerics.yaml", "    - name: aten-avx2\n", "    - name: native\n");
    assert!(e.contains("noise.cpu") && e.contains("`native`: a unique name"), "{e}");
    let e = edit_err("numerics.yaml", "      cuda_kernels: tf32", "      cuda_kernels: fast");
    assert!(e.contains("noise.cuda") && e.contains("cuda_kernels is one of"), "{e}");
    let e = edit_err("numerics.yaml", "      recipes: [embedded, embedded-ci]\n", "");
    assert!(e.contains("numerics.yaml") && e.contains("recipes"), "{e}");
    let e = edit_err("numerics.yaml", "  nnpack: false", "  nnpack: never");
    assert!(e.contains("numerics.yaml") && e.contains("nnpack"), "{e}");
    let e = edit_err("recipes.yaml", "  numerics: portable", "  numerics: fast");
    assert!(e.contains("recipes.yaml") && e.contains("unknown variant `fast`"), "{e}");
}

#[test]
fn the_conformance_spec_holds_every_dtype_and_divergence_and_rejects_bad_entries() {
    let c = &Spec::embedded().conformance;
    for d in twoway_spec::Dtype::ALL {
        let t = c.tolerances.losses.of(*d);
        assert!(t.value_rel > 0.0 && t.grad_rel > 0.0, "{d}");
    }
    // The half dtypes cannot be held tighter than f32, nor f32 than f64.
    let rel = |d| c.tolerances.losses.of(d).grad_rel;
    use twoway_spec::Dtype::*;
    assert!(rel(F64) < rel(F32) && rel(F32) <= rel(F16) && rel(F16) <= rel(Bf16));
    // The release's AP epsilon moves an AP of 50 (0-100 scale) over 100 positives by 50 x 1e-8 / 100: the
    // bound must see it.
    assert!(c.tolerances.metrics.abs < 50.0 * 1e-8 / 100.0);
    assert_eq!(c.divergences.len(), twoway_spec::conformance::DIVERGENCES.len());
    let e = edit_err("conformance.yaml", "grad_rel: 1.0e-10", "grad_rel: -1.0e-10");
    assert!(e.contains("conformance.yaml") && e.contains("tolerances.losses.f64.grad_rel"), "{e}");
    let e = edit_err("conformance.yaml", "id: tie_rule", "id: ties_by_magic");
    assert!(e.contains("divergences[6].id") && e.contains("ties_by_magic"), "{e}");
    let e = edit_err("conformance.yaml", "  - id: softplus_threshold", "  - id: official_masking");
    assert!(e.contains("listed twice"), "{e}");
    let e = edit_err("conformance.yaml", "f16: [30.0, 100.0, 1000.0, 60000.0]", "f16: [30.0, 0.0]");
    assert!(e.contains("random.logit_ranges.f16[1]"), "{e}");
    // f16 holds nothing beyond 65504: a range past it could not be given in f16.
    let e = edit_err("conformance.yaml", "f16: [30.0, 100.0, 1000.0, 60000.0]", "f16: [30.0, 70000.0]");
    assert!(e.contains("random.logit_ranges.f16[1]") && e.contains("6.5504e4"), "{e}");
    let e = edit_err("conformance.yaml", "f16: [30.0, 100.0, 1000.0, 60000.0]", "f16: []");
    assert!(e.contains("random.logit_ranges.f16") && e.contains("at least one"), "{e}");
    let e = edit_err("conformance.yaml", "grad_cond: 1.8e-15", "grad_cond: .nan");
    assert!(e.contains("tolerances.losses.f64.grad_cond"), "{e}");
}

#[test]
fn conformance_bounds_scale_with_the_cases_conditioning() {
    use twoway_spec::conformance::Conditioning;
    use twoway_spec::Dtype::*;
    let c = &Spec::embedded().conformance;
    // The unit roundoff of the arithmetic each dtype is computed in (f16 / bf16 in f32).
    let unit = |d| if d == F64 { f64::EPSILON / 2.0 } else { f32::EPSILON as f64 / 2.0 };
    for d in [F64, F32, F16, Bf16] {
        let t = c.tolerances.losses.of(d);
        let calm = Conditioning { max_logit: 1.0, kappa: 2.0 };
        let far = Conditioning { max_logit: 3000.0, kappa: 3001.0 };
        // An entry that is the difference of two weights of error u * kappa each is allowed at least that.
        assert!(t.grad_bound(0.0, 0.0, far) >= 2.0 * unit(d) * far.kappa, "{d}");
        // A relative error of a few u * kappa on every entry is allowed.
        assert!(t.grad_bound(0.25, 0.25, far) >= 8.0 * unit(d) * far.kappa * 0.25, "{d}");
        assert!(t.value_bound(1.0, far) >= 8.0 * unit(d) * far.max_logit, "{d}");
        // Still far below a 1 % gradient error at a calm case.
        assert!(t.grad_bound(0.7, 0.7, calm) < 0.01 * 0.7, "{d}");
    }
    // f64 stays below torch's softplus gap (2.1e-9 relative) at moderate conditioning, so it is seen.
    let t = c.tolerances.losses.of(F64);
    assert!(t.grad_bound(1.0, 1.0, Conditioning { max_logit: 30.0, kappa: 31.0 }) < 2.1e-9);
}

/// `spec/vectors/thresholded.yaml` is what `tools/thresholded_vectors.py` computes from the definitions
/// (independently of the Rust code): a hand edit of an expected value, or a change of the generator
/// without rewriting the file, fails here.
#[test]
fn thresholded_vectors_are_what_their_generator_writes() {
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/thresholded_vectors.py");
    let out = std::process::Command::new("python3").arg(&tool).arg("--check").output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
