//! The association's register in and out: import a CSV of the existing
//! roster (people on it are invited by mail, and need no approval), export
//! the register as CSV (the export imports again cleanly).

pub mod api;
pub mod export;
pub mod import;
pub mod web;
