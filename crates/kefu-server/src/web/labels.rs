//! Message keys built at run time from domain values (states, roles, rule
//! kinds …), and the list of all of them so that a test can check that the
//! catalogues define every one.

use kefu_service::auth::Role;
use kefu_service::complaint::{
    Band, CommandKind, ComplaintState, EscalationKind, KeyFactKind, Priority, ReopenTarget,
    RevisitOutcome,
};

/// SLA clock states named by `kefu_service::sla::clock_label`.
#[cfg(test)]
pub(crate) const SLA_STATES: &[&str] = &[
    "met",
    "met_late",
    "running",
    "paused",
    "near_breach",
    "breached",
    "no_target",
    "cancelled",
];

/// Rule kinds as written in packs (`RuleKind::name`).
#[cfg(test)]
pub(crate) const RULE_KINDS: &[&str] = &[
    "forbidden",
    "required",
    "response",
    "silence",
    "interrupt",
    "speech_rate",
    "response_time",
    "ended_by",
    "regex",
    "manual",
    "holiday_greeting",
];

/// Complaint channels offered in the new-complaint form.
pub(crate) const COMPLAINT_CHANNELS: &[&str] =
    &["phone", "chat", "email", "letter", "visit", "other"];

/// Speaker roles of a transcript.
#[cfg(test)]
pub(crate) const SPEAKERS: &[&str] = &["agent", "customer", "system"];

/// `RoleFilter` names of a rule.
#[cfg(test)]
pub(crate) const RULE_ROLES: &[&str] = &["agent", "customer", "any"];

/// Conversation channels.
#[cfg(test)]
pub(crate) const CHANNELS: &[&str] = &["phone", "chat"];

/// Confirmations shown after a successful POST (`?done=…`).
#[cfg(test)]
pub(crate) const NOTICES: &[&str] = &[
    "created",
    "saved",
    "user_added",
    "user_activated",
    "user_deactivated",
    "password_reset",
    "password_changed",
    "role_changed",
    "sessions_ended",
    "token_revoked",
];

/// Key of a complaint state.
pub(crate) fn state(s: ComplaintState) -> String {
    format!("complaint.state.{}", s.as_str())
}

/// Key of a priority.
pub(crate) fn priority(p: Priority) -> String {
    format!("complaint.priorities.{}", p.as_str())
}

/// Key of a command (button label).
pub(crate) fn command(c: CommandKind) -> String {
    format!("complaint.cmd.{}", c.as_str())
}

/// Key of a history kind (`HistoryKind` names and the scanner's events).
pub(crate) fn history(kind: &str) -> String {
    format!("complaint.event.{kind}")
}

/// Key of a satisfaction band.
pub(crate) fn band(b: Band) -> String {
    format!("complaint.band.{}", b.as_str())
}

/// Key of a revisit outcome.
pub(crate) fn revisit_outcome(o: RevisitOutcome) -> String {
    format!("complaint.outcome.{}", o.as_str())
}

/// Key of a key-fact kind.
pub(crate) fn fact(k: KeyFactKind) -> String {
    format!("complaint.fact.{}", k.as_str())
}

/// Key of a reopen target.
pub(crate) fn reopen_to(t: ReopenTarget) -> String {
    format!("complaint.reopen_to.{}", t.as_str())
}

/// Key of an SLA clock state name.
pub(crate) fn sla_state(name: &str) -> String {
    format!("sla.state.{name}")
}

/// Key of an escalation kind.
pub(crate) fn escalation(k: EscalationKind) -> String {
    format!("sla.escalation.{}", k.as_str())
}

/// Key of a user role.
pub(crate) fn role(r: Role) -> String {
    format!("role.{}", r.as_str())
}

/// Key of a conversation channel.
pub(crate) fn channel(name: &str) -> String {
    format!("channel.{name}")
}

/// Key of a complaint channel.
pub(crate) fn complaint_channel(name: &str) -> String {
    format!("complaint.channels.{name}")
}

/// Key of a speaker.
pub(crate) fn speaker(name: &str) -> String {
    format!("speaker.{name}")
}

/// Key of a rule kind.
pub(crate) fn rule_kind(name: &str) -> String {
    format!("rulekind.{name}")
}

/// Key of a rule's speaker filter.
pub(crate) fn rule_role(name: &str) -> String {
    format!("rulerole.{name}")
}

/// Every key the functions above can build (for the catalogue tests).
#[cfg(test)]
pub(crate) fn dynamic_keys() -> Vec<String> {
    use kefu_service::complaint::{HistoryKind, ESCALATED, NEAR_BREACH_WARNED};
    let mut keys = Vec::new();
    keys.extend(ComplaintState::ALL.iter().map(|s| state(*s)));
    keys.extend(Priority::ALL.iter().map(|p| priority(*p)));
    keys.extend(CommandKind::ALL.iter().map(|c| command(*c)));
    keys.extend(HistoryKind::ALL.iter().map(|h| history(h.as_str())));
    keys.push(history(ESCALATED));
    keys.push(history(NEAR_BREACH_WARNED));
    keys.extend(Band::ALL.iter().map(|b| band(*b)));
    keys.extend(RevisitOutcome::ALL.iter().map(|o| revisit_outcome(*o)));
    keys.extend(KeyFactKind::ALL.iter().map(|k| fact(*k)));
    keys.extend(ReopenTarget::ALL.iter().map(|t| reopen_to(*t)));
    keys.extend(SLA_STATES.iter().map(|s| sla_state(s)));
    keys.extend(EscalationKind::ALL.iter().map(|k| escalation(*k)));
    keys.extend(Role::ALL.iter().map(|r| role(*r)));
    keys.extend(CHANNELS.iter().map(|c| channel(c)));
    keys.extend(COMPLAINT_CHANNELS.iter().map(|c| complaint_channel(c)));
    keys.extend(SPEAKERS.iter().map(|s| speaker(s)));
    keys.extend(RULE_KINDS.iter().map(|k| rule_kind(k)));
    keys.extend(super::review::dynamic_keys());
    keys.extend(super::feedback::dynamic_keys());
    keys.extend(super::handover::dynamic_keys());
    keys.extend(super::mystery::dynamic_keys());
    keys.extend(super::inbox::dynamic_keys());
    keys.extend(RULE_ROLES.iter().map(|k| rule_role(k)));
    keys.extend(NOTICES.iter().map(|n| format!("notice.{n}")));
    keys
}
