//! The publication date of an article: a day, with the time of day and the UTC offset when the
//! source stated them. Written and read as ISO 8601 (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS`,
//! `...Z`, `...+HH:MM`), which is also how the stores keep it.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A publication date. Only what the source said is kept: a day without a time is not midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Published {
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
    /// Offset from UTC in minutes, when stated.
    pub offset_minutes: Option<i32>,
}

impl Published {
    pub fn day(date: NaiveDate) -> Published {
        Published { date, time: None, offset_minutes: None }
    }

    /// The calendar day as the source wrote it (not moved to UTC).
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// Seconds since the Unix epoch: the stated instant, or (no offset) the wall time read as
    /// UTC, or (no time) the day's UTC midnight. What date-range searches compare.
    pub fn timestamp(&self) -> i64 {
        let at = NaiveDateTime::new(self.date, self.time.unwrap_or(NaiveTime::MIN)).and_utc().timestamp();
        at - i64::from(self.offset_minutes.unwrap_or(0)) * 60
    }

    /// ISO 8601: a date, or a datetime when the time is known (`Z` for a zero offset).
    pub fn to_iso(&self) -> String {
        self.to_string()
    }

    /// The key that orders values the way their ISO text sorts, which is how the SQL backends
    /// order the stored column: day, then time (a bare day first), then offset (none, `+`
    /// offsets rising, `-` offsets by size, `Z`).
    fn sort_key(&self) -> (NaiveDate, Option<NaiveTime>, (u8, i32)) {
        let offset = match self.offset_minutes {
            None => (0, 0),
            Some(0) => (3, 0),
            Some(m) if m > 0 => (1, m),
            Some(m) => (2, -m),
        };
        (self.date, self.time, offset)
    }
}

impl Ord for Published {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl PartialOrd for Published {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Published {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.time {
            None => write!(f, "{}", self.date.format("%Y-%m-%d")),
            Some(time) => {
                write!(f, "{}", NaiveDateTime::new(self.date, time).format("%Y-%m-%dT%H:%M:%S"))?;
                match self.offset_minutes {
                    Some(0) => f.write_str("Z"),
                    Some(m) => write!(f, "{}{:02}:{:02}", if m < 0 { '-' } else { '+' }, m.abs() / 60, m.abs() % 60),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Why a string is not an ISO 8601 publication date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDate(pub String);

impl fmt::Display for BadDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an ISO 8601 date (YYYY-MM-DD[THH:MM[:SS][Z|±HH:MM]]): {:?}", self.0)
    }
}

impl std::error::Error for BadDate {}

impl FromStr for Published {
    type Err = BadDate;

    /// Reads the ISO forms [`Published`] writes, plus fractional seconds and minutes-only times
    /// (dropped and filled in). Free-form dates ("May 12, 2021") are extraction's job.
    fn from_str(s: &str) -> Result<Published, BadDate> {
        let bad = || BadDate(s.to_owned());
        let s = s.trim();
        let (day, rest) = (s.get(..10).ok_or_else(bad)?, &s[10.min(s.len())..]);
        let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| bad())?;
        if rest.is_empty() {
            return Ok(Published::day(date));
        }
        let rest = rest.strip_prefix(['T', 't', ' ']).ok_or_else(bad)?;
        let split = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        let (clock, zone) = rest.split_at(split);
        let clock = clock.split('.').next().unwrap_or(clock);
        let time = NaiveTime::parse_from_str(clock, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(clock, "%H:%M")).map_err(|_| bad())?;
        let offset_minutes = match zone {
            "" => None,
            "Z" | "z" => Some(0),
            z => {
                let sign = if z.starts_with('-') { -1 } else { 1 };
                let digits = &z[1..];
                let (h, m) = digits.split_once(':').unwrap_or((digits.get(..2).ok_or_else(bad)?, digits.get(2..).unwrap_or("")));
                let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
                if h > 23 || m > 59 {
                    return Err(bad());
                }
                Some(sign * (h * 60 + m))
            }
        };
        Ok(Published { date, time: Some(time), offset_minutes })
    }
}

impl Serialize for Published {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Published {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Published, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// For stored records: a date that no longer parses is read as absent rather than making the
/// whole record unreadable (nothing this version writes is like that).
pub fn lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Published>, D::Error> {
    let s: Option<String> = Option::deserialize(deserializer)?;
    Ok(s.and_then(|s| s.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_forms_round_trip() {
        for s in ["2021-05-12", "2021-05-12T18:58:00", "2021-05-12T15:58:00Z", "2021-05-12T18:58:00+03:00", "2021-05-12T08:00:00-05:30"] {
            assert_eq!(s.parse::<Published>().unwrap().to_string(), s);
        }
        assert_eq!("2021-05-12T18:58:07.123Z".parse::<Published>().unwrap().to_string(), "2021-05-12T18:58:07Z");
        assert_eq!("2021-05-12 18:58".parse::<Published>().unwrap().to_string(), "2021-05-12T18:58:00");
        assert_eq!("2021-05-12T18:58:00+0300".parse::<Published>().unwrap().offset_minutes, Some(180));
        for bad in ["", "2021-13-01", "2021-02-30", "not a date", "2021-05-12T25:00:00", "2021-05-12Tnoon", "2021-05-12X", "2021-05-12T10:00:00+99:00"] {
            assert!(bad.parse::<Published>().is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_utc() {
        let t = |s: &str| s.parse::<Published>().unwrap().timestamp();
        assert_eq!(t("2021-05-12T18:58:00+03:00"), t("2021-05-12T15:58:00Z"));
        assert_eq!(t("2021-05-12T15:58:00"), t("2021-05-12T15:58:00Z"));
        assert_eq!(t("2021-05-12"), t("2021-05-12T00:00:00Z"));
        assert_eq!(t("1970-01-02"), 86_400);
    }

    #[test]
    fn order_is_the_order_of_the_text() {
        let mut v: Vec<Published> =
            ["2021-05-12T08:00:00Z", "2021-05-12T08:00:00-05:00", "2021-05-12", "2021-05-11T23:00:00", "2021-05-12T08:00:00+01:00", "2021-05-12T08:00:00"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect();
        v.sort();
        let as_text: Vec<String> = v.iter().map(ToString::to_string).collect();
        let mut sorted = as_text.clone();
        sorted.sort();
        assert_eq!(as_text, sorted);
    }
}
