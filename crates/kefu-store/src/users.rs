//! Users, sessions and API tokens (`users`, `sessions`, `api_tokens`).
//!
//! Passwords arrive here already hashed and tokens as their SHA-256: the
//! store never sees a secret. Roles are kept as their stable names; what a
//! role may do is the service's business.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Context, Store, StoreError};

/// A user row, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Login name.
    pub id: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// Role name (`agent`, `inspector`, `supervisor`, `admin`).
    pub role: String,
    /// Team, if any.
    pub team: Option<String>,
    /// Whether the user may sign in and use tokens.
    pub active: bool,
}

/// What signing a user in checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Role name.
    pub role: String,
    /// Team, if any.
    pub team: Option<String>,
    /// Whether the user is active.
    pub active: bool,
    /// The password's PHC string; `None` for token-only accounts.
    pub password_hash: Option<String>,
}

/// The user a session or a token acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// User id.
    pub user_id: String,
    /// Role name.
    pub role: String,
    /// Team, if any.
    pub team: Option<String>,
}

/// An API token found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUse {
    /// Row id.
    pub token_id: i64,
    /// When it was last recorded as used, Unix ms.
    pub last_used_at: Option<i64>,
    /// Whom it acts as.
    pub holder: Holder,
}

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Row id, to revoke it by.
    pub id: i64,
    /// The user it acts as.
    pub user_id: String,
    /// What it is for (`crm-sync`).
    pub name: String,
    /// Its first 8 characters, to recognise it.
    pub prefix: String,
    /// Created, Unix ms.
    #[serde(with = "crate::json_time::unix_ms")]
    pub created_at: i64,
    /// Last used, Unix ms (to the minute).
    #[serde(with = "crate::json_time::opt_unix_ms")]
    pub last_used_at: Option<i64>,
    /// Revoked, Unix ms.
    #[serde(with = "crate::json_time::opt_unix_ms")]
    pub revoked_at: Option<i64>,
}

const USER_COLUMNS: &str = "id, display_name, role, team, active";
const TOKEN_COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at, revoked_at";

fn user_of(row: &AnyRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        role: row.try_get("role")?,
        team: row.try_get("team")?,
        active: row.try_get::<i64, _>("active")? != 0,
    })
}

fn holder_of(row: &AnyRow) -> Result<Holder, sqlx::Error> {
    Ok(Holder {
        user_id: row.try_get("id")?,
        role: row.try_get("role")?,
        team: row.try_get("team")?,
    })
}

fn token_of(row: &AnyRow) -> Result<TokenInfo, sqlx::Error> {
    Ok(TokenInfo {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    /// Adds an active user; `false` when the id is taken (nothing changes).
    pub async fn insert_user(
        &self,
        user: &UserRecord,
        password_hash: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO users (id, display_name, role, team, password_hash, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.display_name)
        .bind(&user.role)
        .bind(user.team.as_deref())
        .bind(password_hash)
        .bind(i64::from(user.active))
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .context("adding a user")?
        .rows_affected();
        Ok(inserted > 0)
    }

    /// One user.
    pub async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("reading a user")?
            .as_ref()
            .map(user_of)
            .transpose()
            .context("users")
    }

    /// Every user, by id.
    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .context("listing users")?
            .iter()
            .map(user_of)
            .collect::<Result<_, _>>()
            .context("users")
    }

    /// What signing user `id` in checks.
    pub async fn credentials(&self, id: &str) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query("SELECT role, team, active, password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("reading a user to sign in")?;
        row.map(|r| -> Result<Credentials, sqlx::Error> {
            Ok(Credentials {
                role: r.try_get("role")?,
                team: r.try_get("team")?,
                active: r.try_get::<i64, _>("active")? != 0,
                password_hash: r.try_get("password_hash")?,
            })
        })
        .transpose()
        .context("users")
    }

    /// Sets or removes a user's password hash; `false` when there is no
    /// such user.
    pub async fn set_password_hash(
        &self,
        id: &str,
        hash: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now_ms)
            .bind(id)
            .execute(&self.pool)
            .await
            .context("setting a password")?
            .rows_affected();
        Ok(n > 0)
    }

    /// Activates or deactivates a user; `false` when there is no such user.
    pub async fn set_user_active(
        &self,
        id: &str,
        active: bool,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE users SET active = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(active))
            .bind(now_ms)
            .bind(id)
            .execute(&self.pool)
            .await
            .context("activating or deactivating a user")?
            .rows_affected();
        Ok(n > 0)
    }

    /// Stores a session by its token's hash.
    pub async fn insert_session(
        &self,
        token_hash: &str,
        user_id: &str,
        now_ms: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now_ms)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .context("starting a session")?;
        Ok(())
    }

    /// The active user of an unexpired session.
    pub async fn session_holder(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<Holder>, StoreError> {
        sqlx::query(
            "SELECT u.id, u.role, u.team FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.expires_at > $2 AND u.active = 1",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await
        .context("looking up a session")?
        .as_ref()
        .map(holder_of)
        .transpose()
        .context("users")
    }

    /// Ends a session (unknown hashes are ignored).
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .context("ending a session")?;
        Ok(())
    }

    /// Ends every session of a user; returns how many there were.
    pub async fn delete_user_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .context("ending a user's sessions")?
            .rows_affected())
    }

    /// Deletes the sessions expired at `now_ms`; returns how many.
    pub async fn delete_expired_sessions(&self, now_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .context("purging expired sessions")?
            .rows_affected())
    }

    /// Stores an API token by its hash; returns its listing entry.
    pub async fn insert_api_token(
        &self,
        user_id: &str,
        name: &str,
        token_hash: &str,
        prefix: &str,
        now_ms: i64,
    ) -> Result<TokenInfo, StoreError> {
        let sql = format!(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {TOKEN_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(name)
            .bind(token_hash)
            .bind(prefix)
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await
            .context("creating an API token")?;
        token_of(&row).context("api_tokens")
    }

    /// An unrevoked API token of an active user, by its hash.
    pub async fn api_token_use(&self, token_hash: &str) -> Result<Option<TokenUse>, StoreError> {
        let row = sqlx::query(
            "SELECT t.id AS token_id, t.last_used_at, u.id, u.role, u.team \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active = 1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .context("looking up an API token")?;
        row.map(|r| -> Result<TokenUse, sqlx::Error> {
            Ok(TokenUse {
                token_id: r.try_get("token_id")?,
                last_used_at: r.try_get("last_used_at")?,
                holder: holder_of(&r)?,
            })
        })
        .transpose()
        .context("api_tokens")
    }

    /// Records a token's use at `now_ms` unless it was recorded after
    /// `stale_before` (so concurrent nodes write once).
    pub async fn touch_api_token(
        &self,
        token_id: i64,
        now_ms: i64,
        stale_before: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
        )
        .bind(now_ms)
        .bind(token_id)
        .bind(stale_before)
        .execute(&self.pool)
        .await
        .context("recording an API token's use")?;
        Ok(())
    }

    /// Revokes one of `user_id`'s tokens (keeping a first revocation time);
    /// `false` when the user has no such token.
    pub async fn revoke_api_token(
        &self,
        user_id: &str,
        token_id: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND user_id = $3",
        )
        .bind(now_ms)
        .bind(token_id)
        .bind(user_id)
        .execute(&self.pool)
        .await
        .context("revoking an API token")?
        .rows_affected();
        Ok(n > 0)
    }

    /// A user's API tokens, revoked ones included, newest first.
    pub async fn api_tokens(&self, user_id: &str) -> Result<Vec<TokenInfo>, StoreError> {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id DESC");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .context("listing API tokens")?
            .iter()
            .map(token_of)
            .collect::<Result<_, _>>()
            .context("api_tokens")
    }
}
