//! `GET/POST /admin/settings`: the settings admins tune — KPI targets, star
//! thresholds, the assessment scheme and sampling (`quality`), SLA targets
//! and business hours (`sla`), survey bands and the revisit delay
//! (`policy`).
//!
//! Each setting is edited through a form of typed fields: a refused value
//! is shown next to its field with the reason, in the page's language, and
//! nothing is saved while any field is refused. The service that owns the
//! setting validates the whole before it is stored. The JSON of each setting
//! stays available as an "advanced" editor (`json` field) for what the form
//! does not show (indicator sources, make-up periods, the quality time zone).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{NaiveDate, TimeDelta, Utc};
use kefu_service::complaint::ComplaintService;
use kefu_service::complaint::{Actor, ActorRole, ComplaintPolicy};
use kefu_service::kpi::{KpiService, QualitySettings, Target, KPI_KEYS};
use kefu_service::sla::{
    format_duration, parse_duration, parse_utc_offset, BusinessCalendar, CalendarSpec, HoursRange,
    SlaSettings, SlaTargets,
};

use super::i18n::{msg, Lang};
use super::page::{
    render_status, see_other, CsrfForm, Ctx, FormData, Page, PageResult, Section, WebError,
};
use crate::AppState;

/// How an input is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `<input type=number>`.
    Number,
    /// `<input type=text>`.
    Text,
    /// `<input type=checkbox>`.
    Check,
    /// `<select>` of target directions.
    Direction,
}

/// One typed field of a settings form.
struct Input {
    /// Form field name.
    name: String,
    /// Label, already in the page's language.
    label: String,
    /// Value shown (what was stored, or what was typed when refused).
    value: String,
    /// How it is shown.
    kind: Kind,
    /// `step` of a number input.
    step: &'static str,
    /// Why the value was refused, in the page's language.
    error: Option<String>,
}

impl Input {
    fn is_number(&self) -> bool {
        self.kind == Kind::Number
    }
    fn is_text(&self) -> bool {
        self.kind == Kind::Text
    }
    fn is_check(&self) -> bool {
        self.kind == Kind::Check
    }
    fn is_direction(&self) -> bool {
        self.kind == Kind::Direction
    }
    fn checked(&self) -> bool {
        self.value == "1"
    }
}

/// A titled group of inputs (a `<fieldset>`).
struct Group {
    /// Legend, in the page's language.
    title: String,
    /// Its inputs.
    inputs: Vec<Input>,
}

/// One editable setting.
struct Editor {
    /// `quality`, `sla` or `policy`.
    which: &'static str,
    /// Message key of its title.
    title: &'static str,
    /// Message key of what it holds.
    about: &'static str,
    /// The typed fields.
    groups: Vec<Group>,
    /// The JSON shown in the advanced editor.
    text: String,
    /// Why the last save was refused (not tied to one field).
    error: Option<String>,
    /// Whether the refused save came from the advanced editor (open it).
    json_open: bool,
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

/// The three settings as stored.
struct Current {
    quality: QualitySettings,
    sla: SlaSettings,
    policy: ComplaintPolicy,
}

async fn current(state: &AppState) -> Result<Current, WebError> {
    let quality = KpiService::new(state.store.clone()).settings().await?;
    let complaints = ComplaintService::new(state.store.clone());
    let sla = complaints.sla_settings().await?;
    let policy = complaints.complaint_policy().await?;
    Ok(Current {
        quality,
        sla,
        policy,
    })
}

// ---------------------------------------------------------------------------
// Showing settings as fields

/// Builds groups of inputs in one language.
struct Builder<'a> {
    ctx: &'a Ctx,
    groups: Vec<Group>,
}

impl<'a> Builder<'a> {
    fn new(ctx: &'a Ctx) -> Self {
        Builder {
            ctx,
            groups: Vec::new(),
        }
    }

    fn group(&mut self, title: String) {
        self.groups.push(Group {
            title,
            inputs: Vec::new(),
        });
    }

    fn push(&mut self, name: String, label: String, value: String, kind: Kind, step: &'static str) {
        if self.groups.is_empty() {
            self.group(String::new());
        }
        if let Some(g) = self.groups.last_mut() {
            g.inputs.push(Input {
                name,
                label,
                value,
                kind,
                step,
                error: None,
            });
        }
    }

    fn int(&mut self, name: &str, key: &str, v: i64) {
        let label = self.ctx.t(key).to_string();
        self.push(name.into(), label, v.to_string(), Kind::Number, "1");
    }

    fn num(&mut self, name: &str, label: String, v: Option<f64>) {
        let value = v.map(|v| v.to_string()).unwrap_or_default();
        self.push(name.into(), label, value, Kind::Number, "any");
    }

    fn text(&mut self, name: &str, label: String, value: String) {
        self.push(name.into(), label, value, Kind::Text, "");
    }

    fn check(&mut self, name: &str, key: &str, on: bool) {
        let label = self.ctx.t(key).to_string();
        let value = if on { "1" } else { "" }.to_string();
        self.push(name.into(), label, value, Kind::Check, "");
    }

    /// After a refused save: shows what was typed and why it was refused.
    fn finish(mut self, form: Option<(&FormData, &BTreeMap<String, String>)>) -> Vec<Group> {
        if let Some((form, errors)) = form {
            for input in self.groups.iter_mut().flat_map(|g| g.inputs.iter_mut()) {
                input.value = match input.kind {
                    Kind::Check => if form.checked(&input.name) { "1" } else { "" }.to_string(),
                    _ => form.raw(&input.name).to_string(),
                };
                input.error = errors.get(&input.name).cloned();
            }
        }
        self.groups
    }
}

fn kpi_name(lang: Lang, key: &str) -> String {
    KPI_KEYS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => zh.to_string(),
            Lang::En => en.to_string(),
        })
        .unwrap_or_else(|| key.to_string())
}

/// The KPIs a target can be set for: those with a target now, then the
/// rates and averages a centre usually targets.
fn target_keys(s: &QualitySettings) -> Vec<String> {
    let mut keys: Vec<String> = KPI_KEYS
        .iter()
        .map(|(k, _, _)| k.to_string())
        .filter(|k| {
            !matches!(
                k.as_str(),
                "offered" | "answered" | "reviewed" | "complaints"
            )
        })
        .collect();
    for k in s.targets.keys() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

fn quality_groups<'a>(ctx: &'a Ctx, s: &QualitySettings) -> Builder<'a> {
    let mut b = Builder::new(ctx);
    b.group(ctx.t("settings.f.general").to_string());
    b.int(
        "answer_within_s",
        "settings.f.answer_within_s",
        s.answer_within_s,
    );
    b.group(ctx.t("settings.f.targets").to_string());
    for key in target_keys(s) {
        let (dir, value) = match s.targets.get(&key) {
            Some(Target::AtLeast(v)) => ("at_least", Some(*v)),
            Some(Target::AtMost(v)) => ("at_most", Some(*v)),
            None => ("", None),
        };
        let name = kpi_name(ctx.lang, &key);
        b.push(
            format!("target.{key}.dir"),
            name.clone(),
            dir.to_string(),
            Kind::Direction,
            "",
        );
        b.num(
            &format!("target.{key}.value"),
            ctx.t1("settings.f.target_value", &name),
            value,
        );
    }
    b.group(ctx.t("settings.f.stars").to_string());
    b.int(
        "stars.min_conversations",
        "settings.f.min_conversations",
        s.stars.min_conversations,
    );
    b.int(
        "stars.max_stars_with_veto",
        "settings.f.max_stars_with_veto",
        i64::from(s.stars.max_stars_with_veto),
    );
    for (i, l) in s.stars.levels.iter().enumerate() {
        b.group(ctx.t1("settings.f.level", l.stars));
        for (field, key, v) in [
            ("quality_min", "settings.f.quality_min", l.quality_min),
            (
                "satisfaction_min",
                "settings.f.satisfaction_min",
                l.satisfaction_min,
            ),
            ("response_min", "settings.f.response_min", l.response_min),
            ("error_max", "settings.f.error_max", l.error_max),
            (
                "resolution_min",
                "settings.f.resolution_min",
                l.resolution_min,
            ),
        ] {
            b.num(&format!("level.{i}.{field}"), ctx.t(key).to_string(), v);
        }
    }
    b.group(ctx.t("settings.f.assessment").to_string());
    for (i, ind) in s.assessment.indicators.iter().enumerate() {
        let name = match ctx.lang {
            Lang::Zh => &ind.name,
            Lang::En => &ind.name_en,
        };
        b.num(
            &format!("indicator.{i}.weight"),
            ctx.t1("settings.f.weight", name),
            Some(ind.weight),
        );
    }
    let a = &s.assessment;
    b.num(
        "assessment.reward_min",
        ctx.t("settings.f.reward_min").to_string(),
        Some(a.reward_min),
    );
    b.num(
        "assessment.reward_top_share",
        ctx.t("settings.f.reward_top_share").to_string(),
        Some(a.reward_top_share),
    );
    b.num(
        "assessment.coaching_below",
        ctx.t("settings.f.coaching_below").to_string(),
        Some(a.coaching_below),
    );
    b.int(
        "assessment.min_conversations",
        "settings.f.min_conversations",
        a.min_conversations,
    );
    b.group(ctx.t("settings.f.sampling").to_string());
    b.num(
        "sampling.rate",
        ctx.t("settings.f.sampling_rate").to_string(),
        Some(s.sampling.rate),
    );
    b.text(
        "sampling.seed",
        ctx.t("settings.f.sampling_seed").to_string(),
        s.sampling.seed.clone(),
    );
    b
}

fn duration_text(d: Option<TimeDelta>) -> String {
    d.map(format_duration).unwrap_or_default()
}

fn periods_text(p: &[HoursRange]) -> String {
    p.iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn dates_text(d: &BTreeSet<NaiveDate>) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekday_periods<'s>(spec: &'s CalendarSpec, day: &str) -> &'s [HoursRange] {
    match day {
        "mon" => &spec.mon,
        "tue" => &spec.tue,
        "wed" => &spec.wed,
        "thu" => &spec.thu,
        "fri" => &spec.fri,
        "sat" => &spec.sat,
        _ => &spec.sun,
    }
}

fn sla_groups<'a>(ctx: &'a Ctx, s: &SlaSettings) -> Builder<'a> {
    let mut b = Builder::new(ctx);
    let p = &s.policy;
    b.group(ctx.t("settings.f.sla_targets").to_string());
    b.text(
        "first_reply",
        ctx.t("settings.f.first_reply").to_string(),
        duration_text(p.first_reply),
    );
    b.text(
        "resolution",
        ctx.t("settings.f.resolution").to_string(),
        duration_text(p.resolution),
    );
    b.num(
        "near_breach_ratio",
        ctx.t("settings.f.near_breach_ratio").to_string(),
        Some(p.near_breach_ratio),
    );
    b.check(
        "special_standard",
        "settings.f.special_standard",
        p.special.is_none(),
    );
    b.text(
        "special.first_reply",
        ctx.t("settings.f.special_first_reply").to_string(),
        duration_text(p.special.and_then(|t| t.first_reply)),
    );
    b.text(
        "special.resolution",
        ctx.t("settings.f.special_resolution").to_string(),
        duration_text(p.special.and_then(|t| t.resolution)),
    );
    b.group(ctx.t("settings.f.hours").to_string());
    b.check(
        "business_hours",
        "settings.f.business_hours",
        p.business_hours,
    );
    let spec = CalendarSpec::from(s.calendar.clone());
    b.text(
        "utc_offset",
        ctx.t("settings.f.utc_offset").to_string(),
        spec.utc_offset.clone(),
    );
    b.check("always_open", "settings.f.always_open", spec.always_open);
    for day in WEEKDAYS {
        b.text(
            &format!("day.{day}"),
            ctx.t(&format!("settings.day.{day}")).to_string(),
            periods_text(weekday_periods(&spec, day)),
        );
    }
    b.text(
        "holidays",
        ctx.t("settings.f.holidays").to_string(),
        dates_text(&spec.holidays),
    );
    b.text(
        "workdays",
        ctx.t("settings.f.workdays").to_string(),
        dates_text(&spec.workdays),
    );
    b.check(
        "builtin_holidays",
        "settings.f.builtin_holidays",
        s.builtin_holidays,
    );
    b
}

fn policy_groups<'a>(ctx: &'a Ctx, p: &ComplaintPolicy) -> Builder<'a> {
    let mut b = Builder::new(ctx);
    b.group(ctx.t("settings.f.bands").to_string());
    b.int(
        "unsatisfied_max",
        "settings.f.unsatisfied_max",
        i64::from(p.bands.unsatisfied_max),
    );
    b.int(
        "neutral_max",
        "settings.f.neutral_max",
        i64::from(p.bands.neutral_max),
    );
    b.group(ctx.t("settings.f.revisit").to_string());
    b.int(
        "revisit_days",
        "settings.f.revisit_days",
        i64::from(p.revisit_days),
    );
    b
}

// ---------------------------------------------------------------------------
// Reading the fields back

/// Reads typed fields, collecting a reason per refused field.
struct Reader<'a> {
    form: &'a FormData,
    ctx: &'a Ctx,
    errors: BTreeMap<String, String>,
}

impl<'a> Reader<'a> {
    fn new(form: &'a FormData, ctx: &'a Ctx) -> Self {
        Reader {
            form,
            ctx,
            errors: BTreeMap::new(),
        }
    }

    fn refuse(&mut self, name: &str, reason: String) {
        self.errors.entry(name.to_string()).or_insert(reason);
    }

    /// A whole number in `min..=max`.
    fn int(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        match self.form.get(name).map(str::parse::<i64>) {
            Some(Ok(v)) if (min..=max).contains(&v) => Some(v),
            _ => {
                let reason = self.ctx.t1("settings.err.int", format!("{min}–{max}"));
                self.refuse(name, reason);
                None
            }
        }
    }

    /// A number in `min..=max`; blank is `Some(None)` when `optional`.
    fn num(&mut self, name: &str, min: f64, max: f64, optional: bool) -> Option<Option<f64>> {
        let range = if max == f64::MAX {
            format!("≥ {min}")
        } else {
            format!("{min}–{max}")
        };
        match self.form.get(name) {
            None if optional => Some(None),
            None => {
                let reason = self.ctx.t1("settings.err.number", range);
                self.refuse(name, reason);
                None
            }
            Some(text) => match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= min && v <= max => Some(Some(v)),
                _ => {
                    let reason = self.ctx.t1("settings.err.number", range);
                    self.refuse(name, reason);
                    None
                }
            },
        }
    }

    /// A positive number (weights).
    fn positive(&mut self, name: &str) -> Option<f64> {
        match self.form.get(name).map(str::parse::<f64>) {
            Some(Ok(v)) if v.is_finite() && v > 0.0 => Some(v),
            _ => {
                let reason = self.ctx.t("settings.err.positive").to_string();
                self.refuse(name, reason);
                None
            }
        }
    }

    /// Text that must not be blank.
    fn required(&mut self, name: &str) -> Option<String> {
        match self.form.get(name) {
            Some(v) => Some(v.to_string()),
            None => {
                let reason = self.ctx.t("settings.err.required").to_string();
                self.refuse(name, reason);
                None
            }
        }
    }

    /// A duration (`12h`, `1h30m`); blank or `none` is no target.
    fn duration(&mut self, name: &str) -> Option<Option<TimeDelta>> {
        match self.form.get(name) {
            None => Some(None),
            Some(t) if t.eq_ignore_ascii_case("none") => Some(None),
            Some(t) => match parse_duration(t) {
                Ok(d) => Some(Some(d)),
                Err(_) => {
                    let reason = self.ctx.t("settings.err.duration").to_string();
                    self.refuse(name, reason);
                    None
                }
            },
        }
    }

    /// Periods `09:00-12:00, 13:30-18:00`; blank is a day off.
    fn periods(&mut self, name: &str) -> Option<Vec<HoursRange>> {
        let mut out = Vec::new();
        for part in self.form.raw(name).split([',', '，', ';', '；']) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            match part.parse::<HoursRange>() {
                Ok(r) => out.push(r),
                Err(_) => {
                    let reason = self.ctx.t1("settings.err.period", part);
                    self.refuse(name, reason);
                    return None;
                }
            }
        }
        out.sort();
        if out.windows(2).any(|w| w[1].start() < w[0].end()) {
            let reason = self.ctx.t("settings.err.overlap").to_string();
            self.refuse(name, reason);
            return None;
        }
        Some(out)
    }

    /// Dates `2026-10-01, 2026-10-02`.
    fn dates(&mut self, name: &str) -> Option<BTreeSet<NaiveDate>> {
        let mut out = BTreeSet::new();
        for part in self.form.raw(name).split([',', '，', ';', '；', ' ', '\n']) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            match NaiveDate::parse_from_str(part, "%Y-%m-%d") {
                Ok(d) => {
                    out.insert(d);
                }
                Err(_) => {
                    let reason = self.ctx.t1("settings.err.date", part);
                    self.refuse(name, reason);
                    return None;
                }
            }
        }
        Some(out)
    }

    /// `Ok` when no field was refused.
    fn done<T>(self, value: Option<T>) -> Result<T, BTreeMap<String, String>> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(self.errors),
        }
    }
}

fn read_quality(r: &mut Reader<'_>, base: &QualitySettings) -> Option<QualitySettings> {
    let mut s = base.clone();
    let answer = r.int("answer_within_s", 1, 3600);
    let mut targets = BTreeMap::new();
    for key in target_keys(base) {
        let dir_name = format!("target.{key}.dir");
        let value_name = format!("target.{key}.value");
        let dir = r.form.text(&dir_name);
        if dir.is_empty() {
            continue;
        }
        // Rates and shares are 0–1; counts, seconds and scores at least 0.
        let max = if key.ends_with("_rate") || key.ends_with("_share") {
            1.0
        } else {
            f64::MAX
        };
        let Some(Some(v)) = r.num(&value_name, 0.0, max, false) else {
            continue;
        };
        match dir.as_str() {
            "at_least" => {
                targets.insert(key, Target::AtLeast(v));
            }
            "at_most" => {
                targets.insert(key, Target::AtMost(v));
            }
            _ => {
                let reason = r.ctx.t("settings.err.direction").to_string();
                r.refuse(&dir_name, reason);
            }
        }
    }
    s.targets = targets;
    let min_c = r.int("stars.min_conversations", 1, 1_000_000);
    let veto = r.int("stars.max_stars_with_veto", 1, 5);
    for (i, level) in s.stars.levels.iter_mut().enumerate() {
        let field = |r: &mut Reader<'_>, f: &str, max: f64| {
            r.num(&format!("level.{i}.{f}"), 0.0, max, true).flatten()
        };
        level.quality_min = field(r, "quality_min", 100.0);
        level.satisfaction_min = field(r, "satisfaction_min", 1.0);
        level.response_min = field(r, "response_min", 1.0);
        level.error_max = field(r, "error_max", 1.0);
        level.resolution_min = field(r, "resolution_min", 1.0);
    }
    for (i, ind) in s.assessment.indicators.iter_mut().enumerate() {
        if let Some(w) = r.positive(&format!("indicator.{i}.weight")) {
            ind.weight = w;
        }
    }
    let reward_min = r.num("assessment.reward_min", 0.0, 100.0, false).flatten();
    let top = r
        .num("assessment.reward_top_share", 0.0, 1.0, false)
        .flatten();
    let coaching = r
        .num("assessment.coaching_below", 0.0, 100.0, false)
        .flatten();
    let a_min = r.int("assessment.min_conversations", 1, 1_000_000);
    let rate = r.num("sampling.rate", 0.0, 1.0, false).flatten();
    let seed = r.required("sampling.seed");
    s.answer_within_s = answer?;
    s.stars.min_conversations = min_c?;
    s.stars.max_stars_with_veto = u8::try_from(veto?).ok()?;
    s.assessment.reward_min = reward_min?;
    s.assessment.reward_top_share = top?;
    s.assessment.coaching_below = coaching?;
    s.assessment.min_conversations = a_min?;
    s.sampling.rate = rate?;
    s.sampling.seed = seed?;
    Some(s)
}

fn read_sla(r: &mut Reader<'_>, base: &SlaSettings) -> Option<SlaSettings> {
    let mut s = base.clone();
    let first = r.duration("first_reply");
    let resolution = r.duration("resolution");
    let ratio = r.num("near_breach_ratio", 0.0, 1.0, false).flatten();
    let standard = r.form.checked("special_standard");
    let special_first = r.duration("special.first_reply");
    let special_resolution = r.duration("special.resolution");
    let business_hours = r.form.checked("business_hours");
    let always_open = r.form.checked("always_open");
    let offset = r.form.text("utc_offset");
    if parse_utc_offset(&offset).is_err() {
        let reason = r.ctx.t("settings.err.offset").to_string();
        r.refuse("utc_offset", reason);
    }
    let mut spec = CalendarSpec::from(base.calendar.clone());
    let mut week = Vec::new();
    for day in WEEKDAYS {
        week.push(r.periods(&format!("day.{day}")));
    }
    let holidays = r.dates("holidays");
    let workdays = r.dates("workdays");
    if let (Some(h), Some(w)) = (&holidays, &workdays) {
        if let Some(d) = h.intersection(w).next() {
            let reason = r.ctx.t1("settings.err.both_days", d);
            r.refuse("workdays", reason);
        }
    }
    let any_hours = week.iter().flatten().any(|p| !p.is_empty());
    if always_open && any_hours {
        let reason = r.ctx.t("settings.err.always_open_hours").to_string();
        r.refuse("always_open", reason);
    }
    if !always_open && !any_hours && week.iter().all(Option::is_some) {
        let reason = r.ctx.t("settings.err.no_hours").to_string();
        r.refuse("day.mon", reason);
    }
    if business_hours && always_open {
        let reason = r.ctx.t("settings.err.business_hours").to_string();
        r.refuse("business_hours", reason);
    }
    s.policy.first_reply = first?;
    s.policy.resolution = resolution?;
    s.policy.near_breach_ratio = ratio?;
    s.policy.special = if standard {
        None
    } else {
        Some(SlaTargets {
            first_reply: special_first?,
            resolution: special_resolution?,
        })
    };
    s.policy.business_hours = business_hours;
    s.builtin_holidays = r.form.checked("builtin_holidays");
    spec.utc_offset = offset;
    spec.always_open = always_open;
    let mut days = week.into_iter();
    for slot in [
        &mut spec.mon,
        &mut spec.tue,
        &mut spec.wed,
        &mut spec.thu,
        &mut spec.fri,
        &mut spec.sat,
        &mut spec.sun,
    ] {
        *slot = days.next().flatten()?;
    }
    if always_open {
        spec.makeup = None;
    }
    spec.holidays = holidays?;
    spec.workdays = workdays?;
    match BusinessCalendar::try_from(spec) {
        Ok(cal) => s.calendar = cal,
        Err(e) => {
            // Left for what the fields above do not check one by one.
            r.refuse("day.mon", e.to_string());
            return None;
        }
    }
    Some(s)
}

fn read_policy(r: &mut Reader<'_>, base: &ComplaintPolicy) -> Option<ComplaintPolicy> {
    let mut p = *base;
    let unsatisfied = r.int("unsatisfied_max", 0, 9);
    let neutral = r.int("neutral_max", 0, 9);
    let days = r.int("revisit_days", 1, 365);
    if let (Some(u), Some(n)) = (unsatisfied, neutral) {
        if n < u {
            let reason = r.ctx.t("settings.err.bands").to_string();
            r.refuse("neutral_max", reason);
        }
    }
    p.bands.unsatisfied_max = u8::try_from(unsatisfied?).ok()?;
    p.bands.neutral_max = u8::try_from(neutral?).ok()?;
    p.revisit_days = u32::try_from(days?).ok()?;
    Some(p)
}

// ---------------------------------------------------------------------------
// Pages

/// A refused save, shown on its editor.
struct Refused<'a> {
    which: &'a str,
    form: &'a FormData,
    errors: BTreeMap<String, String>,
    general: Option<String>,
    json: bool,
}

fn editors(ctx: &Ctx, cur: &Current, refused: Option<&Refused<'_>>) -> Vec<Editor> {
    let setups: [(
        &'static str,
        &'static str,
        &'static str,
        Builder<'_>,
        String,
    ); 3] = [
        (
            "quality",
            msg("settings.quality"),
            msg("settings.quality_about"),
            quality_groups(ctx, &cur.quality),
            pretty(&cur.quality),
        ),
        (
            "sla",
            msg("settings.sla"),
            msg("settings.sla_about"),
            sla_groups(ctx, &cur.sla),
            pretty(&cur.sla),
        ),
        (
            "policy",
            msg("settings.policy"),
            msg("settings.policy_about"),
            policy_groups(ctx, &cur.policy),
            pretty(&cur.policy),
        ),
    ];
    setups
        .into_iter()
        .map(|(which, title, about, builder, json)| {
            let mine = refused.filter(|r| r.which == which);
            let (groups, text, error, json_open) = match mine {
                Some(r) if r.json => (
                    builder.finish(None),
                    r.form.raw("json").to_string(),
                    r.general.clone(),
                    true,
                ),
                Some(r) => (
                    builder.finish(Some((r.form, &r.errors))),
                    json,
                    r.general.clone(),
                    false,
                ),
                None => (builder.finish(None), json, None, false),
            };
            Editor {
                which,
                title,
                about,
                groups,
                text,
                error,
                json_open,
            }
        })
        .collect()
}

/// `GET /admin/settings`.
pub(super) async fn page(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Admin)?;
    let ctx = page.ctx(Some(Section::Admin), msg("settings.title"));
    let cur = current(&state).await?;
    render_status(
        StatusCode::OK,
        &SettingsPage {
            editors: editors(&ctx, &cur, None),
            ctx,
        },
    )
}

/// What a save made of the form: the settings to store, or why not.
enum Parsed<T> {
    Ok(T),
    Fields(BTreeMap<String, String>),
    General(String),
}

fn from_fields<T>(
    form: &FormData,
    ctx: &Ctx,
    read: impl FnOnce(&mut Reader<'_>) -> Option<T>,
) -> Parsed<T> {
    let mut r = Reader::new(form, ctx);
    let value = read(&mut r);
    match r.done(value) {
        Ok(v) => Parsed::Ok(v),
        Err(errors) if errors.is_empty() => {
            Parsed::General(ctx.t("settings.err.generic").to_string())
        }
        Err(errors) => Parsed::Fields(errors),
    }
}

fn from_json<T: serde::de::DeserializeOwned>(ctx: &Ctx, text: &str) -> Parsed<T> {
    match serde_json::from_str::<T>(text) {
        Ok(v) => Parsed::Ok(v),
        Err(e) => Parsed::General(ctx.t1("settings.err.json", e)),
    }
}

/// `POST /admin/settings`: saves one setting (`which`) from its fields, or
/// from its JSON when the advanced editor sent one (`json`).
pub(super) async fn save(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Admin)?;
    let ctx = page.ctx(Some(Section::Admin), msg("settings.title"));
    let which: &'static str = match form.text("which").as_str() {
        "quality" => "quality",
        "sla" => "sla",
        "policy" => "policy",
        _ => return Err(WebError::BadRequest("which".into())),
    };
    let json = form.pairs().iter().any(|(k, _)| k == "json");
    let text = form.raw("json");
    let by = page.user.id().to_string();
    let actor = Actor::new(by.clone(), ActorRole::Admin);
    let cur = current(&state).await?;
    let refusal: Option<Parsed<()>> = match which {
        "quality" => {
            let parsed = if json {
                from_json::<QualitySettings>(&ctx, text)
            } else {
                from_fields(&form, &ctx, |r| read_quality(r, &cur.quality))
            };
            match parsed {
                Parsed::Ok(s) => KpiService::new(state.store.clone())
                    .set_settings(&s, &by, Utc::now().timestamp_millis())
                    .await
                    .err()
                    .map(|e| Parsed::General(e.to_string())),
                Parsed::Fields(f) => Some(Parsed::Fields(f)),
                Parsed::General(g) => Some(Parsed::General(g)),
            }
        }
        "sla" => {
            let parsed = if json {
                from_json::<SlaSettings>(&ctx, text)
            } else {
                from_fields(&form, &ctx, |r| read_sla(r, &cur.sla))
            };
            match parsed {
                Parsed::Ok(s) => ComplaintService::new(state.store.clone())
                    .set_sla_settings(s, &actor, Utc::now())
                    .await
                    .err()
                    .map(|e| Parsed::General(e.to_string())),
                Parsed::Fields(f) => Some(Parsed::Fields(f)),
                Parsed::General(g) => Some(Parsed::General(g)),
            }
        }
        _ => {
            let parsed = if json {
                from_json::<ComplaintPolicy>(&ctx, text)
            } else {
                from_fields(&form, &ctx, |r| read_policy(r, &cur.policy))
            };
            match parsed {
                Parsed::Ok(p) => ComplaintService::new(state.store.clone())
                    .set_complaint_policy(p, &actor, Utc::now())
                    .await
                    .err()
                    .map(|e| Parsed::General(e.to_string())),
                Parsed::Fields(f) => Some(Parsed::Fields(f)),
                Parsed::General(g) => Some(Parsed::General(g)),
            }
        }
    };
    let Some(refusal) = refusal else {
        return Ok(see_other(&format!("/admin/settings?done=saved#{which}")));
    };
    let (errors, general) = match refusal {
        Parsed::Fields(f) => (f, Some(ctx.t("settings.err.fields").to_string())),
        Parsed::General(g) => (BTreeMap::new(), Some(g)),
        Parsed::Ok(()) => (BTreeMap::new(), None),
    };
    let refused = Refused {
        which,
        form: &form,
        errors,
        general,
        json,
    };
    // 200 with the reasons beside the fields (as the other forms of the
    // dashboard do): the browser treats a 4xx page as broken.
    render_status(
        StatusCode::OK,
        &SettingsPage {
            editors: editors(&ctx, &cur, Some(&refused)),
            ctx,
        },
    )
}
