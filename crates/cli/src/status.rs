//! `runtel status`: what the next command of a profile would work with, read
//! from local files only (nothing is sent).

use std::time::{Duration, SystemTime};

use runtel_client::{ClientOptions, ServerDateTime};

use crate::failure::{Failure, Result};
use crate::session_cache::{self, GuardState, PersistentGuard, SessionCache};
use crate::settings::{ConnectionArgs, Lookup};
use crate::terminal::{self, inert};

/// `2026-05-01 12:00:00 UTC`.
pub fn utc(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, _) = ServerDateTime::from_system_time(t).parts();
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// A span rounded to its two largest units: `2d 3h`, `3h 59m`, `14m 5s`, `9s`.
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, _) => format!("{mins}m {secs}s"),
        (0, _, _) => format!("{hours}h {mins}m"),
        _ => format!("{days}d {hours}h"),
    }
}

/// The guard's state in words, with the limits of these options (the profile
/// may change them).
pub fn describe_guard(st: &GuardState, now: SystemTime, limits: &ClientOptions) -> String {
    if st.damaged {
        return "its file cannot be read, so logins are refused as if locked out \
                (runtel login --reset-guard clears it)"
            .into();
    }
    let count = match st.failures {
        0 => "no failed logins".to_owned(),
        1 => "1 failed login in a row".to_owned(),
        n => format!("{n} failed logins in a row"),
    };
    match st.locked_until {
        Some(t) if t > now => format!(
            "{count}; locked until {} ({} left): logins are refused here without asking the server",
            utc(t),
            span(t.duration_since(now).unwrap_or_default())
        ),
        Some(t) => format!(
            "{count}; the lock-out ended at {}: one login may be tried, and a failure locks again",
            utc(t)
        ),
        None if st.failures > 0 => format!(
            "{count}; at {} logins stop for {}",
            limits.max_auth_failures,
            span(limits.auth_lockout_cooldown)
        ),
        None => count,
    }
}

/// Prints the profile, its server, the cached session and the server's login
/// guard. Succeeds only when a session is cached and its token has not expired,
/// so scripts can test `runtel status` before running unattended.
pub fn run(args: &ConnectionArgs) -> Result<()> {
    let settings = match crate::settings::Settings::lookup(args)? {
        Lookup::Ready(s) => *s,
        Lookup::NoUrl { profile, failure } => {
            terminal::out(&format!(
                "profile: {}\nserver: none\nlogged in: no",
                inert(&profile)
            ))?;
            return Err(failure);
        }
    };
    let now = SystemTime::now();
    let cache = SessionCache::new(&settings)?;
    let guard = PersistentGuard::load(&settings)?;
    let mut lines = vec![
        format!("profile: {}", inert(&settings.profile)),
        format!(
            "server: {} (from {})",
            inert(&settings.url),
            settings.url_source
        ),
    ];
    let mut valid = false;
    match cache.peek()? {
        // The login and role name are the server's words: escaped.
        Some(c) if c.expires > now => {
            valid = true;
            lines.push(format!(
                "logged in: yes, as {} (user #{}, role {}, role type {})",
                inert(&c.info.user_login),
                c.info.user_id,
                inert(&c.info.role_name),
                c.info.role_type
            ));
            lines.push(format!(
                "token: valid until {} ({} left)",
                utc(c.expires),
                span(c.expires.duration_since(now).unwrap_or_default())
            ));
        }
        Some(c) => lines.push(format!(
            "logged in: no (the token of {} expired at {})",
            inert(&c.info.user_login),
            utc(c.expires)
        )),
        None => {
            let other = session_cache::remembered(&settings.profile)?
                .filter(|r| !crate::settings::same_server(&settings.url, &r.base));
            lines.push(match other {
                Some(r) => format!(
                    "logged in: no (the session of this profile is for {})",
                    inert(&r.url)
                ),
                None => "logged in: no (no session cached for this profile and server)".into(),
            });
        }
    }
    lines.push(format!(
        "login guard: {} (counted for {}: scheme, address and port, as the server's Defender counts)",
        describe_guard(&guard.state(), now, &settings.options),
        inert(guard.server())
    ));
    terminal::out(&lines.join("\n"))?;
    if valid {
        Ok(())
    } else {
        Err(Failure::Sdk(runtel_client::Error::NotAuthenticated(
            format!(
                "no valid session for profile {:?}: run `runtel login`",
                settings.profile
            ),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn times_and_spans() {
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(1_704_067_200 + 3661)),
            "2024-01-01 01:01:01 UTC"
        );
        assert_eq!(span(Duration::from_secs(9)), "9s");
        assert_eq!(span(Duration::from_secs(14 * 60 + 5)), "14m 5s");
        assert_eq!(span(Duration::from_secs(3 * 3600 + 59 * 60 + 59)), "3h 59m");
        assert_eq!(span(Duration::from_secs(2 * 86_400 + 3 * 3600)), "2d 3h");
    }

    #[test]
    fn guard_states_in_words() {
        let now = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        let limits = ClientOptions::default();
        let describe_guard = |st: &GuardState, now| describe_guard(st, now, &limits);
        let st = |failures, locked_until| GuardState {
            failures,
            locked_until,
            damaged: false,
        };
        assert_eq!(describe_guard(&st(0, None), now), "no failed logins");
        assert!(describe_guard(&st(1, None), now).starts_with("1 failed login in a row;"));
        assert!(
            describe_guard(&st(1, None), now).ends_with("at 3 logins stop for 15m 0s"),
            "{}",
            describe_guard(&st(1, None), now)
        );
        let locked = describe_guard(&st(3, Some(now + Duration::from_secs(600))), now);
        assert!(
            locked.contains("locked until 2024-01-01 00:10:00 UTC (10m 0s left)"),
            "{locked}"
        );
        let over = describe_guard(&st(3, Some(now - Duration::from_secs(1))), now);
        assert!(
            over.contains("ended at") && !over.contains("locked until"),
            "{over}"
        );
        let damaged = GuardState {
            failures: u32::MAX,
            locked_until: None,
            damaged: true,
        };
        assert!(describe_guard(&damaged, now).contains("--reset-guard"));
    }
}
