//! See `twoway_reproduce::fuzzing::result_json`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| twoway_reproduce::fuzzing::result_json(data));
