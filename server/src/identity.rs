//! Who is asking, as a service over the store (no HTTP): logging in with a password (Argon2id,
//! lockout per account in the store and per source address in memory), resolving a session
//! secret or an API token to a [`Principal`], logging out, and the users the CLI manages. The
//! clock and the session timeouts are injected, so tests move time instead of sleeping.

use crate::access::audit::AuditEvent;
use crate::access::lockout::{self, Lockout};
use crate::access::session::{self, Timeouts};
use crate::access::{Credential, Principal, Role, password};
use crate::store::access::{LockRule, NewUser, User};
use crate::store::{Store, StoreError};
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};
use time::OffsetDateTime;

/// What time it is.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

/// How often a session's `last_seen` is written at most: a map's burst of tile requests writes
/// it once. A session may so end up to this much before its idle timeout, never after.
pub const TOUCH_EVERY: time::Duration = time::Duration::minutes(1);

/// The prefix of session secrets (the cookie's value).
pub const SESSION_PREFIX: &str = "rgs_";
/// The prefix of API tokens, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "rgt_";

/// Logins, sessions and tokens: the rules and the in-memory lockout of source addresses.
pub struct Identity {
    timeouts: Timeouts,
    lockout: lockout::Policy,
    clock: Clock,
    addresses: Mutex<Lockout<Option<IpAddr>>>,
    trusted_proxies: Vec<IpAddr>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("timeouts", &self.timeouts).field("lockout", &self.lockout).finish()
    }
}

impl Default for Identity {
    /// 30 minutes idle, 12 hours in all, 5 failures lock for 15 minutes, the system clock.
    fn default() -> Self {
        Self::new(Timeouts::default(), lockout::Policy::default(), system_clock())
    }
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password (the answer does not say which).
    #[error("wrong username or password{}", .locked.map(|_| "; the account is now locked for a while after too many failures").unwrap_or(""))]
    Invalid {
        /// The lock this failure caused, if it did.
        locked: Option<OffsetDateTime>,
    },
    /// Too many failures for this account.
    #[error("too many failed logins: the account is locked for {} more minutes", minutes_until(.until, .now))]
    AccountLocked {
        /// The lock's end.
        until: OffsetDateTime,
        /// Now.
        now: OffsetDateTime,
    },
    /// Too many failures from this address.
    #[error("too many failed logins from this address: try again in {} minutes", minutes_until(.until, .now))]
    SourceLocked {
        /// The lock's end.
        until: OffsetDateTime,
        /// Now.
        now: OffsetDateTime,
    },
    /// The account is disabled.
    #[error("this account is disabled: ask your system administrator")]
    Disabled,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn minutes_until(until: &OffsetDateTime, now: &OffsetDateTime) -> i64 {
    ((*until - *now).whole_seconds() + 59).div_euclid(60).max(1)
}

/// A successful login: the session's secret (the cookie, shown once) and who logged in.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// The session secret.
    pub secret: String,
    /// The user, with the session as credential.
    pub principal: Principal,
}

/// A hash no password matches, checked against for an unknown user so that the answer takes
/// as long as for a known one.
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| password::hash("a decoy that matches no login attempt").unwrap_or_default());

/// Checks a password off the async threads (Argon2id takes tens of milliseconds by design).
async fn verify_password(candidate: &str, stored: &str) -> bool {
    let (c, s) = (candidate.to_owned(), stored.to_owned());
    tokio::task::spawn_blocking(move || password::verify(&c, &s)).await.unwrap_or(false)
}

/// The principal of a stored user with `credential`; `None` when the stored role is not one
/// this build knows (the user is refused: fail closed).
pub fn principal_of(user: &User, credential: Credential) -> Option<Principal> {
    let role: Role = user.role.parse().ok()?;
    Some(Principal {
        user_id: user.id,
        username: user.username.clone(),
        role,
        street: user.street.clone(),
        grids: user.grids.clone(),
        caseworker: user.caseworker,
        credential,
    })
}

/// Fails unless `name` is 1 to 64 letters, digits and `_ . -`.
pub fn check_username(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok) {
        return Err(format!("username {name:?}: use 1 to 64 letters, digits and _ . -"));
    }
    Ok(())
}

/// Fails unless the scope given fits the role: a supervisor names their street, a caseworker
/// their caseworker id (or grids); the other roles see the whole district or no register at all,
/// so they take none.
pub fn check_scope(role: Role, street: Option<&str>, grids: &[String], caseworker: Option<u32>) -> Result<(), String> {
    let scoped = street.is_some() || !grids.is_empty() || caseworker.is_some();
    match role {
        Role::Supervisor if street.is_none() => Err("a supervisor needs --street CODE".into()),
        Role::Supervisor if caseworker.is_some() => Err("a supervisor takes no --caseworker".into()),
        Role::Caseworker if caseworker.is_none() && grids.is_empty() => {
            Err("a caseworker needs --caseworker ID (their contracted grids) or --grids".into())
        }
        Role::Supervisor | Role::Caseworker => Ok(()),
        other if scoped => Err(format!("the role {other} takes no --street, --grids or --caseworker")),
        _ => Ok(()),
    }
}

impl Identity {
    /// The service with these timeouts, this lockout rule and this clock.
    pub fn new(timeouts: Timeouts, lockout: lockout::Policy, clock: Clock) -> Self {
        Self { timeouts, lockout, clock, addresses: Mutex::new(Lockout::new(lockout)), trusted_proxies: Vec::new() }
    }

    /// The same service taking the client's address from `X-Forwarded-For` when a request comes
    /// from one of `proxies` (see [`crate::access::forwarded`]).
    pub fn with_trusted_proxies(mut self, proxies: Vec<IpAddr>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// The reverse proxies whose `X-Forwarded-For` is believed.
    pub fn trusted_proxies(&self) -> &[IpAddr] {
        &self.trusted_proxies
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// The session timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    fn addresses(&self) -> std::sync::MutexGuard<'_, Lockout<Option<IpAddr>>> {
        self.addresses.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Logs `username` in from `source`, writing the audit row of the outcome.
    pub async fn login(
        &self,
        store: &dyn Store,
        username: &str,
        password: &str,
        source: Option<IpAddr>,
    ) -> Result<LoggedIn, LoginError> {
        let now = self.now();
        let from = source.map(|ip| ip.to_string());
        let refused = |reason: &str| {
            AuditEvent::new(now, "login_failed", "/api/login", "denied").from_source(from.clone()).because(reason)
        };
        let address_locked = self.addresses().locked_until(&source, now);
        if let Some(until) = address_locked {
            store.append_audit(&refused(&format!("source address locked; user {username:?}"))).await?;
            return Err(LoginError::SourceLocked { until, now });
        }
        let Some(user) = store.user_named(username).await? else {
            verify_password(password, &DECOY_HASH).await;
            self.addresses().fail(&source, now);
            store.append_audit(&refused(&format!("unknown user {username:?}"))).await?;
            return Err(LoginError::Invalid { locked: None });
        };
        let by = |e: AuditEvent| e.by(&user.username, &user.role);
        if let Some(until) = user.locked_until.filter(|u| *u > now) {
            store.append_audit(&by(refused("account locked"))).await?;
            return Err(LoginError::AccountLocked { until, now });
        }
        if !verify_password(password, &user.password_hash).await {
            self.addresses().fail(&source, now);
            let rule = LockRule { max_failures: self.lockout.max_failures, lock_for: self.lockout.lock_for };
            let locked = store.login_failed(user.id, now, rule, &by(refused("wrong password"))).await?;
            return Err(LoginError::Invalid { locked });
        }
        if user.disabled {
            store.append_audit(&by(refused("account disabled"))).await?;
            return Err(LoginError::Disabled);
        }
        let secret = session::new_secret(SESSION_PREFIX);
        let csrf = session::new_secret("");
        // A user of a role this build does not know gets no session (fail closed).
        user.role.parse::<Role>().map_err(|_| unknown_role(&user))?;
        let ok = by(AuditEvent::new(now, "login", "/api/login", "ok").from_source(from.clone()));
        let id = store.start_session(user.id, &session::secret_hash(&secret), &csrf, now, &ok).await?;
        {
            let mut addresses = self.addresses();
            addresses.succeed(&source);
            addresses.prune(now);
        }
        let principal = principal_of(&user, Credential::Session { id, csrf }).ok_or_else(|| unknown_role(&user))?;
        Ok(LoggedIn { secret, principal })
    }

    /// The user of a session secret, if the session is alive (noting the request), else `None`
    /// (ending an expired session).
    pub async fn session(&self, store: &dyn Store, secret: &str) -> Result<Option<Principal>, StoreError> {
        let now = self.now();
        let Some((s, user)) = store.session(&session::secret_hash(secret)).await? else { return Ok(None) };
        if s.ended_at.is_some() || user.disabled {
            return Ok(None);
        }
        if !self.timeouts.alive(s.created_at, s.last_seen, now) {
            store.end_session(s.id, now, None).await?;
            return Ok(None);
        }
        if now - s.last_seen >= TOUCH_EVERY {
            store.touch_session(s.id, now).await?;
        }
        principal_of(&user, Credential::Session { id: s.id, csrf: s.csrf }).map(Some).ok_or_else(|| unknown_role(&user))
    }

    /// The user of an API token, unless it is revoked or its user disabled.
    pub async fn token(&self, store: &dyn Store, secret: &str) -> Result<Option<Principal>, StoreError> {
        let Some((t, user)) = store.token(&session::secret_hash(secret)).await? else { return Ok(None) };
        if t.revoked_at.is_some() || user.disabled {
            return Ok(None);
        }
        principal_of(&user, Credential::Token { id: t.id }).map(Some).ok_or_else(|| unknown_role(&user))
    }

    /// Ends the session of `who` (if they came with one), writing the audit row.
    pub async fn logout(&self, store: &dyn Store, who: &Principal, source: Option<IpAddr>) -> Result<(), StoreError> {
        let Credential::Session { id, .. } = who.credential else { return Ok(()) };
        let now = self.now();
        let event = AuditEvent::new(now, "logout", "/api/logout", "ok")
            .by(&who.username, who.role.as_str())
            .from_source(source.map(|ip| ip.to_string()));
        store.end_session(id, now, Some(&event)).await
    }

    /// Adds a user (the password checked and hashed here), writing the audit row as `actor`.
    pub async fn add_user(&self, store: &dyn Store, user: NewUserRequest, actor: &Actor) -> Result<i64, UserError> {
        check_username(&user.username).map_err(UserError::Invalid)?;
        check_scope(user.role, user.street.as_deref(), &user.grids, user.caseworker).map_err(UserError::Invalid)?;
        let hash = hash_password(&user.password).await?;
        let new = NewUser {
            username: user.username,
            role: user.role.as_str().to_owned(),
            street: user.street,
            grids: user.grids,
            caseworker: user.caseworker,
            password_hash: hash,
        };
        let now = self.now();
        let target = format!("user {} role {}", new.username, new.role);
        Ok(store.add_user(&new, now, &actor.event(now, "user_add", target)).await?)
    }
}

/// A user to add, as the CLI (or later the API) asks for one.
#[derive(Debug, Clone)]
pub struct NewUserRequest {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The street (code) of a supervisor.
    pub street: Option<String>,
    /// Grid codes.
    pub grids: Vec<String>,
    /// The caseworker of a caseworker user.
    pub caseworker: Option<u32>,
    /// The password, in clear (hashed before it is stored).
    pub password: String,
}

/// Who makes a change to users: a logged-in user, or the command line on the server.
#[derive(Debug, Clone)]
pub enum Actor {
    /// `rentgrid` on the server (the operating-system user stands behind it).
    Cli,
    /// A logged-in user from a source address.
    User(Principal, Option<IpAddr>),
}

impl Actor {
    /// The audit event of `action` on `target` at `now` by this actor.
    pub fn event(&self, now: OffsetDateTime, action: &str, target: String) -> AuditEvent {
        let e = AuditEvent::new(now, action, target, "ok");
        match self {
            Actor::Cli => e.from_source(Some("cli".into())),
            Actor::User(p, ip) => e.by(&p.username, p.role.as_str()).from_source(ip.map(|ip| ip.to_string())),
        }
    }
}

/// Why a user change was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A bad name or password.
    #[error("{0}")]
    Invalid(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The Argon2id hash of `password`, off the async threads; refuses a short one.
pub async fn hash_password(password: &str) -> Result<String, UserError> {
    let p = password.to_owned();
    tokio::task::spawn_blocking(move || password::hash(&p))
        .await
        .map_err(|e| UserError::Invalid(e.to_string()))?
        .map_err(|e| UserError::Invalid(e.to_string()))
}

fn unknown_role(user: &User) -> StoreError {
    StoreError::Corrupt { what: "user", id: user.username.clone(), reason: format!("unknown role {:?}", user.role) }
}
