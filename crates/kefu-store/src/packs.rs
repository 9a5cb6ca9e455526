//! Rule-pack versions: every result records which pack text produced it.

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::{now_ms, Context, Store, StoreError, Tx};

/// A stored pack version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackVersion {
    /// Row id; inspections refer to it.
    pub id: i64,
    /// The pack's own id (`zh-CN`).
    pub pack_id: String,
    /// The pack's version string.
    pub version: String,
    /// SHA-256 of the TOML text: two texts are one version only if identical.
    pub digest: String,
    /// When it was first used, Unix ms.
    #[serde(with = "crate::json_time::unix_ms")]
    pub created_at: i64,
}

impl PackVersion {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<PackVersion, StoreError> {
        Ok(PackVersion {
            id: row.try_get("id").context("pack_versions.id")?,
            pack_id: row.try_get("pack_id").context("pack_versions.pack_id")?,
            version: row.try_get("version").context("pack_versions.version")?,
            digest: row.try_get("digest").context("pack_versions.digest")?,
            created_at: row
                .try_get("created_at")
                .context("pack_versions.created_at")?,
        })
    }
}

/// SHA-256 of a pack's text, hex.
pub(crate) fn digest(source: &str) -> String {
    let hash = Sha256::digest(source.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Records a pack text (idempotent by digest) and returns its version row.
    pub async fn register_pack(
        &self,
        pack_id: &str,
        version: &str,
        source: &str,
    ) -> Result<PackVersion, StoreError> {
        let digest = digest(source);
        sqlx::query(
            "INSERT INTO pack_versions (pack_id, version, digest, source, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(pack_id)
        .bind(version)
        .bind(&digest)
        .bind(source)
        .bind(now_ms())
        .execute(self.pool())
        .await
        .context("recording the rule pack")?;
        let row = sqlx::query(
            "SELECT id, pack_id, version, digest, created_at FROM pack_versions WHERE digest = $1",
        )
        .bind(&digest)
        .fetch_one(self.pool())
        .await
        .context("reading the rule pack version")?;
        PackVersion::from_row(&row)
    }

    /// Every pack version, newest first.
    pub async fn pack_versions(&self) -> Result<Vec<PackVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, pack_id, version, digest, created_at FROM pack_versions ORDER BY id DESC",
        )
        .fetch_all(self.pool())
        .await
        .context("listing rule pack versions")?;
        rows.iter().map(PackVersion::from_row).collect()
    }
}

/// The text of pack version `id`.
async fn pack_source(conn: &mut AnyConnection, id: i64) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT source FROM pack_versions WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
        .context("reading a rule pack version")?;
    row.map(|r| r.try_get::<String, _>("source"))
        .transpose()
        .context("pack_versions.source")
}

impl Tx {
    /// [`Store::pack_source`] inside the transaction.
    pub async fn pack_source(&mut self, id: i64) -> Result<Option<String>, StoreError> {
        pack_source(self.conn(), id).await
    }
}

/// Settings key of the pack version new conversations are inspected with.
pub(crate) const ACTIVE_PACK_KEY: &str = "active_pack";

impl Store {
    /// The text of a stored pack version.
    pub async fn pack_source(&self, id: i64) -> Result<Option<String>, StoreError> {
        pack_source(&mut *self.conn().await?, id).await
    }

    /// The pack version activated in the dashboard (or by `kefu serve
    /// --pack`), if any.
    pub async fn active_pack(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .setting(ACTIVE_PACK_KEY)
            .await?
            .and_then(|v| v.trim().parse::<i64>().ok()))
    }

    /// Records `id` as the active pack version (every node follows it).
    pub async fn set_active_pack(&self, id: i64, by: &str) -> Result<(), StoreError> {
        self.put_setting(ACTIVE_PACK_KEY, &id.to_string(), by, now_ms())
            .await
    }
}
