//! `tiny`: six 3x3 conv + batch-norm + ReLU layers (16-32-32-64-64-128 channels; stride 2 at layers 2, 4
//! and 6) and global average pooling to 128 features. About 0.2M parameters; sized for 2 CPU cores.

use super::layers::pool;
use tch::nn::{self, ModuleT};
use tch::Tensor;

#[derive(Debug)]
pub struct Tiny {
    layers: Vec<(nn::Conv2D, nn::BatchNorm)>,
}

const LAYERS: [(i64, i64, i64); 6] = [(3, 16, 1), (16, 32, 2), (32, 32, 1), (32, 64, 2), (64, 64, 1), (64, 128, 2)];

impl Tiny {
    pub fn new(p: &nn::Path) -> Tiny {
        let layers = LAYERS
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
}

impl ModuleT for Tiny {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        for (conv, bn) in &self.layers {
            h = h.apply(conv).apply_t(bn, train).relu();
        }
        pool(&h)
    }
}
