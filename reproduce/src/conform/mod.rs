//! `twoway conform`: the spec's conformance cases run against an implementation twoway has never seen (a
//! Python function or class, or any program), each output compared with the reference.
//!
//! The cases, the comparison and the text / JSON report are the engine's ([`twoway_conform`], which the
//! Python package also runs in process); here [`call`] hands the cases to the implementation through a
//! folder of `.npy` files and reads its answers back, and [`junit`] writes the report as JUnit XML.

pub mod call;
pub mod junit;
pub mod request;

pub use request::{Implementation, Request};
pub use twoway_conform::{render, Answer, CaseSet, Report, Subject, Suite};

use anyhow::Result;
use twoway_spec::Spec;

/// Runs the cases through the implementation and compares. An error is bad input (a missing file or
/// name, an import error, a program that exits non-zero); failing cases are in the report.
pub fn run(spec: &Spec, request: &Request) -> Result<Report> {
    twoway_conform::run(spec, &request.suite, &request.implementation.label(), |cases| call::call(request, cases))
}
