//! The table of an object, from the catalog: its name, typed columns and
//! primary key; and each record checked and turned into a row of it.
//!
//! One place decides the layout, and both databases follow it: the catalog's
//! fields in the catalog's order, then `_json` (the whole record as received),
//! `_hash` (a hash of that JSON, to tell an unchanged record from an updated one
//! without reading it back) and `_synced_at` (Unix seconds of the last write).

use runtel_client::catalog::{FieldType, ObjectKind, ObjectSpec};
use runtel_client::Error as ClientError;
use serde_json::Value;

/// How a column is stored. Each database names these its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// A 64-bit integer (`int`, `unix_time`; SQLite INTEGER, PostgreSQL BIGINT).
    Int,
    /// Text (`str`, `email`).
    Text,
    /// true/false (SQLite INTEGER 0/1, PostgreSQL BOOLEAN).
    Bool,
    /// JSON (`dict`, `list`, `any`; SQLite TEXT, PostgreSQL JSONB).
    Json,
}

impl ColumnType {
    fn of(ty: FieldType) -> ColumnType {
        match ty {
            FieldType::Int | FieldType::UnixTime => ColumnType::Int,
            FieldType::Str | FieldType::Email => ColumnType::Text,
            FieldType::Bool => ColumnType::Bool,
            FieldType::Dict | FieldType::List | FieldType::Any => ColumnType::Json,
        }
    }
}

/// A typed column from a catalog field.
#[derive(Debug, Clone)]
pub struct Column {
    /// The field's (and column's) name.
    pub name: &'static str,
    /// How it is stored.
    pub ty: ColumnType,
    /// The catalog's type, for messages.
    pub field_type: FieldType,
}

/// The columns every table has after the catalog's fields.
pub const META_COLUMNS: [(&str, ColumnType); 3] = [
    ("_json", ColumnType::Json),
    ("_hash", ColumnType::Int),
    ("_synced_at", ColumnType::Int),
];

/// The table one object is copied into.
#[derive(Debug, Clone)]
pub struct Table {
    /// The object.
    pub spec: &'static ObjectSpec,
    /// The table's name: the object's name in snake case (`DomainCDR` -> `domain_cdr`).
    pub name: String,
    /// The catalog's fields as typed columns, in the catalog's order.
    pub columns: Vec<Column>,
    /// The primary key: `domain_id` and the key field for objects that have a
    /// `domain_id` (so several PBXs can share a table), else the key field.
    pub primary_key: Vec<&'static str>,
}

impl Table {
    /// The table of a catalog object. Objects need an integer key field in the
    /// catalog (all known ones have `id`).
    pub fn of(spec: &'static ObjectSpec) -> Result<Table, crate::Error> {
        let key = spec.field(spec.key).ok_or_else(|| {
            crate::Error::InvalidInput(format!(
                "{}: the catalog does not type its key field {}",
                spec.name, spec.key
            ))
        })?;
        if ColumnType::of(key.ty) != ColumnType::Int {
            return Err(crate::Error::InvalidInput(format!(
                "{}: its key field {} is not an integer: it cannot be synced by key",
                spec.name, spec.key
            )));
        }
        let columns = spec
            .fields
            .iter()
            .map(|f| Column {
                name: f.name,
                ty: ColumnType::of(f.ty),
                field_type: f.ty,
            })
            .collect();
        let primary_key = if spec.field("domain_id").is_some() && spec.key != "domain_id" {
            vec!["domain_id", spec.key]
        } else {
            vec![spec.key]
        };
        Ok(Table {
            spec,
            name: table_name(spec.name),
            columns,
            primary_key,
        })
    }

    /// Every column with its type: the catalog's, then the meta columns.
    pub fn all_columns(&self) -> Vec<(&'static str, ColumnType)> {
        self.columns
            .iter()
            .map(|c| (c.name, c.ty))
            .chain(META_COLUMNS)
            .collect()
    }

    /// True when `domain_id` is part of the primary key.
    pub fn keyed_by_domain(&self) -> bool {
        self.primary_key.len() == 2
    }

    /// The time field of a log object (`dt`), if the object is one.
    pub fn time_field(&self) -> Option<&'static str> {
        match self.spec.kind {
            ObjectKind::Log => self.spec.time_field,
            ObjectKind::Config => None,
        }
    }

    /// Checks one record of a page and turns it into a row (taking its values,
    /// so a page is not held twice). `position` is its index in the page, for
    /// the error; `domain` fills a missing `domain_id` when the table is keyed
    /// by domain.
    pub(crate) fn row(
        &self,
        record: Value,
        position: usize,
        domain: Option<i64>,
        synced_at: i64,
    ) -> Result<Row, ClientError> {
        let obj = self.spec.name;
        let bad = |what: String, path: String| {
            ClientError::unexpected_shape(obj, "list", format!("{obj}: {what}"), &path)
        };
        // The record as received, before its values are taken.
        let json = record.to_string();
        let Value::Object(mut map) = record else {
            return Err(bad(
                format!("record {position} of the page is not a JSON object"),
                format!("$.list[{position}]"),
            ));
        };
        let key = match map.get(self.spec.key).and_then(Value::as_i64) {
            Some(k) => k,
            None => {
                return Err(bad(
                    format!(
                        "record {position} of the page has no integer {} (got {})",
                        self.spec.key,
                        excerpt(map.get(self.spec.key).unwrap_or(&Value::Null))
                    ),
                    format!("$.list[{position}].{}", self.spec.key),
                ))
            }
        };
        let mut cells = Vec::with_capacity(self.columns.len() + META_COLUMNS.len());
        let mut time = None;
        for c in &self.columns {
            let v = map.remove(c.name).unwrap_or(Value::Null);
            let cell = match (c.ty, v) {
                (_, Value::Null) => Cell::Null,
                (ColumnType::Int, v) => match v.as_i64() {
                    Some(i) => Cell::Int(i),
                    None => return Err(self.wrong_type(key, position, c, &v)),
                },
                (ColumnType::Text, Value::String(s)) => Cell::Text(s),
                (ColumnType::Bool, Value::Bool(b)) => Cell::Bool(b),
                (ColumnType::Json, v) if json_fits(c.field_type, &v) => Cell::Json(v.to_string()),
                (_, v) => return Err(self.wrong_type(key, position, c, &v)),
            };
            if Some(c.name) == self.time_field() {
                match cell {
                    Cell::Int(t) => time = Some(t),
                    _ => {
                        return Err(bad(
                            format!(
                                "record {} {key} (record {position} of the page) has no {}: a \
                                 log record needs its time to be synced by time",
                                self.spec.key, c.name
                            ),
                            format!("$.list[{position}].{}", c.name),
                        ))
                    }
                }
            }
            if c.name == "domain_id" && self.keyed_by_domain() {
                if let (Cell::Null, Some(d)) = (&cell, domain) {
                    cells.push(Cell::Int(d));
                    continue;
                } else if let Cell::Null = cell {
                    cells.push(Cell::Int(0));
                    continue;
                }
            }
            cells.push(cell);
        }
        let hash = fnv1a(json.as_bytes());
        let domain_key = if self.keyed_by_domain() {
            let i = self.columns.iter().position(|c| c.name == "domain_id");
            match i.map(|i| &cells[i]) {
                Some(Cell::Int(d)) => Some(*d),
                _ => None,
            }
        } else {
            None
        };
        cells.push(Cell::Json(json));
        cells.push(Cell::Int(hash));
        cells.push(Cell::Int(synced_at));
        Ok(Row {
            key,
            domain: domain_key,
            time,
            hash,
            cells,
        })
    }

    fn wrong_type(&self, key: i64, position: usize, c: &Column, v: &Value) -> ClientError {
        let obj = self.spec.name;
        ClientError::unexpected_shape(
            obj,
            "list",
            format!(
                "{obj}: record {} {key} (record {position} of the page): field {} should be \
                 {}, got {}",
                self.spec.key,
                c.name,
                c.field_type.as_str(),
                excerpt(v)
            ),
            &format!("$.list[{position}].{}", c.name),
        )
    }
}

/// Whether a JSON value fits a JSON-stored field of this type.
fn json_fits(ty: FieldType, v: &Value) -> bool {
    match ty {
        FieldType::Dict => v.is_object(),
        FieldType::List => v.is_array(),
        _ => true,
    }
}

/// A value for a message: its JSON, cut to 60 characters.
fn excerpt(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// true/false.
    Bool(bool),
    /// JSON text.
    Json(String),
}

/// A checked record, ready to write: one cell per column of
/// [`Table::all_columns`], and what the sync needs to know of it.
#[derive(Debug, Clone)]
pub struct Row {
    /// The key field's value.
    pub key: i64,
    /// `domain_id`, when the table is keyed by domain.
    pub domain: Option<i64>,
    /// The time field's value, for log objects.
    pub time: Option<i64>,
    /// The hash of the record's JSON (also in `cells`).
    pub hash: i64,
    /// The values, in the order of [`Table::all_columns`].
    pub cells: Vec<Cell>,
}

/// FNV-1a, 64 bits: a stable hash (the same in every process and version), so a
/// record read again with the same bytes is counted unchanged.
pub(crate) fn fnv1a(bytes: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// `DomainCDR` -> `domain_cdr`, `GSPluginCDR` -> `gs_plugin_cdr`: a word starts at
/// an upper-case letter after a lower-case one or a digit, or at the last capital
/// of a run followed by a lower-case letter.
pub fn table_name(object: &str) -> String {
    let chars: Vec<char> = object.chars().collect();
    let mut out = String::with_capacity(object.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtel_client::catalog;

    #[test]
    fn table_names_are_snake_case_and_distinct() {
        assert_eq!(table_name("DomainCDR"), "domain_cdr");
        assert_eq!(table_name("GSPluginCDR"), "gs_plugin_cdr");
        assert_eq!(table_name("DomainDPEResult"), "domain_dpe_result");
        assert_eq!(table_name("User"), "user");
        let mut seen = std::collections::HashSet::new();
        for o in catalog::OBJECTS {
            assert!(seen.insert(table_name(o.name)), "{} collides", o.name);
        }
    }

    #[test]
    fn every_catalog_object_has_a_table() {
        for o in catalog::OBJECTS {
            let t = Table::of(o).unwrap();
            assert_eq!(t.primary_key.last(), Some(&o.key), "{}", o.name);
        }
    }

    #[test]
    fn a_record_of_the_wrong_type_is_named() {
        let t = Table::of(catalog::object("DomainCDR").unwrap()).unwrap();
        let rec = serde_json::json!({"id": 7, "domain_id": 1, "dt": 5, "duration": "long"});
        let e = t.row(rec, 3, None, 0).unwrap_err().to_string();
        assert!(
            e.contains("id 7") && e.contains("duration") && e.contains("\"long\""),
            "{e}"
        );
        let rec = serde_json::json!({"id": 8, "domain_id": 1});
        let e = t.row(rec, 0, None, 0).unwrap_err().to_string();
        assert!(e.contains("no dt"), "{e}");
        let ok = t
            .row(serde_json::json!({"id": 9, "dt": 1}), 0, Some(4), 0)
            .unwrap();
        assert_eq!((ok.key, ok.domain, ok.time), (9, Some(4), Some(1)));
    }
}
