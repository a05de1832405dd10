//! The layers the torchvision architectures are made of, with torchvision's parameter names and
//! initialisation: bias-free convolutions (Kaiming normal), BatchNorm (eps 1e-5, momentum 0.1, weight 1,
//! bias 0), and PyTorch's default `nn.Linear` initialisation for new heads.

use tch::nn::{self, Init};
use tch::Tensor;

/// How a convolution's weights are initialised when no weight file is loaded.
#[derive(Debug, Clone, Copy)]
pub enum ConvInit {
    /// Kaiming normal over fan-out, ReLU gain (torchvision's ResNet and RegNet).
    FanOut,
    /// Kaiming normal over fan-in, ReLU gain (torchvision's DenseNet).
    FanIn,
}

/// A 2-D convolution; `bias` only where torchvision has one (RegNet's squeeze-excitation).
#[allow(clippy::too_many_arguments)]
pub fn conv(
    p: &nn::Path,
    cin: i64,
    cout: i64,
    k: i64,
    stride: i64,
    groups: i64,
    bias: bool,
    init: ConvInit,
) -> nn::Conv2D {
    let fan = match init {
        ConvInit::FanOut => cout * k * k,
        ConvInit::FanIn => cin / groups * k * k,
    };
    let cfg = nn::ConvConfig {
        stride,
        padding: (k - 1) / 2,
        groups,
        bias,
        ws_init: Init::Randn { mean: 0.0, stdev: (2.0 / fan as f64).sqrt() },
        bs_init: Init::Const(0.0),
        ..Default::default()
    };
    nn::conv2d(p, cin, cout, k, cfg)
}

/// BatchNorm2d as torchvision builds it.
pub fn bn(p: &nn::Path, c: i64) -> nn::BatchNorm {
    let cfg = nn::BatchNormConfig {
        eps: 1e-5,
        momentum: 0.1,
        ws_init: Init::Const(1.0),
        bs_init: Init::Const(0.0),
        ..Default::default()
    };
    nn::batch_norm2d(p, c, cfg)
}

/// A new Linear layer initialised as PyTorch's `nn.Linear` default: weight and bias uniform in
/// ±1/sqrt(fan_in) (tch's own default draws the weight from a wider Kaiming bound).
pub fn linear_pytorch_init(p: &nn::Path, fan_in: i64, out: i64) -> nn::Linear {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let u = Init::Uniform { lo: -bound, up: bound };
    nn::linear(p, fan_in, out, nn::LinearConfig { ws_init: u, bs_init: Some(u), bias: true })
}

/// conv -> BatchNorm -> ReLU, the unit of every family.
pub fn conv_bn_relu(x: &Tensor, c: &nn::Conv2D, b: &nn::BatchNorm, train: bool) -> Tensor {
    x.apply(c).apply_t(b, train).relu()
}

/// Global average pooling to one feature vector per sample (any input size).
pub fn pool(x: &Tensor) -> Tensor {
    x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
}
