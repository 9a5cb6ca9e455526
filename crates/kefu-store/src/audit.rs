//! The append-only `audit_log`: who did what to reviews, appeals, review
//! queues and assessments (triggers refuse updates and deletes).

use serde::Serialize;
use sqlx::Row;

use crate::{Context, Store, StoreError, Tx};

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// When, Unix ms.
    pub at: i64,
    /// Who.
    pub actor_id: String,
    /// Their role.
    pub actor_role: String,
    /// `review`, `appeal`, `queue`, `assessment`, `settings`.
    pub entity: String,
    /// Which one.
    pub entity_id: String,
    /// What happened.
    pub action: String,
    /// Details.
    pub detail: serde_json::Value,
}

impl Tx {
    /// Appends an entry to the audit log.
    pub async fn append_audit(&mut self, e: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor_id, actor_role, entity, entity_id, action, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(e.at)
        .bind(e.actor_id.as_str())
        .bind(e.actor_role.as_str())
        .bind(e.entity.as_str())
        .bind(e.entity_id.as_str())
        .bind(e.action.as_str())
        .bind(e.detail.to_string())
        .execute(self.conn())
        .await
        .context("writing the audit log")?;
        Ok(())
    }
}

impl Store {
    /// The audit entries of one record, oldest first.
    pub async fn audit_trail(
        &self,
        entity: &str,
        entity_id: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, actor_id, actor_role, entity, entity_id, action, detail FROM audit_log \
             WHERE entity = $1 AND entity_id = $2 ORDER BY id",
        )
        .bind(entity)
        .bind(entity_id)
        .fetch_all(&self.pool)
        .await
        .context("reading the audit log")?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditEntry {
                    at: r.try_get("at")?,
                    actor_id: r.try_get("actor_id")?,
                    actor_role: r.try_get("actor_role")?,
                    entity: r.try_get("entity")?,
                    entity_id: r.try_get("entity_id")?,
                    action: r.try_get("action")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("audit_log")
    }
}
