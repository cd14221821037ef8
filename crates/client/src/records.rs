//! Paging through a list action with memory bounded by one page.

use std::collections::VecDeque;

use runtel_protocol::{Call, Error};
use serde_json::Value;

use crate::client::Client;

/// An iterator over every record of a list action. It asks for `page_size`
/// records at a time (top-level `limit`/`offset`) and stops when a page comes back
/// short or `offset` reaches `total_count`. It yields `Err` at most once, then ends.
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

    fn fetch(&mut self) -> Result<(), Error> {
        let call = self.call.clone().limit(self.page_size).offset(self.offset);
        let resp = self.client.call_with(&call)?;
        self.pages_fetched += 1;
        self.total_count = resp
            .total_count()
            .or_else(|| resp.body().get("total_count").and_then(Value::as_u64));
        let records = resp.into_records();
        let n = records.len() as u64;
        self.offset += n;
        self.page.extend(records);
        let reached_total = self.total_count.is_some_and(|t| self.offset >= t);
        if n < self.page_size || reached_total || n == 0 {
            self.done = true;
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
