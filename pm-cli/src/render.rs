//! One-line renderings of times, commands and events.

use pm_runtime::{CommandEnvelope, EventEnvelope, Payload};

/// Milliseconds since the Unix epoch as `2026-11-28 14:05:13.042 UTC`.
pub(crate) fn time(ms: u64) -> String {
    let (days, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1_000 % 60,
        rest % 1_000,
    );
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}.{milli:03} UTC")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `ChargePayment -> payment/o-1 {"amount":40,...}  id 6f1c...`
pub(crate) fn command_line(c: &CommandEnvelope) -> String {
    format!(
        "{} -> {}/{} {}  id {}",
        c.command_type,
        c.aggregate_type,
        c.aggregate_id,
        payload(&c.payload),
        c.command_id
    )
}

/// `PaymentCharged {"order_id":"o-1"}  id 0b2e...`
pub(crate) fn event_line(e: &EventEnvelope) -> String {
    format!(
        "{} {}  id {}",
        e.event_type,
        payload(&e.payload),
        e.event_id
    )
}

fn payload(p: &Payload) -> String {
    p.to_json()
        .map_or_else(|e| format!("<unreadable: {e}>"), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(time(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00.000 UTC");
        assert_eq!(time(1_795_874_713_042), "2026-11-28 14:05:13.042 UTC");
    }
}
