// What libtorch's CPU numerics depend on, for twoway's numerics fingerprint and its portable mode:
// the kernel family ATen dispatches to (chosen by CPU at first use, capped by ATEN_CPU_CAPABILITY),
// whether ATen may call oneDNN (mkldnn) or NNPACK for convolutions, and libtorch's version.
#include <ATen/Context.h>
#include <ATen/Version.h>
#include <torch/headeronly/version.h>

#include <cstring>

// ATen's name of the kernel build it dispatches to ("DEFAULT", "AVX2", "AVX512", ...), copied into `out`
// (NUL-terminated, cut to `len` - 1 bytes); returns the name's full length.
extern "C" int twoway_aten_cpu_capability(char* out, int len) {
  const std::string name = at::get_cpu_capability();
  if (len > 0) {
    const size_t n = std::min(name.size(), static_cast<size_t>(len - 1));
    std::memcpy(out, name.data(), n);
    out[n] = 0;
  }
  return static_cast<int>(name.size());
}

extern "C" void twoway_set_mkldnn_enabled(int enabled) {
  at::globalContext().setUserEnabledMkldnn(enabled != 0);
}

extern "C" int twoway_mkldnn_enabled() {
  return at::globalContext().userEnabledMkldnn() ? 1 : 0;
}

extern "C" void twoway_set_nnpack_enabled(int enabled) {
  at::globalContext().setUserEnabledNNPACK(enabled != 0);
}

// Whether ATen may run NNPACK's convolutions (it picks them for inference convolutions of 16 samples or
// more, where NNPACK supports the CPU: AVX2 on x86-64).
extern "C" int twoway_nnpack_enabled() {
  return at::globalContext().userEnabledNNPACK() ? 1 : 0;
}

extern "C" const char* twoway_torch_version() {
  return TORCH_VERSION;
}
