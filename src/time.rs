//! Calendar arithmetic for the few timestamps we print: RFC 3339 `created` values and
//! dev-build stamps. Times come from the commit (or `SOURCE_DATE_EPOCH`), never the clock,
//! so they are reproducible; no time-zone database is needed for fixed offsets.

/// 9999-12-31T23:59:59Z: the last second RFC 3339's four-digit years can write.
pub const MAX_EPOCH: u64 = 253_402_300_799;

/// RFC 3339 UTC time of a Unix timestamp, as image configs record it.
pub fn rfc3339(epoch: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(epoch as i64);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// (year, month, day, hour, minute, second) of a Unix timestamp.
pub fn civil(epoch: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (y, m, d) = civil_from_days(epoch.div_euclid(86_400));
    let secs = epoch.rem_euclid(86_400);
    (y, m, d, secs / 3600, (secs / 60) % 60, secs % 60)
}

/// Days since 1970-01-01 → (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_table() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(MAX_EPOCH), "9999-12-31T23:59:59Z");
    }
}
