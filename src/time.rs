//! The few timestamps we print: RFC 3339 `created` values and dev-build stamps. Times come
//! from the commit (or `SOURCE_DATE_EPOCH`), never the clock, so they are reproducible;
//! calendars and time zones are `jiff`'s.

/// 9999-12-30T22:00:00Z: the last instant whose time, in every zone, RFC 3339's four-digit
/// years can write (`jiff::Timestamp::MAX`, tested below).
pub const MAX_EPOCH: u64 = 253_402_207_200;

/// The instant of a Unix timestamp; `epoch` is at most [`MAX_EPOCH`] (inputs check it).
pub fn timestamp(epoch: u64) -> jiff::Timestamp {
    let seconds = i64::try_from(epoch.min(MAX_EPOCH)).expect("MAX_EPOCH fits");
    jiff::Timestamp::from_second(seconds).expect("0..=MAX_EPOCH is in jiff's range")
}

/// RFC 3339 UTC time of a Unix timestamp, as image configs record it.
pub fn rfc3339(epoch: u64) -> String {
    timestamp(epoch).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_table() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(MAX_EPOCH), "9999-12-30T22:00:00Z");
        assert_eq!(MAX_EPOCH as i64, jiff::Timestamp::MAX.as_second());
    }
}
