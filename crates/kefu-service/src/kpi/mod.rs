//! Agent, team and centre KPIs against targets, one-to-five-star ratings
//! and the weighted periodic assessment (考核).
//!
//! Everything here is computed from the daily rollups of the store (see
//! `kefu_store::quality`) plus the complaints of the period, so a month of a
//! million conversations costs a few thousand rows to read. The arithmetic
//! lives in pure functions ([`KpiCounts`], [`Acc`], [`rate_agent`], [`assess`]) that the
//! tests check against hand-computed figures.
//!
//! Targets default to the standard: 接通率 ≥ 90 %, 应答及时率 ≥ 90 % with
//! an answer within 15 s, complaints answered within 12 h and resolved within
//! 48 h, and every justified complaint ending satisfied.

mod assessment;
mod counts;
mod measures;
mod rating;
mod service;
mod settings;
mod tables;

pub use assessment::*;
pub use counts::KpiCounts;
pub use measures::*;
pub use rating::*;
pub use service::*;
pub use settings::*;
pub use tables::*;
