//! Shift handover (交接班, migration `0021_handover`): shifts per team,
//! handovers with their items, the append-only `handover_events` and the
//! once-per-item `handover_escalations`.
//!
//! A handover row and its items are the current state; every change is
//! also an event, and events are never rewritten (the triggers refuse
//! it, and this module offers no way to). Writers lock the handover row
//! on PostgreSQL ([`Tx::lock_handover`]) and rewrite it only at the
//! version they read ([`Tx::update_handover`]). The live-data reads that
//! pre-fill a handover (`handover_*_due`) are plain index ranges over the
//! tables of the other features.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Context, Store, StoreError, Tx};

/// A shift of a team, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftRow {
    /// Row id (ignored when storing).
    pub id: i64,
    /// The team (`users.team`).
    pub team: String,
    /// 早班, 中班, 晚班 …
    pub name: String,
    /// Start, minutes after local midnight.
    pub start_min: i64,
    /// End, minutes after local midnight (before the start: the next day).
    pub end_min: i64,
}

/// A handover, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverRow {
    /// Id (`HO-YYYYMMDD-NNNNNN`).
    pub id: String,
    /// Version, bumped by every change.
    pub version: i64,
    /// The team.
    pub team: String,
    /// The outgoing shift.
    pub shift_name: String,
    /// The incoming shift.
    pub next_shift_name: String,
    /// The outgoing user.
    pub from_user: String,
    /// The incoming user, when named.
    pub to_user: Option<String>,
    /// Start of the window (the outgoing shift's end), Unix ms.
    pub window_from: i64,
    /// End of the window (the next shift's end), Unix ms.
    pub window_to: i64,
    /// A note for the whole handover.
    pub note: String,
    /// `draft`, `submitted`, `acknowledged` or `disputed`.
    pub state: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// Submitted.
    pub submitted_at: Option<i64>,
    /// Every item acknowledged.
    pub acknowledged_at: Option<i64>,
}

/// An item of a handover, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverItemRow {
    /// Row id (ignored when storing).
    pub id: i64,
    /// The handover.
    pub handover_id: String,
    /// Order within the handover.
    pub position: i64,
    /// `complaint_reply`, `complaint_resolve`, `revisit`, `follow_up`,
    /// `care`, `appeal`, `feedback` or `free`.
    pub kind: String,
    /// The object it is about (complaint id, customer id, appeal id …).
    pub object_id: Option<String>,
    /// What it is.
    pub title: String,
    /// `normal`, `watch` or `urgent`.
    pub severity: String,
    /// What to do.
    pub action: String,
    /// Who does it.
    pub owner: Option<String>,
    /// By when, Unix ms.
    pub due_at: Option<i64>,
    /// 若…则…: what to do if it goes wrong.
    pub contingency: String,
    /// `pending`, `acknowledged` or `disputed`.
    pub state: String,
    /// The incoming user's own words.
    pub restatement: Option<String>,
    /// Why the incoming user disputes it.
    pub dispute_reason: Option<String>,
    /// Who acknowledged or disputed it.
    pub answered_by: Option<String>,
    /// When.
    pub answered_at: Option<i64>,
}

/// An entry of a handover's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverEventRow {
    /// Row id (ignored when appending).
    pub id: i64,
    /// The handover.
    pub handover_id: String,
    /// The item, for item events.
    pub item_id: Option<i64>,
    /// When, Unix ms.
    pub at: i64,
    /// Who (`system` for escalations).
    pub actor_id: String,
    /// What.
    pub kind: String,
    /// Details, JSON.
    pub detail: String,
}

/// Which handovers a list holds (every field narrows it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandoverQuery {
    /// Only those of this outgoing user.
    pub from_user: Option<String>,
    /// Only those of this team.
    pub team: Option<String>,
    /// Only these states (empty: any).
    pub states: Vec<String>,
    /// Only those with an escalated item.
    pub escalated: bool,
}

/// An urgent item past its acknowledgement time, with its handover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverdueUrgentItem {
    /// The item.
    pub item_id: i64,
    /// The handover.
    pub handover_id: String,
    /// The handover's team.
    pub team: String,
    /// The item's title.
    pub title: String,
}

/// A live object that may become a pre-filled item: what the `*_due`
/// reads return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueObject {
    /// Its id (complaint, customer, appeal, feedback id; revisit task id).
    pub id: String,
    /// The complaint a revisit belongs to, or the conversation of an appeal.
    pub parent_id: Option<String>,
    /// A short description (category, rule …).
    pub label: String,
    /// When it is due, Unix ms (creation time for appeals).
    pub due_at: i64,
}

const HANDOVER_COLUMNS: &[&str] = &[
    "id",
    "version",
    "team",
    "shift_name",
    "next_shift_name",
    "from_user",
    "to_user",
    "window_from",
    "window_to",
    "note",
    "state",
    "created_at",
    "updated_at",
    "submitted_at",
    "acknowledged_at",
];

const ITEM_COLUMNS: &str = "id, handover_id, position, kind, object_id, title, severity, action, \
     owner, due_at, contingency, state, restatement, dispute_reason, answered_by, answered_at";

fn handover_of(r: &AnyRow) -> Result<HandoverRow, sqlx::Error> {
    Ok(HandoverRow {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        team: r.try_get("team")?,
        shift_name: r.try_get("shift_name")?,
        next_shift_name: r.try_get("next_shift_name")?,
        from_user: r.try_get("from_user")?,
        to_user: r.try_get("to_user")?,
        window_from: r.try_get("window_from")?,
        window_to: r.try_get("window_to")?,
        note: r.try_get("note")?,
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        submitted_at: r.try_get("submitted_at")?,
        acknowledged_at: r.try_get("acknowledged_at")?,
    })
}

fn item_of(r: &AnyRow) -> Result<HandoverItemRow, sqlx::Error> {
    Ok(HandoverItemRow {
        id: r.try_get("id")?,
        handover_id: r.try_get("handover_id")?,
        position: r.try_get("position")?,
        kind: r.try_get("kind")?,
        object_id: r.try_get("object_id")?,
        title: r.try_get("title")?,
        severity: r.try_get("severity")?,
        action: r.try_get("action")?,
        owner: r.try_get("owner")?,
        due_at: r.try_get("due_at")?,
        contingency: r.try_get("contingency")?,
        state: r.try_get("state")?,
        restatement: r.try_get("restatement")?,
        dispute_reason: r.try_get("dispute_reason")?,
        answered_by: r.try_get("answered_by")?,
        answered_at: r.try_get("answered_at")?,
    })
}

fn event_of(r: &AnyRow) -> Result<HandoverEventRow, sqlx::Error> {
    Ok(HandoverEventRow {
        id: r.try_get("id")?,
        handover_id: r.try_get("handover_id")?,
        item_id: r.try_get("item_id")?,
        at: r.try_get("at")?,
        actor_id: r.try_get("actor_id")?,
        kind: r.try_get("kind")?,
        detail: r.try_get("detail")?,
    })
}

fn shift_of(r: &AnyRow) -> Result<ShiftRow, sqlx::Error> {
    Ok(ShiftRow {
        id: r.try_get("id")?,
        team: r.try_get("team")?,
        name: r.try_get("name")?,
        start_min: r.try_get("start_min")?,
        end_min: r.try_get("end_min")?,
    })
}

fn due_of(r: &AnyRow) -> Result<DueObject, sqlx::Error> {
    Ok(DueObject {
        id: r.try_get("id")?,
        parent_id: r.try_get("parent_id")?,
        label: r.try_get("label")?,
        due_at: r.try_get("due_at")?,
    })
}

async fn handover_by_id(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    lock: &str,
) -> Result<Option<HandoverRow>, StoreError> {
    let sql = format!(
        "SELECT {} FROM handovers WHERE id = $1{lock}",
        HANDOVER_COLUMNS.join(", ")
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
        .context("reading a handover")?
        .as_ref()
        .map(handover_of)
        .transpose()
        .context("handovers")
}

async fn items_of(
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> Result<Vec<HandoverItemRow>, StoreError> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM handover_items WHERE handover_id = $1 ORDER BY position, id"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(conn)
        .await
        .context("reading handover items")?
        .iter()
        .map(item_of)
        .collect::<Result<_, _>>()
        .context("handover_items")
}

fn bind_handover<'q>(
    q: crate::dialect::AnyQuery<'q>,
    h: &HandoverRow,
) -> crate::dialect::AnyQuery<'q> {
    q.bind(h.id.clone())
        .bind(h.version)
        .bind(h.team.clone())
        .bind(h.shift_name.clone())
        .bind(h.next_shift_name.clone())
        .bind(h.from_user.clone())
        .bind(h.to_user.clone())
        .bind(h.window_from)
        .bind(h.window_to)
        .bind(h.note.clone())
        .bind(h.state.clone())
        .bind(h.created_at)
        .bind(h.updated_at)
        .bind(h.submitted_at)
        .bind(h.acknowledged_at)
}

impl Tx {
    /// Replaces the shifts of `team` with `shifts`.
    pub async fn replace_shifts(
        &mut self,
        team: &str,
        shifts: &[ShiftRow],
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM handover_shifts WHERE team = $1")
            .bind(team)
            .execute(self.conn())
            .await
            .context("replacing shifts")?;
        for s in shifts {
            sqlx::query(
                "INSERT INTO handover_shifts (team, name, start_min, end_min, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(team)
            .bind(s.name.as_str())
            .bind(s.start_min)
            .bind(s.end_min)
            .bind(now)
            .execute(self.conn())
            .await
            .context("storing a shift")?;
        }
        Ok(())
    }

    /// Stores a new handover; `false` when the id is taken.
    pub async fn insert_handover(&mut self, h: &HandoverRow) -> Result<bool, StoreError> {
        let values: Vec<String> = (1..=HANDOVER_COLUMNS.len())
            .map(|i| format!("${i}"))
            .collect();
        let sql = format!(
            "INSERT INTO handovers ({}) VALUES ({}) ON CONFLICT (id) DO NOTHING RETURNING id",
            HANDOVER_COLUMNS.join(", "),
            values.join(", ")
        );
        let inserted = bind_handover(sqlx::query(AssertSqlSafe(sql)), h)
            .fetch_optional(self.conn())
            .await
            .context("storing a handover")?;
        Ok(inserted.is_some())
    }

    /// A handover read for writing: locked until the transaction ends on
    /// PostgreSQL.
    pub async fn lock_handover(&mut self, id: &str) -> Result<Option<HandoverRow>, StoreError> {
        let lock = self.lock_rows();
        handover_by_id(self.conn(), id, lock).await
    }

    /// Rewrites a handover still at `expected_version`; `false` when it
    /// moved on meanwhile.
    pub async fn update_handover(
        &mut self,
        h: &HandoverRow,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        let sql = crate::dialect::update_by_version("handovers", HANDOVER_COLUMNS);
        let n = bind_handover(sqlx::query(AssertSqlSafe(sql)), h)
            .bind(expected_version)
            .execute(self.conn())
            .await
            .context("updating a handover")?
            .rows_affected();
        Ok(n > 0)
    }

    /// The items of a handover, in order (read inside the transaction).
    pub async fn handover_items_in(
        &mut self,
        id: &str,
    ) -> Result<Vec<HandoverItemRow>, StoreError> {
        items_of(self.conn(), id).await
    }

    /// Removes every item of a draft handover (items are replaced whole
    /// while the handover is a draft; the history keeps what they were).
    pub async fn delete_draft_items(&mut self, handover_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM handover_items WHERE handover_id = $1 AND handover_id IN \
             (SELECT id FROM handovers WHERE id = $1 AND state = 'draft')",
        )
        .bind(handover_id)
        .execute(self.conn())
        .await
        .context("replacing handover items")?;
        Ok(())
    }

    /// Stores an item; returns its id.
    pub async fn insert_handover_item(&mut self, i: &HandoverItemRow) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO handover_items (handover_id, position, kind, object_id, title, severity, \
             action, owner, due_at, contingency, state, restatement, dispute_reason, answered_by, \
             answered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             RETURNING id",
        )
        .bind(i.handover_id.as_str())
        .bind(i.position)
        .bind(i.kind.as_str())
        .bind(i.object_id.as_deref())
        .bind(i.title.as_str())
        .bind(i.severity.as_str())
        .bind(i.action.as_str())
        .bind(i.owner.as_deref())
        .bind(i.due_at)
        .bind(i.contingency.as_str())
        .bind(i.state.as_str())
        .bind(i.restatement.as_deref())
        .bind(i.dispute_reason.as_deref())
        .bind(i.answered_by.as_deref())
        .bind(i.answered_at)
        .fetch_one(self.conn())
        .await
        .context("storing a handover item")?;
        row.try_get::<i64, _>("id").context("handover_items")
    }

    /// Records the incoming user's answer to an item: its state, their
    /// restatement and dispute reason, who and when.
    pub async fn answer_handover_item(&mut self, i: &HandoverItemRow) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE handover_items SET state = $2, restatement = $3, dispute_reason = $4, \
             answered_by = $5, answered_at = $6 WHERE id = $1",
        )
        .bind(i.id)
        .bind(i.state.as_str())
        .bind(i.restatement.as_deref())
        .bind(i.dispute_reason.as_deref())
        .bind(i.answered_by.as_deref())
        .bind(i.answered_at)
        .execute(self.conn())
        .await
        .context("answering a handover item")?;
        Ok(())
    }

    /// Appends a history entry.
    pub async fn append_handover_event(&mut self, e: &HandoverEventRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO handover_events (handover_id, item_id, at, actor_id, kind, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.handover_id.as_str())
        .bind(e.item_id)
        .bind(e.at)
        .bind(e.actor_id.as_str())
        .bind(e.kind.as_str())
        .bind(e.detail.as_str())
        .execute(self.conn())
        .await
        .context("appending handover history")?;
        Ok(())
    }

    /// Urgent items not acknowledged of handovers submitted before
    /// `submitted_before` and still waiting, not escalated yet, oldest
    /// first, at most `limit`.
    pub async fn overdue_urgent_items(
        &mut self,
        submitted_before: i64,
        limit: i64,
    ) -> Result<Vec<OverdueUrgentItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.id AS item_id, h.id AS handover_id, h.team AS team, i.title AS title \
             FROM handover_items i JOIN handovers h ON h.id = i.handover_id \
             WHERE i.severity = 'urgent' AND i.state <> 'acknowledged' \
             AND h.state IN ('submitted', 'disputed') AND h.submitted_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM handover_escalations e WHERE e.item_id = i.id) \
             ORDER BY h.submitted_at, i.id LIMIT $2",
        )
        .bind(submitted_before)
        .bind(limit)
        .fetch_all(self.conn())
        .await
        .context("reading urgent handover items")?;
        rows.iter()
            .map(|r| {
                Ok(OverdueUrgentItem {
                    item_id: r.try_get("item_id")?,
                    handover_id: r.try_get("handover_id")?,
                    team: r.try_get("team")?,
                    title: r.try_get("title")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("handover_items")
    }

    /// Records the escalation of an item; `false` when it was escalated
    /// before (by this node or another).
    pub async fn insert_handover_escalation(
        &mut self,
        item_id: i64,
        handover_id: &str,
        now: i64,
        node_id: &str,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "INSERT INTO handover_escalations (item_id, handover_id, at, node_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (item_id) DO NOTHING RETURNING item_id",
        )
        .bind(item_id)
        .bind(handover_id)
        .bind(now)
        .bind(node_id)
        .fetch_optional(self.conn())
        .await
        .context("recording a handover escalation")?;
        Ok(row.is_some())
    }
}

impl Store {
    /// The shifts of `team` (every team's when `None`), by team and start.
    pub async fn handover_shifts(&self, team: Option<&str>) -> Result<Vec<ShiftRow>, StoreError> {
        let rows = match team {
            Some(t) => sqlx::query(
                "SELECT id, team, name, start_min, end_min FROM handover_shifts WHERE team = $1 \
                 ORDER BY team, start_min, name",
            )
            .bind(t)
            .fetch_all(self.pool())
            .await,
            None => {
                sqlx::query(
                    "SELECT id, team, name, start_min, end_min FROM handover_shifts \
                 ORDER BY team, start_min, name",
                )
                .fetch_all(self.pool())
                .await
            }
        }
        .context("reading shifts")?;
        rows.iter()
            .map(shift_of)
            .collect::<Result<_, _>>()
            .context("handover_shifts")
    }

    /// A handover.
    pub async fn handover(&self, id: &str) -> Result<Option<HandoverRow>, StoreError> {
        let mut conn = self.conn().await?;
        handover_by_id(&mut conn, id, "").await
    }

    /// The items of a handover, in order.
    pub async fn handover_items(&self, id: &str) -> Result<Vec<HandoverItemRow>, StoreError> {
        let mut conn = self.conn().await?;
        items_of(&mut conn, id).await
    }

    /// A handover's history, oldest first.
    pub async fn handover_events(&self, id: &str) -> Result<Vec<HandoverEventRow>, StoreError> {
        sqlx::query(
            "SELECT id, handover_id, item_id, at, actor_id, kind, detail FROM handover_events \
             WHERE handover_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .context("reading handover history")?
        .iter()
        .map(event_of)
        .collect::<Result<_, _>>()
        .context("handover_events")
    }

    /// The ids of a handover's escalated items.
    pub async fn handover_escalated_items(&self, id: &str) -> Result<Vec<i64>, StoreError> {
        sqlx::query(
            "SELECT item_id FROM handover_escalations WHERE handover_id = $1 ORDER BY item_id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .context("reading handover escalations")?
        .iter()
        .map(|r| r.try_get::<i64, _>("item_id"))
        .collect::<Result<_, _>>()
        .context("handover_escalations")
    }

    /// Handovers matching `query`, newest first, at most `limit`.
    pub async fn handovers(
        &self,
        query: &HandoverQuery,
        limit: i64,
    ) -> Result<Vec<HandoverRow>, StoreError> {
        let mut w = crate::dialect::Where::default();
        if let Some(u) = &query.from_user {
            let p = w.arg(crate::dialect::Arg::Text(u.clone()));
            w.push(format!("h.from_user = {p}"));
        }
        if let Some(t) = &query.team {
            let p = w.arg(crate::dialect::Arg::Text(t.clone()));
            w.push(format!("h.team = {p}"));
        }
        if !query.states.is_empty() {
            let ps: Vec<String> = query
                .states
                .iter()
                .map(|s| w.arg(crate::dialect::Arg::Text(s.clone())))
                .collect();
            w.push(format!("h.state IN ({})", ps.join(", ")));
        }
        if query.escalated {
            w.push("EXISTS (SELECT 1 FROM handover_escalations e WHERE e.handover_id = h.id)");
        }
        let limit_p = w.next_placeholder(1);
        let cols: Vec<String> = HANDOVER_COLUMNS.iter().map(|c| format!("h.{c}")).collect();
        let sql = format!(
            "SELECT {} FROM handovers h WHERE {} ORDER BY h.created_at DESC, h.id DESC LIMIT {limit_p}",
            cols.join(", "),
            w.sql()
        );
        w.bind(sqlx::query(AssertSqlSafe(sql)))
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .context("listing handovers")?
            .iter()
            .map(handover_of)
            .collect::<Result<_, _>>()
            .context("handovers")
    }

    /// Open complaints assigned to `user` (or to the group `team`) whose
    /// first-reply deadline (`reply`) or resolution deadline falls in
    /// `[from, to)`.
    pub async fn handover_complaints_due(
        &self,
        user: &str,
        team: &str,
        reply: bool,
        from: i64,
        to: i64,
    ) -> Result<Vec<DueObject>, StoreError> {
        let column = if reply {
            "reply_due_at"
        } else {
            "resolve_due_at"
        };
        let sql = format!(
            "SELECT id, NULL AS parent_id, category AS label, {column} AS due_at FROM complaints \
             WHERE {column} >= $1 AND {column} < $2 AND closed_at IS NULL \
             AND ((assignee_kind = 'agent' AND assignee_id = $3) \
             OR (assignee_kind = 'group' AND assignee_id = $4)) ORDER BY {column}, id"
        );
        self.due_objects(sql, from, to, user, Some(team), "reading complaints due")
            .await
    }

    /// Open revisit tasks (回访) due in `[from, to)` of complaints
    /// assigned to `user` or the group `team`.
    pub async fn handover_revisits_due(
        &self,
        user: &str,
        team: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<DueObject>, StoreError> {
        let sql =
            "SELECT CAST(r.id AS TEXT) AS id, r.complaint_id AS parent_id, c.category AS label, \
             r.due_at AS due_at FROM revisit_tasks r JOIN complaints c ON c.id = r.complaint_id \
             WHERE r.done_at IS NULL AND r.due_at >= $1 AND r.due_at < $2 \
             AND ((c.assignee_kind = 'agent' AND c.assignee_id = $3) \
             OR (c.assignee_kind = 'group' AND c.assignee_id = $4)) ORDER BY r.due_at, r.id"
                .to_string();
        self.due_objects(sql, from, to, user, Some(team), "reading revisits due")
            .await
    }

    /// Customers owned by `user` whose follow-up falls due in `[from, to)`.
    pub async fn handover_follow_ups_due(
        &self,
        user: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<DueObject>, StoreError> {
        let sql =
            "SELECT id, NULL AS parent_id, name AS label, next_due_at AS due_at FROM customers \
             WHERE next_due_at >= $1 AND next_due_at < $2 AND merged_into IS NULL \
             AND owner_id = $3 ORDER BY next_due_at, id"
                .to_string();
        self.due_objects(sql, from, to, user, None, "reading follow-ups due")
            .await
    }

    /// Open information-feedback records owned by `user` due in
    /// `[from, to)`.
    pub async fn handover_feedback_due(
        &self,
        user: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<DueObject>, StoreError> {
        let sql = "SELECT id, NULL AS parent_id, category AS label, due_at FROM feedback \
             WHERE due_at >= $1 AND due_at < $2 AND state NOT IN ('closed', 'rejected') \
             AND owner_id = $3 ORDER BY due_at, id"
            .to_string();
        self.due_objects(sql, from, to, user, None, "reading feedback due")
            .await
    }

    /// Open appeals (申诉) filed before `to` — of agent `user`, or every
    /// open appeal when `user` is `None` (supervisors decide them).
    pub async fn handover_open_appeals(
        &self,
        user: Option<&str>,
        to: i64,
    ) -> Result<Vec<DueObject>, StoreError> {
        let base = "SELECT CAST(id AS TEXT) AS id, conversation_id AS parent_id, rule AS label, \
             created_at AS due_at FROM appeals WHERE state = 'open' AND created_at < $1";
        let rows = match user {
            Some(u) => {
                sqlx::query(AssertSqlSafe(format!(
                    "{base} AND agent_id = $2 ORDER BY created_at, id LIMIT 200"
                )))
                .bind(to)
                .bind(u)
                .fetch_all(self.pool())
                .await
            }
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "{base} ORDER BY created_at, id LIMIT 200"
                )))
                .bind(to)
                .fetch_all(self.pool())
                .await
            }
        }
        .context("reading open appeals")?;
        rows.iter()
            .map(due_of)
            .collect::<Result<_, _>>()
            .context("appeals")
    }

    async fn due_objects(
        &self,
        sql: String,
        from: i64,
        to: i64,
        user: &str,
        team: Option<&str>,
        context: &'static str,
    ) -> Result<Vec<DueObject>, StoreError> {
        let mut q = sqlx::query(AssertSqlSafe(format!("{sql} LIMIT 200")))
            .bind(from)
            .bind(to)
            .bind(user.to_string());
        if let Some(t) = team {
            q = q.bind(t.to_string());
        }
        q.fetch_all(self.pool())
            .await
            .context(context)?
            .iter()
            .map(due_of)
            .collect::<Result<_, _>>()
            .context("due objects")
    }
}
