//! Complaints from a file (CSV/TSV in UTF-8, GBK or UTF-16, or XLSX, read
//! by `kefu_formats::import::complaints`): each row is filed as
//! `POST /api/v1/complaints` files one — the same checks, role rules and
//! SLA columns — but dated by its 提交时间 (`created_at`), so its SLA clocks
//! start then. Rows commit in time-bounded slices (one transaction each);
//! a row whose id is stored is skipped, and a row without an id gets one
//! derived from its contents (`IMP-` and 16 hex digits), so importing the
//! same file again files nothing twice. Used by `kefu complaints import`,
//! the dashboard's upload and `POST /api/v1/imports`.

use std::str::FromStr;
use std::time::Instant;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use kefu_formats::import::complaints::{ComplaintRecord, ComplaintsImported};
use kefu_store::slice::{pause_between, Slicer};
use kefu_store::EscalationFlags;
use sha2::{Digest, Sha256};

use super::service::{append_history, complaint_row};
use super::{
    load_rules, Actor, ActorRole, Assignee, ComplaintService, Customer, NewComplaint, Priority,
};
use crate::error::{Error, Result};

/// What importing a complaints file did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComplaintsImport {
    /// Complaints filed.
    pub filed: u64,
    /// Rows whose complaint was already stored (by id), left as they are.
    pub skipped: u64,
    /// Rows refused, as (line, reason), in line order.
    pub errors: Vec<(u64, String)>,
}

/// Most rows in one slice.
const MAX_SLICE: usize = 500;

impl ComplaintService {
    /// Files one complaint per row of `read` as `actor` (see the module
    /// docs); a row the checks refuse becomes a line-numbered error and the
    /// rest go on. Times without an offset are read in the SLA calendar's
    /// timezone; a row without a time is dated `now`, one after `now` is
    /// refused.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] for inspectors (who do not open complaints),
    /// and what stops every row (the database); refused rows are errors in
    /// the outcome.
    pub async fn import_records(
        &self,
        read: &ComplaintsImported,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ComplaintsImport> {
        if actor.role == ActorRole::Inspector {
            return Err(Error::Forbidden("inspectors do not open complaints".into()));
        }
        let mut out = ComplaintsImport {
            errors: read
                .errors
                .iter()
                .map(|e| (e.line, e.reason.clone()))
                .collect(),
            ..ComplaintsImport::default()
        };
        let offset = {
            let mut tx = self.store().read().await?;
            let rules = load_rules(&mut tx).await?;
            tx.commit().await?;
            rules.sla.calendar.utc_offset()
        };
        // Rows checked outside the write lock: (line, input, filed at).
        let mut rows = Vec::with_capacity(read.records.len());
        for r in &read.records {
            match input_of(r, offset, now) {
                Ok((mut input, at)) => match self.fill_from_conversation(&mut input, actor).await {
                    Ok(()) => rows.push((r.line, input, at)),
                    Err(e) => out.errors.push((r.line, e.to_string())),
                },
                Err(reason) => out.errors.push((r.line, reason)),
            }
        }
        let mut slicer = Slicer::new(50, MAX_SLICE);
        let mut rest = rows.as_slice();
        while !rest.is_empty() {
            let (slice, next) = rest.split_at(slicer.size().min(rest.len()));
            rest = next;
            let started = Instant::now();
            let mut tx = self.begin_write().await?;
            let rules = load_rules(&mut tx).await?;
            for (line, input, at) in slice {
                let (c, events) = match super::new_complaint(input.clone(), actor, *at) {
                    Ok(made) => made,
                    Err(e) => {
                        out.errors.push((*line, e.to_string()));
                        continue;
                    }
                };
                let cols = rules.columns(&c, &EscalationFlags::default(), now);
                if tx.insert_complaint(&complaint_row(&c, cols)?).await? {
                    append_history(&mut tx, &events).await?;
                    out.filed += 1;
                } else {
                    out.skipped += 1;
                }
            }
            tx.commit().await?;
            let took = started.elapsed();
            slicer.record(slice.len(), took);
            if !rest.is_empty() {
                tokio::time::sleep(pause_between(self.store().backend(), took)).await;
            }
        }
        out.errors.sort_by_key(|e| e.0);
        Ok(out)
    }
}

/// A complaint input and its filing time from a file row, or why not.
/// `offset` is the centre's timezone for times without one.
pub fn input_of(
    r: &ComplaintRecord,
    offset: FixedOffset,
    now: DateTime<Utc>,
) -> std::result::Result<(NewComplaint, DateTime<Utc>), String> {
    let v = |k: &str| r.get(k).map(str::to_string);
    let at = match r.get("created_at") {
        Some(t) => parse_time(t, offset)
            .ok_or_else(|| format!("提交时间 `{t}` is not RFC 3339 or YYYY-MM-DD HH:MM[:SS]"))?,
        None => now,
    };
    if at > now {
        return Err(format!("提交时间 `{}` is in the future", at.to_rfc3339()));
    }
    let priority = match r.get("priority") {
        Some(p) => priority_of(p).ok_or_else(|| {
            format!("严重程度 `{p}` is not 低/中/高/紧急 (low, normal, high, urgent)")
        })?,
        None => Priority::default(),
    };
    let special = match r.get("special") {
        Some(s) => parse_bool(s).ok_or_else(|| format!("特殊疑难 `{s}` is not 是/否"))?,
        None => false,
    };
    let customer_id = v("customer_id");
    let mut input = NewComplaint {
        id: v("id").unwrap_or_default(),
        conversation_id: v("conversation_id"),
        customer: Customer {
            name: v("customer_name")
                .or_else(|| customer_id.clone())
                .unwrap_or_default(),
            id: customer_id,
            phone: v("phone"),
            id_number: None,
        },
        channel: v("channel").unwrap_or_default(),
        category: v("category").unwrap_or_default(),
        description: v("description").unwrap_or_default(),
        key_facts: Vec::new(),
        priority,
        special,
        assignee: v("agent_id")
            .map(Assignee::Agent)
            .or_else(|| v("group").map(Assignee::Group)),
    };
    if input.id.is_empty() {
        input.id = derived_id(r);
    }
    Ok((input, at))
}

/// `IMP-` and the first 16 hex digits of the SHA-256 of the row's values
/// as written (the time too, when given): the same row gets the same id
/// in every import.
fn derived_id(r: &ComplaintRecord) -> String {
    let mut h = Sha256::new();
    for (k, v) in &r.values {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("IMP-{hex}")
}

/// RFC 3339, or a local `YYYY-MM-DD HH:MM[:SS]` (also with `/` or `T`) in
/// `offset`.
fn parse_time(t: &str, offset: FixedOffset) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Some(at.with_timezone(&Utc));
    }
    let t = t.replace('/', "-").replace('T', " ");
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&t, f).ok())
        .and_then(|naive| offset.from_local_datetime(&naive).single())
        .map(|at| at.with_timezone(&Utc))
}

/// A priority by its name, its Chinese label or a usual severity word.
fn priority_of(p: &str) -> Option<Priority> {
    if let Ok(p) = Priority::from_str(p) {
        return Some(p);
    }
    match p.trim().to_lowercase().as_str() {
        "轻微" | "低级" | "minor" => Some(Priority::Low),
        "一般" | "普通" | "medium" => Some(Priority::Normal),
        "严重" | "重要" | "major" => Some(Priority::High),
        "特急" | "重大" | "critical" => Some(Priority::Urgent),
        _ => None,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "是" | "y" | "yes" | "true" | "1" => Some(true),
        "否" | "n" | "no" | "false" | "0" => Some(false),
        _ => None,
    }
}
