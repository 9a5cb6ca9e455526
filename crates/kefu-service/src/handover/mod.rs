//! Shift handover (交接班): the outgoing user of a team's shift hands the
//! next shift what falls due during it — complaints whose 12 h first
//! response or 48 h resolution deadline falls in the next shift, revisits,
//! customer follow-ups and care reminders, open appeals, information
//! feedback due — plus free items; each item with a severity (正常 / 关注
//! / 紧急), an action, an owner, a due time and a contingency (若…则…).
//!
//! # States
//!
//! | state          | reached by                                               |
//! |----------------|----------------------------------------------------------|
//! | `draft`        | creating (items pre-filled from live data, editable)     |
//! | `submitted`    | the outgoing user submits                                |
//! | `acknowledged` | every item acknowledged by someone of the next shift     |
//! | `disputed`     | every item answered, at least one disputed               |
//!
//! The incoming side (the named incoming user, else any member of the
//! team other than the outgoing user; supervisors and admins too) answers
//! each item: acknowledge (optionally restating it in their own words,
//! kept next to the original) or dispute with a reason; a disputed item may
//! later be acknowledged. Acknowledging a complaint item assigns the
//! complaint to the acknowledging user through the complaint service, so
//! the complaint's history records it. Every change is a history entry;
//! history is never rewritten.
//!
//! Urgent items not acknowledged [`HandoverSettings::escalate_after_minutes`]
//! after submission escalate to the supervisor once
//! ([`HandoverService::escalate_overdue`]).
//!
//! - `model.rs` — states, severities, items, shifts and the shift window;
//! - `service.rs` — [`HandoverService`] over the store.

mod model;
mod service;

pub use model::*;
pub use service::*;
