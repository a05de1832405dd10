//! RegNetX and RegNetY (torchvision's `regnet_x_400mf` ... `regnet_y_128gf`): a 3x3 stride-2 stem, then
//! stages of residual bottleneck blocks (1x1, grouped 3x3 with the stage's stride in the first block, for
//! RegNetY a squeeze-excitation whose width is `se_ratio` times the block's input width, 1x1), built from the
//! block parameters in the spec. RegNetX is the same without the squeeze-excitation (`se_ratio: 0`).
//! Parameter names are torchvision's (`stem.0`, `trunk_output.block1.block1-0.f.se.fc1`, `...proj.0`).

use super::layers::{bn, conv, conv_bn_relu, pool, ConvInit};
use tch::nn::{self, ModuleT};
use tch::Tensor;
use twoway_spec::registry::RegnetStage;

#[derive(Debug)]
struct Block {
    proj: Option<(nn::Conv2D, nn::BatchNorm)>,
    a: (nn::Conv2D, nn::BatchNorm),
    b: (nn::Conv2D, nn::BatchNorm),
    se: Option<(nn::Conv2D, nn::Conv2D)>,
    c: (nn::Conv2D, nn::BatchNorm),
}

/// The convolution and BatchNorm of torchvision's `Conv2dNormActivation` (`name.0`, `name.1`).
fn conv_norm(p: &nn::Path, cin: i64, cout: i64, k: i64, stride: i64, groups: i64) -> (nn::Conv2D, nn::BatchNorm) {
    (conv(&(p / "0"), cin, cout, k, stride, groups, false, ConvInit::FanOut), bn(&(p / "1"), cout))
}

impl Block {
    fn new(p: &nn::Path, cin: i64, cout: i64, stride: i64, group_width: i64, se_ratio: f64) -> Block {
        let f = p / "f";
        let groups = cout / group_width;
        let se_width = (se_ratio * cin as f64).round_ties_even() as i64;
        let se = &f / "se";
        let se_conv = |name: &str, a, b| conv(&(&se / name), a, b, 1, 1, 1, true, ConvInit::FanOut);
        Block {
            proj: (cin != cout || stride != 1).then(|| conv_norm(&(p / "proj"), cin, cout, 1, stride, 1)),
            a: conv_norm(&(&f / "a"), cin, cout, 1, 1, 1),
            b: conv_norm(&(&f / "b"), cout, cout, 3, stride, groups),
            se: (se_ratio > 0.0).then(|| (se_conv("fc1", cout, se_width), se_conv("fc2", se_width, cout))),
            c: conv_norm(&(&f / "c"), cout, cout, 1, 1, 1),
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = conv_bn_relu(x, &self.a.0, &self.a.1, train);
        let h = conv_bn_relu(&h, &self.b.0, &self.b.1, train);
        let h = match &self.se {
            Some((fc1, fc2)) => {
                let scale = h.adaptive_avg_pool2d([1, 1]).apply(fc1).relu().apply(fc2).sigmoid();
                h * scale
            }
            None => h,
        };
        let h = h.apply(&self.c.0).apply_t(&self.c.1, train);
        let shortcut = match &self.proj {
            Some((c, b)) => x.apply(c).apply_t(b, train),
            None => x.shallow_clone(),
        };
        (shortcut + h).relu()
    }
}

/// The RegNet trunk up to the pooled feature.
#[derive(Debug)]
pub struct RegNet {
    stem: (nn::Conv2D, nn::BatchNorm),
    blocks: Vec<Block>,
}

impl RegNet {
    pub fn new(p: &nn::Path, stem_width: usize, stages: &[RegnetStage], se_ratio: f64) -> RegNet {
        let stem = conv_norm(&(p / "stem"), 3, stem_width as i64, 3, 2, 1);
        let trunk = p / "trunk_output";
        let mut cin = stem_width as i64;
        let mut blocks = Vec::new();
        for (i, s) in stages.iter().enumerate() {
            let sp = &trunk / format!("block{}", i + 1);
            for j in 0..s.depth {
                let cout = s.width as i64;
                let stride = if j == 0 { 2 } else { 1 };
                let bp = &sp / format!("block{}-{j}", i + 1);
                blocks.push(Block::new(&bp, cin, cout, stride, s.group_width as i64, se_ratio));
                cin = cout;
            }
        }
        RegNet { stem, blocks }
    }
}

impl ModuleT for RegNet {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = conv_bn_relu(x, &self.stem.0, &self.stem.1, train);
        for b in &self.blocks {
            h = b.forward_t(&h, train);
        }
        pool(&h)
    }
}
