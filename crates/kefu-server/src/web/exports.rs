//! `GET /reports/export`: a period's reports downloaded from the dashboard —
//! the agents' KPIs and stars, the centre's KPIs and the rules — as CSV (one
//! table, UTF-8 with BOM for Excel) or XLSX (all three, one sheet each),
//! with the kefu-formats exporters, headers in the page's language.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use kefu_formats::export::{
    conversation_columns, write_csv, write_xlsx, Cell, Lang as ExportLang, Table,
};
use kefu_service::kpi::{agents_table_in, centre_table_in, rules_table};
use serde_json::Value;

use super::i18n::Lang;
use super::page::{parse_period, Page, PageResult, Section, WebError};
use crate::AppState;
use axum::extract::State;

/// The exporters' language for the page's.
pub(super) fn export_lang(lang: Lang) -> ExportLang {
    match lang {
        Lang::Zh => ExportLang::Zh,
        Lang::En => ExportLang::En,
    }
}

fn attachment(content_type: &'static str, name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// Writes `tables` as a workbook and returns its bytes (the XLSX writer
/// needs a file: a private temporary one, removed at once).
async fn xlsx_bytes(tables: Vec<Table>, lang: ExportLang) -> Result<Vec<u8>, WebError> {
    tokio::task::spawn_blocking(move || {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| WebError::Internal(format!("random: {e}")))?;
        let name: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!("kefu-export-{name}.xlsx"));
        let written = write_xlsx(&tables, lang, &path)
            .map_err(|e| WebError::Internal(format!("xlsx: {e}")))
            .and_then(|()| {
                std::fs::read(&path).map_err(|e| WebError::Internal(format!("xlsx: {e}")))
            });
        let _ = std::fs::remove_file(&path);
        written
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?
}

/// `GET /reports/export?period=2026-10&format=csv|xlsx[&table=agents|centre|rules]`
/// (staff).
pub(super) async fn reports(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Agents)?;
    let period = parse_period(page.param("period").unwrap_or_default())?;
    let lang = export_lang(page.lang);
    let report = state.period_report(&period).await?;
    let active = state.inspector();
    let pack = Some(active.pack());
    match page.param("format").unwrap_or("csv") {
        "csv" => {
            let which = page.param("table").unwrap_or("agents");
            let table = match which {
                "agents" => agents_table_in(&report, pack, lang),
                "centre" => centre_table_in(&report, lang),
                "rules" => rules_table(&report, pack),
                other => return Err(WebError::BadRequest(format!("table `{other}`"))),
            };
            let mut body = Vec::new();
            write_csv(&table, lang, &mut body).map_err(|e| WebError::Internal(e.to_string()))?;
            Ok(attachment(
                "text/csv; charset=utf-8",
                &format!("{which}-{}.csv", period.label),
                body,
            ))
        }
        "xlsx" => {
            let tables = vec![
                agents_table_in(&report, pack, lang),
                centre_table_in(&report, lang),
                rules_table(&report, pack),
            ];
            let body = xlsx_bytes(tables, lang).await?;
            Ok(attachment(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                &format!("report-{}.xlsx", period.label),
                body,
            ))
        }
        other => Err(WebError::BadRequest(format!(
            "format `{other}`: csv or xlsx"
        ))),
    }
}

/// Most rows a list export holds.
pub(super) const MAX_EXPORT_ROWS: usize = 100_000;

/// A CSV or XLSX download of one table, named `stem` plus the extension.
pub(super) async fn download(
    table: Table,
    lang: ExportLang,
    format: &str,
    stem: &str,
) -> PageResult {
    match format {
        "csv" => {
            let mut body = Vec::new();
            write_csv(&table, lang, &mut body).map_err(|e| WebError::Internal(e.to_string()))?;
            Ok(attachment(
                "text/csv; charset=utf-8",
                &format!("{stem}.csv"),
                body,
            ))
        }
        "xlsx" => {
            let body = xlsx_bytes(vec![table], lang).await?;
            Ok(attachment(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                &format!("{stem}.xlsx"),
                body,
            ))
        }
        other => Err(WebError::BadRequest(format!(
            "format `{other}`: csv or xlsx"
        ))),
    }
}

/// One row of the conversation export from a stored result (the same
/// columns as `kefu inspect --format csv|xlsx`).
fn conversation_cells(r: &kefu_store::InspectionRow) -> Vec<Cell> {
    let res = &r.result;
    let text = |key: &str| Cell::text(res.get(key).and_then(Value::as_str).unwrap_or(""));
    let ids = |key: &str| {
        Cell::text(
            res.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .unwrap_or_default(),
        )
    };
    let findings = res.get("findings").and_then(Value::as_array);
    let mut rules: Vec<&str> = Vec::new();
    for f in findings.into_iter().flatten() {
        if let Some(rule) = f.get("rule").and_then(Value::as_str) {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
    }
    let started = res
        .get("started_at")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(Cell::Empty, Cell::Time);
    vec![
        Cell::text(r.conversation_id.as_str()),
        Cell::text(r.agent_id.clone().unwrap_or_default()),
        text("agent_name"),
        text("channel"),
        started,
        Cell::Num(r.score),
        Cell::text(r.grade.clone().unwrap_or_default()),
        Cell::Bool(r.passed),
        Cell::Bool(r.veto),
        Cell::Int(r.finding_count),
        Cell::text(rules.join(";")),
        ids("not_applicable"),
        ids("manual"),
        text("pack"),
    ]
}

/// `GET /export/conversations?…&format=csv|xlsx`: every current result the
/// list's filters (the same query) select, up to [`MAX_EXPORT_ROWS`],
/// headers in the page's language. Agents get their own, as on the list.
pub(super) async fn conversations(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Conversations)?;
    let ctx = page.ctx(
        Some(Section::Conversations),
        super::i18n::msg("conv.list_title"),
    );
    let (mut filter, invalid, _) = super::conversations::list_filter(&page, &ctx);
    if !invalid.is_empty() {
        return Err(WebError::BadRequest(invalid.join(", ")));
    }
    let format = page.param("format").unwrap_or("csv").to_string();
    let lang = export_lang(page.lang);
    let mut table = Table::new("会话", "Conversations", conversation_columns());
    filter.offset = None;
    filter.after = None;
    loop {
        let left = MAX_EXPORT_ROWS - table.rows.len();
        filter.limit = Some(i64::try_from(left.min(1000)).unwrap_or(1000));
        let found = state.store.list_inspections_page(&filter).await?;
        table
            .rows
            .extend(found.items.iter().map(conversation_cells));
        match found.next {
            Some(key) if table.rows.len() < MAX_EXPORT_ROWS => filter.after = Some(key),
            _ => break,
        }
    }
    download(table, lang, &format, "conversations").await
}
