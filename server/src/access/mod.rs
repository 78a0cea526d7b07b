//! Access control's pure parts: who a user is ([`Role`]), how their password is kept
//! ([`password`]), when a login is refused ([`lockout`]), how long a session lives ([`session`]),
//! how a person's fields are masked ([`mask`]), whose address a request is ([`forwarded`]), who may call which route ([`policy`]); the audit
//! log's chain lives with its rows in the store ([`audit`], re-exported). No HTTP and no SQL here:
//! the HTTP layer applies the policy and derives a request's scope from these, the store keeps
//! their rows.

pub use rentgrid_store::audit;
pub mod demo_users;
pub mod forwarded;
pub mod lockout;
pub mod mask;
pub mod password;
pub mod policy;
pub mod principal;
pub mod role;
pub mod session;

pub use principal::{Credential, Principal};
pub use role::Role;
