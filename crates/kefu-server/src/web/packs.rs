//! Rule packs: the active pack (rules by dimension), the stored versions,
//! and an editor that validates a pack text (every problem with its line)
//! and tries it on a pasted or stored conversation. Saving a new version is
//! not offered here yet.

use std::sync::Arc;

use axum::extract::State;
use kefu_engine::{Conversation, Inspection, Inspector, RulePack, Scratch};
use kefu_formats::native::parse_conversation;
use kefu_service::auth::can_read_agent_data;

use super::html;
use super::i18n::msg;
use super::labels;
use super::page::{render, CsrfForm, Ctx, Page, PageResult, Section, WebError};
use crate::AppState;

/// A rule as listed.
struct RuleRow {
    id: String,
    name: String,
    kind: String,
    role: String,
    channels: String,
    deduction: String,
    cap: String,
    veto: bool,
    message: String,
    source: String,
}

/// A dimension with its rules.
struct DimensionGroup {
    name: String,
    description: String,
    rules: Vec<RuleRow>,
}

/// A stored version.
struct VersionRow {
    id: i64,
    pack: String,
    digest: String,
    created: String,
    active: bool,
    href: String,
    /// The conversations whose current result this version produced.
    results_href: String,
}

#[derive(askama::Template)]
#[template(path = "packs.html")]
struct OverviewPage {
    ctx: Ctx,
    name: String,
    id: String,
    version: String,
    description: String,
    base: String,
    pass_mark: String,
    grades: Vec<(String, String)>,
    groups: Vec<DimensionGroup>,
    disabled: Vec<String>,
    rule_count: usize,
    versions: Vec<VersionRow>,
    /// The user may re-inspect (supervisors, admins).
    can_reinspect: bool,
    /// The last re-inspection started on this node.
    job: Option<JobView>,
}

/// The last re-inspection, as shown.
struct JobView {
    running: bool,
    failed: Option<String>,
    pack: String,
    started: String,
    done: u64,
    total: u64,
    progress: String,
    counts: String,
    kept: String,
}

fn job_view(ctx: &Ctx, s: &crate::jobs::ReinspectStatus) -> JobView {
    let total = u64::try_from(s.total).unwrap_or(0).max(s.done());
    JobView {
        running: s.running(),
        failed: s.error.clone(),
        pack: s.pack.clone(),
        started: format!("{} · {}", html::fmt_ms(s.started_at), s.started_by),
        done: s.done(),
        total,
        progress: ctx.t2("packs.reinspect_progress", s.done(), total),
        counts: ctx.t2(
            "packs.reinspect_counts",
            s.outcome.reinspected,
            s.outcome.unchanged,
        ),
        kept: ctx.t2("packs.reinspect_kept", s.outcome.kept, s.outcome.unreadable),
    }
}

/// `POST /packs/reinspect`: re-inspects every stored conversation with the
/// active pack, in the background (supervisors, admins).
pub(super) async fn reinspect(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(_form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Packs)?;
    if !kefu_service::auth::can_change_settings(&page.user.principal) {
        return Err(WebError::Forbidden);
    }
    let started = state.jobs.start_reinspect(&state, page.user.id()).await?;
    let done = if started {
        "reinspect"
    } else {
        "reinspect_busy"
    };
    Ok(super::page::see_other(&format!(
        "/packs?done={done}#reinspect"
    )))
}

fn rule_role(r: &kefu_engine::Rule) -> &'static str {
    match r.role {
        kefu_engine::pack::RoleFilter::Agent => "agent",
        kefu_engine::pack::RoleFilter::Customer => "customer",
        kefu_engine::pack::RoleFilter::Any => "any",
    }
}

fn rule_row(ctx: &Ctx, r: &kefu_engine::Rule) -> RuleRow {
    let kind = r.kind.name();
    RuleRow {
        id: r.id.clone(),
        name: r.name.clone(),
        kind: ctx.label(&labels::rule_kind(kind), kind).to_string(),
        role: ctx.t(&labels::rule_role(rule_role(r))).to_string(),
        channels: r
            .channels
            .iter()
            .map(|c| ctx.t(&labels::channel(c.as_str())).to_string())
            .collect::<Vec<_>>()
            .join(" / "),
        deduction: html::num(r.deduction),
        cap: html::num(r.cap),
        veto: r.veto,
        message: r.message.clone().unwrap_or_default(),
        source: r.source.clone().unwrap_or_default(),
    }
}

/// Groups the rules of a pack by dimension (by id or name), in pack order;
/// rules of no known dimension come last.
fn groups(ctx: &Ctx, pack: &RulePack) -> Vec<DimensionGroup> {
    let mut out: Vec<DimensionGroup> = pack
        .dimensions
        .iter()
        .map(|d| DimensionGroup {
            name: d.name.clone(),
            description: d.description.clone(),
            rules: pack
                .rules
                .iter()
                .filter(|r| r.dimension == d.id || r.dimension == d.name)
                .map(|r| rule_row(ctx, r))
                .collect(),
        })
        .collect();
    let other: Vec<RuleRow> = pack
        .rules
        .iter()
        .filter(|r| {
            !pack
                .dimensions
                .iter()
                .any(|d| r.dimension == d.id || r.dimension == d.name)
        })
        .map(|r| rule_row(ctx, r))
        .collect();
    if !other.is_empty() {
        out.push(DimensionGroup {
            name: ctx.t("packs.other_dimension").to_string(),
            description: String::new(),
            rules: other,
        });
    }
    out
}

/// `GET /packs`: the active pack and the stored versions.
pub(super) async fn overview(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Packs)?;
    let ctx = page.ctx(Some(Section::Packs), msg("packs.title"));
    let active = state.inspector();
    let pack = active.pack();
    let versions = state
        .store
        .pack_versions()
        .await?
        .into_iter()
        .map(|v| VersionRow {
            id: v.id,
            pack: format!("{}@{}", v.pack_id, v.version),
            digest: v.digest.chars().take(12).collect(),
            created: html::fmt_ms(v.created_at),
            active: v.id == state.pack_version_id(),
            href: format!("/packs/editor?version={}", v.id),
            results_href: format!("/conversations?pack_version={}", v.id),
        })
        .collect();
    let job = state.jobs.reinspect_status(&state).await?;
    render(&OverviewPage {
        name: pack.meta.name.clone(),
        id: pack.meta.id.clone(),
        version: pack.meta.version.clone(),
        description: pack.meta.description.clone(),
        base: html::num(pack.scoring.base),
        pass_mark: html::num(pack.scoring.pass_mark),
        grades: pack
            .scoring
            .grades
            .iter()
            .map(|g| (g.name.clone(), html::num(g.min)))
            .collect(),
        groups: groups(&ctx, pack),
        disabled: pack.disabled.clone(),
        rule_count: pack.rules.len(),
        versions,
        can_reinspect: kefu_service::auth::can_change_settings(&page.user.principal),
        job: job.map(|s| job_view(&ctx, &s)),
        ctx,
    })
}

/// A problem of the edited pack.
struct Issue {
    line: usize,
    message: String,
    /// The offending line's text.
    excerpt: String,
}

/// A finding of the trial run.
struct TrialFinding {
    rule: String,
    name: String,
    turn: String,
    text: String,
    deduction: String,
    veto: bool,
    message: String,
}

/// The outcome of a trial run.
struct Trial {
    score: String,
    grade: String,
    passed: bool,
    veto: bool,
    /// The active pack's score for the same conversation.
    active_score: String,
    findings: Vec<TrialFinding>,
}

#[derive(askama::Template)]
#[template(path = "pack_editor.html")]
struct EditorPage {
    ctx: Ctx,
    source: String,
    sample: String,
    conversation_id: String,
    /// Validation ran.
    checked: bool,
    issues: Vec<Issue>,
    summary: String,
    /// Why the trial could not run, if it was asked for.
    trial_error: Option<String>,
    trial: Option<Trial>,
    /// The user may save and activate a pack (supervisors, admins).
    can_save: bool,
}

fn editor_page(ctx: Ctx, source: String) -> EditorPage {
    EditorPage {
        ctx,
        source,
        sample: String::new(),
        conversation_id: String::new(),
        checked: false,
        issues: Vec::new(),
        summary: String::new(),
        trial_error: None,
        trial: None,
        can_save: false,
    }
}

/// `GET /packs/editor?version=…`: the editor with the active pack's text
/// (or a stored version's).
pub(super) async fn editor(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Packs)?;
    let id = match page.param("version") {
        Some(v) => v.parse::<i64>().map_err(|_| WebError::NotFound)?,
        None => state.pack_version_id(),
    };
    let source = match state.store.pack_source(id).await? {
        Some(s) => s,
        None if page.param("version").is_some() => return Err(WebError::NotFound),
        None => kefu_engine::pack::DEFAULT_PACK_ZH_CN.to_string(),
    };
    let ctx = page.ctx(Some(Section::Packs), msg("packs.editor_title"));
    let mut out = editor_page(ctx, source);
    out.can_save = kefu_service::auth::can_change_settings(&page.user.principal);
    render(&out)
}

fn trial_of(ctx: &Ctx, ins: &Inspection, active: &Inspection) -> Trial {
    Trial {
        score: html::num(ins.score),
        grade: ins.grade.clone().unwrap_or_default(),
        passed: ins.passed,
        veto: ins.veto,
        active_score: html::num(active.score),
        findings: ins
            .findings
            .iter()
            .map(|f| TrialFinding {
                rule: f.rule.to_string(),
                name: f.name.to_string(),
                turn: f.turn.map(|t| (t + 1).to_string()).unwrap_or_default(),
                text: f.text.clone().unwrap_or_default(),
                deduction: html::num(f.deduction),
                veto: f.veto,
                message: if f.message.is_empty() {
                    ctx.t("packs.no_message").to_string()
                } else {
                    f.message.clone()
                },
            })
            .collect(),
    }
}

/// Inspects `conv` with the edited pack and with the active one.
fn run_both(
    pack: RulePack,
    active: Arc<Inspector>,
    conv: &Conversation<'_>,
) -> Result<(Inspection, Inspection), kefu_engine::PackError> {
    let inspector = Inspector::new(pack)?;
    let mut scratch = Scratch::default();
    let edited = inspector.inspect(conv, &mut scratch);
    let current = active.inspect(conv, &mut scratch);
    Ok((edited, current))
}

/// `POST /packs/editor`: validates the text (`action=validate`) and, with
/// `action=try`, inspects the pasted conversation (`sample`, the native
/// JSON format) or the stored one (`conversation_id`) with it.
pub(super) async fn check(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Packs)?;
    let ctx = page.ctx(Some(Section::Packs), msg("packs.editor_title"));
    let source = form.raw("source").replace("\r\n", "\n");
    let mut out = editor_page(ctx, source.clone());
    out.can_save = kefu_service::auth::can_change_settings(&page.user.principal);
    out.sample = form.raw("sample").to_string();
    out.conversation_id = form.text("conversation_id");
    out.checked = true;
    let lines: Vec<&str> = source.lines().collect();
    let parsed = {
        let s = source.clone();
        tokio::task::spawn_blocking(move || RulePack::from_toml(&s))
            .await
            .map_err(|e| WebError::Internal(e.to_string()))?
    };
    let pack = match parsed {
        Ok(pack) => {
            out.summary = out
                .ctx
                .t2("packs.valid", pack.rules.len(), pack.dimensions.len());
            Some(pack)
        }
        Err(e) => {
            out.issues = e
                .issues
                .iter()
                .map(|i| Issue {
                    line: i.line,
                    message: i.message.clone(),
                    excerpt: i
                        .line
                        .checked_sub(1)
                        .and_then(|l| lines.get(l))
                        .map(|l| l.trim_end().to_string())
                        .unwrap_or_default(),
                })
                .collect();
            None
        }
    };
    if form.get("action") == Some("save") {
        if !out.can_save {
            return Err(WebError::Forbidden);
        }
        if let Some(pack) = pack.clone() {
            // A new version: recorded by its text, made active on this node
            // at once and on the others at their next check (every minute).
            let meta = pack.meta.clone();
            let inspector = tokio::task::spawn_blocking(move || kefu_engine::Inspector::new(pack))
                .await
                .map_err(|e| WebError::Internal(e.to_string()))?
                .map_err(|e| WebError::BadRequest(e.to_string()))?;
            let version = state
                .store
                .register_pack(&meta.id, &meta.version, &source)
                .await?;
            state
                .store
                .set_active_pack(version.id, page.user.id())
                .await?;
            state.activate(inspector, version.id);
            return Ok(super::page::see_other("/packs?done=saved"));
        }
    }
    if form.get("action") == Some("try") {
        match pack {
            None => out.trial_error = Some(out.ctx.t("packs.fix_first").to_string()),
            Some(pack) => {
                let conv = if let Some(id) = form.get("conversation_id") {
                    match state.store.conversation(id).await? {
                        Some(c)
                            if can_read_agent_data(
                                &page.user.principal,
                                c.agent_id.as_deref().unwrap_or(""),
                            ) =>
                        {
                            Ok(c)
                        }
                        _ => Err(out.ctx.t1("packs.no_conversation", id)),
                    }
                } else if let Some(sample) = form.get("sample") {
                    parse_conversation(sample.as_bytes())
                        .map(Conversation::into_owned)
                        .map_err(|e| out.ctx.t1("packs.bad_sample", e))
                } else {
                    Err(out.ctx.t("packs.need_sample").to_string())
                };
                match conv {
                    Err(message) => out.trial_error = Some(message),
                    Ok(conv) => {
                        let active = state.inspector();
                        let ran =
                            tokio::task::spawn_blocking(move || run_both(pack, active, &conv))
                                .await
                                .map_err(|e| WebError::Internal(e.to_string()))?;
                        match ran {
                            Ok((edited, current)) => {
                                out.trial = Some(trial_of(&out.ctx, &edited, &current));
                            }
                            Err(e) => {
                                out.trial_error = Some(e.to_string());
                            }
                        }
                    }
                }
            }
        }
    }
    render(&out)
}
