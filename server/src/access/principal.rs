//! Who is asking. The authentication layer finds the user behind a request's session cookie or
//! bearer token and puts a [`Principal`] into the request's extensions; a request without one is
//! anonymous. The policy table and the scope are derived from it, nothing else.

use super::Role;

/// How the user proved who they are on this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session (cookie). Writes must also carry the session's CSRF token.
    Session {
        /// The session's row in the store.
        id: i64,
        /// The token a cookie-authenticated write must echo in `X-CSRF-Token`.
        csrf: String,
    },
    /// An API token (`Authorization: Bearer …`), for QGIS, GDAL and scripts.
    Token {
        /// The token's row in the store.
        id: i64,
    },
}

/// An authenticated user, as the store holds them at the time of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's row in the store.
    pub user_id: i64,
    /// Their login name.
    pub username: String,
    /// Their role.
    pub role: Role,
    /// The street (code) a supervisor answers for.
    pub street: Option<String>,
    /// Grids (codes) given to the user explicitly, beside those of their contracts.
    pub grids: Vec<String>,
    /// The caseworker a caseworker user is: their 包干 contracts give their grids.
    pub caseworker: Option<u32>,
    /// How they authenticated.
    pub credential: Credential,
}
