//! `GET /reports/export`: a period's reports downloaded from the dashboard —
//! the agents' KPIs and stars, the centre's KPIs and the rules — as CSV (one
//! table, UTF-8 with BOM for Excel) or XLSX (all three, one sheet each),
//! with the kefu-formats exporters, headers in the page's language.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use kefu_formats::export::{write_csv, write_xlsx, Lang as ExportLang, Table};
use kefu_service::kpi::{agents_table_in, centre_table_in, rules_table};
use kefu_service::period::Period;

use super::i18n::Lang;
use super::page::{Page, PageResult, Section, WebError};
use crate::AppState;
use axum::extract::State;

/// The exporters' language for the page's.
fn export_lang(lang: Lang) -> ExportLang {
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
    let period: Period = page
        .param("period")
        .unwrap_or_default()
        .parse()
        .map_err(|e: kefu_service::period::PeriodError| WebError::BadRequest(e.to_string()))?;
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
