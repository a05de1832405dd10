//! See `twoway_reproduce::fuzzing::spec_yaml`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| twoway_reproduce::fuzzing::spec_yaml(data));
