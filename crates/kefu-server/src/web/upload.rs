//! `/import`: conversations uploaded from the dashboard (inspectors,
//! supervisors, admins) in every format `kefu import` reads — native JSON
//! Lines or arrays, the ASR vendors' results, CSV/TSV, chat logs — detected
//! by `kefu_formats::detect` as the CLI does. The upload is a multipart form
//! whose first field is the CSRF token; the file is spooled to a private
//! temporary file as it arrives (never held in memory) up to the server's
//! upload limit (`kefu serve --max-upload-size`), then read in batches,
//! inspected with the active pack and stored like the CLI's import
//! (idempotent by id). The answer is a summary: stored, already there,
//! line-numbered errors, and how many lack an agent or a start time.
//! The form's `kind` picks customers or complaints files (CSV/TSV/XLSX)
//! instead, read as `kefu customers import` / `kefu complaints import`.

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use kefu_service::auth::Role;

use super::i18n::msg;
use super::page::{render, render_status, same, Ctx, Page, PageResult, Section, WebError};
use crate::upload::UploadError;
use crate::AppState;

/// Errors listed on the summary page (the total is always shown).
const SHOWN_ERRORS: usize = 200;

#[derive(askama::Template)]
#[template(path = "upload.html")]
struct UploadPage {
    ctx: Ctx,
    /// Largest upload, for the hint.
    limit: String,
    /// Why the upload was refused.
    error: Option<String>,
    /// What the last upload did.
    summary: Option<Summary>,
}

/// What an upload did.
struct Summary {
    file: String,
    format: &'static str,
    stored: u64,
    skipped: u64,
    /// A customers file: `stored` counts created, `skipped` updated.
    customers: bool,
    /// A complaints file: `stored` counts filed, `skipped` already filed.
    complaints: bool,
    /// The customers or complaints file's text encoding.
    encoding: String,
    /// Total errors.
    error_count: usize,
    /// The first [`SHOWN_ERRORS`], as (line, reason).
    errors: Vec<(u64, String)>,
    no_agent: u64,
    no_start: u64,
}

/// Inspectors, supervisors and admins; agents may not import.
fn require_staff(page: &Page) -> Result<(), WebError> {
    page.user.require(Section::Conversations)?;
    if page.user.role() == Role::Agent {
        return Err(WebError::Forbidden);
    }
    Ok(())
}

fn megabytes(n: u64) -> String {
    format!("{} MB", n / (1024 * 1024))
}

/// `GET /import`: the upload form.
pub(super) async fn form(State(state): State<AppState>, page: Page) -> PageResult {
    require_staff(&page)?;
    render(&UploadPage {
        ctx: page.ctx(Some(Section::Conversations), msg("upload.title")),
        limit: megabytes(state.max_upload_bytes()),
        error: None,
        summary: None,
    })
}

/// `POST /import` (multipart: `_csrf`, then `file`).
pub(super) async fn upload(
    State(state): State<AppState>,
    page: Page,
    mut multipart: Multipart,
) -> PageResult {
    require_staff(&page)?;
    let limit = state.max_upload_bytes();
    let refuse = |status: StatusCode, message: String| {
        render_status(
            status,
            &UploadPage {
                ctx: page.ctx(Some(Section::Conversations), msg("upload.title")),
                limit: megabytes(limit),
                error: Some(message),
                summary: None,
            },
        )
    };
    let bad = |e: axum::extract::multipart::MultipartError| WebError::BadRequest(e.body_text());
    // The token comes first (the form's first field), so nothing of a
    // forged upload is written anywhere.
    let csrf_ok = match multipart.next_field().await.map_err(bad)? {
        Some(field) if field.name() == Some("_csrf") => {
            let sent = field.text().await.map_err(bad)?;
            same(sent.trim(), &page.user.csrf())
        }
        _ => false,
    };
    if !csrf_ok {
        return Err(WebError::Csrf);
    }
    // Then what the file holds (`kind`, before the file) and the file.
    let mut kind = String::from("conversations");
    let mut spooled = Err(UploadError::NoFile);
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("kind") => kind = field.text().await.map_err(bad)?.trim().to_string(),
            Some("file") => {
                spooled = crate::upload::spool_field(field, limit).await;
                break;
            }
            _ => {}
        }
    }
    let spooled = match spooled {
        Ok(spooled) => spooled,
        Err(UploadError::TooLarge(limit)) => {
            let ctx = page.ctx(None, msg("upload.title"));
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                ctx.t1(msg("upload.too_large"), megabytes(limit)),
            );
        }
        Err(UploadError::NoFile) => {
            let ctx = page.ctx(None, msg("upload.title"));
            return refuse(
                StatusCode::BAD_REQUEST,
                ctx.t(msg("upload.no_file")).to_string(),
            );
        }
        Err(e) => return Err(e.into()),
    };
    if kind == "complaints" {
        // Inspectors do not open complaints.
        if page.user.role() == Role::Inspector {
            return Err(WebError::Forbidden);
        }
        let file = spooled.name().to_string();
        let (encoding, o) =
            crate::upload::import_complaints(&state, &page.user.principal, spooled).await?;
        let summary = Summary {
            file,
            format: "complaints",
            stored: o.filed,
            skipped: o.skipped,
            customers: false,
            complaints: true,
            encoding,
            error_count: o.errors.len(),
            errors: o.errors.into_iter().take(SHOWN_ERRORS).collect(),
            no_agent: 0,
            no_start: 0,
        };
        return render(&UploadPage {
            ctx: page.ctx(Some(Section::Conversations), msg("upload.title")),
            limit: megabytes(limit),
            error: None,
            summary: Some(summary),
        });
    }
    if kind == "customers" {
        let file = spooled.name().to_string();
        let (encoding, o) =
            crate::upload::import_customers(&state, &page.user.principal, spooled).await?;
        let summary = Summary {
            file,
            format: "customers",
            stored: o.created,
            skipped: o.updated,
            customers: true,
            complaints: false,
            encoding,
            error_count: o.errors.len(),
            errors: o.errors.into_iter().take(SHOWN_ERRORS).collect(),
            no_agent: 0,
            no_start: 0,
        };
        return render(&UploadPage {
            ctx: page.ctx(Some(Section::Conversations), msg("upload.title")),
            limit: megabytes(limit),
            error: None,
            summary: Some(summary),
        });
    }
    let o = crate::upload::import(&state, spooled).await?;
    let summary = Summary {
        file: o.file,
        format: o.format,
        stored: o.stored,
        skipped: o.skipped,
        customers: false,
        complaints: false,
        encoding: String::new(),
        error_count: o.error_count,
        errors: o.errors.into_iter().take(SHOWN_ERRORS).collect(),
        no_agent: o.no_agent,
        no_start: o.no_start,
    };
    render(&UploadPage {
        ctx: page.ctx(Some(Section::Conversations), msg("upload.title")),
        limit: megabytes(limit),
        error: None,
        summary: Some(summary),
    })
}

impl From<UploadError> for WebError {
    fn from(e: UploadError) -> WebError {
        match e {
            UploadError::BadRequest(m) => WebError::BadRequest(m),
            UploadError::TooLarge(n) => WebError::BadRequest(format!("larger than {n} bytes")),
            UploadError::NoFile => WebError::BadRequest("no file".into()),
            UploadError::Unreadable(m) => WebError::Invalid(m),
            UploadError::Store(e) => e.into(),
            UploadError::Internal(m) => WebError::Internal(m),
        }
    }
}
