//! The simulator's data: one collection per object name, with deterministic seed
//! data for log objects generated on demand instead of stored. Which objects
//! exist, their scopes, kinds and fields come from the catalog
//! (`runtel_protocol::catalog`).

use std::collections::{BTreeMap, HashMap};

use runtel_protocol::catalog::{self, FieldSpec, FieldType, ObjectKind, ObjectSpec, Scope};
use runtel_protocol::Op;
use serde_json::{Map, Value};

/// Which objects a derived list holds.
#[derive(Clone, Copy)]
enum Pick {
    Log,
    Domain,
    Platform,
}

const fn picked(o: &ObjectSpec, pick: Pick) -> bool {
    match pick {
        Pick::Log => matches!(o.kind, ObjectKind::Log),
        Pick::Domain => matches!(o.scope, Scope::Domain),
        Pick::Platform => matches!(o.scope, Scope::Platform),
    }
}

/// How many catalog objects `pick` holds.
const fn count(pick: Pick) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < catalog::OBJECTS.len() {
        if picked(&catalog::OBJECTS[i], pick) {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The names of the catalog objects `pick` holds, in catalog order (`N` from [`count`]).
const fn names<const N: usize>(pick: Pick) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut n) = (0, 0);
    while i < catalog::OBJECTS.len() {
        if picked(&catalog::OBJECTS[i], pick) {
            out[n] = catalog::OBJECTS[i].name;
            n += 1;
        }
        i += 1;
    }
    out
}

const LOGS: [&str; count(Pick::Log)] = names(Pick::Log);
const DOMAINS: [&str; count(Pick::Domain)] = names(Pick::Domain);
const PLATFORMS: [&str; count(Pick::Platform)] = names(Pick::Platform);

/// Log objects (the catalog's [`ObjectKind::Log`]): records the platform writes,
/// carrying an integer Unix time `dt`; read only through the API. Derived from the
/// catalog at compile time, in its order.
pub const LOG_OBJECTS: &[&str] = &LOGS;

/// Objects only platform operators (role types -1, -2) may touch (the catalog's
/// [`Scope::Platform`]).
pub const PLATFORM_OBJECTS: &[&str] = &PLATFORMS;

/// Objects inside a PBX (domain), configuration and logs: operators must name the
/// domain (the catalog's [`Scope::Domain`]).
pub const DOMAIN_OBJECTS: &[&str] = &DOMAINS;

/// The catalog entry of `obj`, if the API has such an object.
pub(crate) fn spec_of(obj: &str) -> Option<&'static ObjectSpec> {
    catalog::object(obj)
}

/// The Unix time of the first seeded log record (2024-01-01T00:00:00Z) when the
/// dates are pinned there with `SimConfig::seed_epoch: Some(SEED_BASE_DT)` (the
/// binary's `--seed-epoch 1704067200`), and the dates [`seeded_log_record`] gives.
/// Unpinned, seeded records end at the simulator's start instead: use
/// `Simulator::seed_dt` for the date of a record whatever the epoch.
pub const SEED_BASE_DT: i64 = 1_704_067_200;
/// Seconds between consecutive seeded log records, pinned or not.
pub const SEED_STEP_DT: i64 = 7;

/// The objects that exist, for messages: the catalog's, in its order.
pub(crate) fn known_objects() -> impl Iterator<Item = &'static str> {
    catalog::OBJECTS.iter().map(|o| o.name)
}

/// The object a misspelt name most likely meant (`DomainCdr` for `DomainCDR`):
/// the catalog's suggestion.
pub(crate) fn suggest_object(name: &str) -> Option<&'static str> {
    catalog::suggest_object(name)
}

pub(crate) fn mix(mut x: u64) -> u64 {
    // splitmix64: a fixed, well-spread function of the record id.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The `status` values a log's seeded records take: what each log speaks of.
/// Every log object of the catalog with a `status` field has its own (a test checks).
pub(crate) fn status_words(obj: &str) -> Option<[&'static str; 3]> {
    Some(match obj {
        "DomainQueueCDR" => ["answered", "abandoned", "timeout"],
        "DomainQueueMemberCDR" => ["answered", "no_answer", "busy"],
        "DomainConferenceCdr" => ["completed", "completed", "failed"],
        "DomainConferenceMemberCDR" => ["left", "left", "kicked"],
        "DomainAgentStatus" => ["Available", "On Break", "Logged Out"],
        "DomainDPEResult" => ["success", "success", "error"],
        "DomainDialerContact" => ["new", "called", "done"],
        "DomainDialerAttempt" => ["answered", "no_answer", "busy"],
        "DomainVoiceMail" => ["new", "read", "saved"],
        "DomainNotify" => ["sent", "sent", "failed"],
        "DomainCRMEvent" => ["created", "updated", "closed"],
        "DomainFax" => ["received", "sent", "failed"],
        _ => return None,
    })
}

/// One value of a seeded record. The text variants are written straight into
/// the page (no `String` per value): the big lists the benchmarks stream are
/// made of them, and the simulator shares the machine with the client.
enum Cell {
    Int(i64),
    Str(String),
    Word(&'static str),
    /// `before`, then `n` in decimal (zero-padded to `width` digits), then `after`.
    Numbered {
        before: &'static str,
        n: u64,
        width: usize,
        after: &'static str,
    },
    /// A version-4-looking UUID made of `h`.
    Uuid(u64),
    Bool(bool),
    Null,
    EmptyDict,
    EmptyList,
}

impl Cell {
    fn numbered(before: &'static str, n: u64) -> Cell {
        Cell::Numbered {
            before,
            n,
            width: 0,
            after: "",
        }
    }

    fn into_value(self) -> Value {
        match self {
            Cell::Int(n) => n.into(),
            Cell::Str(s) => s.into(),
            Cell::Word(s) => s.into(),
            text @ (Cell::Numbered { .. } | Cell::Uuid(_)) => {
                let mut out = Vec::new();
                text.write_text(&mut out);
                String::from_utf8_lossy(&out).into_owned().into()
            }
            Cell::Bool(b) => b.into(),
            Cell::Null => Value::Null,
            Cell::EmptyDict => Value::Object(Map::new()),
            Cell::EmptyList => Value::Array(Vec::new()),
        }
    }

    /// The text of a `Numbered` or `Uuid` cell: ASCII letters, digits and
    /// `-@. `, nothing JSON would escape.
    fn write_text(&self, out: &mut Vec<u8>) {
        match *self {
            Cell::Numbered {
                before,
                n,
                width,
                after,
            } => {
                out.extend_from_slice(before.as_bytes());
                let mut digits = itoa::Buffer::new();
                let digits = digits.format(n);
                out.resize(out.len() + width.saturating_sub(digits.len()), b'0');
                out.extend_from_slice(digits.as_bytes());
                out.extend_from_slice(after.as_bytes());
            }
            Cell::Uuid(h) => {
                hex(out, h >> 32, 8);
                out.push(b'-');
                hex(out, (h >> 16) & 0xffff, 4);
                out.extend_from_slice(b"-4");
                hex(out, h & 0xfff, 3);
                out.extend_from_slice(b"-a");
                hex(out, (h >> 20) & 0xfff, 3);
                out.push(b'-');
                hex(out, mix(h) & 0xffff_ffff_ffff, 12);
            }
            _ => {}
        }
    }

    fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Cell::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            Cell::Str(s) => serde_json::to_writer(&mut *out, s)?,
            Cell::Word(s) => write_plain_string(out, s),
            Cell::Numbered { .. } | Cell::Uuid(_) => {
                out.push(b'"');
                self.write_text(out);
                out.push(b'"');
            }
            Cell::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Cell::Null => out.extend_from_slice(b"null"),
            Cell::EmptyDict => out.extend_from_slice(b"{}"),
            Cell::EmptyList => out.extend_from_slice(b"[]"),
        }
        Ok(())
    }
}

/// `v` as exactly `digits` lowercase hex digits (its low bits).
fn hex(out: &mut Vec<u8>, v: u64, digits: u32) {
    for i in (0..digits).rev() {
        out.push(b"0123456789abcdef"[((v >> (4 * i)) & 0xf) as usize]);
    }
}

/// A string from the catalog or the simulator's word lists (names, fixed
/// words): quoted as is, since none holds anything JSON escapes.
fn write_plain_string(out: &mut Vec<u8>, s: &str) {
    debug_assert!(
        !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20),
        "{s:?}"
    );
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// What one seeded log record is made of: every value is a function of these, so
/// records are the same every run and only the time depends on the epoch.
struct SeedRow {
    spec: &'static ObjectSpec,
    id: i64,
    domain_id: i64,
    dt: i64,
    h: u64,
}

impl SeedRow {
    /// Record `id` of `spec`, the oldest (id 1) dated `oldest_dt`.
    fn new(spec: &'static ObjectSpec, id: i64, domain_id: i64, oldest_dt: i64) -> SeedRow {
        SeedRow {
            spec,
            id,
            domain_id,
            dt: oldest_dt + (id - 1) * SEED_STEP_DT,
            h: mix(id as u64 ^ mix(spec.name.len() as u64)),
        }
    }

    fn direction(&self) -> &'static str {
        ["inbound", "outbound", "local"][(self.h >> 8) as usize % 3]
    }

    fn disposition(&self) -> &'static str {
        ["ANSWERED", "ANSWERED", "ANSWERED", "NO ANSWER", "BUSY"][(self.h >> 12) as usize % 5]
    }

    fn extension(&self) -> i64 {
        100 + (self.h % 40) as i64
    }

    /// The call's two ends, as the direction has them.
    fn ends(&self) -> (Cell, Cell) {
        let h = self.h;
        let phone = Cell::Numbered {
            before: "7999",
            n: (h >> 24) % 10_000_000,
            width: 7,
            after: "",
        };
        let ext = Cell::numbered("", self.extension() as u64);
        match self.direction() {
            "inbound" => (phone, ext),
            "outbound" => (ext, phone),
            _ => (ext, Cell::numbered("", 100 + (h >> 40) % 40)),
        }
    }

    /// The value of field `f`: by its name for the fields seeded logs are known
    /// to have, else a plausible value of its type.
    fn cell(&self, f: &FieldSpec) -> Cell {
        let h = self.h;
        if Some(f.name) == self.spec.time_field {
            return Cell::Int(self.dt);
        }
        match f.name {
            "id" => Cell::Int(self.id),
            "domain_id" => Cell::Int(self.domain_id),
            "uuid" | "call_uuid" => Cell::Uuid(h),
            "direction" => Cell::Word(self.direction()),
            "src" => self.ends().0,
            "dst" => self.ends().1,
            "src_name" => Cell::numbered("Caller ", h % 1000),
            "duration" => Cell::Int(((h >> 16) % 900) as i64),
            "billsec" => Cell::Int(if self.disposition() == "ANSWERED" {
                ((h >> 16) % 900).saturating_sub(5) as i64
            } else {
                0
            }),
            "disposition" => Cell::Word(self.disposition()),
            "gateway" => Cell::numbered("gw", h % 3 + 1),
            "record" => Cell::Bool((h >> 50).is_multiple_of(2)),
            "agent" => Cell::numbered("", self.extension() as u64),
            "queue" => Cell::numbered("q", h % 5 + 1),
            "status" => match status_words(self.spec.name) {
                Some(words) => Cell::Word(words[(h >> 8) as usize % 3]),
                None => Cell::Word(["ok", "missed", "busy"][(h >> 8) as usize % 3]),
            },
            "wait" => Cell::Int(((h >> 16) % 120) as i64),
            _ => match f.ty {
                FieldType::Int if !f.choices.is_empty() => {
                    Cell::Int(f.choices[(h >> 4) as usize % f.choices.len()])
                }
                FieldType::Int => Cell::Int(((h >> 4) % 1000) as i64),
                FieldType::UnixTime => Cell::Int(self.dt),
                FieldType::Str => Cell::Str(format!("{}-{}", f.name, h % 1000)),
                FieldType::Email => Cell::Numbered {
                    before: "user",
                    n: h % 1000,
                    width: 0,
                    after: "@sim.runtel.local",
                },
                FieldType::Bool => Cell::Bool(h & 1 == 1),
                FieldType::Dict => Cell::EmptyDict,
                FieldType::List => Cell::EmptyList,
                FieldType::Any => Cell::Null,
            },
        }
    }

    fn to_map(&self) -> Map<String, Value> {
        self.spec
            .fields
            .iter()
            .map(|f| (f.name.to_owned(), self.cell(f).into_value()))
            .collect()
    }

    /// The record as JSON text, written straight from the cells (no `Value`).
    fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.push(b'{');
        for (i, f) in self.spec.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_plain_string(out, f.name);
            out.push(b':');
            self.cell(f).write(out)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// The seeded log record `id` of `obj` in `domain_id` as served when the dates are
/// pinned at [`SEED_BASE_DT`]: a pure function of its inputs, with the catalog's
/// fields of `obj` in its order (empty for an object that is not a catalog log).
/// For a running simulator's own dates, use `Simulator::seeded_record`.
pub fn seeded_log_record(obj: &str, id: i64, domain_id: i64) -> Map<String, Value> {
    seeded_record_at(obj, id, domain_id, SEED_BASE_DT)
}

/// Record `id` of `obj` in `domain_id`, the oldest (id 1) dated `oldest_dt`.
pub(crate) fn seeded_record_at(
    obj: &str,
    id: i64,
    domain_id: i64,
    oldest_dt: i64,
) -> Map<String, Value> {
    match spec_of(obj) {
        Some(spec) if spec.kind == ObjectKind::Log => {
            SeedRow::new(spec, id, domain_id, oldest_dt).to_map()
        }
        _ => Map::new(),
    }
}

/// Seeded configuration record `i` (1, 2, ...) of `spec`: a value for every field
/// the client may write, within the catalog's constraints, in domain 1 unless the
/// object is the platform's; and a `name` where the catalog knows no fields that
/// tell records apart.
pub(crate) fn seeded_config_record(spec: &ObjectSpec, i: i64) -> Map<String, Value> {
    let mut rec = Map::new();
    let short = spec.name.to_lowercase();
    for f in spec.fields.iter().filter(|f| !f.read_only) {
        let fit = |s: String| -> Value {
            let max = if f.max_len > 0 { f.max_len } else { usize::MAX };
            let mut s: String = s.chars().take(max).collect();
            while s.chars().count() < f.min_len {
                s.push('0');
            }
            s.into()
        };
        let v = match (f.name, f.ty) {
            ("domain_id", _) => 1.into(),
            ("login" | "email", _) => fit(format!("{short}{i}@sim.runtel.local")),
            ("password", _) => fit(format!("pw-{i}")),
            ("name", _) => fit(format!("{} {i}", spec.name)),
            // Extensions of no user: seeds do not give users numbers.
            ("user_id", _) => Value::Null,
            ("surname", _) => fit("Seeded".into()),
            ("uid", _) => fit((100 + i).to_string()),
            ("pin", _) => fit(format!("{:04}", i % 10_000)),
            ("role_id", _) => 2.into(),
            // A custom PBX role, when the choices have it.
            ("type", FieldType::Int) if f.choices.contains(&4) => 4.into(),
            ("status", FieldType::Int) if f.choices.contains(&1) => 1.into(),
            (_, FieldType::Int) => f.choices.first().copied().unwrap_or(i).into(),
            (_, FieldType::UnixTime) => SEED_BASE_DT.into(),
            (_, FieldType::Str) => fit(format!("{} {i}", f.name)),
            (_, FieldType::Email) => fit(format!("{}{i}@sim.runtel.local", f.name)),
            (_, FieldType::Bool) => false.into(),
            (_, FieldType::Dict) => Value::Object(Map::new()),
            (_, FieldType::List) => Value::Array(Vec::new()),
            (_, FieldType::Any) => Value::Null,
        };
        rec.insert(f.name.into(), v);
    }
    if spec.scope == Scope::Platform {
        rec.remove("domain_id");
    }
    if !rec.contains_key("name") && !rec.contains_key("login") && !rec.contains_key("uid") {
        rec.insert("name".into(), format!("{} {i}", spec.name).into());
    }
    if spec.scope != Scope::Platform {
        rec.entry("domain_id").or_insert(1.into());
    }
    rec
}

/// One object's records.
#[derive(Debug, Default)]
pub(crate) struct Collection {
    /// Seeded log records: ids 1..=seeded, all in `seeded_domain`, generated on read.
    seeded: i64,
    seeded_domain: i64,
    /// The `dt` of seeded record 1; the others follow every `SEED_STEP_DT`.
    seeded_oldest_dt: i64,
    /// Seeded records that were deleted or updated (updated ones move to `records`).
    seeded_gone: std::collections::HashSet<i64>,
    records: BTreeMap<i64, Map<String, Value>>,
    next_id: i64,
}

/// One condition of a `filter.field_list`.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    field: String,
    op: Op,
    value: Value,
}

/// A parsed `filter`: conditions joined by AND (`type` 0) or OR (`type` 1). The
/// `condition_type` codes are the protocol's [`Op`] codes (only 5, `>=`, is seen
/// in the field; the others are inferred).
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    conditions: Vec<Condition>,
    any: bool,
    equals: Vec<(String, Value)>,
}

impl Filter {
    /// Reads a filter's wire form, more leniently than the SDK writes it: a missing
    /// or null `field_list` is no condition, a missing `type` or `condition_type` is 0.
    pub fn parse(v: Option<&Value>) -> Result<Filter, String> {
        let Some(v) = v else {
            return Ok(Filter::default());
        };
        let list = match v.get("field_list") {
            None | Some(Value::Null) => &Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => return Err("filter.field_list must be an array".into()),
        };
        let any = match v.get("type").and_then(Value::as_i64).unwrap_or(0) {
            0 => false,
            1 => true,
            t => return Err(format!("unknown filter type {t}")),
        };
        let mut conditions = Vec::new();
        for (i, c) in list.iter().enumerate() {
            let field = c["field"]
                .as_str()
                .ok_or(format!("filter.field_list[{i}].field must be a string"))?;
            let code = c["condition_type"].as_i64().unwrap_or(0);
            let Some(op) = Op::ALL.into_iter().find(|o| o.code() == code) else {
                return Err(format!(
                    "filter.field_list[{i}]: unknown condition_type {code}"
                ));
            };
            conditions.push(Condition {
                field: field.to_owned(),
                op,
                value: c.get("value").cloned().unwrap_or(Value::Null),
            });
        }
        Ok(Filter {
            conditions,
            any,
            equals: Vec::new(),
        })
    }

    /// Adds an equality on a field (from params), always ANDed with the filter.
    pub fn and_equals(mut self, field: &str, value: Value) -> Filter {
        self.equals.push((field.to_owned(), value));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty() && self.equals.is_empty()
    }

    /// The ids `lo..=hi` this filter selects when it compares only `id` with
    /// integers (all of them, or one under OR); `None` when it holds anything
    /// else. No condition is the whole range.
    pub fn id_range(&self) -> Option<(i64, i64)> {
        if !self.equals.is_empty() || (self.any && self.conditions.len() > 1) {
            return None;
        }
        let (mut lo, mut hi) = (i64::MIN, i64::MAX);
        for c in &self.conditions {
            let v = c.value.as_i64().filter(|_| c.field == "id")?;
            match c.op {
                Op::Gt => lo = lo.max(v.checked_add(1)?),
                Op::Ge => lo = lo.max(v),
                Op::Lt => hi = hi.min(v.checked_sub(1)?),
                Op::Le => hi = hi.min(v),
                Op::Eq => (lo, hi) = (lo.max(v), hi.min(v)),
                Op::Ne | Op::Contains => return None,
            }
        }
        Some((lo, hi))
    }

    pub fn matches(&self, rec: &Map<String, Value>) -> bool {
        let equal = |(k, v): &(String, Value)| {
            rec.get(k).and_then(|r| compare(r, v)) == Some(std::cmp::Ordering::Equal)
        };
        if !self.equals.iter().all(equal) {
            return false;
        }
        if self.conditions.is_empty() {
            return true;
        }
        let test = |c: &Condition| {
            let Some(v) = rec.get(&c.field) else {
                return false;
            };
            let ord = compare(v, &c.value);
            use std::cmp::Ordering::{Equal, Greater, Less};
            match c.op {
                Op::Eq => ord == Some(Equal),
                Op::Ne => ord != Some(Equal),
                Op::Lt => ord == Some(Less),
                Op::Le => matches!(ord, Some(Less | Equal)),
                Op::Gt => ord == Some(Greater),
                Op::Ge => matches!(ord, Some(Greater | Equal)),
                Op::Contains => match (v.as_str(), c.value.as_str()) {
                    (Some(a), Some(b)) => a.to_lowercase().contains(&b.to_lowercase()),
                    _ => false,
                },
            }
        };
        if self.any {
            self.conditions.iter().any(test)
        } else {
            self.conditions.iter().all(test)
        }
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        // "101" vs 101: compare as numbers when the string is one.
        (Value::String(x), Value::Number(y)) => x.parse::<f64>().ok()?.partial_cmp(&y.as_f64()?),
        (Value::Number(x), Value::String(y)) => x.as_f64()?.partial_cmp(&y.parse::<f64>().ok()?),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(std::cmp::Ordering::Equal),
        _ => None,
    }
}

/// A page of records and the total that matched.
pub(crate) struct Page {
    pub records: Vec<Map<String, Value>>,
    pub total: u64,
}

impl Collection {
    pub fn seed_logs(&mut self, count: i64, domain_id: i64, oldest_dt: i64) {
        self.seeded = count;
        self.seeded_domain = domain_id;
        self.seeded_oldest_dt = oldest_dt;
        self.next_id = self.next_id.max(count + 1);
    }

    /// How many log records were seeded, and the `dt` of the oldest.
    pub fn seeded_logs(&self) -> (i64, i64) {
        (self.seeded, self.seeded_oldest_dt)
    }

    /// Seeded record `id` as generated, whatever later calls did to it.
    pub fn seeded_record(&self, obj: &str, id: i64) -> Option<Map<String, Value>> {
        (1..=self.seeded)
            .contains(&id)
            .then(|| seeded_record_at(obj, id, self.seeded_domain, self.seeded_oldest_dt))
    }

    /// Whether a record (stored or seeded, even deleted) holds `id`: deleted seeded
    /// ids stay taken, so an id never names two different records in one run.
    pub fn id_taken(&self, id: i64) -> bool {
        self.records.contains_key(&id) || (1..=self.seeded).contains(&id)
    }

    /// Stores a record under the id it brings; the caller checked it is free.
    pub fn insert_with_id(&mut self, id: i64, fields: Map<String, Value>) {
        self.next_id = self.next_id.max(id + 1);
        let mut rec = Map::with_capacity(fields.len() + 1);
        rec.insert("id".into(), id.into());
        rec.extend(fields.into_iter().filter(|(k, _)| k != "id"));
        self.records.insert(id, rec);
    }

    pub fn insert(&mut self, fields: Map<String, Value>) -> Map<String, Value> {
        self.next_id = self.next_id.max(1);
        let id = self.next_id;
        self.next_id += 1;
        // `id` first, as real answers list it.
        let mut rec = Map::with_capacity(fields.len() + 1);
        rec.insert("id".into(), id.into());
        rec.extend(fields.into_iter().filter(|(k, _)| k != "id"));
        self.records.insert(id, rec.clone());
        rec
    }

    pub fn get(&self, obj: &str, id: i64) -> Option<Map<String, Value>> {
        if let Some(r) = self.records.get(&id) {
            return Some(r.clone());
        }
        if self.seeded_gone.contains(&id) {
            return None;
        }
        self.seeded_record(obj, id)
    }

    pub fn update(
        &mut self,
        obj: &str,
        id: i64,
        fields: &Map<String, Value>,
    ) -> Option<Map<String, Value>> {
        let mut rec = self.get(obj, id)?;
        for (k, v) in fields {
            if k != "id" {
                rec.insert(k.clone(), v.clone());
            }
        }
        if id <= self.seeded {
            self.seeded_gone.insert(id);
        }
        self.records.insert(id, rec.clone());
        Some(rec)
    }

    pub fn delete(&mut self, id: i64) -> bool {
        if self.records.remove(&id).is_some() {
            return true;
        }
        id >= 1 && id <= self.seeded && self.seeded_gone.insert(id)
    }

    /// A page of seeded records as JSON array text, written straight from the rows
    /// (no `Value` per record), when nothing else is in scope: the big-list path the
    /// client benchmarks use, so the simulator is not their bottleneck.
    pub fn list_seeded_raw(
        &self,
        obj: &str,
        domain: Option<i64>,
        filter: &Filter,
        offset: u64,
        limit: Option<u64>,
    ) -> Option<(String, u64)> {
        let stored_in_scope = self
            .records
            .values()
            .any(|r| domain.is_none_or(|d| r.get("domain_id").and_then(Value::as_i64) == Some(d)));
        // Conditions on `id` alone (keyset paging: `id > last`) select a range of
        // the seeded ids, served as fast as no filter.
        let ids = filter.id_range();
        let plain = self.seeded > 0
            && ids.is_some()
            && self.seeded_gone.is_empty()
            && !stored_in_scope
            && domain.is_none_or(|d| d == self.seeded_domain);
        let spec = spec_of(obj).filter(|s| s.kind == ObjectKind::Log)?;
        if !plain {
            return None;
        }
        let (lo, hi) = ids?;
        let (lo, hi) = (lo.max(1), hi.min(self.seeded));
        let n = if hi >= lo { (hi - lo + 1) as u64 } else { 0 };
        let start = offset.min(n);
        let end = start.saturating_add(limit.unwrap_or(u64::MAX)).min(n);
        let mut out = Vec::with_capacity(((end - start) as usize).saturating_mul(260) + 2);
        out.push(b'[');
        for k in start..end {
            if k > start {
                out.push(b',');
            }
            SeedRow::new(
                spec,
                lo + k as i64,
                self.seeded_domain,
                self.seeded_oldest_dt,
            )
            .write(&mut out)
            .ok()?;
        }
        out.push(b']');
        String::from_utf8(out).ok().map(|s| (s, n))
    }

    pub fn len(&self) -> usize {
        self.records.len()
            + (self.seeded as usize - self.seeded_gone.len().min(self.seeded as usize))
    }

    /// Records in `domain` (all when `None`) matching `filter`, by ascending id.
    pub fn list(
        &self,
        obj: &str,
        domain: Option<i64>,
        filter: &Filter,
        offset: u64,
        limit: Option<u64>,
    ) -> Page {
        let mut page = Pager {
            offset,
            limit: limit.unwrap_or(u64::MAX),
            records: Vec::new(),
            total: 0,
        };
        let seeded_in_scope = self.seeded > 0 && domain.is_none_or(|d| d == self.seeded_domain);
        if seeded_in_scope {
            if filter.is_empty() && self.seeded_gone.is_empty() {
                // Fast path for the big seeded logs: no need to look at every record.
                let n = self.seeded as u64;
                let start = offset.min(n);
                let end = start.saturating_add(page.limit).min(n);
                for id in start + 1..=end {
                    page.records.push(seeded_record_at(
                        obj,
                        id as i64,
                        self.seeded_domain,
                        self.seeded_oldest_dt,
                    ));
                }
                page.total = n;
            } else {
                for id in (1..=self.seeded).filter(|id| !self.seeded_gone.contains(id)) {
                    let rec = seeded_record_at(obj, id, self.seeded_domain, self.seeded_oldest_dt);
                    if filter.matches(&rec) {
                        page.offer(rec);
                    }
                }
            }
        }
        for rec in self.records.values() {
            let in_domain =
                domain.is_none_or(|d| rec.get("domain_id").and_then(Value::as_i64) == Some(d));
            if in_domain && filter.matches(rec) {
                page.offer(rec.clone());
            }
        }
        Page {
            records: page.records,
            total: page.total,
        }
    }
}

/// Collects one page while counting every match.
struct Pager {
    offset: u64,
    limit: u64,
    records: Vec<Map<String, Value>>,
    total: u64,
}

impl Pager {
    fn offer(&mut self, rec: Map<String, Value>) {
        if self.total >= self.offset && (self.records.len() as u64) < self.limit {
            self.records.push(rec);
        }
        self.total += 1;
    }
}

/// Every collection, by object name.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub collections: HashMap<String, Collection>,
}

impl Store {
    pub fn collection(&mut self, obj: &str) -> &mut Collection {
        self.collections.entry(obj.to_owned()).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_log_with_a_status_has_its_own_words() {
        let mut seen = std::collections::HashSet::new();
        for o in catalog::OBJECTS
            .iter()
            .filter(|o| o.kind == ObjectKind::Log)
        {
            if o.field("status").is_some() {
                let words = status_words(o.name).unwrap_or_else(|| panic!("{}", o.name));
                seen.insert(words);
            }
        }
        assert!(seen.len() >= 8, "logs speak of different things: {seen:?}");
    }

    #[test]
    fn the_fast_path_serves_id_ranges_as_the_full_scan_does() {
        let spec = catalog::object("DomainCDR").unwrap();
        let mut c = Collection::default();
        c.seed_logs(50, 1, SEED_BASE_DT);
        let cases = [
            json!(null),
            json!({"field_list": [{"field": "id", "condition_type": 4, "value": 17}], "type": 0}),
            json!({"field_list": [{"field": "id", "condition_type": 5, "value": 3},
                                  {"field": "id", "condition_type": 2, "value": 9}], "type": 0}),
            json!({"field_list": [{"field": "id", "condition_type": 4, "value": 80}], "type": 0}),
            json!({"field_list": [{"field": "id", "condition_type": 0, "value": 50}], "type": 1}),
        ];
        for f in cases {
            let filter = Filter::parse(if f.is_null() { None } else { Some(&f) }).unwrap();
            for (offset, limit) in [(0, Some(10)), (5, Some(100)), (0, None), (40, Some(3))] {
                let (raw, total) = c
                    .list_seeded_raw(spec.name, None, &filter, offset, limit)
                    .unwrap();
                let slow = c.list(spec.name, None, &filter, offset, limit);
                let slow_records: Vec<Value> =
                    slow.records.into_iter().map(Value::Object).collect();
                assert_eq!(total, slow.total, "{f} {offset}");
                assert_eq!(
                    serde_json::from_str::<Value>(&raw).unwrap(),
                    Value::Array(slow_records)
                );
            }
        }
        // Anything but id comparisons takes the full scan.
        let dt = json!({"field_list": [{"field": "dt", "condition_type": 5, "value": 1}]});
        let filter = Filter::parse(Some(&dt)).unwrap();
        assert!(c
            .list_seeded_raw(spec.name, None, &filter, 0, None)
            .is_none());
    }

    #[test]
    fn written_and_built_seeded_records_are_the_same() {
        for o in catalog::OBJECTS
            .iter()
            .filter(|o| o.kind == ObjectKind::Log)
        {
            for id in [1, 2, 3, 4, 5, 6, 999, 123_456_789] {
                let row = SeedRow::new(o, id, 2, SEED_BASE_DT);
                let mut text = Vec::new();
                row.write(&mut text).unwrap();
                // Byte for byte what serde_json makes of the built record.
                let built = serde_json::to_string(&row.to_map()).unwrap();
                assert_eq!(String::from_utf8(text).unwrap(), built, "{} {id}", o.name);
            }
        }
    }
}
