//! Paging through a list action with memory bounded by one page.
//!
//! The paging rules live in [`Pager`], which does no I/O: it names the call for
//! the next page and takes the answer. [`Records`] drives it over the blocking
//! [`Client`]; the async client's record stream drives the same `Pager`.
//! [`Records`] fetches the next page on a helper thread while the caller reads
//! the current one (see [`crate::prefetch`]).

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use runtel_protocol::{is_integer_as_written, Call, Error, Expected, Limits, Response};
use serde_json::Value;

use crate::client::{Client, Decoder};
use crate::prefetch::Ahead;

/// A record as the [`Pager`] handles it: it only needs the record's `id`, to
/// drop records repeated across a page boundary and to page by key. Records
/// are `serde_json::Value`s by default; [`Client::records_as`] pages typed
/// records, and a front end may page its own objects (the Python module pages
/// Python dicts) through [`Client::records_decoded`].
pub trait PagedRecord {
    /// What the iterator yields for this record.
    type Item;
    /// The `id` as ids are compared: a string as it is, any other JSON value
    /// as its JSON text (`5` and `"5"` are the same record); `None` when the
    /// record has no `id` or it is null.
    fn id_text(&self) -> Option<Cow<'_, str>>;
    /// The `id` when it is a JSON integer that fits an `i64` (paging by key).
    fn id_int(&self) -> Option<i64>;
    /// The record as the iterator yields it.
    fn into_item(self) -> Self::Item;
}

impl PagedRecord for Value {
    type Item = Value;

    fn id_text(&self) -> Option<Cow<'_, str>> {
        match self.get("id")? {
            Value::Null => None,
            Value::String(s) => Some(Cow::Borrowed(s)),
            other => Some(Cow::Owned(other.to_string())),
        }
    }

    fn id_int(&self) -> Option<i64> {
        self.get("id").and_then(Value::as_i64)
    }

    fn into_item(self) -> Value {
        self
    }
}

/// A record's `id` as it came in the JSON, for record types that read it once
/// when decoded ([`Client::records_as`]'s typed records, the Python module's
/// dicts): an integer that fits an `i64`, or the text ids are compared by (a
/// string as it is, any other JSON value as its JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordId {
    /// A JSON integer that fits an `i64`.
    Int(i64),
    /// Any other id, as its text.
    Text(String),
}

impl RecordId {
    /// The id of a JSON `id` value; `None` for `null`.
    pub fn from_json(id: Value) -> Option<RecordId> {
        match id {
            Value::Null => None,
            Value::Number(n) if n.as_i64().is_some() => n.as_i64().map(RecordId::Int),
            Value::String(s) => Some(RecordId::Text(s)),
            other => Some(RecordId::Text(other.to_string())),
        }
    }

    /// The id as [`PagedRecord::id_text`] gives it.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            RecordId::Int(n) => Cow::Owned(n.to_string()),
            RecordId::Text(s) => Cow::Borrowed(s),
        }
    }

    /// The id as [`PagedRecord::id_int`] gives it.
    pub fn int(&self) -> Option<i64> {
        match self {
            RecordId::Int(n) => Some(*n),
            RecordId::Text(_) => None,
        }
    }
}

/// The ids of one page, for telling repeated records apart. Hashed with
/// foldhash (seeded per process, several times cheaper than the default
/// SipHash for an integer), seeded per process, so that a hostile server
/// cannot choose ids that collide in advance.
pub(crate) type IdSet = HashSet<IdKey, foldhash::fast::RandomState>;

/// A record's `id` as the pager compares ids, without allocating for the
/// usual integer ids: a string holding an integer's digits is that integer (`5`
/// and `"5"` are one record), any other id is its text (see
/// [`PagedRecord::id_text`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum IdKey {
    Int(i64),
    Text(String),
}

impl IdKey {
    /// The key of a record, if it has an `id`.
    pub(crate) fn of<R: PagedRecord>(record: &R) -> Option<IdKey> {
        match record.id_int() {
            Some(n) => Some(IdKey::Int(n)),
            None => record.id_text().map(IdKey::from_text),
        }
    }

    /// The key of an id given as text.
    pub(crate) fn from_text(text: Cow<'_, str>) -> IdKey {
        match text.parse::<i64>() {
            Ok(n) if is_integer_as_written(&text) => IdKey::Int(n),
            _ => IdKey::Text(text.into_owned()),
        }
    }
}

/// One answer of a list action as the [`Pager`] takes it: the records, in
/// order, and the few top-level fields paging reads.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordsPage<R> {
    /// The records of `list` (or `body.list`, or `body` as an array).
    pub records: Vec<R>,
    /// The `total_count` announced, if any.
    pub total_count: Option<u64>,
    /// The answer's `notifies`.
    pub notifies: Vec<Value>,
    /// What tells this page from the previous one when the server ignores
    /// `offset` and sends the same page again: equal pages must give equal
    /// fingerprints (see [`RecordsPage::fingerprint_of`]).
    pub fingerprint: u64,
}

impl RecordsPage<Value> {
    /// The page of a [`Response`].
    pub fn from_response(resp: Response) -> RecordsPage<Value> {
        let total_count = resp.total_count();
        let notifies = resp.notifies().to_vec();
        let records = resp.into_records();
        let fingerprint = RecordsPage::<Value>::fingerprint_of(
            records.len(),
            records.first().map(Value::to_string).as_deref(),
            records.last().map(Value::to_string).as_deref(),
        );
        RecordsPage {
            records,
            total_count,
            notifies,
            fingerprint,
        }
    }
}

impl<R> RecordsPage<R> {
    /// A page's fingerprint from its length and the JSON text of its first and
    /// last records: a cheap way to notice the same page twice in a row.
    pub fn fingerprint_of(len: usize, first: Option<&str>, last: Option<&str>) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        len.hash(&mut h);
        first.hash(&mut h);
        last.hash(&mut h);
        h.finish()
    }
}

/// Decodes list answers into [`RecordsPage`]s of `Value` records: the
/// default decoder of [`Client::records`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ValuePageDecoder;

impl Decoder for ValuePageDecoder {
    type Output = RecordsPage<Value>;
    fn decode(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
    ) -> Result<RecordsPage<Value>, Error> {
        crate::client::ResponseDecoder
            .decode(expected, status, body, limits)
            .map(RecordsPage::from_response)
    }
}

/// The decoder a [`Records`] decodes its pages with, on the caller's thread
/// (the helper fetching ahead only checks pages).
pub(crate) type PageDecoderHandle<R> = Arc<dyn Decoder<Output = RecordsPage<R>> + Send + Sync>;

/// An iterator over every record of a list action, over the blocking client:
/// a [`Pager`] (see there for the paging rules) driven with the client's call
/// path. Records are `Value`s, typed records ([`Client::records_as`]) or a
/// front end's own ([`Client::records_decoded`]). It yields `Err` at most once,
/// then ends.
///
/// Once the caller comes back for the second record of a page, a helper thread
/// fetches the pages after it: at most one page
/// ahead, so memory stays bounded by two pages, each fetched through the same
/// call path as any call (reads are retried as usual; an error is yielded
/// where that page would start) and decoded on the caller's thread. In offset
/// paging the request for the next page leaves as soon as a page is handed
/// over, before it is decoded. Dropping the iterator, or its list ending,
/// leaves at most one request to finish (within the client's timeout); the
/// helper then ends. A forked child never waits for a parent's thread: it
/// fetches the page itself. [`Records::prefetch`] turns this off.
pub struct Records<R: PagedRecord = Value> {
    client: Client,
    pager: Pager<R>,
    decoder: PageDecoderHandle<R>,
    prefetch: bool,
    /// The next page's call, to start fetching at the next `next()`.
    upcoming: Option<Call>,
    ahead: Option<Ahead>,
}

impl<R: PagedRecord> std::fmt::Debug for Records<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.pager.fmt(f)
    }
}

/// What [`Records::wait_ahead`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AheadWait {
    /// The page fetched ahead is in: [`Records::next_if_ready`] takes it.
    Arrived,
    /// The helper is still fetching it.
    Pending,
    /// Nothing to wait for: records of the current page are still buffered,
    /// or no page is being fetched ahead ([`Iterator::next`] fetches it).
    Nothing,
}

/// What a [`Pager`] wants next.
#[derive(Debug)]
pub enum PageStep<R = Value> {
    /// The next record.
    Record(R),
    /// Send this call and hand its answer to [`Pager::take_page`] (or its
    /// error to [`Pager::fail`]).
    Fetch(Call),
    /// The next page's call cannot be built: yield this error; the list is over.
    Failed(Error),
    /// The list is over.
    Done,
}

impl<R: PagedRecord + Send + 'static> Records<R> {
    pub(crate) fn new(
        client: Client,
        obj: &str,
        params: Value,
        page_size: u64,
        decoder: PageDecoderHandle<R>,
    ) -> Result<Records<R>, Error> {
        Ok(Records {
            client,
            pager: Pager::new(obj, params, page_size)?,
            decoder,
            prefetch: true,
            upcoming: None,
            ahead: None,
        })
    }

    /// Whether to fetch the next page while the current one is read (on by
    /// default). Off, each page is fetched when the first of its records is
    /// asked for, on the caller's thread.
    pub fn prefetch(mut self, on: bool) -> Records<R> {
        self.prefetch = on;
        if !on {
            self.upcoming = None;
            self.ahead = None;
        }
        self
    }

    /// Uses `list_with_detail` (or another list-like action) instead of `list`.
    pub fn action(mut self, action: &str) -> Result<Records<R>, Error> {
        self.pager = self.pager.action(action)?;
        Ok(self)
    }

    /// Sends this `filter` with every page: a [`runtel_protocol::Filter`] built
    /// from conditions, or the wire JSON (top level, passed through).
    pub fn filter(mut self, filter: impl Into<Value>) -> Result<Records<R>, Error> {
        self.pager = self.pager.filter(filter)?;
        Ok(self)
    }

    /// Starts at this offset (to resume an interrupted export).
    pub fn starting_at(mut self, offset: u64) -> Records<R> {
        self.pager = self.pager.starting_at(offset);
        self
    }

    /// Pages by `id` instead of offset (see [`Pager::consistent`]).
    pub fn consistent(mut self) -> Result<Records<R>, Error> {
        self.pager = self.pager.consistent()?;
        Ok(self)
    }

    /// The paging state: counts, shortfall, drift, notifies (see [`Pager`]).
    pub fn pager(&self) -> &Pager<R> {
        &self.pager
    }

    /// The `total_count` of the last page, once one was fetched.
    pub fn total_count(&self) -> Option<u64> {
        self.pager.total_count()
    }

    /// The offset of the next record this iterator will yield.
    pub fn position(&self) -> u64 {
        self.pager.position()
    }

    /// Records of the current page not yet yielded.
    pub fn buffered(&self) -> usize {
        self.pager.buffered()
    }

    /// Pages asked for so far.
    pub fn pages_fetched(&self) -> u64 {
        self.pager.pages_fetched()
    }

    /// See [`Pager::shortfall`].
    pub fn shortfall(&self) -> Option<u64> {
        self.pager.shortfall()
    }

    /// See [`Pager::duplicates_dropped`].
    pub fn duplicates_dropped(&self) -> u64 {
        self.pager.duplicates_dropped()
    }

    /// See [`Pager::total_count_drift`].
    pub fn total_count_drift(&self) -> Option<(u64, u64)> {
        self.pager.total_count_drift()
    }

    /// See [`Pager::notifies`].
    pub fn notifies(&self) -> &[Value] {
        self.pager.notifies()
    }

    /// See [`Pager::server_page_size`].
    pub fn server_page_size(&self) -> Option<u64> {
        self.pager.server_page_size()
    }
}

impl<R: PagedRecord + Send + 'static> Iterator for Records<R> {
    type Item = Result<R::Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.advance(true).flatten()
    }
}

impl<R: PagedRecord + Send + 'static> Records<R> {
    /// The next item if it is at hand: a record of the page being read, the
    /// end, or the first record of a page the helper has already fetched
    /// (decoding it is the only work). `None` when getting it would wait for
    /// the network; [`Iterator::next`] then waits. For front ends that wait
    /// elsewhere than the caller's thread (Python hands network waits to a
    /// worker) but decode on it.
    pub fn next_if_ready(&mut self) -> Option<Option<Result<R::Item, Error>>> {
        self.advance(false)
    }

    /// Waits at most `timeout` for the page the helper is fetching ahead,
    /// without taking it (`next_if_ready` then does). For front ends that wait
    /// in slices (Python runs its signal handlers between them); interrupting
    /// this wait loses nothing. Only once the page being read is used up:
    /// before, it answers `Nothing` at once (taking the next page early would
    /// let the helper fetch a third).
    pub fn wait_ahead(&mut self, timeout: std::time::Duration) -> AheadWait {
        if self.pager.buffered() > 0 {
            return AheadWait::Nothing;
        }
        match self.ahead.as_mut() {
            Some(ahead) if ahead.is_live() => match ahead.wait(timeout) {
                true if ahead.has_received() => AheadWait::Arrived,
                true => AheadWait::Nothing,
                false => AheadWait::Pending,
            },
            _ => AheadWait::Nothing,
        }
    }

    /// One step of the iterator; with `may_wait` false, `None` instead of
    /// waiting for a page.
    fn advance(&mut self, may_wait: bool) -> Option<Option<Result<R::Item, Error>>> {
        // The caller came back for more of the page just fetched: fetch ahead
        // from the next one on. (Not on the page's first record: a caller that
        // stops there, or changes something on the server, costs no request.)
        if let Some(call) = self.upcoming.take() {
            let page_size = self.pager.keyset.is_none().then_some(self.pager.page_size);
            let previous_ids = self.pager.previous_ids.clone();
            self.ahead = Some(Ahead::start(&self.client, call, page_size, previous_ids));
        }
        loop {
            match self.pager.step() {
                PageStep::Record(r) => return Some(Some(Ok(r.into_item()))),
                // The list is over: a helper that asked past its end must not
                // wait (holding a page) for as long as the iterator is kept.
                PageStep::Failed(e) => {
                    self.ahead = None;
                    return Some(Some(Err(e)));
                }
                PageStep::Done => {
                    self.ahead = None;
                    return Some(None);
                }
                PageStep::Fetch(call) => {
                    let fetched = match self.ahead.as_mut() {
                        Some(ahead) if may_wait => ahead.take(&call),
                        Some(ahead) => ahead.take_ready(&call)?,
                        None => None,
                    };
                    if !self.ahead.as_ref().is_some_and(Ahead::is_live) {
                        self.ahead = None;
                    }
                    let answer = match fetched {
                        Some(page) => {
                            page.and_then(|p| p.decode(&self.client, &call, &self.decoder))
                        }
                        None if may_wait => self.client.call_decoded(&call, &*self.decoder),
                        // Fetching it here would wait.
                        None => return None,
                    };
                    if let Err(e) = answer.and_then(|page| self.pager.take_records(page)) {
                        self.pager.fail();
                        self.ahead = None;
                        return Some(Some(Err(e)));
                    }
                    if self.prefetch && self.ahead.is_none() {
                        self.upcoming = self.pager.upcoming_call();
                    }
                }
            }
        }
    }
}

impl<R: PagedRecord + Send + 'static> std::iter::FusedIterator for Records<R> {}

/// The paging of a list action, without I/O: it asks for `page_size` records at
/// a time (top-level `limit`/`offset`) through [`Pager::step`], and takes each
/// answer with [`Pager::take_page`]. Every front end pages with it.
///
/// When it stops, so that a server with its own limits loses nothing:
/// - an empty page always ends the list;
/// - a short page (fewer records than asked) ends it only when `total_count` is
///   reached; below it, the short page is taken as the server's own page size
///   (a server that caps `limit`) and paging goes on. Without `total_count`, the
///   first short page sets that size and the list ends at the next page shorter
///   than it;
/// - a full page never ends it, even at `total_count` (a stale count): the next
///   page is asked for.
///
/// A server that ignores `offset` sends the same page again: that is detected
/// and reported as a `protocol` error instead of repeating records forever.
/// When the list ends below the last `total_count` announced,
/// [`Records::shortfall`] says by how much (and a warning is logged).
///
/// Offset paging is what the API offers, and records inserted or deleted while
/// paging shift pages. What this iterator does about it:
/// - a record whose `id` was on the previous page is not yielded again (a list
///   that gains records at its head while you page repeats records at page
///   boundaries): [`Records::duplicates_dropped`] counts them;
/// - a `total_count` that changes between pages is logged as a warning and
///   reported by [`Records::total_count_drift`]: records may have been skipped;
/// - [`Records::consistent`] pages by `id` instead (`id > last`), which neither
///   skips nor repeats while records are added or deleted, if the server returns
///   records sorted by `id` (checked on every page: a page out of order is an
///   error, not a silent skip).
pub struct Pager<R = Value> {
    call: Call,
    page_size: u64,
    offset: u64,
    page: VecDeque<R>,
    total_count: Option<u64>,
    done: bool,
    pages_fetched: u64,
    /// The page size the server turned out to use, when smaller than asked.
    server_page_size: Option<u64>,
    /// A fingerprint of the last page, to notice a server that ignores `offset`.
    last_page: Option<u64>,
    shortfall: Option<u64>,
    /// The `id`s of the previous page, to drop repeats across the boundary.
    previous_ids: IdSet,
    duplicates_dropped: u64,
    first_total: Option<u64>,
    notifies: Vec<Value>,
    /// Keyset paging: the last `id` yielded, once `consistent()` was asked for.
    keyset: Option<Option<i64>>,
}

impl<R: PagedRecord> std::fmt::Debug for Pager<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("obj", &self.call.obj())
            .field("action", &self.call.action())
            .field("page_size", &self.page_size)
            .field("position", &self.position())
            .field("total_count", &self.total_count)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<R: PagedRecord> Pager<R> {
    /// Paging through `obj`'s `list` with `params`, `page_size` records a page.
    pub fn new(obj: &str, params: Value, page_size: u64) -> Result<Pager<R>, Error> {
        if page_size == 0 {
            return Err(Error::InvalidInput("page_size must be at least 1".into()));
        }
        Ok(Pager {
            call: Call::new(obj, "list", params)?,
            page_size,
            offset: 0,
            page: VecDeque::new(),
            total_count: None,
            done: false,
            pages_fetched: 0,
            server_page_size: None,
            last_page: None,
            shortfall: None,
            previous_ids: Default::default(),
            duplicates_dropped: 0,
            first_total: None,
            notifies: Vec::new(),
            keyset: None,
        })
    }

    /// Uses `list_with_detail` (or another list-like action) instead of `list`.
    pub fn action(mut self, action: &str) -> Result<Pager<R>, Error> {
        self.call = Call::new(
            self.call.obj(),
            action,
            Value::Object(self.call.params().clone()),
        )?
        .filter(self.call.get_filter().cloned().unwrap_or(Value::Null))?;
        Ok(self)
    }

    /// Sends this `filter` with every page: a [`runtel_protocol::Filter`] built
    /// from conditions, or the wire JSON (top level, passed through).
    pub fn filter(mut self, filter: impl Into<Value>) -> Result<Pager<R>, Error> {
        self.call = self.call.filter(filter.into())?;
        Ok(self)
    }

    /// Starts at this offset (to resume an interrupted export).
    pub fn starting_at(mut self, offset: u64) -> Pager<R> {
        self.offset = offset;
        self
    }

    /// The `total_count` of the last page, once one was fetched.
    pub fn total_count(&self) -> Option<u64> {
        self.total_count
    }

    /// The offset of the next record this iterator will yield.
    pub fn position(&self) -> u64 {
        self.offset - self.page.len() as u64
    }

    /// Records of the current page not yet yielded; 0 right after the last record of
    /// a page, which is where an export can checkpoint.
    pub fn buffered(&self) -> usize {
        self.page.len()
    }

    /// Pages fetched so far.
    pub fn pages_fetched(&self) -> u64 {
        self.pages_fetched
    }

    /// Once the iterator has ended: how many records short of the last
    /// `total_count` it stopped (`None` when it reached it, or no count was sent).
    /// An export should treat `Some` as incomplete.
    pub fn shortfall(&self) -> Option<u64> {
        self.shortfall
    }

    /// Records not yielded because their `id` was already on the previous page
    /// (the list gained records at its head while paging).
    pub fn duplicates_dropped(&self) -> u64 {
        self.duplicates_dropped
    }

    /// The first and the latest `total_count`, when they differ: records were
    /// added or deleted while paging, and offset paging may have skipped some.
    /// Use [`Records::consistent`] where the server allows it.
    pub fn total_count_drift(&self) -> Option<(u64, u64)> {
        match (self.first_total, self.total_count) {
            (Some(a), Some(b)) if a != b => Some((a, b)),
            _ => None,
        }
    }

    /// The `notifies` of every page so far (each distinct message once), such as
    /// a low-balance notice: messages for the user that came with the data.
    pub fn notifies(&self) -> &[Value] {
        &self.notifies
    }

    /// Pages by `id` instead of offset: each page asks for `id > last` (added
    /// to the filter with AND) from offset 0, so records added or deleted while
    /// paging neither shift nor repeat records. The trade-offs: the server must
    /// return records sorted by ascending `id` (every page is checked; a page out
    /// of order is a `protocol` error), the records must have an `id`, a filter
    /// that joins its conditions with OR (`type` 1) cannot be combined, and
    /// resuming by offset ([`Records::starting_at`]) does not apply.
    pub fn consistent(mut self) -> Result<Pager<R>, Error> {
        if let Some(Value::Object(f)) = self.call.get_filter() {
            if f.get("type").and_then(Value::as_i64).unwrap_or(0) != 0 {
                return Err(Error::InvalidInput(
                    "consistent paging adds `id > last` with AND; a filter whose conditions \
                     are joined with OR (type 1) cannot take it"
                        .into(),
                ));
            }
        }
        self.keyset = Some(None);
        Ok(self)
    }

    /// The page size the server turned out to use, when it sent fewer records
    /// than asked while more were announced.
    pub fn server_page_size(&self) -> Option<u64> {
        self.server_page_size
    }

    /// The call [`Pager::step`] will ask for once the current page is read,
    /// `None` if the list ends there: what a front end may fetch ahead.
    pub fn upcoming_call(&self) -> Option<Call> {
        if self.done {
            return None;
        }
        match &self.keyset {
            None => Some(self.call.clone().limit(self.page_size).offset(self.offset)),
            Some(last) => self.keyset_call(*last).ok(),
        }
    }

    /// The next record, or the call for the next page, or the end.
    pub fn step(&mut self) -> PageStep<R> {
        if let Some(r) = self.page.pop_front() {
            return PageStep::Record(r);
        }
        // A page whose records were all repeats yields nothing: ask for the next
        // one rather than end early (the list ends only when `done`).
        if self.done {
            return PageStep::Done;
        }
        let call = match &self.keyset {
            None => Ok(self.call.clone().limit(self.page_size).offset(self.offset)),
            Some(last) => self.keyset_call(*last),
        };
        match call {
            Ok(call) => PageStep::Fetch(call),
            Err(e) => {
                self.fail();
                PageStep::Failed(e)
            }
        }
    }

    /// Ends the list after an error (a failed call, or one from
    /// [`Pager::take_page`]): the error is yielded once, then nothing.
    pub fn fail(&mut self) {
        self.done = true;
        self.page.clear();
    }

    /// Takes the answer to the last [`PageStep::Fetch`], decoded into a page;
    /// an error ends the list (call [`Pager::fail`]).
    pub fn take_records(&mut self, page: RecordsPage<R>) -> Result<(), Error> {
        self.pages_fetched += 1;
        for n in page.notifies {
            if !self.notifies.contains(&n) {
                self.notifies.push(n);
            }
        }
        let total = page.total_count;
        // In keyset mode the count is what remains past the last id: it shrinks.
        if let (Some(before), Some(now), None) = (self.total_count, total, &self.keyset) {
            if before != now {
                log::warn!(
                    "{}.{}: total_count changed from {before} to {now} while paging: \
                     records were added or deleted, and offset paging may skip some",
                    self.call.obj(),
                    self.call.action()
                );
            }
        }
        if self.keyset.is_none() {
            self.first_total = self.first_total.or(total);
        }
        self.total_count = total;
        let mut records = page.records;
        let n = records.len() as u64;
        if n > 0 && self.keyset.is_none() {
            let print = page.fingerprint;
            if self.last_page == Some(print) {
                return Err(self.repeated_page_error());
            }
            self.last_page = Some(print);
        }
        if let Some(last) = &mut self.keyset {
            *last = check_ascending_ids(&records, *last, &self.call)?.or(last.take());
        }
        // Records repeated across the page boundary (the list grew at its head).
        let keys: Vec<Option<IdKey>> = records.iter().map(IdKey::of).collect();
        let ids: IdSet = keys.iter().flatten().cloned().collect();
        // A whole page of records already on the previous page, in any order and
        // whatever their other fields say, is the previous page again: the server
        // ignores `offset` (a page that merely shifted keeps something new).
        if self.keyset.is_none()
            && n > 0
            && ids.len() == records.len()
            && ids.iter().all(|id| self.previous_ids.contains(id))
        {
            return Err(self.repeated_page_error());
        }
        // Without ids a page cannot be told from the last one if its records
        // change between requests; past twice the announced total, stop anyway.
        // (In keyset mode the count is what remains, and ids always advance.)
        if let (Some(total), None) = (total, &self.keyset) {
            let bound = total
                .saturating_mul(2)
                .saturating_add(self.page_size.saturating_mul(2));
            if self.offset > bound {
                return Err(Error::unexpected_shape(
                    self.call.obj(),
                    self.call.action(),
                    format!(
                        "the server keeps sending records at offset {} of a list of {total}: \
                         stopping instead of paging forever",
                        self.offset
                    ),
                    "$.total_count",
                ));
            }
        }
        let before = records.len();
        if !self.previous_ids.is_empty() {
            // `retain` visits the records in order, once each.
            let mut keep = keys
                .iter()
                .map(|k| k.as_ref().is_none_or(|k| !self.previous_ids.contains(k)));
            records.retain(|_| keep.next().unwrap_or(true));
        }
        let dropped = (before - records.len()) as u64;
        if dropped > 0 {
            self.duplicates_dropped += dropped;
            log::warn!(
                "{}.{}: {dropped} records of the page at offset {} were already on the \
                 previous page (the list changed while paging); not yielded twice",
                self.call.obj(),
                self.call.action(),
                self.offset
            );
        }
        self.previous_ids = ids;
        self.offset += n;
        if self.page.is_empty() {
            // The page's own buffer becomes the queue: no record is moved.
            self.page = VecDeque::from(records);
        } else {
            self.page.extend(records);
        }
        let asked = self.server_page_size.unwrap_or(self.page_size);
        let short = n < asked;
        let remaining_after_page = match (&self.keyset, self.total_count) {
            // Keyset: the count is of the records past the last id.
            (Some(_), Some(t)) => Some(t.saturating_sub(n)),
            (None, Some(t)) => Some(t.saturating_sub(self.offset)),
            (_, None) => None,
        };
        self.done = match remaining_after_page {
            _ if n == 0 => true,
            Some(left) => short && left == 0,
            None => short && self.server_page_size.is_some(),
        };
        if !self.done && n < self.page_size && self.server_page_size.is_none() {
            self.server_page_size = Some(n);
            log::debug!(
                "{}.{}: the server sends at most {n} records per page (asked {})",
                self.call.obj(),
                self.call.action(),
                self.page_size
            );
        }
        if self.done {
            let announced_left = match (&self.keyset, self.total_count) {
                (Some(_), Some(t)) => t.checked_sub(n).filter(|&l| l > 0),
                (None, Some(t)) => t.checked_sub(self.offset).filter(|&l| l > 0),
                (_, None) => None,
            };
            if let Some(left) = announced_left {
                let total = self.total_count.unwrap_or_default();
                self.shortfall = Some(left);
                log::warn!(
                    "{}.{}: the list ended at {} records, but the server announced {total}",
                    self.call.obj(),
                    self.call.action(),
                    self.offset
                );
            }
        }
        Ok(())
    }
}

impl Pager<Value> {
    /// Takes the answer to the last [`PageStep::Fetch`]; an error ends the list
    /// (call [`Pager::fail`]).
    pub fn take_page(&mut self, resp: Response) -> Result<(), Error> {
        self.take_records(RecordsPage::from_response(resp))
    }
}

impl<R: PagedRecord> Pager<R> {
    fn repeated_page_error(&self) -> Error {
        Error::unexpected_shape(
            self.call.obj(),
            self.call.action(),
            format!(
                "the page at offset {} repeats the previous page: the server ignores \
                 `offset`; stopping instead of repeating records",
                self.offset
            ),
            "$.list",
        )
    }

    /// The call for the next page in keyset mode: offset 0, `id > last`.
    fn keyset_call(&self, last: Option<i64>) -> Result<Call, Error> {
        let base = self.call.clone().limit(self.page_size);
        let Some(last) = last else {
            return Ok(base);
        };
        let condition = serde_json::json!({"field": "id", "condition_type": 4, "value": last});
        let filter = match self.call.get_filter() {
            Some(Value::Object(f)) => {
                let mut f = f.clone();
                let list = f
                    .entry("field_list")
                    .or_insert_with(|| Value::Array(Vec::new()));
                match list {
                    Value::Array(a) => a.push(condition),
                    _ => {
                        return Err(Error::InvalidInput(
                            "the filter's field_list must be a list".into(),
                        ))
                    }
                }
                f.entry("type").or_insert(Value::from(0));
                Value::Object(f)
            }
            _ => serde_json::json!({"field_list": [condition], "type": 0}),
        };
        base.filter(filter)
    }
}

/// In keyset mode every page must be in ascending `id` order and start past the
/// last `id`: the last `id` of the page, or an error naming what went wrong.
fn check_ascending_ids<R: PagedRecord>(
    records: &[R],
    after: Option<i64>,
    call: &Call,
) -> Result<Option<i64>, Error> {
    let mut previous = after;
    for r in records {
        let Some(id) = r.id_int() else {
            return Err(Error::unexpected_shape(
                call.obj(),
                call.action(),
                "consistent paging needs an integer `id` in every record".into(),
                "$.list[].id",
            ));
        };
        if previous.is_some_and(|p| id <= p) {
            return Err(Error::unexpected_shape(
                call.obj(),
                call.action(),
                format!(
                    "consistent paging needs records sorted by ascending `id`, but {id} came \
                     after {}; use offset paging for this object",
                    previous.unwrap_or_default()
                ),
                "$.list[].id",
            ));
        }
        previous = Some(id);
    }
    Ok(records.last().and_then(PagedRecord::id_int))
}

#[cfg(test)]
mod id_key_tests {
    use super::*;
    use serde_json::json;

    /// Ids compare as their text did: `5` and `"5"` are one record; `"05"`,
    /// `5.0` and ids beyond 64 bits are their own text.
    #[test]
    fn ids_compare_as_text_without_allocating_for_integers() {
        let key = |v: Value| IdKey::of(&json!({ "id": v }));
        assert_eq!(key(json!(5)), Some(IdKey::Int(5)));
        assert_eq!(key(json!("5")), key(json!(5)));
        assert_eq!(key(json!(-7)), key(json!("-7")));
        assert_eq!(key(json!("05")), Some(IdKey::Text("05".into())));
        assert_eq!(key(json!("abc")), Some(IdKey::Text("abc".into())));
        let big: Value = serde_json::from_str("18446744073709551616").unwrap();
        assert_eq!(key(big), Some(IdKey::Text("18446744073709551616".into())));
        assert_eq!(key(Value::Null), None);
        assert_eq!(IdKey::of(&json!({"x": 1})), None);
    }

    /// The check without allocating agrees with printing the parsed integer.
    #[test]
    fn integers_as_written_are_what_to_string_gives_back() {
        for text in [
            "0",
            "-0",
            "5",
            "-5",
            "+5",
            "05",
            "-05",
            "00",
            "",
            "-",
            "1a",
            " 1",
            "1 ",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "0009",
            "10",
            "-10",
            "١٢",
        ] {
            let by_printing = text.parse::<i64>().is_ok_and(|n| n.to_string() == text);
            let parsed_and_written = text.parse::<i64>().is_ok() && is_integer_as_written(text);
            assert_eq!(parsed_and_written, by_printing, "{text:?}");
        }
    }
}
