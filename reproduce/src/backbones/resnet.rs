//! ResNet, ResNeXt and Wide ResNet (torchvision's `resnet18` ... `resnet152`, `resnext50_32x4d` ...,
//! `wide_resnet50_2` ...): basic blocks (two 3x3 convolutions, ResNet18 / 34) or bottleneck blocks (1x1,
//! 3x3 with the stride and `groups` x `width_per_group` channels, 1x1 with 4x expansion). Parameter names
//! are torchvision's (`conv1`, `bn1`, `layer1.0.conv2`, `layer2.0.downsample.0`, ...).

use super::layers::{bn, conv, conv_bn_relu, pool, ConvInit};
use tch::nn::{self, ModuleT};
use tch::Tensor;
use twoway_spec::registry::ResnetBlock;

/// One residual block: its convolutions with their BatchNorms (`conv1`/`bn1`, ...), a ReLU after each but
/// the last, then the shortcut added and a ReLU.
#[derive(Debug)]
struct Block {
    convs: Vec<(nn::Conv2D, nn::BatchNorm)>,
    downsample: Option<(nn::Conv2D, nn::BatchNorm)>,
}

/// How many output channels a block of `planes` has.
fn expansion(block: ResnetBlock) -> i64 {
    match block {
        ResnetBlock::Basic => 1,
        ResnetBlock::Bottleneck => 4,
    }
}

impl Block {
    fn new(p: &nn::Path, kind: ResnetBlock, cin: i64, planes: i64, stride: i64, groups: i64, base: i64) -> Block {
        let out = planes * expansion(kind);
        let unit = |k: usize, a, b, size, s, g| {
            let c = conv(&(p / format!("conv{k}")), a, b, size, s, g, false, ConvInit::FanOut);
            (c, bn(&(p / format!("bn{k}")), b))
        };
        let convs = match kind {
            ResnetBlock::Basic => vec![unit(1, cin, planes, 3, stride, 1), unit(2, planes, planes, 3, 1, 1)],
            ResnetBlock::Bottleneck => {
                let width = planes * base / 64 * groups;
                vec![
                    unit(1, cin, width, 1, 1, 1),
                    unit(2, width, width, 3, stride, groups),
                    unit(3, width, out, 1, 1, 1),
                ]
            }
        };
        // torchvision's `downsample` is a Sequential: `downsample.0` (conv), `downsample.1` (BatchNorm).
        let downsample = (stride != 1 || cin != out).then(|| {
            let d = p / "downsample";
            (conv(&(&d / "0"), cin, out, 1, stride, 1, false, ConvInit::FanOut), bn(&(&d / "1"), out))
        });
        Block { convs, downsample }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let (last, first) = self.convs.split_last().expect("a block has convolutions");
        let mut h = x.shallow_clone();
        for (c, b) in first {
            h = conv_bn_relu(&h, c, b, train);
        }
        let h = h.apply(&last.0).apply_t(&last.1, train);
        let identity = match &self.downsample {
            Some((c, b)) => x.apply(c).apply_t(b, train),
            None => x.shallow_clone(),
        };
        (h + identity).relu()
    }
}

/// The ResNet trunk up to the pooled feature (512 wide with basic blocks, 2048 with bottlenecks).
#[derive(Debug)]
pub struct ResNet {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    layers: Vec<Vec<Block>>,
}

impl ResNet {
    pub fn new(p: &nn::Path, block: ResnetBlock, layers: [usize; 4], groups: usize, width_per_group: usize) -> ResNet {
        let (groups, base) = (groups as i64, width_per_group as i64);
        let conv1 = conv(&(p / "conv1"), 3, 64, 7, 2, 1, false, ConvInit::FanOut);
        let bn1 = bn(&(p / "bn1"), 64);
        let mut cin = 64;
        let mut stages = Vec::new();
        for (i, &n) in layers.iter().enumerate() {
            let planes = 64 << i;
            let stride = if i == 0 { 1 } else { 2 };
            let lp = p / format!("layer{}", i + 1);
            let blocks = (0..n)
                .map(|j| {
                    let s = if j == 0 { stride } else { 1 };
                    let b = Block::new(&(&lp / j), block, cin, planes, s, groups, base);
                    cin = planes * expansion(block);
                    b
                })
                .collect();
            stages.push(blocks);
        }
        ResNet { conv1, bn1, layers: stages }
    }
}

impl ModuleT for ResNet {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = conv_bn_relu(x, &self.conv1, &self.bn1, train).max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        for stage in &self.layers {
            for block in stage {
                h = block.forward_t(&h, train);
            }
        }
        pool(&h)
    }
}
