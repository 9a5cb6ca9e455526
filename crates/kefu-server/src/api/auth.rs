//! Who is calling: `Authorization: Bearer <token>`, where the token is a
//! session from `/auth/login` or an API token. Both are looked up in the
//! database, so any server node can serve any request.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use chrono::Utc;
use kefu_service::auth::{self as users, Principal, Role};
use kefu_service::throttle;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::proxy::ClientAddr;
use crate::AppState;

/// How long a login session lasts.
const SESSION_HOURS: u64 = 12;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// Who, and with which role.
    pub principal: Principal,
    /// The bearer token presented (to end a session).
    token: String,
}

impl Caller {
    /// For agents, their own id: the only agent whose data they may see.
    pub(crate) fn agent_scope(&self) -> Option<&str> {
        (self.principal.role == Role::Agent).then_some(self.principal.user_id.as_str())
    }

    /// Inspectors, supervisors and admins (and systems with such a token).
    pub(crate) fn require_staff(&self, what: &str) -> Result<(), ApiError> {
        match self.principal.role {
            Role::Inspector | Role::Supervisor | Role::Admin => Ok(()),
            Role::Agent => Err(ApiError::Forbidden(format!("agents may not {what}"))),
        }
    }

    /// Supervisors and admins.
    pub(crate) fn require_supervisor(&self, what: &str) -> Result<(), ApiError> {
        match self.principal.role {
            Role::Supervisor | Role::Admin => Ok(()),
            _ => Err(ApiError::Forbidden(format!(
                "only supervisors and admins may {what}"
            ))),
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let token = bearer(parts)
            .ok_or_else(|| ApiError::Unauthorized("send `Authorization: Bearer <token>`".into()))?
            .to_string();
        let now = Utc::now().timestamp_millis();
        let principal = match users::principal_for_session(&state.store, &token, now).await? {
            Some(p) => p,
            None => users::principal_for_token(&state.store, &token, now)
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized("the token is unknown, expired or revoked".into())
                })?,
        };
        Ok(Caller { principal, token })
    }
}

/// Body of `POST /auth/login`.
#[derive(Debug, Deserialize)]
pub(crate) struct Login {
    user: String,
    password: String,
}

/// `POST /api/v1/auth/login`.
///
/// Throttled per account and per client address ([`throttle`]): while
/// locked, 429 with `Retry-After`, the same for unknown user names.
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(login) = body.map_err(crate::error::rejection)?;
    let now = Utc::now().timestamp_millis();
    if let Some(t) = throttle::check(&state.store, &login.user, addr.as_deref(), now).await? {
        return Err(ApiError::TooManyRequests(t.retry_after_s));
    }
    let Some(principal) =
        users::verify_password(&state.store, &login.user, &login.password).await?
    else {
        return Err(
            match throttle::failed(&state.store, &login.user, addr.as_deref(), now).await? {
                Some(t) => ApiError::TooManyRequests(t.retry_after_s),
                None => ApiError::Unauthorized("wrong user name or password".into()),
            },
        );
    };
    throttle::succeeded(&state.store, &login.user).await?;
    let (token, expires_at) = users::create_session(
        &state.store,
        &principal.user_id,
        std::time::Duration::from_secs(SESSION_HOURS * 3600),
        Utc::now().timestamp_millis(),
    )
    .await?;
    Ok(Json(json!({
        "token": token,
        "expires_at": expires_at,
        "user": principal,
    })))
}

/// `POST /api/v1/auth/logout`.
pub(crate) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    users::end_session(&state.store, &caller.token).await?;
    Ok(Json(json!({"ok": true})))
}

/// `GET /api/v1/me`.
pub(crate) async fn me(caller: Caller) -> Json<Value> {
    Json(json!({"user": caller.principal}))
}
