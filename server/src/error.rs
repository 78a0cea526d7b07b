//! The application's one error type, returned by the services and the handlers alike, and the
//! errors of starting. How an error is answered over HTTP (status, machine code, body) is the
//! HTTP layer's ([`crate::api::error`]); nothing here knows of HTTP.

use crate::glyphs::GlyphSourceError;
use crate::store::StoreError;
use rentgrid_analysis::hotspot_run::RunError;
use rentgrid_geodata::AtlasError;
use rentgrid_geodata::demo;
use rentgrid_tiles::glyphs::Error as GlyphError;

/// What went wrong with a request: the caller's mistake (named by kind), or ours.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (bad query, bad JSON).
    #[error("{0}")]
    BadRequest(String),
    /// Something named in the path or body does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Well-formed but not acceptable (refers to the wrong things, out of range).
    #[error("{0}")]
    Unprocessable(String),
    /// Conflicts with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// Existed, and is withdrawn for good (a revoked door plate).
    #[error("{0}")]
    Gone(String),
    /// The caller is not logged in, or their credential is wrong, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not have this.
    #[error("{0}")]
    Forbidden(String),
    /// The method is not served (TRACE, CONNECT).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The body is larger than the endpoint takes.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is of a type the endpoint does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many attempts (failed logins): try again later.
    #[error("{0}")]
    TooManyRequests(String),
    /// A part the answer needs is not there or too busy for now: try again.
    #[error("{0}")]
    Unavailable(String),
    /// The database does not answer for now (stopped, restarting, unreachable): 503 with
    /// `Retry-After`; the pool reconnects by itself once it is back.
    #[error("{0}")]
    StoreAway(String),
    /// The disk under the store is full: nothing of the write was kept (507).
    #[error("{0}")]
    InsufficientStorage(String),
    /// Our fault.
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => AppError::NotFound(e.to_string()),
            StoreError::Rejected(m) => AppError::Unprocessable(m),
            StoreError::ClientIdConflict(_) => AppError::Conflict(e.to_string()),
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %e, "the database does not answer");
                AppError::StoreAway("the database does not answer for now: try again shortly".into())
            }
            StoreError::DiskFull(_) => {
                tracing::error!(error = %e, "the disk under the store is full");
                AppError::InsufficientStorage(
                    "the disk under the store is full: nothing of this request was written; once space is freed \
                     on the server, send it again"
                        .into(),
                )
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<StartupError> for AppError {
    /// What loading the store's data again failed of: the store as a store error is, anything
    /// else (stored data that makes no Atlas) as ours.
    fn from(e: StartupError) -> Self {
        match e {
            StartupError::Store(e) => e.into(),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<RunError> for AppError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Unfit(m) => AppError::Unprocessable(m),
            RunError::Internal(m) => AppError::Internal(m),
        }
    }
}

impl From<GlyphSourceError> for AppError {
    fn from(e: GlyphSourceError) -> Self {
        match e {
            GlyphSourceError::NoFonts => AppError::NotFound(e.to_string()),
            GlyphSourceError::Glyphs(GlyphError::BadRange(_)) => AppError::BadRequest(e.to_string()),
            GlyphSourceError::Glyphs(GlyphError::UnknownFont { .. } | GlyphError::BadStack(_)) => {
                AppError::NotFound(e.to_string())
            }
            GlyphSourceError::Unreadable { .. } | GlyphSourceError::Glyphs(GlyphError::NotAFont(_)) => {
                AppError::Internal(e.to_string())
            }
        }
    }
}

/// Result of services and handlers.
pub type AppResult<T> = Result<T, AppError>;

/// Errors while starting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored data does not make a consistent Atlas.
    #[error("the stored data is inconsistent: {0}")]
    Atlas(#[from] AtlasError),
    /// The demo generator refused its options.
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    /// A user could not be added.
    #[error(transparent)]
    User(#[from] crate::identity::UserError),
}
