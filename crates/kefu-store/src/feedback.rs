//! Information feedback (信息反馈, migration `0019_feedback`): `feedback`
//! records and their append-only `feedback_events`.
//!
//! The columns are the record: unlike complaints there is no JSON document.
//! Writers lock the row on PostgreSQL ([`Tx::lock_feedback`]) and update it
//! only at the version they read ([`Tx::update_feedback`]). The ageing scan
//! claims rows with `SKIP LOCKED` ([`Tx::claim_aged_feedback`]) and flags
//! each row once per state it enters ([`Tx::flag_feedback_escalated`]:
//! `escalated_at` is set only while it is NULL, and every move clears it).
//! Lists page by keyset, newest first (`created_at DESC, id DESC`), like
//! complaints.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::dialect::{skip_locked, AnyQuery, Arg, Where};
use crate::{Context, Store, StoreError, Tx, COUNT_CAP};

/// A feedback record, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackRow {
    /// Id (`FB-YYYYMMDD-NNNNNN`).
    pub id: String,
    /// Version, bumped by every change.
    pub version: i64,
    /// Where it came from: `conversation_turn`, `survey_comment`,
    /// `complaint` or `manual`.
    pub source: String,
    /// The conversation it was marked in.
    pub conversation_id: Option<String>,
    /// The turn of that conversation (0-based).
    pub turn_index: Option<i64>,
    /// The complaint it came from.
    pub complaint_id: Option<String>,
    /// The customer.
    pub customer_id: Option<String>,
    /// The category path (`/`-separated).
    pub category: String,
    /// The customer's words.
    pub content: String,
    /// The department it is routed to.
    pub department: Option<String>,
    /// The user who owns it in the department.
    pub owner_id: Option<String>,
    /// When the department's answer is due, Unix ms.
    pub due_at: Option<i64>,
    /// State name.
    pub state: String,
    /// The department's answer.
    pub response: Option<String>,
    /// When it was answered.
    pub responded_at: Option<i64>,
    /// When the customer was told the answer.
    pub customer_told_at: Option<i64>,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// Who recorded it.
    pub created_by: String,
    /// Recorded, Unix ms.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// When it entered its state.
    pub state_since: i64,
    /// When ageing flagged it in its current state.
    pub escalated_at: Option<i64>,
    /// Closed or rejected.
    pub closed_at: Option<i64>,
}

/// An entry of a feedback record's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackEventRow {
    /// Row id (ignored when appending).
    pub id: i64,
    /// The record.
    pub feedback_id: String,
    /// When, Unix ms.
    pub at: i64,
    /// Who.
    pub actor_id: String,
    /// In which role (or `system`).
    pub actor_role: String,
    /// What.
    pub kind: String,
    /// State before.
    pub from_state: Option<String>,
    /// State after.
    pub to_state: Option<String>,
    /// Details, JSON.
    pub detail: String,
}

/// Which feedback records a list holds (every field narrows it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackQuery {
    /// Only these states (empty: any).
    pub states: Vec<String>,
    /// Only this department.
    pub department: Option<String>,
    /// Only this owner.
    pub owner: Option<String>,
    /// Only this category or its subcategories.
    pub category: Option<String>,
    /// Only this source.
    pub source: Option<String>,
    /// Only those of this conversation.
    pub conversation_id: Option<String>,
    /// Only those of this customer.
    pub customer_id: Option<String>,
    /// Recorded at or after, Unix ms.
    pub created_from: Option<i64>,
    /// Recorded before.
    pub created_to: Option<i64>,
    /// Only those flagged by ageing.
    pub escalated: bool,
    /// Only those this user recorded or owns (what an agent sees).
    pub involving: Option<String>,
    /// Only open ones past their due time at this instant (Unix ms).
    pub overdue_at: Option<i64>,
}

/// A position in the newest-first feedback order (`created_at DESC, id
/// DESC`): the last record of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackKey {
    /// When it was recorded, Unix ms.
    pub created_at: i64,
    /// Its id.
    pub id: String,
}

/// One page of feedback ([`Tx::feedback_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackPage {
    /// The records, newest first.
    pub rows: Vec<FeedbackRow>,
    /// How many match: exact unless `total_estimated`, then a lower bound
    /// ([`COUNT_CAP`]).
    pub total: i64,
    /// The count stopped at [`COUNT_CAP`].
    pub total_estimated: bool,
    /// Where the next page starts, if there is one.
    pub next: Option<FeedbackKey>,
}

/// One cell of the department board: the records of a department in a
/// state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackBoardRow {
    /// The department (`None`: not routed yet).
    pub department: Option<String>,
    /// State name.
    pub state: String,
    /// How many.
    pub count: i64,
    /// How many of them are past their due time.
    pub overdue: i64,
    /// How many of them ageing flagged.
    pub escalated: i64,
}

/// A text for theme analysis: a feedback record's content or a customer
/// turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeText {
    /// `feedback` or `turn`.
    pub kind: &'static str,
    /// The feedback id, or the conversation id.
    pub id: String,
    /// The turn index (turns only).
    pub turn_index: Option<i64>,
    /// The text.
    pub text: String,
    /// When, Unix ms (recorded, or the conversation's start).
    pub at: i64,
}

/// The columns, in bind order (`id` first).
const COLUMNS: &[&str] = &[
    "id",
    "version",
    "source",
    "conversation_id",
    "turn_index",
    "complaint_id",
    "customer_id",
    "category",
    "content",
    "department",
    "owner_id",
    "due_at",
    "state",
    "response",
    "responded_at",
    "customer_told_at",
    "reject_reason",
    "created_by",
    "created_at",
    "updated_at",
    "state_since",
    "escalated_at",
    "closed_at",
];

const EVENT_COLUMNS: &str =
    "id, feedback_id, at, actor_id, actor_role, kind, from_state, to_state, detail";

/// The states in which a record is still open (not closed or rejected).
const OPEN_STATES_SQL: &str = "state NOT IN ('closed', 'rejected')";

fn bind_row<'q>(q: AnyQuery<'q>, f: &FeedbackRow) -> AnyQuery<'q> {
    q.bind(f.id.clone())
        .bind(f.version)
        .bind(f.source.clone())
        .bind(f.conversation_id.clone())
        .bind(f.turn_index)
        .bind(f.complaint_id.clone())
        .bind(f.customer_id.clone())
        .bind(f.category.clone())
        .bind(f.content.clone())
        .bind(f.department.clone())
        .bind(f.owner_id.clone())
        .bind(f.due_at)
        .bind(f.state.clone())
        .bind(f.response.clone())
        .bind(f.responded_at)
        .bind(f.customer_told_at)
        .bind(f.reject_reason.clone())
        .bind(f.created_by.clone())
        .bind(f.created_at)
        .bind(f.updated_at)
        .bind(f.state_since)
        .bind(f.escalated_at)
        .bind(f.closed_at)
}

fn row_of(r: &AnyRow) -> Result<FeedbackRow, sqlx::Error> {
    Ok(FeedbackRow {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        source: r.try_get("source")?,
        conversation_id: r.try_get("conversation_id")?,
        turn_index: r.try_get("turn_index")?,
        complaint_id: r.try_get("complaint_id")?,
        customer_id: r.try_get("customer_id")?,
        category: r.try_get("category")?,
        content: r.try_get("content")?,
        department: r.try_get("department")?,
        owner_id: r.try_get("owner_id")?,
        due_at: r.try_get("due_at")?,
        state: r.try_get("state")?,
        response: r.try_get("response")?,
        responded_at: r.try_get("responded_at")?,
        customer_told_at: r.try_get("customer_told_at")?,
        reject_reason: r.try_get("reject_reason")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        state_since: r.try_get("state_since")?,
        escalated_at: r.try_get("escalated_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

fn event_of(r: &AnyRow) -> Result<FeedbackEventRow, sqlx::Error> {
    Ok(FeedbackEventRow {
        id: r.try_get("id")?,
        feedback_id: r.try_get("feedback_id")?,
        at: r.try_get("at")?,
        actor_id: r.try_get("actor_id")?,
        actor_role: r.try_get("actor_role")?,
        kind: r.try_get("kind")?,
        from_state: r.try_get("from_state")?,
        to_state: r.try_get("to_state")?,
        detail: r.try_get("detail")?,
    })
}

fn rows_of(rows: &[AnyRow]) -> Result<Vec<FeedbackRow>, StoreError> {
    rows.iter()
        .map(row_of)
        .collect::<Result<_, _>>()
        .context("feedback")
}

impl FeedbackQuery {
    fn conditions(&self) -> Where {
        let mut w = Where::default();
        if !self.states.is_empty() {
            let ps: Vec<String> = self
                .states
                .iter()
                .map(|s| w.arg(Arg::Text(s.clone())))
                .collect();
            w.push(format!("f.state IN ({})", ps.join(", ")));
        }
        for (column, value) in [
            ("department", &self.department),
            ("owner_id", &self.owner),
            ("source", &self.source),
            ("conversation_id", &self.conversation_id),
            ("customer_id", &self.customer_id),
        ] {
            if let Some(v) = value {
                let p = w.arg(Arg::Text(v.clone()));
                w.push(format!("f.{column} = {p}"));
            }
        }
        if let Some(c) = &self.category {
            let exact = w.arg(Arg::Text(c.clone()));
            let prefix = w.arg(Arg::Text(format!("{c}/")));
            // A prefix test without LIKE, so that `%` and `_` in a category
            // mean themselves.
            w.push(format!(
                "(f.category = {exact} OR substr(f.category, 1, length({prefix})) = {prefix})"
            ));
        }
        if let Some(from) = self.created_from {
            let p = w.arg(Arg::Int(from));
            w.push(format!("f.created_at >= {p}"));
        }
        if let Some(to) = self.created_to {
            let p = w.arg(Arg::Int(to));
            w.push(format!("f.created_at < {p}"));
        }
        if let Some(user) = &self.involving {
            let p = w.arg(Arg::Text(user.clone()));
            w.push(format!("(f.created_by = {p} OR f.owner_id = {p})"));
        }
        if self.escalated {
            w.push("f.escalated_at IS NOT NULL");
        }
        if let Some(now) = self.overdue_at {
            let p = w.arg(Arg::Int(now));
            w.push(format!(
                "f.due_at IS NOT NULL AND f.due_at < {p} AND f.{OPEN_STATES_SQL}"
            ));
        }
        w
    }
}

async fn feedback_by_id(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    lock: &str,
) -> Result<Option<FeedbackRow>, StoreError> {
    let sql = format!(
        "SELECT {} FROM feedback WHERE id = $1{lock}",
        COLUMNS.join(", ")
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
        .context("reading feedback")?
        .as_ref()
        .map(row_of)
        .transpose()
        .context("feedback")
}

impl Tx {
    /// Stores a new feedback record; `false` when the id is taken.
    pub async fn insert_feedback(&mut self, f: &FeedbackRow) -> Result<bool, StoreError> {
        let values: Vec<String> = (1..=COLUMNS.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO feedback ({}) VALUES ({}) ON CONFLICT (id) DO NOTHING RETURNING id",
            COLUMNS.join(", "),
            values.join(", ")
        );
        let inserted = bind_row(sqlx::query(AssertSqlSafe(sql)), f)
            .fetch_optional(self.conn())
            .await
            .context("storing feedback")?;
        Ok(inserted.is_some())
    }

    /// A feedback record read for writing: locked until the transaction
    /// ends on PostgreSQL.
    pub async fn lock_feedback(&mut self, id: &str) -> Result<Option<FeedbackRow>, StoreError> {
        let lock = self.lock_rows();
        feedback_by_id(self.conn(), id, lock).await
    }

    /// Rewrites a record still at `expected_version`; `false` when it moved
    /// on meanwhile.
    pub async fn update_feedback(
        &mut self,
        f: &FeedbackRow,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        let sql = crate::dialect::update_by_version("feedback", COLUMNS);
        let n = bind_row(sqlx::query(AssertSqlSafe(sql)), f)
            .bind(expected_version)
            .execute(self.conn())
            .await
            .context("updating feedback")?
            .rows_affected();
        Ok(n > 0)
    }

    /// Appends a history entry.
    pub async fn append_feedback_event(&mut self, e: &FeedbackEventRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO feedback_events (feedback_id, at, actor_id, actor_role, kind, from_state, \
             to_state, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(e.feedback_id.as_str())
        .bind(e.at)
        .bind(e.actor_id.as_str())
        .bind(e.actor_role.as_str())
        .bind(e.kind.as_str())
        .bind(e.from_state.as_deref())
        .bind(e.to_state.as_deref())
        .bind(e.detail.as_str())
        .execute(self.conn())
        .await
        .context("appending feedback history")?;
        Ok(())
    }

    /// Open records that entered `state` before `entered_before` and are
    /// not flagged yet, oldest first, at most `limit`: claimed (`SKIP
    /// LOCKED` on PostgreSQL, so nodes ageing at once share the work).
    pub async fn claim_aged_feedback(
        &mut self,
        state: &str,
        entered_before: i64,
        limit: i64,
    ) -> Result<Vec<FeedbackRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM feedback WHERE state = $1 AND state_since < $2 \
             AND escalated_at IS NULL ORDER BY state_since, id LIMIT $3{}",
            COLUMNS.join(", "),
            skip_locked(self.backend())
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(state)
            .bind(entered_before)
            .bind(limit)
            .fetch_all(self.conn())
            .await
            .context("claiming aged feedback")?;
        rows_of(&rows)
    }

    /// Flags a record as escalated at `now` if it is still in `state` and
    /// not flagged; `false` when it was (or moved on).
    pub async fn flag_feedback_escalated(
        &mut self,
        id: &str,
        state: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE feedback SET escalated_at = $3, version = version + 1, updated_at = $3 \
             WHERE id = $1 AND state = $2 AND escalated_at IS NULL",
        )
        .bind(id)
        .bind(state)
        .bind(now)
        .execute(self.conn())
        .await
        .context("flagging feedback")?
        .rows_affected();
        Ok(n > 0)
    }

    /// One page of the records matching `query`, newest first: `limit` rows
    /// after `after` (keyset) or, without it, after skipping `offset`. The
    /// total is counted up to [`COUNT_CAP`].
    pub async fn feedback_page(
        &mut self,
        query: &FeedbackQuery,
        limit: i64,
        offset: i64,
        after: Option<&FeedbackKey>,
    ) -> Result<FeedbackPage, StoreError> {
        let w = query.conditions();
        let count_sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM feedback f WHERE {} LIMIT {}) t",
            w.sql(),
            w.next_placeholder(1)
        );
        let mut page_w = w.clone();
        if let Some(key) = after {
            let at = page_w.arg(Arg::Int(key.created_at));
            let id = page_w.arg(Arg::Text(key.id.clone()));
            page_w.push(format!(
                "f.created_at <= {at} AND (f.created_at < {at} OR f.id < {id})"
            ));
        }
        let columns: Vec<String> = COLUMNS.iter().map(|c| format!("f.{c}")).collect();
        let list_sql = format!(
            "SELECT {} FROM feedback f WHERE {} ORDER BY f.created_at DESC, f.id DESC \
             LIMIT {} OFFSET {}",
            columns.join(", "),
            page_w.sql(),
            page_w.next_placeholder(1),
            page_w.next_placeholder(2)
        );
        let rows = page_w
            .bind(sqlx::query(AssertSqlSafe(list_sql)))
            .bind(limit.saturating_add(1))
            .bind(if after.is_some() { 0 } else { offset })
            .fetch_all(self.conn())
            .await
            .context("listing feedback")?;
        let counted: i64 = w
            .bind(sqlx::query(AssertSqlSafe(count_sql)))
            .bind(COUNT_CAP)
            .fetch_one(self.conn())
            .await
            .context("counting feedback")?
            .try_get("n")
            .context("count")?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        let mut out = rows_of(&rows)?;
        out.truncate(usize::try_from(limit).unwrap_or(0));
        let next = match out.last() {
            Some(last) if more => Some(FeedbackKey {
                created_at: last.created_at,
                id: last.id.clone(),
            }),
            _ => None,
        };
        Ok(FeedbackPage {
            rows: out,
            total: counted,
            total_estimated: counted >= COUNT_CAP,
            next,
        })
    }
}

impl Store {
    /// A feedback record.
    pub async fn feedback(&self, id: &str) -> Result<Option<FeedbackRow>, StoreError> {
        let mut conn = self.conn().await?;
        feedback_by_id(&mut conn, id, "").await
    }

    /// A record's history, oldest first.
    pub async fn feedback_events(&self, id: &str) -> Result<Vec<FeedbackEventRow>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM feedback_events WHERE feedback_id = $1 ORDER BY id"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(self.pool())
            .await
            .context("reading feedback history")?
            .iter()
            .map(event_of)
            .collect::<Result<_, _>>()
            .context("feedback_events")
    }

    /// One page of feedback ([`Tx::feedback_page`]) outside a transaction.
    pub async fn feedback_page(
        &self,
        query: &FeedbackQuery,
        limit: i64,
        offset: i64,
        after: Option<&FeedbackKey>,
    ) -> Result<FeedbackPage, StoreError> {
        let mut tx = self.read().await?;
        let page = tx.feedback_page(query, limit, offset, after).await?;
        tx.commit().await?;
        Ok(page)
    }

    /// The department board at `now`: per department and state, how many
    /// records, how many past due (open ones only) and how many flagged by
    /// ageing. Closed and rejected records count only when recorded at or
    /// after `closed_since`.
    pub async fn feedback_board(
        &self,
        now: i64,
        closed_since: i64,
    ) -> Result<Vec<FeedbackBoardRow>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT department, state, COUNT(*) AS n, \
             SUM(CASE WHEN due_at IS NOT NULL AND due_at < $1 AND {OPEN_STATES_SQL} THEN 1 ELSE 0 END) AS overdue, \
             SUM(CASE WHEN escalated_at IS NOT NULL THEN 1 ELSE 0 END) AS escalated \
             FROM feedback WHERE {OPEN_STATES_SQL} OR created_at >= $2 \
             GROUP BY department, state ORDER BY department, state"
        )))
        .bind(now)
        .bind(closed_since)
        .fetch_all(self.pool())
        .await
        .context("reading the feedback board")?
        .iter()
        .map(|r| {
            Ok(FeedbackBoardRow {
                department: r.try_get("department")?,
                state: r.try_get("state")?,
                count: r.try_get("n")?,
                overdue: r.try_get::<Option<i64>, _>("overdue")?.unwrap_or(0),
                escalated: r.try_get::<Option<i64>, _>("escalated")?.unwrap_or(0),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .context("feedback board")
    }

    /// The texts of a period `[from_ms, to_ms)` for theme analysis: the
    /// content of every feedback record recorded then and every customer
    /// turn of the conversations that started then (at most
    /// `max_conversations` of them, the earliest), in a stable order.
    pub async fn theme_texts(
        &self,
        from_ms: i64,
        to_ms: i64,
        max_conversations: i64,
    ) -> Result<Vec<ThemeText>, StoreError> {
        let mut out = Vec::new();
        let rows = sqlx::query(
            "SELECT id, content, created_at FROM feedback \
             WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await
        .context("reading feedback texts")?;
        for r in &rows {
            out.push(ThemeText {
                kind: "feedback",
                id: r.try_get("id").context("feedback")?,
                turn_index: None,
                text: r.try_get("content").context("feedback")?,
                at: r.try_get("created_at").context("feedback")?,
            });
        }
        let rows = sqlx::query(
            "SELECT id, started_at, record FROM conversations \
             WHERE started_at >= $1 AND started_at < $2 ORDER BY started_at, id LIMIT $3",
        )
        .bind(from_ms)
        .bind(to_ms)
        .bind(max_conversations)
        .fetch_all(self.pool())
        .await
        .context("reading conversations of a period")?;
        for r in &rows {
            let id: String = r.try_get("id").context("conversations")?;
            let at: i64 = r.try_get("started_at").context("conversations")?;
            let record: Vec<u8> = r.try_get("record").context("conversations")?;
            let json = crate::packed::unpack(&record)
                .map_err(|reason| StoreError::corrupt(format!("conversation {id}"), reason))?;
            let conv: kefu_engine::model::Conversation<'_> = serde_json::from_slice(&json)
                .map_err(|e| StoreError::corrupt(format!("conversation {id}"), e))?;
            for (i, turn) in conv.turns.iter().enumerate() {
                if turn.role == kefu_engine::model::Role::Customer && !turn.text.trim().is_empty() {
                    out.push(ThemeText {
                        kind: "turn",
                        id: id.clone(),
                        turn_index: i64::try_from(i).ok(),
                        text: turn.text.to_string(),
                        at,
                    });
                }
            }
        }
        Ok(out)
    }
}
