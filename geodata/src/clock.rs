//! The one clock of rentgrid: every "today" (a visit's default date, the newest date an import
//! accepts, a campaign's creation day, the candidate estimate's day) is the date in China
//! Standard Time (Asia/Shanghai: UTC+8 all year, no daylight saving since 1991), so that a ledger
//! row and a visit dated the same day are judged alike at any hour.

use time::{Date, OffsetDateTime, UtcOffset};

/// China Standard Time, UTC+8 (the offset of `Asia/Shanghai`).
pub const CHINA: UtcOffset = time::macros::offset!(+8);

/// Today in China.
pub fn today() -> Date {
    today_at(OffsetDateTime::now_utc())
}

/// The date in China at the instant `now`.
pub fn today_at(now: OffsetDateTime) -> Date {
    now.to_offset(CHINA).date()
}

/// Now, as RFC 3339 in UTC (timestamps of records and documents).
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn china_date_turns_at_sixteen_utc() {
        // 00:30 in Beijing is 16:30 UTC of the day before: the China date is already the next day.
        assert_eq!(today_at(datetime!(2026-12-01 16:30 UTC)), time::macros::date!(2026 - 12 - 02));
        assert_eq!(today_at(datetime!(2026-12-01 15:59 UTC)), time::macros::date!(2026 - 12 - 01));
    }
}
