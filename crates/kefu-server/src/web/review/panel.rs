//! The review and appeal panel of the conversation page: the reviewed
//! findings, the review form (confirm/overturn, manual items, missed findings)
//! and the appeal form, and the POSTs they send.

use std::collections::HashMap;

use axum::extract::{Path, State};
use kefu_engine::review::{
    AddedFinding, Decision, FindingStatus, ManualScore, Origin, ReviewInput, ReviewedFinding,
    Verdict,
};
use kefu_engine::RuleKind;
use kefu_service::auth::Role;
use kefu_service::review::{Appeal, ReviewService, ReviewView};

use super::appeals::{appeal_row, AppealRow};
use super::{conversation_href, now};
use crate::web::html;
use crate::web::i18n::msg;
use crate::web::page::{see_other, CsrfForm, Ctx, FormData, Page, PageResult, Section, WebError};
use crate::AppState;

/// The name of a review status (message key suffix and CSS class).
pub(in crate::web) fn status_name(s: FindingStatus) -> &'static str {
    match s {
        FindingStatus::Pending => "pending",
        FindingStatus::Confirmed => "confirmed",
        FindingStatus::Overturned => "overturned",
        FindingStatus::Withdrawn => "withdrawn",
    }
}

/// How reviewers and agents read a finding: rule name, turn and the
/// quoted words (`服务禁语 · 第 3 句 · «不知道»`), never its key.
pub(in crate::web) fn finding_label(ctx: &Ctx, f: &ReviewedFinding) -> String {
    let mut out = if f.name.is_empty() {
        f.rule.clone()
    } else {
        f.name.clone()
    };
    match f.turn {
        Some(t) => {
            out.push_str(" · ");
            out.push_str(&ctx.t1("conv.turn_no", t + 1));
        }
        None => {
            out.push_str(" · ");
            out.push_str(ctx.t("conv.whole_conversation"));
        }
    }
    if let Some(text) = f.text.as_deref().filter(|t| !t.trim().is_empty()) {
        out.push_str(&format!(" · «{text}»"));
    }
    out
}

/// One finding as the conversation page shows it after review.
pub(in crate::web) struct ReviewedRow {
    /// `auto:0` … (kept for the form and for tests).
    pub key: String,
    /// Rule name, turn and quoted text.
    pub label: String,
    /// Form field suffix (`auto_0`).
    pub field: String,
    /// 1-based number, as in the transcript marks.
    pub number: usize,
    /// Automatic (can be confirmed or overturned).
    pub auto: bool,
    /// Status label.
    pub status: String,
    /// Status name (CSS class).
    pub status_name: &'static str,
    /// Current verdict: "", "confirm", "overturn".
    pub verdict: &'static str,
    /// The reviewer's comment.
    pub comment: String,
    /// The agent may appeal it now.
    pub appealable: bool,
    /// The appeal's state label, if appealed.
    pub appeal: Option<String>,
}

/// A manual item of the pack, with the reviewer's points.
pub(in crate::web) struct ManualRow {
    /// Rule id.
    pub rule: String,
    /// Name.
    pub name: String,
    /// Most points.
    pub cap: String,
    /// Points given ("" when not scored).
    pub points: String,
    /// Comment.
    pub comment: String,
}

/// A rule that can be added as a missed finding.
pub(in crate::web) struct RuleOption {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// The review and appeal part of a conversation page.
pub(in crate::web) struct ReviewPanel {
    /// Findings in the order of the page's numbers.
    pub rows: Vec<ReviewedRow>,
    /// The automatic score, when a review changed it.
    pub auto_score: Option<String>,
    /// Score after review and appeals.
    pub score: f64,
    /// Grade after review.
    pub grade: String,
    /// Passed after review.
    pub passed: bool,
    /// Veto after review.
    pub veto: bool,
    /// Who reviewed, when.
    pub reviewed_by: Option<String>,
    /// The review's overall remark.
    pub remark: String,
    /// The stored review's version ("" before the first review).
    pub version: String,
    /// The user may review (staff, not their own conversation).
    pub can_review: bool,
    /// The user may appeal (the conversation's agent).
    pub can_appeal: bool,
    /// Manual items to score (empty when the result's pack is not the active one).
    pub manual: Vec<ManualRow>,
    /// Rules for added findings.
    pub rules: Vec<RuleOption>,
    /// Added findings already in the review.
    pub added: Vec<(usize, String, String)>,
    /// Appeals of this result.
    pub appeals: Vec<AppealRow>,
}

/// The review view of a conversation for the page (`None` without a
/// current result), with the findings the page numbers and marks.
pub(in crate::web) async fn review_panel(
    state: &AppState,
    page: &Page,
    ctx: &Ctx,
    id: &str,
) -> Result<Option<(ReviewPanel, Vec<ReviewedFinding>)>, WebError> {
    let view = match ReviewService::new(state.store.clone())
        .view(&page.user.principal, id)
        .await
    {
        Ok(v) => v,
        Err(kefu_service::Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(panel_of(state, page, ctx, view)))
}

fn panel_of(
    state: &AppState,
    page: &Page,
    ctx: &Ctx,
    view: ReviewView,
) -> (ReviewPanel, Vec<ReviewedFinding>) {
    let input = view
        .review
        .as_ref()
        .map(|r| r.input.clone())
        .unwrap_or_default();
    let own = view.agent_id.as_deref() == Some(page.user.id());
    let staff = matches!(
        page.user.role(),
        Role::Inspector | Role::Supervisor | Role::Admin
    );
    let appealed: HashMap<&str, &Appeal> = view
        .appeals
        .iter()
        .map(|a| (a.finding_key.as_str(), a))
        .collect();
    let rows = view
        .result
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let status_name = status_name(f.status);
            let decision = input.decisions.iter().find(|d| d.key == f.key);
            let appeal = appealed.get(f.key.as_str());
            ReviewedRow {
                key: f.key.clone(),
                label: finding_label(ctx, f),
                field: f.key.replace(':', "_"),
                number: i + 1,
                auto: f.origin == Origin::Auto,
                status: ctx.t(&format!("q.status.{status_name}")).to_string(),
                status_name,
                verdict: match decision.map(|d| d.verdict) {
                    Some(Verdict::Confirm) => "confirm",
                    Some(Verdict::Overturn) => "overturn",
                    None => "",
                },
                comment: f.comment.clone().unwrap_or_default(),
                appealable: own
                    && page.user.role() == Role::Agent
                    && f.status.counts()
                    && appeal.is_none(),
                appeal: appeal.map(|a| ctx.t(&format!("q.appeal_state.{}", a.state)).to_string()),
            }
        })
        .collect();
    let same_pack = view.pack_version_id == state.pack_version_id();
    let active = state.inspector();
    let pack = active.pack();
    let manual = if same_pack {
        pack.rules
            .iter()
            .filter(|r| matches!(r.kind, RuleKind::Manual))
            .map(|r| {
                let given = input.manual.iter().find(|m| m.rule == r.id);
                ManualRow {
                    rule: r.id.clone(),
                    name: r.name.clone(),
                    cap: html::num(r.cap),
                    points: given.map(|m| html::num(m.deduction)).unwrap_or_default(),
                    comment: given.and_then(|m| m.comment.clone()).unwrap_or_default(),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let rules = if same_pack {
        pack.rules
            .iter()
            .filter(|r| !matches!(r.kind, RuleKind::Manual))
            .map(|r| RuleOption {
                id: r.id.clone(),
                name: r.name.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let added = input
        .added
        .iter()
        .enumerate()
        .map(|(i, a)| (i, a.rule.clone(), a.comment.clone()))
        .collect();
    let appeals = view
        .appeals
        .iter()
        .map(|a| {
            let f = view.result.findings.iter().find(|f| f.key == a.finding_key);
            appeal_row(ctx, a, f)
        })
        .collect();
    let auto_score = view
        .automatic
        .get("score")
        .and_then(serde_json::Value::as_f64)
        .filter(|s| (s - view.result.score).abs() > 1e-9)
        .map(html::num);
    let panel = ReviewPanel {
        rows,
        auto_score,
        score: view.result.score,
        grade: view.result.grade.clone().unwrap_or_default(),
        passed: view.result.passed,
        veto: view.result.veto,
        reviewed_by: view
            .review
            .as_ref()
            .map(|r| format!("{} · {}", r.reviewer_id, html::fmt_ms(r.updated_at))),
        remark: input.comment.clone().unwrap_or_default(),
        version: view
            .review
            .as_ref()
            .map(|r| r.version.to_string())
            .unwrap_or_default(),
        can_review: staff && !own,
        can_appeal: own && page.user.role() == Role::Agent,
        manual,
        rules,
        added,
        appeals,
    };
    (panel, view.result.findings)
}

/// Reads the review form into a review input.
fn review_input(form: &FormData, previous: &ReviewInput, findings: usize) -> ReviewInput {
    let mut decisions = Vec::new();
    for i in 0..findings {
        let key = format!("auto:{i}");
        let verdict = match form.get(&format!("verdict_auto_{i}")) {
            Some("confirm") => Verdict::Confirm,
            Some("overturn") => Verdict::Overturn,
            _ => continue,
        };
        let comment = form.text(&format!("comment_auto_{i}"));
        decisions.push(Decision {
            key,
            verdict,
            comment: (!comment.is_empty()).then_some(comment),
        });
    }
    let mut manual = Vec::new();
    for (name, value) in form_pairs(form, "manual_") {
        if value.trim().is_empty() {
            continue;
        }
        let deduction = value.trim().parse::<f64>().unwrap_or(f64::NAN);
        let comment = form.text(&format!("mcomment_{name}"));
        manual.push(ManualScore {
            rule: name,
            deduction,
            comment: (!comment.is_empty()).then_some(comment),
        });
    }
    let mut added: Vec<AddedFinding> = previous
        .added
        .iter()
        .enumerate()
        .filter(|(i, _)| form.checked(&format!("keep_added_{i}")))
        .map(|(_, a)| a.clone())
        .collect();
    let rule = form.text("added_rule");
    let comment = form.text("added_comment");
    if !rule.is_empty() && !comment.is_empty() {
        added.push(AddedFinding {
            rule,
            turn: form
                .get("added_turn")
                .and_then(|t| t.trim().parse::<usize>().ok())
                .filter(|t| *t >= 1)
                .map(|t| t - 1),
            text: Some(form.text("added_text")).filter(|t| !t.is_empty()),
            deduction: form
                .get("added_deduction")
                .and_then(|d| d.trim().parse::<f64>().ok()),
            comment,
        });
    }
    let remark = form.text("remark");
    ReviewInput {
        decisions,
        manual,
        added,
        comment: (!remark.is_empty()).then_some(remark),
    }
}

/// Fields named `prefix…`, with the prefix cut off.
fn form_pairs(form: &FormData, prefix: &str) -> Vec<(String, String)> {
    form.pairs()
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|n| (n.to_string(), v.clone())))
        .collect()
}

/// `POST /conversations/{id}/review`.
pub(in crate::web) async fn save_review(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Review)?;
    let svc = ReviewService::new(state.store.clone());
    let view = svc.view(&page.user.principal, &id).await?;
    let previous = view
        .review
        .as_ref()
        .map(|r| r.input.clone())
        .unwrap_or_default();
    let autos = view
        .result
        .findings
        .iter()
        .filter(|f| f.origin == Origin::Auto)
        .count();
    let input = review_input(&form, &previous, autos);
    let version = form
        .get("version")
        .and_then(|v| v.trim().parse::<i64>().ok());
    match svc
        .save_review(&page.user.principal, &id, &input, version, now())
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "{}?done=reviewed#review",
            conversation_href(&id)
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `POST /conversations/{id}/appeals`.
pub(in crate::web) async fn file_appeal(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    let finding = form.text("finding");
    let reason = form.text("reason");
    if reason.is_empty() {
        return Err(WebError::BadRequest(
            page.ctx(None, msg("nav.appeals"))
                .t("q.reason_required")
                .to_string(),
        ));
    }
    ReviewService::new(state.store.clone())
        .file_appeal(&page.user.principal, &id, &finding, &reason, now())
        .await?;
    Ok(see_other(&format!(
        "{}?done=appealed#review",
        conversation_href(&id)
    )))
}
