//! From result files to the paper's artefacts, torch-free (the torch-free build has all of it): the
//! results table beside the published one ([`table`]), the CI gate ([`diff`] compares, [`gate`] composes
//! and renders), the paper's claims over seeds ([`claims`]) and the plots ([`plots`]). Everything here
//! reads [`crate::results`] and the spec; nothing here trains or imports the grid layer.

pub mod claims;
pub mod diff;
pub mod figures;
pub mod gate;
pub mod html;
pub mod plots;
pub mod table;
