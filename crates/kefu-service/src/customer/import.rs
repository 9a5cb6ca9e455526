//! Customers from a file (CSV/TSV in UTF-8, GBK or UTF-16, or XLSX, read
//! by `kefu_formats::import::customers`): each row creates the customer or
//! updates the one with its id; used by `kefu customers import` and the
//! dashboard's upload.

use kefu_formats::import::customers::{CustomerRecord, CustomersImported};
use kefu_store::customers::{CustomField, ImportantDate};

use super::profile::PlatformId;
use super::{CustomerInput, CustomerService, Profile};
use crate::auth::Principal;
use crate::Result;

/// What importing a customers file did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomersImport {
    /// Customers created.
    pub created: u64,
    /// Customers updated (their id was stored).
    pub updated: u64,
    /// Rows refused, as (line, reason), in line order.
    pub errors: Vec<(u64, String)>,
}

impl CustomerService {
    /// Creates or updates a customer per row of `read` as `principal`
    /// (`owner` for rows without one); a row the service refuses becomes a
    /// line-numbered error and the rest go on. A `grade` column overrides
    /// the computed grade.
    ///
    /// # Errors
    ///
    /// Only what stops every row (the database); refused rows are errors
    /// in the outcome.
    pub async fn import_records(
        &self,
        principal: &Principal,
        read: &CustomersImported,
        owner: Option<&str>,
    ) -> Result<CustomersImport> {
        let mut out = CustomersImport {
            errors: read
                .errors
                .iter()
                .map(|e| (e.line, e.reason.clone()))
                .collect(),
            ..CustomersImport::default()
        };
        for r in &read.records {
            let input = input_of(r, owner);
            let now = kefu_store::now_ms();
            let exists = !input.id.is_empty() && self.store.customer(&input.id).await?.is_some();
            let result = if exists {
                self.update(principal, &input.id, &input, now).await
            } else {
                self.create(principal, &input, now).await
            };
            match result {
                Ok(view) => {
                    if exists {
                        out.updated += 1;
                    } else {
                        out.created += 1;
                    }
                    if let Some(g) = r.get("grade") {
                        if let Err(e) = self
                            .override_grade(principal, &view.id, Some(g), "导入 imported", now)
                            .await
                        {
                            out.errors.push((r.line, e.to_string()));
                        }
                    }
                }
                Err(e) => out.errors.push((r.line, e.to_string())),
            }
        }
        out.errors.sort_by_key(|e| e.0);
        Ok(out)
    }
}

/// A customer input from a file row.
pub fn input_of(r: &CustomerRecord, owner: Option<&str>) -> CustomerInput {
    let v = |k: &str| r.get(k).map(str::to_string);
    let mut platform_ids = Vec::new();
    for (col, kind) in [
        ("native_id", "native"),
        ("vendor_id", "vendor"),
        ("nick", "nick"),
    ] {
        if let Some(value) = v(col) {
            platform_ids.push(PlatformId {
                kind: kind.into(),
                value,
            });
        }
    }
    let remind = r.remind_days.unwrap_or(3);
    let mut dates = Vec::new();
    for (spec, calendar) in [(r.birthday, "solar"), (r.lunar_birthday, "lunar")] {
        if let Some(d) = spec {
            dates.push(ImportantDate {
                label: "生日".into(),
                calendar: calendar.into(),
                year: d.year,
                month: d.month,
                day: d.day,
                leap: d.leap,
                remind_days: remind,
            });
        }
    }
    CustomerInput {
        id: v("id").unwrap_or_default(),
        name: v("name").unwrap_or_default(),
        owner_id: v("owner").or_else(|| owner.map(str::to_string)),
        profile: Profile {
            title: v("title"),
            region: v("region"),
            company: v("company"),
            department: v("department"),
            contact: v("contact"),
            usage: v("usage"),
            needed_by: v("needed_by"),
            quantity: v("quantity"),
            budget: v("budget"),
            invoice: v("invoice"),
            gender: v("gender"),
            age_band: v("age_band"),
            preferred_channel: v("preferred_channel"),
            preferred_time: v("preferred_time"),
            id_number: v("id_number"),
            notes: v("notes"),
        },
        do_not_disturb: r.do_not_disturb,
        phones: r.phones.clone(),
        platform_ids,
        tags: r.tags.clone(),
        fields: r
            .extra
            .iter()
            .map(|(name, value)| CustomField {
                name: name.clone(),
                kind: "text".into(),
                value: value.clone(),
            })
            .collect(),
        purchases: Vec::new(),
        dates,
        version: None,
    }
}
