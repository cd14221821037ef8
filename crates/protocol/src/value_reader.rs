//! A strict JSON reader that builds a [`serde_json::Value`] in one pass over an
//! answer's text, for the envelope of every call.
//!
//! It gives exactly what `serde_json::from_str::<Value>` gives (the workspace's
//! features included: key order kept, numbers kept as written) or `None`, at
//! the first thing it is not sure of; the caller then asks serde_json, which
//! also names the error. Refusing too much costs only speed; accepting too
//! much would be a bug, so `tests` hold the two together on generated and
//! mutated documents.
//!
//! Why not serde_json itself: its `Value` visitor grows each object's map one
//! insert at a time (a hash table rehashed two or three times per object) and
//! goes through the generic `Deserializer` for every value. Here an object's
//! members wait on one stack until the object ends, and its map is made at its
//! final size.

use serde_json::{Map, Number, Value};

/// How deep serde_json lets values nest (its recursion limit, 128, counts down
/// on each `[` or `{` and fails when it reaches 0).
const MAX_NESTING: u32 = 127;

/// The prefix of the keys under which serde_json reads an object as something
/// else (a number with `arbitrary_precision`, a raw value with `raw_value`):
/// such objects are left to serde_json.
const SERDE_TOKEN_PREFIX: &str = "$serde_json::private::";

/// `text` as serde_json reads it, when this reader is sure to agree; `None`
/// otherwise (invalid JSON among others).
pub(crate) fn read_value(text: &str) -> Option<Value> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        text,
        pos: 0,
        nesting: 0,
        // An envelope's members and its body's, without growing.
        members: Vec::with_capacity(16),
        elements: Vec::new(),
    };
    let value = reader.value()?;
    reader.skip_whitespace();
    (reader.pos == text.len()).then_some(value)
}

struct Reader<'t> {
    bytes: &'t [u8],
    text: &'t str,
    pos: usize,
    nesting: u32,
    /// Members of the objects being read, innermost last.
    members: Vec<(String, Value)>,
    /// Elements of the arrays being read, innermost last.
    elements: Vec<Value>,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_whitespace();
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                self.string().map(Value::String)
            }
            b'{' => self.object(),
            b'[' => self.array(),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            b'-' | b'0'..=b'9' => self.number().map(Value::Number),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Option<Value> {
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end)? == word.as_bytes()).then(|| {
            self.pos = end;
            value
        })
    }

    fn enter(&mut self) -> Option<()> {
        self.nesting += 1;
        (self.nesting <= MAX_NESTING).then_some(())
    }

    /// After a member or element: `,` (false) or `close` (true).
    fn after_item(&mut self, close: u8) -> Option<bool> {
        self.skip_whitespace();
        let b = self.peek()?;
        self.pos += 1;
        match b {
            b',' => Some(false),
            b if b == close => Some(true),
            _ => None,
        }
    }

    fn object(&mut self) -> Option<Value> {
        self.pos += 1;
        self.enter()?;
        let from = self.members.len();
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                if self.peek()? != b'"' {
                    return None;
                }
                self.pos += 1;
                let key = self.string()?;
                if key.starts_with(SERDE_TOKEN_PREFIX) {
                    return None;
                }
                self.skip_whitespace();
                if self.peek()? != b':' {
                    return None;
                }
                self.pos += 1;
                let value = self.value()?;
                self.members.push((key, value));
                if self.after_item(b'}')? {
                    break;
                }
            }
        }
        self.nesting -= 1;
        // A repeated key keeps its first place and takes the last value, as
        // serde_json's map does.
        let mut map = Map::with_capacity(self.members.len() - from);
        for (key, value) in self.members.drain(from..) {
            map.insert(key, value);
        }
        Some(Value::Object(map))
    }

    fn array(&mut self) -> Option<Value> {
        self.pos += 1;
        self.enter()?;
        let from = self.elements.len();
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.pos += 1;
        } else {
            loop {
                let value = self.value()?;
                self.elements.push(value);
                if self.after_item(b']')? {
                    break;
                }
            }
        }
        self.nesting -= 1;
        Some(Value::Array(self.elements.drain(from..).collect()))
    }

    /// The text of a string whose opening quote was read; the reader ends
    /// after its closing quote.
    fn string(&mut self) -> Option<String> {
        let start = self.pos;
        // Fast path: up to the closing quote with nothing to unescape.
        loop {
            match *self.bytes.get(self.pos)? {
                b'"' => {
                    let s = self.text.get(start..self.pos)?.to_owned();
                    self.pos += 1;
                    return Some(s);
                }
                b'\\' => break,
                b if b < 0x20 => return None,
                _ => self.pos += 1,
            }
        }
        let mut s = self.text.get(start..self.pos)?.to_owned();
        loop {
            let run = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            s.push_str(self.text.get(run..self.pos)?);
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(s);
                }
                b'\\' => {
                    self.pos += 1;
                    let escape = self.peek()?;
                    self.pos += 1;
                    s.push(match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                _ => return None,
            }
        }
    }

    /// The character of a `\u` escape (the reader stands after the `u`). Only
    /// a scalar value or a whole surrogate pair: serde_json's handling of lone
    /// surrogates is left to it.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2)? != b"\\u" {
                    return None;
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return None;
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return None,
            c => c,
        };
        char::from_u32(code)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos + 4)?;
        let mut n = 0;
        for &d in digits {
            n = n * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(n)
    }

    /// A number as serde_json keeps it (its text as written): integers that
    /// print back as written are made directly, anything else (fractions,
    /// exponents, `-0`, beyond 64 bits) is parsed by serde_json from its text.
    fn number(&mut self) -> Option<Number> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
            _ => return None,
        }
        let int_end = self.pos;
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
        }
        let text = &self.text[start..self.pos];
        let negative = int_start > start;
        if integer && !(negative && &self.text[int_start..int_end] == "0") {
            if negative {
                if let Ok(n) = text.parse::<i64>() {
                    return Some(Number::from(n));
                }
            } else if let Ok(n) = text.parse::<u64>() {
                return Some(Number::from(n));
            }
        }
        serde_json::from_str(text).ok()
    }

    /// One or more decimal digits.
    fn digits(&mut self) -> Option<()> {
        let from = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        (self.pos > from).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// serde_json's reading of `text`, as this reader must give it.
    fn serde(text: &str) -> Option<Value> {
        serde_json::from_str(text).ok()
    }

    /// This reader agrees with serde_json whenever it answers, and answers.
    fn agrees_and_answers(text: &str) {
        let ours = read_value(text);
        assert_eq!(ours, serde(text), "{text:?}");
        // Key order is not part of `Value`'s equality: compare the texts too.
        assert_eq!(
            ours.map(|v| v.to_string()),
            serde(text).map(|v| v.to_string())
        );
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            r#"{"action":"get","action_id":"7","obj":"User","code":200,"notifies":[],"body":{"id":1,"login":"a@b","status":1}}"#,
            r#" { "a" : [ 1 , -2 , 3.50 , -0 , 0 , -0.0 , 1e5 , 1E+5 , 2e-3 ] } "#,
            r#"{"big":18446744073709551616,"max":18446744073709551615,"min":-9223372036854775808,"below":-9223372036854775809}"#,
            r#"{"a":1,"b":2,"a":3}"#,
            r#"{"s":"tab\tquote\"slash\/back\\u\u00e9\ud83d\ude00 end","e":"","n":null,"t":true,"f":false}"#,
            r#"{"nested":{"x":[{"y":[[]]},{}],"z":{}}}"#,
            "\"just a string\"",
            "[]",
            "3",
            "\"\u{e9}\u{1F600} raw\"",
        ] {
            assert!(read_value(text).is_some(), "{text}");
            agrees_and_answers(text);
        }
    }

    #[test]
    fn refuses_what_it_is_not_sure_of_and_never_disagrees() {
        for text in [
            "",
            " ",
            "{",
            "{\"a\":1,}",
            "[1,]",
            "[1 2]",
            "{\"a\" 1}",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "tru",
            "nul",
            "True",
            "\"unterminated",
            "\"bad \\x escape\"",
            "\"raw\ncontrol\"",
            "\"lone \\ud800 surrogate\"",
            "\"lone \\udc00 low\"",
            "\"pair \\ud800\\u0041\"",
            "{\"$serde_json::private::Number\":\"1\"}",
            "{} x",
            "{1:2}",
        ] {
            assert_eq!(read_value(text), None, "{text:?}");
        }
    }

    #[test]
    fn nesting_stops_where_serde_json_stops() {
        for depth in [1, 126, 127, 128, 129, 200] {
            let text = "[".repeat(depth) + &"]".repeat(depth);
            let ours = read_value(&text);
            assert_eq!(ours, serde(&text), "depth {depth}");
            let text = "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth);
            let ours = read_value(&text);
            if ours.is_some() {
                assert_eq!(ours, serde(&text), "depth {depth}");
            }
        }
        assert!(read_value(&("[".repeat(127) + &"]".repeat(127))).is_some());
    }

    /// JSON values as text, with whitespace, escapes and numbers of every form.
    fn json_text() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,8})?([eE][+-]?[0-9]{1,3})?",
        ];
        let string = "\"([a-z \u{e9}\u{1F600}]|\\\\[\"\\\\/bfnrt]|\\\\u00[0-7][0-9a-f]|\\\\ud83d\\\\ude00){0,8}\"";
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            number,
            string.prop_map(|s| s.to_owned()),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            let ws = "[ \t\n\r]{0,2}";
            prop_oneof![
                prop::collection::vec((ws, inner.clone(), ws), 0..6).prop_map(|items| {
                    let items: Vec<String> =
                        items.into_iter().map(|(a, v, b)| a + &v + &b).collect();
                    format!("[{}]", items.join(","))
                }),
                // Few key names, some escaped (`\u0061` is `a`): repeated keys.
                prop::collection::vec(("[a-d]{1,2}|\\\\u006[1-4]", ws, ws, inner), 0..6).prop_map(
                    |members| {
                        let members: Vec<String> = members
                            .into_iter()
                            .map(|(k, w, x, v)| format!("{w}\"{k}\"{x}:{w}{v}{x}"))
                            .collect();
                        format!("{{{}}}", members.join(","))
                    }
                ),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json_on_generated_documents(text in json_text()) {
            prop_assert!(read_value(&text).is_some(), "refused {:?}", text);
            agrees_and_answers(&text);
        }

        #[test]
        fn never_disagrees_on_mutated_documents(
            text in json_text(),
            at in any::<prop::sample::Index>(),
            with in prop::sample::select(vec!["", ",", "]", "}", "\"", "\\", ":", "-", "0", "e", "\u{1}", "{", "[", " "]),
            cut in any::<bool>(),
        ) {
            let mut text = text;
            let i = at.index(text.len() + 1);
            let i = (0..=i).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            if cut {
                text.truncate(i);
            } else {
                text.insert_str(i, with);
            }
            if let Some(ours) = read_value(&text) {
                let theirs = serde(&text);
                prop_assert_eq!(Some(&ours), theirs.as_ref(), "{:?}", text);
                prop_assert_eq!(Some(ours.to_string()), theirs.map(|v| v.to_string()));
            }
        }
    }
}
