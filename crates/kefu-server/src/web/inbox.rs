//! Notifications on the dashboard: `/inbox` (every signed-in user's own
//! notifications, mark read / mark all read; the header's badge counts the
//! unread ones) and `/admin/notifications` (admins: webhook endpoints, users'
//! e-mail addresses and the delivery log). Everything goes through
//! [`NotifyService`].

use axum::extract::{Path, State};
use kefu_service::notify::NotifyService;

use super::html;
use super::page::{render, see_other, CsrfForm, Ctx, Page, PageResult, Section, WebError};
use crate::AppState;

/// Entries per page of the inbox.
const PER_PAGE: i64 = 50;

fn service(state: &AppState) -> NotifyService {
    NotifyService::new(state.store.clone())
}

/// Message keys this module builds at run time.
#[cfg(test)]
pub(crate) fn dynamic_keys() -> Vec<String> {
    let mut keys: Vec<String> = kefu_service::notify::Event::ALL
        .iter()
        .map(|e| format!("inbox.events.{}", e.as_str()))
        .collect();
    keys.extend(
        ["pending", "sent", "dead"]
            .iter()
            .map(|s| format!("notify.state_{s}")),
    );
    keys
}

/// One entry of the inbox page.
struct Entry {
    id: i64,
    when: String,
    event: String,
    title: String,
    body: String,
    href: String,
    read: bool,
    action: String,
}

#[derive(askama::Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    ctx: Ctx,
    entries: Vec<Entry>,
    unread_only: bool,
    older: Option<String>,
}

/// `GET /inbox?unread=1&before=ID`: the user's notifications, newest first.
pub(super) async fn page(State(state): State<AppState>, page: Page) -> PageResult {
    let unread_only = page.param("unread").is_some_and(|v| v == "1");
    let before = page.param("before").and_then(|v| v.parse::<i64>().ok());
    let items = service(&state)
        .inbox(&page.user.principal, before, unread_only, PER_PAGE)
        .await?;
    let ctx = page.ctx(None, "inbox.title");
    let older = (items.len() as i64 == PER_PAGE)
        .then(|| items.last().map(|i| i.id))
        .flatten()
        .map(|id| {
            format!(
                "/inbox?before={id}{}",
                if unread_only { "&unread=1" } else { "" }
            )
        });
    let entries = items
        .into_iter()
        .map(|i| Entry {
            event: ctx
                .m
                .try_get(&format!("inbox.events.{}", i.event))
                .unwrap_or(i.event.as_str())
                .to_string(),
            when: html::fmt_ms(i.created_at),
            // Stored links are paths built by kefu with encoded ids; anything
            // else falls back to the inbox.
            href: if i.link.starts_with('/') && !i.link.starts_with("//") {
                i.link.clone()
            } else {
                "/inbox".to_string()
            },
            action: format!("/inbox/{}/read", i.id),
            id: i.id,
            title: i.title,
            body: i.body,
            read: i.read_at.is_some(),
        })
        .collect();
    render(&InboxPage {
        ctx,
        entries,
        unread_only,
        older,
    })
}

/// `POST /inbox/{id}/read`: marks one read.
pub(super) async fn mark_read(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(_form): CsrfForm,
) -> PageResult {
    let id = id.trim().parse::<i64>().map_err(|_| WebError::NotFound)?;
    service(&state)
        .mark_read(&page.user.principal, id, kefu_store::now_ms())
        .await?;
    Ok(see_other("/inbox?done=marked_read"))
}

/// `POST /inbox/read-all`: marks all read.
pub(super) async fn mark_all_read(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(_form): CsrfForm,
) -> PageResult {
    service(&state)
        .mark_all_read(&page.user.principal, kefu_store::now_ms())
        .await?;
    Ok(see_other("/inbox?done=marked_read"))
}

/// An endpoint on the admin page.
struct HookRow {
    id: i64,
    url: String,
    events: String,
    active: bool,
    action: String,
}

/// A delivery log row on the admin page.
struct LogRow {
    id: i64,
    event: String,
    channel: String,
    recipient: String,
    state: String,
    attempts: i64,
    status_code: String,
    error: String,
    next_attempt: String,
    delivered: String,
}

#[derive(askama::Template)]
#[template(path = "notify_admin.html")]
struct AdminPage {
    ctx: Ctx,
    hooks: Vec<HookRow>,
    log: Vec<LogRow>,
    secret: Option<String>,
}

/// `GET /admin/notifications`: webhook endpoints, e-mail addresses and
/// the delivery log (admins).
pub(super) async fn admin(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Admin)?;
    admin_page(&state, &page, None).await
}

async fn admin_page(state: &AppState, page: &Page, secret: Option<String>) -> PageResult {
    let svc = service(state);
    let hooks = svc
        .webhooks(&page.user.principal)
        .await?
        .into_iter()
        .map(|h| HookRow {
            action: format!("/admin/notifications/webhooks/{}/disable", h.id),
            id: h.id,
            url: h.url,
            events: h.events,
            active: h.active,
        })
        .collect();
    let ctx = page.ctx(Some(Section::Admin), "notify.admin_title");
    let log = svc
        .delivery_log(&page.user.principal, None, 100)
        .await?
        .into_iter()
        .map(|d| LogRow {
            id: d.id,
            event: d.event,
            channel: d.channel,
            recipient: d.recipient,
            state: ctx.t(&format!("notify.state_{}", d.state)).to_string(),
            attempts: d.attempts,
            status_code: d.status_code.map(|c| c.to_string()).unwrap_or_default(),
            error: d.last_error.unwrap_or_default(),
            next_attempt: d.next_attempt_at.map(html::fmt_ms).unwrap_or_default(),
            delivered: d.delivered_at.map(html::fmt_ms).unwrap_or_default(),
        })
        .collect();
    render(&AdminPage {
        ctx,
        hooks,
        log,
        secret,
    })
}

/// `POST /admin/notifications/webhooks`: adds an endpoint and shows its
/// secret once.
pub(super) async fn add_webhook(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Admin)?;
    let hook = service(&state)
        .add_webhook(
            &page.user.principal,
            form.get("url").unwrap_or(""),
            form.get("secret"),
            form.get("events").unwrap_or("*"),
            kefu_store::now_ms(),
        )
        .await?;
    admin_page(&state, &page, hook.secret).await
}

/// `POST /admin/notifications/webhooks/{id}/disable`.
pub(super) async fn disable_webhook(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(_form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Admin)?;
    let id = id.trim().parse::<i64>().map_err(|_| WebError::NotFound)?;
    service(&state)
        .disable_webhook(&page.user.principal, id)
        .await?;
    Ok(see_other("/admin/notifications?done=webhook_disabled"))
}

/// `POST /admin/notifications/email`: sets a user's e-mail address.
pub(super) async fn set_email(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Admin)?;
    let user = form
        .get("user")
        .ok_or_else(|| WebError::Invalid("user name is required".into()))?;
    service(&state)
        .set_email(&page.user.principal, user, form.get("email"))
        .await?;
    Ok(see_other("/admin/notifications?done=email_saved"))
}
