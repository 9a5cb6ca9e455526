//! Information feedback (信息反馈) on the dashboard: the list with the board
//! per department, the record page (history and one form per command the
//! user may run), recording feedback (by hand, or marking a customer's turn
//! on the conversation page) and the themes page. Everything goes through
//! [`FeedbackService`], which applies the states and role rules.

use axum::extract::{Path, State};
use kefu_engine::Conversation;
use kefu_service::auth::Role;
use kefu_service::feedback::{
    Command, CommandKind, FeedbackFilter, FeedbackService, FeedbackSource, FeedbackState,
    NewFeedback,
};

use super::html;
use super::i18n::msg;
use super::page::{
    parse_period, query_string, render, see_other, CsrfForm, Ctx, FormData, Page, PageResult,
    Section, WebError,
};
use super::urls;
use crate::AppState;

/// Rows per page of the list.
const PER_PAGE: i64 = 50;
/// Verbatims shown per theme.
const VERBATIMS: usize = 5;

fn service(state: &AppState) -> FeedbackService {
    FeedbackService::new(state.store.clone())
}

fn state_label(ctx: &Ctx, s: FeedbackState) -> String {
    ctx.t(&format!("fb.state.{}", s.as_str())).to_string()
}

/// Message keys this module builds at run time.
#[cfg(test)]
pub(crate) fn dynamic_keys() -> Vec<String> {
    let mut keys: Vec<String> = FeedbackState::ALL
        .iter()
        .map(|s| format!("fb.state.{}", s.as_str()))
        .collect();
    for k in CommandKind::ALL {
        keys.push(format!("fb.cmd.{}", k.as_str()));
        keys.push(format!("fb.event.{}", k.as_str()));
    }
    keys.extend([
        "fb.event.created".to_string(),
        "fb.event.escalated".to_string(),
    ]);
    keys.extend(
        FeedbackSource::ALL
            .iter()
            .map(|s| format!("fb.source.{}", s.as_str())),
    );
    keys
}

/// The form that marks a customer's turn as feedback, on the conversation
/// page.
pub(crate) struct MarkForm {
    /// The conversation.
    pub conversation_id: String,
    /// The customer's turns: (0-based index, `#n text…`).
    pub turns: Vec<(usize, String)>,
    /// The category paths.
    pub categories: Vec<String>,
}

/// Short form of a text for lists and selects.
fn excerpt(text: &str, chars: usize) -> String {
    let mut out: String = text.chars().take(chars).collect();
    if text.chars().count() > chars {
        out.push('…');
    }
    out
}

/// The mark form for `conv` (`None` when it has no customer turn).
pub(crate) async fn mark_form(
    state: &AppState,
    conv: &Conversation<'_>,
) -> Result<Option<MarkForm>, WebError> {
    let turns: Vec<(usize, String)> = conv
        .turns
        .iter()
        .enumerate()
        .filter(|(_, t)| t.role == kefu_engine::Role::Customer && !t.text.trim().is_empty())
        .map(|(i, t)| (i, format!("#{} {}", i + 1, excerpt(&t.text, 30))))
        .collect();
    if turns.is_empty() {
        return Ok(None);
    }
    let categories = service(state).settings().await?.category_paths();
    Ok(Some(MarkForm {
        conversation_id: conv.id.to_string(),
        turns,
        categories,
    }))
}

/// A line of the board.
struct BoardRow {
    department: String,
    href: String,
    cells: Vec<i64>,
    open: i64,
    overdue: i64,
    escalated: i64,
}

/// A line of the list.
struct Row {
    id: String,
    href: String,
    state: &'static str,
    state_label: String,
    category: String,
    content: String,
    department: String,
    owner: String,
    due: String,
    overdue: bool,
    escalated: bool,
    created: String,
}

#[derive(askama::Template)]
#[template(path = "feedback_list.html")]
struct ListPage {
    ctx: Ctx,
    show_board: bool,
    board_states: Vec<String>,
    board: Vec<BoardRow>,
    tabs: Vec<(String, String, bool)>,
    department: String,
    rows: Vec<Row>,
    total: i64,
    more: Option<String>,
    categories: Vec<String>,
    themes_href: String,
}

/// `GET /feedback?state=&department=&cursor=`: the board (staff) and the
/// list (agents: the records they recorded or own).
pub(super) async fn list(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Feedback)?;
    let ctx = page.ctx(Some(Section::Feedback), msg("fb.list_title"));
    let svc = service(&state);
    let p = &page.user.principal;
    let now = kefu_store::now_ms();
    let show_board = p.role != Role::Agent;
    let board = if show_board {
        svc.board(p, now)
            .await?
            .into_iter()
            .map(|b| {
                let name = b.department.clone().unwrap_or_default();
                BoardRow {
                    href: format!("/feedback{}", query_string([("department", name.as_str())])),
                    department: if name.is_empty() {
                        ctx.t("fb.unrouted").to_string()
                    } else {
                        name
                    },
                    cells: FeedbackState::ALL
                        .iter()
                        .map(|s| b.counts.get(s).copied().unwrap_or(0))
                        .collect(),
                    open: b.open,
                    overdue: b.overdue,
                    escalated: b.escalated,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let state_param = page
        .param("state")
        .and_then(|s| s.parse::<FeedbackState>().ok());
    let department = page.param("department").map(str::to_string);
    let overdue = page.param("overdue") == Some("1");
    let filter = FeedbackFilter {
        states: state_param.into_iter().collect(),
        department: department.clone(),
        overdue,
        ..FeedbackFilter::default()
    };
    let cursor = page.param("cursor").map(str::to_string);
    let list = svc
        .list(p, &filter, PER_PAGE, cursor.as_deref(), now)
        .await?;
    let dept = department.clone().unwrap_or_default();
    let mut tabs = vec![(
        ctx.t("fb.all").to_string(),
        format!("/feedback{}", query_string([("department", dept.as_str())])),
        state_param.is_none() && !overdue,
    )];
    for s in FeedbackState::ALL {
        tabs.push((
            state_label(&ctx, s),
            format!(
                "/feedback{}",
                query_string([("state", s.as_str()), ("department", dept.as_str())])
            ),
            state_param == Some(s),
        ));
    }
    tabs.push((
        ctx.t("fb.overdue").to_string(),
        format!(
            "/feedback{}",
            query_string([("overdue", "1"), ("department", dept.as_str())])
        ),
        overdue,
    ));
    let rows = list
        .items
        .iter()
        .map(|f| Row {
            id: f.id.clone(),
            href: urls::feedback(&f.id),
            state: f.state.as_str(),
            state_label: state_label(&ctx, f.state),
            category: f.category.clone(),
            content: excerpt(&f.content, 60),
            department: f.department.clone().unwrap_or_default(),
            owner: f.owner_id.clone().unwrap_or_default(),
            due: f.due_at.map(html::fmt_ms).unwrap_or_default(),
            overdue: f.is_overdue(now),
            escalated: f.escalated_at.is_some(),
            created: html::fmt_ms(f.created_at),
        })
        .collect();
    let state_text = state_param.map(|s| s.as_str()).unwrap_or("");
    let more = list.next.map(|n| {
        format!(
            "/feedback{}",
            query_string([
                ("state", state_text),
                ("department", dept.as_str()),
                ("overdue", if overdue { "1" } else { "" }),
                ("cursor", n.as_str()),
            ])
        )
    });
    let categories = svc.settings().await?.category_paths();
    let month = html::fmt_ms(now).chars().take(7).collect::<String>();
    render(&ListPage {
        show_board,
        board_states: FeedbackState::ALL
            .iter()
            .map(|s| state_label(&ctx, *s))
            .collect(),
        board,
        tabs,
        department: dept,
        rows,
        total: list.total,
        more,
        categories,
        themes_href: format!(
            "/feedback/themes{}",
            query_string([("period", month.as_str())])
        ),
        ctx,
    })
}

/// `POST /feedback`: record feedback (by hand, or a turn marked on the
/// conversation page: `conversation_id`, `turn_index`), then its page.
pub(super) async fn create(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Feedback)?;
    let conversation_id = form.get("conversation_id").map(str::to_string);
    let turn_index = match form.get("turn_index") {
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| WebError::BadRequest("turn_index".into()))?,
        ),
        None => None,
    };
    let input = NewFeedback {
        source: Some(if turn_index.is_some() {
            FeedbackSource::ConversationTurn
        } else {
            FeedbackSource::Manual
        }),
        conversation_id,
        turn_index,
        customer_id: form.get("customer_id").map(str::to_string),
        category: form.text("category"),
        content: form.text("content"),
        ..NewFeedback::default()
    };
    let f = service(&state)
        .create(&page.user.principal, input, kefu_store::now_ms())
        .await?;
    Ok(see_other(&format!("{}?done=saved", urls::feedback(&f.id))))
}

/// An entry of the history, in words.
struct HistoryRow {
    at: String,
    who: String,
    what: String,
    detail: String,
}

#[derive(askama::Template)]
#[template(path = "feedback_detail.html")]
struct DetailPage {
    ctx: Ctx,
    id: String,
    version: i64,
    state: &'static str,
    state_label: String,
    source: String,
    category: String,
    content: String,
    conversation: Option<(String, String)>,
    complaint: Option<(String, String)>,
    customer: String,
    department: String,
    owner: String,
    due: String,
    overdue: bool,
    escalated: String,
    response: String,
    customer_told: String,
    reject_reason: String,
    created: String,
    created_by: String,
    history: Vec<HistoryRow>,
    action: String,
    can: Vec<&'static str>,
    saved: bool,
}

/// `GET /feedback/{id}`: the record, its history and the command forms.
pub(super) async fn detail(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> PageResult {
    page.user.require(Section::Feedback)?;
    let ctx = page.ctx(Some(Section::Feedback), msg("fb.detail_title"));
    let now = kefu_store::now_ms();
    let v = service(&state).get(&page.user.principal, &id, now).await?;
    let f = &v.feedback;
    let history = v
        .history
        .iter()
        .map(|e| {
            let what = match e.to_state {
                Some(to) if e.from_state.is_some() => format!(
                    "{} → {}",
                    e.from_state
                        .map(|s| state_label(&ctx, s))
                        .unwrap_or_default(),
                    state_label(&ctx, to)
                ),
                _ => ctx.t(&format!("fb.event.{}", e.kind)).to_string(),
            };
            let detail = e
                .detail
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| match v {
                            serde_json::Value::String(s) => format!("{k}: {s}"),
                            other => format!("{k}: {other}"),
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            HistoryRow {
                at: html::fmt_ms(e.at),
                who: e.actor_id.clone(),
                what,
                detail,
            }
        })
        .collect();
    render(&DetailPage {
        id: f.id.clone(),
        version: f.version,
        state: f.state.as_str(),
        state_label: state_label(&ctx, f.state),
        source: ctx
            .t(&format!("fb.source.{}", f.source.as_str()))
            .to_string(),
        category: f.category.clone(),
        content: f.content.clone(),
        conversation: f.conversation_id.as_ref().map(|c| {
            let turn = f.turn_index.map(|t| t + 1).unwrap_or(0);
            (
                format!("{}#turn-{turn}", urls::conversation(c)),
                format!("{c} #{turn}"),
            )
        }),
        complaint: f
            .complaint_id
            .as_ref()
            .map(|c| (urls::complaint(c), c.clone())),
        customer: f.customer_id.clone().unwrap_or_default(),
        department: f.department.clone().unwrap_or_default(),
        owner: f.owner_id.clone().unwrap_or_default(),
        due: f.due_at.map(html::fmt_ms).unwrap_or_default(),
        overdue: v.overdue,
        escalated: f.escalated_at.map(html::fmt_ms).unwrap_or_default(),
        response: f.response.clone().unwrap_or_default(),
        customer_told: f.customer_told_at.map(html::fmt_ms).unwrap_or_default(),
        reject_reason: f.reject_reason.clone().unwrap_or_default(),
        created: html::fmt_ms(f.created_at),
        created_by: f.created_by.clone(),
        history,
        action: urls::feedback_command(&f.id),
        can: v.available_commands.iter().map(|k| k.as_str()).collect(),
        saved: page.param("done") == Some("saved"),
        ctx,
    })
}

fn command_from(form: &FormData) -> Result<Command, WebError> {
    let kind = form.text("type");
    let kind = CommandKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| WebError::BadRequest("type".into()))?;
    let opt = |name: &str| form.get(name).map(str::to_string);
    Ok(match kind {
        CommandKind::Assign => Command::Assign {
            department: form.text("department"),
            owner_id: opt("owner_id"),
            due_at: None,
        },
        CommandKind::Start => Command::Start,
        CommandKind::Respond => Command::Respond {
            response: form.text("response"),
        },
        CommandKind::TellCustomer => Command::TellCustomer { note: opt("note") },
        CommandKind::Close => Command::Close,
        CommandKind::Reject => Command::Reject {
            reason: form.text("reason"),
        },
        CommandKind::Note => Command::Note {
            text: form.text("text"),
        },
    })
}

/// `POST /feedback/{id}/command`: run one command, back to the page.
pub(super) async fn command(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Feedback)?;
    let cmd = command_from(&form)?;
    let version = form.get("version").and_then(|v| v.parse::<i64>().ok());
    service(&state)
        .execute(
            &page.user.principal,
            &id,
            &cmd,
            version,
            kefu_store::now_ms(),
        )
        .await?;
    Ok(see_other(&format!("{}?done=saved", urls::feedback(&id))))
}

/// A theme on the page.
struct ThemeRow {
    rank: usize,
    label: String,
    keywords: String,
    count: usize,
    previous: usize,
    share: String,
    previous_share: String,
    rising: bool,
    /// (text, link, source label).
    verbatims: Vec<(String, String, String)>,
}

#[derive(askama::Template)]
#[template(path = "feedback_themes.html")]
struct ThemesPage {
    ctx: Ctx,
    period: String,
    previous: String,
    texts: usize,
    previous_texts: usize,
    unthemed: usize,
    themes: Vec<ThemeRow>,
}

/// `GET /feedback/themes?period=2026-11`: themes of the period with counts,
/// trend and verbatims (staff).
pub(super) async fn themes(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Feedback)?;
    if page.user.role() == Role::Agent {
        return Err(WebError::Forbidden);
    }
    let ctx = page.ctx(Some(Section::Feedback), msg("fb.themes_title"));
    let now = kefu_store::now_ms();
    let default_period: String = html::fmt_ms(now).chars().take(7).collect();
    let period_text = page.param("period").unwrap_or(&default_period).to_string();
    let period = parse_period(&period_text)?;
    let view = service(&state)
        .themes(&page.user.principal, &period, VERBATIMS)
        .await?;
    let themes = view
        .themes
        .iter()
        .map(|t| ThemeRow {
            rank: t.rank,
            label: t.label.clone(),
            keywords: t.keywords.join("、"),
            count: t.count,
            previous: t.previous,
            share: html::num(t.share),
            previous_share: html::num(t.previous_share),
            rising: t.rising,
            verbatims: t
                .verbatims
                .iter()
                .map(|v| {
                    let (href, source) = match v.turn_index {
                        Some(i) => (
                            format!("{}#turn-{}", urls::conversation(&v.id), i + 1),
                            format!("{} #{}", v.id, i + 1),
                        ),
                        None => (urls::feedback(&v.id), v.id.clone()),
                    };
                    (v.text.clone(), href, source)
                })
                .collect(),
        })
        .collect();
    render(&ThemesPage {
        period: view.period,
        previous: view.previous_period,
        texts: view.texts,
        previous_texts: view.previous_texts,
        unthemed: view.unthemed,
        themes,
        ctx,
    })
}
