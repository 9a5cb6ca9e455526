//! Theme analysis of a period: the feedback records recorded in it and the
//! customer turns of the conversations that started in it, grouped into
//! themes by [`kefu_engine::themes::analyse`] with the trend against the
//! previous period of the same kind and the verbatims behind each theme.

use kefu_engine::themes::{analyse, ThemeOptions};
use kefu_store::ThemeText;
use serde::Serialize;

use crate::auth::{Principal, Role};
use crate::error::{Error, Result};
use crate::feedback::service::FeedbackService;
use crate::period::Period;

/// China time: periods are local calendar days.
const LOCAL_OFFSET_S: i64 = 8 * 3600;
/// Most conversations read per period.
pub const MAX_THEME_CONVERSATIONS: i64 = 20_000;

/// A text behind a theme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verbatim {
    /// `feedback` or `turn`.
    pub kind: &'static str,
    /// The feedback id, or the conversation id.
    pub id: String,
    /// The turn (turns only).
    pub turn_index: Option<i64>,
    /// The text.
    pub text: String,
    /// When, Unix ms; RFC 3339 in JSON.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub at: i64,
}

/// A theme of the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemeView {
    /// 1-based rank, the handle for drill-down.
    pub rank: usize,
    /// Its name (leading keywords).
    pub label: String,
    /// Its keywords.
    pub keywords: Vec<String>,
    /// Texts of the period.
    pub count: usize,
    /// Texts of the previous period.
    pub previous: usize,
    /// Share of the period's texts, percent.
    pub share: f64,
    /// Share of the previous period's texts, percent.
    pub previous_share: f64,
    /// Whether it is rising.
    pub rising: bool,
    /// Its texts, most keywords first (at most the number asked for).
    pub verbatims: Vec<Verbatim>,
}

/// The themes of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemesView {
    /// The period (`2026-11`).
    pub period: String,
    /// The period compared with.
    pub previous_period: String,
    /// Texts analysed in the period.
    pub texts: usize,
    /// Texts of the previous period.
    pub previous_texts: usize,
    /// Texts in no theme.
    pub unthemed: usize,
    /// The themes, most texts first.
    pub themes: Vec<ThemeView>,
}

impl FeedbackService {
    /// The themes of `period` (staff only), each with up to `verbatims`
    /// texts. Deterministic: the same data give the same themes.
    pub async fn themes(
        &self,
        p: &Principal,
        period: &Period,
        verbatims: usize,
    ) -> Result<ThemesView> {
        if p.role == Role::Agent {
            return Err(Error::Forbidden("theme analysis is for staff".into()));
        }
        let previous = period.previous();
        let (from, to) = period.utc_ms(LOCAL_OFFSET_S);
        let (pfrom, pto) = previous.utc_ms(LOCAL_OFFSET_S);
        let current = self
            .store()
            .theme_texts(from, to, MAX_THEME_CONVERSATIONS)
            .await?;
        let before = self
            .store()
            .theme_texts(pfrom, pto, MAX_THEME_CONVERSATIONS)
            .await?;
        let (report, current) = tokio::task::spawn_blocking(move || {
            let now: Vec<&str> = current.iter().map(|t| t.text.as_str()).collect();
            let then: Vec<&str> = before.iter().map(|t| t.text.as_str()).collect();
            let report = analyse(&now, &then, &ThemeOptions::default());
            (report, current)
        })
        .await
        .map_err(|e| Error::Internal(format!("theme analysis: {e}")))?;
        let verbatim = |i: &usize| {
            current.get(*i).map(|t: &ThemeText| Verbatim {
                kind: t.kind,
                id: t.id.clone(),
                turn_index: t.turn_index,
                text: t.text.clone(),
                at: t.at,
            })
        };
        Ok(ThemesView {
            period: period.label.clone(),
            previous_period: previous.label.clone(),
            texts: report.texts,
            previous_texts: report.previous_texts,
            unthemed: report.unthemed,
            themes: report
                .themes
                .iter()
                .enumerate()
                .map(|(i, t)| ThemeView {
                    rank: i + 1,
                    label: t.label.clone(),
                    keywords: t.keywords.clone(),
                    count: t.count,
                    previous: t.previous,
                    share: t.share,
                    previous_share: t.previous_share,
                    rising: t.rising,
                    verbatims: t
                        .texts
                        .iter()
                        .take(verbatims)
                        .filter_map(verbatim)
                        .collect(),
                })
                .collect(),
        })
    }
}
