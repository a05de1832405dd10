//! The shared conformance suite against the tch implementation on CPU in every kind (always, in
//! `make test`), and on CUDA with the `cuda` feature (`cargo test -p twoway-tests --features cuda`; it
//! fails when libtorch sees no CUDA device). f16 and bf16 cannot hold the vectors' logits: they are
//! compared with the reference on the rounded logits (see [`twoway_tests::Backend::rounded_inputs`]).

use tch::Kind;
use twoway_tests::Tch;

twoway_tests::conformance_suite!(tch_cpu_f64, Tch::cpu(Kind::Double));
twoway_tests::conformance_suite!(tch_cpu_f32, Tch::cpu(Kind::Float));
twoway_tests::conformance_suite!(tch_cpu_f16, Tch::cpu(Kind::Half));
twoway_tests::conformance_suite!(tch_cpu_bf16, Tch::cpu(Kind::BFloat16));

#[cfg(feature = "cuda")]
twoway_tests::conformance_suite!(tch_cuda_f64, Tch::cuda(Kind::Double));
#[cfg(feature = "cuda")]
twoway_tests::conformance_suite!(tch_cuda_f32, Tch::cuda(Kind::Float));
#[cfg(feature = "cuda")]
twoway_tests::conformance_suite!(tch_cuda_f16, Tch::cuda(Kind::Half));
#[cfg(feature = "cuda")]
twoway_tests::conformance_suite!(tch_cuda_bf16, Tch::cuda(Kind::BFloat16));
