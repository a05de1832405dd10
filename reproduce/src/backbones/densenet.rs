//! DenseNet-BC (torchvision's `densenet169`): dense blocks of BN-ReLU-conv1x1-BN-ReLU-conv3x3 layers whose
//! outputs are concatenated, transitions that halve the channels and the resolution, and adaptive average
//! pooling (torchvision's; a fixed 7x7 pool would only match at 224 px). Parameter names are torchvision's
//! (`features.conv0`, `features.denseblock1.denselayer1.norm1`, `features.transition1.conv`, `features.norm5`).

use super::layers::{bn, conv, pool, ConvInit};
use tch::nn::{self, ModuleT};
use tch::Tensor;

#[derive(Debug)]
struct DenseLayer {
    norm1: nn::BatchNorm,
    conv1: nn::Conv2D,
    norm2: nn::BatchNorm,
    conv2: nn::Conv2D,
}

#[derive(Debug)]
struct Transition {
    norm: nn::BatchNorm,
    conv: nn::Conv2D,
}

/// The DenseNet trunk up to the pooled feature.
#[derive(Debug)]
pub struct DenseNet {
    conv0: nn::Conv2D,
    norm0: nn::BatchNorm,
    blocks: Vec<(Vec<DenseLayer>, Option<Transition>)>,
    norm5: nn::BatchNorm,
}

impl DenseNet {
    pub fn new(
        p: &nn::Path,
        growth_rate: usize,
        block_config: [usize; 4],
        num_init_features: usize,
        bn_size: usize,
    ) -> DenseNet {
        let f = p / "features";
        let (growth, bottleneck) = (growth_rate as i64, (bn_size * growth_rate) as i64);
        let mut c = num_init_features as i64;
        let conv0 = conv(&(&f / "conv0"), 3, c, 7, 2, 1, false, ConvInit::FanIn);
        let norm0 = bn(&(&f / "norm0"), c);
        let mut blocks = Vec::new();
        for (i, &n) in block_config.iter().enumerate() {
            let bp = &f / format!("denseblock{}", i + 1);
            let layers = (0..n)
                .map(|j| {
                    let lp = &bp / format!("denselayer{}", j + 1);
                    let cin = c + j as i64 * growth;
                    DenseLayer {
                        norm1: bn(&(&lp / "norm1"), cin),
                        conv1: conv(&(&lp / "conv1"), cin, bottleneck, 1, 1, 1, false, ConvInit::FanIn),
                        norm2: bn(&(&lp / "norm2"), bottleneck),
                        conv2: conv(&(&lp / "conv2"), bottleneck, growth, 3, 1, 1, false, ConvInit::FanIn),
                    }
                })
                .collect();
            c += n as i64 * growth;
            let transition = (i + 1 < block_config.len()).then(|| {
                let tp = &f / format!("transition{}", i + 1);
                let t = Transition {
                    norm: bn(&(&tp / "norm"), c),
                    conv: conv(&(&tp / "conv"), c, c / 2, 1, 1, 1, false, ConvInit::FanIn),
                };
                c /= 2;
                t
            });
            blocks.push((layers, transition));
        }
        let norm5 = bn(&(&f / "norm5"), c);
        DenseNet { conv0, norm0, blocks, norm5 }
    }
}

impl ModuleT for DenseNet {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h =
            x.apply(&self.conv0).apply_t(&self.norm0, train).relu().max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        for (layers, transition) in &self.blocks {
            let mut features = vec![h];
            for l in layers {
                let input = Tensor::cat(&features, 1);
                let y = input.apply_t(&l.norm1, train).relu().apply(&l.conv1);
                let y = y.apply_t(&l.norm2, train).relu().apply(&l.conv2);
                features.push(y);
            }
            h = Tensor::cat(&features, 1);
            if let Some(t) = transition {
                h = h.apply_t(&t.norm, train).relu().apply(&t.conv).avg_pool2d(
                    [2, 2],
                    [2, 2],
                    [0, 0],
                    false,
                    true,
                    None,
                );
            }
        }
        pool(&h.apply_t(&self.norm5, train).relu())
    }
}
