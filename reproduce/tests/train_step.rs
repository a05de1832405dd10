//! twoway's training step equals PyTorch's as the release runs it: the same torchvision backbone with a new
//! head, the same batches split over the release's 4 replicas (written out by hand in the oracle: one model
//! copy per replica, gradients averaged, replica 0's BatchNorm buffers), the two-way loss, and
//! `torch.optim.SGD(nesterov=True, momentum=0.9, weight_decay=1e-4)` over the learning-rate groups of the
//! release's name rule (`fc.`), in float64 (tools/train_step_oracle.py). Two steps, so the momentum buffers
//! are exercised; every parameter and BatchNorm running statistic after them, and each step's loss, within
//! 1e-10. The same steps with one replica give other weights (the class way sees other batches), and the
//! `new_head` rule is checked on DenseNet, whose head the release's rule leaves at the backbone's rate. (The counts are torchvision's state_dict entries without `num_batches_tracked`.)
#![cfg(feature = "torch")]

mod common;
use common::*;

use std::collections::BTreeMap;
use twoway_gpu::{MultiLabelLoss, Validation};
use twoway_reference::AnyLoss;
use twoway_reproduce::backbones::weights;
use twoway_reproduce::tch::{Device, Kind, Tensor};
use twoway_reproduce::train::model::Model;
use twoway_spec::{Backbone, LossParams, Spec};

fn tensor_of(path: &std::path::Path) -> Tensor {
    let (shape, v) = read_npy_f64(path);
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&v).view(shape.as_slice())
}

fn check(backbone: Backbone) -> usize {
    check_with(backbone, &Spec::embedded().recipes["release"], &[])
}

fn read_state(path: &std::path::Path) -> BTreeMap<String, Tensor> {
    Tensor::read_safetensors(path).unwrap().into_iter().filter(|(k, _)| !k.ends_with("num_batches_tracked")).collect()
}

/// The largest difference between two states, relative to the magnitude (at least 1), and where.
fn worst(got: &std::collections::HashMap<String, Tensor>, want: &BTreeMap<String, Tensor>) -> (f64, String) {
    let mut worst = (0f64, String::new());
    for (name, w) in want {
        let diff = (&got[name] - w).abs().max().double_value(&[]) / w.abs().max().double_value(&[]).max(1.0);
        if diff > worst.0 {
            worst = (diff, name.clone());
        }
    }
    worst
}

fn check_with(backbone: Backbone, recipe: &twoway_spec::recipes::Recipe, extra: &[&str]) -> usize {
    let spec = Spec::embedded();
    let mut args = vec!["--backbone", backbone.as_str(), "--out", "{dir}"];
    args.extend(extra);
    let dir = tool_fixture("train_step_oracle.py", &args);
    let meta = read_json(dir.join("meta.json"));
    let o = &recipe.optimizer;
    assert_eq!(meta["replicas"], recipe.replicas);
    assert_eq!(meta["head_rule"], serde_json::to_value(recipe.head_lr).unwrap());
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
        let v = model.step(recipe, &criterion, &x, &y, o.lr_head).unwrap();
        let want = meta["losses"][k].as_f64().unwrap();
        assert!((v - want).abs() <= 1e-10 * want.abs().max(1.0), "{backbone} step {k}: loss {v} vs {want}");
    }
    let want = read_state(&dir.join("final.safetensors"));
    let got = model.vs.variables();
    assert_eq!(got.len(), want.len(), "{backbone}: variable count");
    let (diff, name) = worst(&got, &want);
    assert!(diff <= 1e-10, "{backbone}: `{name}` differs by {diff:e}");
    if recipe.replicas > 1 {
        let (diff, _) = worst(&got, &read_state(&dir.join("final_r1.safetensors")));
        assert!(diff > 1e-6, "{backbone}: {} replicas gave the weights of one ({diff:e})", recipe.replicas);
    }
    let compared = want.len();
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
fn densenet169_step_with_the_new_head_rule_and_one_replica_equals_pytorch() {
    let mut recipe = Spec::embedded().recipes["release"].clone();
    recipe.head_lr = twoway_spec::recipes::HeadLr::NewHead;
    recipe.replicas = 1;
    assert_eq!(check_with(Backbone::Densenet169, &recipe, &["--head-rule", "new_head", "--replicas", "1"]), 846);
}

#[test]
fn regnety_400mf_step_equals_pytorch() {
    assert_eq!(check(Backbone::Regnety400mf), 331);
}
