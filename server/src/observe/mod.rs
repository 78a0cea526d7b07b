//! What an operator sees of the running server, apart from HTTP: each request's id
//! ([`request_id`]), the log and its format ([`logs`]), and the figures `GET /metrics` serves
//! ([`metrics`]). The HTTP layers that apply them are in `api::observe`.

pub mod logs;
pub mod metrics;
pub mod request_id;
