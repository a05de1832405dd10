//! The generic YAML loader: strict typed parsing (unknown keys rejected) with errors that name the file,
//! the line, the column and the field.

use crate::error::{Location, SpecError};
use serde::de::DeserializeOwned;

/// Parses `text` (the contents of `file`) into `T`.
pub fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, SpecError> {
    serde_yaml::from_str(text).map_err(|err| {
        let line = err.location().map(|l| (l.line(), l.column()));
        let (field, message) = split_path(&strip_location(&err.to_string()));
        SpecError::Parse { at: Location { file: file.to_string(), line, field }, message }
    })
}

/// serde_yaml writes "PATH: MESSAGE at line L column C"; PATH is absent for errors at the document root.
/// The location is reported separately.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn split_path(message: &str) -> (String, String) {
    match message.split_once(": ") {
        Some((path, rest)) if !path.is_empty() && !path.contains(char::is_whitespace) => {
            (path.to_string(), rest.to_string())
        }
        _ => ("(document)".to_string(), message.to_string()),
    }
}

/// A number as the paper prints it: finite, on the 0-100 scale, with at most two decimals.
/// (Checked by [`check_printed`] where the field's path is known.)
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Printed(pub f64);

/// Checks that `v` is a number as the paper prints it.
pub(crate) fn check_printed(file: &str, field: &str, v: f64) -> Result<f64, SpecError> {
    if !v.is_finite() || !(0.0..=100.0).contains(&v) {
        return Err(SpecError::invalid(
            file,
            field,
            format!("{v} is not a published percentage (expected a number in 0..=100)"),
        ));
    }
    if ((v * 100.0).round() - v * 100.0).abs() > 1e-6 {
        return Err(SpecError::invalid(file, field, format!("{v} has more than the two decimals the paper prints")));
    }
    Ok(v)
}

/// The 1-based line and column of the dotted `field` in `text`: each key of the path is searched in turn,
/// after the previous one (the spec files are written key by key, so the first match is the field's).
pub(crate) fn locate(text: &str, field: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    let mut at = None;
    for key in field.split('.') {
        let needle = format!("{key}:");
        let mut search = from;
        loop {
            let i = search + text[search..].find(&needle)?;
            let before = text[..i].chars().next_back();
            if before.is_none_or(|c| c.is_whitespace() || c == '{' || c == ',') {
                at = Some(i);
                from = i + needle.len();
                break;
            }
            search = i + needle.len();
        }
    }
    let i = at?;
    let line = text[..i].matches('\n').count() + 1;
    let col = i - text[..i].rfind('\n').map_or(0, |n| n + 1) + 1;
    Some((line, col))
}

/// A hyper-parameter default with its source.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param<T> {
    pub default: T,
    pub source: crate::Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl<T> Param<T> {
    /// Our own choices must say why.
    pub(crate) fn check_reason(&self, file: &str, field: &str) -> Result<(), SpecError> {
        if self.source == crate::Source::Ours && self.reason.as_deref().unwrap_or("").trim().is_empty() {
            return Err(SpecError::invalid(
                file,
                format!("{field}.reason"),
                "a default with source `ours` must give its reason",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        outer: Inner,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        value: Printed,
        count: u32,
    }

    fn err(text: &str) -> String {
        parse::<Doc>("t.yaml", text).unwrap_err().to_string()
    }

    #[test]
    fn wrong_type_names_file_line_and_field() {
        let e = err("outer:\n  value: 1.5\n  count: many\n");
        assert!(e.starts_with("t.yaml:3:"), "{e}");
        assert!(e.contains("field `outer.count`"), "{e}");
        assert!(e.contains("invalid type"), "{e}");
    }

    #[test]
    fn printed_numbers_have_two_decimals_in_range() {
        assert_eq!(check_printed("f", "x", 58.0).unwrap(), 58.0);
        assert_eq!(check_printed("f", "x", 85.43).unwrap(), 85.43);
        let e = check_printed("f", "a.b", 1.505).unwrap_err().to_string();
        assert!(e.contains("field `a.b`") && e.contains("two decimals"), "{e}");
        assert!(check_printed("f", "x", 100.01).is_err());
        assert!(check_printed("f", "x", f64::NAN).is_err());
    }

    #[test]
    fn locate_finds_nested_and_flow_keys() {
        let text = "main:\n  a: {x: 1, y: 2}\n  b:\n    y: 3\n";
        assert_eq!(locate(text, "main.a.y"), Some((2, 13)));
        assert_eq!(locate(text, "main.b.y"), Some((4, 5)));
        assert_eq!(locate(text, "main.c"), None);
    }

    #[test]
    fn unknown_key_and_missing_field_are_named() {
        let e = err("outer:\n  value: 1.5\n  count: 1\n  colour: red\n");
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = err("outer:\n  value: 1.5\n");
        assert!(e.contains("missing field `count`"), "{e}");
        assert!(e.contains("field `outer`"), "{e}");
    }
}
