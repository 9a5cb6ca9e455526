//! Failed sign-ins per key (`user:ID`, `addr:IP`) for login throttling; the
//! policy (how many are free, the backoff) lives in
//! `kefu_service::throttle`.

use sqlx::{AssertSqlSafe, Row};

use crate::{Context, Store, StoreError, Tx};

impl Tx {
    /// The failures counted for `key` and when the last one was, locking the
    /// row (PostgreSQL) so concurrent failures all count.
    pub async fn login_failures(&mut self, key: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let sql = format!(
            "SELECT failures, last_at FROM login_throttle WHERE key = $1{}",
            self.lock_rows()
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(self.conn())
            .await
            .context("reading failed sign-ins")?
            .map(|r| Ok((r.try_get("failures")?, r.try_get("last_at")?)))
            .transpose()
            .context("login_throttle")
    }

    /// Stores `failures` for `key`, refusing attempts until `locked_until`.
    pub async fn set_login_failures(
        &mut self,
        key: &str,
        failures: i64,
        at: i64,
        locked_until: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_throttle (key, failures, last_at, locked_until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at, \
             locked_until = excluded.locked_until",
        )
        .bind(key)
        .bind(failures)
        .bind(at)
        .bind(locked_until)
        .execute(self.conn())
        .await
        .context("recording a failed sign-in")?;
        Ok(())
    }
}

impl Store {
    /// The latest time until which any of `keys` is locked (0: none is).
    pub async fn login_locked_until(&self, keys: &[&str]) -> Result<i64, StoreError> {
        let mut until = 0;
        for key in keys {
            let row = sqlx::query("SELECT locked_until FROM login_throttle WHERE key = $1")
                .bind(*key)
                .fetch_optional(self.pool())
                .await
                .context("reading sign-in locks")?;
            if let Some(r) = row {
                until = until.max(
                    r.try_get::<i64, _>("locked_until")
                        .context("locked_until")?,
                );
            }
        }
        Ok(until)
    }

    /// Forgets the failures of `key` (after a successful sign-in).
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await
            .context("clearing failed sign-ins")?;
        Ok(())
    }
}
