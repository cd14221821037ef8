//! How `runtel call` prints an answer: `-o json|jsonl|yaml|table|csv`, and
//! `--records` for the records of a list alone.
//!
//! JSON, JSON Lines and YAML show values exactly as they came (times as Unix
//! seconds, numbers with every digit). The table is for people: the catalog's
//! fields of the object as columns, cells with control characters escaped,
//! Unix times in the user's zone, fitted to the terminal's width. CSV is for
//! spreadsheets (see [`Csv`]).

use serde_json::{Map, Value};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use runtel_client::catalog::{self, FieldType};

use crate::terminal::inert;
use crate::zone::{self, Zone};

/// Output formats of `runtel call`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON: pretty on a terminal, compact in a pipe.
    Json,
    /// One compact JSON value a line (the envelope, or each record with --records).
    Jsonl,
    /// YAML.
    Yaml,
    /// A table of the records that fits the terminal, times in your zone.
    Table,
    /// CSV of the records, a header row first.
    Csv,
}

/// The records an answer holds, for the table and CSV and for `--records`:
/// those of a list (possibly none); for an answer that is no list, its body
/// when it is an object with fields (a `get`), else nothing.
pub fn rows_of(response: &runtel_client::Response) -> Vec<Value> {
    let is_list = response.list().is_some()
        || response.body().is_array()
        || response.body().get("list").is_some_and(Value::is_array);
    if is_list {
        return response.records().to_vec();
    }
    match response.body() {
        Value::Object(m) if !m.is_empty() => vec![response.body().clone()],
        Value::Null => Vec::new(),
        Value::Object(_) => Vec::new(),
        other => vec![other.clone()],
    }
}

/// JSON text, pretty or compact.
pub fn json(v: &Value, pretty: bool) -> String {
    let text = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    };
    // A Value always serializes.
    let mut text = text.unwrap_or_default();
    text.push('\n');
    text
}

/// JSON Lines: each value compact on a line of its own.
pub fn jsonl<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    values.into_iter().map(|v| json(v, false)).collect()
}

/// A YAML document for `v`. Strings that YAML would read as anything but the
/// same string (`true`, `null`, `0042`, `a: b`, text with control characters)
/// are double-quoted with escapes; numbers keep their exact text.
pub fn yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => yaml_block(v, 0, &mut out),
        Value::Array(a) if !a.is_empty() => yaml_block(v, 0, &mut out),
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
    out
}

/// A non-empty mapping or sequence as block lines, each indented by `indent`.
fn yaml_block(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                out.push_str(&pad);
                out.push_str(&yaml_string(k));
                out.push(':');
                if is_block(val) {
                    out.push('\n');
                    yaml_block(val, indent + 2, out);
                } else {
                    out.push(' ');
                    out.push_str(&yaml_scalar(val));
                    out.push('\n');
                }
            }
        }
        Value::Array(a) => {
            for item in a {
                if is_block(item) {
                    // The item's block, its first line's indentation turned into "- ".
                    let mut inner = String::new();
                    yaml_block(item, indent + 2, &mut inner);
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&inner[indent + 2..]);
                } else {
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&yaml_scalar(item));
                    out.push('\n');
                }
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// Words YAML 1.1 or 1.2 reads as something other than a string.
const YAML_WORDS: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf",
];

/// `s` plain when YAML reads it back as the same string for sure (it starts
/// with a letter, holds only letters, digits, spaces and `_-./@`, does not end
/// in a space and is no YAML word), else double-quoted with escapes.
fn yaml_string(s: &str) -> String {
    let plain = s.chars().next().is_some_and(char::is_alphabetic)
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | '/' | '@'))
        && !s.ends_with(' ')
        && !YAML_WORDS.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Not printable in YAML, or read as a line break by YAML 1.1.
            c if (c as u32) < 0x20
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The columns of records of `obj`: the catalog's fields that occur, in the
/// catalog's order, then any other field in the order first seen. Records that
/// are not objects are shown in a column named `value`.
pub fn columns(obj: &str, rows: &[Value]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for r in rows {
        match r {
            Value::Object(m) => {
                for k in m.keys() {
                    if !seen.contains(k) {
                        seen.push(k.clone());
                    }
                }
            }
            _ => {
                if !seen.iter().any(|k| k == "value") {
                    seen.push("value".into());
                }
            }
        }
    }
    let Some(spec) = catalog::object(obj) else {
        return seen;
    };
    let mut cols: Vec<String> = spec
        .fields
        .iter()
        .filter(|f| seen.iter().any(|k| k == f.name))
        .map(|f| f.name.to_owned())
        .collect();
    for k in seen {
        if !cols.contains(&k) {
            cols.push(k);
        }
    }
    cols
}

/// True when `field` of `obj` holds Unix times: typed `unix_time` in the
/// catalog, or named `dt` in an object the catalog does not know.
pub fn is_time_field(obj: &str, field: &str) -> bool {
    match catalog::object(obj) {
        Some(spec) => spec
            .field(field)
            .is_some_and(|f| f.ty == FieldType::UnixTime),
        None => field == "dt",
    }
}

/// The value of column `col` in record `r`.
pub fn cell_value<'a>(r: &'a Value, col: &str) -> Option<&'a Value> {
    match r {
        Value::Object(m) => m.get(col),
        other if col == "value" => Some(other),
        _ => None,
    }
}

/// A table cell: text with control characters escaped, nested values as
/// compact JSON, `null` and missing fields empty.
fn cell_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => inert(s).into_owned(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => inert(&other.to_string()).into_owned(),
    }
}

/// A table of `rows`, and the columns left out to fit `width` (all shown when
/// `width` is `None`).
pub struct Table {
    /// The lines, each ending with a newline.
    pub text: String,
    /// Columns that did not fit, in their order.
    pub left_out: Vec<String>,
}

/// The narrowest a column is squeezed to before columns are left out.
const MIN_COLUMN: usize = 8;

/// Renders `rows` of `obj` as a table: a header of field names in capitals,
/// times of Unix-time fields in `zone` (the header names the zone), every
/// column as wide as its widest cell; over `width`, the widest columns are
/// cut (with `…`) down to [`MIN_COLUMN`], then columns are left out from the
/// right.
pub fn table(obj: &str, rows: &[Value], zone: &Zone, width: Option<usize>) -> Table {
    let cols = columns(obj, rows);
    let header: Vec<String> = cols
        .iter()
        .map(|c| {
            if is_time_field(obj, c) {
                format!("{} ({})", c.to_uppercase(), zone.name())
            } else {
                c.to_uppercase()
            }
        })
        .collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| {
                    let v = cell_value(r, c);
                    if is_time_field(obj, c) {
                        if let Some(t) = v.and_then(zone::unix_seconds).and_then(|s| zone.local(s))
                        {
                            return t;
                        }
                    }
                    cell_text(v)
                })
                .collect()
        })
        .collect();
    let natural: Vec<usize> = (0..cols.len())
        .map(|i| {
            std::iter::once(&header[i])
                .chain(body.iter().map(|r| &r[i]))
                .map(|s| s.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Times and numbers are never cut (a cut date or amount misleads); their
    // headers may be, down to MIN_COLUMN. Text is cut down to MIN_COLUMN.
    let mins: Vec<usize> = (0..cols.len())
        .map(|i| {
            let cells = body.iter().map(|r| r[i].width()).max().unwrap_or(0);
            let exact = is_time_field(obj, &cols[i])
                || rows.iter().all(|r| {
                    matches!(
                        cell_value(r, &cols[i]),
                        None | Some(Value::Null | Value::Number(_) | Value::Bool(_))
                    )
                });
            if exact {
                cells.max(header[i].width().min(MIN_COLUMN))
            } else {
                natural[i].min(MIN_COLUMN)
            }
        })
        .collect();
    let (widths, shown) = fit(&natural, &mins, width);
    let mut text = String::new();
    for line in std::iter::once(&header).chain(&body) {
        let mut l = String::new();
        for i in 0..shown {
            let c = cut(&line[i], widths[i]);
            l.push_str(&c);
            if i + 1 < shown {
                l.push_str(&" ".repeat(widths[i] - c.width() + 2));
            }
        }
        text.push_str(l.trim_end());
        text.push('\n');
    }
    Table {
        text,
        left_out: cols[shown..].to_vec(),
    }
}

/// Column widths within `width` (two spaces between columns) and how many
/// columns are shown: the widest columns are cut first, none below its
/// `mins`, then columns are left out from the right (one is always shown).
fn fit(natural: &[usize], mins: &[usize], width: Option<usize>) -> (Vec<usize>, usize) {
    let mut w = natural.to_vec();
    let Some(avail) = width else {
        let n = w.len();
        return (w, n);
    };
    let total =
        |w: &[usize], n: usize| -> usize { w[..n].iter().sum::<usize>() + 2 * n.saturating_sub(1) };
    let mut n = w.len();
    while total(&w, n) > avail {
        let widest = (0..n)
            .filter(|&i| w[i] > mins[i])
            .max_by_key(|&i| (w[i], std::cmp::Reverse(i)));
        match widest {
            Some(i) => w[i] -= 1,
            None => break,
        }
    }
    // Then leave out columns from the right, keeping at least one.
    while n > 1 && total(&w, n) > avail {
        n -= 1;
    }
    if n == 1 && w[0] > avail {
        w[0] = avail.max(1);
    }
    // Columns left out free room: give it back to the cut ones, left first.
    let mut spare = avail.saturating_sub(total(&w, n));
    for i in 0..n {
        let more = natural[i].saturating_sub(w[i]).min(spare);
        w[i] += more;
        spare -= more;
    }
    w.truncate(n);
    (w, n)
}

/// `s` cut to `width` columns, the last one a `…` when anything was cut.
fn cut(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw + 1 > width {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    out
}

/// How CSV is written for spreadsheets.
#[derive(Clone, Debug)]
pub struct Csv {
    /// The cell separator (`,`; `;` for spreadsheets in locales whose decimal
    /// mark is a comma).
    pub delimiter: char,
    /// Start the output with a UTF-8 byte order mark, so that a spreadsheet
    /// reads it as UTF-8 (Cyrillic in Excel).
    pub bom: bool,
    /// Unix-time fields as ISO 8601 in this zone; as received when `None`.
    pub zone: Option<Zone>,
    /// Cells exactly as received, formulas included (`--csv-raw-formulas`).
    pub raw_formulas: bool,
}

impl Default for Csv {
    fn default() -> Self {
        Csv {
            delimiter: ',',
            bom: false,
            zone: None,
            raw_formulas: false,
        }
    }
}

/// A `--csv-delimiter`: one ASCII character that is no letter, digit, quote
/// or line break (`,` `;` `|`, or a tab, also given as `tab` or `\t`).
pub fn delimiter(text: &str) -> crate::failure::Result<char> {
    let c = match text {
        "tab" | "\\t" | "\t" => '\t',
        _ => {
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => '"',
            }
        }
    };
    if c.is_ascii()
        && !c.is_ascii_alphanumeric()
        && !matches!(c, '"' | '\n' | '\r' | '\'')
        && (c == '\t' || !c.is_ascii_control())
    {
        return Ok(c);
    }
    Err(crate::failure::Failure::Sdk(
        runtel_client::Error::InvalidInput(format!(
            "--csv-delimiter {:?}: give one character such as , ; | or tab (not a letter, digit, \
         quote or line break)",
            inert(text)
        )),
    ))
}

impl Csv {
    /// A record with its Unix-time fields of `obj` as ISO 8601 in the zone.
    pub fn times(&self, obj: &str, rec: Map<String, Value>) -> Map<String, Value> {
        let Some(zone) = &self.zone else { return rec };
        rec.into_iter()
            .map(|(k, v)| {
                let iso = is_time_field(obj, &k)
                    .then(|| zone::unix_seconds(&v).and_then(|s| zone.iso(s)))
                    .flatten();
                (k, iso.map_or(v, Value::String))
            })
            .collect()
    }
}

/// The records of `obj` as CSV: a header of the fields in the order first
/// seen, a row per record (see [`crate::export::write_csv_row`] for cells).
pub fn csv(obj: &str, rows: &[Value], style: &Csv) -> String {
    let mut cols: Vec<String> = Vec::new();
    for r in rows {
        match r {
            Value::Object(m) => {
                for k in m.keys() {
                    if !cols.contains(k) {
                        cols.push(k.clone());
                    }
                }
            }
            _ if !cols.iter().any(|c| c == "value") => cols.push("value".into()),
            _ => {}
        }
    }
    let mut out: Vec<u8> = Vec::new();
    if style.bom {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    // Writing to a Vec cannot fail.
    let _ = crate::export::write_csv_row(
        &mut out,
        cols.iter().map(|c| Some(Value::String(c.clone()))),
        style.raw_formulas,
        style.delimiter,
    );
    for r in rows {
        let rec = match r {
            Value::Object(m) => style.times(obj, m.clone()),
            other => {
                let mut m = Map::new();
                m.insert("value".into(), other.clone());
                m
            }
        };
        let _ = crate::export::write_csv_row(
            &mut out,
            cols.iter().map(|c| rec.get(c).cloned()),
            style.raw_formulas,
            style.delimiter,
        );
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_quotes_what_would_read_otherwise() {
        let v: Value = serde_json::from_str(
            r#"{"code":200,"body":{"list":[{"id":1,"pin":"0042","ok":true,"name":"Анна Б","note":null,
                "tags":[],"m":{},"t":"yes","c":"a: b","e":"","x":"\u001b[2J","n":1000.10}],"total_count":1},
                "nested":[[1,2],[{"a":1,"b":[3]}]]}"#,
        )
        .unwrap();
        assert_eq!(
            yaml(&v),
            "code: 200
body:
  list:
    - id: 1
      pin: \"0042\"
      ok: true
      name: Анна Б
      note: null
      tags: []
      m: {}
      t: \"yes\"
      c: \"a: b\"
      e: \"\"
      x: \"\\u001b[2J\"
      \"n\": 1000.10
  total_count: 1
nested:
  - - 1
    - 2
  - - a: 1
      b:
        - 3
"
        );
        assert_eq!(yaml(&json!("true")), "\"true\"\n");
        assert_eq!(yaml(&json!([])), "[]\n");
        assert_eq!(yaml(&json!("a\u{2028}b\"\\")), "\"a\\u2028b\\\"\\\\\"\n");
    }

    #[test]
    fn table_columns_follow_the_catalog_and_fit_the_width() {
        let rows = vec![
            json!({"zzz": "extra", "src": "100", "id": 1, "dt": 1_704_067_200, "dst": "200"}),
            json!({"id": 2, "dt": "1704070800", "src": "\u{1b}]0;x", "dst": "300", "new": 5}),
        ];
        assert_eq!(
            columns("DomainCDR", &rows),
            ["id", "dt", "src", "dst", "zzz", "new"]
        );
        let t = table("DomainCDR", &rows, &Zone::parse("+01:00").unwrap(), None);
        let lines: Vec<&str> = t.text.lines().collect();
        assert_eq!(
            lines[0],
            "ID  DT (+01:00)          SRC       DST  ZZZ    NEW"
        );
        assert_eq!(lines[1], "1   2024-01-01 01:00:00  100       200  extra");
        assert_eq!(
            lines[2],
            "2   2024-01-01 02:00:00  \\x1b]0;x  300         5"
        );
        assert!(t.left_out.is_empty());
        // Narrow: the widest columns are cut first, then columns left out.
        let t = table("DomainCDR", &rows, &Zone::utc(), Some(30));
        for l in t.text.lines() {
            assert!(l.width() <= 30, "{l:?}");
        }
        assert!(!t.left_out.is_empty());
        assert!(t.text.starts_with("ID  DT (UTC)"), "{}", t.text);
        // Times are never cut: the columns after them are left out instead.
        assert!(t.text.contains("\n1   2024-01-01 00:00:00\n"), "{}", t.text);
        assert_eq!(t.left_out, ["src", "dst", "zzz", "new"]);
    }

    #[test]
    fn fitting_cuts_then_leaves_out() {
        let m8 = [8, 8, 8];
        assert_eq!(fit(&[10, 10], &m8, Some(22)), (vec![10, 10], 2));
        assert_eq!(fit(&[10, 30], &m8, Some(30)), (vec![10, 18], 2));
        assert_eq!(fit(&[20, 20, 20], &m8, Some(20)), (vec![10, 8], 2));
        assert_eq!(fit(&[40], &m8, Some(10)), (vec![10], 1));
        // A column that must not be cut keeps its width; the others give way.
        assert_eq!(fit(&[19, 30], &[19, 8], Some(30)), (vec![19, 9], 2));
        assert_eq!(fit(&[19, 30], &[19, 8], Some(25)), (vec![19], 1));
        assert_eq!(fit(&[10, 10], &m8, None), (vec![10, 10], 2));
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("Иванов", 6), "Иванов");
        assert_eq!(cut("日本語", 4), "日…");
    }

    #[test]
    fn delimiters_are_one_safe_character() {
        for (text, want) in [
            (",", ','),
            (";", ';'),
            ("|", '|'),
            ("tab", '\t'),
            ("\\t", '\t'),
            ("\t", '\t'),
        ] {
            assert_eq!(delimiter(text).unwrap(), want, "{text:?}");
        }
        for bad in ["", ";;", "a", "7", "\"", "'", "\n", "\r", "\u{1b}", "é"] {
            assert!(delimiter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn csv_rows_with_a_delimiter_a_bom_and_zoned_times() {
        let rows = vec![json!({"id": 1, "dt": 1_704_067_200, "src_name": "Ив;ан", "f": "=1+1"})];
        let style = Csv {
            delimiter: ';',
            bom: true,
            zone: Some(Zone::parse("+03:00").unwrap()),
            raw_formulas: false,
        };
        assert_eq!(
            csv("DomainCDR", &rows, &style),
            "\u{feff}id;dt;src_name;f\r\n1;2024-01-01T03:00:00+03:00;\"Ив;ан\";'=1+1\r\n"
        );
        assert_eq!(
            csv("DomainCDR", &rows, &Csv::default()),
            "id,dt,src_name,f\r\n1,1704067200,Ив;ан,'=1+1\r\n"
        );
    }
}
