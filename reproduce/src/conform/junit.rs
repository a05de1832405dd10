//! The conformance report as JUnit XML (CI test reporters); text and JSON are the engine's
//! ([`twoway_conform::render`]).

use crate::report::xml;
use std::fmt::Write;
use twoway_conform::render::divergence_lines;
use twoway_conform::Report;

/// JUnit XML: one test case per conformance case, a failure with its cause and divergences.
pub fn write(r: &Report) -> String {
    let head = format!("tests=\"{}\" failures=\"{}\" errors=\"0\"", r.cases.len(), r.failed());
    let suite = format!("twoway conform {} ({} in {})", r.implementation, r.subject, r.dtype);
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(o, "<testsuites name=\"twoway conform\" {head}>");
    let _ = writeln!(o, "  <testsuite name=\"{}\" {head}>", xml(&suite));
    let class = format!("twoway.conform.{}", r.subject.split_whitespace().next().unwrap_or("case"));
    for c in &r.cases {
        let _ = write!(o, "    <testcase classname=\"{}\" name=\"{}\"", xml(&class), xml(&c.name));
        if c.passed {
            match c.allowed_divergence {
                // A passed case with its allowed divergence, for the reader of the CI report.
                true => {
                    let body = [c.problem.clone().unwrap_or_default()].into_iter().chain(divergence_lines(c));
                    let text = body.collect::<Vec<_>>().join("\n");
                    let _ = writeln!(o, ">\n      <system-out>{}</system-out>\n    </testcase>", xml(&text));
                }
                false => {
                    let _ = writeln!(o, "/>");
                }
            }
            continue;
        }
        let message = c.problem.clone().unwrap_or_else(|| "failed".into());
        let mut body = vec![message.clone(), format!("exercises: {}", c.exercises)];
        body.extend(divergence_lines(c));
        let _ = writeln!(
            o,
            ">\n      <failure type=\"mismatch\" message=\"{}\">{}</failure>\n    </testcase>",
            xml(&message),
            xml(&body.join("\n"))
        );
    }
    let _ = writeln!(o, "  </testsuite>\n</testsuites>");
    o
}
