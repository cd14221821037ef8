//! Errors of the tool and their exit codes.

use runtel_client::{Error, ErrorKind};

use crate::terminal::inert;

/// The exit codes as `runtel --help` lists them (a macro, so the help text can
/// be put together at compile time).
macro_rules! exit_codes {
    () => {
        "\
Exit codes:
  0   success (also when the reader of stdout stops early, as head does)
  2   usage error (bad flags or arguments)
  3   invalid_input      the request could not be built (params, URL, filter)
  4   transport          connection failed (DNS, refused, reset, TLS)
  5   timeout            no complete answer in time
  6   protocol           the answer could not be understood
  7   api                the server refused the request (HTTP status, code)
  8   auth               the server refused the login or password
  9   auth_lockout       logins suspended locally after repeated refusals
  10  not_authenticated  no session and no password to log in with
  11  local              config, cache or output file (or an unsafe cache dir)
  12  changed            export: records changed meanwhile (see export --help)"
    };
}
pub(crate) use exit_codes;

/// Exit codes, documented in `runtel --help`.
#[cfg(test)]
pub const EXIT_CODES: &str = exit_codes!();

/// A failure of one invocation.
#[derive(Debug)]
pub enum Failure {
    /// An SDK error.
    Sdk(Error),
    /// A problem with local files or settings.
    Local(String),
    /// The records changed under an export (offset paging may have skipped or
    /// repeated records). Not the server's fault, nor a broken answer: a script
    /// must be able to tell it from `protocol` and retry with `--consistent`.
    Changed(String),
    /// Standard output was closed by its reader (`runtel ... | head -1`): the
    /// reader has what it wanted, so this ends the tool quietly with status 0.
    StdoutClosed,
}

impl Failure {
    /// A local failure (exit code 11) with this message.
    pub fn local(msg: impl Into<String>) -> Self {
        Failure::Local(msg.into())
    }

    /// The process exit code, as listed in [`EXIT_CODES`].
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::StdoutClosed => 0,
            Failure::Local(_) => 11,
            Failure::Changed(_) => 12,
            Failure::Sdk(e) => match e.kind() {
                ErrorKind::InvalidInput => 3,
                ErrorKind::Transport => 4,
                ErrorKind::Timeout => 5,
                ErrorKind::Protocol => 6,
                ErrorKind::Api => 7,
                ErrorKind::Auth => 8,
                ErrorKind::AuthLockout => 9,
                ErrorKind::NotAuthenticated => 10,
            },
        }
    }

    /// One line: the kind, then the SDK's description without its own prose
    /// label (the kind name stands for it), with every control character escaped
    /// (the description quotes the server).
    pub fn line(&self) -> String {
        match self {
            Failure::StdoutClosed => String::new(),
            Failure::Local(m) => format!("runtel: error: local: {}", inert(m)),
            Failure::Changed(m) => format!("runtel: error: changed: {}", inert(m)),
            Failure::Sdk(e) => format!("runtel: error: {}: {}", e.kind(), inert(&e.detail())),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Sdk(e)
    }
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use runtel_client::TransportCause;

    #[test]
    fn the_line_is_the_kind_then_the_detail() {
        let transport = Error::transport(
            TransportCause::Connect,
            "User.list: connection error: Connection refused (os error 111)",
        );
        let cases = [
            (
                transport,
                "transport: User.list: connection error: Connection refused (os error 111)",
            ),
            (Error::InvalidInput("a: b".into()), "invalid_input: a: b"),
            (
                Error::Timeout("t: \u{1b}[2J".into()),
                "timeout: t: \\x1b[2J",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(Failure::Sdk(e).line(), format!("runtel: error: {want}"));
        }
        let lockout = Error::AuthLockout {
            failures: 3,
            retry_after: std::time::Duration::from_secs(60),
        };
        let line = Failure::Sdk(lockout).line();
        assert!(
            line.starts_with("runtel: error: auth_lockout: login suspended"),
            "{line}"
        );
        assert_eq!(Failure::Changed("x".into()).exit_code(), 12);
        assert!(EXIT_CODES.contains("12  changed"));
    }
}
