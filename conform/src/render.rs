//! The conformance report as text (people) and JSON (programs).

use crate::check::Outcome;
use crate::Report;
use std::fmt::Write;

fn number(v: Option<f64>) -> String {
    v.map_or("NaN".to_string(), |v| format!("{v:.10e}"))
}

pub fn divergence_lines(o: &Outcome) -> Vec<String> {
    o.divergences.iter().map(|d| format!("known divergence `{}` ({}): {}", d.id, d.spec, d.what)).collect()
}

/// Text: a header, one line per case (failures with their cause and any known divergence), a verdict.
pub fn text(r: &Report) -> String {
    let mut o =
        format!("twoway conform: {}\n  {} in {}, {} cases\n\n", r.implementation, r.subject, r.dtype, r.cases.len());
    let width = r.cases.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &r.cases {
        let mark = if c.allowed_divergence {
            "ok* "
        } else if c.passed {
            "ok  "
        } else {
            "FAIL"
        };
        let _ = write!(o, "{mark} {:width$}  ", c.name);
        if c.passed && !c.allowed_divergence {
            let grad = c.grad.as_ref().map_or(String::new(), |g| {
                format!(", largest gradient error {:.1e} at [{}, {}]", g.error, g.at.0, g.at.1)
            });
            let _ = writeln!(o, "{}{grad}  ({})", number(c.got), c.exercises);
            continue;
        }
        let _ = writeln!(o, "{}", c.problem.as_deref().unwrap_or("failed"));
        let pad = " ".repeat(width + 7);
        let _ = writeln!(o, "{pad}exercises: {}", c.exercises);
        for d in divergence_lines(c) {
            let _ = writeln!(o, "{pad}{d}");
        }
    }
    let (passed, failed, seeds) = (r.passed(), r.failed(), r.seed_label());
    let allowed = match r.allowed() {
        0 => String::new(),
        n => format!("; {n} of them only by an allowed divergence (ok*)"),
    };
    if failed == 0 {
        let _ = writeln!(o, "\npassed: all {passed} cases ({seeds}){allowed}");
    } else {
        let names: Vec<&str> = r.cases.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect();
        let _ = writeln!(o, "\nFAILED: {failed} of {} cases: {} ({seeds}){allowed}", r.cases.len(), names.join(", "));
    }
    o
}

/// JSON: `{"implementation", "subject", "dtype", "seed", "seeds", "cases": [...], "passed": k, "failed": m,
/// "allowed_divergence": a}` (`a` of the `k` passed only by an allowed divergence).
pub fn json(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).expect("a report serialises");
    v["passed"] = r.passed().into();
    v["failed"] = r.failed().into();
    v["allowed_divergence"] = r.allowed().into();
    v
}
