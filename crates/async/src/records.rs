//! The record stream: the blocking client's [`Pager`] (every paging rule)
//! driven with async calls.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use runtel_client::{PageStep, Pager};
use runtel_protocol::{Error, Response};
use serde_json::Value;

use crate::client::AsyncClient;

type PageFuture = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send>>;

/// Every record of a list action, as a [`Stream`] of `Result<Value, Error>`:
/// one page in memory; `Err` at most once, then the end. Dropping it mid-page
/// cancels the page's request (the client stays usable).
pub struct AsyncRecords {
    client: AsyncClient,
    pager: Pager,
    pending: Option<PageFuture>,
}

impl std::fmt::Debug for AsyncRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncRecords")
            .field("pager", &self.pager)
            .field("fetching", &self.pending.is_some())
            .finish()
    }
}

impl AsyncRecords {
    pub(crate) fn new(
        client: AsyncClient,
        obj: &str,
        params: Value,
        page_size: u64,
    ) -> Result<AsyncRecords, Error> {
        Ok(AsyncRecords {
            client,
            pager: Pager::new(obj, params, page_size)?,
            pending: None,
        })
    }

    /// Changes the paging before the first record (`action`, `filter`,
    /// `starting_at`, `consistent`: see [`Pager`]).
    pub fn with_pager(
        mut self,
        change: impl FnOnce(Pager) -> Result<Pager, Error>,
    ) -> Result<AsyncRecords, Error> {
        self.pager = change(self.pager)?;
        Ok(self)
    }

    /// The paging state: `total_count`, position, shortfall, drift, notifies.
    pub fn pager(&self) -> &Pager {
        &self.pager
    }
}

impl Stream for AsyncRecords {
    type Item = Result<Value, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(fetch) = &mut this.pending {
                let answer = match fetch.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(answer) => answer,
                };
                this.pending = None;
                if let Err(e) = answer.and_then(|resp| this.pager.take_page(resp)) {
                    this.pager.fail();
                    return Poll::Ready(Some(Err(e)));
                }
            }
            match this.pager.step() {
                PageStep::Record(r) => return Poll::Ready(Some(Ok(r))),
                PageStep::Failed(e) => return Poll::Ready(Some(Err(e))),
                PageStep::Done => return Poll::Ready(None),
                PageStep::Fetch(call) => {
                    let client = this.client.clone();
                    this.pending = Some(Box::pin(async move { client.call_with(&call).await }));
                }
            }
        }
    }
}
