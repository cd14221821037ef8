//! Filters as code: the `filter` of a list call, built from conditions instead of
//! hand-written JSON.
//!
//! ```
//! use runtel_protocol::{field, Filter};
//!
//! let f = Filter::all([field("dt").ge(1_704_067_200), field("src_name").contains("Ив")]);
//! assert_eq!(
//!     f.to_json().to_string(),
//!     r#"{"field_list":[{"field":"dt","condition_type":5,"value":1704067200},{"field":"src_name","condition_type":6,"value":"Ив"}],"type":0}"#
//! );
//! ```
//!
//! The wire form is `{"field_list": [{"field", "condition_type", "value"}], "type"}`.
//! Only `condition_type` 5 ("since", `>=`) and `type` 0 are seen in the field;
//! the other codes are inferred (see [`Op`] and `docs/api-reference.md`, section 6).

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// A comparison, with its `condition_type` code on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=` (code 0, inferred).
    Eq,
    /// `!=` (code 1, inferred).
    Ne,
    /// `<` (code 2, inferred).
    Lt,
    /// `<=` (code 3, inferred).
    Le,
    /// `>` (code 4, inferred).
    Gt,
    /// `>=` (code 5, seen in the field: "since this time").
    Ge,
    /// The string contains the value (code 6, inferred).
    Contains,
}

impl Op {
    /// Every operator, in code order.
    pub const ALL: [Op; 7] = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Contains];

    /// The `condition_type` sent on the wire.
    pub fn code(self) -> i64 {
        match self {
            Op::Eq => 0,
            Op::Ne => 1,
            Op::Lt => 2,
            Op::Le => 3,
            Op::Gt => 4,
            Op::Ge => 5,
            Op::Contains => 6,
        }
    }

    /// The operator as people write it: `=`, `!=`, `<`, `<=`, `>`, `>=`, `~`.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "~",
        }
    }

    /// Its name: `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `contains`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Contains => "contains",
        }
    }

    /// True for the one code seen on live servers (5); the others are inferred.
    pub fn seen_in_the_field(self) -> bool {
        self == Op::Ge
    }

    /// Reads a symbol (`>=`, `==` too) or a name (`ge`, `contains`).
    pub fn parse(s: &str) -> Result<Op> {
        let s = s.trim();
        let op = match s {
            "=" | "==" => Op::Eq,
            "!=" | "<>" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "~" => Op::Contains,
            _ => match Op::ALL
                .into_iter()
                .find(|o| o.name().eq_ignore_ascii_case(s))
            {
                Some(o) => o,
                None => {
                    return Err(Error::InvalidInput(format!(
                        "unknown filter operator {s:?}; use one of = != < <= > >= ~ \
                         (or eq ne lt le gt ge contains)"
                    )))
                }
            },
        };
        Ok(op)
    }
}

/// One condition: a field, an operator, a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The field's name.
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// The value, as JSON.
    pub value: Value,
}

impl Condition {
    /// The condition's wire form.
    pub fn to_json(&self) -> Value {
        json!({"field": self.field, "condition_type": self.op.code(), "value": self.value})
    }
}

/// A field to compare: `field("dt").ge(t)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef(String);

/// Starts a condition on `name`.
pub fn field(name: &str) -> FieldRef {
    FieldRef(name.to_owned())
}

impl FieldRef {
    fn with(self, op: Op, value: impl Into<Value>) -> Condition {
        Condition {
            field: self.0,
            op,
            value: value.into(),
        }
    }
    /// `field = value`.
    pub fn eq(self, value: impl Into<Value>) -> Condition {
        self.with(Op::Eq, value)
    }
    /// `field != value`.
    pub fn ne(self, value: impl Into<Value>) -> Condition {
        self.with(Op::Ne, value)
    }
    /// `field < value`.
    pub fn lt(self, value: impl Into<Value>) -> Condition {
        self.with(Op::Lt, value)
    }
    /// `field <= value`.
    pub fn le(self, value: impl Into<Value>) -> Condition {
        self.with(Op::Le, value)
    }
    /// `field > value`.
    pub fn gt(self, value: impl Into<Value>) -> Condition {
        self.with(Op::Gt, value)
    }
    /// `field >= value` (for `dt`: "since").
    pub fn ge(self, value: impl Into<Value>) -> Condition {
        self.with(Op::Ge, value)
    }
    /// The string field contains `value`.
    pub fn contains(self, value: impl Into<Value>) -> Condition {
        self.with(Op::Contains, value)
    }
    /// `field OP value` with the operator chosen at run time.
    pub fn op(self, op: Op, value: impl Into<Value>) -> Condition {
        self.with(op, value)
    }
}

/// Conditions joined by AND (`type` 0) or OR (`type` 1, inferred).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The conditions.
    pub conditions: Vec<Condition>,
    /// True: any condition may hold (OR); false: all must (AND).
    pub any: bool,
}

impl Filter {
    /// All of these conditions must hold.
    pub fn all(conditions: impl IntoIterator<Item = Condition>) -> Filter {
        Filter {
            conditions: conditions.into_iter().collect(),
            any: false,
        }
    }

    /// Any of these conditions may hold.
    pub fn any(conditions: impl IntoIterator<Item = Condition>) -> Filter {
        Filter {
            conditions: conditions.into_iter().collect(),
            any: true,
        }
    }

    /// Adds one condition.
    pub fn and(mut self, condition: Condition) -> Filter {
        self.conditions.push(condition);
        self
    }

    /// The wire form.
    pub fn to_json(&self) -> Value {
        json!({
            "field_list": self.conditions.iter().map(Condition::to_json).collect::<Vec<_>>(),
            "type": i64::from(self.any),
        })
    }

    /// Reads a filter in its wire form (what `to_json` writes).
    pub fn from_json(v: &Value) -> Result<Filter> {
        let bad = |what: &str| Error::InvalidInput(format!("filter: {what}"));
        let list = v
            .get("field_list")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("`field_list` must be a list"))?;
        let any = match v.get("type").map(|t| t.as_i64()) {
            None | Some(Some(0)) => false,
            Some(Some(1)) => true,
            _ => return Err(bad("`type` must be 0 (AND) or 1 (OR)")),
        };
        let conditions = list
            .iter()
            .map(|c| {
                let field = c
                    .get("field")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("each condition needs a `field` string"))?;
                let code = c
                    .get("condition_type")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| bad("each condition needs a `condition_type` number"))?;
                let op = Op::ALL
                    .into_iter()
                    .find(|o| o.code() == code)
                    .ok_or_else(|| bad(&format!("unknown condition_type {code}")))?;
                Ok(Condition {
                    field: field.to_owned(),
                    op,
                    value: c.get("value").cloned().unwrap_or(Value::Null),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Filter { conditions, any })
    }

    /// Reads one condition as people type it: `dt>=1704067200`, `name~Ив`,
    /// `status!=1`. The value is JSON when it parses as JSON (numbers, `true`,
    /// quoted strings), else the text itself.
    pub fn parse_condition(text: &str) -> Result<Condition> {
        // The operator is the first operator character in the text (the field
        // name has none), read as the longest symbol starting there: `a=b~c`
        // compares `a` with `b~c`, `dt>=5` is `>=` and not `>`.
        const SYMBOLS: [&str; 9] = ["!=", "<>", "<=", ">=", "==", "=", "<", ">", "~"];
        let unreadable = || {
            Error::InvalidInput(format!(
                "cannot read the condition {text:?}: write FIELD OP VALUE with OP one of \
                 = != < <= > >= ~ (e.g. dt>=1704067200, name~Anna)"
            ))
        };
        let at = text
            .find(['!', '<', '>', '=', '~'])
            .ok_or_else(unreadable)?;
        let symbol = SYMBOLS
            .iter()
            .find(|s| text[at..].starts_with(**s))
            .ok_or_else(unreadable)?;
        let name = text[..at].trim();
        if name.is_empty() {
            return Err(unreadable());
        }
        let raw = text[at + symbol.len()..].trim();
        let value =
            serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.into()));
        Ok(field(name).op(Op::parse(symbol)?, value))
    }
}

impl From<Filter> for Value {
    fn from(f: Filter) -> Value {
        f.to_json()
    }
}

impl From<Condition> for Filter {
    fn from(c: Condition) -> Filter {
        Filter::all([c])
    }
}
