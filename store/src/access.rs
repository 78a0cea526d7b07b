//! Users, their sessions and their API tokens in the store. Each change to them is one transaction
//! with its audit row ([`AuditEvent`]); secrets arrive already hashed (the store never sees a
//! password or a token), and the rules of a login (how many failures lock an account, for how
//! long) come from the caller as a [`LockRule`].

use crate::audit::{self, AuditEvent};
use crate::backend::{Backend, Tx};
use crate::dates::{fmt_instant, parse_instant};
use crate::sql::Sql;
use crate::value::{Row, Value};
use crate::{Result, SqlStore, StoreError};
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

/// A user to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name, unique.
    pub username: String,
    /// Role name (`center`, `supervisor`, `caseworker`, `leader`, `sysadmin`, `secadmin`, `auditor`).
    pub role: String,
    /// The street (code) a supervisor answers for.
    pub street: Option<String>,
    /// Grid codes given explicitly.
    pub grids: Vec<String>,
    /// The caseworker a caseworker user is.
    pub caseworker: Option<u32>,
    /// The Argon2id PHC string of the password.
    pub password_hash: String,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Role name.
    pub role: String,
    /// The street (code) a supervisor answers for.
    pub street: Option<String>,
    /// Grid codes given explicitly.
    pub grids: Vec<String>,
    /// The caseworker a caseworker user is.
    pub caseworker: Option<u32>,
    /// The Argon2id PHC string of the password.
    pub password_hash: String,
    /// A disabled user cannot log in, and their sessions and tokens are refused.
    pub disabled: bool,
    /// Failed logins since the last success or lock.
    pub failed_logins: u32,
    /// Locked against logins until then.
    pub locked_until: Option<OffsetDateTime>,
    /// When added.
    pub created_at: OffsetDateTime,
}

/// A stored browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Row id.
    pub id: i64,
    /// Whose.
    pub user_id: i64,
    /// The token a write must echo in `X-CSRF-Token`.
    pub csrf: String,
    /// When the user logged in.
    pub created_at: OffsetDateTime,
    /// The last request seen (kept to the minute or so).
    pub last_seen: OffsetDateTime,
    /// When it ended (logout, expiry), if it has.
    pub ended_at: Option<OffsetDateTime>,
}

/// A stored API token (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Row id.
    pub id: i64,
    /// Whose.
    pub user_id: i64,
    /// What its user called it (`qgis`, `nightly export`).
    pub name: String,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// When failed logins lock an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRule {
    /// Failures that lock.
    pub max_failures: u32,
    /// How long a lock lasts.
    pub lock_for: Duration,
}

/// Users, sessions and API tokens.
///
/// ```
/// use rentgrid_store::{Access, Store};
/// // Anything that keeps the register keeps its users.
/// fn users(store: &dyn Store) -> &dyn Access { store }
/// ```
#[async_trait]
pub trait Access: Send + Sync {
    /// Adds a user at `now`, with `audit`; returns its id. [`StoreError::Conflict`] when the
    /// name is taken.
    async fn add_user(&self, user: &NewUser, now: OffsetDateTime, audit: &AuditEvent) -> Result<i64>;
    /// Every user, by name.
    async fn users(&self) -> Result<Vec<User>>;
    /// The user of that name.
    async fn user_named(&self, username: &str) -> Result<Option<User>>;
    /// The user of that id.
    async fn user_by_id(&self, id: i64) -> Result<Option<User>>;
    /// Disables or enables a user (ending their sessions when disabling), with `audit`.
    async fn set_disabled(&self, username: &str, disabled: bool, now: OffsetDateTime, audit: &AuditEvent)
    -> Result<()>;
    /// Sets a user's password hash, lifts their lock and ends their sessions, with `audit`.
    async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Counts a failed login of `user_id` at `now` under `rule`, with `audit`; returns the end
    /// of the lock it causes, if any.
    async fn login_failed(
        &self,
        user_id: i64,
        now: OffsetDateTime,
        rule: LockRule,
        audit: &AuditEvent,
    ) -> Result<Option<OffsetDateTime>>;
    /// Starts a session for `user_id` (forgetting their failed logins), with `audit`; returns its id.
    async fn start_session(
        &self,
        user_id: i64,
        secret_hash: &str,
        csrf: &str,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<i64>;
    /// The session whose secret has this hash, with its user.
    async fn session(&self, secret_hash: &str) -> Result<Option<(Session, User)>>;
    /// Notes a request of session `id` at `now`.
    async fn touch_session(&self, id: i64, now: OffsetDateTime) -> Result<()>;
    /// Ends session `id` at `now` (with `audit`, for a logout).
    async fn end_session(&self, id: i64, now: OffsetDateTime, audit: Option<&AuditEvent>) -> Result<()>;
    /// Creates an API token of `user_id`, with `audit`; returns its id.
    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        secret_hash: &str,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<i64>;
    /// The token whose secret has this hash, with its user.
    async fn token(&self, secret_hash: &str) -> Result<Option<(ApiToken, User)>>;
    /// The tokens of `user_id`, newest last.
    async fn tokens(&self, user_id: i64) -> Result<Vec<ApiToken>>;
    /// Revokes token `id` of `user_id`, with `audit`; [`StoreError::NotFound`] when the user
    /// has no such token.
    async fn revoke_token(&self, user_id: i64, id: i64, now: OffsetDateTime, audit: &AuditEvent) -> Result<()>;
}

const USER_COLUMNS: &str = "id, username, role, street, grids, caseworker_id, password_hash, disabled, failed_logins, \
                            locked_until, created_at";
const SESSION_COLUMNS: &str = "id, user_id, csrf, created_at, last_seen, ended_at";
const TOKEN_COLUMNS: &str = "id, user_id, name, created_at, revoked_at";

fn instant(r: &Row, col: &str) -> Result<Option<OffsetDateTime>> {
    r.opt_text(col)?
        .map(|s| {
            parse_instant(&s).ok_or_else(|| StoreError::Corrupt {
                what: "instant",
                id: col.to_string(),
                reason: format!("{s:?} is not RFC 3339 UTC"),
            })
        })
        .transpose()
}

fn required(r: &Row, col: &str) -> Result<OffsetDateTime> {
    instant(r, col)?.ok_or_else(|| StoreError::Corrupt {
        what: "instant",
        id: col.to_string(),
        reason: "is NULL".into(),
    })
}

fn user_of(r: &Row) -> Result<User> {
    Ok(User {
        id: r.int("id")?,
        username: r.text("username")?,
        role: r.text("role")?,
        street: r.opt_text("street")?,
        grids: r.json("grids")?,
        caseworker: r.opt_u32("caseworker_id")?,
        password_hash: r.text("password_hash")?,
        disabled: r.bool("disabled")?,
        failed_logins: r.u32("failed_logins")?,
        locked_until: instant(r, "locked_until")?,
        created_at: required(r, "created_at")?,
    })
}

fn session_of(r: &Row) -> Result<Session> {
    Ok(Session {
        id: r.int("id")?,
        user_id: r.int("user_id")?,
        csrf: r.text("csrf")?,
        created_at: required(r, "created_at")?,
        last_seen: required(r, "last_seen")?,
        ended_at: instant(r, "ended_at")?,
    })
}

fn token_of(r: &Row) -> Result<ApiToken> {
    Ok(ApiToken {
        id: r.int("id")?,
        user_id: r.int("user_id")?,
        name: r.text("name")?,
        created_at: required(r, "created_at")?,
        revoked_at: instant(r, "revoked_at")?,
    })
}

async fn user_where(db: &dyn Backend, col: &str, v: Value) -> Result<Option<User>> {
    let rows = db.fetch(Sql::new(format!("SELECT {USER_COLUMNS} FROM users WHERE {col} = ")).bind(v)).await?;
    rows.first().map(user_of).transpose()
}

/// A row of `table` (sessions or tokens: they have `secret_hash` and `user_id`) whose secret has
/// this hash, read by `of`, with its user.
async fn by_secret<T>(
    db: &dyn Backend,
    columns: &str,
    table: &str,
    secret_hash: &str,
    of: fn(&Row) -> Result<T>,
) -> Result<Option<(T, User)>> {
    let q = Sql::new(format!("SELECT {columns}, user_id AS owner FROM {table} WHERE secret_hash = ")).bind(secret_hash);
    let Some(row) = db.fetch(q).await?.into_iter().next() else { return Ok(None) };
    let user = user_where(db, "id", row.int("owner")?.into()).await?;
    user.map(|u| of(&row).map(|t| (t, u))).transpose()
}

/// The id of the user named `username` (in `tx`), or [`StoreError::NotFound`].
async fn user_id(tx: &mut Tx<'_>, username: &str) -> Result<i64> {
    tx.fetch_optional(Sql::new("SELECT id FROM users WHERE username = ").bind(username))
        .await?
        .ok_or_else(|| StoreError::NotFound { what: "user", id: username.to_string() })?
        .int("id")
}

/// Ends every open session of `user` at `now`.
async fn end_sessions_of(tx: &mut Tx<'_>, user: i64, now: &str) -> Result<()> {
    tx.execute(
        Sql::new("UPDATE sessions SET ended_at = ").bind(now).push(" WHERE ended_at IS NULL AND user_id = ").bind(user),
    )
    .await?;
    Ok(())
}

/// Runs `write` and appends `event` in one transaction that holds the audit lock.
macro_rules! audited {
    ($db:expr, $event:expr, |$tx:ident| $write:block) => {{
        let mut $tx = audit::begin($db).await?;
        let out = $write;
        audit::append(&mut $tx, $event).await?;
        $tx.commit().await?;
        Ok(out)
    }};
}

#[async_trait]
impl<B: Backend> Access for SqlStore<B> {
    async fn add_user(&self, u: &NewUser, now: OffsetDateTime, event: &AuditEvent) -> Result<i64> {
        audited!(&self.db, event, |tx| {
            if tx.fetch_optional(Sql::new("SELECT id FROM users WHERE username = ").bind(&u.username)).await?.is_some()
            {
                return Err(StoreError::Conflict(format!("a user named {:?} exists already", u.username)));
            }
            tx.fetch_one(
                Sql::new(
                    "INSERT INTO users (username, role, street, grids, caseworker_id, password_hash, disabled, \
                     failed_logins, created_at) ",
                )
                .values([vec![
                    (&u.username).into(),
                    (&u.role).into(),
                    u.street.clone().into(),
                    Value::json(&u.grids)?,
                    u.caseworker.into(),
                    (&u.password_hash).into(),
                    false.into(),
                    0u32.into(),
                    fmt_instant(now).into(),
                ]])
                .push(" RETURNING id"),
            )
            .await?
            .int("id")?
        })
    }

    async fn users(&self) -> Result<Vec<User>> {
        let rows = self.db.fetch(Sql::new(format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"))).await?;
        rows.iter().map(user_of).collect()
    }

    async fn user_named(&self, username: &str) -> Result<Option<User>> {
        user_where(&self.db, "username", username.into()).await
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        user_where(&self.db, "id", id.into()).await
    }

    async fn set_disabled(
        &self,
        username: &str,
        disabled: bool,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<()> {
        audited!(&self.db, event, |tx| {
            let id = user_id(&mut tx, username).await?;
            tx.execute(Sql::new("UPDATE users SET disabled = ").bind(disabled).push(" WHERE id = ").bind(id)).await?;
            if disabled {
                end_sessions_of(&mut tx, id, &fmt_instant(now)).await?;
            }
        })
    }

    async fn set_password(&self, username: &str, hash: &str, now: OffsetDateTime, event: &AuditEvent) -> Result<()> {
        audited!(&self.db, event, |tx| {
            let id = user_id(&mut tx, username).await?;
            tx.execute(
                Sql::new("UPDATE users SET failed_logins = 0, locked_until = NULL, password_hash = ")
                    .bind(hash)
                    .push(" WHERE id = ")
                    .bind(id),
            )
            .await?;
            end_sessions_of(&mut tx, id, &fmt_instant(now)).await?;
        })
    }

    async fn login_failed(
        &self,
        user: i64,
        now: OffsetDateTime,
        rule: LockRule,
        event: &AuditEvent,
    ) -> Result<Option<OffsetDateTime>> {
        audited!(&self.db, event, |tx| {
            let row = tx
                .fetch_optional(Sql::new("SELECT failed_logins, locked_until FROM users WHERE id = ").bind(user))
                .await?
                .ok_or_else(|| StoreError::NotFound { what: "user", id: user.to_string() })?;
            let (failures, locked) = (row.u32("failed_logins")?, instant(&row, "locked_until")?);
            // A lock that has ended starts the count again.
            let failures = if locked.is_some_and(|u| u <= now) { 1 } else { failures + 1 };
            let lock = (failures >= rule.max_failures).then(|| now + rule.lock_for).or(locked.filter(|u| *u > now));
            let stored = if lock.is_some() { 0 } else { failures };
            tx.execute(
                Sql::new("UPDATE users SET failed_logins = ")
                    .bind(stored)
                    .push(", locked_until = ")
                    .bind(lock.map(fmt_instant))
                    .push(" WHERE id = ")
                    .bind(user),
            )
            .await?;
            lock
        })
    }

    async fn start_session(
        &self,
        user: i64,
        secret_hash: &str,
        csrf: &str,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<i64> {
        let at = fmt_instant(now);
        audited!(&self.db, event, |tx| {
            tx.execute(Sql::new("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ").bind(user))
                .await?;
            tx.fetch_one(
                Sql::new("INSERT INTO sessions (user_id, secret_hash, csrf, created_at, last_seen) ")
                    .values([vec![user.into(), secret_hash.into(), csrf.into(), (&at).into(), (&at).into()]])
                    .push(" RETURNING id"),
            )
            .await?
            .int("id")?
        })
    }

    async fn session(&self, secret_hash: &str) -> Result<Option<(Session, User)>> {
        by_secret(&self.db, SESSION_COLUMNS, "sessions", secret_hash, session_of).await
    }

    async fn touch_session(&self, id: i64, now: OffsetDateTime) -> Result<()> {
        let mut tx = Tx::begin(&self.db).await?;
        tx.execute(Sql::new("UPDATE sessions SET last_seen = ").bind(fmt_instant(now)).push(" WHERE id = ").bind(id))
            .await?;
        tx.commit().await
    }

    async fn end_session(&self, id: i64, now: OffsetDateTime, event: Option<&AuditEvent>) -> Result<()> {
        let mut tx = match event {
            Some(_) => audit::begin(&self.db).await?,
            None => Tx::begin(&self.db).await?,
        };
        tx.execute(
            Sql::new("UPDATE sessions SET ended_at = ")
                .bind(fmt_instant(now))
                .push(" WHERE ended_at IS NULL AND id = ")
                .bind(id),
        )
        .await?;
        if let Some(e) = event {
            audit::append(&mut tx, e).await?;
        }
        tx.commit().await
    }

    async fn create_token(
        &self,
        user: i64,
        name: &str,
        secret_hash: &str,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<i64> {
        audited!(&self.db, event, |tx| {
            tx.fetch_one(
                Sql::new("INSERT INTO api_tokens (user_id, name, secret_hash, created_at) ")
                    .values([vec![user.into(), name.into(), secret_hash.into(), fmt_instant(now).into()]])
                    .push(" RETURNING id"),
            )
            .await?
            .int("id")?
        })
    }

    async fn token(&self, secret_hash: &str) -> Result<Option<(ApiToken, User)>> {
        by_secret(&self.db, TOKEN_COLUMNS, "api_tokens", secret_hash, token_of).await
    }

    async fn tokens(&self, user: i64) -> Result<Vec<ApiToken>> {
        let rows = self
            .db
            .fetch(
                Sql::new(format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = "))
                    .bind(user)
                    .push(" ORDER BY id"),
            )
            .await?;
        rows.iter().map(token_of).collect()
    }

    async fn revoke_token(&self, user: i64, id: i64, now: OffsetDateTime, event: &AuditEvent) -> Result<()> {
        audited!(&self.db, event, |tx| {
            let changed = tx
                .execute(
                    Sql::new("UPDATE api_tokens SET revoked_at = ")
                        .bind(fmt_instant(now))
                        .push(" WHERE revoked_at IS NULL AND id = ")
                        .bind(id)
                        .push(" AND user_id = ")
                        .bind(user),
                )
                .await?;
            if changed == 0 {
                return Err(StoreError::NotFound { what: "token", id: id.to_string() });
            }
        })
    }
}
