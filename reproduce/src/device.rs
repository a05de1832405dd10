//! Device names as users write them (`auto`, `cpu`, `cuda`, `cuda:N`) and their resolution to a libtorch
//! device. Parsing is torch-free, so the torch-free build reads the same flags; resolving checks that
//! libtorch sees the device and says what to use instead. Tested in `tests/cli_eval.rs` (an unknown
//! device) and `tests/cli_cells.rs` (`--devices`).

/// A device name: `auto` (the first CUDA device if any, else the CPU), `cpu`, `cuda` (= `cuda:0`) or
/// `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceName {
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

impl std::str::FromStr for DeviceName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(DeviceName::Auto),
            "cpu" => Ok(DeviceName::Cpu),
            "cuda" => Ok(DeviceName::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(DeviceName::Cuda(n)),
                _ => Err(format!("unknown device `{s}`: use cpu, cuda or cuda:N (or auto)")),
            },
        }
    }
}

impl std::fmt::Display for DeviceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceName::Auto => f.write_str("auto"),
            DeviceName::Cpu => f.write_str("cpu"),
            DeviceName::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceName {
    /// The device, after checking that libtorch sees it (`auto`: CUDA device 0 when there is one).
    #[cfg(feature = "torch")]
    pub fn resolve(self) -> anyhow::Result<tch::Device> {
        match self {
            DeviceName::Auto => Ok(tch::Device::cuda_if_available()),
            DeviceName::Cpu => Ok(tch::Device::Cpu),
            DeviceName::Cuda(n) => {
                let count = if tch::Cuda::is_available() { tch::Cuda::device_count() as usize } else { 0 };
                if n >= count {
                    anyhow::bail!(
                        "device cuda:{n} asked for, but libtorch sees {count} CUDA device(s) ({}); use --device cpu",
                        twoway_gpu::runtime_info()
                    );
                }
                Ok(tch::Device::Cuda(n))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DeviceName;

    #[test]
    fn names_parse_and_print_back() {
        for (text, name) in [("auto", DeviceName::Auto), ("cpu", DeviceName::Cpu), ("cuda:3", DeviceName::Cuda(3))] {
            assert_eq!(text.parse::<DeviceName>(), Ok(name));
            assert_eq!(name.to_string(), text);
        }
        assert_eq!("cuda".parse::<DeviceName>(), Ok(DeviceName::Cuda(0)));
        assert!("tpu".parse::<DeviceName>().unwrap_err().contains("unknown device `tpu`"));
        assert!("cuda:x".parse::<DeviceName>().is_err());
    }
}
