//! Time helpers for stamps that leave things out: no year (RFC 3164) and no zone.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, FixedOffset, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use serde::{Deserialize, Serialize};

/// The zone given to stamps that carry none. Vietnam is `+07:00`; the default is the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DefaultZone {
    /// The host's local zone (from /etc/localtime or TZ), resolved per stamp.
    #[default]
    Local,
    Fixed(FixedOffset),
}

#[derive(Debug, thiserror::Error)]
#[error("invalid time zone {0:?}: expected \"local\", \"UTC\" or an offset like \"+07:00\"")]
pub struct ZoneError(String);

impl FromStr for DefaultZone {
    type Err = ZoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("local") {
            return Ok(DefaultZone::Local);
        }
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(DefaultZone::Fixed(
                FixedOffset::east_opt(0).expect("zero offset"),
            ));
        }
        parse_offset(t.as_bytes())
            .map(DefaultZone::Fixed)
            .ok_or_else(|| ZoneError(s.to_owned()))
    }
}

impl TryFrom<String> for DefaultZone {
    type Error = ZoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DefaultZone> for String {
    fn from(z: DefaultZone) -> String {
        z.to_string()
    }
}

impl fmt::Display for DefaultZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefaultZone::Local => f.write_str("local"),
            DefaultZone::Fixed(o) => write!(f, "{o}"),
        }
    }
}

impl DefaultZone {
    /// The instant a zone-less local stamp names. In a DST gap or overlap the earliest fits.
    pub fn to_utc(self, naive: NaiveDateTime) -> DateTime<Utc> {
        match self {
            DefaultZone::Fixed(o) => {
                let utc = naive - chrono::Duration::seconds(i64::from(o.local_minus_utc()));
                DateTime::<Utc>::from_naive_utc_and_offset(utc, Utc)
            }
            DefaultZone::Local => match Local.from_local_datetime(&naive).earliest() {
                Some(t) => t.with_timezone(&Utc),
                None => Utc.from_utc_datetime(&naive),
            },
        }
    }

    /// The local date and time of `t` in this zone.
    pub fn local_of(self, t: DateTime<Utc>) -> NaiveDateTime {
        match self {
            DefaultZone::Fixed(o) => t.with_timezone(&o).naive_local(),
            DefaultZone::Local => t.with_timezone(&Local).naive_local(),
        }
    }
}

/// Parses `Z`, `+07:00`, `+0700` or `+07`.
pub fn parse_offset(b: &[u8]) -> Option<FixedOffset> {
    if b == b"Z" || b == b"z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match b.first()? {
        b'+' => (1, &b[1..]),
        b'-' => (-1, &b[1..]),
        _ => return None,
    };
    let digits: Vec<u8> = rest.iter().copied().filter(|c| *c != b':').collect();
    if !digits.iter().all(u8::is_ascii_digit) || !(digits.len() == 2 || digits.len() == 4) {
        return None;
    }
    if rest.len() == 5 && rest[2] != b':' {
        return None;
    }
    let h = i32::from(digits[0] - b'0') * 10 + i32::from(digits[1] - b'0');
    let m = if digits.len() == 4 {
        i32::from(digits[2] - b'0') * 10 + i32::from(digits[3] - b'0')
    } else {
        0
    };
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// The full local date-time of a stamp that has month, day and time but no year: the year
/// that puts it closest to `received` (so a "Dec 31 23:59" stamp received on Jan 1 belongs to
/// the year before). `None` when no year makes the date valid (e.g. Feb 30).
pub fn infer_year(
    month: u32,
    day: u32,
    time: NaiveTime,
    received: DateTime<Utc>,
    zone: DefaultZone,
) -> Option<NaiveDateTime> {
    let now = zone.local_of(received);
    let y = now.year();
    let months_ahead = month as i32 - now.month() as i32;
    // Fast path: a stamp within four months of now belongs to this year (the common case;
    // at most ~150 days away, while the other candidates are over 210 days away).
    if months_ahead.abs() <= 4
        && let Some(d) = NaiveDate::from_ymd_opt(y, month, day)
    {
        return Some(d.and_time(time));
    }
    [y, y - 1, y + 1]
        .into_iter()
        .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day).map(|d| d.and_time(time)))
        .min_by_key(|cand| (*cand - now).num_seconds().unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn year_rolls_back_across_new_year() {
        let z: DefaultZone = "+07:00".parse().unwrap();
        let t = infer_year(
            12,
            31,
            NaiveTime::from_hms_opt(23, 59, 0).unwrap(),
            utc("2027-01-01T00:00:30+07:00"),
            z,
        )
        .unwrap();
        assert_eq!(t.year(), 2026);
        let t = infer_year(
            1,
            1,
            NaiveTime::from_hms_opt(0, 0, 5).unwrap(),
            utc("2026-12-31T23:59:59+07:00"),
            z,
        )
        .unwrap();
        assert_eq!(t.year(), 2027);
        let t = infer_year(
            6,
            14,
            NaiveTime::from_hms_opt(15, 16, 1).unwrap(),
            utc("2026-11-25T00:00:00Z"),
            z,
        )
        .unwrap();
        assert_eq!(t.year(), 2026);
    }

    #[test]
    fn feb_29_takes_a_leap_year() {
        let z = DefaultZone::Fixed(FixedOffset::east_opt(0).unwrap());
        let t = infer_year(2, 29, NaiveTime::MIN, utc("2029-01-10T00:00:00Z"), z).unwrap();
        assert_eq!(t.year(), 2028);
        assert!(infer_year(2, 30, NaiveTime::MIN, utc("2029-01-10T00:00:00Z"), z).is_none());
    }

    proptest::proptest! {
        /// The fast path picks the same year as trying every candidate.
        #[test]
        fn year_inference_is_the_closest_candidate(month in 1u32..=12, day in 1u32..=31, secs in 1_600_000_000i64..1_900_000_000) {
            let received = DateTime::from_timestamp(secs, 0).unwrap();
            let z = DefaultZone::Fixed(FixedOffset::east_opt(7 * 3600).unwrap());
            let now = z.local_of(received);
            let brute = [now.year(), now.year() - 1, now.year() + 1]
                .into_iter()
                .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day).map(|d| d.and_time(NaiveTime::MIN)))
                .min_by_key(|c| (*c - now).num_seconds().unsigned_abs());
            proptest::prop_assert_eq!(infer_year(month, day, NaiveTime::MIN, received, z), brute);
        }
    }

    #[test]
    fn zones_parse() {
        let ict: DefaultZone = "+07:00".parse().unwrap();
        assert_eq!(
            ict,
            DefaultZone::Fixed(FixedOffset::east_opt(7 * 3600).unwrap())
        );
        assert_eq!("+0700".parse::<DefaultZone>().unwrap(), ict);
        assert_eq!("local".parse::<DefaultZone>().unwrap(), DefaultZone::Local);
        assert!("+25:00".parse::<DefaultZone>().is_err());
        assert!("Asia/Ho_Chi_Minh".parse::<DefaultZone>().is_err());
        let naive = NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(7, 0, 0)
            .unwrap();
        assert_eq!(ict.to_utc(naive), utc("2026-01-01T00:00:00Z"));
    }
}
