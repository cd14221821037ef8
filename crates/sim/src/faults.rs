//! Fault injection: what can go wrong between a Runtel server and its client.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{json, Value};

/// One kind of misbehaviour, applied to one answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Wait this long before answering (then answer normally).
    Delay(Duration),
    /// Close the connection after reading the request, before any answer; the
    /// request is not processed.
    DropBeforeResponse,
    /// Process the request, send the head and half the body, then close.
    DropMidBody,
    /// Process the request and send a complete HTTP answer whose JSON is cut in half.
    TruncatedJson,
    /// Answer with nginx's HTML 502 page without processing.
    Html502,
    /// Answer with nginx's HTML 503 page without processing.
    Html503,
    /// Process the request but echo another `action_id`.
    WrongActionId,
    /// Process the request and pad the answer to at least this many bytes.
    Oversize(usize),
    /// Process the request and put an invalid UTF-8 byte into the answer.
    InvalidUtf8,
    /// Answer with valid JSON that is not an object, without processing.
    NonObjectJson,
    /// Answer with these exact bytes, without processing (a recorded answer such as
    /// a shared test vector); see [`Replay`].
    Replay(Box<Replay>),
    /// Without processing, answer HTTP 400 `text/plain` whose body is the raw
    /// request (request line, every header, body), as some misconfigured proxies and
    /// frameworks do: the `Authorization` header and an `auth` password come back.
    EchoRequest,
    /// Without processing, answer a JSON error envelope (HTTP 400, code 400,
    /// `msg_id` `bad_request`, the request's `action_id`) whose `message` and
    /// `errors` repeat the raw request body and the `Authorization` header value.
    EchoEnvelope,
    /// Answer with nginx's HTML 401 page without processing.
    Html401,
    /// Answer with nginx's HTML 403 page without processing.
    Html403,
    /// Process the request and send the body gzip-compressed, with
    /// `Content-Encoding: gzip`, whatever the request's `Accept-Encoding` says.
    Gzip,
    /// Without processing, answer HTTP 200 with `Content-Encoding: gzip` and a small
    /// gzip stream that inflates to this many bytes of spaces.
    GzipBomb(u64),
    /// Without processing, announce `Content-Length` of this many bytes, send a few
    /// bytes of JSON, then close.
    LyingLength(u64),
    /// Process the request and put the UTF-8 byte order mark before the body.
    Bom,
    /// Process the request (an `auth` issues a token valid for its usual lifetime)
    /// but put an `exp` one hour before the answer's `Date` into the answer.
    ExpPast,
    /// Process the request (an `auth` issues a real, valid token) but send the
    /// answer malformed in this way; meant for `auth`.
    AuthMalformed(MalformedAuth),
}

/// How [`Fault::AuthMalformed`] spoils an answer that carries a fresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedAuth {
    /// The JSON ends just after the token's value (`..."token":"abc"`).
    Truncated,
    /// The complete envelope followed by `xyz`.
    TrailingGarbage,
    /// The envelope without its `code`.
    NoCode,
    /// The envelope wrapped in a one-element JSON array.
    Array,
    /// The success envelope (code 200) with HTTP status 500.
    Http500,
}

impl MalformedAuth {
    /// The spellings after `auth_malformed:`, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &[
        "truncated",
        "trailing_garbage",
        "no_code",
        "array",
        "http500",
    ];

    /// Parses one of [`MalformedAuth::NAMES`].
    pub fn parse(name: &str) -> Result<MalformedAuth, String> {
        Ok(match name {
            "truncated" => MalformedAuth::Truncated,
            "trailing_garbage" => MalformedAuth::TrailingGarbage,
            "no_code" => MalformedAuth::NoCode,
            "array" => MalformedAuth::Array,
            "http500" => MalformedAuth::Http500,
            _ => {
                return Err(format!(
                    "unknown auth_malformed variant {name:?} (known: {})",
                    MalformedAuth::NAMES.join(", ")
                ))
            }
        })
    }
}

/// A recorded answer to send back verbatim.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` header.
    pub content_type: String,
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// When set, `"action_id": "<this>"` in the body is replaced by the live
    /// request's `action_id`, so a recorded success matches the client's request.
    pub action_id_to_echo: Option<String>,
}

impl Replay {
    /// Builds a replay from a shared vector file (`tests/vectors/*.json`): its
    /// response is sent as recorded, with the action_id echo adjusted unless the
    /// vector is about a wrong echo. Returns the replay and the vector's `expect`.
    pub fn from_vector(vector: &Value) -> Result<(Replay, Value), String> {
        let r = &vector["response"];
        let body = match (r["body_text"].as_str(), r["body_hex"].as_str()) {
            (Some(t), _) => t.as_bytes().to_vec(),
            (None, Some(h)) => (0..h.len() / 2)
                .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?,
            _ => return Err("vector has no response body".into()),
        };
        let content_type = r["headers"]
            .as_array()
            .and_then(|h| {
                h.iter().find(|p| {
                    p[0].as_str()
                        .is_some_and(|k| k.eq_ignore_ascii_case("content-type"))
                })
            })
            .and_then(|p| p[1].as_str())
            .unwrap_or("application/json; charset=utf-8")
            .to_owned();
        let expect = vector["expect"].clone();
        let keeps_wrong_id = expect["reason"] == "action_id_mismatch";
        let action_id_to_echo = if keeps_wrong_id {
            None
        } else {
            vector["request"]["action_id"].as_str().map(str::to_owned)
        };
        Ok((
            Replay {
                status: r["status"].as_u64().unwrap_or(200) as u16,
                content_type,
                body,
                action_id_to_echo,
            },
            expect,
        ))
    }

    /// The body to send for a request whose `action_id` is `live`.
    pub fn body_for(&self, live: &str) -> Vec<u8> {
        let Some(recorded) = &self.action_id_to_echo else {
            return self.body.clone();
        };
        let mut out = self.body.clone();
        for sep in [": ", ":"] {
            let from = format!("\"action_id\"{sep}\"{recorded}\"");
            let to = format!("\"action_id\"{sep}\"{live}\"");
            if let Some(i) = find(&out, from.as_bytes()) {
                out.splice(i..i + from.len(), to.into_bytes());
                break;
            }
        }
        out
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Fault {
    /// The next answer is exactly this JSON `body` with HTTP `status`, without
    /// processing; the body's `action_id` (any placeholder) is replaced by the
    /// live request's, so tests can craft answers the client accepts.
    pub fn envelope(status: u16, body: &Value) -> Fault {
        Fault::Replay(Box::new(Replay {
            status,
            content_type: "application/json; charset=utf-8".into(),
            body: body.to_string().into_bytes(),
            action_id_to_echo: body["action_id"].as_str().map(str::to_owned),
        }))
    }

    /// Every spelling [`Fault::parse`] accepts, with its argument's placeholder; the
    /// one list behind `runtel-sim --help` and the "unknown fault" error.
    pub const NAMES: &'static [&'static str] = &[
        "delay:MS",
        "drop_before",
        "drop_mid_body",
        "truncated_json",
        "html_502",
        "html_503",
        "wrong_action_id",
        "oversize:BYTES",
        "invalid_utf8",
        "non_object_json",
        "echo_request",
        "echo_envelope",
        "html_401",
        "html_403",
        "gzip",
        "gzip_bomb:BYTES",
        "lying_length:N",
        "bom",
        "exp_past",
        "auth_malformed:VARIANT",
    ];

    /// [`Fault::NAMES`] as one line, with the values of `VARIANT`.
    pub fn names_help() -> String {
        format!(
            "{} (VARIANT: {})",
            Fault::NAMES.join(", "),
            MalformedAuth::NAMES.join(", ")
        )
    }

    /// Parses the names used by the control endpoint and the CLI:
    /// - `delay:MS`: wait MS milliseconds, then answer normally;
    /// - `drop_before`: close without answering;
    /// - `drop_mid_body`: close halfway through the body;
    /// - `truncated_json`: a complete HTTP answer with half the JSON;
    /// - `html_502`, `html_503`, `html_401`, `html_403`: nginx's HTML page;
    /// - `wrong_action_id`: echo another `action_id`;
    /// - `oversize:BYTES`: pad the answer to at least BYTES;
    /// - `invalid_utf8`: an invalid UTF-8 byte inside a string;
    /// - `non_object_json`: a JSON array instead of an envelope;
    /// - `echo_request`: HTTP 400 `text/plain` echoing the raw request;
    /// - `echo_envelope`: a 400 envelope repeating the body and `Authorization`;
    /// - `gzip`: the normal answer, gzip-compressed;
    /// - `gzip_bomb:BYTES`: a small gzip body inflating to BYTES bytes;
    /// - `lying_length:N`: `Content-Length: N`, a few bytes, then close;
    /// - `bom`: the normal answer after a UTF-8 byte order mark;
    /// - `exp_past`: `exp` one hour before the answer's `Date`;
    /// - `auth_malformed:VARIANT`: the real token in a spoiled answer, VARIANT
    ///   being one of [`MalformedAuth::NAMES`].
    pub fn parse(spec: &str) -> Result<Fault, String> {
        let (name, arg) = match spec.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (spec, None),
        };
        let number = |what: &str| -> Result<u64, String> {
            arg.ok_or_else(|| format!("fault {name} needs :{what}"))?
                .parse()
                .map_err(|_| format!("fault {name}: {what} must be a number"))
        };
        Ok(match name {
            "delay" => Fault::Delay(Duration::from_millis(number("MS")?)),
            "drop_before" => Fault::DropBeforeResponse,
            "drop_mid_body" => Fault::DropMidBody,
            "truncated_json" => Fault::TruncatedJson,
            "html_502" => Fault::Html502,
            "html_503" => Fault::Html503,
            "wrong_action_id" => Fault::WrongActionId,
            "oversize" => Fault::Oversize(number("BYTES")? as usize),
            "invalid_utf8" => Fault::InvalidUtf8,
            "non_object_json" => Fault::NonObjectJson,
            "echo_request" => Fault::EchoRequest,
            "echo_envelope" => Fault::EchoEnvelope,
            "html_401" => Fault::Html401,
            "html_403" => Fault::Html403,
            "gzip" => Fault::Gzip,
            "gzip_bomb" => Fault::GzipBomb(number("BYTES")?),
            "lying_length" => Fault::LyingLength(number("N")?),
            "bom" => Fault::Bom,
            "exp_past" => Fault::ExpPast,
            "auth_malformed" => Fault::AuthMalformed(MalformedAuth::parse(
                arg.ok_or("fault auth_malformed needs :VARIANT")?,
            )?),
            _ => {
                return Err(format!(
                    "unknown fault {spec:?} (known: {})",
                    Fault::names_help()
                ))
            }
        })
    }

    /// The faults that existed when other suites started iterating this list, with
    /// small parameters, for test matrices. Later faults are deliberately left out:
    /// each entry here must map to one documented client error kind.
    pub fn all_for_tests(delay: Duration, oversize: usize) -> Vec<Fault> {
        vec![
            Fault::Delay(delay),
            Fault::DropBeforeResponse,
            Fault::DropMidBody,
            Fault::TruncatedJson,
            Fault::Html502,
            Fault::Html503,
            Fault::WrongActionId,
            Fault::Oversize(oversize),
            Fault::InvalidUtf8,
            Fault::NonObjectJson,
        ]
    }
}

/// When a fault applies.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// The fault.
    pub fault: Fault,
    /// How many answers it hits; `None` for every matching answer until cleared.
    pub times: Option<u32>,
    /// Only answers to this action (`list`, `auth`, ...); `None` for every action.
    pub action: Option<String>,
    /// Chance of hitting a matching answer, 0.0 to 1.0.
    pub probability: f64,
}

impl FaultRule {
    /// The next `times` answers (any action) get `fault`.
    pub fn times(fault: Fault, times: u32) -> Self {
        FaultRule {
            fault,
            times: Some(times),
            action: None,
            probability: 1.0,
        }
    }

    /// Only for this action.
    pub fn on_action(mut self, action: &str) -> Self {
        self.action = Some(action.to_owned());
        self
    }

    /// Reads `{"fault": "html_502", "times": 1, "action": "list", "probability": 0.5}`.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let fault = Fault::parse(v["fault"].as_str().ok_or("`fault` must be a string")?)?;
        Ok(FaultRule {
            fault,
            times: match &v["times"] {
                Value::Null => None,
                t => Some(t.as_u64().ok_or("`times` must be a count")? as u32),
            },
            action: v["action"].as_str().map(str::to_owned),
            probability: v["probability"].as_f64().unwrap_or(1.0).clamp(0.0, 1.0),
        })
    }
}

/// The active rules, consulted once per API answer.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    rules: VecDeque<FaultRule>,
    rng: u64,
}

impl FaultPlan {
    pub fn push(&mut self, rule: FaultRule) {
        self.rules.push_back(rule);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn seed(&mut self, seed: u64) {
        self.rng = seed | 1;
    }

    fn chance(&mut self) -> f64 {
        // xorshift64*: deterministic for a given seed, good enough for fault dice.
        if self.rng == 0 {
            self.rng = 0x9E37_79B9_7F4A_7C15;
        }
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The fault for an answer to `action`, if any; counts down `times`.
    pub fn take(&mut self, action: &str) -> Option<Fault> {
        let mut i = 0;
        while i < self.rules.len() {
            let matches = self.rules[i].action.as_deref().is_none_or(|a| a == action);
            if matches {
                let p = self.rules[i].probability;
                if p >= 1.0 || self.chance() < p {
                    let fault = self.rules[i].fault.clone();
                    if let Some(t) = &mut self.rules[i].times {
                        *t = t.saturating_sub(1);
                        if *t == 0 {
                            self.rules.remove(i);
                        }
                    }
                    return Some(fault);
                }
            }
            i += 1;
        }
        None
    }

    pub fn to_json(&self) -> Value {
        Value::Array(
            self.rules
                .iter()
                .map(|r| {
                    json!({"fault": format!("{:?}", r.fault), "times": r.times,
                                "action": r.action, "probability": r.probability})
                })
                .collect(),
        )
    }
}
