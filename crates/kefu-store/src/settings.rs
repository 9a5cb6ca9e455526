//! Settings: one JSON document per key in `settings` (the SLA policy and
//! calendar, the complaint policy, the quality settings, the active rule
//! pack). What a document means is the service's business; the store keeps
//! the text, who changed it and when.

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::{Context, Store, StoreError, Tx};

/// `(key, value)` of the stored settings among `keys`.
async fn read(
    conn: &mut AnyConnection,
    keys: &[&str],
) -> Result<Vec<(String, String)>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT key, value FROM settings WHERE key IN ({})",
        list.join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for k in keys {
        q = q.bind(*k);
    }
    let rows = q.fetch_all(conn).await.context("reading settings")?;
    rows.iter()
        .map(|r| Ok((r.try_get("key")?, r.try_get("value")?)))
        .collect::<Result<_, sqlx::Error>>()
        .context("settings")
}

/// Inserts or replaces setting `key`.
async fn write(
    conn: &mut AnyConnection,
    key: &str,
    value: &str,
    by: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by",
    )
    .bind(key)
    .bind(value)
    .bind(now_ms)
    .bind(by)
    .execute(conn)
    .await
    .context("storing a setting")?;
    Ok(())
}

impl Store {
    /// The stored value of setting `key`, if any.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.settings(&[key]).await?.pop().map(|(_, v)| v))
    }

    /// `(key, value)` of the stored settings among `keys` (missing keys are
    /// left out).
    pub async fn settings(&self, keys: &[&str]) -> Result<Vec<(String, String)>, StoreError> {
        read(&mut *self.conn().await?, keys).await
    }

    /// Stores setting `key` (replacing its value), by `by` at `now_ms`.
    pub async fn put_setting(
        &self,
        key: &str,
        value: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        write(&mut *self.conn().await?, key, value, by, now_ms).await
    }
}

/// Settings a transaction has read, by the keys asked for: a group of
/// writes ([`Store::write_grouped`]) reads the same policy once, not once a
/// write. Forgotten when the transaction writes a setting or rolls back to
/// a savepoint, so what it returns is what a fresh read would return in
/// the transaction (barring another node's change committed meanwhile,
/// which the first read could have missed just the same).
#[derive(Debug, Default)]
pub(crate) struct SettingsRead {
    /// The keys asked for, and the `(key, value)` rows found.
    read: Vec<(Vec<String>, Rows)>,
}

/// `(key, value)` of stored settings.
type Rows = Vec<(String, String)>;

impl SettingsRead {
    fn get(&self, keys: &[&str]) -> Option<&Rows> {
        self.read
            .iter()
            .find(|(k, _)| k.iter().map(String::as_str).eq(keys.iter().copied()))
            .map(|(_, rows)| rows)
    }

    /// Forgets every setting read.
    pub(crate) fn forget(&mut self) {
        self.read.clear();
    }
}

impl Tx {
    /// [`Store::settings`] inside the transaction. Asked again for the same
    /// keys, it answers from what it read the first time, unless the
    /// transaction has written a setting since.
    pub async fn settings(&mut self, keys: &[&str]) -> Result<Vec<(String, String)>, StoreError> {
        if let Some(rows) = self.settings_read.get(keys) {
            return Ok(rows.clone());
        }
        let rows = read(self.conn(), keys).await?;
        self.settings_read
            .read
            .push((keys.iter().map(|k| k.to_string()).collect(), rows.clone()));
        Ok(rows)
    }

    /// [`Store::put_setting`] inside the transaction.
    pub async fn put_setting(
        &mut self,
        key: &str,
        value: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.settings_read.forget();
        write(self.conn(), key, value, by, now_ms).await
    }
}
