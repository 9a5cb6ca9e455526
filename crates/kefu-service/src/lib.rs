//! Domain workflows of kefu, free of storage concerns where possible:
//! SLA clocks over business hours and holiday calendars, the complaint
//! lifecycle, satisfaction bands and revisit tasks.

pub mod accounts;
pub mod auth;
pub mod complaint;
pub mod customer;
pub mod error;
pub mod feedback;
pub mod handover;
pub mod hashing;
pub mod kpi;
pub mod mystery;
pub mod notify;
pub mod period;
pub mod review;
pub mod sla;
pub mod throttle;

pub use error::{Error, Result};
