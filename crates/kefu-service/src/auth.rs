//! Users, roles, password logins, sessions and API tokens.
//!
//! People sign in with a password (argon2id, stored as a PHC string) and get
//! a session token; systems use API tokens. Both kinds of token are 32
//! random bytes, written as 64 lowercase hex characters and shown once:
//! the database keeps only their SHA-256, so a copy of it lets no one in.
//! Sessions live in the database (not in a node's memory), so several
//! stateless server nodes share them.
//!
//! Every request runs as a [`Principal`]; the `can_*` functions are the
//! access rules the HTTP layer applies to it.
//!
//! | role         | zh     | reads agent data | settings | users | personal data |
//! |--------------|--------|------------------|----------|-------|---------------|
//! | `agent`      | 坐席   | own id only      | no       | no    | no            |
//! | `inspector`  | 质检员 | all              | no       | no    | masked        |
//! | `supervisor` | 主管   | all              | yes      | no    | yes           |
//! | `admin`      | 管理员 | all              | yes      | yes   | yes           |
//!
//! Functions that change state take `now` (Unix ms) where expiry or usage
//! times matter, so tests control the clock; user rows are stamped with
//! the wall clock.

use std::fmt;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
pub use kefu_store::TokenInfo;
use kefu_store::{now_ms, Holder, Store, UserRecord};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in characters (argon2 takes any length; this
/// only bounds the work a request can ask for).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// Longest user id, in characters.
pub const MAX_USER_ID_CHARS: usize = 64;
/// `last_used_at` of an API token is written at most this often.
pub const TOKEN_TOUCH_INTERVAL_MS: i64 = 60_000;

// ---------------------------------------------------------------------------
// Roles, users, principals

/// What a user may do.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 坐席: a customer-service agent; sees only their own data. The default
    /// (least privileged).
    #[default]
    Agent,
    /// 质检员: quality inspector; sees every agent's data, personal data masked.
    Inspector,
    /// 主管: supervisor; sees everything and changes settings.
    Supervisor,
    /// 管理员: administrator; also manages users and tokens.
    Admin,
}

impl Role {
    /// Every role, least privileged first.
    pub const ALL: [Role; 4] = [Role::Agent, Role::Inspector, Role::Supervisor, Role::Admin];

    /// The stable name (`agent`, `inspector`, `supervisor`, `admin`), as
    /// stored and serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Inspector => "inspector",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// The Chinese label for the UI.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Agent => "坐席",
            Role::Inspector => "质检员",
            Role::Supervisor => "主管",
            Role::Admin => "管理员",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;

    /// Accepts the stable name (any case) or the Chinese label.
    fn from_str(s: &str) -> Result<Role, Error> {
        let s = s.trim();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s) || r.label_zh() == s)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown role `{s}`: use agent, inspector, supervisor or admin"
                ))
            })
    }
}

/// A user as listed (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Login name; for agents the `agent_id` their conversations carry.
    pub id: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Team (班组), if any.
    pub team: Option<String>,
    /// Whether the user may sign in and use tokens.
    pub active: bool,
}

impl User {
    /// What requests by this user run as.
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: self.id.clone(),
            role: self.role,
            team: self.team.clone(),
        }
    }
}

/// Who a request runs as: the result of a password, session or token check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The user's id.
    pub user_id: String,
    /// The user's role.
    pub role: Role,
    /// The user's team, if any.
    pub team: Option<String>,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewUser {
    /// Login name: 1–64 characters of ASCII letters, digits, `.`, `_`, `-`,
    /// starting with a letter or digit (`a-07`, `zhang.wei`).
    pub id: String,
    /// Name shown in the UI (1–100 characters; empty means the id).
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Team, if any (empty means none).
    pub team: Option<String>,
    /// Password (at least 8 characters); `None` for a token-only service
    /// account, which cannot sign in with a password.
    pub password: Option<String>,
}

impl User {
    fn from_record(r: UserRecord) -> Result<User, Error> {
        Ok(User {
            role: stored_role(&r.role, &r.id)?,
            id: r.id,
            display_name: r.display_name,
            team: r.team,
            active: r.active,
        })
    }
}

/// A role read back from the store.
fn stored_role(role: &str, user_id: &str) -> Result<Role, Error> {
    role.parse::<Role>().map_err(|_| {
        Error::corrupt(
            format!("user `{user_id}`"),
            format!("unknown role `{role}`"),
        )
    })
}

/// Checks a user id: 1–64 ASCII letters, digits, `.`, `_`, `-`, starting
/// with a letter or digit.
pub fn validate_user_id(id: &str) -> Result<(), Error> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let first_ok = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if id.is_empty() || id.len() > MAX_USER_ID_CHARS || !first_ok || !id.chars().all(ok_char) {
        return Err(Error::Invalid(format!(
            "user id `{id}`: use 1–{MAX_USER_ID_CHARS} ASCII letters, digits, `.`, `_` or `-`, \
             starting with a letter or digit"
        )));
    }
    Ok(())
}

/// Checks a new password's length (8–1024 characters).
pub fn validate_password(password: &str) -> Result<(), Error> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(Error::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(Error::Invalid(format!(
            "the password must have at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

fn clean_display_name(name: &str, id: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.chars().count() > 100 {
        return Err(Error::Invalid(
            "the display name must have at most 100 characters".into(),
        ));
    }
    Ok(if name.is_empty() { id } else { name }.to_string())
}

fn clean_team(team: Option<&str>) -> Result<Option<String>, Error> {
    let team = team.map(str::trim).filter(|t| !t.is_empty());
    if team.is_some_and(|t| t.chars().count() > 64) {
        return Err(Error::Invalid(
            "the team must have at most 64 characters".into(),
        ));
    }
    Ok(team.map(str::to_string))
}

/// Creates a user. A taken id is [`Error::Conflict`].
pub async fn add_user(store: &Store, new: NewUser) -> Result<User, Error> {
    validate_user_id(&new.id)?;
    let display_name = clean_display_name(&new.display_name, &new.id)?;
    let team = clean_team(new.team.as_deref())?;
    let password_hash = match new.password {
        Some(password) => {
            crate::accounts::check_password_policy(&new.id, &password)?;
            Some(hash_password_async(password, password_cost()).await?)
        }
        None => None,
    };
    let record = UserRecord {
        id: new.id,
        display_name,
        role: new.role.as_str().to_string(),
        team,
        active: true,
    };
    if !store
        .insert_user(&record, password_hash.as_deref(), now_ms())
        .await?
    {
        return Err(Error::Conflict(format!(
            "a user with id `{}` already exists",
            record.id
        )));
    }
    User::from_record(record)
}

/// One user, or `None`.
pub async fn get_user(store: &Store, id: &str) -> Result<Option<User>, Error> {
    store.user(id).await?.map(User::from_record).transpose()
}

/// Every user, by id.
pub async fn list_users(store: &Store) -> Result<Vec<User>, Error> {
    store
        .users()
        .await?
        .into_iter()
        .map(User::from_record)
        .collect()
}

/// Sets (or, with `None`, removes) a user's password. Removing it makes a
/// token-only account. Every session of the user ends (whoever knew the old
/// password is signed out); API tokens, which a system holds, stay until
/// revoked.
pub async fn set_password(store: &Store, id: &str, password: Option<String>) -> Result<(), Error> {
    let hash = match password {
        Some(password) => {
            crate::accounts::check_password_policy(id, &password)?;
            Some(hash_password_async(password, password_cost()).await?)
        }
        None => None,
    };
    if !store
        .set_password_hash(id, hash.as_deref(), now_ms())
        .await?
    {
        return Err(no_such_user(id));
    }
    store.delete_user_sessions(id).await?;
    Ok(())
}

/// Activates or deactivates a user. An inactive user's password, sessions
/// and tokens stop working at once (they are kept, and work again when the
/// user is reactivated, unless they expired or were revoked meanwhile).
pub async fn set_active(store: &Store, id: &str, active: bool) -> Result<(), Error> {
    if !store.set_user_active(id, active, now_ms()).await? {
        return Err(no_such_user(id));
    }
    Ok(())
}

fn no_such_user(id: &str) -> Error {
    Error::NotFound(format!("no user with id `{id}`"))
}

// ---------------------------------------------------------------------------
// Passwords

/// Argon2id cost parameters for new password hashes. Verification always
/// uses the parameters recorded in the stored hash, so changing the cost
/// affects only passwords set afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Passes over the memory (t).
    pub iterations: u32,
    /// Lanes (p).
    pub parallelism: u32,
}

impl PasswordCost {
    /// The default: OWASP's argon2id recommendation, m = 19 MiB, t = 2,
    /// p = 1 (about 20–40 ms per hash on one core).
    pub const OWASP: PasswordCost = PasswordCost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Cheap parameters (m = 1 MiB, t = 1) for tests only: they protect
    /// stored hashes poorly.
    pub const CHEAP_FOR_TESTS: PasswordCost = PasswordCost {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    fn params(self) -> Result<Params, Error> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| Error::Invalid(format!("argon2 parameters: {e}")))
    }
}

impl Default for PasswordCost {
    fn default() -> PasswordCost {
        PasswordCost::OWASP
    }
}

static PASSWORD_COST: RwLock<PasswordCost> = RwLock::new(PasswordCost::OWASP);

/// The cost used for new password hashes in this process
/// ([`PasswordCost::OWASP`] unless changed).
pub fn password_cost() -> PasswordCost {
    *PASSWORD_COST
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sets the cost of new password hashes for this process (a setting read
/// at start-up; tests use [`PasswordCost::CHEAP_FOR_TESTS`]).
pub fn set_password_cost(cost: PasswordCost) -> Result<(), Error> {
    cost.params()?;
    *PASSWORD_COST
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = cost;
    Ok(())
}

/// Hashes a password with argon2id at `cost` and a random 16-byte salt;
/// returns the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`). Blocking
/// and deliberately slow: [`add_user`] and [`set_password`] run it on a
/// blocking thread.
pub fn hash_password(password: &str, cost: PasswordCost) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Internal(format!("random source: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(format!("salt: {e}")))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.params()?)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
}

/// Hashes off the async threads, in the bounded pool: argon2 is
/// deliberately slow and large.
async fn hash_password_async(password: String, cost: PasswordCost) -> Result<String, Error> {
    crate::hashing::run(move || hash_password(&password, cost)).await
}

/// Whether `password` matches the PHC string `stored`; a malformed stored
/// hash matches nothing. Without one (unknown user, token-only account) a
/// hash is computed all the same, so every failure costs about the same.
async fn password_matches(stored: Option<String>, password: String) -> Result<bool, Error> {
    let cost = password_cost();
    crate::hashing::run(move || match stored {
        Some(stored) => match PasswordHash::new(&stored) {
            Ok(parsed) => Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()),
            Err(_) => Ok(false),
        },
        None => hash_password(&password, cost).map(|_| false),
    })
    .await
}

/// Checks a user's password: who signed in, or `None` when the
/// credentials are not valid. Unknown users, wrong passwords, inactive users
/// and token-only accounts all give the same `None`, after about the same
/// time (one argon2 computation in every case).
pub async fn verify_password(
    store: &Store,
    id: &str,
    password: &str,
) -> Result<Option<Principal>, Error> {
    let credentials = store.credentials(id).await?;
    let stored = credentials.as_ref().and_then(|c| c.password_hash.clone());
    let matches = password_matches(stored, password.to_string()).await?;
    match credentials {
        Some(c) if c.active && matches => Ok(Some(Principal {
            user_id: id.to_string(),
            role: stored_role(&c.role, id)?,
            team: c.team,
        })),
        _ => Ok(None),
    }
}

// ---------------------------------------------------------------------------
// Tokens and sessions

/// 32 random bytes as 64 lowercase hex characters.
fn new_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("random source: {e}")))?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// SHA-256 of a token, hex: what the database stores instead of the token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the shape of a kefu token (so garbage costs no query).
fn plausible_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `now + ttl` in Unix ms, saturating.
fn add_ttl(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

/// Fails unless `user_id` names an active user.
async fn require_active_user(store: &Store, user_id: &str) -> Result<User, Error> {
    match get_user(store, user_id).await? {
        Some(user) if user.active => Ok(user),
        Some(_) => Err(Error::Invalid(format!("user `{user_id}` is inactive"))),
        None => Err(no_such_user(user_id)),
    }
}

/// Starts a session for an active user (normally right after
/// [`verify_password`]). Returns the session token, to hand to the client
/// once (e.g. as a cookie), and when it expires (Unix ms). Only the
/// token's hash is stored.
pub async fn create_session(
    store: &Store,
    user_id: &str,
    ttl: Duration,
    now: i64,
) -> Result<(String, i64), Error> {
    require_active_user(store, user_id).await?;
    let token = new_token()?;
    let expires_at = add_ttl(now, ttl);
    store
        .insert_session(&token_hash(&token), user_id, now, expires_at)
        .await?;
    Ok((token, expires_at))
}

/// Who a session token belongs to, if it is known, unexpired and its user
/// active.
pub async fn principal_for_session(
    store: &Store,
    token: &str,
    now: i64,
) -> Result<Option<Principal>, Error> {
    if !plausible_token(token) {
        return Ok(None);
    }
    store
        .session_holder(&token_hash(token), now)
        .await?
        .map(Principal::from_holder)
        .transpose()
}

impl Principal {
    fn from_holder(h: Holder) -> Result<Principal, Error> {
        Ok(Principal {
            role: stored_role(&h.role, &h.user_id)?,
            user_id: h.user_id,
            team: h.team,
        })
    }
}

/// Ends a session (signing out). Unknown tokens are ignored.
pub async fn end_session(store: &Store, token: &str) -> Result<(), Error> {
    Ok(store.delete_session(&token_hash(token)).await?)
}

/// Ends every session of a user (e.g. after a password leak); returns how
/// many there were.
pub async fn end_user_sessions(store: &Store, user_id: &str) -> Result<u64, Error> {
    Ok(store.delete_user_sessions(user_id).await?)
}

/// Deletes sessions that expired before `now` (housekeeping; expired
/// sessions are refused whether or not they were purged). Returns how many.
pub async fn purge_expired_sessions(store: &Store, now: i64) -> Result<u64, Error> {
    Ok(store.delete_expired_sessions(now).await?)
}

/// Creates an API token acting as an active user. Returns the token, to
/// show once, and its listing entry; only the token's hash is stored.
pub async fn create_api_token(
    store: &Store,
    user_id: &str,
    name: &str,
    now: i64,
) -> Result<(String, TokenInfo), Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::Invalid(
            "a token needs a name of 1–100 characters".into(),
        ));
    }
    require_active_user(store, user_id).await?;
    let token = new_token()?;
    let hash = token_hash(&token);
    let prefix: String = token.chars().take(8).collect();
    let info = store
        .insert_api_token(user_id, name, &hash, &prefix, now)
        .await?;
    Ok((token, info))
}

/// Who an API token acts as, if it is known, not revoked and its user
/// active. Records the use in `last_used_at`, at most once a minute per
/// token (so busy integrations do not turn every read into a write).
pub async fn principal_for_token(
    store: &Store,
    token: &str,
    now: i64,
) -> Result<Option<Principal>, Error> {
    if !plausible_token(token) {
        return Ok(None);
    }
    let Some(used) = store.api_token_use(&token_hash(token)).await? else {
        return Ok(None);
    };
    let stale = now.saturating_sub(TOKEN_TOUCH_INTERVAL_MS);
    if used.last_used_at.is_none_or(|t| t <= stale) {
        // The store repeats the condition so that concurrent nodes write once.
        store.touch_api_token(used.token_id, now, stale).await?;
    }
    Principal::from_holder(used.holder).map(Some)
}

/// Revokes one of `user_id`'s tokens. Revoking a revoked token keeps the
/// first revocation time. A token id that is not this user's is
/// [`Error::NotFound`].
pub async fn revoke_token(
    store: &Store,
    user_id: &str,
    token_id: i64,
    now: i64,
) -> Result<(), Error> {
    if !store.revoke_api_token(user_id, token_id, now).await? {
        return Err(Error::NotFound(format!(
            "user `{user_id}` has no API token {token_id}"
        )));
    }
    Ok(())
}

/// A user's API tokens, revoked ones included, newest first.
pub async fn list_tokens(store: &Store, user_id: &str) -> Result<Vec<TokenInfo>, Error> {
    Ok(store.api_tokens(user_id).await?)
}

// ---------------------------------------------------------------------------
// Access rules

/// Whether `principal` may read the conversations, results and statistics
/// of agent `agent_id`: agents only their own, every other role all.
pub fn can_read_agent_data(principal: &Principal, agent_id: &str) -> bool {
    match principal.role {
        Role::Agent => principal.user_id == agent_id,
        Role::Inspector | Role::Supervisor | Role::Admin => true,
    }
}

/// Whether `principal` may change settings (rule packs, SLA policies,
/// calendars): supervisors and admins.
pub fn can_change_settings(principal: &Principal) -> bool {
    matches!(principal.role, Role::Supervisor | Role::Admin)
}

/// Whether `principal` may manage users and other users' tokens: admins.
pub fn can_manage_users(principal: &Principal) -> bool {
    principal.role == Role::Admin
}

/// Whether `principal` sees customers' personal data (names, phone numbers)
/// unmasked in general: supervisors and admins. Inspectors see it masked;
/// agents see the data of their own complaints through the complaint
/// module's rules, not through this.
pub fn sees_personal_data(principal: &Principal) -> bool {
    matches!(principal.role, Role::Supervisor | Role::Admin)
}
