//! Notifications (通知): events that someone must act on — a complaint
//! escalated, an SLA clock near breach, a revisit or follow-up due, an
//! appeal decided, feedback assigned — told to the users concerned in the
//! dashboard's inbox, by e-mail and to admin-configured webhooks
//! (docs/operations.md, "Notifications").
//!
//! - `model.rs` — [`Notification`] and [`Event`]: a service builds one and
//!   calls [`Notification::record`] with its open transaction, so the
//!   notification commits (or rolls back) with the event; recipient
//!   helpers ([`supervisors`], [`user_if_active`]).
//! - `deliver.rs` — [`Deliverer`], the delivery worker: expands new
//!   notifications into delivery rows (one per notification, recipient and
//!   channel), then claims due e-mail and webhook rows under a lease and
//!   sends them (webhooks signed with HMAC-SHA256, retried with backoff).
//! - `service.rs` — [`NotifyService`]: the inbox, webhook endpoints, the
//!   delivery log, users' e-mail addresses, and the scan for revisits and
//!   follow-ups that fell due.

mod deliver;
mod model;
mod service;

pub use deliver::*;
pub use model::*;
pub use service::*;
