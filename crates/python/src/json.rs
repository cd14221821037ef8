//! A strict JSON reader that builds Python objects straight from an answer's
//! text, for the decoder's one pass (see `decode.rs`).
//!
//! It accepts exactly what the core's parser (serde_json) accepts, and refuses
//! with `None` at the first thing it does not: the caller then hands the body
//! to the core's parser, which names the error. So refusing too much costs
//! only speed, while accepting too much would be a bug; `tests` hold the two
//! together on generated and mutated documents. What it does not need to
//! match, it leaves to the core: the text is valid UTF-8 before it gets here
//! (checked once for the whole body), and an object that serde_json would
//! read as something else (a number, a raw value: see [`SERDE_TOKEN_PREFIX`])
//! is refused.
//!
//! Why not serde_json with a visitor: it copies every number's digits into a
//! new `String` (the workspace enables `arbitrary_precision`), dispatches
//! every value through `deserialize_any`, and the visitor cannot see an
//! object's keys before building its dict.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyList};

use crate::build::Builder;
use crate::convert::number_text_to_py;

/// How deep serde_json lets values nest (its default recursion limit, 128,
/// counts down on each `[` or `{` and fails when it reaches 0).
const MAX_NESTING: u32 = 127;

/// The prefix of the keys under which serde_json reads an object as something
/// else: `$serde_json::private::Number` (with `arbitrary_precision`, the object
/// is a number) and `$serde_json::private::RawValue` (with `raw_value`, its
/// string is parsed as JSON in place of the object). Objects with such keys are
/// left to the core.
pub const SERDE_TOKEN_PREFIX: &str = "$serde_json::private::";

/// A position in the text being read.
pub struct Reader<'t, 'b, 'py> {
    text: &'t str,
    pos: usize,
    nesting: u32,
    builder: &'b mut Builder<'py>,
    /// Unescaped string text (reused for every string with an escape).
    scratch: String,
}

impl<'t, 'b, 'py> Reader<'t, 'b, 'py> {
    /// A reader at the start of `text`.
    pub fn new(text: &'t str, builder: &'b mut Builder<'py>) -> Self {
        Reader {
            text,
            pos: 0,
            nesting: 0,
            builder,
            scratch: String::new(),
        }
    }

    /// The builder the values are made with.
    pub fn builder(&mut self) -> &mut Builder<'py> {
        self.builder
    }

    /// The byte offset reached.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn bytes(&self) -> &'t [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Whitespace, then `byte`.
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// Nothing but whitespace left.
    pub fn end(&mut self) -> Option<()> {
        self.skip_whitespace();
        (self.pos == self.text.len()).then_some(())
    }

    fn enter(&mut self) -> Option<()> {
        self.nesting += 1;
        (self.nesting <= MAX_NESTING).then_some(())
    }

    /// The members of an object: `each` reads every value (the reader stands
    /// after the member's `:`), given its key.
    pub fn members(
        &mut self,
        mut each: impl FnMut(&mut Self, Cow<'t, str>) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.enter()?;
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
        } else {
            loop {
                let key = self.key()?;
                each(self, key)?;
                if self.after_member(b'}')? {
                    break;
                }
            }
        }
        self.nesting -= 1;
        Some(())
    }

    /// A member's key and its `:`.
    fn key(&mut self) -> Option<Cow<'t, str>> {
        self.eat(b'"')?;
        let key = self.string_text()?;
        if key.starts_with(SERDE_TOKEN_PREFIX) {
            return None;
        }
        self.eat(b':')?;
        Some(key)
    }

    /// After a member or element: `,` (false) or the closing byte (true).
    fn after_member(&mut self, close: u8) -> Option<bool> {
        self.skip_whitespace();
        match self.peek()? {
            b',' => {
                self.pos += 1;
                Some(false)
            }
            b if b == close => {
                self.pos += 1;
                Some(true)
            }
            _ => None,
        }
    }

    /// Any value, as a Python object.
    pub fn value(&mut self) -> Option<Bound<'py, PyAny>> {
        let py = self.builder.py();
        self.skip_whitespace();
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                let text = self.string_text()?;
                Some(self.builder.string(&text))
            }
            b'{' => self.object(),
            b'[' => self.array(),
            b't' => self
                .literal(b"true")
                .map(|()| PyBool::new(py, true).to_owned().into_any()),
            b'f' => self
                .literal(b"false")
                .map(|()| PyBool::new(py, false).to_owned().into_any()),
            b'n' => self.literal(b"null").map(|()| py.None().into_bound(py)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.bytes().get(self.pos..end)? == word).then(|| self.pos = end)
    }

    fn object(&mut self) -> Option<Bound<'py, PyAny>> {
        // The pairs wait on the builder's stack until the object ends, so its
        // dict can be made at its final size.
        let from = self.builder.pairs.len();
        let mut position = 0;
        self.members(|r, key| {
            let key = r.builder.key(&key, position);
            position += 1;
            let value = r.value()?;
            r.builder.pairs.push((key, value));
            Some(())
        })?;
        self.builder.dict_from(from).ok().map(Bound::into_any)
    }

    fn array(&mut self) -> Option<Bound<'py, PyAny>> {
        self.pos += 1;
        self.enter()?;
        let list = PyList::empty(self.builder.py());
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.pos += 1;
        } else {
            loop {
                list.append(self.value()?).ok()?;
                if self.after_member(b']')? {
                    break;
                }
            }
        }
        self.nesting -= 1;
        Some(list.into_any())
    }

    /// A number as serde_json reads it: a 64-bit integer directly, anything
    /// else (a fraction, an exponent, more digits) from its text, exactly.
    fn number(&mut self) -> Option<Bound<'py, PyAny>> {
        let bytes = self.bytes();
        let start = self.pos;
        let mut pos = start;
        let negative = bytes[pos] == b'-';
        pos += negative as usize;
        let digits = |pos: &mut usize| {
            let from = *pos;
            while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
                *pos += 1;
            }
            *pos > from
        };
        match bytes.get(pos)? {
            b'0' => pos += 1,
            b'1'..=b'9' => {
                digits(&mut pos);
            }
            _ => return None,
        }
        let mut integer = true;
        if bytes.get(pos) == Some(&b'.') {
            pos += 1;
            digits(&mut pos).then_some(())?;
            integer = false;
        }
        if let Some(b'e' | b'E') = bytes.get(pos) {
            pos += 1;
            if let Some(b'+' | b'-') = bytes.get(pos) {
                pos += 1;
            }
            digits(&mut pos).then_some(())?;
            integer = false;
        }
        // A digit right after a leading zero ("01") is no JSON number.
        if bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        self.pos = pos;
        let text = &self.text[start..pos];
        if integer && !negative {
            if let Ok(n) = text.parse::<u64>() {
                return self.builder.uint(n).ok();
            }
        }
        number_text_to_py(self.builder.py(), text).ok()
    }

    /// A string's text, the reader standing after its opening quote.
    fn string_text(&mut self) -> Option<Cow<'t, str>> {
        let start = self.pos;
        let end = start + plain_run(&self.bytes()[start..]);
        match *self.bytes().get(end)? {
            b'"' => {
                self.pos = end + 1;
                Some(Cow::Borrowed(&self.text[start..end]))
            }
            b'\\' => {
                let mut out = std::mem::take(&mut self.scratch);
                out.clear();
                out.push_str(&self.text[start..end]);
                self.pos = end;
                let done = self.unescape_into(&mut out);
                let text = done.map(|()| Cow::Owned(out.clone()));
                self.scratch = out;
                text
            }
            // A control character: not allowed unescaped.
            _ => None,
        }
    }

    /// The rest of a string with escapes, from a backslash to its closing quote.
    fn unescape_into(&mut self, out: &mut String) -> Option<()> {
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'"' => return Some(()),
                b'\\' => {
                    let escaped = self.peek()?;
                    self.pos += 1;
                    out.push(match escaped {
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
                _ => {
                    self.pos -= 1;
                    let run = plain_run(&self.bytes()[self.pos..]);
                    out.push_str(&self.text[self.pos..self.pos + run]);
                    self.pos += run;
                    match self.peek()? {
                        b'"' | b'\\' => {}
                        _ => return None,
                    }
                }
            }
        }
    }

    /// A `\u` escape (the reader after the `u`): a character, or a surrogate
    /// pair written as two escapes; a lone surrogate is refused (serde_json
    /// refuses it when reading text).
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        match first {
            0xD800..=0xDBFF => {
                (self.bytes().get(self.pos..self.pos + 2)? == b"\\u").then_some(())?;
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return None;
                }
                char::from_u32(0x1_0000 + ((first - 0xD800) << 10 | (second - 0xDC00)))
            }
            0xDC00..=0xDFFF => None,
            n => char::from_u32(n),
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes().get(self.pos..self.pos + 4)?;
        let mut n = 0;
        for &d in digits {
            n = n << 4 | (d as char).to_digit(16)?;
        }
        self.pos += 4;
        Some(n)
    }
}

/// How many bytes from the start need no attention in a string: up to the
/// first quote, backslash or control character (or the end). Eight bytes at a
/// time while none is among them.
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
        // A byte below 0x20 (ignoring bytes >= 0x80, which are never special),
        // a '"' or a '\\' sets the high bit of its lane.
        let special = (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
            | zero_byte(w ^ (ONES * b'"' as u64))
            | zero_byte(w ^ (ONES * b'\\' as u64));
        if special != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// What the reader makes of `text` as a whole document, shown as Python's
    /// `repr` (which tells `True` from `1` and shows key order), or None.
    fn ours(py: Python<'_>, text: &str) -> Option<String> {
        // Cold (no value shared, as for a small answer) and warm (shared from
        // the first value) must read alike; each builder is made in turn, so
        // both read with the process's shared keys (when no other test holds
        // them).
        let mut shown = [false, true].map(|warm| {
            let mut builder = if warm {
                Builder::warmed(py)
            } else {
                Builder::new(py)
            };
            let mut reader = Reader::new(text, &mut builder);
            let value = reader.value()?;
            reader.end()?;
            Some(value.repr().ok()?.to_string())
        });
        assert_eq!(shown[0], shown[1], "cold and warm differ on {text:?}");
        shown[0].take()
    }

    /// What the core's parser makes of it, converted as the slow path does.
    fn theirs(py: Python<'_>, text: &str) -> Option<String> {
        let value: Value = serde_json::from_str(text).ok()?;
        let obj = crate::convert::to_py(py, &value).expect("converts");
        Some(obj.repr().ok()?.to_string())
    }

    fn assert_agree(py: Python<'_>, text: &str) {
        assert_eq!(ours(py, text), theirs(py, text), "document {text:?}");
    }

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    /// Pieces of string content, valid and not.
    const STRING_PARTS: &[&str] = &[
        "abc",
        "ANSWERED",
        "79997902919",
        "Caller 413",
        "\\n",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b",
        "\\f",
        "\\r",
        "\\t",
        "\\u00e9",
        "\\u0000",
        "\\uD83D\\uDE00",
        "\\ud83d\\ude00",
        "\\uD83D",
        "\\uDE00",
        "\\uD83Dx",
        "\\uD83D\\n",
        "\\uD83D\\u0041",
        "\\u12",
        "\\uzzzz",
        "\\x",
        "é",
        "дом",
        "😀",
        "\u{1}",
        "\t",
        "\u{7f}",
        " ",
        "0123456789abcdef",
    ];

    /// Number texts, valid and not.
    const NUMBERS: &[&str] = &[
        "0",
        "-0",
        "7",
        "-7",
        "01",
        "-01",
        "1.",
        ".5",
        "1.5",
        "-0.0",
        "1e5",
        "1E+5",
        "1e-5",
        "1e",
        "1e+",
        "-",
        "--1",
        "+1",
        "4095",
        "4096",
        "255",
        "256",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1.5e400",
        "123456789012345678901234567890",
        "0.1",
        "1e-400",
        "00",
        "0x1",
        "1_000",
    ];

    const SPACES: &[&str] = &["", "", "", " ", "\n", "\t", "\r\n ", "\u{b}", "\u{a0}"];

    fn string(rng: &mut Rng) -> String {
        let mut s = String::from("\"");
        for _ in 0..rng.below(4) {
            s.push_str(rng.pick(STRING_PARTS));
        }
        s.push('"');
        s
    }

    fn value(rng: &mut Rng, depth: usize) -> String {
        let pad = |rng: &mut Rng| rng.pick(SPACES).to_string();
        match rng.below(if depth > 3 { 5 } else { 8 }) {
            0 | 1 => string(rng),
            2 | 3 => rng.pick(NUMBERS).to_string(),
            4 => rng
                .pick(&["true", "false", "null", "tru", "nul", "True"])
                .to_string(),
            5 | 6 => {
                let mut s = String::from("{");
                let n = rng.below(8);
                for i in 0..n {
                    s += &pad(rng);
                    // Repeated keys now and then.
                    s += &match rng.below(4) {
                        0 => "\"id\"".to_string(),
                        _ => string(rng),
                    };
                    s += &pad(rng);
                    s += rng.pick(&[":", ":", ":", ":", ":", ""]);
                    s += &pad(rng);
                    s += &value(rng, depth + 1);
                    if i + 1 < n || rng.below(12) == 0 {
                        s += rng.pick(&[",", ",", ",", ",", ",", ";", ""]);
                    }
                }
                s + &pad(rng) + "}"
            }
            _ => {
                let mut s = String::from("[");
                let n = rng.below(6);
                for i in 0..n {
                    s += &pad(rng);
                    s += &value(rng, depth + 1);
                    if i + 1 < n || rng.below(12) == 0 {
                        s += rng.pick(&[",", ",", ",", ",", ""]);
                    }
                }
                s + &pad(rng) + "]"
            }
        }
    }

    #[test]
    fn agrees_with_the_core_on_generated_documents() {
        Python::initialize();
        Python::attach(|py| {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            let (mut accepted, mut refused) = (0, 0);
            for _ in 0..20_000 {
                let text = value(&mut rng, 0);
                assert_agree(py, &text);
                match ours(py, &text) {
                    Some(_) => accepted += 1,
                    None => refused += 1,
                }
                // One character taken out, doubled or replaced.
                let chars: Vec<char> = text.chars().collect();
                let at = rng.below(chars.len());
                let mut mutated: Vec<char> = chars.clone();
                match rng.below(3) {
                    0 => {
                        mutated.remove(at);
                    }
                    1 => mutated.insert(at, chars[at]),
                    _ => mutated[at] = ['"', '\\', ',', ']', '}', '{', '0', 'e'][rng.below(8)],
                }
                assert_agree(py, &mutated.into_iter().collect::<String>());
            }
            // Both outcomes are exercised, not one of them only.
            assert!(
                accepted > 5_000 && refused > 5_000,
                "{accepted} accepted, {refused} refused"
            );
        });
    }

    #[test]
    fn agrees_on_nesting_limits_numbers_and_strings() {
        Python::initialize();
        Python::attach(|py| {
            for depth in [126, 127, 128, 129] {
                assert_agree(py, &format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
                assert_agree(
                    py,
                    &format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)),
                );
            }
            assert!(ours(py, &format!("{}{}", "[".repeat(127), "]".repeat(127))).is_some());
            for n in NUMBERS {
                assert_agree(py, n);
                assert_agree(py, &format!("[{n}]"));
            }
            // Special characters at every offset of an eight-byte chunk.
            for at in 0..20 {
                for special in ["\\\"", "\\\\", "\\n", "\u{1}", "\"", "é"] {
                    let text = format!("\"{}{special}{}\"", "a".repeat(at), "b".repeat(9));
                    assert_agree(py, &text);
                }
            }
            // Objects serde_json reads as something else: left to the core,
            // which reads them its way (or refuses them).
            for text in [
                r#"{"$serde_json::private::Number":"12"}"#,
                r#"{"$serde_json::private::RawValue":"[1]"}"#,
                r#"{"$serde_json::private::RawValue":5}"#,
                r#"{"$serde_json::private::RawValue":"1","x":2}"#,
                r#"{"a":1,"$serde_json::private::RawValue":"1"}"#,
            ] {
                assert_eq!(ours(py, text), None, "{text}");
            }
            assert_eq!(ours(py, "\"\\uD83D\\uDE00\"").as_deref(), Some("'😀'"));
            assert_eq!(
                ours(py, "[true,1,-0,1.0,4096]").as_deref(),
                Some("[True, 1, 0, 1.0, 4096]")
            );
        });
    }

    #[test]
    fn records_of_one_shape_share_keys_and_keep_order() {
        Python::initialize();
        Python::attach(|py| {
            let text = r#"[{"a":1,"b":"x","c":3,"d":4,"e":5,"f":6,"a":7},
                           {"a":1,"b":"x","c":3,"d":4,"e":5,"f":6,"a":7},
                           {"f":1,"e":2,"d":3,"c":4,"b":5,"a":6}]"#;
            assert_agree(py, text);
            let mut builder = Builder::new(py);
            let list = Reader::new(text, &mut builder).value().unwrap();
            let first = list.get_item(0).unwrap();
            let second = list.get_item(1).unwrap();
            // Two dicts, equal, not one shared object; the repeated key kept its
            // first place and its last value.
            assert!(!first.is(&second));
            assert_eq!(
                first.repr().unwrap().to_string(),
                "{'a': 7, 'b': 'x', 'c': 3, 'd': 4, 'e': 5, 'f': 6}"
            );
            first.set_item("a", 0).unwrap();
            assert_eq!(second.get_item("a").unwrap().extract::<i64>().unwrap(), 7);
        });
    }

    /// Keys of one answer are found made by the next (the process's shared
    /// table); a decode that cannot take the table (another holds it) makes
    /// its own, with the same result; long keys bypass the table.
    #[test]
    fn answers_share_their_keys_and_decode_alike_without_the_table() {
        Python::initialize();
        Python::attach(|py| {
            let long = "k".repeat(80);
            let text = format!(r#"{{"shared_key_test":1,"{long}":2}}"#);
            fn decode<'py>(
                text: &str,
                builder: &mut Builder<'py>,
            ) -> (String, Vec<Bound<'py, PyAny>>) {
                let dict = Reader::new(text, builder).value().unwrap();
                let keys = dict.try_iter().unwrap().map(Result::unwrap).collect();
                (dict.repr().unwrap().to_string(), keys)
            }
            let (first, first_keys) = decode(&text, &mut Builder::new(py));
            let (second, second_keys) = decode(&text, &mut Builder::new(py));
            assert_eq!(first, second);
            assert!(first_keys[0].is(&second_keys[0]), "the short key is shared");
            assert!(
                !first_keys[1].is(&second_keys[1]),
                "the long key is not kept"
            );

            let holder = Builder::new(py);
            let (third, third_keys) = decode(&text, &mut Builder::new(py));
            drop(holder);
            assert_eq!(third, first);
            assert!(!third_keys[0].is(&first_keys[0]), "made without the table");
            assert!(first.starts_with("{'shared_key_test': 1, 'kkkk"), "{first}");
        });
    }
}
