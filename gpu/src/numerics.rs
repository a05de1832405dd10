//! What decides libtorch's CPU arithmetic, as this process runs it: the kernel family ATen dispatches to
//! (`at::get_cpu_capability`, chosen from the CPU at first use and capped by `ATEN_CPU_CAPABILITY`),
//! whether ATen may hand convolutions and matrix products to oneDNN (mkldnn) or convolutions to NNPACK,
//! and libtorch's version.
//! The `twoway` binary's portable numerics mode and its numerics fingerprint are built on these; the C++
//! side is `csrc/numerics.cpp`.

extern "C" {
    fn twoway_aten_cpu_capability(out: *mut std::os::raw::c_char, len: i32) -> i32;
    fn twoway_set_mkldnn_enabled(enabled: i32);
    fn twoway_mkldnn_enabled() -> i32;
    fn twoway_set_nnpack_enabled(enabled: i32);
    fn twoway_nnpack_enabled() -> i32;
    fn twoway_torch_version() -> *const std::os::raw::c_char;
}

/// The kernel build ATen dispatches its vectorised CPU kernels to, lower-cased as `ATEN_CPU_CAPABILITY`
/// takes it: `default` (the architecture's baseline build), `avx2`, `avx512` on x86-64. Asking fixes the
/// choice for the process (ATen decides at first use).
pub fn aten_cpu_capability() -> String {
    let mut buf = [0 as std::os::raw::c_char; 64];
    // SAFETY: the shim writes at most `len` bytes, NUL-terminated, into the buffer it is given.
    unsafe { twoway_aten_cpu_capability(buf.as_mut_ptr(), buf.len() as i32) };
    // SAFETY: the buffer is NUL-terminated by the shim.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().to_lowercase()
}

/// Lets ATen use oneDNN (mkldnn) for the CPU operations it would pick it for (`true`, libtorch's
/// default), or keeps every operation on ATen's own kernels and the BLAS (`false`).
pub fn set_mkldnn_enabled(enabled: bool) {
    // SAFETY: as above.
    unsafe { twoway_set_mkldnn_enabled(enabled as i32) }
}

/// Whether ATen may use oneDNN (mkldnn).
pub fn mkldnn_enabled() -> bool {
    // SAFETY: as above.
    unsafe { twoway_mkldnn_enabled() != 0 }
}

/// Lets ATen run NNPACK's convolutions where it would pick them (`true`, libtorch's default: inference
/// convolutions of 16 samples or more, on CPUs NNPACK supports), or keeps them on ATen's own path.
pub fn set_nnpack_enabled(enabled: bool) {
    // SAFETY: as above.
    unsafe { twoway_set_nnpack_enabled(enabled as i32) }
}

/// NNPACK as ATen may use it: `off` (turned off), `on` (on, and this CPU supports it), `unsupported`.
pub fn nnpack_state() -> &'static str {
    // SAFETY: as above.
    if unsafe { twoway_nnpack_enabled() } == 0 {
        "off"
    } else if tch::Tensor::internal_nnpack_available() {
        "on"
    } else {
        "unsupported"
    }
}

/// The version of the libtorch this crate was built against (`2.13.0`).
pub fn torch_version() -> String {
    // SAFETY: the shim returns a pointer to a static NUL-terminated string literal.
    unsafe { std::ffi::CStr::from_ptr(twoway_torch_version()) }.to_string_lossy().into_owned()
}
