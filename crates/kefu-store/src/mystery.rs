//! Mystery customers (神秘客户, migration `0022_mystery`): versioned score
//! sheets, plans and the shops recorded against them.
//!
//! Sheets are append-only by version: saving one again inserts the next
//! version ([`Tx::insert_mystery_sheet`]). Plans and shops are rewritten
//! whole at the version they were read ([`Tx::update_mystery_plan`],
//! [`Tx::update_mystery_shop`]), after a row lock on PostgreSQL. Lists are
//! newest first and bounded by a limit; the counting rules (which approved
//! shop of a re-shop chain counts) are the service's.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::dialect::{Arg, Where};
use crate::{Context, Store, StoreError, Tx};

/// A score sheet version, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysterySheetRow {
    /// Sheet id (stable across versions).
    pub id: String,
    /// Version, 1 for the first.
    pub version: i64,
    /// Name.
    pub name: String,
    /// Sections and items, JSON.
    pub body: String,
    /// Who saved it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
}

/// A mystery-shopping plan, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysteryPlanRow {
    /// Id (`MP-YYYYMMDD-NNNNNN`).
    pub id: String,
    /// Version, bumped by every change.
    pub version: i64,
    /// Short title.
    pub title: String,
    /// The situation the shopper plays.
    pub scenario: String,
    /// Who the shopper pretends to be.
    pub persona: String,
    /// What the shopper says and asks.
    pub script: String,
    /// `agent` or `team`.
    pub target_kind: String,
    /// The agent's user id or the team name.
    pub target: String,
    /// Channel name.
    pub channel: String,
    /// Shops from, Unix ms.
    pub window_from: i64,
    /// Shops until (inclusive), Unix ms.
    pub window_to: i64,
    /// The score sheet.
    pub sheet_id: String,
    /// Its version.
    pub sheet_version: i64,
    /// `draft`, `active` or `closed`.
    pub state: String,
    /// Who created it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A recorded shop, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct MysteryShopRow {
    /// Id (`MS-YYYYMMDD-NNNNNN`).
    pub id: String,
    /// Version, bumped by every change.
    pub version: i64,
    /// The plan.
    pub plan_id: String,
    /// The sheet it was scored on.
    pub sheet_id: String,
    /// Its version.
    pub sheet_version: i64,
    /// The first shop of its re-shop chain (its own id when none).
    pub chain_id: String,
    /// The shop it re-does.
    pub previous_id: Option<String>,
    /// The user who recorded it.
    pub shopper_id: String,
    /// An external shopper's name.
    pub shopper_name: Option<String>,
    /// When the test contact took place, Unix ms.
    pub shopped_at: i64,
    /// The agent who served.
    pub agent_id: Option<String>,
    /// The imported conversation of the test contact.
    pub conversation_id: Option<String>,
    /// Per-item verdicts, JSON.
    pub results: String,
    /// Computed score, 0–100.
    pub score: f64,
    /// Whether a critical item failed.
    pub critical_failed: bool,
    /// `submitted`, `approved` or `returned`.
    pub state: String,
    /// Who reviewed it.
    pub reviewed_by: Option<String>,
    /// When.
    pub reviewed_at: Option<i64>,
    /// Why it was returned.
    pub return_reason: Option<String>,
    /// Recorded, Unix ms.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// Which shops a list holds (every field narrows it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MysteryShopQuery {
    /// Only these states (empty: any).
    pub states: Vec<String>,
    /// Only this plan.
    pub plan_id: Option<String>,
    /// Only this agent.
    pub agent_id: Option<String>,
    /// Shopped at or after, Unix ms.
    pub shopped_from: Option<i64>,
    /// Shopped before.
    pub shopped_to: Option<i64>,
}

const SHEET_COLUMNS: &str = "id, version, name, body, created_by, created_at";

const PLAN_COLUMNS: &[&str] = &[
    "id",
    "version",
    "title",
    "scenario",
    "persona",
    "script",
    "target_kind",
    "target",
    "channel",
    "window_from",
    "window_to",
    "sheet_id",
    "sheet_version",
    "state",
    "created_by",
    "created_at",
    "updated_at",
];

const SHOP_COLUMNS: &[&str] = &[
    "id",
    "version",
    "plan_id",
    "sheet_id",
    "sheet_version",
    "chain_id",
    "previous_id",
    "shopper_id",
    "shopper_name",
    "shopped_at",
    "agent_id",
    "conversation_id",
    "results",
    "score",
    "critical_failed",
    "state",
    "reviewed_by",
    "reviewed_at",
    "return_reason",
    "created_at",
    "updated_at",
];

fn sheet_of(r: &AnyRow) -> Result<MysterySheetRow, sqlx::Error> {
    Ok(MysterySheetRow {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        name: r.try_get("name")?,
        body: r.try_get("body")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

fn plan_of(r: &AnyRow) -> Result<MysteryPlanRow, sqlx::Error> {
    Ok(MysteryPlanRow {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        title: r.try_get("title")?,
        scenario: r.try_get("scenario")?,
        persona: r.try_get("persona")?,
        script: r.try_get("script")?,
        target_kind: r.try_get("target_kind")?,
        target: r.try_get("target")?,
        channel: r.try_get("channel")?,
        window_from: r.try_get("window_from")?,
        window_to: r.try_get("window_to")?,
        sheet_id: r.try_get("sheet_id")?,
        sheet_version: r.try_get("sheet_version")?,
        state: r.try_get("state")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn shop_of(r: &AnyRow) -> Result<MysteryShopRow, sqlx::Error> {
    Ok(MysteryShopRow {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        plan_id: r.try_get("plan_id")?,
        sheet_id: r.try_get("sheet_id")?,
        sheet_version: r.try_get("sheet_version")?,
        chain_id: r.try_get("chain_id")?,
        previous_id: r.try_get("previous_id")?,
        shopper_id: r.try_get("shopper_id")?,
        shopper_name: r.try_get("shopper_name")?,
        shopped_at: r.try_get("shopped_at")?,
        agent_id: r.try_get("agent_id")?,
        conversation_id: r.try_get("conversation_id")?,
        results: r.try_get("results")?,
        score: r.try_get("score")?,
        critical_failed: r.try_get::<i64, _>("critical_failed")? != 0,
        state: r.try_get("state")?,
        reviewed_by: r.try_get("reviewed_by")?,
        reviewed_at: r.try_get("reviewed_at")?,
        return_reason: r.try_get("return_reason")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn bind_plan<'q>(
    q: crate::dialect::AnyQuery<'q>,
    p: &MysteryPlanRow,
) -> crate::dialect::AnyQuery<'q> {
    q.bind(p.id.clone())
        .bind(p.version)
        .bind(p.title.clone())
        .bind(p.scenario.clone())
        .bind(p.persona.clone())
        .bind(p.script.clone())
        .bind(p.target_kind.clone())
        .bind(p.target.clone())
        .bind(p.channel.clone())
        .bind(p.window_from)
        .bind(p.window_to)
        .bind(p.sheet_id.clone())
        .bind(p.sheet_version)
        .bind(p.state.clone())
        .bind(p.created_by.clone())
        .bind(p.created_at)
        .bind(p.updated_at)
}

fn bind_shop<'q>(
    q: crate::dialect::AnyQuery<'q>,
    s: &MysteryShopRow,
) -> crate::dialect::AnyQuery<'q> {
    q.bind(s.id.clone())
        .bind(s.version)
        .bind(s.plan_id.clone())
        .bind(s.sheet_id.clone())
        .bind(s.sheet_version)
        .bind(s.chain_id.clone())
        .bind(s.previous_id.clone())
        .bind(s.shopper_id.clone())
        .bind(s.shopper_name.clone())
        .bind(s.shopped_at)
        .bind(s.agent_id.clone())
        .bind(s.conversation_id.clone())
        .bind(s.results.clone())
        .bind(s.score)
        .bind(i64::from(s.critical_failed))
        .bind(s.state.clone())
        .bind(s.reviewed_by.clone())
        .bind(s.reviewed_at)
        .bind(s.return_reason.clone())
        .bind(s.created_at)
        .bind(s.updated_at)
}

fn insert_sql(table: &str, columns: &[&str]) -> String {
    let values: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT (id) DO NOTHING RETURNING id",
        columns.join(", "),
        values.join(", ")
    )
}

async fn plan_by_id(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    lock: &str,
) -> Result<Option<MysteryPlanRow>, StoreError> {
    let sql = format!(
        "SELECT {} FROM mystery_plans WHERE id = $1{lock}",
        PLAN_COLUMNS.join(", ")
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
        .context("reading a mystery plan")?
        .as_ref()
        .map(plan_of)
        .transpose()
        .context("mystery_plans")
}

async fn shop_by_id(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    lock: &str,
) -> Result<Option<MysteryShopRow>, StoreError> {
    let sql = format!(
        "SELECT {} FROM mystery_shops WHERE id = $1{lock}",
        SHOP_COLUMNS.join(", ")
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
        .context("reading a mystery shop")?
        .as_ref()
        .map(shop_of)
        .transpose()
        .context("mystery_shops")
}

async fn sheet_by_id(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    version: Option<i64>,
) -> Result<Option<MysterySheetRow>, StoreError> {
    let row = match version {
        Some(v) => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {SHEET_COLUMNS} FROM mystery_sheets WHERE id = $1 AND version = $2"
            )))
            .bind(id)
            .bind(v)
            .fetch_optional(conn)
            .await
        }
        None => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {SHEET_COLUMNS} FROM mystery_sheets WHERE id = $1 \
                 ORDER BY version DESC LIMIT 1"
            )))
            .bind(id)
            .fetch_optional(conn)
            .await
        }
    }
    .context("reading a score sheet")?;
    row.as_ref()
        .map(sheet_of)
        .transpose()
        .context("mystery_sheets")
}

impl MysteryShopQuery {
    fn conditions(&self) -> Where {
        let mut w = Where::default();
        if !self.states.is_empty() {
            let ps: Vec<String> = self
                .states
                .iter()
                .map(|s| w.arg(Arg::Text(s.clone())))
                .collect();
            w.push(format!("state IN ({})", ps.join(", ")));
        }
        for (column, value) in [("plan_id", &self.plan_id), ("agent_id", &self.agent_id)] {
            if let Some(v) = value {
                let p = w.arg(Arg::Text(v.clone()));
                w.push(format!("{column} = {p}"));
            }
        }
        if let Some(from) = self.shopped_from {
            let p = w.arg(Arg::Int(from));
            w.push(format!("shopped_at >= {p}"));
        }
        if let Some(to) = self.shopped_to {
            let p = w.arg(Arg::Int(to));
            w.push(format!("shopped_at < {p}"));
        }
        w
    }
}

impl Tx {
    /// The next version number of sheet `id` (1 when new).
    pub async fn next_mystery_sheet_version(&mut self, id: &str) -> Result<i64, StoreError> {
        let n: Option<i64> =
            sqlx::query("SELECT MAX(version) AS v FROM mystery_sheets WHERE id = $1")
                .bind(id)
                .fetch_one(self.conn())
                .await
                .context("reading sheet versions")?
                .try_get("v")
                .context("mystery_sheets")?;
        Ok(n.unwrap_or(0) + 1)
    }

    /// Stores a sheet version; `false` when that version exists.
    pub async fn insert_mystery_sheet(&mut self, s: &MysterySheetRow) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO mystery_sheets (id, version, name, body, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id, version) DO NOTHING",
        )
        .bind(s.id.as_str())
        .bind(s.version)
        .bind(s.name.as_str())
        .bind(s.body.as_str())
        .bind(s.created_by.as_str())
        .bind(s.created_at)
        .execute(self.conn())
        .await
        .context("storing a score sheet")?
        .rows_affected();
        Ok(n > 0)
    }

    /// A sheet version (the latest without `version`).
    pub async fn mystery_sheet(
        &mut self,
        id: &str,
        version: Option<i64>,
    ) -> Result<Option<MysterySheetRow>, StoreError> {
        sheet_by_id(self.conn(), id, version).await
    }

    /// Stores a new plan; `false` when the id is taken.
    pub async fn insert_mystery_plan(&mut self, p: &MysteryPlanRow) -> Result<bool, StoreError> {
        let sql = insert_sql("mystery_plans", PLAN_COLUMNS);
        let inserted = bind_plan(sqlx::query(AssertSqlSafe(sql)), p)
            .fetch_optional(self.conn())
            .await
            .context("storing a mystery plan")?;
        Ok(inserted.is_some())
    }

    /// A plan read for writing (locked on PostgreSQL).
    pub async fn lock_mystery_plan(
        &mut self,
        id: &str,
    ) -> Result<Option<MysteryPlanRow>, StoreError> {
        let lock = self.lock_rows();
        plan_by_id(self.conn(), id, lock).await
    }

    /// Rewrites a plan still at `expected_version`; `false` when it moved on.
    pub async fn update_mystery_plan(
        &mut self,
        p: &MysteryPlanRow,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        let sql = crate::dialect::update_by_version("mystery_plans", PLAN_COLUMNS);
        let n = bind_plan(sqlx::query(AssertSqlSafe(sql)), p)
            .bind(expected_version)
            .execute(self.conn())
            .await
            .context("updating a mystery plan")?
            .rows_affected();
        Ok(n > 0)
    }

    /// Stores a new shop; `false` when the id is taken.
    pub async fn insert_mystery_shop(&mut self, s: &MysteryShopRow) -> Result<bool, StoreError> {
        let sql = insert_sql("mystery_shops", SHOP_COLUMNS);
        let inserted = bind_shop(sqlx::query(AssertSqlSafe(sql)), s)
            .fetch_optional(self.conn())
            .await
            .context("storing a mystery shop")?;
        Ok(inserted.is_some())
    }

    /// A shop read for writing (locked on PostgreSQL).
    pub async fn lock_mystery_shop(
        &mut self,
        id: &str,
    ) -> Result<Option<MysteryShopRow>, StoreError> {
        let lock = self.lock_rows();
        shop_by_id(self.conn(), id, lock).await
    }

    /// Whether some shop already re-does `id`.
    pub async fn mystery_shop_reshopped(&mut self, id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT id FROM mystery_shops WHERE previous_id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .context("reading re-shops")?;
        Ok(row.is_some())
    }

    /// Rewrites a shop still at `expected_version`; `false` when it moved on.
    pub async fn update_mystery_shop(
        &mut self,
        s: &MysteryShopRow,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        let sql = crate::dialect::update_by_version("mystery_shops", SHOP_COLUMNS);
        let n = bind_shop(sqlx::query(AssertSqlSafe(sql)), s)
            .bind(expected_version)
            .execute(self.conn())
            .await
            .context("updating a mystery shop")?
            .rows_affected();
        Ok(n > 0)
    }

    /// The agent of a stored conversation: `None` when there is no such
    /// conversation, `Some(None)` when it names no agent.
    pub async fn conversation_agent(
        &mut self,
        id: &str,
    ) -> Result<Option<Option<String>>, StoreError> {
        let row = sqlx::query("SELECT agent_id FROM conversations WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .context("reading a conversation")?;
        row.map(|r| r.try_get::<Option<String>, _>("agent_id"))
            .transpose()
            .context("conversations")
    }
}

impl Store {
    /// A sheet version (the latest without `version`).
    pub async fn mystery_sheet(
        &self,
        id: &str,
        version: Option<i64>,
    ) -> Result<Option<MysterySheetRow>, StoreError> {
        let mut conn = self.conn().await?;
        sheet_by_id(&mut conn, id, version).await
    }

    /// The latest version of every sheet, by id.
    pub async fn mystery_sheets(&self) -> Result<Vec<MysterySheetRow>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {SHEET_COLUMNS} FROM mystery_sheets s WHERE version = \
             (SELECT MAX(version) FROM mystery_sheets t WHERE t.id = s.id) ORDER BY id"
        )))
        .fetch_all(self.pool())
        .await
        .context("listing score sheets")?
        .iter()
        .map(sheet_of)
        .collect::<Result<_, _>>()
        .context("mystery_sheets")
    }

    /// A plan.
    pub async fn mystery_plan(&self, id: &str) -> Result<Option<MysteryPlanRow>, StoreError> {
        let mut conn = self.conn().await?;
        plan_by_id(&mut conn, id, "").await
    }

    /// Plans, newest first, at most `limit`; only those in `states` when
    /// it is not empty.
    pub async fn mystery_plans(
        &self,
        states: &[String],
        limit: i64,
    ) -> Result<Vec<MysteryPlanRow>, StoreError> {
        let mut w = Where::default();
        if !states.is_empty() {
            let ps: Vec<String> = states.iter().map(|s| w.arg(Arg::Text(s.clone()))).collect();
            w.push(format!("state IN ({})", ps.join(", ")));
        }
        let sql = format!(
            "SELECT {} FROM mystery_plans WHERE {} ORDER BY created_at DESC, id DESC LIMIT {}",
            PLAN_COLUMNS.join(", "),
            w.sql(),
            w.next_placeholder(1)
        );
        w.bind(sqlx::query(AssertSqlSafe(sql)))
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .context("listing mystery plans")?
            .iter()
            .map(plan_of)
            .collect::<Result<_, _>>()
            .context("mystery_plans")
    }

    /// A shop.
    pub async fn mystery_shop(&self, id: &str) -> Result<Option<MysteryShopRow>, StoreError> {
        let mut conn = self.conn().await?;
        shop_by_id(&mut conn, id, "").await
    }

    /// Shops matching `query`, newest recorded first, at most `limit`.
    pub async fn mystery_shops(
        &self,
        query: &MysteryShopQuery,
        limit: i64,
    ) -> Result<Vec<MysteryShopRow>, StoreError> {
        let w = query.conditions();
        let sql = format!(
            "SELECT {} FROM mystery_shops WHERE {} ORDER BY created_at DESC, id DESC LIMIT {}",
            SHOP_COLUMNS.join(", "),
            w.sql(),
            w.next_placeholder(1)
        );
        w.bind(sqlx::query(AssertSqlSafe(sql)))
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .context("listing mystery shops")?
            .iter()
            .map(shop_of)
            .collect::<Result<_, _>>()
            .context("mystery_shops")
    }
}
