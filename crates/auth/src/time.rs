//! UTC date conversions for SigV4 (`20150830T123600Z`, the HTTP `Date` header) and for policy
//! date conditions (ISO 8601 and epoch seconds). Times are whole seconds since the Unix epoch;
//! SigV4 has no finer resolution and IAM date conditions do not need one.
//!
//! Written here rather than pulled from a date crate because the formats are fixed and tiny, and
//! the parsers must be strict (a fuzzed header must not be read as some other date).

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Seconds since the epoch, if every field is in range.
fn to_epoch(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    let valid = (1..=12).contains(&mo)
        && (1..=days_in_month(y, mo)).contains(&d)
        && (0..24).contains(&h)
        && (0..60).contains(&mi)
        && (0..=60).contains(&s);
    valid.then(|| days_from_civil(y, mo, d) * 86_400 + h * 3_600 + mi * 60 + s)
}

/// A run of exactly `n` ASCII digits.
fn digits(s: &str, n: usize) -> Option<i64> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// `YYYYMMDDTHHMMSSZ`, the SigV4 `X-Amz-Date` form, strictly.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    to_epoch(
        digits(s.get(0..4)?, 4)?,
        digits(s.get(4..6)?, 2)?,
        digits(s.get(6..8)?, 2)?,
        digits(s.get(9..11)?, 2)?,
        digits(s.get(11..13)?, 2)?,
        digits(s.get(13..15)?, 2)?,
    )
}

/// Epoch seconds to `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        t / 3_600,
        t / 60 % 60,
        t % 60
    )
}

/// Epoch seconds to `2015-08-30T12:36:00Z`, the form of `aws:CurrentTime`.
pub(crate) fn format_iso8601(secs: i64) -> String {
    let b = format_amz_date(secs);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &b[0..4],
        &b[4..6],
        &b[6..8],
        &b[9..11],
        &b[11..13],
        &b[13..15]
    )
}

/// The HTTP `Date` header in its one modern form, `Sun, 30 Aug 2015 12:36:00 GMT`.
pub(crate) fn parse_http_date(s: &str) -> Option<i64> {
    let mut it = s.split(' ');
    let (_weekday, d, mon, y, hms, zone) = (
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    );
    if it.next().is_some() || zone != "GMT" {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mo = MONTHS.iter().position(|m| *m == mon)? as i64 + 1;
    let mut t = hms.split(':');
    let (h, mi, sec) = (t.next()?, t.next()?, t.next()?);
    to_epoch(
        digits(y, 4)?,
        mo,
        digits(d, 2)?,
        digits(h, 2)?,
        digits(mi, 2)?,
        digits(sec, 2)?,
    )
}

/// The date forms IAM accepts in date conditions: epoch seconds, or ISO 8601 as
/// `2024-01-01`, `2024-01-01T10:00Z`, `2024-01-01T10:00:00Z`, `2024-01-01T10:00:00.123Z`,
/// `2024-01-01T10:00:00+02:00` (and the basic form SigV4 uses).
pub(crate) fn parse_policy_date(s: &str) -> Option<i64> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 12 {
        return s.parse().ok();
    }
    if let Some(t) = parse_amz_date(s) {
        return Some(t);
    }
    let (date, rest) = s.split_at_checked(10)?;
    let mut dp = date.split('-');
    let (y, mo, d) = (
        digits(dp.next()?, 4)?,
        digits(dp.next()?, 2)?,
        digits(dp.next()?, 2)?,
    );
    if dp.next().is_some() {
        return None;
    }
    if rest.is_empty() {
        return to_epoch(y, mo, d, 0, 0, 0);
    }
    let rest = rest.strip_prefix('T')?;
    // Split the zone off the end: `Z`, `+hh:mm` or `-hh:mm`.
    let (clock, offset) = if let Some(c) = rest.strip_suffix('Z') {
        (c, 0)
    } else {
        let at = rest.len().checked_sub(6)?;
        let (c, z) = rest.split_at_checked(at)?;
        let sign = match z.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (zh, zm) = z[1..].split_once(':')?;
        (c, sign * (digits(zh, 2)? * 3_600 + digits(zm, 2)? * 60))
    };
    // Fractional seconds are allowed and dropped.
    let clock = match clock.split_once('.') {
        Some((whole, frac)) if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) => {
            whole
        }
        Some(_) => return None,
        None => clock,
    };
    let mut cp = clock.split(':');
    let h = digits(cp.next()?, 2)?;
    let mi = digits(cp.next()?, 2)?;
    let sec = cp.next().map_or(Some(0), |x| digits(x, 2))?;
    if cp.next().is_some() {
        return None;
    }
    Some(to_epoch(y, mo, d, h, mi, sec)? - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_round_trip() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(t, 1_440_938_160);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert_eq!(format_amz_date(0), "19700101T000000Z");
        assert_eq!(format_iso8601(t), "2015-08-30T12:36:00Z");
        assert_eq!(
            parse_amz_date("20240229T235959Z")
                .map(format_amz_date)
                .unwrap(),
            "20240229T235959Z"
        );
        for bad in [
            "20230229T000000Z",
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "20150830T246000Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"),
            Some(1_440_938_160)
        );
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 UTC"), None);
        assert_eq!(parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT"), None);
    }

    #[test]
    fn policy_dates() {
        let t = 1_440_938_160;
        for ok in [
            "2015-08-30T12:36:00Z",
            "2015-08-30T12:36:00.5Z",
            "2015-08-30T14:36:00+02:00",
            "20150830T123600Z",
            "1440938160",
        ] {
            assert_eq!(parse_policy_date(ok), Some(t), "{ok}");
        }
        assert_eq!(parse_policy_date("2015-08-30T12:36Z"), Some(t));
        assert_eq!(
            parse_policy_date("2015-08-30"),
            Some(t - 12 * 3600 - 36 * 60)
        );
        for bad in [
            "",
            "2015-8-30",
            "2015-08-30T",
            "2015-08-30T12:36:00.Z",
            "soon",
            "2015-08-30T12:36:00+0200",
        ] {
            assert_eq!(parse_policy_date(bad), None, "{bad}");
        }
    }
}
