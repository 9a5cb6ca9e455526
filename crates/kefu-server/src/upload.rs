//! Files uploaded to be imported — from the dashboard (`/import`) or the
//! API (`POST /api/v1/imports`): spooled to an anonymous temporary file as
//! they arrive (never held in memory) up to the server's upload limit, then
//! detected and read by `kefu_formats::detect` as `kefu import` does,
//! inspected with the active pack on a blocking thread and stored in
//! time-bounded transactions by one `kefu_store::Importer` (idempotent by
//! id).

use std::io::{BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use axum::extract::Multipart;
use kefu_engine::Scratch;
use kefu_formats::detect;
use kefu_formats::import::{Format, ImportOptions};
use kefu_formats::native::{parse_record, Batch};
use kefu_store::{ImportItem, StoreError};

use crate::AppState;

/// Conversations handed to the writer at a time.
const ROWS_PER_SEND: usize = 500;
/// Errors kept with their line (the rest are only counted), so a file of
/// bad lines cannot fill the memory.
const KEPT_ERRORS: usize = 1000;

/// Why an upload was not imported.
#[derive(Debug)]
pub(crate) enum UploadError {
    /// The multipart body is malformed.
    BadRequest(String),
    /// The file is larger than the limit (bytes).
    TooLarge(u64),
    /// No `file` field, or an empty file.
    NoFile,
    /// The file cannot be read as its format (too large to read whole…).
    Unreadable(String),
    /// Storing failed.
    Store(StoreError),
    /// Our fault.
    Internal(String),
}

impl From<StoreError> for UploadError {
    fn from(e: StoreError) -> UploadError {
        UploadError::Store(e)
    }
}

/// A file spooled to disk.
pub(crate) struct Spooled {
    /// The file name the client gave (without directories).
    name: String,
    file: std::fs::File,
    size: u64,
}

impl Spooled {
    /// The file name the client gave.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// Reads the multipart body up to its `file` field and spools that field
/// to a temporary file, refusing it past `limit` bytes. Returns the `kind`
/// field sent before the file (`conversations` when none) with the file.
pub(crate) async fn spool(
    multipart: &mut Multipart,
    limit: u64,
) -> Result<(String, Spooled), UploadError> {
    let mut kind = String::from("conversations");
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("kind") => kind = field.text().await.map_err(bad)?.trim().to_string(),
            Some("file") => return Ok((kind, spool_field(field, limit).await?)),
            _ => {}
        }
    }
    Err(UploadError::NoFile)
}

fn bad(e: axum::extract::multipart::MultipartError) -> UploadError {
    UploadError::BadRequest(e.body_text())
}

/// Spools one multipart field to a temporary file, refusing it past
/// `limit` bytes.
pub(crate) async fn spool_field(
    mut field: axum::extract::multipart::Field<'_>,
    limit: u64,
) -> Result<Spooled, UploadError> {
    let name = field
        .file_name()
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_string())
        .unwrap_or_default();
    let mut file =
        tempfile::tempfile().map_err(|e| UploadError::Internal(format!("temporary file: {e}")))?;
    let mut size: u64 = 0;
    while let Some(chunk) = field.chunk().await.map_err(bad)? {
        size += chunk.len() as u64;
        if size > limit {
            return Err(UploadError::TooLarge(limit));
        }
        file.write_all(&chunk)
            .map_err(|e| UploadError::Internal(format!("spooling the upload: {e}")))?;
    }
    if size == 0 {
        return Err(UploadError::NoFile);
    }
    Ok(Spooled { name, file, size })
}

/// Largest customers file: read whole (spreadsheets are).
pub(crate) const MAX_CUSTOMERS_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a spooled table file (CSV/TSV, or XLSX by its extension) whole,
/// off the async threads, with the reader the kind of list needs; refuses
/// files over [`MAX_CUSTOMERS_BYTES`].
async fn read_table<T: Send + 'static>(
    spooled: Spooled,
    csv: fn(&[u8]) -> T,
    xlsx: fn(&[u8]) -> T,
) -> Result<T, UploadError> {
    let Spooled {
        name,
        mut file,
        size,
    } = spooled;
    if size > MAX_CUSTOMERS_BYTES {
        return Err(UploadError::TooLarge(MAX_CUSTOMERS_BYTES));
    }
    let is_xlsx = Path::new(&name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    tokio::task::spawn_blocking(move || -> std::io::Result<T> {
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0))?;
        std::io::Read::read_to_end(&mut file, &mut bytes)?;
        Ok(if is_xlsx { xlsx(&bytes) } else { csv(&bytes) })
    })
    .await
    .map_err(|e| UploadError::Internal(e.to_string()))?
    .map_err(|e| UploadError::Internal(format!("reading the upload: {e}")))
}

/// Creates or updates customers from a spooled CSV/TSV/XLSX file (as
/// `kefu customers import`), as `principal`.
pub(crate) async fn import_customers(
    state: &AppState,
    principal: &kefu_service::auth::Principal,
    spooled: Spooled,
) -> Result<(String, kefu_service::customer::CustomersImport), UploadError> {
    use kefu_formats::import::customers as file;
    let read = read_table(spooled, file::read_csv, file::read_xlsx).await?;
    let outcome = kefu_service::customer::CustomerService::new(state.store.clone())
        .import_records(principal, &read, None)
        .await
        .map_err(|e| match e {
            kefu_service::Error::Busy(m) => UploadError::Store(StoreError::Busy(m)),
            other => UploadError::Unreadable(other.to_string()),
        })?;
    Ok((read.encoding.to_string(), outcome))
}

/// Files complaints from a spooled CSV/TSV/XLSX file (as `kefu complaints
/// import`), as `principal`; the same size limit as customers files.
/// Returns the text encoding and what was filed.
pub(crate) async fn import_complaints(
    state: &AppState,
    principal: &kefu_service::auth::Principal,
    spooled: Spooled,
) -> Result<(String, kefu_service::complaint::ComplaintsImport), UploadError> {
    use kefu_formats::import::complaints as file;
    use kefu_service::complaint::Actor;
    let read = read_table(spooled, file::read_csv, file::read_xlsx).await?;
    let actor = Actor::from_principal(principal);
    let outcome = kefu_service::complaint::ComplaintService::new(state.store.clone())
        .import_records(&read, &actor, chrono::Utc::now())
        .await
        .map_err(|e| match e {
            kefu_service::Error::Busy(m) => UploadError::Store(StoreError::Busy(m)),
            other => UploadError::Unreadable(other.to_string()),
        })?;
    Ok((read.encoding.to_string(), outcome))
}

/// What an import of an uploaded file did.
pub(crate) struct Outcome {
    /// The file name.
    pub(crate) file: String,
    /// The format detected (`native`, `aliyun`, `csv`, `chatlog` …).
    pub(crate) format: &'static str,
    /// Conversations stored now.
    pub(crate) stored: u64,
    /// Conversations already stored (same id).
    pub(crate) skipped: u64,
    /// Records that could not be read.
    pub(crate) error_count: usize,
    /// The first [`KEPT_ERRORS`] of them, as (line, reason).
    pub(crate) errors: Vec<(u64, String)>,
    /// Conversations without an agent.
    pub(crate) no_agent: u64,
    /// Conversations without a start time.
    pub(crate) no_start: u64,
}

/// The stable name of a format.
pub(crate) fn format_name(f: Format) -> &'static str {
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

/// Reads, inspects and stores a spooled file: the reading and inspecting on
/// a blocking thread, the writes here in time-bounded slices (the channel
/// holds one lot of [`ROWS_PER_SEND`] conversations and the importer at
/// most one slice, so memory stays bounded whatever the file's size).
pub(crate) async fn import(state: &AppState, spooled: Spooled) -> Result<Outcome, UploadError> {
    let Spooled {
        name,
        mut file,
        size,
    } = spooled;
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
        let mut error_count = 0usize;
        let mut note = |line: u64, reason: String| {
            error_count += 1;
            if errors.len() < KEPT_ERRORS {
                errors.push((line, reason));
            }
        };
        let (mut no_agent, mut no_start) = (0u64, 0u64);
        let mut pending = Vec::with_capacity(ROWS_PER_SEND);
        while source.next_batch(&mut batch, 512, 4 << 20)? {
            for e in batch.errors.drain(..) {
                note(e.line, e.reason);
            }
            for (line, bytes) in batch.iter() {
                match parse_record(bytes) {
                    Ok((conv, raw)) => {
                        no_agent += u64::from(conv.agent_id.is_none());
                        no_start += u64::from(conv.started_at.is_none());
                        let ins = inspector.inspect(&conv, &mut scratch);
                        pending.push(ImportItem::new(&conv, Some(raw), ins));
                    }
                    Err(reason) => note(line, reason),
                }
            }
            if pending.len() >= ROWS_PER_SEND {
                let full = std::mem::replace(&mut pending, Vec::with_capacity(ROWS_PER_SEND));
                if tx.blocking_send(full).is_err() {
                    return Err(std::io::Error::other("the database writer stopped"));
                }
            }
        }
        if !pending.is_empty() && tx.blocking_send(pending).is_err() {
            return Err(std::io::Error::other("the database writer stopped"));
        }
        Ok((format, errors, error_count, no_agent, no_start))
    });
    // One importer for the whole file: its slices are sized across the
    // reader's batches, not restarted small for each.
    let mut importer = state.store.importer(pack_version);
    let mut write_error = None;
    while let Some(items) = rx.recv().await {
        if let Err(e) = importer.push(items).await {
            write_error = Some(e);
            break;
        }
    }
    // Dropping the receiver stops the reader at its next send.
    drop(rx);
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let stored = importer.finish().await?;
    let (format, errors, error_count, no_agent, no_start) = reader
        .await
        .map_err(|e| UploadError::Internal(e.to_string()))?
        .map_err(|e| UploadError::Unreadable(format!("{name}: {e}")))?;
    if stored.inserted > 0 {
        if let Err(e) = state.store.refresh_rollups().await {
            tracing::warn!(error = %e, "refreshing rollups after an upload");
        }
        state.reports_changed();
    }
    Ok(Outcome {
        file: name,
        format: format_name(format),
        stored: stored.inserted,
        skipped: stored.skipped,
        error_count,
        errors,
        no_agent,
        no_start,
    })
}
