// The autocast kind of CUDA for twoway-gpu: libtorch's C API (used by tch) can switch autocast on and
// off but not choose its kind, so this sets and reads it (bf16 for the reproduction's CUDA forward pass).
#include <ATen/autocast_mode.h>

extern "C" void twoway_autocast_set_cuda_bf16(int enable_bf16) {
  at::autocast::set_autocast_dtype(at::kCUDA, enable_bf16 ? at::kBFloat16 : at::kHalf);
}

extern "C" int twoway_autocast_cuda_is_bf16() {
  return at::autocast::get_autocast_dtype(at::kCUDA) == at::kBFloat16;
}
