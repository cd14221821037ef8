//! The TCP layer under ureq: connecting and the socket's reads and writes.
//!
//! It replaces ureq's own TCP connector for two reasons. Waits must be
//! interruptible when a stop check is installed ([`crate::interrupt`]): then a
//! connect runs on a helper thread while the caller waits in slices, and a read
//! waits in slices. And a call should not cost a system call it does not need:
//! ureq sets the socket's timeout to the exact time left before every read and
//! write (two or three `setsockopt` per call); here the timeout is rounded down
//! to a [`GRAIN`], so it only changes when the time left moves to another grain,
//! and a read that times out early just waits again for the rest. Also, a
//! request's headers and body leave in one write, and a pooled connection is
//! checked with one non-blocking peek (ureq's own layer needs three calls).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Arc, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport,
};
use ureq::Timeout;

use crate::interrupt::{self, Waited};

/// Socket timeouts are whole multiples of this (when longer than it), rounded
/// down so that a wait never outlasts its deadline.
const GRAIN: Duration = Duration::from_millis(250);
/// Held-back output beyond this is written at once (a large request body).
const HOLD_AT_MOST: usize = 64 * 1024;
/// The least time one address of several gets to connect.
const MIN_PER_ADDRESS: Duration = Duration::from_millis(10);

/// Opens TCP connections (see the module's documentation); passes on a
/// connection an earlier connector of the chain made (a proxy tunnel).
#[derive(Debug, Default)]
pub(crate) struct TcpConnector;

impl<In: Transport> Connector<In> for TcpConnector {
    type Out = Either<In, Tcp>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        let addrs: Vec<SocketAddr> = details.addrs.iter().copied().collect();
        let budget = Budget::of(details.timeout);
        let stream = if interrupt::armed() {
            connect_interruptibly(addrs, budget)?
        } else {
            connect_any(&addrs, budget)?
        };
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        let stream = Arc::new(stream);
        // The agent's shutdown reaches connections in use through this handle.
        let handle: Weak<dyn ShutdownHandle> = Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>;
        (details.register_shutdown)(handle)?;
        let config = details.config;
        Ok(Some(Either::B(Tcp {
            stream,
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            read_timeout: None,
            write_timeout: None,
            unsent: Vec::new(),
            broken: false,
            answered: false,
        })))
    }
}

/// A deadline from ureq's timeout, and the reason to report when it passes.
#[derive(Debug, Clone, Copy)]
struct Budget {
    deadline: Option<Instant>,
    reason: Timeout,
}

impl Budget {
    fn of(timeout: NextTimeout) -> Budget {
        Budget {
            deadline: (!timeout.after.is_not_happening()).then(|| Instant::now() + *timeout.after),
            reason: timeout.reason,
        }
    }

    /// The time left; None when there is no limit.
    fn left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    fn expired(&self) -> bool {
        self.left().is_some_and(|l| l.is_zero())
    }
}

/// Tries the addresses in turn: while more follow, one gets half the time left.
fn connect_any(addrs: &[SocketAddr], budget: Budget) -> Result<TcpStream, ureq::Error> {
    let mut last: Option<ureq::Error> = None;
    for (i, addr) in addrs.iter().enumerate() {
        let attempt = match budget.left() {
            None => TcpStream::connect(addr),
            Some(left) if left.is_zero() => break,
            Some(left) => {
                let share = if i + 1 < addrs.len() { left / 2 } else { left };
                TcpStream::connect_timeout(addr, share.max(MIN_PER_ADDRESS))
            }
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                last = Some(ureq::Error::Timeout(Timeout::Connect));
            }
            Err(e) if is_address_specific(&e) => last = Some(ureq::Error::Io(e)),
            Err(e) => return Err(e.into()),
        }
    }
    if budget.expired() {
        return Err(ureq::Error::Timeout(budget.reason));
    }
    Err(last.unwrap_or(ureq::Error::ConnectionFailed))
}

/// Errors after which the next address may still work.
fn is_address_specific(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
            | K::AddrNotAvailable
    )
}

/// [`connect_any`] on a helper thread while this one waits in slices: a connect
/// itself cannot be cut short. When the caller stops, the helper finishes alone
/// and drops what it got.
fn connect_interruptibly(addrs: Vec<SocketAddr>, budget: Budget) -> Result<TcpStream, ureq::Error> {
    let (tx, rx) = mpsc::sync_channel(1);
    let started = std::thread::Builder::new()
        .name("runtel-connect".into())
        .spawn(move || {
            let _ = tx.send(connect_any(&addrs, budget));
        });
    if let Err(e) = started {
        return Err(ureq::Error::Io(e));
    }
    match interrupt::recv_within(&rx, None) {
        Waited::Got(result) => result,
        Waited::Stopped => Err(stopped()),
        Waited::TimedOut | Waited::Gone => Err(ureq::Error::Io(io::Error::other(
            "the connect helper ended",
        ))),
    }
}

/// The transport error of an interrupted wait; the caller reports it as an
/// interrupt (see [`interrupt::was_stopped`]). Not of the kind `Interrupted`:
/// rustls and `read_to_end` retry those.
pub(crate) fn stopped() -> ureq::Error {
    ureq::Error::Io(io::Error::other("interrupted by the caller"))
}

/// A TCP connection as ureq's transport.
pub(crate) struct Tcp {
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    /// What the socket's timeouts are set to now (None: no timeout).
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// Output held back until the answer is awaited (see `transmit_output`).
    unsent: Vec<u8>,
    /// A write failed part way: the stream is out of step, never used again.
    broken: bool,
    /// An answer was read since the last probe (see `is_open`).
    answered: bool,
}

impl std::fmt::Debug for Tcp {
    // Not the buffers: they hold requests (a password, a token).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tcp")
            .field("peer", &self.stream.peer_addr().ok())
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

/// The socket timeout for a wait with `left` (more than zero) to go: rounded
/// down to the grain.
fn coarse(left: Option<Duration>) -> Option<Duration> {
    let left = left?;
    if left <= GRAIN {
        return Some(left);
    }
    let grains = left.as_nanos() / GRAIN.as_nanos();
    Some(GRAIN * u32::try_from(grains).unwrap_or(u32::MAX))
}

/// Sets a socket timeout unless it already has that value.
fn set_timeout(
    current: &mut Option<Duration>,
    wanted: Option<Duration>,
    set: impl FnOnce(Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    if *current != wanted {
        match set(wanted) {
            Ok(()) => *current = wanted,
            // macOS refuses a new timeout once the peer has closed with request
            // bytes unread; an answer may still be there to read (as ureq does).
            Err(e) if cfg!(target_os = "macos") && e.kind() == io::ErrorKind::InvalidInput => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The next wait of `budget`: `Err` once it has run out (read once, so that a
/// zero never reaches the socket), else how long the socket may wait.
fn next_wait(budget: &Budget) -> Result<Option<Duration>, ureq::Error> {
    match budget.left() {
        Some(left) if left.is_zero() => Err(ureq::Error::Timeout(budget.reason)),
        left => Ok(coarse(interrupt::slice_of(left))),
    }
}

impl Transport for Tcp {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.broken {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe).into());
        }
        // Held back until the answer is awaited, so that the headers and the
        // body of a request leave in one write (one segment, one wake-up of the
        // server) instead of two.
        self.unsent
            .extend_from_slice(&self.buffers.output()[..amount]);
        if self.unsent.len() >= HOLD_AT_MOST {
            self.send_unsent(Budget::of(timeout.for_write()))?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        // Both deadlines from now: writing what was held back spends the
        // answer's time too.
        let budget = Budget::of(timeout.for_read());
        if !self.unsent.is_empty() {
            self.send_unsent(Budget::of(timeout.for_write()))?;
        }
        if self.broken {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe).into());
        }
        let stream = Arc::clone(&self.stream);
        loop {
            let wait = next_wait(&budget)?;
            set_timeout(&mut self.read_timeout, wait, |t| stream.set_read_timeout(t))?;
            match (&*self.stream).read(self.buffers.input_append_buf()) {
                Ok(n) => {
                    self.buffers.input_appended(n);
                    self.answered = true;
                    return Ok(n > 0);
                }
                Err(e) if is_wait_over(&e) => {
                    if interrupt::stop_requested() {
                        return Err(stopped());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn is_open(&mut self) -> bool {
        // A pooled connection is reused only if the server has neither closed it
        // nor sent anything unasked, and nothing is left unsent.
        if self.broken || !self.unsent.is_empty() {
            return false;
        }
        // ureq asks twice: when the connection goes back to the pool after an
        // answer, and when it is taken out again. Bytes or a close the server
        // sends stay in the socket, so the second probe sees all the first
        // would: the first is answered without a system call.
        if std::mem::take(&mut self.answered) {
            return true;
        }
        is_idle(&self.stream)
    }
}

impl Tcp {
    /// Writes what [`Transport::transmit_output`] held back. A failure part way
    /// leaves the connection broken: what is left is not sent later.
    fn send_unsent(&mut self, budget: Budget) -> Result<(), ureq::Error> {
        let unsent = std::mem::take(&mut self.unsent);
        let result = self.write_all(&unsent, budget);
        match result {
            Ok(()) => {
                // The allocation is kept for the next request.
                self.unsent = unsent;
                self.unsent.clear();
            }
            Err(_) => self.broken = true,
        }
        result
    }

    fn write_all(&mut self, bytes: &[u8], budget: Budget) -> Result<(), ureq::Error> {
        let stream = Arc::clone(&self.stream);
        let mut remaining = bytes;
        while !remaining.is_empty() {
            // Writes are not sliced: the kernel takes a request at once.
            let wait = match budget.left() {
                Some(left) if left.is_zero() => return Err(ureq::Error::Timeout(budget.reason)),
                left => coarse(left),
            };
            set_timeout(&mut self.write_timeout, wait, |t| {
                stream.set_write_timeout(t)
            })?;
            interrupt::note_sending();
            match (&*self.stream).write(remaining) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(n) => remaining = &remaining[n..],
                // An early coarse timeout (or a signal): wait for the rest.
                Err(e) if is_wait_over(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Nothing to read yet, and not closed: peeked without waiting (one system call).
#[cfg(unix)]
fn is_idle(stream: &TcpStream) -> bool {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
    let peeked = socket2::SockRef::from(stream)
        .recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT);
    matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// Nothing to read yet, and not closed: peeked in non-blocking mode.
#[cfg(not(unix))]
fn is_idle(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let peeked = stream.peek(&mut [0u8]);
    let idle = matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).is_ok() && idle
}

/// A socket timeout ran out (or a signal came): the caller decides whether the
/// wait is over.
fn is_wait_over(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_timeouts_round_down_to_the_grain_and_never_past_the_deadline() {
        let ms = Duration::from_millis;
        assert_eq!(coarse(None), None);
        assert_eq!(coarse(Some(ms(30))), Some(ms(30)));
        assert_eq!(coarse(Some(ms(250))), Some(ms(250)));
        assert_eq!(coarse(Some(ms(29_999))), Some(ms(29_750)));
        // Consecutive calls with a fresh 30 s budget keep one socket setting.
        assert_eq!(coarse(Some(ms(29_990))), coarse(Some(ms(29_900))));
    }

    #[test]
    fn a_spent_budget_is_a_timeout_never_a_zero_socket_timeout() {
        let spent = Budget {
            deadline: Some(Instant::now()),
            reason: Timeout::Global,
        };
        assert!(matches!(
            next_wait(&spent),
            Err(ureq::Error::Timeout(Timeout::Global))
        ));
        let open = Budget {
            deadline: None,
            reason: Timeout::Global,
        };
        assert_eq!(next_wait(&open).unwrap(), None);
    }
}
