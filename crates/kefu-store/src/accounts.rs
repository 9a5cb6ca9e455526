//! Account administration that the original user table methods lack:
//! changing a user's role, and audit entries written outside a larger
//! transaction (account changes are single statements).

use crate::{AuditEntry, Context, Store, StoreError};

impl Store {
    /// Sets a user's role; `false` when there is no such user.
    pub async fn set_user_role(
        &self,
        id: &str,
        role: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
            .bind(role)
            .bind(now_ms)
            .bind(id)
            .execute(&self.pool)
            .await
            .context("changing a user's role")?
            .rows_affected();
        Ok(n > 0)
    }

    /// Appends one entry to the audit log in its own transaction.
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        tx.append_audit(entry).await?;
        tx.commit().await
    }
}
