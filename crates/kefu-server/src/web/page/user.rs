//! The signed-in user of a dashboard request ([`WebUser`]): looked up from
//! the session cookie, with the checks handlers make on it (role, agent
//! scope, section) and its CSRF token.

use axum::http::header::HeaderMap;
use chrono::Utc;
use kefu_service::auth::{self as users, Principal, Role};

use super::cookies::{cookie, SESSION_COOKIE};
use super::csrf::csrf_token;
use super::error::WebError;
use super::nav::Section;
use crate::AppState;

/// The user of a dashboard request, from the `kefu_session` cookie.
#[derive(Debug, Clone)]
pub(crate) struct WebUser {
    /// Who, with which role and team.
    pub principal: Principal,
    /// Name shown in the header.
    pub display_name: String,
    /// The session token (to sign out and to derive the CSRF token).
    pub session: String,
    /// Unread notifications (the header's badge).
    pub unread: i64,
}

impl WebUser {
    /// The role.
    pub(crate) fn role(&self) -> Role {
        self.principal.role
    }

    /// The user id.
    pub(crate) fn id(&self) -> &str {
        &self.principal.user_id
    }

    /// The CSRF token of this session (what forms must send back).
    pub(crate) fn csrf(&self) -> String {
        csrf_token(&self.session)
    }

    /// For agents, their own id: the only agent whose data they may see.
    pub(crate) fn agent_scope(&self) -> Option<&str> {
        (self.role() == Role::Agent).then_some(self.id())
    }

    /// Fails with 403 unless the role may use `section`.
    pub(crate) fn require(&self, section: Section) -> Result<(), WebError> {
        if section.allowed(self.role()) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }
}

/// Looks up the session of a request.
pub(crate) async fn session_user(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<WebUser>, WebError> {
    let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let now = Utc::now().timestamp_millis();
    let Some(principal) = users::principal_for_session(&state.store, &token, now).await? else {
        return Ok(None);
    };
    let display_name = users::get_user(&state.store, &principal.user_id)
        .await?
        .map(|u| u.display_name)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| principal.user_id.clone());
    // The header's badge: one count over a partial index; a failure only
    // hides the badge.
    let unread = state
        .store
        .unread_count(&principal.user_id)
        .await
        .unwrap_or(0);
    Ok(Some(WebUser {
        principal,
        display_name,
        session: token,
        unread,
    }))
}
