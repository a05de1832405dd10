//! The request of `twoway conform`: the suite (what is checked, [`twoway_conform::Suite`]) and how the
//! implementation is called.

use std::path::PathBuf;
use twoway_conform::Suite;

/// How twoway calls the implementation.
#[derive(Debug, Clone, PartialEq)]
pub enum Implementation {
    /// `FILE.py:NAME`, run by twoway's Python driver in one interpreter process.
    Python { file: PathBuf, name: String, init: Option<serde_json::Value>, exe: PathBuf },
    /// A command line; the case folder is appended as its last argument.
    Cmd(String),
}

impl Implementation {
    /// How the report names it.
    pub fn label(&self) -> String {
        match self {
            Implementation::Python { file, name, .. } => format!("{}:{name}", file.display()),
            Implementation::Cmd(c) => c.clone(),
        }
    }
}

/// One conformance run.
#[derive(Debug, Clone)]
pub struct Request {
    pub suite: Suite,
    pub implementation: Implementation,
    /// How long the implementation may run (`None`: no limit).
    pub timeout: Option<std::time::Duration>,
}
