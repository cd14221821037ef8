//! A quick structural scan of a list answer: where the envelope's top-level
//! values are, and each record of `list` with its `id`, found by following
//! quotes and brackets only, several times faster than a parse.
//!
//! The scan validates nothing inside the records: it serves
//! [`check_list_answer`](crate::check_list_answer) and
//! [`scan_list_records`](crate::scan_list_records), whose callers parse the
//! answer with the real parser too. It gives up (`None`) on anything but the
//! plain shape (one object with a `list` array of records, no escaped keys at
//! its top level or at the top level of a record, no record with two `id`s),
//! and its callers then parse as before.

use std::ops::Range;

/// What the scan found.
#[derive(Debug, PartialEq)]
pub(crate) struct Scanned<'a> {
    /// The top-level members other than `list`, as raw JSON text, in order.
    pub head: Vec<(&'a str, &'a str)>,
    /// The records of `list`, in order.
    pub records: Vec<RecordSpan>,
}

/// Where one record of a list answer is, as a structural scan found it: byte
/// ranges of the body, for a decoder that reads the body later. Nothing in
/// the record is validated (a parse of the answer must accept it too).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordSpan {
    /// Where the record's JSON text is, without the whitespace around it.
    pub text: Range<usize>,
    /// Where its `id` value's JSON text is, when it is an object with one.
    pub id: Option<Range<usize>>,
}

impl RecordSpan {
    /// The span moved `by` bytes further into the text.
    pub(crate) fn shifted(self, by: usize) -> RecordSpan {
        RecordSpan {
            text: self.text.start + by..self.text.end + by,
            id: self.id.map(|id| id.start + by..id.end + by),
        }
    }
}

/// Scans `text` (a list answer without a byte-order mark).
pub(crate) fn scan_list_answer(text: &str) -> Option<Scanned<'_>> {
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        at: 0,
    };
    let mut head = Vec::new();
    let mut list = None;
    s.expect(b'{')?;
    if !s.close(b'}')? {
        loop {
            let key = s.key()?;
            if key == "list" {
                if list.is_some() {
                    return None; // A repeated `list`: the parser decides which.
                }
                list = Some(s.records()?);
            } else {
                let start = s.value_start()?;
                s.skip_value()?;
                head.push((key, &text[start..s.at]));
            }
            if s.close(b'}')? {
                break;
            }
            s.expect(b',')?;
        }
    }
    s.ws();
    if s.at != s.b.len() {
        return None;
    }
    Some(Scanned {
        head,
        records: list?,
    })
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.at) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.ws();
        (self.b.get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    /// Consumes `byte` if it comes next; None at the end of the text.
    fn close(&mut self, byte: u8) -> Option<bool> {
        self.ws();
        let next = *self.b.get(self.at)?;
        Some(
            next == byte && {
                self.at += 1;
                true
            },
        )
    }

    /// A member's key and its colon; None for a key with escapes.
    fn key(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let len = quote_or_backslash(&self.b[start..])?;
        if self.b[start + len] == b'\\' {
            return None;
        }
        self.at = start + len + 1;
        self.expect(b':')?;
        // Both ends are ASCII quotes: char boundaries.
        self.text.get(start..start + len)
    }

    fn value_start(&mut self) -> Option<usize> {
        self.ws();
        (self.at < self.b.len()).then_some(self.at)
    }

    /// Skips one value of any kind.
    fn skip_value(&mut self) -> Option<()> {
        self.ws();
        match *self.b.get(self.at)? {
            b'"' => self.skip_string(),
            b'{' | b'[' => self.skip_nested(),
            _ => {
                let len = self.b[self.at..]
                    .iter()
                    .position(|&c| matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                    .unwrap_or(self.b.len() - self.at);
                (len > 0).then(|| self.at += len)
            }
        }
    }

    /// Skips a string, the scanner at its opening quote.
    fn skip_string(&mut self) -> Option<()> {
        let mut i = self.at + 1;
        loop {
            i += quote_or_backslash(self.b.get(i..)?)?;
            if self.b[i] == b'"' {
                self.at = i + 1;
                return Some(());
            }
            i += 2; // The escaped byte cannot end the string.
            if i > self.b.len() {
                return None;
            }
        }
    }

    /// Skips an object or array, the scanner at its opening bracket: brackets
    /// are counted outside strings.
    fn skip_nested(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match *self.b.get(self.at)? {
                b'"' => {
                    self.skip_string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.at += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.at += 1;
        }
    }

    /// The `list` array: each record's place and its id's.
    fn records(&mut self) -> Option<Vec<RecordSpan>> {
        self.expect(b'[')?;
        let mut records = Vec::new();
        if self.close(b']')? {
            return Some(records);
        }
        loop {
            let start = self.value_start()?;
            let id = if self.b[start] == b'{' {
                self.record_id()?
            } else {
                self.skip_value()?;
                None
            };
            records.push(RecordSpan {
                text: start..self.at,
                id,
            });
            if self.close(b']')? {
                return Some(records);
            }
            self.expect(b',')?;
        }
    }

    /// One record object: its `id` member's raw text, the rest skipped; None
    /// (give up) for a repeated `id`.
    fn record_id(&mut self) -> Option<Option<Range<usize>>> {
        self.at += 1;
        let mut id = None;
        if self.close(b'}')? {
            return Some(None);
        }
        loop {
            let key = self.key()?;
            let start = self.value_start()?;
            self.skip_value()?;
            if key == "id" {
                // A repeated `id`: the parser decides (an earlier one may not
                // even parse, which voids the record's id).
                if id.is_some() {
                    return None;
                }
                id = Some(start..self.at);
            }
            if self.close(b'}')? {
                return Some(id);
            }
            self.expect(b',')?;
        }
    }
}

/// Where the first `"` or `\\` is in `b`, eight bytes at a time (the strings
/// of a record are short: an inline loop beats a call into a vectorised
/// search).
fn quote_or_backslash(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each zero byte of `x` (and maybe of bytes above one,
    // which the lowest set bit never points at).
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        let hits =
            zero_bytes(w ^ (ONES * u64::from(b'"'))) | zero_bytes(w ^ (ONES * u64::from(b'\\')));
        if hits != 0 {
            return Some(i + hits.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_answer_gives_its_head_count_and_ids() {
        let text = r#" {"code": 200, "action_id":"a-1", "list": [ {"id": 7, "s": "x}]\"{"},
            {"n": [1, {"id": 9}]}, {"k": "1\"", "id": 3}, 5, [1], {} ],
            "total_count": 40, "body": {"list": []}} "#;
        let s = scan_list_answer(text).unwrap();
        let texts: Vec<&str> = s.records.iter().map(|r| &text[r.text.clone()]).collect();
        let ids: Vec<Option<&str>> = s
            .records
            .iter()
            .map(|r| r.id.clone().map(|id| &text[id]))
            .collect();
        assert_eq!(
            texts,
            vec![
                r#"{"id": 7, "s": "x}]\"{"}"#,
                r#"{"n": [1, {"id": 9}]}"#,
                r#"{"k": "1\"", "id": 3}"#,
                "5",
                "[1]",
                "{}"
            ]
        );
        assert_eq!(ids, vec![Some("7"), None, Some("3"), None, None, None]);
        assert_eq!(
            s.head,
            vec![
                ("code", "200"),
                ("action_id", "\"a-1\""),
                ("total_count", "40"),
                ("body", r#"{"list": []}"#)
            ]
        );
        let empty = scan_list_answer(r#"{"list":[],"code":200}"#).unwrap();
        assert_eq!(empty.records, vec![]);
    }

    #[test]
    fn the_first_quote_or_backslash_is_found_at_every_offset() {
        for len in 0..40 {
            for at in 0..=len {
                for (special, other) in [(b'"', b'\\'), (b'\\', b'"')] {
                    let mut b: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    // Bytes that differ from the targets by one bit or borrow.
                    b.iter_mut().step_by(3).for_each(|c| *c = b'#');
                    b.iter_mut()
                        .skip(1)
                        .step_by(5)
                        .for_each(|c| *c = 0x80 | b'"');
                    let want = (at < len).then(|| {
                        b[at] = special;
                        if at + 1 < len {
                            b[at + 1] = other;
                        }
                        at
                    });
                    assert_eq!(quote_or_backslash(&b), want, "{len} {at}");
                }
            }
        }
    }

    #[test]
    fn anything_but_the_plain_shape_is_left_to_the_parser() {
        for text in [
            r#"{"code":200}"#,               // no list
            r#"{"list":null}"#,              // not an array
            r#"{"list":[],"list":[]}"#,      // repeated
            r#"{"li\u0073t":[]}"#,           // escaped key
            r#"{"list":[{"id":1}]"#,         // truncated
            r#"{"list":[{"id":1}]} x"#,      // trailing text
            r#"{"list":[{"id":1,]}"#,        // a member missing
            r#"{"list":[{"id":1,"id":2}]}"#, // a repeated id
            r#"[1]"#,                        // not an object
            r#"{"list":["abc]}"#,            // unterminated string
            "",
        ] {
            assert_eq!(scan_list_answer(text), None, "{text}");
        }
    }
}
