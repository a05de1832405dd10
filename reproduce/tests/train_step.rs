//! twoway's training step equals PyTorch's: the same torchvision backbone with a new head, the same
//! batches, the two-way loss and `torch.optim.SGD(nesterov=True, momentum=0.9, weight_decay=1e-4)` with the
//! release recipe's two learning-rate groups, in float64 (tools/train_step_oracle.py). Two steps, so the
//! momentum buffers are exercised; every parameter and BatchNorm running statistic after them, and each
//! step's loss, within 1e-10. (The counts are torchvision's state_dict entries without `num_batches_tracked`.)

mod common;
use common::*;

use std::collections::BTreeMap;
use tch::{Device, Kind, Tensor};
use twoway_gpu::{MultiLabelLoss, Validation};
use twoway_reference::AnyLoss;
use twoway_reproduce::backbones::weights;
use twoway_reproduce::train::Model;
use twoway_spec::{Backbone, LossParams, Spec};

fn tensor_of(path: &std::path::Path) -> Tensor {
    let (shape, v) = read_npy_f64(path);
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&v).view(shape.as_slice())
}

fn check(backbone: Backbone) -> usize {
    let spec = Spec::embedded();
    let recipe = &spec.recipes["release"];
    let dir = tool_fixture("train_step_oracle.py", &["--backbone", backbone.as_str(), "--out", "{dir}"]);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let o = &recipe.optimizer;
    assert_eq!(meta["lr_head"], o.lr_head);
    assert_eq!(meta["backbone_lr_mult"], o.backbone_lr_mult);
    assert_eq!(meta["momentum"], o.momentum);
    assert_eq!(meta["weight_decay"], o.weight_decay);
    assert_eq!(meta["nesterov"], o.nesterov);
    let classes = meta["classes"].as_u64().unwrap() as usize;
    let mut model = Model::new(spec, recipe, backbone, classes, 0, None, Kind::Double, Device::Cpu).unwrap();
    // The oracle's initial model, head included (its init is PyTorch's; ours is tested on its own).
    weights::load(&model.vs, &dir.join("initial.safetensors"), None).unwrap();
    let loss = AnyLoss::from_params(twoway_spec::Loss::Twoway, &LossParams::default()).unwrap();
    let criterion = MultiLabelLoss::new(loss).validation(Validation::Full);
    let steps = meta["steps"].as_u64().unwrap() as usize;
    for k in 0..steps {
        let x = tensor_of(&dir.join(format!("x_{k}.npy")));
        let y = tensor_of(&dir.join(format!("y_{k}.npy")));
        let v = model.step(recipe, &criterion, &x, &y, o.lr_head, false).unwrap();
        let want = meta["losses"][k].as_f64().unwrap();
        assert!((v - want).abs() <= 1e-10 * want.abs().max(1.0), "{backbone} step {k}: loss {v} vs {want}");
    }
    let want: BTreeMap<String, Tensor> = Tensor::read_safetensors(dir.join("final.safetensors"))
        .unwrap()
        .into_iter()
        .filter(|(k, _)| !k.ends_with("num_batches_tracked"))
        .collect();
    let got = model.vs.variables();
    assert_eq!(got.len(), want.len(), "{backbone}: variable count");
    let mut worst = (0f64, String::new());
    let mut compared = 0;
    for (name, w) in &want {
        let g = &got[name];
        let diff = (g - w).abs().max().double_value(&[]) / w.abs().max().double_value(&[]).max(1.0);
        if diff > worst.0 {
            worst = (diff, name.clone());
        }
        compared += 1;
    }
    assert!(worst.0 <= 1e-10, "{backbone}: `{}` differs by {:e}", worst.1, worst.0);
    // The step did move the weights: compared with the initial file, the head changed.
    let initial: BTreeMap<String, Tensor> =
        Tensor::read_safetensors(dir.join("initial.safetensors")).unwrap().into_iter().collect();
    let head = format!("{}.weight", meta["head"].as_str().unwrap());
    let delta = (&got[&head] - &initial[&head]).abs().max().double_value(&[]);
    assert!(delta > 1e-6, "{backbone}: the head did not move ({delta:e})");
    compared
}

#[test]
fn resnet50_step_equals_pytorch() {
    assert_eq!(check(Backbone::Resnet50), 267);
}

#[test]
fn resnext50_step_equals_pytorch() {
    assert_eq!(check(Backbone::Resnext50), 267);
}

#[test]
fn densenet169_step_equals_pytorch() {
    assert_eq!(check(Backbone::Densenet169), 846);
}

#[test]
fn regnety_400mf_step_equals_pytorch() {
    assert_eq!(check(Backbone::Regnety400mf), 331);
}
