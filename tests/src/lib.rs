//! Shared conformance suite (filled by the reference and tch issues).
