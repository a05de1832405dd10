//! Numerics: the portable mode's environment, and the fingerprint of the arithmetic a result was made with.
//!
//! libtorch lets each of its libraries pick kernels by CPU (ATen's vectorised kernels, oneDNN's
//! convolutions, MKL's BLAS), and glibc's libm picks builds of exp, log and pow by CPU; training turns
//! their last-bit differences into tenths of a point. The portable mode (`spec/data/numerics.yaml`) caps
//! every such choice at what all x86-64 CPUs share. Some of those choices are read from the environment
//! before `main` runs (glibc's tunables) or on first use (ATen, MKL, oneDNN), so `twoway run` sets them by
//! re-executing itself ([`enter_portable`]) before libtorch runs a kernel; the torch side then turns ATen's
//! use of oneDNN and NNPACK off and reads back what each library chose into a [`Fingerprint`].
//!
//! Invariants: a portable process has exactly the environment [`portable_changes`] asks for (else it
//! re-executes once, and a second mismatch is an error, never a loop); two fingerprints with
//! [`Fingerprint::same_numerics`] give bit-identical results for one configuration. Tested in
//! `reproduce/tests/cli_numerics.rs` (bit-identity under the knobs, the native mode's sensitivity, the
//! gate's refusal) and the unit tests below.

use anyhow::{bail, Result};
use std::ffi::OsString;
use twoway_spec::numerics::NumericsSpec;
use twoway_spec::Numerics;

/// The variable that carries a `twoway noise` CUDA setting's kernel switches to its rerun.
pub const CUDA_KERNELS_VAR: &str = "TWOWAY_CUDA_KERNELS";

/// The variable that marks a process as re-executed into the portable environment.
pub const REEXEC_MARK: &str = "TWOWAY_NUMERICS_REEXEC";

/// What decided a result's arithmetic. Written into every result file and baseline CSV.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fingerprint {
    /// `portable` or `native`.
    pub mode: Numerics,
    /// The CPU architecture (`x86_64`).
    pub arch: String,
    /// The CPU's model name (`/proc/cpuinfo`).
    pub cpu: String,
    /// libtorch's version.
    pub libtorch: String,
    /// glibc's version (its libm computes exp, log, pow).
    pub glibc: String,
    /// The build of ATen's vectorised CPU kernels that runs: `default`, `avx2`, `avx512`.
    pub aten: String,
    /// oneDNN as ATen uses it: `off`, or the instruction set oneDNN reports.
    pub onednn: String,
    /// NNPACK as ATen uses it: `off`, `on`, or `unsupported` (by this CPU).
    pub nnpack: String,
    /// The BLAS: MKL's version, the code path it reports and its reproducibility mode (CNR).
    pub blas: String,
    /// The builds of glibc's libm functions chosen by CPU: `sse2`, `avx`, `fma4`, `fma`.
    pub libm: String,
    /// libtorch's CPU threads.
    pub threads: usize,
    /// `cpu`, or the CUDA device.
    pub device: String,
}

impl Fingerprint {
    /// Whether results made under `self` and `other` are bit-identical for the same configuration: the same
    /// mode, software, kernel choices, threads and CPU device, and (native mode) the same CPU model. CUDA
    /// results are never taken as identical (cuDNN and cuBLAS pick kernels by GPU and are not pinned here).
    pub fn same_numerics(&self, other: &Fingerprint) -> bool {
        self.differences(other).is_empty() && self.device == "cpu"
    }

    /// The fields in which `self` and `other` differ, as (field, self's, other's); the CPU model counts only
    /// when either side is native.
    pub fn differences(&self, other: &Fingerprint) -> Vec<(&'static str, String, String)> {
        let portable = self.mode == Numerics::Portable && other.mode == Numerics::Portable;
        self.fields()
            .into_iter()
            .zip(other.fields())
            .filter(|((name, a), (_, b))| a != b && !(portable && *name == "cpu"))
            .map(|((name, a), (_, b))| (name, a, b))
            .collect()
    }

    fn fields(&self) -> [(&'static str, String); 12] {
        [
            ("mode", self.mode.to_string()),
            ("arch", self.arch.clone()),
            ("cpu", self.cpu.clone()),
            ("libtorch", self.libtorch.clone()),
            ("glibc", self.glibc.clone()),
            ("aten", self.aten.clone()),
            ("onednn", self.onednn.clone()),
            ("nnpack", self.nnpack.clone()),
            ("blas", self.blas.clone()),
            ("libm", self.libm.clone()),
            ("threads", self.threads.to_string()),
            ("device", self.device.clone()),
        ]
    }

    /// One line: `portable on AMD EPYC (x86_64), libtorch 2.13.0, ..., 2 thread(s), cpu`.
    pub fn summary(&self) -> String {
        format!(
            "{} on {} ({}), libtorch {}, glibc {}, aten {}, onednn {}, nnpack {}, blas {}, libm {}, {} thread(s), {}",
            self.mode,
            self.cpu,
            self.arch,
            self.libtorch,
            self.glibc,
            self.aten,
            self.onednn,
            self.nnpack,
            self.blas,
            self.libm,
            self.threads,
            self.device
        )
    }
}

/// The environment changes that make this process portable: (variable, value to set or `None` to
/// remove), only those whose current value (`get`) differs. Empty when the environment is portable.
pub fn portable_changes(spec: &NumericsSpec, get: impl Fn(&str) -> Option<OsString>) -> Vec<(String, Option<String>)> {
    let p = &spec.portable;
    let mut want: Vec<(String, Option<String>)> =
        p.environment.iter().map(|e| (e.name.clone(), Some(e.value.clone()))).collect();
    want.extend(p.unset.iter().map(|u| (u.name.clone(), None)));
    want.push(("GLIBC_TUNABLES".into(), Some(glibc_tunables(&p.glibc_hwcaps_masked, get("GLIBC_TUNABLES")))));
    want.into_iter().filter(|(name, value)| get(name).map(|v| v.to_string_lossy().into_owned()) != *value).collect()
}

/// GLIBC_TUNABLES with the user's other tunables kept and `glibc.cpu.hwcaps` replaced by the mask (left
/// out when the mask is empty).
pub(crate) fn glibc_tunables(masked: &[String], current: Option<OsString>) -> String {
    let current = current.map(|c| c.to_string_lossy().into_owned()).unwrap_or_default();
    let mut parts: Vec<String> = current
        .split(':')
        .filter(|t| !t.is_empty() && !t.starts_with("glibc.cpu.hwcaps="))
        .map(str::to_string)
        .collect();
    let mask: Vec<String> = masked.iter().map(|f| format!("-{f}")).collect();
    if !mask.is_empty() {
        parts.push(format!("glibc.cpu.hwcaps={}", mask.join(",")));
    }
    parts.join(":")
}

/// Makes this process portable: returns when its environment already is, else re-executes the running
/// binary with the same arguments and the portable environment (it does not return then). A process
/// that was re-executed and still is not portable is an error naming the variables.
pub fn enter_portable(spec: &NumericsSpec) -> Result<()> {
    let changes = portable_changes(spec, |n| std::env::var_os(n));
    if changes.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = changes.iter().map(|(n, _)| n.as_str()).collect();
    if std::env::var_os(REEXEC_MARK).is_some() {
        bail!("could not set the portable numerics environment (still differing: {})", names.join(", "));
    }
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.args(std::env::args_os().skip(1)).env(REEXEC_MARK, "1");
    if let Some(arg0) = std::env::args_os().next() {
        cmd.arg0(arg0);
    }
    for (name, value) in &changes {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    let err = cmd.exec();
    bail!("cannot re-execute twoway in the portable numerics environment: {err}")
}

/// The CPU as the libraries see it, from `/proc/cpuinfo`: its model name (a virtual machine may show only
/// the vendor's family name), family, model and stepping, and which of the instruction sets the libraries
/// choose kernels by it has (`unknown` where there is no `/proc/cpuinfo`).
pub fn cpu_model() -> String {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let Some(name) = field("model name").or_else(|| field("Model")).or_else(|| field("CPU part")) else {
        return "unknown".into();
    };
    let mut parts = Vec::new();
    if let (Some(f), Some(m), Some(s)) = (field("cpu family"), field("model"), field("stepping")) {
        parts.push(format!("family {f} model {m} stepping {s}"));
    }
    let flags = field("flags").unwrap_or_default();
    let have: Vec<&str> = ["amx_tile", "avx512_bf16", "avx512_vnni", "avx512f", "avx2", "fma", "avx", "sse4_2"]
        .into_iter()
        .filter(|f| flags.split_whitespace().any(|x| x == *f))
        .collect();
    if !have.is_empty() {
        parts.push(have.join(" "));
    }
    if parts.is_empty() {
        name
    } else {
        format!("{name} ({})", parts.join("; "))
    }
}

/// glibc's version, or `none` on another C library.
pub fn glibc_version() -> String {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn gnu_get_libc_version() -> *const std::os::raw::c_char;
        }
        // SAFETY: glibc returns a pointer to a static NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) }.to_string_lossy().into_owned()
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        "none".into()
    }
}

/// Which builds of its libm functions glibc selected for this process (x86-64): `fma` where FMA and AVX2
/// are active, else `fma4`, else `avx`, else `sse2`, as glibc's selectors test them after its tunables;
/// `n/a` on other architectures or without glibc's feature interface (glibc < 2.33).
pub fn libm_variant() -> String {
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    {
        glibc_x86_libm_variant().unwrap_or("n/a").to_string()
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")))]
    {
        "n/a".to_string()
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
fn glibc_x86_libm_variant() -> Option<&'static str> {
    #[repr(C)]
    struct Leaf {
        _cpuid: [u32; 4],
        active: [u32; 4],
    }
    type GetLeaf = unsafe extern "C" fn(u32) -> *const Leaf;
    // SAFETY: dlsym with the default handle and a NUL-terminated name; a null result is checked.
    let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__x86_get_cpuid_feature_leaf".as_ptr()) };
    if f.is_null() {
        return None;
    }
    // SAFETY: the symbol is glibc's `const struct cpuid_feature *__x86_get_cpuid_feature_leaf(unsigned)`.
    let get: GetLeaf = unsafe { std::mem::transmute::<*mut libc::c_void, GetLeaf>(f) };
    // Leaves (glibc's indices): 0 = CPUID 1, 1 = CPUID 7, 2 = CPUID 0x80000001; registers eax, ebx, ecx, edx.
    // SAFETY: glibc returns a pointer to its static feature table (zeroed for a leaf it does not know).
    let active = |leaf: u32, reg: usize, bit: u32| unsafe { (*get(leaf)).active[reg] >> bit & 1 == 1 };
    let (fma, avx, avx2, fma4) = (active(0, 2, 12), active(0, 2, 28), active(1, 1, 5), active(2, 2, 16));
    Some(if fma && avx2 {
        "fma"
    } else if fma4 {
        "fma4"
    } else if avx {
        "avx"
    } else {
        "sse2"
    })
}

/// Reads back the arithmetic this process runs with, after turning ATen's use of oneDNN off in portable
/// mode: ATen's kernel build (asked in-process, which also fixes it), MKL's and oneDNN's own reports (from
/// On CUDA, the kernel switches `twoway noise` asks for through `TWOWAY_CUDA_KERNELS` (`default`,
/// `deterministic`, `benchmark`, `tf32`), applied to libtorch's global context; the text the fingerprint's
/// device then carries (empty for the defaults). Off CUDA the variable is ignored.
#[cfg(feature = "torch")]
fn apply_cuda_kernels(device: tch::Device) -> Result<String> {
    let Ok(k) = std::env::var(CUDA_KERNELS_VAR) else { return Ok(String::new()) };
    if !matches!(device, tch::Device::Cuda(_)) {
        return Ok(String::new());
    }
    match k.as_str() {
        "default" => return Ok(String::new()),
        "deterministic" => {
            twoway_gpu::set_cudnn(true, false);
            twoway_gpu::set_cuda_tf32(false);
        }
        "benchmark" => twoway_gpu::set_cudnn(false, true),
        "tf32" => twoway_gpu::set_cuda_tf32(true),
        other => bail!("{}=`{other}`: one of {}", CUDA_KERNELS_VAR, twoway_spec::numerics::CUDA_KERNELS.join(", ")),
    }
    Ok(format!(" ({k} kernels)"))
}

/// `twoway probe-numerics` run with their verbose modes on, in this process's environment), glibc's libm
/// builds, CPU, versions, threads and device. In portable mode on x86-64, a library that did not take the
/// portable choice is an error that names it.
#[cfg(feature = "torch")]
pub fn capture(spec: &NumericsSpec, mode: Numerics, threads: usize, device: tch::Device) -> Result<Fingerprint> {
    use twoway_gpu::numerics as tn;
    if mode == Numerics::Portable {
        tn::set_mkldnn_enabled(spec.portable.mkldnn);
        tn::set_nnpack_enabled(spec.portable.nnpack);
    }
    let kernels = apply_cuda_kernels(device)?;
    let probe = std::process::Command::new("/proc/self/exe")
        .arg("probe-numerics")
        .env("MKL_VERBOSE", "1")
        .env("ONEDNN_VERBOSE", "1")
        .stdin(std::process::Stdio::null())
        .output();
    let (blas, isa) = match probe {
        Ok(o) if o.status.success() => parse_probe(&String::from_utf8_lossy(&o.stdout)),
        _ => ("unknown".to_string(), "unknown".to_string()),
    };
    let f = Fingerprint {
        mode,
        arch: std::env::consts::ARCH.to_string(),
        cpu: cpu_model(),
        libtorch: tn::torch_version(),
        glibc: glibc_version(),
        aten: tn::aten_cpu_capability(),
        onednn: if tn::mkldnn_enabled() { isa } else { "off".to_string() },
        nnpack: tn::nnpack_state().to_string(),
        blas,
        libm: libm_variant(),
        threads,
        device: match device {
            tch::Device::Cpu => "cpu".to_string(),
            tch::Device::Cuda(i) => format!("cuda:{i}{kernels}"),
            d => format!("{d:?}").to_lowercase(),
        },
    };
    if mode == Numerics::Portable && f.arch == "x86_64" {
        let mut wrong = Vec::new();
        if f.aten != "default" {
            wrong.push(format!("ATen runs its {} kernels", f.aten));
        }
        if f.onednn != "off" && !spec.portable.mkldnn {
            wrong.push(format!("ATen uses oneDNN ({})", f.onednn));
        }
        if f.nnpack == "on" && !spec.portable.nnpack {
            wrong.push("ATen uses NNPACK".to_string());
        }
        if !f.blas.ends_with("CNR COMPATIBLE") {
            wrong.push(format!("the BLAS reports `{}`, not MKL in CNR COMPATIBLE mode", f.blas));
        }
        if !["sse2", "n/a"].contains(&f.libm.as_str()) {
            wrong.push(format!("glibc's libm runs its {} builds", f.libm));
        }
        if !wrong.is_empty() {
            bail!("portable numerics are not in effect: {}", wrong.join("; "));
        }
    }
    Ok(f)
}

/// `twoway probe-numerics`: one matrix product through the BLAS and one oneDNN convolution, so that MKL
/// and oneDNN, with their verbose modes on, report the code paths they chose (read by [`capture`]).
#[cfg(feature = "torch")]
pub fn probe_kernels() {
    let opts = (tch::Kind::Float, tch::Device::Cpu);
    let a = tch::Tensor::ones([64, 64], opts);
    let _ = a.mm(&a);
    let x = tch::Tensor::ones([1, 4, 8, 8], opts);
    let w = tch::Tensor::ones([4, 4, 3, 3], opts);
    let _ = x.f_mkldnn_convolution(&w, None::<tch::Tensor>, [1, 1], [1, 1], [1, 1], 1);
}

/// What MKL and oneDNN report of themselves when their verbose modes are on (the output of `twoway
/// probe-numerics`): (BLAS description, oneDNN's instruction set).
pub fn parse_probe(text: &str) -> (String, String) {
    let mut version = String::new();
    let mut path = String::new();
    let mut cnr = String::new();
    let mut isa = String::from("unknown");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("MKL_VERBOSE ") {
            if let Some((v, tail)) = rest.split_once(" Product build") {
                version = v.trim().to_string();
                if let Some((_, p)) = tail.split_once(" architecture ") {
                    path = p.split(", Lnx").next().unwrap_or(p).trim().to_string();
                }
            } else if let Some(i) = rest.find("CNR:") {
                cnr = rest[i + 4..].split_whitespace().next().unwrap_or("").to_string();
            }
        } else if let Some(i) = line.find(",isa:") {
            isa = line[i + 5..].trim().to_string();
        }
    }
    let blas = if version.is_empty() { "unknown".to_string() } else { format!("{version}; {path}; CNR {cnr}") };
    (blas, isa)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn fp(mode: Numerics, cpu: &str) -> Fingerprint {
        Fingerprint {
            mode,
            arch: "x86_64".into(),
            cpu: cpu.into(),
            libtorch: "2.13.0".into(),
            glibc: "2.36".into(),
            aten: "default".into(),
            onednn: "off".into(),
            nnpack: "off".into(),
            blas: "oneMKL 2024.0; x; CNR COMPATIBLE".into(),
            libm: "sse2".into(),
            threads: 2,
            device: "cpu".into(),
        }
    }

    #[test]
    fn portable_fingerprints_ignore_the_cpu_model_and_native_ones_do_not() {
        let (a, b) = (fp(Numerics::Portable, "AMD EPYC"), fp(Numerics::Portable, "Intel Xeon"));
        assert!(a.same_numerics(&b));
        let (a, b) = (fp(Numerics::Native, "AMD EPYC"), fp(Numerics::Native, "Intel Xeon"));
        assert!(!a.same_numerics(&b));
        assert_eq!(a.differences(&b), vec![("cpu", "AMD EPYC".into(), "Intel Xeon".into())]);
        let mut c = fp(Numerics::Portable, "AMD EPYC");
        c.threads = 4;
        c.aten = "avx2".into();
        let d = fp(Numerics::Portable, "AMD EPYC");
        let fields: Vec<&str> = c.differences(&d).iter().map(|x| x.0).collect();
        assert_eq!(fields, ["aten", "threads"]);
        assert!(!fp(Numerics::Portable, "x").same_numerics(&fp(Numerics::Native, "x")));
        let mut cuda = fp(Numerics::Portable, "x");
        cuda.device = "cuda:0".into();
        assert!(!cuda.same_numerics(&cuda.clone()), "CUDA results are never taken as bit-identical");
    }

    #[test]
    fn the_portable_environment_replaces_the_users_and_keeps_other_tunables() {
        let spec = &twoway_spec::Spec::embedded().numerics;
        let user: HashMap<&str, &str> = [
            ("ATEN_CPU_CAPABILITY", "avx512"),
            ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
            ("GLIBC_TUNABLES", "glibc.malloc.arena_max=2:glibc.cpu.hwcaps=-AVX512F"),
        ]
        .into();
        let get = |env: &HashMap<String, String>, n: &str| env.get(n).map(OsString::from);
        let mut env: HashMap<String, String> = user.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let changes = portable_changes(spec, |n| get(&env, n));
        let names: Vec<&str> = changes.iter().map(|c| c.0.as_str()).collect();
        for n in ["ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "GLIBC_TUNABLES"]
        {
            assert!(names.contains(&n), "{n} not changed: {changes:?}");
        }
        let tunables = changes.iter().find(|c| c.0 == "GLIBC_TUNABLES").unwrap().1.clone().unwrap();
        assert_eq!(tunables, "glibc.malloc.arena_max=2:glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4");
        // Applied, the environment needs no further change (so a re-executed process does not loop).
        for (n, v) in changes {
            match v {
                Some(v) => env.insert(n, v),
                None => env.remove(&n),
            };
        }
        assert!(portable_changes(spec, |n| get(&env, n)).is_empty());
    }

    #[test]
    fn the_probe_reads_mkl_and_onednn_verbose_lines() {
        let text = "MKL_VERBOSE oneMKL 2024.0 Update 2 Product build 20240605 for Intel(R) 64 architecture \
                    Intel(R) Architecture processors, Lnx 2.60GHz lp64 gnu_thread\n\
                    MKL_VERBOSE SGEMM(N,N,64,64,64,...) 3.72ms CNR:COMPATIBLE Dyn:1 FastMM:1 TID:0  NThr:2\n\
                    onednn_verbose,v1,info,cpu,isa:Intel AVX-512 with Intel DL Boost and bfloat16 support\n";
        let (blas, isa) = parse_probe(text);
        assert_eq!(blas, "oneMKL 2024.0 Update 2; Intel(R) Architecture processors; CNR COMPATIBLE");
        assert_eq!(isa, "Intel AVX-512 with Intel DL Boost and bfloat16 support");
        assert_eq!(parse_probe(""), ("unknown".to_string(), "unknown".to_string()));
    }

    #[test]
    fn this_process_reports_its_cpu_glibc_and_libm() {
        assert!(!cpu_model().is_empty());
        if cfg!(all(target_arch = "x86_64", target_env = "gnu")) {
            assert!(glibc_version().starts_with("2."), "{}", glibc_version());
            assert!(["fma", "fma4", "avx", "sse2"].contains(&libm_variant().as_str()), "{}", libm_variant());
        }
    }
}
