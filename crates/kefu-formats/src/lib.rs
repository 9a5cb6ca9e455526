//! Reading conversations and writing inspection results.
//!
//! - [`native`]: kefu's own JSON Lines / JSON array format, streamed in
//!   batches with line numbers for error reports.
//! - [`detect`]: which format a file is in, and its records as native
//!   batches (the CLI and the dashboard's upload).
//! - [`csvout`]: the one CSV writer; neutralises formula-leading cells.
//! - [`report`]: JSON Lines, CSV and HTML output of inspection results.
//! - [`summary`]: per-agent and per-rule totals and the terminal table.

pub mod csvout;
pub mod detect;
pub mod export;
pub mod import;
pub mod native;
pub mod report;
pub mod summary;
