// The autocast kind of CUDA for twoway-gpu: libtorch's C API (used by tch) can switch autocast on and
// off but not choose its kind, so this sets and reads it (bf16 for the reproduction's CUDA forward pass).
#include <ATen/autocast_mode.h>

extern "C" void twoway_autocast_set_cuda_bf16(int enable_bf16) {
  at::autocast::set_autocast_dtype(at::kCUDA, enable_bf16 ? at::kBFloat16 : at::kHalf);
}

extern "C" int twoway_autocast_cuda_is_bf16() {
  return at::autocast::get_autocast_dtype(at::kCUDA) == at::kBFloat16;
}

// TF32 for CUDA matrix products and convolutions (libtorch allows it in cuDNN convolutions by default):
// off for exactness checks against an f32 / f64 reference.
#include <ATen/Context.h>

extern "C" void twoway_cuda_set_tf32(int allow) {
  at::globalContext().setAllowTF32CuBLAS(allow != 0);
  at::globalContext().setAllowTF32CuDNN(allow != 0);
}

extern "C" int twoway_cuda_tf32_allowed() {
  return at::globalContext().allowTF32CuBLAS() || at::globalContext().allowTF32CuDNN();
}

// cuDNN's choice of algorithm (twoway noise's CUDA settings): deterministic algorithms, benchmarking.
extern "C" void twoway_cudnn_set(int deterministic, int benchmark) {
  at::globalContext().setDeterministicCuDNN(deterministic != 0);
  at::globalContext().setBenchmarkCuDNN(benchmark != 0);
}
