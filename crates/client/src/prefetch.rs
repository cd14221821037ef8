//! One page fetched ahead on a helper thread, for [`crate::Records`].
//!
//! The helper makes one ordinary call through the client (retries, re-login and
//! logging as for any call) and hands the answer over a channel of one slot. It
//! is never joined: when the iterator is dropped first, the helper finishes its
//! one request (bounded by the client's timeout), finds nobody to hand the answer
//! to, and ends. In a forked child the helper does not exist (only the forking
//! thread is copied), so the child neither waits for it nor touches the channel
//! (whose lock the helper may have held at the fork): it fetches the page itself.

use std::sync::mpsc;

use runtel_protocol::{Call, Error};

use crate::client::{process_marker, Client};
use crate::records::{PageDecoderHandle, RecordsPage};

/// A page being fetched (or fetched) ahead.
pub(crate) struct Prefetch<R> {
    call: Call,
    answer: mpsc::Receiver<Result<RecordsPage<R>, Error>>,
    /// The process (and fork epoch) that started the helper.
    owner: (u32, u64),
}

impl<R: Send + 'static> Prefetch<R> {
    /// Starts fetching `call` on a helper thread, decoding it with `decoder`.
    /// If no thread can be started, the page is fetched when it is needed instead.
    pub(crate) fn start(
        client: &Client,
        call: Call,
        decoder: &PageDecoderHandle<R>,
    ) -> Prefetch<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        let helper_client = client.clone();
        let helper_call = call.clone();
        let helper_decoder = decoder.clone();
        let spawned = std::thread::Builder::new()
            .name("runtel-prefetch".into())
            .spawn(move || {
                let _ = tx.send(helper_client.call_decoded(&helper_call, &*helper_decoder));
            });
        if let Err(e) = spawned {
            log::debug!("no prefetch thread ({e}): the next page is fetched when needed");
        }
        Prefetch {
            call,
            answer: rx,
            owner: process_marker(),
        }
    }

    /// The answer to `call`: the helper's if it fetched this very call in this
    /// process, else fetched now on the caller's thread.
    pub(crate) fn answer(
        self,
        client: &Client,
        call: &Call,
        decoder: &PageDecoderHandle<R>,
    ) -> Result<RecordsPage<R>, Error> {
        if self.owner != process_marker() {
            // A forked child: see the module's comment.
            std::mem::forget(self);
            return client.call_decoded(call, &**decoder);
        }
        if &self.call != call {
            return client.call_decoded(call, &**decoder);
        }
        match self.answer.recv() {
            Ok(answer) => answer,
            // The helper could not start, or ended without an answer.
            Err(_) => client.call_decoded(call, &**decoder),
        }
    }
}

impl<R> Drop for Prefetch<R> {
    fn drop(&mut self) {
        if self.owner != process_marker() {
            // Never touch the parent's channel in a child; leak it instead.
            let (_, dummy) = mpsc::sync_channel(1);
            std::mem::forget(std::mem::replace(&mut self.answer, dummy));
        }
    }
}
