//! Calendar days as the store and the API write them (`YYYY-MM-DD`), and instants (RFC 3339 UTC).

use time::{Date, OffsetDateTime};

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Formats a date as `YYYY-MM-DD`.
pub fn fmt_date(d: Date) -> String {
    d.format(DATE_FORMAT).unwrap_or_default()
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, DATE_FORMAT).ok()
}

const INSTANT_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Formats an instant as RFC 3339 UTC to the second (`2026-12-03T08:00:00Z`): text that sorts
/// as time does, the same in every backend.
pub fn fmt_instant(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(INSTANT_FORMAT).unwrap_or_default()
}

/// Parses what [`fmt_instant`] writes.
pub fn parse_instant(s: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(s, INSTANT_FORMAT).ok().map(|t| t.assume_utc())
}
