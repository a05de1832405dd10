//! Proves that libtorch is installed and linked: a real tch computation on CPU, with autograd. Without
//! libtorch this test binary does not link or load, so the test fails rather than skips.

use tch::{Device, Kind, Tensor};

#[test]
fn softplus_and_its_gradient_match_closed_forms_on_cpu() {
    let xs = [-3.0f64, -0.5, 0.0, 0.7, 4.0];
    let x = Tensor::from_slice(&xs).to_device(Device::Cpu).set_requires_grad(true);
    let y = x.softplus().sum(Kind::Double);
    y.backward();
    let expected: f64 = xs.iter().map(|v| (1.0 + v.exp()).ln()).sum();
    let got = y.double_value(&[]);
    assert!((got - expected).abs() < 1e-12, "softplus sum {got} vs closed form {expected}");
    let grad = x.grad();
    for (i, v) in xs.iter().enumerate() {
        let sigmoid = 1.0 / (1.0 + (-v).exp());
        let g = grad.double_value(&[i as i64]);
        assert!((g - sigmoid).abs() < 1e-12, "d softplus / dx at {v}: {g} vs sigmoid {sigmoid}");
    }
}

#[test]
fn runtime_info_names_cuda_state() {
    let info = twoway_gpu::runtime_info();
    assert!(info.contains("CUDA"), "{info}");
}

#[test]
fn the_cuda_autocast_kind_can_be_set_to_bf16_and_back() {
    // libtorch keeps the CUDA autocast kind as process state even without a device: set it, read it back.
    twoway_gpu::set_cuda_autocast_bf16(true);
    assert!(twoway_gpu::cuda_autocast_is_bf16());
    twoway_gpu::set_cuda_autocast_bf16(false);
    assert!(!twoway_gpu::cuda_autocast_is_bf16());
    // Off CUDA the wrapper runs the closure unchanged.
    let x = tch::Tensor::from_slice(&[1.0f32, 2.0]);
    let y = twoway_gpu::autocast_bf16(true, || &x * 2.0);
    assert_eq!(y.kind(), tch::Kind::Float);
}
