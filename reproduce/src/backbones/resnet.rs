//! ResNet and ResNeXt (torchvision's `resnet50`, `resnext50_32x4d`): bottleneck blocks with the stride in
//! the 3x3 convolution, `groups` x `width_per_group` channels in it. Parameter names are torchvision's
//! (`conv1`, `bn1`, `layer1.0.conv2`, `layer2.0.downsample.0`, ...).

use super::layers::{bn, conv, conv_bn_relu, pool, ConvInit};
use tch::nn::{self, ModuleT};
use tch::Tensor;

const EXPANSION: i64 = 4;

#[derive(Debug)]
struct Bottleneck {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    conv3: nn::Conv2D,
    bn3: nn::BatchNorm,
    downsample: Option<(nn::Conv2D, nn::BatchNorm)>,
}

impl Bottleneck {
    fn new(p: &nn::Path, cin: i64, planes: i64, stride: i64, groups: i64, base_width: i64) -> Bottleneck {
        let width = planes * base_width / 64 * groups;
        let out = planes * EXPANSION;
        let c = |name: &str, a, b, k, s, g| conv(&(p / name), a, b, k, s, g, false, ConvInit::FanOut);
        // torchvision's `downsample` is a Sequential: `downsample.0` (conv), `downsample.1` (BatchNorm).
        let downsample = (stride != 1 || cin != out).then(|| {
            let d = p / "downsample";
            (conv(&(&d / "0"), cin, out, 1, stride, 1, false, ConvInit::FanOut), bn(&(&d / "1"), out))
        });
        Bottleneck {
            conv1: c("conv1", cin, width, 1, 1, 1),
            bn1: bn(&(p / "bn1"), width),
            conv2: c("conv2", width, width, 3, stride, groups),
            bn2: bn(&(p / "bn2"), width),
            conv3: c("conv3", width, out, 1, 1, 1),
            bn3: bn(&(p / "bn3"), out),
            downsample,
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = conv_bn_relu(x, &self.conv1, &self.bn1, train);
        let h = conv_bn_relu(&h, &self.conv2, &self.bn2, train);
        let h = h.apply(&self.conv3).apply_t(&self.bn3, train);
        let identity = match &self.downsample {
            Some((c, b)) => x.apply(c).apply_t(b, train),
            None => x.shallow_clone(),
        };
        (h + identity).relu()
    }
}

/// The ResNet trunk up to the pooled feature (2048 wide for the bottleneck ResNets).
#[derive(Debug)]
pub struct ResNet {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    layers: Vec<Vec<Bottleneck>>,
}

impl ResNet {
    pub fn new(p: &nn::Path, layers: [usize; 4], groups: usize, width_per_group: usize) -> ResNet {
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
                    let b = Bottleneck::new(&(&lp / j), cin, planes, if j == 0 { stride } else { 1 }, groups, base);
                    cin = planes * EXPANSION;
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
