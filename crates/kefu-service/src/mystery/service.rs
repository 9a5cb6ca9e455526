//! [`MysteryService`]: sheets, plans, shops, reviews, results and the
//! agreement report over the [`Store`], one transaction per write.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use kefu_store::{
    AuditEntry, MysteryPlanRow, MysterySheetRow, MysteryShopQuery, MysteryShopRow, Store, Tx,
};
use serde::{Deserialize, Serialize};

use crate::auth::{Principal, Role};
use crate::error::{Error, Result};
use crate::mystery::agreement::{agreement, AgreementReport, InspectedRules};
use crate::mystery::model::{
    checked_text, counted, optional_text, score_shop, ItemResult, Plan, PlanState, Sheet,
    SheetInput, Shop, ShopState, TargetKind, MAX_NAME_CHARS, MAX_TEXT_CHARS,
};

/// China time, in which ids are dated.
const LOCAL_OFFSET_S: i64 = 8 * 3600;
/// Most rows a list returns.
const LIST_LIMIT: i64 = 1000;
/// Most shops a report or an assessment reads.
const REPORT_LIMIT: i64 = 100_000;

/// A plan to create (JSON times are RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPlan {
    /// Short title.
    pub title: String,
    /// The situation the shopper plays.
    pub scenario: String,
    /// Who the shopper pretends to be.
    pub persona: String,
    /// What the shopper says and asks.
    pub script: String,
    /// Agent or team.
    pub target_kind: TargetKind,
    /// The agent's user id or the team name.
    pub target: String,
    /// Channel (phone, chat …).
    pub channel: String,
    /// Shops from.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub window_from: i64,
    /// Shops until (inclusive).
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub window_to: i64,
    /// The score sheet (its latest version is used).
    pub sheet_id: String,
}

/// A shop to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewShop {
    /// The plan.
    pub plan_id: String,
    /// The shop this re-does (a returned or approved one of the same plan).
    #[serde(default)]
    pub previous_id: Option<String>,
    /// An external shopper's name (when the recording user did not shop).
    #[serde(default)]
    pub shopper_name: Option<String>,
    /// When the test contact took place (within the plan's window).
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub shopped_at: i64,
    /// The agent who served (taken from the conversation when it names
    /// one, else from a plan aimed at one agent).
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The imported conversation of the test contact.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// One verdict per sheet item.
    pub results: Vec<ItemResult>,
}

/// A reviewer's decision on a submitted shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// It counts.
    Approve,
    /// Sent back; it does not count and may be re-shopped.
    Return {
        /// Why.
        reason: String,
    },
}

/// Which shops a list holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShopFilter {
    /// Only these states (empty: any).
    pub states: Vec<ShopState>,
    /// Only this plan.
    pub plan_id: Option<String>,
    /// Only this agent.
    pub agent_id: Option<String>,
    /// Shopped at or after, Unix ms.
    pub from: Option<i64>,
    /// Shopped before.
    pub to: Option<i64>,
}

/// One agent's counted shops.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentResult {
    /// The agent.
    pub agent_id: String,
    /// Counted shops.
    pub shops: i64,
    /// Their mean score, two decimals.
    pub average: f64,
    /// Counted shops with a failed critical item.
    pub critical_failed: i64,
    /// The shops, earliest first.
    pub items: Vec<Shop>,
}

/// Mystery shopping over a store.
#[derive(Debug, Clone)]
pub struct MysteryService {
    store: Store,
}

fn is_staff(p: &Principal) -> bool {
    p.role != Role::Agent
}

fn is_manager(p: &Principal) -> bool {
    matches!(p.role, Role::Supervisor | Role::Admin)
}

fn sheet_from(r: MysterySheetRow) -> Result<Sheet> {
    #[derive(Deserialize)]
    struct Body {
        sections: Vec<crate::mystery::model::SheetSection>,
    }
    let body: Body = serde_json::from_str(&r.body)
        .map_err(|e| Error::corrupt(format!("score sheet {} v{}", r.id, r.version), e))?;
    Ok(Sheet {
        id: r.id,
        version: r.version,
        name: r.name,
        sections: body.sections,
        created_by: r.created_by,
        created_at: r.created_at,
    })
}

fn plan_to_row(p: &Plan) -> MysteryPlanRow {
    MysteryPlanRow {
        id: p.id.clone(),
        version: p.version,
        title: p.title.clone(),
        scenario: p.scenario.clone(),
        persona: p.persona.clone(),
        script: p.script.clone(),
        target_kind: p.target_kind.as_str().to_string(),
        target: p.target.clone(),
        channel: p.channel.clone(),
        window_from: p.window_from,
        window_to: p.window_to,
        sheet_id: p.sheet_id.clone(),
        sheet_version: p.sheet_version,
        state: p.state.as_str().to_string(),
        created_by: p.created_by.clone(),
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

fn plan_from(r: MysteryPlanRow) -> Result<Plan> {
    let corrupt =
        |e: Error| Error::corrupt(format!("mystery plan {}", r.id), e.message().to_string());
    Ok(Plan {
        target_kind: r.target_kind.parse().map_err(corrupt)?,
        state: r.state.parse().map_err(corrupt)?,
        id: r.id,
        version: r.version,
        title: r.title,
        scenario: r.scenario,
        persona: r.persona,
        script: r.script,
        target: r.target,
        channel: r.channel,
        window_from: r.window_from,
        window_to: r.window_to,
        sheet_id: r.sheet_id,
        sheet_version: r.sheet_version,
        created_by: r.created_by,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

fn shop_to_row(s: &Shop) -> Result<MysteryShopRow> {
    Ok(MysteryShopRow {
        id: s.id.clone(),
        version: s.version,
        plan_id: s.plan_id.clone(),
        sheet_id: s.sheet_id.clone(),
        sheet_version: s.sheet_version,
        chain_id: s.chain_id.clone(),
        previous_id: s.previous_id.clone(),
        shopper_id: s.shopper_id.clone(),
        shopper_name: s.shopper_name.clone(),
        shopped_at: s.shopped_at,
        agent_id: s.agent_id.clone(),
        conversation_id: s.conversation_id.clone(),
        results: serde_json::to_string(&s.results).map_err(|e| Error::Internal(e.to_string()))?,
        score: s.score,
        critical_failed: s.critical_failed,
        state: s.state.as_str().to_string(),
        reviewed_by: s.reviewed_by.clone(),
        reviewed_at: s.reviewed_at,
        return_reason: s.return_reason.clone(),
        created_at: s.created_at,
        updated_at: s.updated_at,
    })
}

fn shop_from(r: MysteryShopRow) -> Result<Shop> {
    let what = format!("mystery shop {}", r.id);
    Ok(Shop {
        state: r
            .state
            .parse()
            .map_err(|e: Error| Error::corrupt(what.clone(), e.message().to_string()))?,
        results: serde_json::from_str(&r.results).map_err(|e| Error::corrupt(what, e))?,
        id: r.id,
        version: r.version,
        plan_id: r.plan_id,
        sheet_id: r.sheet_id,
        sheet_version: r.sheet_version,
        chain_id: r.chain_id,
        previous_id: r.previous_id,
        shopper_id: r.shopper_id,
        shopper_name: r.shopper_name,
        shopped_at: r.shopped_at,
        agent_id: r.agent_id,
        conversation_id: r.conversation_id,
        score: r.score,
        critical_failed: r.critical_failed,
        reviewed_by: r.reviewed_by,
        reviewed_at: r.reviewed_at,
        return_reason: r.return_reason,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

async fn next_id(tx: &mut Tx, prefix: &str, now: i64) -> Result<String> {
    let local = chrono::DateTime::from_timestamp_millis(now + LOCAL_OFFSET_S * 1000)
        .ok_or_else(|| Error::Invalid(format!("time out of range: {now}")))?
        .format("%Y%m%d")
        .to_string();
    let n = tx
        .next_sequence(&format!("mystery-{prefix}-{local}"))
        .await?;
    Ok(format!("{prefix}-{local}-{n:06}"))
}

async fn audit(
    tx: &mut Tx,
    p: &Principal,
    now: i64,
    entity: &str,
    id: &str,
    action: &str,
    detail: serde_json::Value,
) -> Result<()> {
    tx.append_audit(&AuditEntry {
        at: now,
        actor_id: p.user_id.clone(),
        actor_role: p.role.as_str().to_string(),
        entity: entity.into(),
        entity_id: id.into(),
        action: action.into(),
        detail,
    })
    .await?;
    Ok(())
}

impl MysteryService {
    /// A service over `store`.
    pub fn new(store: Store) -> MysteryService {
        MysteryService { store }
    }

    /// Saves a new version of a score sheet (supervisors and admins).
    pub async fn save_sheet(&self, p: &Principal, input: &SheetInput, now: i64) -> Result<Sheet> {
        if !is_manager(p) {
            return Err(Error::Forbidden(
                "only supervisors change score sheets".into(),
            ));
        }
        let s = input.validated()?;
        let body = serde_json::json!({"sections": s.sections}).to_string();
        let mut tx = self.store.write().await?;
        let version = tx.next_mystery_sheet_version(&s.id).await?;
        let row = MysterySheetRow {
            id: s.id.clone(),
            version,
            name: s.name.clone(),
            body,
            created_by: p.user_id.clone(),
            created_at: now,
        };
        if !tx.insert_mystery_sheet(&row).await? {
            return Err(Error::Conflict(format!(
                "conflict: sheet {} v{version} was saved meanwhile",
                s.id
            )));
        }
        audit(
            &mut tx,
            p,
            now,
            "mystery_sheet",
            &s.id,
            "saved",
            serde_json::json!({"version": version}),
        )
        .await?;
        tx.commit().await?;
        sheet_from(row)
    }

    /// A sheet version (the latest without `version`; staff).
    pub async fn sheet(&self, p: &Principal, id: &str, version: Option<i64>) -> Result<Sheet> {
        if !is_staff(p) {
            return Err(Error::Forbidden("score sheets are for staff".into()));
        }
        match self.store.mystery_sheet(id, version).await? {
            Some(r) => sheet_from(r),
            None => Err(Error::not_found("score sheet", id)),
        }
    }

    /// The latest version of every sheet (staff).
    pub async fn sheets(&self, p: &Principal) -> Result<Vec<Sheet>> {
        if !is_staff(p) {
            return Err(Error::Forbidden("score sheets are for staff".into()));
        }
        self.store
            .mystery_sheets()
            .await?
            .into_iter()
            .map(sheet_from)
            .collect()
    }

    /// Creates a plan as a draft (supervisors and admins), on the latest
    /// version of its sheet.
    pub async fn create_plan(&self, p: &Principal, input: &NewPlan, now: i64) -> Result<Plan> {
        if !is_manager(p) {
            return Err(Error::Forbidden(
                "only supervisors create mystery-shopping plans".into(),
            ));
        }
        if input.window_to < input.window_from {
            return Err(Error::invalid_field("window_to", "is before window_from"));
        }
        let mut tx = self.store.write().await?;
        let sheet = tx
            .mystery_sheet(input.sheet_id.trim(), None)
            .await?
            .ok_or_else(|| {
                Error::invalid_field("sheet_id", format!("no sheet `{}`", input.sheet_id))
            })?;
        let plan = Plan {
            id: next_id(&mut tx, "MP", now).await?,
            version: 1,
            title: checked_text("title", &input.title, MAX_NAME_CHARS)?,
            scenario: checked_text("scenario", &input.scenario, MAX_TEXT_CHARS)?,
            persona: checked_text("persona", &input.persona, MAX_TEXT_CHARS)?,
            script: checked_text("script", &input.script, MAX_TEXT_CHARS)?,
            target_kind: input.target_kind,
            target: checked_text("target", &input.target, MAX_NAME_CHARS)?,
            channel: checked_text("channel", &input.channel, MAX_NAME_CHARS)?,
            window_from: input.window_from,
            window_to: input.window_to,
            sheet_id: sheet.id,
            sheet_version: sheet.version,
            state: PlanState::Draft,
            created_by: p.user_id.clone(),
            created_at: now,
            updated_at: now,
        };
        if !tx.insert_mystery_plan(&plan_to_row(&plan)).await? {
            return Err(Error::Conflict(format!(
                "conflict: id {} is taken",
                plan.id
            )));
        }
        audit(
            &mut tx,
            p,
            now,
            "mystery_plan",
            &plan.id,
            "created",
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(plan)
    }

    /// Moves a plan: draft → active, active or draft → closed (supervisors
    /// and admins).
    pub async fn set_plan_state(
        &self,
        p: &Principal,
        id: &str,
        to: PlanState,
        expected_version: Option<i64>,
        now: i64,
    ) -> Result<Plan> {
        if !is_manager(p) {
            return Err(Error::Forbidden(
                "only supervisors change mystery-shopping plans".into(),
            ));
        }
        let mut tx = self.store.write().await?;
        let plan = match tx.lock_mystery_plan(id).await? {
            Some(r) => plan_from(r)?,
            None => return Err(Error::not_found("mystery plan", id)),
        };
        if let Some(v) = expected_version {
            if v != plan.version {
                return Err(Error::Conflict(format!(
                    "conflict: plan {id} is at version {}, not {v}",
                    plan.version
                )));
            }
        }
        let allowed = matches!(
            (plan.state, to),
            (PlanState::Draft, PlanState::Active)
                | (PlanState::Draft, PlanState::Closed)
                | (PlanState::Active, PlanState::Closed)
        );
        if !allowed {
            return Err(Error::Conflict(format!(
                "plan {id} is {}; it cannot become {}",
                plan.state.as_str(),
                to.as_str()
            )));
        }
        let mut next = plan.clone();
        next.state = to;
        next.version += 1;
        next.updated_at = now;
        if !tx
            .update_mystery_plan(&plan_to_row(&next), plan.version)
            .await?
        {
            return Err(Error::Conflict(format!(
                "conflict: plan {id} changed meanwhile"
            )));
        }
        audit(
            &mut tx,
            p,
            now,
            "mystery_plan",
            id,
            to.as_str(),
            serde_json::json!({"from": plan.state.as_str()}),
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// A plan (staff only: agents never see plans, so a shop aimed at them
    /// stays a mystery).
    pub async fn plan(&self, p: &Principal, id: &str) -> Result<Plan> {
        if !is_staff(p) {
            return Err(Error::not_found("mystery plan", id));
        }
        match self.store.mystery_plan(id).await? {
            Some(r) => plan_from(r),
            None => Err(Error::not_found("mystery plan", id)),
        }
    }

    /// Plans, newest first (staff only), in `states` when not empty.
    pub async fn plans(&self, p: &Principal, states: &[PlanState]) -> Result<Vec<Plan>> {
        if !is_staff(p) {
            return Err(Error::Forbidden(
                "mystery-shopping plans are for staff".into(),
            ));
        }
        let states: Vec<String> = states.iter().map(|s| s.as_str().to_string()).collect();
        self.store
            .mystery_plans(&states, LIST_LIMIT)
            .await?
            .into_iter()
            .map(plan_from)
            .collect()
    }

    /// Records a shop against an active plan (staff: inspectors,
    /// supervisors, admins). The linked conversation must be stored; its
    /// agent is the agent served. The score is computed on the plan's
    /// sheet; the shop waits for a reviewer.
    pub async fn record_shop(&self, p: &Principal, input: &NewShop, now: i64) -> Result<Shop> {
        if !is_staff(p) {
            return Err(Error::Forbidden(
                "agents do not record mystery shops".into(),
            ));
        }
        let shopper_name = optional_text(
            "shopper_name",
            input.shopper_name.as_deref(),
            MAX_NAME_CHARS,
        )?;
        let conversation_id = optional_text(
            "conversation_id",
            input.conversation_id.as_deref(),
            MAX_NAME_CHARS,
        )?;
        let mut agent_id = optional_text("agent_id", input.agent_id.as_deref(), MAX_NAME_CHARS)?;
        let mut results = Vec::with_capacity(input.results.len());
        for r in &input.results {
            results.push(ItemResult {
                item: r.item.trim().to_string(),
                verdict: r.verdict,
                note: optional_text("note", r.note.as_deref(), MAX_TEXT_CHARS)?,
            });
        }
        let mut tx = self.store.write().await?;
        let plan = match tx.lock_mystery_plan(&input.plan_id).await? {
            Some(r) => plan_from(r)?,
            None => return Err(Error::not_found("mystery plan", &input.plan_id)),
        };
        if plan.state != PlanState::Active {
            return Err(Error::Conflict(format!(
                "plan {} is {}: shops are recorded against active plans",
                plan.id,
                plan.state.as_str()
            )));
        }
        if input.shopped_at < plan.window_from || input.shopped_at > plan.window_to {
            return Err(Error::invalid_field(
                "shopped_at",
                "is outside the plan's window",
            ));
        }
        if let Some(cid) = &conversation_id {
            match tx.conversation_agent(cid).await? {
                None => {
                    return Err(Error::invalid_field(
                        "conversation_id",
                        format!("no conversation {cid}"),
                    ))
                }
                Some(Some(a)) => agent_id = Some(a),
                Some(None) => {}
            }
        }
        if agent_id.is_none() && plan.target_kind == TargetKind::Agent {
            agent_id = Some(plan.target.clone());
        }
        let chain_id = match &input.previous_id {
            None => None,
            Some(prev) => {
                let prev_shop = match tx.lock_mystery_shop(prev).await? {
                    Some(r) => shop_from(r)?,
                    None => {
                        return Err(Error::invalid_field(
                            "previous_id",
                            format!("no shop {prev}"),
                        ))
                    }
                };
                if prev_shop.plan_id != plan.id {
                    return Err(Error::invalid_field(
                        "previous_id",
                        format!("shop {prev} belongs to another plan"),
                    ));
                }
                if prev_shop.state == ShopState::Submitted {
                    return Err(Error::Conflict(format!(
                        "shop {prev} is still waiting for review"
                    )));
                }
                if tx.mystery_shop_reshopped(prev).await? {
                    return Err(Error::Conflict(format!(
                        "shop {prev} was re-shopped already"
                    )));
                }
                Some(prev_shop.chain_id)
            }
        };
        let sheet = tx
            .mystery_sheet(&plan.sheet_id, Some(plan.sheet_version))
            .await?
            .ok_or_else(|| Error::corrupt(format!("plan {}", plan.id), "its sheet is missing"))
            .and_then(sheet_from)?;
        let score = score_shop(&sheet, &results)?;
        let id = next_id(&mut tx, "MS", now).await?;
        let shop = Shop {
            chain_id: chain_id.unwrap_or_else(|| id.clone()),
            id,
            version: 1,
            plan_id: plan.id.clone(),
            sheet_id: sheet.id.clone(),
            sheet_version: sheet.version,
            previous_id: input.previous_id.clone(),
            shopper_id: p.user_id.clone(),
            shopper_name,
            shopped_at: input.shopped_at,
            agent_id,
            conversation_id,
            results,
            score: score.score,
            critical_failed: score.critical_failed,
            state: ShopState::Submitted,
            reviewed_by: None,
            reviewed_at: None,
            return_reason: None,
            created_at: now,
            updated_at: now,
        };
        if !tx.insert_mystery_shop(&shop_to_row(&shop)?).await? {
            return Err(Error::Conflict(format!(
                "conflict: id {} is taken",
                shop.id
            )));
        }
        audit(
            &mut tx,
            p,
            now,
            "mystery_shop",
            &shop.id,
            "recorded",
            serde_json::json!({"plan": shop.plan_id, "previous": shop.previous_id, "score": shop.score}),
        )
        .await?;
        tx.commit().await?;
        Ok(shop)
    }

    /// A reviewer's decision on a submitted shop (supervisors and admins,
    /// not the one who recorded it).
    pub async fn review(
        &self,
        p: &Principal,
        id: &str,
        decision: &Decision,
        expected_version: Option<i64>,
        now: i64,
    ) -> Result<Shop> {
        if !is_manager(p) {
            return Err(Error::Forbidden(
                "only supervisors review mystery shops".into(),
            ));
        }
        let reason = match decision {
            Decision::Approve => None,
            Decision::Return { reason } => Some(checked_text("reason", reason, MAX_TEXT_CHARS)?),
        };
        let mut tx = self.store.write().await?;
        let shop = match tx.lock_mystery_shop(id).await? {
            Some(r) => shop_from(r)?,
            None => return Err(Error::not_found("mystery shop", id)),
        };
        if shop.shopper_id == p.user_id {
            return Err(Error::Forbidden(
                "a shop is reviewed by someone other than who recorded it".into(),
            ));
        }
        if let Some(v) = expected_version {
            if v != shop.version {
                return Err(Error::Conflict(format!(
                    "conflict: shop {id} is at version {}, not {v}",
                    shop.version
                )));
            }
        }
        if shop.state != ShopState::Submitted {
            return Err(Error::Conflict(format!(
                "shop {id} is {}, not waiting for review",
                shop.state.as_str()
            )));
        }
        let mut next = shop.clone();
        next.state = if reason.is_some() {
            ShopState::Returned
        } else {
            ShopState::Approved
        };
        next.return_reason = reason;
        next.reviewed_by = Some(p.user_id.clone());
        next.reviewed_at = Some(now);
        next.version += 1;
        next.updated_at = now;
        if !tx
            .update_mystery_shop(&shop_to_row(&next)?, shop.version)
            .await?
        {
            return Err(Error::Conflict(format!(
                "conflict: shop {id} changed meanwhile"
            )));
        }
        audit(
            &mut tx,
            p,
            now,
            "mystery_shop",
            id,
            next.state.as_str(),
            serde_json::json!({"reason": next.return_reason}),
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// A shop: staff see every shop; an agent only their own approved
    /// ones.
    pub async fn shop(&self, p: &Principal, id: &str) -> Result<Shop> {
        let shop = match self.store.mystery_shop(id).await? {
            Some(r) => shop_from(r)?,
            None => return Err(Error::not_found("mystery shop", id)),
        };
        if !is_staff(p)
            && (shop.state != ShopState::Approved || shop.agent_id.as_deref() != Some(&p.user_id))
        {
            return Err(Error::not_found("mystery shop", id));
        }
        Ok(shop)
    }

    /// A shop and the sheet version it was scored on, as
    /// [`MysteryService::shop`] lets `p` see it (agents read the sheet of
    /// their own approved shops this way only).
    pub async fn shop_with_sheet(&self, p: &Principal, id: &str) -> Result<(Shop, Sheet)> {
        let shop = self.shop(p, id).await?;
        let sheet = self
            .store
            .mystery_sheet(&shop.sheet_id, Some(shop.sheet_version))
            .await?
            .ok_or_else(|| Error::corrupt(format!("shop {id}"), "its sheet is missing"))
            .and_then(sheet_from)?;
        Ok((shop, sheet))
    }

    /// Shops matching `filter`, newest recorded first (at most 1,000).
    /// Agents get only their own approved shops.
    pub async fn shops(&self, p: &Principal, filter: &ShopFilter) -> Result<Vec<Shop>> {
        let mut query = MysteryShopQuery {
            states: filter
                .states
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            plan_id: filter.plan_id.clone(),
            agent_id: filter.agent_id.clone(),
            shopped_from: filter.from,
            shopped_to: filter.to,
        };
        if !is_staff(p) {
            query.states = vec![ShopState::Approved.as_str().to_string()];
            query.agent_id = Some(p.user_id.clone());
            query.plan_id = None;
        }
        self.store
            .mystery_shops(&query, LIST_LIMIT)
            .await?
            .into_iter()
            .map(shop_from)
            .collect()
    }

    /// The counted shops shopped in `[from, to)`, all agents.
    async fn counted_shops(&self, from: Option<i64>, to: Option<i64>) -> Result<Vec<Shop>> {
        let query = MysteryShopQuery {
            states: vec![ShopState::Approved.as_str().to_string()],
            shopped_from: from,
            shopped_to: to,
            ..MysteryShopQuery::default()
        };
        let all: Vec<Shop> = self
            .store
            .mystery_shops(&query, REPORT_LIMIT)
            .await?
            .into_iter()
            .map(shop_from)
            .collect::<Result<_>>()?;
        Ok(counted(&all).into_iter().cloned().collect())
    }

    /// Per agent, the counted shops shopped in `[from, to)` and their mean
    /// score. Agents get only their own line.
    pub async fn results(
        &self,
        p: &Principal,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Vec<AgentResult>> {
        let only = (!is_staff(p)).then_some(p.user_id.as_str());
        self.agent_results(from, to, only).await
    }

    /// Per agent (or only `only`), the counted shops shopped in
    /// `[from, to)` and their mean score.
    async fn agent_results(
        &self,
        from: Option<i64>,
        to: Option<i64>,
        only: Option<&str>,
    ) -> Result<Vec<AgentResult>> {
        let mut by_agent: BTreeMap<String, Vec<Shop>> = BTreeMap::new();
        for s in self.counted_shops(from, to).await? {
            let Some(agent) = s.agent_id.clone() else {
                continue;
            };
            if only.is_some_and(|o| o != agent) {
                continue;
            }
            by_agent.entry(agent).or_default().push(s);
        }
        Ok(by_agent
            .into_iter()
            .map(|(agent_id, items)| {
                let n = items.len() as f64;
                let sum: f64 = items.iter().map(|s| s.score).sum();
                AgentResult {
                    agent_id,
                    shops: items.len() as i64,
                    average: ((sum / n) * 100.0).round() / 100.0,
                    critical_failed: items.iter().filter(|s| s.critical_failed).count() as i64,
                    items,
                }
            })
            .collect())
    }

    /// Each agent's mean counted shop score in `[from, to)`: the
    /// assessment's mystery-shop indicator (no caller: the assessment run
    /// checks its own rights).
    pub async fn agent_scores(&self, from: i64, to: i64) -> Result<HashMap<String, f64>> {
        Ok(self
            .agent_results(Some(from), Some(to), None)
            .await?
            .into_iter()
            .map(|r| (r.agent_id, r.average))
            .collect())
    }

    /// The agreement report over the counted shops shopped in `[from, to)`
    /// (staff): per sheet item mapped to an inspection rule, the shopper's
    /// verdict against the current inspection result of the linked
    /// conversation.
    pub async fn agreement(
        &self,
        p: &Principal,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<AgreementReport> {
        if !is_staff(p) {
            return Err(Error::Forbidden("the agreement report is for staff".into()));
        }
        let shops = self.counted_shops(from, to).await?;
        let mut sheets: HashMap<(String, i64), Sheet> = HashMap::new();
        let mut inspected: HashMap<String, Option<InspectedRules>> = HashMap::new();
        for s in &shops {
            if let Entry::Vacant(slot) = sheets.entry((s.sheet_id.clone(), s.sheet_version)) {
                let sheet = self
                    .store
                    .mystery_sheet(&s.sheet_id, Some(s.sheet_version))
                    .await?
                    .ok_or_else(|| Error::corrupt(format!("shop {}", s.id), "its sheet is missing"))
                    .and_then(sheet_from)?;
                slot.insert(sheet);
            }
            if let Some(cid) = &s.conversation_id {
                if let Entry::Vacant(slot) = inspected.entry(cid.clone()) {
                    let current = self
                        .store
                        .inspection_history(cid)
                        .await?
                        .into_iter()
                        .find(|r| r.is_current)
                        .map(|r| InspectedRules::from_result(&r.result));
                    slot.insert(current);
                }
            }
        }
        let mut rows = Vec::with_capacity(shops.len());
        for s in &shops {
            let Some(sheet) = sheets.get(&(s.sheet_id.clone(), s.sheet_version)) else {
                continue;
            };
            let ins = s
                .conversation_id
                .as_ref()
                .and_then(|c| inspected.get(c))
                .and_then(Option::as_ref);
            rows.push((s, sheet, ins));
        }
        Ok(agreement(&rows))
    }
}
