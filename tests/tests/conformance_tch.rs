//! The shared conformance suite against the tch implementation on CPU, in f64 and f32 (always, in
//! `make test`), and on CUDA with the `cuda` feature (`cargo test -p twoway-tests --features cuda`; it
//! fails when libtorch sees no CUDA device).

use tch::Kind;
use twoway_tests::Tch;

twoway_tests::conformance_suite!(tch_cpu_f64, Tch::cpu(Kind::Double));
twoway_tests::conformance_suite!(tch_cpu_f32, Tch::cpu(Kind::Float));

#[cfg(feature = "cuda")]
twoway_tests::conformance_suite!(tch_cuda_f64, Tch::cuda(Kind::Double));
#[cfg(feature = "cuda")]
twoway_tests::conformance_suite!(tch_cuda_f32, Tch::cuda(Kind::Float));
