//! Login throttling: failed sign-ins are counted per account and per client
//! address; past a few free failures each further one locks the key for an
//! exponentially growing time (1 s, 2 s, 4 s … up to 15 minutes). While a key
//! is locked, sign-ins are refused without checking the password (the API
//! and the dashboard answer 429 with `Retry-After`).
//!
//! Keys are the *submitted* user name, whether or not such a user exists,
//! so an unknown name is answered exactly like a known one: no user
//! enumeration. Every failure and every lock is written to the audit log
//! (entity `login`, the submitted name), where admins see lockouts.

use std::time::Duration;

use kefu_store::{AuditEntry, Store};

use crate::Result;

/// One throttled dimension: how many failures are free, and the lock after
/// each one beyond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures before the first lock.
    pub free: i64,
    /// The first lock.
    pub base: Duration,
    /// The longest lock.
    pub max: Duration,
    /// Failures older than this (since the last one) are forgotten.
    pub window: Duration,
}

/// Per account: five free failures.
pub const ACCOUNT: Policy = Policy {
    free: 5,
    base: Duration::from_secs(1),
    max: Duration::from_secs(15 * 60),
    window: Duration::from_secs(24 * 3600),
};

/// Per client address: twenty free failures (several people may share one
/// address behind a NAT).
pub const ADDRESS: Policy = Policy {
    free: 20,
    base: Duration::from_secs(1),
    max: Duration::from_secs(15 * 60),
    window: Duration::from_secs(24 * 3600),
};

impl Policy {
    /// How long the `failures`-th failure locks the key (zero while free).
    pub fn lock_after(&self, failures: i64) -> Duration {
        let beyond = failures - self.free;
        if beyond <= 0 {
            return Duration::ZERO;
        }
        let factor = 1u32
            .checked_shl((beyond - 1).min(31) as u32)
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// A refused sign-in: try again after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until the lock ends (at least 1).
    pub retry_after_s: u64,
}

fn account_key(user: &str) -> String {
    format!("user:{}", user.trim().to_lowercase())
}

fn address_key(addr: &str) -> String {
    format!("addr:{addr}")
}

/// Whether a sign-in as `user` from `addr` is refused now.
pub async fn check(
    store: &Store,
    user: &str,
    addr: Option<&str>,
    now_ms: i64,
) -> Result<Option<Throttled>> {
    let account = account_key(user);
    let address = addr.map(address_key);
    let mut keys = vec![account.as_str()];
    if let Some(a) = &address {
        keys.push(a.as_str());
    }
    let until = store.login_locked_until(&keys).await?;
    Ok((until > now_ms).then(|| Throttled {
        retry_after_s: ((until - now_ms) as u64).div_ceil(1000).max(1),
    }))
}

/// Counts a failed sign-in as `user` from `addr`, locks what passed its
/// free failures, and writes the audit log; returns the lock now in force,
/// if any.
pub async fn failed(
    store: &Store,
    user: &str,
    addr: Option<&str>,
    now_ms: i64,
) -> Result<Option<Throttled>> {
    let mut tx = store.write().await?;
    let mut longest = 0i64;
    let mut keys = vec![(account_key(user), ACCOUNT)];
    if let Some(a) = addr {
        keys.push((address_key(a), ADDRESS));
    }
    let mut detail = serde_json::Map::new();
    detail.insert("address".into(), addr.into());
    let mut locked = Vec::new();
    for (key, policy) in &keys {
        let previous = match tx.login_failures(key).await? {
            Some((n, last)) if now_ms - last < policy.window.as_millis() as i64 => n,
            _ => 0,
        };
        let failures = previous + 1;
        let lock = policy.lock_after(failures).as_millis() as i64;
        let until = if lock > 0 { now_ms + lock } else { 0 };
        tx.set_login_failures(key, failures, now_ms, until).await?;
        detail.insert(format!("{}_failures", key_kind(key)), failures.into());
        if lock > 0 {
            locked.push(key_kind(key));
            longest = longest.max(lock);
        }
    }
    let action = if locked.is_empty() {
        "failed"
    } else {
        "locked"
    };
    if !locked.is_empty() {
        detail.insert("locked".into(), locked.into());
        detail.insert("locked_until".into(), (now_ms + longest).into());
    }
    tx.append_audit(&AuditEntry {
        at: now_ms,
        actor_id: user.to_string(),
        actor_role: String::new(),
        entity: "login".into(),
        entity_id: user.to_string(),
        action: action.into(),
        detail: serde_json::Value::Object(detail),
    })
    .await?;
    tx.commit().await?;
    Ok((longest > 0).then(|| Throttled {
        retry_after_s: (longest as u64).div_ceil(1000).max(1),
    }))
}

fn key_kind(key: &str) -> &'static str {
    if key.starts_with("user:") {
        "account"
    } else {
        "address"
    }
}

/// A successful sign-in as `user`: the account's failures are forgotten
/// (the address's are not, so one valid account cannot shield guessing at
/// others).
pub async fn succeeded(store: &Store, user: &str) -> Result<()> {
    store.clear_login_failures(&account_key(user)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_after_the_free_failures_up_to_the_cap() {
        let s = |n| ACCOUNT.lock_after(n).as_secs();
        assert_eq!((s(1), s(5)), (0, 0));
        assert_eq!((s(6), s(7), s(8), s(9)), (1, 2, 4, 8));
        assert_eq!(s(100), 15 * 60);
        assert_eq!(ADDRESS.lock_after(20), Duration::ZERO);
        assert_eq!(ADDRESS.lock_after(21), Duration::from_secs(1));
    }
}
