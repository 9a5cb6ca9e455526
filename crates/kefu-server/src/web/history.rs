//! Complaint history in words: each event's detail (stored as JSON for the
//! API and audits) told the way a supervisor reads it, in the page's
//! language, with durations like `2 分 28 秒` instead of
//! `2m28s463ms254us893ns` and without internal fields (node ids, ids of
//! escalation rows).

use chrono::{DateTime, TimeDelta, Utc};
use kefu_service::complaint::{
    Assignee, Band, EscalationKind, KeyFactKind, Priority, RevisitOutcome,
};
use serde_json::Value;

use super::html;
use super::i18n::Messages;
use super::labels;

/// A duration for people: the two largest units, rounded down
/// (`3 天 4 小时`, `1 小时 5 分`, `2 分 28 秒`, `40 秒`; `3 d 4 h` …).
/// Negative durations read as their size.
pub(super) fn human_duration(ctx: &Messages, d: TimeDelta) -> String {
    let s = d.num_seconds().unsigned_abs();
    let (days, hours, minutes, seconds) = (s / 86_400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    if days > 0 {
        ctx.t2("unit.days_hours", days, hours)
    } else if s >= 3600 {
        ctx.t2("unit.hours_minutes", s / 3600, minutes)
    } else if s >= 60 {
        ctx.t2("unit.minutes_seconds", s / 60, seconds)
    } else {
        ctx.t1("unit.seconds", seconds)
    }
}

/// A stored duration (`"1h30m"`, `"2m28s463ms…"`) for people; the text
/// itself when it cannot be read.
fn stored_duration(ctx: &Messages, v: &Value) -> Option<String> {
    let text = v.as_str()?;
    let negative = text.starts_with('-');
    Some(
        match kefu_service::sla::parse_duration(text.trim_start_matches('-')) {
            Ok(d) if negative => format!("-{}", human_duration(ctx, d)),
            Ok(d) => human_duration(ctx, d),
            Err(_) => text.to_string(),
        },
    )
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn assignee(ctx: &Messages, v: Option<&Value>) -> String {
    match v.and_then(|v| serde_json::from_value::<Option<Assignee>>(v.clone()).ok()) {
        Some(Some(Assignee::Agent(id))) => ctx.t1("complaint.assignee_agent", id),
        Some(Some(Assignee::Group(id))) => ctx.t1("complaint.assignee_group", id),
        _ => ctx.t("complaint.unassigned").to_string(),
    }
}

fn priority(ctx: &Messages, v: Option<&Value>) -> Option<String> {
    let p = v?.as_str()?.parse::<Priority>().ok()?;
    Some(ctx.t(&labels::priority(p)).to_string())
}

fn time(v: Option<&Value>) -> Option<String> {
    let t = serde_json::from_value::<DateTime<Utc>>(v?.clone()).ok()?;
    Some(html::fmt_dt(t))
}

fn score(ctx: &Messages, detail: &Value, score: &str, band: &str) -> Option<String> {
    let n = detail.get(score)?.as_i64()?;
    let band = detail
        .get(band)
        .and_then(Value::as_str)
        .and_then(|b| b.parse::<Band>().ok())
        .map(|b| format!(" ({})", ctx.t(&labels::band(b))))
        .unwrap_or_default();
    Some(format!("{n}{band}"))
}

/// `from → to`.
fn change(from: String, to: String) -> String {
    format!("{from} → {to}")
}

/// The detail of one history event in words ("" when there is nothing to
/// add to the event's name).
pub(super) fn describe(ctx: &Messages, kind: &str, d: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut push = |s: Option<String>| {
        if let Some(s) = s.filter(|s| !s.is_empty()) {
            parts.push(s);
        }
    };
    match kind {
        "created" => {
            push(text(d, "category").map(str::to_string));
            push(priority(ctx, d.get("priority")));
            if d.get("assignee").is_some_and(|a| !a.is_null()) {
                push(Some(assignee(ctx, d.get("assignee"))));
            }
            push(text(d, "conversation_id").map(|c| ctx.t1("hist.conversation", c)));
        }
        "replied" => {
            if d.get("first").and_then(Value::as_bool) == Some(true) {
                push(Some(ctx.t("hist.first_reply").to_string()));
            }
            push(text(d, "message").map(|m| format!("“{m}”")));
        }
        "waiting_on_customer" | "closed" | "reopened" => {
            push(text(d, "reason").map(str::to_string));
            if let Some(n) = d.get("reopen_count").and_then(Value::as_i64) {
                push(Some(ctx.t1("hist.reopen_count", n)));
            }
        }
        "customer_responded" => {
            let paused = d.get("paused_seconds").and_then(Value::as_i64);
            push(paused.map(|s| {
                ctx.t1(
                    "hist.paused_for",
                    human_duration(ctx, TimeDelta::seconds(s)),
                )
            }));
        }
        "resolved" => push(text(d, "summary").map(str::to_string)),
        "assigned" => push(Some(change(
            assignee(ctx, d.get("from")),
            assignee(ctx, d.get("to")),
        ))),
        "priority_changed" => {
            if let (Some(from), Some(to)) =
                (priority(ctx, d.get("from")), priority(ctx, d.get("to")))
            {
                push(Some(change(from, to)));
            }
        }
        "category_changed" => {
            if let (Some(from), Some(to)) = (text(d, "from"), text(d, "to")) {
                push(Some(change(from.to_string(), to.to_string())));
            }
        }
        "special_changed" => push(d.get("special").and_then(Value::as_bool).map(|s| {
            ctx.t(if s {
                "hist.special_on"
            } else {
                "hist.special_off"
            })
            .to_string()
        })),
        "key_fact_added" => {
            let kind = text(d, "kind")
                .and_then(|k| k.parse::<KeyFactKind>().ok())
                .map(|k| ctx.t(&labels::fact(k)).to_string());
            push(match (kind, text(d, "value")) {
                (Some(k), Some(v)) => Some(format!("{k}: {v}")),
                (None, Some(v)) => Some(v.to_string()),
                _ => None,
            });
        }
        "note_added" => push(text(d, "text").map(str::to_string)),
        "survey_recorded" => {
            push(score(ctx, d, "result_score", "result_band").map(|s| ctx.t1("hist.result", s)));
            push(
                score(ctx, d, "attitude_score", "attitude_band")
                    .map(|s| ctx.t1("hist.attitude", s)),
            );
            push(text(d, "comment").map(|c| format!("“{c}”")));
            push(time(d.get("revisit_due_at")).map(|t| ctx.t1("hist.revisit_due", t)));
        }
        "revisit_completed" => {
            push(
                text(d, "outcome_kind")
                    .and_then(|k| k.parse::<RevisitOutcome>().ok())
                    .map(|k| ctx.t(&labels::revisit_outcome(k)).to_string()),
            );
            push(text(d, "outcome").map(str::to_string));
            if d.get("late").and_then(Value::as_bool) == Some(true) {
                push(Some(ctx.t("hist.late").to_string()));
            }
        }
        "escalated" | "near_breach_warned" => {
            push(
                d.get("kind")
                    .and_then(|k| serde_json::from_value::<EscalationKind>(k.clone()).ok())
                    .map(|k| ctx.t(&labels::escalation(k)).to_string()),
            );
            push(
                d.get("elapsed")
                    .and_then(|v| stored_duration(ctx, v))
                    .map(|e| ctx.t1("hist.elapsed", e)),
            );
            push(
                d.get("remaining")
                    .and_then(|v| stored_duration(ctx, v))
                    .map(|e| ctx.t1("hist.remaining", e)),
            );
            push(
                d.get("target")
                    .and_then(|v| stored_duration(ctx, v))
                    .map(|e| ctx.t1("hist.target", e)),
            );
        }
        _ => {}
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::i18n::Lang;
    use serde_json::json;

    #[test]
    fn escalations_read_as_words_and_durations_in_both_languages() {
        let d = json!({
            "escalation_id": 7, "kind": "reply_breach", "clock": "first_reply",
            "to": "supervisors", "elapsed": "2m28s463ms254us893ns", "target": "2h",
            "node_id": "kefu-28050",
        });
        let zh = describe(Lang::Zh.messages(), "escalated", &d);
        assert_eq!(
            zh,
            "首次回复超时，已升级主管 · 已用 2 分 28 秒 · 时限 2 小时 0 分"
        );
        let en = describe(Lang::En.messages(), "escalated", &d);
        assert!(en.contains("2 min 28 s"), "{en}");
        assert!(!en.contains("kefu-28050") && !en.contains("ms"), "{en}");
    }

    #[test]
    fn durations_use_the_two_largest_units() {
        let ctx = Lang::Zh.messages();
        assert_eq!(human_duration(ctx, TimeDelta::seconds(40)), "40 秒");
        assert_eq!(
            human_duration(ctx, TimeDelta::seconds(3 * 86_400 + 4 * 3600 + 5)),
            "3 天 4 小时"
        );
        assert_eq!(human_duration(ctx, TimeDelta::seconds(3900)), "1 小时 5 分");
    }

    #[test]
    fn assignment_names_both_sides() {
        let ctx = Lang::Zh.messages();
        let d = json!({"from": null, "to": {"kind": "agent", "id": "a-07"}});
        assert_eq!(describe(ctx, "assigned", &d), "未分派 → 坐席 a-07");
    }
}
