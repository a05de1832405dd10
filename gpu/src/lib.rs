//! The twoway losses on tch tensors. This crate links libtorch; its tests run on CPU everywhere and on
//! CUDA when a device is present.

pub use tch;

/// The device the library computes on by default: the first CUDA device when libtorch sees one, else the CPU.
pub fn default_device() -> tch::Device {
    tch::Device::cuda_if_available()
}

/// A one-line description of the linked libtorch and the devices it sees, for logs and result files.
pub fn runtime_info() -> String {
    let cuda = if tch::Cuda::is_available() {
        format!("CUDA available ({} device(s))", tch::Cuda::device_count())
    } else {
        "CUDA not available".to_string()
    };
    format!(
        "libtorch via tch 0.26, {cuda}, {} CPU thread(s)",
        tch::get_num_threads()
    )
}
