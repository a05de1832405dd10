//! Backbones and the classifier. The paper's backbones are native tch implementations of torchvision's
//! architectures with torchvision's parameter names, so that a torchvision `state_dict` (saved as
//! safetensors) loads key for key ([`weights`]); `tiny` is twoway's small CNN for the embedded grid.
//!
//! A [`Classifier`] is a backbone producing a pooled feature and a new Linear head named as torchvision
//! names the head it replaces (`fc`, or `classifier` for DenseNet), so the whole model's variable names are
//! the ones a torchvision model with a replaced head has. The backbone's variables are in optimiser group
//! [`BACKBONE_GROUP`]; the head's group is the caller's choice (the recipe's learning-rate rule).

pub mod check;
mod densenet;
pub mod layers;
mod regnet;
mod resnet;
mod tiny;
pub mod weights;

use anyhow::Result;
use tch::nn::{self, ModuleT};
use tch::Tensor;
use twoway_spec::registry::{regnet_stages, Arch, BackboneSpec};
use twoway_spec::{Backbone, Spec};

/// The optimiser group of the backbone's variables.
pub const BACKBONE_GROUP: usize = 0;
/// The optimiser group of variables trained at the head's learning rate.
pub const HEAD_GROUP: usize = 1;

/// Builds the trunk of `spec`'s architecture under `p`: it maps N x 3 x H x W images to N x features.
pub fn trunk(p: &nn::Path, spec: &BackboneSpec) -> Box<dyn ModuleT> {
    match &spec.arch {
        Arch::Tiny => Box::new(tiny::Tiny::new(&(p / "backbone"))),
        Arch::Resnet { block, layers, groups, width_per_group } => {
            Box::new(resnet::ResNet::new(p, *block, *layers, *groups, *width_per_group))
        }
        Arch::Densenet { growth_rate, block_config, num_init_features, bn_size } => {
            Box::new(densenet::DenseNet::new(p, *growth_rate, *block_config, *num_init_features, *bn_size))
        }
        Arch::Regnet { depth, w_0, w_a, w_m, group_width, se_ratio, stem_width, .. } => {
            let stages = regnet_stages(*depth, *w_0, *w_a, *w_m, *group_width);
            Box::new(regnet::RegNet::new(p, *stem_width, &stages, *se_ratio))
        }
    }
}

/// A backbone with its Linear head.
#[derive(Debug)]
pub struct Classifier {
    trunk: Box<dyn ModuleT>,
    head: nn::Linear,
    /// The head's variable prefix (`fc`, `classifier`).
    pub head_name: String,
}

impl Classifier {
    /// Builds `backbone` in `vs` with a new head of `classes` outputs (PyTorch's `nn.Linear` initialisation)
    /// in optimiser group `head_group`.
    pub fn new(vs: &nn::VarStore, spec: &Spec, backbone: Backbone, classes: usize, head_group: usize) -> Classifier {
        let b = &spec.backbones[&backbone];
        let trunk = trunk(&vs.root().set_group(BACKBONE_GROUP), b);
        let head = layers::linear_pytorch_init(
            &(vs.root().set_group(head_group) / b.head.as_str()),
            b.features as i64,
            classes as i64,
        );
        Classifier { trunk, head, head_name: b.head.clone() }
    }

    /// The pooled features, samples x features.
    pub fn features_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.trunk.forward_t(x, train)
    }

    /// Logits, samples x classes.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.features_t(x, train).apply(&self.head)
    }
}

/// The number of trainable parameters in `vs` (BatchNorm running statistics are buffers, not counted).
pub fn parameter_count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables().iter().map(Tensor::numel).sum::<usize>() as i64
}

/// Checks the input of a forward pass: 4-D, 3 channels, at least `min` pixels a side.
pub fn check_input(shape: &[i64], min: i64) -> Result<()> {
    match shape {
        [_, 3, h, w] if *h >= min && *w >= min => Ok(()),
        [_, 3, h, w] => {
            anyhow::bail!("images of {h} x {w} px are too small for this backbone (at least {min} px a side)")
        }
        _ => anyhow::bail!("expected N x 3 x H x W images, got shape {shape:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn build(b: Backbone, classes: usize) -> (nn::VarStore, Classifier) {
        let vs = nn::VarStore::new(Device::Cpu);
        let c = Classifier::new(&vs, Spec::embedded(), b, classes, HEAD_GROUP);
        (vs, c)
    }

    #[test]
    fn parameter_counts_equal_torchvision() {
        let spec = Spec::embedded();
        let mut checked = 0;
        // Up to 145M parameters (580 MB) each: counted too, it only allocates. regnet_y_128gf (645M
        // parameters, 2.6 GB) is counted with TWOWAY_TEST_BIG=1 (`make test-big`).
        let big = std::env::var_os("TWOWAY_TEST_BIG").is_some_and(|v| v == "1");
        let mut skipped = Vec::new();
        for b in Backbone::ALL {
            if let Some(want) = spec.backbones[b].parameters {
                if want > 200_000_000 && !big {
                    skipped.push(*b);
                    continue;
                }
                let (vs, _) = build(*b, 1000);
                assert_eq!(parameter_count(&vs) as u64, want, "{b}");
                checked += 1;
            }
        }
        assert_eq!(skipped, if big { vec![] } else { vec![Backbone::RegnetY128gf] });
        assert_eq!(checked + skipped.len(), Backbone::ALL.len() - 1, "every backbone but tiny has a count");
    }

    #[test]
    fn names_are_torchvision_state_dict_keys() {
        let (vs, c) = build(Backbone::Regnety400mf, 10);
        let names = vs.variables();
        for k in [
            "stem.0.weight",
            "stem.1.running_var",
            "trunk_output.block1.block1-0.proj.0.weight",
            "trunk_output.block1.block1-0.f.se.fc1.bias",
            "trunk_output.block4.block4-5.f.c.1.weight",
            "fc.weight",
        ] {
            assert!(names.contains_key(k), "{k} missing");
        }
        assert_eq!(c.head_name, "fc");
        let (vs, c) = build(Backbone::Densenet169, 10);
        let names = vs.variables();
        for k in [
            "features.conv0.weight",
            "features.denseblock1.denselayer1.norm1.running_var",
            "features.denseblock4.denselayer32.conv2.weight",
            "features.transition3.conv.weight",
            "features.norm5.bias",
            "classifier.bias",
        ] {
            assert!(names.contains_key(k), "{k} missing");
        }
        assert_eq!(c.head_name, "classifier");
        let (vs, _) = build(Backbone::Resnext50, 10);
        let names = vs.variables();
        for k in ["conv1.weight", "layer1.0.downsample.0.weight", "layer4.2.bn3.running_mean", "fc.bias"] {
            assert!(names.contains_key(k), "{k} missing");
        }
        assert_eq!(names["layer1.0.conv2.weight"].size(), [128, 4, 3, 3], "32 groups of 4 channels");
    }

    #[test]
    fn no_backbone_variable_is_named_like_a_head() {
        // The release's head-lr rule matches `fc.` in names: in torchvision's trunks it matches nothing
        // (RegNet's squeeze-excitation layers are `fc1` / `fc2`), so the rule selects exactly the head.
        for b in Backbone::ALL {
            let (vs, c) = build(*b, 3);
            for name in vs.variables().keys() {
                let in_head = name.starts_with(&format!("{}.", c.head_name));
                assert!(in_head || !name.contains("fc."), "{b}: {name}");
            }
        }
    }

    #[test]
    fn any_input_size_gives_one_feature_vector_per_sample() {
        for b in [Backbone::Resnet50, Backbone::Densenet169, Backbone::Regnety400mf, Backbone::Tiny] {
            let (_, c) = build(b, 7);
            let x = Tensor::randn([2, 3, 40, 56], (tch::Kind::Float, Device::Cpu));
            let f = c.features_t(&x, false);
            assert_eq!(f.size(), [2, Spec::embedded().backbones[&b].features as i64], "{b}");
            assert_eq!(c.forward_t(&x, false).size(), [2, 7], "{b}");
        }
    }

    #[test]
    fn the_new_head_is_initialised_as_pytorch_linear() {
        tch::manual_seed(0);
        let (vs, _) = build(Backbone::Resnet50, 1000);
        let vars = vs.variables();
        let bound = 1.0 / 2048f64.sqrt();
        for name in ["fc.weight", "fc.bias"] {
            let t = &vars[name];
            let (lo, hi) = (t.min().double_value(&[]), t.max().double_value(&[]));
            // U(-b, b): every draw inside, and with 2M (1000) draws the extremes come within 1% (5%) of b.
            let slack = if name == "fc.weight" { 0.01 } else { 0.05 };
            assert!(lo >= -bound && hi <= bound, "{name}: [{lo}, {hi}] outside ±{bound}");
            assert!(
                lo < -bound * (1.0 - slack) && hi > bound * (1.0 - slack),
                "{name}: [{lo}, {hi}] narrower than ±{bound}"
            );
            let var = t.var(true).double_value(&[]);
            let want = bound * bound / 3.0;
            assert!((var - want).abs() < 0.1 * want, "{name}: variance {var}, U(±b) has {want}");
        }
    }
}
