//! The complaint lifecycle (投诉工单): creation, state transitions, the
//! append-only history, the "waiting on the customer" pause of the SLA clock,
//! satisfaction surveys and revisit tasks (回访).
//!
//! Everything here is a pure function over plain data. The store loads a
//! [`Complaint`], calls [`apply`] (or [`new_complaint`]), and persists what it
//! gets back, in one transaction:
//!
//! * the new complaint — its [`Complaint::version`] is one more than the
//!   version it was computed from, so the update should be
//!   `UPDATE … WHERE id = ? AND version = <old version>` (optimistic
//!   concurrency; zero rows updated means someone else won, reload and retry
//!   or report [`ComplaintError::VersionConflict`]);
//! * the [`HistoryEvent`]s, appended, never updated;
//! * the [`SideEffect`]s, e.g. a [`RevisitTask`] to insert.
//!
//! Nothing here reads a clock: `now` is always a parameter.
//!
//! # SLA
//!
//! The clocks themselves are [`crate::sla`] (pure time arithmetic). This
//! module applies them to complaints: the rules in force ([`SlaSettings`]
//! plus [`ComplaintPolicy`], `sla_rules.rs`), the scanner that records each
//! escalation once ([`ComplaintService::scan_sla`], [`EscalationKind`],
//! `sla_scan.rs`) and met-rate reports ([`ComplaintService::sla_met_rate`],
//! `sla_met_rate.rs`).
//!
//! [`SlaSettings`]: crate::sla::SlaSettings
//!
//! # States and transitions
//!
//! | state              | zh     | stable name          |
//! |--------------------|--------|----------------------|
//! | `Accepted`         | 受理   | `accepted`           |
//! | `Investigating`    | 调查   | `investigating`      |
//! | `Handling`         | 处理中 | `handling`           |
//! | `AwaitingFollowUp` | 待回访 | `awaiting_follow_up` |
//! | `Closed`           | 已关闭 | `closed`             |
//!
//! "Resolved" is not a state: [`Command::Resolve`] records the resolution
//! (`resolved_at`, `resolution`) on a complaint in 处理中, which stays in
//! 处理中 until it is sent to 待回访 or closed. "Waiting on the customer" is
//! not a state either but a sub-state flag (`waiting_since`) of the three
//! active states.
//!
//! | command             | allowed in                          | goes to                  |
//! |---------------------|-------------------------------------|--------------------------|
//! | `investigate`       | 受理                                | 调查                     |
//! | `start_handling`    | 受理, 调查                          | 处理中                   |
//! | `reply`             | every state but 已关闭              | unchanged                |
//! | `wait_on_customer`  | 受理, 调查, 处理中 (not resolved, not already waiting) | unchanged, pause opens |
//! | `customer_responded`| 受理, 调查, 处理中 (while waiting)  | unchanged, pause closes  |
//! | `resolve`           | 处理中 (not yet resolved)           | 处理中, resolved         |
//! | `request_follow_up` | 处理中 (resolved)                   | 待回访                   |
//! | `close`             | every state but 已关闭              | 已关闭                   |
//! | `reopen`            | 待回访, 已关闭                      | 处理中 (default) or 调查 |
//! | `assign`, `set_priority`, `mark_special`, `set_category`, `add_key_fact` | every state but 已关闭 | unchanged |
//! | `add_note`          | every state                         | unchanged                |
//! | `record_survey`     | 处理中, 待回访, 已关闭 — only when resolved and not yet surveyed | unchanged |
//!
//! Further rules:
//!
//! * `reply` sets `first_reply_at` the first time only.
//! * `resolve` and `close` end an open pause at `now` (the wait is over).
//!   Other transitions (e.g. 受理 → 调查) keep the pause open.
//! * A pause never ends before it started: if `now` is earlier than the start
//!   (clock skew between servers) the pause ends at its start.
//! * `reopen` increments `reopen_count` and clears `resolved_at`,
//!   `resolved_by`, `resolution`, `closed_at`, `close_reason` and `survey`
//!   (the previous values stay in the history). `first_reply_at` is kept.
//! * Closing an unresolved complaint (withdrawn, duplicate, invalid) is
//!   allowed, to supervisors and admins only, with a reason.
//! * Commands that would change nothing (assigning the current assignee,
//!   setting the current priority, flag or category) are refused with
//!   [`ComplaintError::Unchanged`], so the history holds only real changes.
//! * Every successful command bumps `version`, sets `updated_at` and yields
//!   exactly one history event (the API returns a `Vec` so that this may
//!   change without breaking callers).
//!
//! # Roles
//!
//! | role                  | may                                                                      |
//! |-----------------------|--------------------------------------------------------------------------|
//! | `admin`, `supervisor` | everything, on every complaint                                           |
//! | `agent` (坐席)        | work the complaints assigned to *them* (`Assignee::Agent(own id)`), see below |
//! | `inspector` (质检员)  | add notes to any complaint; record revisit outcomes                      |
//!
//! An agent:
//!
//! * cannot act on a complaint that is unassigned, assigned to another agent
//!   or assigned to a group, except to *claim* it: `assign` to themselves an
//!   unassigned complaint or one assigned to a group listed in
//!   [`Actor::groups`];
//! * cannot reassign (no `assign` to anyone else, no hand-back to a group);
//! * cannot `reopen` (reopening is a supervisor's decision, and the reopen
//!   count is a quality measure of the agent's work);
//! * can `close` only a complaint that has been resolved and is still in
//!   处理中 — a complaint in 待回访 is closed by whoever does the follow-up
//!   (a supervisor), and closing an unresolved one is a supervisor's call;
//! * can raise the priority but not lower it, and can set the 特殊疑难 flag
//!   but not clear it;
//! * may record the customer's survey on their own complaint (in a call the
//!   agent asks for the 0–10 scores, as the standard prescribes).
//!
//! When opening a complaint ([`new_complaint`]) an agent may assign it to
//! themselves (the default when no assignee is given) or to any group (the
//! usual hand-off to the complaints desk), not to another agent. Inspectors
//! do not open complaints. Supervisors and admins may leave it unassigned.
//!
//! Revisit outcomes ([`RevisitTask::complete`]) are recorded by inspectors,
//! supervisors and admins, never by agents (it is their work being checked).
//! An automated survey channel (SMS, IVR) should act as an `admin` service
//! account.
//!
//! # Surveys and revisits
//!
//! Scores are 0–10. Bands are configurable ([`SatisfactionBands`], default
//! 0–4 不满意, 5–7 一般, 8–10 满意). When the result score *or* the attitude
//! score falls in 不满意, [`apply`] returns [`SideEffect::CreateRevisit`] due
//! `revisit_days` (default 7) × 24 h after the survey; build the task with
//! [`RevisitTask::from_side_effect`] and list late ones with
//! [`overdue_revisits`].
//!
//! # Personal data
//!
//! [`mask_phone`], [`mask_id_number`] and [`mask_name`] mask values for
//! display; [`Complaint::redacted_for`] masks the customer of a complaint
//! for actors that do not need the clear values (inspectors, agents other
//! than the assignee). History details never copy the customer's personal
//! data.
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use kefu_service::complaint::*;
//!
//! let now = Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
//! let agent = Actor::new("a1", ActorRole::Agent);
//! let input = NewComplaint::new("c1", Customer::named("张三"), "phone", "billing", "多扣了话费");
//! let (c, _history) = new_complaint(input, &agent, now).unwrap();
//! assert_eq!(c.assignee, Some(Assignee::Agent("a1".into())));
//! let (c, events, _effects) = apply(&c, &agent, Command::StartHandling, now).unwrap();
//! assert_eq!(c.state, ComplaintState::Handling);
//! assert_eq!(events[0].from_state, Some(ComplaintState::Accepted));
//! assert_eq!(c.version, 2);
//! ```

#![warn(missing_docs)]

// ---------------------------------------------------------------------------
// String enums
// ---------------------------------------------------------------------------

/// Defines a fieldless enum with a stable snake_case name (serde, `as_str`,
/// `Display`, `FromStr`) and a Chinese label (`label_zh`, also accepted by
/// `FromStr`).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $(
                $(#[$vmeta:meta])*
                $variant:ident => ($s:literal, $zh:literal),
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $s)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable snake_case name, as stored in the database and
            /// used in the JSON API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s,)+
                }
            }

            /// The Chinese label shown to people.
            pub fn label_zh(self) -> &'static str {
                match self {
                    $($name::$variant => $zh,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::complaint::ComplaintError;

            /// Parses the stable name or the Chinese label (surrounding
            /// whitespace ignored).
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                let t = s.trim();
                $(
                    if t == $s || t == $zh {
                        return Ok($name::$variant);
                    }
                )+
                ::std::result::Result::Err($crate::complaint::ComplaintError::UnknownValue { what: $what, value: s.to_string() })
            }
        }
    };
}

mod import;
mod lifecycle;
mod masking;
mod model;
mod service;
mod sla_met_rate;
mod sla_rules;
mod sla_scan;
mod survey;

pub use import::*;
pub use lifecycle::*;
pub use masking::*;
pub use model::*;
pub use service::*;
pub use sla_met_rate::*;
pub use sla_rules::*;
pub use sla_scan::*;
pub use survey::*;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn serde_names_match_as_str() {
        for s in ComplaintState::ALL {
            assert_eq!(serde_json::to_value(s).ok(), Some(json!(s.as_str())));
            assert_eq!(s.as_str().parse::<ComplaintState>().ok(), Some(*s));
            assert_eq!(s.label_zh().parse::<ComplaintState>().ok(), Some(*s));
        }
        for k in CommandKind::ALL {
            assert_eq!(serde_json::to_value(k).ok(), Some(json!(k.as_str())));
        }
        for k in HistoryKind::ALL {
            assert_eq!(serde_json::to_value(k).ok(), Some(json!(k.as_str())));
        }
    }

    #[test]
    fn mask_middle_never_reveals_all() {
        assert_eq!(mask_middle("abc", 2, 2), "***");
        assert_eq!(mask_middle("", 0, 0), "");
        assert_eq!(mask_middle("abcdef", 1, 1), "a****f");
    }
}
