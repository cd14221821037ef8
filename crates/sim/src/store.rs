//! The simulator's data: one collection per object name, with deterministic seed
//! data for log objects generated on demand instead of stored.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

/// Objects whose records are call or event logs, carrying an integer Unix time `dt`.
pub const LOG_OBJECTS: &[&str] = &[
    "DomainCDR",
    "DomainQueueCDR",
    "DomainQueueMemberCDR",
    "DomainConferenceCdr",
    "DomainConferenceMemberCDR",
    "DomainAgentStatus",
    "DomainCRMEvent",
    "DomainNotify",
    "DomainDPEResult",
    "DomainDialerAttempt",
];

/// Objects only platform operators (role types -1, -2) may touch.
pub const PLATFORM_OBJECTS: &[&str] = &[
    "PbxHost",
    "GSSystem",
    "GSPluginCore",
    "GSPluginCDR",
    "GSDefaults",
    "ModCallCenter",
    "ModEventSocket",
    "ModXmlCdr",
    "SystemAudioFile",
    "SystemFileStorage",
    "SystemLocalStream",
];

/// Objects inside a PBX (domain): operators must name the domain.
pub const DOMAIN_OBJECTS: &[&str] = &[
    "DomainUser",
    "DomainAgent",
    "DomainAgentStatus",
    "DomainRole",
    "DomainPermission",
    "DomainCDR",
    "DomainQueue",
    "DomainQueueCDR",
    "DomainQueueMemberCDR",
    "DomainConference",
    "DomainConferenceCdr",
    "DomainConferenceMemberCDR",
    "DomainDialPlan",
    "DomainGateway",
    "DomainSofiaProfile",
    "DomainDPEResult",
    "DomainNotify",
    "DomainVoiceMail",
    "DomainCRMEvent",
    "DomainFax",
    "DomainLocalStream",
    "DomainDialerBatch",
    "DomainDialerContact",
    "DomainDialerAttempt",
    "DomainAutoDialingBatchSchedule",
];

/// How an object is scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// `User`, `Role`: records carry a `domain_id`; domain users see their own domain.
    Tenant,
    /// `Domain*`: operators must pass `domain_id`.
    Domain,
    /// Platform configuration: operators only.
    Platform,
}

pub(crate) fn scope_of(obj: &str) -> Option<Scope> {
    if obj == "User" || obj == "Role" {
        Some(Scope::Tenant)
    } else if DOMAIN_OBJECTS.contains(&obj) {
        Some(Scope::Domain)
    } else if PLATFORM_OBJECTS.contains(&obj) {
        Some(Scope::Platform)
    } else {
        None
    }
}

/// The Unix time of the first seeded log record (2024-01-01T00:00:00Z) when the
/// dates are pinned there with `SimConfig::seed_epoch: Some(SEED_BASE_DT)` (the
/// binary's `--seed-epoch 1704067200`), and the dates [`seeded_log_record`] gives.
/// Unpinned, seeded records end at the simulator's start instead: use
/// `Simulator::seed_dt` for the date of a record whatever the epoch.
pub const SEED_BASE_DT: i64 = 1_704_067_200;
/// Seconds between consecutive seeded log records, pinned or not.
pub const SEED_STEP_DT: i64 = 7;

/// The objects that exist, for messages: tenant objects, then PBX, then platform.
pub(crate) fn known_objects() -> impl Iterator<Item = &'static str> {
    ["User", "Role"]
        .into_iter()
        .chain(DOMAIN_OBJECTS.iter().copied())
        .chain(PLATFORM_OBJECTS.iter().copied())
}

/// The object named like `name` but for case (`DomainCdr` for `DomainCDR`): the
/// API's names mix `CDR` and `Cdr`, an easy slip.
pub(crate) fn suggest_object(name: &str) -> Option<&'static str> {
    known_objects().find(|k| k.eq_ignore_ascii_case(name))
}

pub(crate) fn mix(mut x: u64) -> u64 {
    // splitmix64: a fixed, well-spread function of the record id.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A seeded call record (`DomainCDR`).
#[derive(serde::Serialize)]
struct CdrRow {
    id: i64,
    domain_id: i64,
    dt: i64,
    uuid: String,
    direction: &'static str,
    src: String,
    dst: String,
    src_name: String,
    duration: u64,
    billsec: u64,
    disposition: &'static str,
    gateway: String,
    record: bool,
}

/// A seeded record of the other log objects (queue, agent, event logs).
#[derive(serde::Serialize)]
struct LogRow {
    id: i64,
    domain_id: i64,
    dt: i64,
    call_uuid: String,
    agent: String,
    queue: String,
    status: &'static str,
    wait: u64,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum SeededRow {
    Cdr(CdrRow),
    Log(LogRow),
}

/// Record `id` of `obj`, the oldest (id 1) dated `oldest_dt`. Only `dt` depends on
/// the date, so records pinned at different epochs differ in nothing else.
fn seeded_row(obj: &str, id: i64, domain_id: i64, oldest_dt: i64) -> SeededRow {
    let h = mix(id as u64 ^ mix(obj.len() as u64));
    let dt = oldest_dt + (id - 1) * SEED_STEP_DT;
    let uuid = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 20) & 0xfff,
        mix(h) & 0xffff_ffff_ffff
    );
    let ext = 100 + (h % 40) as i64;
    if obj == "DomainCDR" {
        let direction = ["inbound", "outbound", "local"][(h >> 8) as usize % 3];
        let disposition =
            ["ANSWERED", "ANSWERED", "ANSWERED", "NO ANSWER", "BUSY"][(h >> 12) as usize % 5];
        let duration = (h >> 16) % 900;
        let billsec = if disposition == "ANSWERED" {
            duration.saturating_sub(5)
        } else {
            0
        };
        let phone = format!("7999{:07}", (h >> 24) % 10_000_000);
        let (src, dst) = match direction {
            "inbound" => (phone, ext.to_string()),
            "outbound" => (ext.to_string(), phone),
            _ => (ext.to_string(), (100 + (h >> 40) % 40).to_string()),
        };
        SeededRow::Cdr(CdrRow {
            id,
            domain_id,
            dt,
            uuid,
            direction,
            src,
            dst,
            src_name: format!("Caller {}", h % 1000),
            duration,
            billsec,
            disposition,
            gateway: format!("gw{}", h % 3 + 1),
            record: (h >> 50).is_multiple_of(2),
        })
    } else {
        SeededRow::Log(LogRow {
            id,
            domain_id,
            dt,
            call_uuid: uuid,
            agent: ext.to_string(),
            queue: format!("q{}", h % 5 + 1),
            status: ["ok", "missed", "busy"][(h >> 8) as usize % 3],
            wait: (h >> 16) % 120,
        })
    }
}

/// The seeded log record `id` of `obj` in `domain_id` as served when the dates are
/// pinned at [`SEED_BASE_DT`]: a pure function of its inputs. For a running
/// simulator's own dates, use `Simulator::seeded_record`.
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
    match serde_json::to_value(seeded_row(obj, id, domain_id, oldest_dt)) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
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
    op: i64,
    value: Value,
}

/// The operator codes the simulator understands. Only 5 (`>=`, "since") is seen in
/// the field; the others are our guess, documented in `--help`.
pub const CONDITION_TYPES: &[(i64, &str)] = &[
    (0, "="),
    (1, "!="),
    (2, "<"),
    (3, "<="),
    (4, ">"),
    (5, ">="),
    (6, "contains (strings)"),
];

/// A parsed `filter`: conditions joined by AND (`type` 0) or OR (`type` 1).
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    conditions: Vec<Condition>,
    any: bool,
    equals: Vec<(String, Value)>,
}

impl Filter {
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
            let op = c["condition_type"].as_i64().unwrap_or(0);
            if !CONDITION_TYPES.iter().any(|(k, _)| *k == op) {
                return Err(format!(
                    "filter.field_list[{i}]: unknown condition_type {op}"
                ));
            }
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
            match c.op {
                0 => ord == Some(std::cmp::Ordering::Equal),
                1 => ord != Some(std::cmp::Ordering::Equal),
                2 => ord == Some(std::cmp::Ordering::Less),
                3 => matches!(
                    ord,
                    Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
                ),
                4 => ord == Some(std::cmp::Ordering::Greater),
                5 => matches!(
                    ord,
                    Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
                ),
                6 => match (v.as_str(), c.value.as_str()) {
                    (Some(a), Some(b)) => a.to_lowercase().contains(&b.to_lowercase()),
                    _ => false,
                },
                _ => false,
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
        let plain = self.seeded > 0
            && filter.is_empty()
            && self.seeded_gone.is_empty()
            && !stored_in_scope
            && domain.is_none_or(|d| d == self.seeded_domain);
        if !plain {
            return None;
        }
        let n = self.seeded as u64;
        let start = offset.min(n);
        let end = start.saturating_add(limit.unwrap_or(u64::MAX)).min(n);
        let mut out = Vec::with_capacity(((end - start) as usize).saturating_mul(260) + 2);
        out.push(b'[');
        for id in start + 1..=end {
            if id > start + 1 {
                out.push(b',');
            }
            let row = seeded_row(obj, id as i64, self.seeded_domain, self.seeded_oldest_dt);
            serde_json::to_writer(&mut out, &row).ok()?;
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
