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

use std::io::{BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use kefu_engine::Scratch;
use kefu_formats::detect;
use kefu_formats::import::{Format, ImportOptions};
use kefu_formats::native::{parse_record, Batch};
use kefu_service::auth::Role;
use kefu_store::{ImportItem, ImportOutcome};

use super::i18n::msg;
use super::page::{render, render_status, same, Ctx, Page, PageResult, Section, WebError};
use crate::AppState;

/// Errors listed on the summary page (the total is always shown).
const SHOWN_ERRORS: usize = 200;
/// Conversations per store transaction.
const ROWS_PER_WRITE: usize = 500;

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
    /// Total errors.
    error_count: usize,
    /// The first [`SHOWN_ERRORS`], as (line, reason).
    errors: Vec<(u64, String)>,
    no_agent: u64,
    no_start: u64,
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Native => "native",
        Format::Aliyun => "aliyun",
        Format::Tencent => "tencent",
        Format::Huawei => "huawei",
        Format::Amazon => "amazon",
        Format::Csv => "csv",
        Format::ChatLog => "chatlog",
    }
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
    let mut spooled = None;
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .file_name()
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_string())
            .unwrap_or_default();
        let mut file =
            tempfile::tempfile().map_err(|e| WebError::Internal(format!("temporary file: {e}")))?;
        let mut written: u64 = 0;
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            written += chunk.len() as u64;
            if written > limit {
                return refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    page.ctx(None, msg("upload.title"))
                        .t1(msg("upload.too_large"), megabytes(limit)),
                );
            }
            file.write_all(&chunk)
                .map_err(|e| WebError::Internal(format!("spooling the upload: {e}")))?;
        }
        spooled = Some((name, file, written));
        break;
    }
    let Some((name, file, size)) = spooled.filter(|(_, _, n)| *n > 0) else {
        let ctx = page.ctx(None, msg("upload.title"));
        return refuse(
            StatusCode::BAD_REQUEST,
            ctx.t(msg("upload.no_file")).to_string(),
        );
    };
    let summary = import_file(&state, name, file, size).await?;
    state.reports_changed();
    render(&UploadPage {
        ctx: page.ctx(Some(Section::Conversations), msg("upload.title")),
        limit: megabytes(limit),
        error: None,
        summary: Some(summary),
    })
}

/// Reads, inspects and stores a spooled file: the reading and inspecting on
/// a blocking thread, the writes here, one transaction per
/// [`ROWS_PER_WRITE`] conversations (the channel holds one, so memory stays
/// bounded whatever the file's size).
async fn import_file(
    state: &AppState,
    name: String,
    mut file: std::fs::File,
    size: u64,
) -> Result<Summary, WebError> {
    let inspector = state.inspector();
    let pack_version = state.pack_version_id();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<ImportItem>>(1);
    let file_name = name.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let mut head = Vec::new();
        file.seek(SeekFrom::Start(0))?;
        std::io::Read::read_to_end(
            &mut std::io::Read::take(&mut file, detect::HEAD_BYTES as u64),
            &mut head,
        )?;
        let format = detect::detect(Path::new(&file_name), &head);
        file.seek(SeekFrom::Start(0))?;
        let opts = ImportOptions::default();
        let mut source = detect::open_batches(
            Box::new(BufReader::with_capacity(1 << 20, file)),
            Some(size),
            format,
            &file_name,
            &opts,
            |_| {},
        )?;
        let mut scratch = Scratch::default();
        let mut batch = Batch::default();
        let mut errors: Vec<(u64, String)> = Vec::new();
        let (mut no_agent, mut no_start) = (0u64, 0u64);
        let mut pending = Vec::with_capacity(ROWS_PER_WRITE);
        while source.next_batch(&mut batch, 512, 4 << 20)? {
            errors.extend(batch.errors.drain(..).map(|e| (e.line, e.reason)));
            for (line, bytes) in batch.iter() {
                match parse_record(bytes) {
                    Ok((conv, raw)) => {
                        no_agent += u64::from(conv.agent_id.is_none());
                        no_start += u64::from(conv.started_at.is_none());
                        let ins = inspector.inspect(&conv, &mut scratch);
                        pending.push(ImportItem::new(&conv, Some(raw), ins));
                    }
                    Err(reason) => errors.push((line, reason)),
                }
            }
            if pending.len() >= ROWS_PER_WRITE {
                let full = std::mem::replace(&mut pending, Vec::with_capacity(ROWS_PER_WRITE));
                if tx.blocking_send(full).is_err() {
                    return Err(std::io::Error::other("the database writer stopped"));
                }
            }
        }
        if !pending.is_empty() && tx.blocking_send(pending).is_err() {
            return Err(std::io::Error::other("the database writer stopped"));
        }
        Ok((format, errors, no_agent, no_start))
    });
    let mut stored = ImportOutcome::default();
    let mut write_error = None;
    while let Some(items) = rx.recv().await {
        match state.store.import_batch(pack_version, &items).await {
            Ok(outcome) => stored.add(outcome),
            Err(e) => {
                write_error = Some(e);
                break;
            }
        }
    }
    // Dropping the receiver stops the reader at its next send.
    drop(rx);
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let (format, errors, no_agent, no_start) = reader
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Invalid(format!("{name}: {e}")))?;
    if stored.inserted > 0 {
        if let Err(e) = state.store.refresh_rollups().await {
            tracing::warn!(error = %e, "refreshing rollups after an upload");
        }
    }
    Ok(Summary {
        file: name,
        format: format_name(format),
        stored: stored.inserted,
        skipped: stored.skipped,
        error_count: errors.len(),
        errors: errors.into_iter().take(SHOWN_ERRORS).collect(),
        no_agent,
        no_start,
    })
}
