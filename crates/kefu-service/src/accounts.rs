//! Account controls (issue 17): the password policy, and changing a user's
//! password or role, revoking a token, ending all of a user's sessions and
//! deactivating a user — each written to the audit log (`entity = "user"`)
//! with who did it.

use kefu_store::{AuditEntry, Store};

use crate::auth::{self, Role};
use crate::error::Error;

/// Passwords too common to allow (compared case-insensitively): the top of
/// public leak lists, Chinese favourites included. Short on purpose: the
/// length rule and the other checks do most of the work.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "12345678",
    "123456789",
    "1234567890",
    "87654321",
    "12341234",
    "11223344",
    "qwertyui",
    "qwerty123",
    "qwertyuiop",
    "1q2w3e4r",
    "1qaz2wsx",
    "abc12345",
    "abcd1234",
    "a1234567",
    "aa123456",
    "admin123",
    "administrator",
    "iloveyou",
    "letmein1",
    "welcome1",
    "changeme",
    "sunshine",
    "football",
    "baseball",
    "woaini1314",
    "woaini520",
    "5201314520",
    "13145201314",
    "zxcvbnm1",
    "asdfghjk",
];

/// Why a password breaks the policy (for a localised message; the
/// service's own error text is English).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordIssue {
    /// Fewer than 8 or more than 1024 characters.
    Length,
    /// The user name, in any case, or reversed.
    UserName,
    /// One character repeated.
    Repeated,
    /// In the built-in list of common passwords.
    Common,
}

impl PasswordIssue {
    /// A stable name (`length`, `user_name`, `repeated`, `common`).
    pub fn as_str(self) -> &'static str {
        match self {
            PasswordIssue::Length => "length",
            PasswordIssue::UserName => "user_name",
            PasswordIssue::Repeated => "repeated",
            PasswordIssue::Common => "common",
        }
    }
}

/// The first rule of the policy that `password` breaks for `user_id`, if
/// any (see [`check_password_policy`]).
pub fn password_issue(user_id: &str, password: &str) -> Option<PasswordIssue> {
    if auth::validate_password(password).is_err() {
        return Some(PasswordIssue::Length);
    }
    let lower = password.trim().to_lowercase();
    let id = user_id.trim().to_lowercase();
    let reversed: String = id.chars().rev().collect();
    if !id.is_empty() && (lower == id || lower == reversed) {
        return Some(PasswordIssue::UserName);
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next() {
        if chars.all(|c| c == first) {
            return Some(PasswordIssue::Repeated);
        }
    }
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Some(PasswordIssue::Common);
    }
    None
}

/// Checks a new password for `user_id`: 8–1024 characters, not the user
/// name (in any case, or reversed), not one character repeated, not in the
/// built-in list of common passwords.
pub fn check_password_policy(user_id: &str, password: &str) -> Result<(), Error> {
    match password_issue(user_id, password) {
        None => Ok(()),
        Some(PasswordIssue::Length) => auth::validate_password(password),
        Some(PasswordIssue::UserName) => Err(Error::Invalid(
            "the password must not be the user name".into(),
        )),
        Some(PasswordIssue::Repeated) => Err(Error::Invalid(
            "the password must not be one character repeated".into(),
        )),
        Some(PasswordIssue::Common) => Err(Error::Invalid(
            "this password is too common; choose another".into(),
        )),
    }
}

/// Who changes an account: a user id and role, or the command line
/// (`cli`, acting as an administrator on the server's machine).
#[derive(Debug, Clone)]
pub struct AccountActor {
    /// User id, or `cli`.
    pub id: String,
    /// Role name, or `admin` for the command line.
    pub role: String,
}

impl AccountActor {
    /// The command line on the server's machine.
    pub fn cli() -> AccountActor {
        AccountActor {
            id: "cli".into(),
            role: "admin".into(),
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn audit(
    store: &Store,
    by: &AccountActor,
    user_id: &str,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), Error> {
    store
        .record_audit(&AuditEntry {
            at: now_ms(),
            actor_id: by.id.clone(),
            actor_role: by.role.clone(),
            entity: "user".into(),
            entity_id: user_id.to_string(),
            action: action.into(),
            detail,
        })
        .await?;
    Ok(())
}

async fn existing(store: &Store, user_id: &str) -> Result<auth::User, Error> {
    auth::get_user(store, user_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no user with id `{user_id}`")))
}

/// Sets a new password under the policy and ends the user's sessions (a
/// changed password usually means the old one leaked). Returns how many
/// sessions ended.
pub async fn change_password(
    store: &Store,
    by: &AccountActor,
    user_id: &str,
    password: String,
) -> Result<u64, Error> {
    existing(store, user_id).await?;
    check_password_policy(user_id, &password)?;
    auth::set_password(store, user_id, Some(password)).await?;
    let ended = auth::end_user_sessions(store, user_id).await?;
    audit(
        store,
        by,
        user_id,
        "password_changed",
        serde_json::json!({"sessions_ended": ended}),
    )
    .await?;
    Ok(ended)
}

/// Gives a user another role; their sessions end so that the new role
/// applies at once.
pub async fn change_role(
    store: &Store,
    by: &AccountActor,
    user_id: &str,
    role: Role,
) -> Result<(), Error> {
    let before = existing(store, user_id).await?.role;
    if !store
        .set_user_role(user_id, role.as_str(), now_ms())
        .await?
    {
        return Err(Error::NotFound(format!("no user with id `{user_id}`")));
    }
    auth::end_user_sessions(store, user_id).await?;
    audit(
        store,
        by,
        user_id,
        "role_changed",
        serde_json::json!({"from": before.as_str(), "to": role.as_str()}),
    )
    .await
}

/// Revokes one of a user's API tokens.
pub async fn revoke_token(
    store: &Store,
    by: &AccountActor,
    user_id: &str,
    token_id: i64,
) -> Result<(), Error> {
    auth::revoke_token(store, user_id, token_id, now_ms()).await?;
    audit(
        store,
        by,
        user_id,
        "token_revoked",
        serde_json::json!({"token_id": token_id}),
    )
    .await
}

/// Ends every session of a user (API tokens stay; revoke them one by one).
pub async fn logout_all(store: &Store, by: &AccountActor, user_id: &str) -> Result<u64, Error> {
    existing(store, user_id).await?;
    let ended = auth::end_user_sessions(store, user_id).await?;
    audit(
        store,
        by,
        user_id,
        "sessions_ended",
        serde_json::json!({"sessions_ended": ended}),
    )
    .await?;
    Ok(ended)
}

/// Deactivates a user: password, sessions and tokens stop working at once;
/// sessions are also ended.
pub async fn deactivate(store: &Store, by: &AccountActor, user_id: &str) -> Result<(), Error> {
    auth::set_active(store, user_id, false).await?;
    let ended = auth::end_user_sessions(store, user_id).await?;
    audit(
        store,
        by,
        user_id,
        "deactivated",
        serde_json::json!({"sessions_ended": ended}),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_weak_passwords() {
        for weak in [
            "password",
            "PassWord",
            "aaaaaaaa",
            "        ",
            "a-07-long-id",
            "di-gnol-70-a",
            "short",
            "12345678",
        ] {
            assert!(
                check_password_policy("a-07-long-id", weak).is_err(),
                "{weak:?} accepted"
            );
        }
        assert!(check_password_policy("a-07", "correct horse battery").is_ok());
        assert_eq!(
            password_issue("a-07", "PASSWORD1"),
            Some(PasswordIssue::Common)
        );
        assert_eq!(password_issue("a-07", "7o-a"), Some(PasswordIssue::Length));
        assert!(check_password_policy("a-07", "客服密码很安全的").is_ok());
    }
}
