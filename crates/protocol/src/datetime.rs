//! The API's date-times: ISO-8601 without a zone, such as `2021-09-20T10:14:13.998824`.
//!
//! The vendor's example gives `exp` without a zone, and comparing it with the HTTP
//! `Date` header of the same answer shows it is UTC. A zone suffix (`Z`, `+03:00`) is
//! accepted too and normalised to UTC, in case another server version sends one.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A date-time as the server sends it, read as UTC, to the microsecond.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerDateTime {
    /// Microseconds since 1970-01-01T00:00:00 UTC (negative before it).
    unix_micros: i64,
}

/// Why a date-time string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date-time {input:?}: {reason}")]
pub struct DateTimeParseError {
    input: String,
    reason: &'static str,
}

impl ServerDateTime {
    /// Builds a date-time from microseconds since the Unix epoch (UTC).
    pub fn from_unix_micros(unix_micros: i64) -> Self {
        ServerDateTime { unix_micros }
    }

    /// Microseconds since the Unix epoch (UTC).
    pub fn unix_micros(&self) -> i64 {
        self.unix_micros
    }

    /// Seconds since the Unix epoch, with the microseconds as a fraction.
    pub fn unix_seconds_f64(&self) -> f64 {
        self.unix_micros as f64 / 1e6
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(&self) -> SystemTime {
        if self.unix_micros >= 0 {
            UNIX_EPOCH + Duration::from_micros(self.unix_micros as u64)
        } else {
            UNIX_EPOCH - Duration::from_micros(self.unix_micros.unsigned_abs())
        }
    }

    /// The instant of a [`SystemTime`], truncated to the microsecond.
    pub fn from_system_time(t: SystemTime) -> Self {
        let micros = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
        };
        ServerDateTime {
            unix_micros: micros,
        }
    }

    /// Calendar parts: (year, month 1-12, day 1-31, hour, minute, second, microsecond).
    pub fn parts(&self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let secs = self.unix_micros.div_euclid(1_000_000);
        let micro = self.unix_micros.rem_euclid(1_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        (y, m, d, sod / 3600, sod / 60 % 60, sod % 60, micro)
    }
}

// Howard Hinnant's algorithms for the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

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

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Reads exactly `n` ASCII digits from the front of `s`.
fn digits(s: &mut &[u8], n: usize) -> Option<u32> {
    if s.len() < n || !s[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = s[..n]
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    *s = &s[n..];
    Some(v)
}

fn expect(s: &mut &[u8], c: u8) -> Option<()> {
    (s.first() == Some(&c)).then(|| *s = &s[1..])
}

impl FromStr for ServerDateTime {
    type Err = DateTimeParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| DateTimeParseError {
            input: input.chars().take(64).collect(),
            reason,
        };
        let mut s = input.trim().as_bytes();
        let shape = "expected YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+HH:MM]";
        let year = digits(&mut s, 4).ok_or_else(|| err(shape))?;
        expect(&mut s, b'-').ok_or_else(|| err(shape))?;
        let month = digits(&mut s, 2).ok_or_else(|| err(shape))?;
        expect(&mut s, b'-').ok_or_else(|| err(shape))?;
        let day = digits(&mut s, 2).ok_or_else(|| err(shape))?;
        let (mut hour, mut minute, mut second, mut micro) = (0, 0, 0, 0);
        if let Some(b'T' | b't' | b' ') = s.first() {
            s = &s[1..];
            hour = digits(&mut s, 2).ok_or_else(|| err(shape))?;
            expect(&mut s, b':').ok_or_else(|| err(shape))?;
            minute = digits(&mut s, 2).ok_or_else(|| err(shape))?;
            if expect(&mut s, b':').is_some() {
                second = digits(&mut s, 2).ok_or_else(|| err(shape))?;
                if expect(&mut s, b'.').is_some() {
                    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
                    if n == 0 {
                        return Err(err("empty fraction of a second"));
                    }
                    // Keep microseconds; finer digits are dropped, not rounded.
                    let mut frac = &s[..n.min(6)];
                    let mut v = digits(&mut frac, n.min(6)).ok_or_else(|| err(shape))?;
                    for _ in n..6 {
                        v *= 10;
                    }
                    micro = v;
                    s = &s[n..];
                }
            }
        }
        let mut offset_secs: i64 = 0;
        match s.first() {
            None => {}
            Some(b'Z' | b'z') if s.len() == 1 => s = &s[1..],
            Some(&sign @ (b'+' | b'-')) => {
                s = &s[1..];
                let oh = digits(&mut s, 2).ok_or_else(|| err("bad zone offset"))?;
                let _ = expect(&mut s, b':');
                let om = digits(&mut s, 2).ok_or_else(|| err("bad zone offset"))?;
                if oh > 23 || om > 59 {
                    return Err(err("bad zone offset"));
                }
                offset_secs = i64::from(oh * 3600 + om * 60);
                if sign == b'-' {
                    offset_secs = -offset_secs;
                }
            }
            _ => return Err(err("unexpected text after the time")),
        }
        if !s.is_empty() {
            return Err(err("unexpected text after the time"));
        }
        let year = i64::from(year);
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(err("no such calendar date"));
        }
        // 60 is tolerated for a leap second and folded into the next minute.
        if hour > 23 || minute > 59 || second > 60 {
            return Err(err("no such time of day"));
        }
        let secs = days_from_civil(year, month, day) * 86_400
            + i64::from(hour * 3600 + minute * 60 + second)
            - offset_secs;
        Ok(ServerDateTime {
            unix_micros: secs * 1_000_000 + i64::from(micro),
        })
    }
}

impl fmt::Display for ServerDateTime {
    /// Formats as the server does: `YYYY-MM-DDTHH:MM:SS.ffffff`, no zone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s, us) = self.parts();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}")
    }
}

impl fmt::Debug for ServerDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerDateTime({self})")
    }
}

impl serde::Serialize for ServerDateTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ServerDateTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_vendor_example_as_utc() {
        let t: ServerDateTime = "2021-09-20T10:14:13.998824".parse().unwrap();
        // 2021-09-20T10:14:13Z is 1632132853 (checked against `date -u -d`).
        assert_eq!(t.unix_micros(), 1_632_132_853_998_824);
        assert_eq!(t.to_string(), "2021-09-20T10:14:13.998824");
        assert_eq!(t.parts(), (2021, 9, 20, 10, 14, 13, 998_824));
    }

    #[test]
    fn accepts_variants_and_normalises_zones() {
        let base: ServerDateTime = "2021-09-20T10:14:13".parse().unwrap();
        assert_eq!(base.unix_micros(), 1_632_132_853_000_000);
        let cases = [
            "2021-09-20 10:14:13",
            "2021-09-20T10:14:13Z",
            "2021-09-20T13:14:13+03:00",
            "2021-09-20T06:14:13-0400",
            "2021-09-20T10:14:13.000000000",
        ];
        for c in cases {
            assert_eq!(c.parse::<ServerDateTime>().unwrap(), base, "{c}");
        }
        let ms: ServerDateTime = "2021-09-20T10:14:13.5".parse().unwrap();
        assert_eq!(ms.unix_micros() % 1_000_000, 500_000);
        let date_only: ServerDateTime = "2024-02-29".parse().unwrap();
        assert_eq!(date_only.to_string(), "2024-02-29T00:00:00.000000");
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        for bad in [
            "",
            "yesterday",
            "2021-13-01T00:00:00",
            "2023-02-29T00:00:00",
            "2021-09-20T25:00:00",
            "2021-09-20T10:14:13.",
            "2021-09-20T10:14:13 trailing",
            "2021-09-20T10:14:13+99:00",
        ] {
            let e = bad.parse::<ServerDateTime>().unwrap_err();
            assert!(e.to_string().contains("invalid date-time"), "{bad}: {e}");
        }
    }

    #[test]
    fn round_trips_system_time_and_calendar() {
        for days in [-800_000i64, -1, 0, 59, 365 * 30, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        let t = ServerDateTime::from_unix_micros(-1);
        assert_eq!(t.to_string(), "1969-12-31T23:59:59.999999");
        assert_eq!(ServerDateTime::from_system_time(t.to_system_time()), t);
    }
}
