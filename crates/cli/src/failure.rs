//! Errors of the tool and their exit codes.

use runtel_client::{Error, ErrorKind};

/// Exit codes, documented in `runtel --help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0   success
  2   usage error (bad flags or arguments)
  3   invalid_input      the request could not be built (bad params, URL, filter)
  4   transport          connection failed (DNS, refused, reset, TLS)
  5   timeout            no complete answer in time
  6   protocol           the answer could not be understood
  7   api                the server refused the request (HTTP status, code, msg_id)
  8   auth               the server refused the login or password
  9   auth_lockout       logins suspended locally after repeated refusals
  10  not_authenticated  no session and no password to log in with
  11  local              config, cache or output file problem";

/// A failure of one invocation.
#[derive(Debug)]
pub enum Failure {
    /// An SDK error.
    Sdk(Error),
    /// A problem with local files or settings.
    Local(String),
}

impl Failure {
    pub fn local(msg: impl Into<String>) -> Self {
        Failure::Local(msg.into())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Local(_) => 11,
            Failure::Sdk(e) => match e.kind() {
                ErrorKind::InvalidInput => 3,
                ErrorKind::Transport => 4,
                ErrorKind::Timeout => 5,
                ErrorKind::Protocol => 6,
                ErrorKind::Api => 7,
                ErrorKind::Auth => 8,
                ErrorKind::AuthLockout => 9,
                ErrorKind::NotAuthenticated => 10,
                _ => 1,
            },
        }
    }

    /// One line: the kind, then the SDK's own one-line description.
    pub fn line(&self) -> String {
        match self {
            Failure::Local(m) => format!("runtel: error: local: {m}"),
            Failure::Sdk(e) => {
                // The SDK's message starts with its own prose label ("API error: ");
                // the kind name replaces it.
                let full = e.to_string();
                let detail = match e.kind() {
                    ErrorKind::AuthLockout => full.as_str(),
                    _ => full
                        .split_once(": ")
                        .map_or(full.as_str(), |(_, rest)| rest),
                };
                format!("runtel: error: {}: {detail}", e.kind())
            }
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Sdk(e)
    }
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;
