//! Errors of the spec loader. Every error names the file and the field; parse errors also carry the
//! line and column that the YAML parser reported.

use std::fmt;

/// Where in the spec something went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, as the user named it (or `spec/data/<name>` for the embedded copy).
    pub file: String,
    /// 1-based line and column, when the parser knows them.
    pub line: Option<(usize, usize)>,
    /// Dotted path of the field, e.g. `main.table.coco.bce.map_class.resnet50`.
    pub field: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, col)) = self.line {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, ": field `{}`", self.field)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The YAML did not parse into the expected shape (wrong type, unknown key, missing field, bad value).
    #[error("{at}: {message}")]
    Parse { at: Location, message: String },
    /// The YAML parsed but breaks a rule of the spec (a missing table entry, an out-of-range default, ...).
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
    /// The file could not be read.
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

impl SpecError {
    pub(crate) fn invalid(file: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError::Invalid {
            at: Location { file: file.to_string(), line: None, field: field.into() },
            message: message.into(),
        }
    }

    /// Fills in the line of an `Invalid` error from the file's text.
    pub fn with_line_from(mut self, text: &str) -> Self {
        if let SpecError::Invalid { at, .. } = &mut self {
            if at.line.is_none() {
                at.line = crate::load::locate(text, &at.field);
            }
        }
        self
    }

    /// The location of the error, when it has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            SpecError::Parse { at, .. } | SpecError::Invalid { at, .. } => Some(at),
            SpecError::Io { .. } => None,
        }
    }
}
