//! Mystery customers (神秘客户) on the dashboard: plans (list, new, the
//! plan page with its shops and the record-shop form), score sheets (a
//! JSON/TOML editor), the review queue, agents' results and the agreement
//! report with inspection. Agents reach only the results page, which
//! shows their own approved shops: plans stay hidden from them. Every rule
//! is [`MysteryService`]'s.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use kefu_service::auth::Role;
use kefu_service::mystery::{
    Decision, ItemResult, MysteryService, NewPlan, NewShop, PlanState, SheetInput, ShopFilter,
    ShopState, TargetKind, Verdict,
};

use super::html;
use super::i18n::msg;
use super::page::{
    parse_period, render, see_other, CsrfForm, Ctx, Page, PageResult, Section, WebError,
};
use super::urls;
use crate::AppState;

fn service(state: &AppState) -> MysteryService {
    MysteryService::new(state.store.clone())
}

fn staff_only(page: &Page) -> Result<(), WebError> {
    page.user.require(Section::Mystery)?;
    if page.user.role() == Role::Agent {
        return Err(WebError::Forbidden);
    }
    Ok(())
}

fn plan_state_label(ctx: &Ctx, s: PlanState) -> String {
    ctx.t(&format!("ms.plan_state.{}", s.as_str())).to_string()
}

fn shop_state_label(ctx: &Ctx, s: ShopState) -> String {
    ctx.t(&format!("ms.shop_state.{}", s.as_str())).to_string()
}

fn verdict_label(ctx: &Ctx, v: Verdict) -> String {
    ctx.t(&format!("ms.verdict.{}", v.as_str())).to_string()
}

/// Message keys this module builds at run time.
#[cfg(test)]
pub(crate) fn dynamic_keys() -> Vec<String> {
    let mut keys: Vec<String> = PlanState::ALL
        .iter()
        .map(|s| format!("ms.plan_state.{}", s.as_str()))
        .collect();
    keys.extend(
        ShopState::ALL
            .iter()
            .map(|s| format!("ms.shop_state.{}", s.as_str())),
    );
    keys.extend(
        Verdict::ALL
            .iter()
            .map(|v| format!("ms.verdict.{}", v.as_str())),
    );
    keys.extend(
        TargetKind::ALL
            .iter()
            .map(|k| format!("ms.target.{}", k.as_str())),
    );
    keys
}

/// A time typed in a form: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` or the
/// browser's `YYYY-MM-DDTHH:MM`, China time when no offset.
fn form_time(name: &str, v: &str) -> Result<i64, WebError> {
    kefu_engine::lenient::parse_time(v)
        .or_else(|| kefu_engine::lenient::parse_time(&v.replacen('T', " ", 1)))
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| WebError::Invalid(format!("{name}: not a time: {v}")))
}

/// `2026-11-05T10:00` in China time, for `datetime-local` inputs.
fn input_time(ms: i64) -> String {
    html::fmt_ms(ms).replacen(' ', "T", 1)
}

/// A plan in the list.
struct PlanRow {
    id: String,
    href: String,
    title: String,
    state: &'static str,
    state_label: String,
    target: String,
    channel: String,
    window: String,
    sheet: String,
}

#[derive(askama::Template)]
#[template(path = "mystery_plans.html")]
struct PlansPage {
    ctx: Ctx,
    rows: Vec<PlanRow>,
    manager: bool,
    sheets: Vec<String>,
    default_from: String,
    default_to: String,
}

/// `GET /mystery`: plans and the new-plan form (staff); agents go to
/// their results.
pub(super) async fn plans(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Mystery)?;
    if page.user.role() == Role::Agent {
        return Ok(see_other("/mystery/results"));
    }
    let ctx = page.ctx(Some(Section::Mystery), msg("ms.plans_title"));
    let svc = service(&state);
    let p = &page.user.principal;
    let rows = svc
        .plans(p, &[])
        .await?
        .into_iter()
        .map(|pl| PlanRow {
            href: urls::mystery_plan(&pl.id),
            state: pl.state.as_str(),
            state_label: plan_state_label(&ctx, pl.state),
            target: format!(
                "{} {}",
                ctx.t(&format!("ms.target.{}", pl.target_kind.as_str())),
                pl.target
            ),
            channel: pl.channel,
            window: format!(
                "{} – {}",
                html::fmt_ms(pl.window_from),
                html::fmt_ms(pl.window_to)
            ),
            sheet: format!("{} v{}", pl.sheet_id, pl.sheet_version),
            title: pl.title,
            id: pl.id,
        })
        .collect();
    let sheets = svc.sheets(p).await?.into_iter().map(|s| s.id).collect();
    let now = kefu_store::now_ms();
    render(&PlansPage {
        rows,
        manager: matches!(page.user.role(), Role::Supervisor | Role::Admin),
        sheets,
        default_from: input_time(now),
        default_to: input_time(now + 14 * 86_400_000),
        ctx,
    })
}

/// `POST /mystery/plans`: create a plan (a draft), then its page.
pub(super) async fn create_plan(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    staff_only(&page)?;
    let target_kind = form
        .text("target_kind")
        .parse::<TargetKind>()
        .map_err(|e| WebError::BadRequest(e.message().to_string()))?;
    let input = NewPlan {
        title: form.text("title"),
        scenario: form.text("scenario"),
        persona: form.text("persona"),
        script: form.text("script"),
        target_kind,
        target: form.text("target"),
        channel: form.text("channel"),
        window_from: form_time("window_from", &form.text("window_from"))?,
        window_to: form_time("window_to", &form.text("window_to"))?,
        sheet_id: form.text("sheet_id"),
    };
    let plan = service(&state)
        .create_plan(&page.user.principal, &input, kefu_store::now_ms())
        .await?;
    Ok(see_other(&urls::mystery_plan(&plan.id)))
}

/// An item of the record form.
struct FormItem {
    section: String,
    id: String,
    text: String,
    weight: String,
    critical: bool,
    rule: String,
}

/// A shop in a list.
struct ShopRow {
    id: String,
    href: String,
    state: &'static str,
    state_label: String,
    shopped: String,
    agent: String,
    conversation: Option<(String, String)>,
    score: String,
    critical_failed: bool,
    shopper: String,
    previous: String,
    reason: String,
    /// (plan page, plan id).
    plan: (String, String),
    /// (item text, verdict label, verdict name, note).
    verdicts: Vec<(String, String, &'static str, String)>,
    version: i64,
}

#[derive(askama::Template)]
#[template(path = "mystery_plan.html")]
struct PlanPage {
    ctx: Ctx,
    id: String,
    plan_href: String,
    version: i64,
    title: String,
    state: &'static str,
    state_label: String,
    scenario: String,
    persona: String,
    script: String,
    target: String,
    channel: String,
    window: String,
    sheet: String,
    can_activate: bool,
    can_close: bool,
    active: bool,
    items: Vec<FormItem>,
    shops: Vec<ShopRow>,
    reshoppable: Vec<String>,
    default_time: String,
    reshop: String,
    saved: bool,
}

fn shop_rows(
    ctx: &Ctx,
    shops: &[kefu_service::mystery::Shop],
    texts: &std::collections::HashMap<String, String>,
) -> Vec<ShopRow> {
    shops
        .iter()
        .map(|s| ShopRow {
            id: s.id.clone(),
            href: urls::mystery_shop(&s.id),
            state: s.state.as_str(),
            state_label: shop_state_label(ctx, s.state),
            shopped: html::fmt_ms(s.shopped_at),
            agent: s.agent_id.clone().unwrap_or_default(),
            conversation: s
                .conversation_id
                .as_ref()
                .map(|c| (urls::conversation(c), c.clone())),
            score: html::num(s.score),
            critical_failed: s.critical_failed,
            shopper: match &s.shopper_name {
                Some(n) => format!("{n} ({})", s.shopper_id),
                None => s.shopper_id.clone(),
            },
            previous: s.previous_id.clone().unwrap_or_default(),
            reason: s.return_reason.clone().unwrap_or_default(),
            plan: (urls::mystery_plan(&s.plan_id), s.plan_id.clone()),
            verdicts: s
                .results
                .iter()
                .map(|r| {
                    (
                        texts
                            .get(&r.item)
                            .cloned()
                            .unwrap_or_else(|| r.item.clone()),
                        verdict_label(ctx, r.verdict),
                        r.verdict.as_str(),
                        r.note.clone().unwrap_or_default(),
                    )
                })
                .collect(),
            version: s.version,
        })
        .collect()
}

/// Item texts of the sheets the shops used, by item id.
async fn item_texts(
    svc: &MysteryService,
    p: &kefu_service::auth::Principal,
    shops: &[kefu_service::mystery::Shop],
) -> Result<std::collections::HashMap<String, String>, WebError> {
    let mut out = std::collections::HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for s in shops {
        if seen.insert((s.sheet_id.clone(), s.sheet_version)) {
            let sheet = svc.sheet(p, &s.sheet_id, Some(s.sheet_version)).await?;
            for i in sheet.items() {
                out.insert(i.id.clone(), i.text.clone());
            }
        }
    }
    Ok(out)
}

/// `GET /mystery/plans/{id}`: the plan, its shops and the record form.
pub(super) async fn plan(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> PageResult {
    staff_only(&page)?;
    let ctx = page.ctx(Some(Section::Mystery), msg("ms.plan_title"));
    let svc = service(&state);
    let p = &page.user.principal;
    let pl = svc.plan(p, &id).await?;
    let sheet = svc.sheet(p, &pl.sheet_id, Some(pl.sheet_version)).await?;
    let items = sheet
        .sections
        .iter()
        .flat_map(|s| {
            s.items.iter().map(|i| FormItem {
                section: s.title.clone(),
                id: i.id.clone(),
                text: i.text.clone(),
                weight: html::num(i.weight),
                critical: i.critical,
                rule: i.rule.clone().unwrap_or_default(),
            })
        })
        .collect();
    let shops = svc
        .shops(
            p,
            &ShopFilter {
                plan_id: Some(id.clone()),
                ..ShopFilter::default()
            },
        )
        .await?;
    let redone: std::collections::HashSet<&str> = shops
        .iter()
        .filter_map(|s| s.previous_id.as_deref())
        .collect();
    let reshoppable = shops
        .iter()
        .filter(|s| s.state != ShopState::Submitted && !redone.contains(s.id.as_str()))
        .map(|s| s.id.clone())
        .collect();
    let texts = item_texts(&svc, p, &shops).await?;
    let manager = matches!(page.user.role(), Role::Supervisor | Role::Admin);
    render(&PlanPage {
        id: pl.id.clone(),
        plan_href: urls::mystery_plan(&pl.id),
        version: pl.version,
        title: pl.title.clone(),
        state: pl.state.as_str(),
        state_label: plan_state_label(&ctx, pl.state),
        scenario: pl.scenario.clone(),
        persona: pl.persona.clone(),
        script: pl.script.clone(),
        target: format!(
            "{} {}",
            ctx.t(&format!("ms.target.{}", pl.target_kind.as_str())),
            pl.target
        ),
        channel: pl.channel.clone(),
        window: format!(
            "{} – {}",
            html::fmt_ms(pl.window_from),
            html::fmt_ms(pl.window_to)
        ),
        sheet: format!("{} v{}", sheet.name, sheet.version),
        can_activate: manager && pl.state == PlanState::Draft,
        can_close: manager && pl.state != PlanState::Closed,
        active: pl.state == PlanState::Active,
        items,
        shops: shop_rows(&ctx, &shops, &texts),
        reshoppable,
        default_time: input_time(kefu_store::now_ms().clamp(pl.window_from, pl.window_to)),
        reshop: page.param("reshop").unwrap_or_default().to_string(),
        saved: page.param("done") == Some("saved"),
        ctx,
    })
}

/// `POST /mystery/plans/{id}/state`: activate or close.
pub(super) async fn plan_state(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    staff_only(&page)?;
    let to = form
        .text("state")
        .parse::<PlanState>()
        .map_err(|e| WebError::BadRequest(e.message().to_string()))?;
    let version = form.get("version").and_then(|v| v.parse::<i64>().ok());
    service(&state)
        .set_plan_state(&page.user.principal, &id, to, version, kefu_store::now_ms())
        .await?;
    Ok(see_other(&format!(
        "{}?done=saved",
        urls::mystery_plan(&id)
    )))
}

/// `POST /mystery/plans/{id}/shops`: record a shop (`v.<item>` verdicts,
/// `n.<item>` notes), then the plan page.
pub(super) async fn record_shop(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    staff_only(&page)?;
    let mut results = Vec::new();
    for (k, v) in form.pairs() {
        let Some(item) = k.strip_prefix("v.") else {
            continue;
        };
        let verdict = v
            .parse::<Verdict>()
            .map_err(|e| WebError::BadRequest(e.message().to_string()))?;
        results.push(ItemResult {
            item: item.to_string(),
            verdict,
            note: form.get(&format!("n.{item}")).map(str::to_string),
        });
    }
    let input = NewShop {
        plan_id: id.clone(),
        previous_id: form.get("previous_id").map(str::to_string),
        shopper_name: form.get("shopper_name").map(str::to_string),
        shopped_at: form_time("shopped_at", &form.text("shopped_at"))?,
        agent_id: form.get("agent_id").map(str::to_string),
        conversation_id: form.get("conversation_id").map(str::to_string),
        results,
    };
    service(&state)
        .record_shop(&page.user.principal, &input, kefu_store::now_ms())
        .await?;
    Ok(see_other(&format!(
        "{}?done=saved",
        urls::mystery_plan(&id)
    )))
}

/// A sheet in the list.
struct SheetRow {
    id: String,
    href: String,
    name: String,
    version: i64,
    items: usize,
    critical: usize,
    mapped: usize,
}

#[derive(askama::Template)]
#[template(path = "mystery_sheets.html")]
struct SheetsPage {
    ctx: Ctx,
    rows: Vec<SheetRow>,
    manager: bool,
    text: String,
    saved: bool,
}

const SHEET_EXAMPLE: &str = r#"{
  "id": "phone-basic",
  "name": "电话服务暗访表",
  "sections": [
    {"title": "开场", "items": [
      {"id": "greet", "text": "使用规范开头语", "weight": 10, "rule": "opening"}
    ]},
    {"title": "服务", "items": [
      {"id": "solve", "text": "准确解答客户问题", "weight": 40, "critical": true},
      {"id": "no_taboo", "text": "未使用服务禁语", "weight": 30, "rule": "forbidden"}
    ]},
    {"title": "结束", "items": [
      {"id": "farewell", "text": "使用规范结束语", "weight": 20, "rule": "closing"}
    ]}
  ]
}"#;

/// `GET /mystery/sheets?edit=<id>`: score sheets and the editor (the
/// sheet as JSON; TOML is accepted too).
pub(super) async fn sheets(State(state): State<AppState>, page: Page) -> PageResult {
    staff_only(&page)?;
    let ctx = page.ctx(Some(Section::Mystery), msg("ms.sheets_title"));
    let svc = service(&state);
    let p = &page.user.principal;
    let all = svc.sheets(p).await?;
    let text = match page
        .param("edit")
        .and_then(|e| all.iter().find(|s| s.id == e))
    {
        Some(s) => serde_json::to_string_pretty(&SheetInput {
            id: s.id.clone(),
            name: s.name.clone(),
            sections: s.sections.clone(),
        })
        .map_err(|e| WebError::Internal(e.to_string()))?,
        None => SHEET_EXAMPLE.to_string(),
    };
    let rows = all
        .iter()
        .map(|s| SheetRow {
            id: s.id.clone(),
            href: format!("/mystery/sheets?edit={}", super::page::encode(&s.id)),
            name: s.name.clone(),
            version: s.version,
            items: s.items().count(),
            critical: s.items().filter(|i| i.critical).count(),
            mapped: s.items().filter(|i| i.rule.is_some()).count(),
        })
        .collect();
    render(&SheetsPage {
        rows,
        manager: matches!(page.user.role(), Role::Supervisor | Role::Admin),
        text,
        saved: page.param("done") == Some("saved"),
        ctx,
    })
}

/// `POST /mystery/sheets`: save the sheet text as a new version.
pub(super) async fn save_sheet(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    staff_only(&page)?;
    let input = SheetInput::parse(form.raw("sheet"))?;
    let sheet = service(&state)
        .save_sheet(&page.user.principal, &input, kefu_store::now_ms())
        .await?;
    Ok(see_other(&format!(
        "/mystery/sheets?done=saved&edit={}",
        super::page::encode(&sheet.id)
    )))
}

#[derive(askama::Template)]
#[template(path = "mystery_review.html")]
struct ReviewPage {
    ctx: Ctx,
    shops: Vec<ShopRow>,
    manager: bool,
    saved: bool,
}

/// `GET /mystery/review`: submitted shops waiting for a reviewer.
pub(super) async fn review_queue(State(state): State<AppState>, page: Page) -> PageResult {
    staff_only(&page)?;
    let ctx = page.ctx(Some(Section::Mystery), msg("ms.review_title"));
    let svc = service(&state);
    let p = &page.user.principal;
    let shops = svc
        .shops(
            p,
            &ShopFilter {
                states: vec![ShopState::Submitted],
                ..ShopFilter::default()
            },
        )
        .await?;
    let texts = item_texts(&svc, p, &shops).await?;
    render(&ReviewPage {
        shops: shop_rows(&ctx, &shops, &texts),
        manager: matches!(page.user.role(), Role::Supervisor | Role::Admin),
        saved: page.param("done") == Some("saved"),
        ctx,
    })
}

/// `POST /mystery/shops/{id}/review`: approve or return (`decision`,
/// `reason`), back to the queue.
pub(super) async fn review(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    staff_only(&page)?;
    let decision = match form.text("decision").as_str() {
        "approve" => Decision::Approve,
        "return" => Decision::Return {
            reason: form.text("reason"),
        },
        other => return Err(WebError::BadRequest(format!("decision: {other}"))),
    };
    let version = form.get("version").and_then(|v| v.parse::<i64>().ok());
    service(&state)
        .review(
            &page.user.principal,
            &id,
            &decision,
            version,
            kefu_store::now_ms(),
        )
        .await?;
    Ok(see_other("/mystery/review?done=saved"))
}

#[derive(askama::Template)]
#[template(path = "mystery_shop.html")]
struct ShopPage {
    ctx: Ctx,
    shop: ShopRow,
    plan: Option<(String, String)>,
    staff: bool,
}

/// `GET /mystery/shops/{id}`: one shop (agents: their own approved ones,
/// without the plan).
pub(super) async fn shop(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> PageResult {
    page.user.require(Section::Mystery)?;
    let ctx = page.ctx(Some(Section::Mystery), msg("ms.shop_title"));
    let svc = service(&state);
    let p = &page.user.principal;
    let (s, sheet) = svc.shop_with_sheet(p, &id).await?;
    let staff = page.user.role() != Role::Agent;
    let texts = sheet
        .items()
        .map(|i| (i.id.clone(), i.text.clone()))
        .collect();
    let plan = staff.then(|| (urls::mystery_plan(&s.plan_id), s.plan_id.clone()));
    let mut rows = shop_rows(&ctx, std::slice::from_ref(&s), &texts);
    let Some(shop) = rows.pop() else {
        return Err(WebError::NotFound);
    };
    render(&ShopPage {
        shop,
        plan,
        staff,
        ctx,
    })
}

/// A line of the results page.
struct ResultRow {
    agent: String,
    href: String,
    shops: i64,
    average: String,
    critical_failed: i64,
    items: Vec<ShopRow>,
}

#[derive(askama::Template)]
#[template(path = "mystery_results.html")]
struct ResultsPage {
    ctx: Ctx,
    period: String,
    rows: Vec<ResultRow>,
    staff: bool,
}

/// `[from, to)` of `?period=` (China time), or everything.
fn period_range(page: &Page) -> Result<(String, Option<i64>, Option<i64>), WebError> {
    match page.param("period").filter(|p| !p.is_empty()) {
        None => Ok((String::new(), None, None)),
        Some(text) => {
            let period = parse_period(text)?;
            let (from, to) = period.utc_ms(8 * 3600);
            Ok((text.to_string(), Some(from), Some(to)))
        }
    }
}

/// `GET /mystery/results?period=`: per agent, the counted shops (agents:
/// their own).
pub(super) async fn results(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Mystery)?;
    let ctx = page.ctx(Some(Section::Mystery), msg("ms.results_title"));
    let (period, from, to) = period_range(&page)?;
    let svc = service(&state);
    let p = &page.user.principal;
    let staff = page.user.role() != Role::Agent;
    let results = svc.results(p, from, to).await?;
    let rows = results
        .iter()
        .map(|r| ResultRow {
            href: urls::agent(&r.agent_id),
            agent: r.agent_id.clone(),
            shops: r.shops,
            average: html::num(r.average),
            critical_failed: r.critical_failed,
            items: shop_rows(&ctx, &r.items, &std::collections::HashMap::new()),
        })
        .collect();
    render(&ResultsPage {
        period,
        rows,
        staff,
        ctx,
    })
}

/// A line of the agreement report.
struct AgreementLine {
    sheet: String,
    item: String,
    text: String,
    rule: String,
    shops: i64,
    both_pass: i64,
    both_fail: i64,
    shopper_only: i64,
    inspection_only: i64,
    agreement: String,
    kappa: String,
}

#[derive(askama::Template)]
#[template(path = "mystery_agreement.html")]
struct AgreementPage {
    ctx: Ctx,
    period: String,
    shops: i64,
    inspected: i64,
    rows: Vec<AgreementLine>,
    csv: String,
}

/// `GET /mystery/agreement?period=`: shopper against inspection (staff).
pub(super) async fn agreement(State(state): State<AppState>, page: Page) -> PageResult {
    staff_only(&page)?;
    let ctx = page.ctx(Some(Section::Mystery), msg("ms.agreement_title"));
    let (period, from, to) = period_range(&page)?;
    let report = service(&state)
        .agreement(&page.user.principal, from, to)
        .await?;
    let rows = report
        .items
        .iter()
        .map(|r| AgreementLine {
            sheet: r.sheet_id.clone(),
            item: r.item.clone(),
            text: r.text.clone(),
            rule: r.rule.clone(),
            shops: r.shops,
            both_pass: r.both_pass,
            both_fail: r.both_fail,
            shopper_only: r.shopper_only_fail,
            inspection_only: r.inspection_only_fail,
            agreement: r.agreement_pct.map(html::num).unwrap_or_else(|| "—".into()),
            kappa: r
                .kappa
                .map(|k| format!("{k:.3}"))
                .unwrap_or_else(|| "—".into()),
        })
        .collect();
    let csv = format!(
        "/mystery/agreement.csv{}",
        super::page::query_string([("period", period.as_str())])
    );
    render(&AgreementPage {
        period,
        shops: report.shops,
        inspected: report.inspected_shops,
        rows,
        csv,
        ctx,
    })
}

/// `GET /mystery/agreement.csv?period=`: the report as CSV (staff), with
/// headers in the page's language.
pub(super) async fn agreement_csv(State(state): State<AppState>, page: Page) -> PageResult {
    staff_only(&page)?;
    let (_, from, to) = period_range(&page)?;
    let report = service(&state)
        .agreement(&page.user.principal, from, to)
        .await?;
    let zh = page.ctx(None, msg("ms.agreement_title")).lang == super::i18n::Lang::Zh;
    let bytes = crate::api::mystery::agreement_csv(&report, zh)
        .map_err(|e| WebError::Internal(format!("{e:?}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"mystery-agreement.csv\"",
            ),
        ],
        bytes,
    )
        .into_response())
}
