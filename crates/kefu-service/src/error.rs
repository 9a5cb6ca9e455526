//! The one error kind of kefu's services.
//!
//! Every service call fails with an [`Error`] saying *what kind* of failure
//! it is — the caller's input, their role, a missing record, a collision
//! with the stored state, or our own fault — with a message for the user
//! (or, for [`Error::Internal`], for the log). The HTTP API maps the kinds
//! to statuses in one place, the dashboard to error pages in another.
//!
//! Errors of the pure domain modules ([`crate::complaint::ComplaintError`],
//! [`crate::sla::SlaError`], [`crate::period::PeriodError`]) and of the store
//! ([`kefu_store::StoreError`]) convert into it with `?`.

use kefu_store::StoreError;

/// Why a service call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is unusable or breaks a rule of the domain: fix it.
    #[error("{0}")]
    Invalid(String),
    /// The caller's role (or relation to the record) does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// No such record — or one the caller may not see.
    #[error("{0}")]
    NotFound(String),
    /// The stored state does not allow it now: the record changed
    /// meanwhile, is in another state, or the id is taken.
    #[error("{0}")]
    Conflict(String),
    /// The database failed or stored data is unreadable: our fault. The
    /// message is for the log, not for the user.
    #[error("{0}")]
    Internal(String),
    /// Other writers held the database for longer than kefu waits: nothing
    /// was written; try again shortly (the API answers 503 with
    /// `Retry-After`).
    #[error("{0}")]
    Busy(String),
}

/// A service result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// "no {what} {id}".
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Error {
        Error::NotFound(format!("no {what} {id}"))
    }

    /// "invalid {field}: {reason}".
    pub fn invalid_field(field: &str, reason: impl std::fmt::Display) -> Error {
        Error::Invalid(format!("invalid {field}: {reason}"))
    }

    /// An internal error for stored data that cannot be read back.
    pub fn corrupt(what: impl Into<String>, reason: impl std::fmt::Display) -> Error {
        StoreError::corrupt(what, reason).into()
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Error::Invalid(m)
            | Error::Forbidden(m)
            | Error::NotFound(m)
            | Error::Conflict(m)
            | Error::Internal(m)
            | Error::Busy(m) => m,
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::NotFound { .. } => Error::NotFound(e.to_string()),
            StoreError::Conflict(m) => Error::Conflict(m),
            StoreError::Busy(m) => Error::Busy(m),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<crate::complaint::ComplaintError> for Error {
    fn from(e: crate::complaint::ComplaintError) -> Error {
        use crate::complaint::ErrorClass;
        let message = e.to_string();
        match e.class() {
            ErrorClass::Invalid => Error::Invalid(message),
            ErrorClass::Forbidden => Error::Forbidden(message),
            ErrorClass::Conflict => Error::Conflict(message),
        }
    }
}

impl From<crate::sla::SlaError> for Error {
    fn from(e: crate::sla::SlaError) -> Error {
        Error::Invalid(format!("invalid SLA settings: {e}"))
    }
}

impl From<crate::period::PeriodError> for Error {
    fn from(e: crate::period::PeriodError) -> Error {
        Error::Invalid(e.to_string())
    }
}
