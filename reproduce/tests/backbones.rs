//! The paper's backbones against torchvision: `twoway backbone forward` on a torchvision state_dict (random
//! weights, randomised BatchNorm statistics and affine parameters, exported by tools/export_torchvision.py)
//! gives torchvision's eval-mode logits, computed by torchvision in float64 from the same file:
//! f64 within 1e-9 and f32 within 1e-4 of the largest |logit|, at 224 x 224 and at a non-square size.
//! Bad weight files are refused with exit 2, the file and key named, nothing written.
//!
//! Every torchvision ResNet / ResNeXt / Wide ResNet / DenseNet / RegNet is a backbone under its torchvision
//! name. Each family's smallest member and one more (resnet18 and resnet50 with resnext50_32x4d, densenet121
//! and densenet169, regnet_x_400mf and regnety_400mf) always run; the others (regnety_32gf's 580 MB file
//! among them) run with `make test-big`.
#![cfg(feature = "torch")]

mod common;
use common::*;

use std::path::Path;

const SIZES: &str = "224x224,97x161";

fn max_rel_error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    assert!(!want.is_empty());
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "all-zero reference outputs would test nothing");
    got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f64, f64::max) / scale
}

fn forward(backbone: &str, weights: &Path, input: &Path, out: &Path, dtype: &str, features: bool) -> (i32, String) {
    let mut args = vec![
        "backbone",
        "forward",
        "--backbone",
        backbone,
        "--weights",
        weights.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--dtype",
        dtype,
    ];
    // `make gpu-check` runs these on CUDA (TF32 off: the command's default).
    let device = test_device();
    args.extend(["--device", device.as_str()]);
    if features {
        args.push("--features");
    }
    let (code, _, stderr) = twoway(&args);
    (code, stderr)
}

/// Every size, in f64 and f32, logits and (in f64) features; returns how many comparisons ran.
fn check_backbone(backbone: &str) -> usize {
    let (weights, check) = backbone_fixture(backbone, "f32", SIZES);
    let tmp = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for size in SIZES.split(',') {
        let input = check.join(format!("input_{size}.npy"));
        for (dtype, features, bound) in [("f64", false, 1e-9), ("f32", false, 1e-4), ("f64", true, 1e-9)] {
            let out = tmp.path().join(format!("{dtype}-{features}-{size}.npy"));
            let (code, stderr) = forward(backbone, &weights, &input, &out, dtype, features);
            assert_eq!(code, 0, "{backbone} {size} {dtype}: {stderr}");
            let (shape, got) = read_npy_f64(&out);
            let what = if features { "features" } else { "logits" };
            let (want_shape, want) = read_npy_f64(&check.join(format!("{what}_{size}.npy")));
            assert_eq!(shape, want_shape, "{backbone} {size} {what}");
            let err = max_rel_error(&got, &want);
            assert!(err <= bound, "{backbone} {size} {dtype} {what}: max error {err:e} x largest |value| > {bound:e}");
            compared += 1;
        }
    }
    compared
}

#[test]
fn resnet50_equals_torchvision() {
    assert_eq!(check_backbone("resnet50"), 6);
}

#[test]
fn resnext50_32x4d_equals_torchvision() {
    assert_eq!(check_backbone("resnext50_32x4d"), 6);
}

#[test]
fn densenet169_equals_torchvision() {
    assert_eq!(check_backbone("densenet169"), 6);
}

#[test]
fn regnety_400mf_equals_torchvision() {
    assert_eq!(check_backbone("regnety_400mf"), 6);
}

// Each family's smallest member beside the paper's: ResNet with basic blocks, DenseNet's smallest, RegNetX
// (no squeeze-excitation).
#[test]
fn resnet18_equals_torchvision() {
    assert_eq!(check_backbone("resnet18"), 6);
}

#[test]
fn densenet121_equals_torchvision() {
    assert_eq!(check_backbone("densenet121"), 6);
}

#[test]
fn regnet_x_400mf_equals_torchvision() {
    assert_eq!(check_backbone("regnet_x_400mf"), 6);
}

/// Opt-in (`make test-big`): fixtures of 45 MB to 2.6 GB and minutes of CPU each; every code path they take
/// runs above on a smaller member of the same family.
macro_rules! big {
    ($($name:ident),+) => {$(
        #[test]
        #[ignore = "opt-in: make test-big (a large torchvision fixture)"]
        fn $name() {
            let backbone = stringify!($name).trim_end_matches("_equals_torchvision");
            assert_eq!(check_backbone(backbone), 6);
        }
    )+};
}

big!(
    regnety_32gf_equals_torchvision,
    resnet34_equals_torchvision,
    resnet101_equals_torchvision,
    resnet152_equals_torchvision,
    resnext101_32x8d_equals_torchvision,
    resnext101_64x4d_equals_torchvision,
    wide_resnet50_2_equals_torchvision,
    wide_resnet101_2_equals_torchvision,
    densenet161_equals_torchvision,
    densenet201_equals_torchvision,
    regnet_x_800mf_equals_torchvision,
    regnet_x_1_6gf_equals_torchvision,
    regnet_x_3_2gf_equals_torchvision,
    regnet_x_8gf_equals_torchvision,
    regnet_x_16gf_equals_torchvision,
    regnet_x_32gf_equals_torchvision,
    regnet_y_800mf_equals_torchvision,
    regnet_y_1_6gf_equals_torchvision,
    regnet_y_3_2gf_equals_torchvision,
    regnet_y_8gf_equals_torchvision,
    regnet_y_16gf_equals_torchvision,
    regnet_y_128gf_equals_torchvision
);

/// `twoway backbone list` names every torchvision classification model of the families twoway implements,
/// with torchvision's own parameter count (built by torchvision on the meta device: no memory, no weights).
#[test]
fn backbone_list_has_every_torchvision_model_of_the_families_with_its_count() {
    let script = r#"
import json, torch, torchvision
from torchvision.models import regnet

# RegNet derives its stage widths with real tensors: let that part run on the CPU.
derive = regnet.BlockParams.from_init_params
def derive_on_cpu(*args, **kwargs):
    with torch.device("cpu"):
        return derive(*args, **kwargs)
regnet.BlockParams.from_init_params = derive_on_cpu

families = ("resnet", "resnext", "wide_resnet", "densenet", "regnet_")
out = {}
for name in torchvision.models.list_models(module=torchvision.models):
    if name.startswith(families):
        with torch.device("meta"):
            model = torchvision.models.get_model(name, weights=None)
        out[name] = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(json.dumps(out))
"#;
    let out = std::process::Command::new(venv_python()).args(["-c", script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let torchvision: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(torchvision.len(), 29, "torchvision 0.28.0 has 29 models of these families: {torchvision:?}");
    let (code, stdout, stderr) = twoway(&["backbone", "list", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut compared = 0;
    for (name, count) in &torchvision {
        let row = rows.as_array().unwrap().iter().find(|r| r["torchvision"] == name.as_str());
        let row = row.unwrap_or_else(|| panic!("`twoway backbone list` has no row for torchvision's {name}"));
        assert_eq!(&row["parameters"], count, "{name}");
        compared += 1;
    }
    assert_eq!(compared, 29);
}

#[test]
fn half_precision_files_are_converted() {
    // The reference outputs are torchvision's on the file's f16 / bf16 values widened to f64, so the only
    // difference left is our arithmetic: the f64 bound holds.
    for dtype in ["f16", "bf16"] {
        let (weights, check) = backbone_fixture("regnety_400mf", dtype, "64x64");
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("y.npy");
        let (code, stderr) = forward("regnety_400mf", &weights, &check.join("input_64x64.npy"), &out, "f64", false);
        assert_eq!(code, 0, "{stderr}");
        let err = max_rel_error(&read_npy_f64(&out).1, &read_npy_f64(&check.join("logits_64x64.npy")).1);
        assert!(err <= 1e-9, "{dtype}: {err:e}");
    }
}

type Named = Vec<(String, twoway_reproduce::tch::Tensor)>;
type Edit = Box<dyn FnOnce(&mut Named)>;

/// Rewrites a weight file's tensors through `edit` (tch writes safetensors).
fn rewrite(src: &Path, dst: &Path, edit: impl FnOnce(&mut Named)) {
    let mut t = twoway_reproduce::tch::Tensor::read_safetensors(src).unwrap();
    edit(&mut t);
    twoway_reproduce::tch::Tensor::write_safetensors(&t, dst).unwrap();
}

#[test]
fn legacy_densenet_keys_load_as_torchvision_renames_them() {
    let (weights, check) = backbone_fixture("densenet169", "f32", SIZES);
    let tmp = tempfile::tempdir().unwrap();
    let legacy = tmp.path().join("legacy.safetensors");
    let mut renamed = 0;
    rewrite(&weights, &legacy, |t| {
        for (k, _) in t.iter_mut() {
            for (new, old) in
                [("norm1.", "norm.1."), ("norm2.", "norm.2."), ("conv1.", "conv.1."), ("conv2.", "conv.2.")]
            {
                if k.contains("denselayer") && k.contains(new) {
                    *k = k.replace(new, old);
                    renamed += 1;
                }
            }
        }
    });
    assert_eq!(renamed, 82 * 12, "every key of the 82 dense layers");
    let out = tmp.path().join("y.npy");
    let (code, stderr) = forward("densenet169", &legacy, &check.join("input_97x161.npy"), &out, "f64", false);
    assert_eq!(code, 0, "{stderr}");
    let err = max_rel_error(&read_npy_f64(&out).1, &read_npy_f64(&check.join("logits_97x161.npy")).1);
    assert!(err <= 1e-9, "{err:e}");
}

#[test]
fn bad_weight_files_are_refused_with_the_key_named_and_nothing_written() {
    let (weights, check) = backbone_fixture("regnety_400mf", "f32", "64x64");
    let tmp = tempfile::tempdir().unwrap();
    let input = check.join("input_64x64.npy");
    let key = "trunk_output.block2.block2-1.f.b.0.weight";
    let cases: Vec<(&str, Edit, Vec<String>)> = vec![
        (
            "missing",
            Box::new(move |t| t.retain(|(k, _)| k != key)),
            vec![key.to_string(), "missing from the file".into(), "[104, 8, 3, 3]".into()],
        ),
        (
            "shape",
            Box::new(move |t| {
                for (k, v) in t.iter_mut() {
                    if k == key {
                        *v = v.narrow(0, 0, 52);
                    }
                }
            }),
            vec![key.to_string(), "[52, 8, 3, 3]".into(), "[104, 8, 3, 3]".into()],
        ),
        (
            "extra",
            Box::new(|t| {
                t.push((
                    "layer9.0.conv1.weight".into(),
                    twoway_reproduce::tch::Tensor::zeros([2, 2], twoway_reproduce::tch::kind::FLOAT_CPU),
                ))
            }),
            vec!["layer9.0.conv1.weight".into(), "not in the model".into()],
        ),
        (
            "dtype",
            Box::new(move |t| {
                for (k, v) in t.iter_mut() {
                    if k == key {
                        *v = v.to_kind(twoway_reproduce::tch::Kind::Int);
                    }
                }
            }),
            vec![key.to_string(), "I32".into()],
        ),
    ];
    let mut checked = 0;
    for (name, edit, wants) in cases {
        let bad = tmp.path().join(format!("{name}.safetensors"));
        rewrite(&weights, &bad, edit);
        let out = tmp.path().join(format!("{name}.npy"));
        let (code, stderr) = forward("regnety_400mf", &bad, &input, &out, "f32", false);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(stderr.contains(&format!("{name}.safetensors")), "{name}: {stderr}");
        for w in wants {
            assert!(stderr.contains(&w), "{name}: `{w}` not in: {stderr}");
        }
        assert!(!out.exists(), "{name}: output written");
        checked += 1;
    }
    // A truncated file and a file that is not safetensors at all.
    let bytes = std::fs::read(&weights).unwrap();
    let truncated = tmp.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let (code, stderr) = forward("regnety_400mf", &truncated, &input, &tmp.path().join("t.npy"), "f32", false);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("truncated.safetensors") && stderr.contains("truncated or corrupt"), "{stderr}");
    let garbage = tmp.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}xxxxxx").unwrap();
    let (code, stderr) = forward("regnety_400mf", &garbage, &input, &tmp.path().join("g.npy"), "f32", false);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("garbage.safetensors") && stderr.contains("not a safetensors file"), "{stderr}");
    // Another architecture's file.
    let (resnet, _) = backbone_fixture("resnet50", "f32", SIZES);
    let (code, stderr) = forward("regnety_400mf", &resnet, &input, &tmp.path().join("r.npy"), "f32", false);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("weights.safetensors") && stderr.contains("needs [1000, 440]"), "{stderr}");
    assert_eq!(checked, 4);
}

#[test]
fn bad_inputs_are_refused() {
    let (weights, _) = backbone_fixture("regnety_400mf", "f32", "64x64");
    let tmp = tempfile::tempdir().unwrap();
    let grey = tmp.path().join("grey.npy");
    ndarray_npy::write_npy(&grey, &ndarray::Array4::<f32>::zeros((1, 1, 64, 64))).unwrap();
    let (code, stderr) = forward("regnety_400mf", &weights, &grey, &tmp.path().join("o.npy"), "f32", false);
    assert_eq!(code, 2);
    assert!(stderr.contains("grey.npy") && stderr.contains("N x 3 x H x W"), "{stderr}");
    let nan = tmp.path().join("nan.npy");
    let mut a = ndarray::Array4::<f64>::zeros((1, 3, 64, 64));
    a[[0, 1, 2, 3]] = f64::NAN;
    ndarray_npy::write_npy(&nan, &a).unwrap();
    let (code, stderr) = forward("regnety_400mf", &weights, &nan, &tmp.path().join("o.npy"), "f32", false);
    assert_eq!(code, 2);
    assert!(stderr.contains("nan.npy") && stderr.contains("non-finite"), "{stderr}");
    let (code, stderr) = forward("tiny", &weights, &nan, &tmp.path().join("o.npy"), "f32", false);
    assert_eq!(code, 2);
    assert!(stderr.contains("tiny") && stderr.contains("no torchvision weights"), "{stderr}");
}

#[test]
fn backbone_list_shows_counts_and_weights() {
    let (weights, _) = backbone_fixture("regnety_400mf", "f32", "64x64");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(&weights, tmp.path().join("regnety_400mf.safetensors")).unwrap();
    let (code, stdout, stderr) =
        twoway(&["backbone", "list", "--weights-dir", tmp.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let row = |b: &str| rows.as_array().unwrap().iter().find(|r| r["backbone"] == b).unwrap().clone();
    assert_eq!(row("resnet50")["parameters"], 25_557_032);
    assert_eq!(row("densenet169")["head"], "classifier");
    assert!(row("regnety_400mf")["weights"].as_str().unwrap().starts_with("found"), "{stdout}");
    let missing = row("resnet50")["weights"].as_str().unwrap().to_string();
    assert!(
        missing.starts_with("missing") && missing.contains("export_torchvision.py --backbone resnet50"),
        "{missing}"
    );
    let (code, stdout, _) = twoway(&["backbone", "list", "--weights-dir", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("145,046,770"), "{stdout}");
}
