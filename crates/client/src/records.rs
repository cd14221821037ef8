//! Paging through a list action with memory bounded by one page.

use std::collections::VecDeque;

use runtel_protocol::{Call, Error};
use serde_json::Value;

use crate::client::Client;

/// An iterator over every record of a list action. It asks for `page_size`
/// records at a time (top-level `limit`/`offset`). It yields `Err` at most once,
/// then ends.
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
/// Offset paging is what the API offers: records inserted or deleted while
/// paging can shift pages. For logs, filter on `dt` and resume from the last one.
pub struct Records {
    client: Client,
    call: Call,
    page_size: u64,
    offset: u64,
    page: VecDeque<Value>,
    total_count: Option<u64>,
    done: bool,
    pages_fetched: u64,
    /// The page size the server turned out to use, when smaller than asked.
    server_page_size: Option<u64>,
    /// A fingerprint of the last page, to notice a server that ignores `offset`.
    last_page: Option<(u64, u64)>,
    shortfall: Option<u64>,
}

impl std::fmt::Debug for Records {
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

impl Records {
    pub(crate) fn new(
        client: Client,
        obj: &str,
        params: Value,
        page_size: u64,
    ) -> Result<Records, Error> {
        if page_size == 0 {
            return Err(Error::InvalidInput("page_size must be at least 1".into()));
        }
        Ok(Records {
            client,
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
        })
    }

    /// Uses `list_with_detail` (or another list-like action) instead of `list`.
    pub fn action(mut self, action: &str) -> Result<Records, Error> {
        self.call = Call::new(
            self.call.obj(),
            action,
            Value::Object(self.call.params().clone()),
        )?
        .filter(self.call.get_filter().cloned().unwrap_or(Value::Null))?;
        Ok(self)
    }

    /// Sends this `filter` (top level, passed through) with every page.
    pub fn filter(mut self, filter: Value) -> Result<Records, Error> {
        self.call = self.call.filter(filter)?;
        Ok(self)
    }

    /// Starts at this offset (to resume an interrupted export).
    pub fn starting_at(mut self, offset: u64) -> Records {
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

    /// The page size the server turned out to use, when it sent fewer records
    /// than asked while more were announced.
    pub fn server_page_size(&self) -> Option<u64> {
        self.server_page_size
    }

    fn fetch(&mut self) -> Result<(), Error> {
        let call = self.call.clone().limit(self.page_size).offset(self.offset);
        let resp = self.client.call_with(&call)?;
        self.pages_fetched += 1;
        self.total_count = resp
            .total_count()
            .or_else(|| resp.body().get("total_count").and_then(Value::as_u64));
        let records = resp.into_records();
        let n = records.len() as u64;
        if n > 0 {
            let print = fingerprint(&records);
            if self.last_page == Some(print) {
                return Err(Error::unexpected_shape(
                    self.call.obj(),
                    self.call.action(),
                    format!(
                        "the page at offset {} repeats the previous page: the server \
                         ignores `offset`; stopping instead of repeating records",
                        self.offset
                    ),
                    "$.list",
                ));
            }
            self.last_page = Some(print);
        }
        self.offset += n;
        self.page.extend(records);
        let asked = self.server_page_size.unwrap_or(self.page_size);
        let short = n < asked;
        self.done = match self.total_count {
            _ if n == 0 => true,
            Some(total) => short && self.offset >= total,
            None => short && self.server_page_size.is_some(),
        };
        if !self.done && n < self.page_size && self.server_page_size.is_none() {
            self.server_page_size = Some(n);
            log::debug!(
                "runtel {}.{}: the server sends at most {n} records per page (asked {})",
                self.call.obj(),
                self.call.action(),
                self.page_size
            );
        }
        if self.done {
            if let Some(total) = self.total_count.filter(|&t| self.offset < t) {
                self.shortfall = Some(total - self.offset);
                log::warn!(
                    "runtel {}.{}: the list ended at {} records, but the server announced {total}",
                    self.call.obj(),
                    self.call.action(),
                    self.offset
                );
            }
        }
        Ok(())
    }
}

impl Iterator for Records {
    type Item = Result<Value, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(r) = self.page.pop_front() {
            return Some(Ok(r));
        }
        if self.done {
            return None;
        }
        if let Err(e) = self.fetch() {
            self.done = true;
            return Some(Err(e));
        }
        self.page.pop_front().map(Ok)
    }
}

impl std::iter::FusedIterator for Records {}

/// A cheap fingerprint of a page: its length and a hash of its first and last
/// records. Two consecutive pages with the same fingerprint are the same page.
fn fingerprint(records: &[Value]) -> (u64, u64) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for r in [records.first(), records.last()].into_iter().flatten() {
        r.to_string().hash(&mut h);
    }
    (records.len() as u64, h.finish())
}
