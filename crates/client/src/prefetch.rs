//! Pages fetched ahead on a helper thread, for [`crate::Records`].
//!
//! The helper fetches bytes: it makes each call through the client (retries,
//! re-login and logging as for any call), checks the answer with the protocol's
//! success rule while only counting its records and noting where they are
//! ([`runtel_protocol::check_list_answer`]), and hands the body over with what
//! the check found. The page is decoded on the caller's thread, where its
//! records are read (and freed); a decoder may use the check
//! ([`Decoder::decode_checked`]).
//!
//! In offset paging the helper then asks for the following page at once (the
//! offset advanced by the records it counted), before the caller has decoded
//! the page it was handed: the server prepares page N+1 while the caller
//! decodes page N. The hand-over is a rendezvous (a channel with no slot), so
//! the helper holds at most one page the caller has not taken: memory stays
//! bounded by the page being read and the one after it. It stops asking when
//! the list looks over (an empty page; a short page at the announced total).
//! If the pager wants another call than the one fetched (records repeated
//! across pages, a server capping its pages), the page is dropped and the
//! caller fetches what it wants itself.
//!
//! The helper is never joined: when the iterator is dropped, the helper finishes
//! the request it is making (bounded by the client's timeout), finds nobody to
//! hand the page to, and ends. In a forked child the helper does not exist (only
//! the forking thread is copied), so the child neither waits for it nor touches
//! the channel (whose lock the helper may have held at the fork): it fetches
//! the page itself.

use std::borrow::Cow;
use std::sync::mpsc;
use std::time::Duration;

use runtel_protocol::{
    check_list_answer, Call, Error, Expected, Limits, ListCheck, Redactor, Secret,
};

use crate::client::{Client, Decoder};
use crate::fork::{process_marker, ProcessMarker};
use crate::records::{IdKey, IdSet, PageDecoderHandle, RecordsPage};

/// A list answer fetched and checked, not yet decoded.
pub(crate) struct FetchedPage {
    status: u16,
    body: Vec<u8>,
    action_id: String,
    secrets: Vec<Secret>,
    check: ListCheck,
}

impl FetchedPage {
    /// The page, decoded with `decoder` as the call itself would have been.
    pub(crate) fn decode<R: Send>(
        self,
        client: &Client,
        call: &Call,
        decoder: &PageDecoderHandle<R>,
    ) -> Result<RecordsPage<R>, Error> {
        let expected = Expected {
            action_id: &self.action_id,
            obj: call.obj(),
            action: call.action(),
            // An answer echoing the token stays masked in any error made of it.
            secrets: &self.secrets,
        };
        // As the client does with a decoder's error inside a call.
        decoder
            .decode_checked(
                expected,
                self.status,
                self.body,
                client.limits(),
                &self.check,
            )
            .map_err(|mut e| {
                e.redact(&Redactor::new(&self.secrets));
                e
            })
    }
}

/// The helper's [`Decoder`]: checks, counts, keeps the bytes and the check.
struct CheckOnly;

impl Decoder for CheckOnly {
    type Output = FetchedPage;

    fn decode(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
    ) -> Result<FetchedPage, Error> {
        let check = check_list_answer(expected, status, &body, limits)?;
        Ok(FetchedPage {
            status,
            body,
            action_id: expected.action_id.to_owned(),
            secrets: expected.secrets.to_vec(),
            check,
        })
    }
}

/// One page from the helper: the call it answers, the answer, and whether the
/// helper went on to the next page.
struct Handed {
    call: Call,
    answer: Result<FetchedPage, Error>,
    goes_on: bool,
}

/// The helper fetching ahead.
pub(crate) struct Ahead {
    pages: mpsc::Receiver<Handed>,
    /// The process (and fork epoch) that started the helper.
    owner: ProcessMarker,
    /// False once the helper said it stops after the page handed last.
    live: bool,
    /// A page received by [`Ahead::wait`], not yet taken.
    received: Option<Handed>,
}

impl Ahead {
    /// Starts fetching `call` on a helper thread; with `page_size` (offset
    /// paging), it goes on with the pages after it. `previous_ids` are the ids
    /// of the page before `call`'s. If no thread can be started, pages are
    /// fetched when they are needed instead.
    pub(crate) fn start(
        client: &Client,
        call: Call,
        page_size: Option<u64>,
        previous_ids: IdSet,
    ) -> Ahead {
        let (tx, rx) = mpsc::sync_channel(0);
        let client = client.clone();
        let spawned = std::thread::Builder::new()
            .name("runtel-prefetch".into())
            .spawn(move || {
                let mut call = call;
                let mut previous_ids = previous_ids;
                loop {
                    let answer = client.call_decoded(&call, &CheckOnly);
                    let next = match (&answer, page_size) {
                        (Ok(page), Some(size)) => {
                            let next = following(&call, &page.check, size, &previous_ids);
                            previous_ids = page
                                .check
                                .ids
                                .iter()
                                .map(|id| IdKey::from_text(Cow::Borrowed(id)))
                                .collect();
                            next
                        }
                        _ => None,
                    };
                    let goes_on = next.is_some();
                    if tx
                        .send(Handed {
                            call,
                            answer,
                            goes_on,
                        })
                        .is_err()
                    {
                        return; // The iterator is gone.
                    }
                    match next {
                        Some(c) => call = c,
                        None => return,
                    }
                }
            });
        if let Err(e) = spawned {
            log::debug!("no prefetch thread ({e}): pages are fetched when needed");
        }
        Ahead {
            pages: rx,
            owner: process_marker(),
            live: true,
            received: None,
        }
    }

    /// The helper's next page if it answers `call`; `None` when the caller must
    /// fetch `call` itself (another call, the helper ended, a forked child).
    pub(crate) fn take(&mut self, call: &Call) -> Option<Result<FetchedPage, Error>> {
        if !self.is_live() {
            return None;
        }
        let handed = match self.received.take() {
            Some(handed) => Some(handed),
            None => self.pages.recv().ok(),
        };
        self.accept(handed, call)
    }

    /// [`Ahead::take`] without waiting: `None` while the helper is still
    /// fetching; `Some` of what `take` would have returned once it has handed
    /// the page over (or is gone).
    pub(crate) fn take_ready(&mut self, call: &Call) -> Option<Option<Result<FetchedPage, Error>>> {
        if !self.is_live() {
            return Some(None);
        }
        let handed = match self.received.take() {
            Some(handed) => Some(handed),
            None => match self.pages.try_recv() {
                Ok(handed) => Some(handed),
                Err(mpsc::TryRecvError::Empty) => return None,
                Err(mpsc::TryRecvError::Disconnected) => None,
            },
        };
        Some(self.accept(handed, call))
    }

    /// Waits at most `timeout` for the helper's next page and keeps it for
    /// `take`: false if the time ran out. True at once when a page is kept
    /// already or nothing is coming (the helper ended, a forked child).
    pub(crate) fn wait(&mut self, timeout: Duration) -> bool {
        if self.received.is_some() || !self.is_live() {
            return true;
        }
        match self.pages.recv_timeout(timeout) {
            Ok(handed) => {
                self.received = Some(handed);
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.live = false;
                true
            }
        }
    }

    /// The page handed over, if it answers `call`.
    fn accept(
        &mut self,
        handed: Option<Handed>,
        call: &Call,
    ) -> Option<Result<FetchedPage, Error>> {
        match handed {
            Some(handed) if &handed.call == call => {
                self.live = handed.goes_on;
                Some(handed.answer)
            }
            // Another page than the pager wants, or no helper.
            _ => {
                self.live = false;
                None
            }
        }
    }

    /// True while the helper is fetching (or holding) a page not yet taken.
    pub(crate) fn is_live(&self) -> bool {
        self.live && self.owner == process_marker()
    }

    /// True when [`Ahead::wait`] has a page waiting to be taken.
    pub(crate) fn has_received(&self) -> bool {
        self.received.is_some()
    }
}

/// The call after `call` in offset paging, given what its answer held, or
/// `None` where the pager will end the list: an empty page; a short page at the
/// announced total; a page of records all on the page before (`previous_ids`:
/// a server that ignores `offset`). Without a total the helper asks on until an
/// empty page, which may cost one request past the end.
fn following(call: &Call, check: &ListCheck, page_size: u64, previous_ids: &IdSet) -> Option<Call> {
    let n = check.records as u64;
    let offset = call.get_offset().unwrap_or(0);
    let repeated = check.ids.len() == check.records
        && check
            .ids
            .iter()
            .all(|id| previous_ids.contains(&IdKey::from_text(Cow::Borrowed(id))));
    let more = n > 0
        && !repeated
        && match check.total_count {
            Some(total) => n >= page_size || offset.saturating_add(n) < total,
            None => true,
        };
    more.then(|| call.clone().offset(offset.saturating_add(n)))
}

impl Drop for Ahead {
    fn drop(&mut self) {
        if self.owner != process_marker() {
            // Never touch the parent's channel in a child; leak it instead.
            let (_, dummy) = mpsc::sync_channel(0);
            std::mem::forget(std::mem::replace(&mut self.pages, dummy));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(offset: u64) -> Call {
        Call::new("DomainCDR", "list", json!({}))
            .unwrap()
            .limit(10)
            .offset(offset)
    }

    /// `records` records without ids.
    fn check(records: usize, total_count: Option<u64>) -> ListCheck {
        ListCheck::without_spans(records, total_count, Vec::new())
    }

    #[test]
    fn the_helper_asks_on_exactly_where_the_pager_would() {
        let none = IdSet::default();
        // Below the total: the next offset is past the records counted.
        assert_eq!(
            following(&at(0), &check(10, Some(25)), 10, &none),
            Some(at(10))
        );
        // A server capping pages at 4: on by 4.
        assert_eq!(
            following(&at(8), &check(4, Some(25)), 10, &none),
            Some(at(12))
        );
        // A full page at the total: the pager asks once more (the count may be stale).
        assert_eq!(
            following(&at(10), &check(10, Some(20)), 10, &none),
            Some(at(20))
        );
        // A short page at the total, or an empty page: the list is over.
        assert_eq!(following(&at(20), &check(5, Some(25)), 10, &none), None);
        assert_eq!(following(&at(20), &check(0, None), 10, &none), None);
        // No total: on until an empty page.
        assert_eq!(following(&at(20), &check(3, None), 10, &none), Some(at(23)));
    }

    #[test]
    fn the_helper_stops_at_a_page_that_repeats_the_one_before() {
        let previous: IdSet = [1, 2, 3].map(IdKey::Int).into_iter().collect();
        let page = |ids: &[&str]| {
            ListCheck::without_spans(3, Some(250), ids.iter().map(|s| s.to_string()).collect())
        };
        // The same records (in any order): the pager will fail there.
        assert_eq!(
            following(&at(3), &page(&["3", "1", "2"]), 3, &previous),
            None
        );
        // One new record: a list that grew at its head; on.
        assert_eq!(
            following(&at(3), &page(&["2", "3", "4"]), 3, &previous),
            Some(at(6))
        );
    }
}
