//! Backbones and the classifier: a backbone producing a pooled feature, and a new Linear head. The
//! backbone's variables are in optimiser group 0 and the head's in group 1, so that the recipe can give
//! them different learning rates.

use anyhow::{bail, Result};
use tch::nn;
use tch::Tensor;
use twoway_spec::{Backbone, Spec};

/// The optimiser group of the backbone's variables.
pub const BACKBONE_GROUP: usize = 0;
/// The optimiser group of the head's variables.
pub const HEAD_GROUP: usize = 1;

/// `tiny`: six 3x3 conv + batch-norm + ReLU layers (16-32-32-64-64-128 channels; stride 2 at layers 2, 4
/// and 6) and global average pooling to 128 features. About 0.2M parameters; sized for 2 CPU cores.
#[derive(Debug)]
struct Tiny {
    layers: Vec<(nn::Conv2D, nn::BatchNorm)>,
}

const TINY_LAYERS: [(i64, i64, i64); 6] =
    [(3, 16, 1), (16, 32, 2), (32, 32, 1), (32, 64, 2), (64, 64, 1), (64, 128, 2)];

impl Tiny {
    fn new(p: &nn::Path) -> Tiny {
        let layers = TINY_LAYERS
            .iter()
            .enumerate()
            .map(|(i, &(cin, cout, stride))| {
                let cfg = nn::ConvConfig { stride, padding: 1, bias: false, ..Default::default() };
                let conv = nn::conv2d(p / format!("conv{i}"), cin, cout, 3, cfg);
                let bn = nn::batch_norm2d(p / format!("bn{i}"), cout, Default::default());
                (conv, bn)
            })
            .collect();
        Tiny { layers }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        for (conv, bn) in &self.layers {
            h = h.apply(conv).apply_t(bn, train).relu();
        }
        h.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
}

/// A backbone with its Linear head.
#[derive(Debug)]
pub struct Classifier {
    backbone: Tiny,
    head: nn::Linear,
}

impl Classifier {
    /// Builds `backbone` with a head for `classes` outputs in `vs`.
    pub fn new(vs: &nn::VarStore, spec: &Spec, backbone: Backbone, classes: usize) -> Result<Classifier> {
        let b = &spec.backbones[&backbone];
        let body = match backbone {
            Backbone::Tiny => Tiny::new(&(vs.root().set_group(BACKBONE_GROUP) / "backbone")),
            other => bail!(
                "backbone `{other}` ({}) needs torchvision's ImageNet weights converted for tch, which cannot be \
                 downloaded here; the embedded grid uses `tiny`",
                other.label()
            ),
        };
        let head =
            nn::linear(vs.root().set_group(HEAD_GROUP) / "head", b.features as i64, classes as i64, Default::default());
        Ok(Classifier { backbone: body, head })
    }

    /// Logits, samples x classes.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.backbone.forward_t(x, train).apply(&self.head)
    }
}
