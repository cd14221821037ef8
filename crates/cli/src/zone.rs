//! Time zones for showing Unix times to people: the login's zone (`auth.tz`,
//! an IANA name such as `Europe/Prague`), or the one given with `--time-zone`
//! (an IANA name, `UTC`, or a fixed offset such as `+03:00`).
//!
//! IANA names are looked up in the system's time zone database
//! (`/usr/share/zoneinfo`, or `TZDIR`); a name it does not have is an error
//! for `--time-zone`, and UTC with a warning for a login's zone.

use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;
use serde_json::Value;

use crate::failure::{Failure, Result};
use crate::terminal::inert;

/// A zone and the name it is shown with.
#[derive(Clone, Debug)]
pub struct Zone {
    tz: TimeZone,
    name: String,
}

impl Zone {
    /// UTC.
    pub fn utc() -> Zone {
        Zone {
            tz: TimeZone::UTC,
            name: "UTC".into(),
        }
    }

    /// The zone named `text`: `UTC` (or `Z`), a fixed offset `+HH:MM`, `+HHMM`
    /// or `+HH` (also with `-`, and as `UTC+03:00`), or an IANA name.
    pub fn parse(text: &str) -> Result<Zone> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" || t.eq_ignore_ascii_case("gmt") {
            return Ok(Zone::utc());
        }
        let offset_text = t
            .strip_prefix("UTC")
            .or_else(|| t.strip_prefix("utc"))
            .unwrap_or(t);
        if offset_text.starts_with(['+', '-']) {
            return fixed(offset_text).map_err(|why| {
                invalid(format!(
                    "--time-zone {:?}: {why}; give UTC, an offset such as +03:00 or -05:30, \
                     or a zone name such as Europe/Moscow",
                    inert(text)
                ))
            });
        }
        match TimeZone::get(t) {
            Ok(tz) => Ok(Zone {
                tz,
                name: t.to_owned(),
            }),
            Err(e) => Err(invalid(format!(
                "--time-zone {:?}: not a zone this system's time zone database has ({e}); \
                 give UTC, an offset such as +03:00, or a zone name such as Europe/Moscow",
                inert(text)
            ))),
        }
    }

    /// The zone of a login (`auth.tz`), or UTC with a warning on stderr when
    /// the server sent none or one this system does not know.
    pub fn of_login(tz: Option<&str>) -> Zone {
        let Some(name) = tz.filter(|n| !n.trim().is_empty()) else {
            return Zone::utc();
        };
        match TimeZone::get(name.trim()) {
            Ok(tz) => Zone {
                tz,
                name: name.trim().to_owned(),
            },
            Err(_) => {
                crate::terminal::note(&format!(
                    "runtel: warning: the login's time zone {:?} is not in this system's time \
                     zone database; times are shown in UTC (--time-zone sets one)",
                    inert(name)
                ));
                Zone::utc()
            }
        }
    }

    /// The name shown with times: `UTC`, `+03:00`, `Europe/Prague`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `secs` (Unix seconds) as `YYYY-MM-DD HH:MM:SS` in this zone, for tables.
    pub fn local(&self, secs: i64) -> Option<String> {
        let ts = Timestamp::from_second(secs).ok()?;
        let z = ts.to_zoned_datetime(self.tz.clone());
        Some(z.strftime("%Y-%m-%d %H:%M:%S").to_string())
    }

    /// `secs` as ISO 8601 with the zone's offset at that moment:
    /// `2026-11-01T03:00:00+03:00` (`Z` for UTC).
    pub fn iso(&self, secs: i64) -> Option<String> {
        let ts = Timestamp::from_second(secs).ok()?;
        let z = ts.to_zoned_datetime(self.tz.clone());
        let text = z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        Some(match text.strip_suffix("+00:00") {
            Some(head) if self.name == "UTC" => format!("{head}Z"),
            _ => text,
        })
    }
}

/// A Unix time as a record holds it: a whole number, or its digits as text.
pub fn unix_seconds(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

/// A fixed offset, `+HH:MM`, `+HHMM` or `+HH` (or `-`), at most 25 hours.
fn fixed(text: &str) -> std::result::Result<Zone, String> {
    let sign: i32 = if text.starts_with('-') { -1 } else { 1 };
    let digits = &text[1..];
    let (h, m) = match (digits.len(), digits.split_once(':')) {
        (_, Some((h, m))) if h.len() == 2 && m.len() == 2 => (h, m),
        (4, None) => (&digits[..2], &digits[2..]),
        (2, None) => (digits, "00"),
        _ => return Err("an offset is +HH:MM, +HHMM or +HH".into()),
    };
    let num = |s: &str| -> std::result::Result<i32, String> {
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| "not a number".to_owned())
        } else {
            Err("an offset is +HH:MM, +HHMM or +HH".into())
        }
    };
    let (h, m) = (num(h)?, num(m)?);
    if m >= 60 {
        return Err("minutes of an offset go up to 59".into());
    }
    let secs = sign * (h * 3600 + m * 60);
    let offset = Offset::from_seconds(secs).map_err(|e| e.to_string())?;
    let name = if secs == 0 {
        "UTC".to_owned()
    } else {
        format!("{}{:02}:{:02}", if sign < 0 { '-' } else { '+' }, h, m)
    };
    Ok(Zone {
        tz: TimeZone::fixed(offset),
        name,
    })
}

fn invalid(msg: String) -> Failure {
    Failure::Sdk(runtel_client::Error::InvalidInput(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_offsets_and_utc() {
        // 2024-01-01T00:00:00Z.
        let t = 1_704_067_200;
        for (text, iso) in [
            ("UTC", "2024-01-01T00:00:00Z"),
            ("utc", "2024-01-01T00:00:00Z"),
            ("Z", "2024-01-01T00:00:00Z"),
            ("+03:00", "2024-01-01T03:00:00+03:00"),
            ("+0300", "2024-01-01T03:00:00+03:00"),
            ("+03", "2024-01-01T03:00:00+03:00"),
            ("UTC+03:00", "2024-01-01T03:00:00+03:00"),
            ("-05:30", "2023-12-31T18:30:00-05:30"),
            ("+00:00", "2024-01-01T00:00:00Z"),
        ] {
            assert_eq!(Zone::parse(text).unwrap().iso(t).unwrap(), iso, "{text}");
        }
        assert_eq!(Zone::parse("-05:30").unwrap().name(), "-05:30");
        assert_eq!(
            Zone::parse("+03").unwrap().local(t).unwrap(),
            "2024-01-01 03:00:00"
        );
        for bad in ["+3", "+03:60", "+99:00", "+0a:00", "Mars/Olympus", ""] {
            assert!(Zone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn iana_zones_follow_daylight_saving() {
        let prague = Zone::parse("Europe/Prague").unwrap();
        // Winter: +01:00; summer: +02:00.
        assert_eq!(
            prague.iso(1_704_067_200).unwrap(),
            "2024-01-01T01:00:00+01:00"
        );
        assert_eq!(
            prague.iso(1_719_792_000).unwrap(),
            "2024-07-01T02:00:00+02:00"
        );
        assert_eq!(prague.local(1_719_792_000).unwrap(), "2024-07-01 02:00:00");
        assert_eq!(
            Zone::of_login(Some("Europe/Prague")).name(),
            "Europe/Prague"
        );
        assert_eq!(Zone::of_login(None).name(), "UTC");
        assert_eq!(Zone::of_login(Some("No/Such_Zone")).name(), "UTC");
    }

    #[test]
    fn unix_times_as_records_hold_them() {
        assert_eq!(unix_seconds(&serde_json::json!(5)), Some(5));
        assert_eq!(unix_seconds(&serde_json::json!("17")), Some(17));
        for v in [
            serde_json::json!("x"),
            serde_json::json!(""),
            serde_json::json!(null),
        ] {
            assert_eq!(unix_seconds(&v), None);
        }
    }
}
