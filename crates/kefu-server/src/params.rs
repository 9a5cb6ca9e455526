//! Query-string parameters shared by list endpoints.

use std::collections::HashMap;

use crate::error::ApiError;

/// A page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    /// 1-based page number.
    pub page: i64,
    /// Items per page.
    pub per_page: i64,
    /// Items skipped.
    pub offset: i64,
}

/// Most items one page may hold.
pub(crate) const MAX_PER_PAGE: i64 = 1000;

/// Reads `page` (default 1) and `per_page` (default 50, at most 1000).
pub(crate) fn page_params(q: &HashMap<String, String>) -> Result<Page, ApiError> {
    let page = match q.get("page") {
        Some(v) => v.parse::<i64>().ok().filter(|p| *p >= 1).ok_or_else(|| {
            ApiError::BadRequest(format!("`page` must be a whole number from 1, got {v:?}"))
        })?,
        None => 1,
    };
    let per_page = match q.get("per_page") {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=MAX_PER_PAGE).contains(p))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`per_page` must be between 1 and {MAX_PER_PAGE}, got {v:?}"
                ))
            })?,
        None => 50,
    };
    Ok(Page {
        page,
        per_page,
        offset: (page - 1).saturating_mul(per_page),
    })
}

/// `true`/`false`/`1`/`0`.
pub(crate) fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::BadRequest(format!(
            "`{name}` must be true or false, got {v:?}"
        ))),
    }
}

/// A number.
pub(crate) fn parse_f64(name: &str, v: &str) -> Result<f64, ApiError> {
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| ApiError::BadRequest(format!("`{name}` must be a number, got {v:?}")))
}

/// A time bound as Unix ms: RFC 3339, `YYYY-MM-DD HH:MM:SS`, or a date
/// (`YYYY-MM-DD`, midnight China time).
pub(crate) fn parse_time_bound(name: &str, v: &str) -> Result<i64, ApiError> {
    let parsed = kefu_engine::lenient::parse_time(v).or_else(|| {
        chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()
            .and_then(|d| kefu_engine::lenient::parse_time(&format!("{d} 00:00:00")))
    });
    parsed.map(|t| t.timestamp_millis()).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`{name}` must be a date or time like 2026-10-01, got {v:?}"
        ))
    })
}

/// A report period (`2026-10`, `2026-Q4`, `2026-W40`, `2026-10-01..2026-10-07` …).
pub(crate) fn parse_period(v: &str) -> Result<kefu_service::period::Period, ApiError> {
    v.parse()
        .map_err(|e: kefu_service::period::PeriodError| ApiError::BadRequest(e.to_string()))
}

/// Complaint states from a comma-separated `state` parameter (stable names
/// or Chinese labels). An unknown name is a 400 that lists the known ones —
/// never a 404 (the list exists; the filter is wrong).
pub(crate) fn parse_complaint_states(
    v: &str,
) -> Result<Vec<kefu_service::complaint::ComplaintState>, ApiError> {
    use kefu_service::complaint::ComplaintState;
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ComplaintState>().map_err(|_| {
                let known: Vec<&str> = ComplaintState::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::BadRequest(format!(
                    "`state` must be one of {} (or its Chinese label), got {s:?}",
                    known.join(", ")
                ))
            })
        })
        .collect()
}
