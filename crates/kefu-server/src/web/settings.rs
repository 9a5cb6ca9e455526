//! `GET/POST /admin/settings`: the settings admins tune — KPI targets, star
//! thresholds, the assessment scheme and sampling (`quality`), SLA targets
//! and business hours (`sla`), survey bands and the revisit delay
//! (`policy`) — each edited as JSON, validated by the service that owns
//! it before it is stored.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use kefu_service::complaint::ComplaintService;
use kefu_service::complaint::{Actor, ActorRole, ComplaintPolicy};
use kefu_service::kpi::{KpiService, QualitySettings};
use kefu_service::sla::SlaSettings;

use super::i18n::msg;
use super::page::{render_status, see_other, CsrfForm, Ctx, Page, PageResult, Section, WebError};
use crate::AppState;

/// One editable setting.
struct Editor {
    /// `quality`, `sla` or `policy`.
    which: &'static str,
    /// Message key of its title.
    title: &'static str,
    /// Message key of what it holds.
    about: &'static str,
    /// The JSON shown.
    text: String,
    /// Why the last save was refused.
    error: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    ctx: Ctx,
    editors: Vec<Editor>,
}

fn pretty<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

async fn current(state: &AppState) -> Result<[String; 3], WebError> {
    let quality = KpiService::new(state.store.clone()).settings().await?;
    let complaints = ComplaintService::new(state.store.clone());
    let sla = complaints.sla_settings().await?;
    let policy = complaints.complaint_policy().await?;
    Ok([pretty(&quality), pretty(&sla), pretty(&policy)])
}

fn editors(texts: [String; 3], failed: Option<(&str, String, String)>) -> Vec<Editor> {
    let keys = [
        (
            "quality",
            msg("settings.quality"),
            msg("settings.quality_about"),
        ),
        ("sla", msg("settings.sla"), msg("settings.sla_about")),
        (
            "policy",
            msg("settings.policy"),
            msg("settings.policy_about"),
        ),
    ];
    keys.into_iter()
        .zip(texts)
        .map(|((which, title, about), text)| {
            let (text, error) = match &failed {
                Some((w, t, e)) if *w == which => (t.clone(), Some(e.clone())),
                _ => (text, None),
            };
            Editor {
                which,
                title,
                about,
                text,
                error,
            }
        })
        .collect()
}

/// `GET /admin/settings`.
pub(super) async fn page(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Admin)?;
    let ctx = page.ctx(Some(Section::Admin), msg("settings.title"));
    render_status(
        StatusCode::OK,
        &SettingsPage {
            editors: editors(current(&state).await?, None),
            ctx,
        },
    )
}

/// `POST /admin/settings`: saves one setting (`which`) from its JSON.
pub(super) async fn save(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Admin)?;
    let which = form.text("which");
    let text = form.raw("json").to_string();
    let by = page.user.id().to_string();
    let actor = Actor::new(by.clone(), ActorRole::Admin);
    let outcome: Result<(), String> = match which.as_str() {
        "quality" => match serde_json::from_str::<QualitySettings>(&text) {
            Ok(s) => KpiService::new(state.store.clone())
                .set_settings(&s, &by, Utc::now().timestamp_millis())
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        "sla" => match serde_json::from_str::<SlaSettings>(&text) {
            Ok(s) => ComplaintService::new(state.store.clone())
                .set_sla_settings(s, &actor, Utc::now())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        "policy" => match serde_json::from_str::<ComplaintPolicy>(&text) {
            Ok(p) => ComplaintService::new(state.store.clone())
                .set_complaint_policy(p, &actor, Utc::now())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        _ => return Err(WebError::BadRequest("which".into())),
    };
    match outcome {
        Ok(()) => Ok(see_other(&format!("/admin/settings?done=saved#{}", which))),
        Err(error) => {
            let ctx = page.ctx(Some(Section::Admin), msg("settings.title"));
            let which: &str = match which.as_str() {
                "quality" => "quality",
                "sla" => "sla",
                _ => "policy",
            };
            // 200 with the reason beside the form (as the other forms of
            // the dashboard do): the browser treats a 4xx page as broken.
            render_status(
                StatusCode::OK,
                &SettingsPage {
                    editors: editors(current(&state).await?, Some((which, text, error))),
                    ctx,
                },
            )
        }
    }
}
