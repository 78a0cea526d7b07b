//! Access control's pure parts: who a user is ([`Role`]), how their password is kept
//! ([`password`]), when a login is refused ([`lockout`]), how long a session lives ([`session`]),
//! how a person's fields are masked ([`mask`]), how the audit log is chained ([`audit`]) and who
//! may call which route ([`policy`]). No HTTP and no SQL here: the HTTP layer applies the policy
//! and derives a request's scope from these, the store keeps their rows.

pub mod audit;
pub mod lockout;
pub mod mask;
pub mod password;
pub mod policy;
pub mod principal;
pub mod role;
pub mod session;

pub use principal::{Credential, Principal};
pub use role::Role;
