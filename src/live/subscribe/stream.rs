//! The async face of a catch-up subscription (the `tokio` feature): the same cursor as the
//! blocking [`Subscription`](super::Subscription), read on Tokio's blocking threads and woken by
//! the same file notifications.

use super::SubscriptionItem;
use super::cursor::{Advance, Cursor};
use crate::store::watch::RECHECK;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// At most this many items are read in one go on a blocking thread.
const BATCH: usize = 512;

/// A catch-up subscription as an async [`Stream`](futures_core::Stream): the history from a
/// chosen point, then every event as it is appended, in order, each exactly once.
///
/// Made by [`Subscription::into_stream`](super::Subscription::into_stream); it yields what the
/// blocking [`Subscription`](super::Subscription) yields, and never blocks the task that polls
/// it. Reading the files (memory maps, archive frames) happens on Tokio's blocking threads, a
/// batch of events at a time; while caught up, it sleeps until the operating system reports a
/// change in the directory (checking again at least once a second, should a notification go
/// missing). After an error it ends: subscribe again from the position of the last event
/// handled to retry.
///
/// Besides the `Stream` implementation, [`next`](SubscriptionStream::next) awaits the next item
/// without any extension trait.
///
/// # Panics
///
/// Polling it outside a Tokio runtime panics, as [`tokio::task::spawn_blocking`] does.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, Since, SubscriptionItem};
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
/// let mut log = EventLog::open(dir.path())?;
/// log.append(&Event::new("before", serde_json::json!({})))?;
/// let mut stream = log.reader().subscribe(Since::Start)?.into_stream();
///
/// runtime.block_on(async {
///     let Some(SubscriptionItem::Event(first)) = stream.next().await.transpose()? else { panic!() };
///     assert_eq!(first.event.event_type, "before");
///     assert!(matches!(stream.next().await.transpose()?, Some(SubscriptionItem::CaughtUp(_))));
///
///     log.append(&Event::new("after", serde_json::json!({})))?;
///     match stream.next().await.transpose()? {
///         Some(SubscriptionItem::Event(next)) => assert_eq!(next.event.event_type, "after"),
///         other => panic!("expected the new event, got {other:?}"),
///     }
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SubscriptionStream {
    /// The cursor, while no batch is being read.
    cursor: Option<Box<Cursor>>,
    /// The batch being read on a blocking thread; it hands the cursor back.
    reading: Option<JoinHandle<(Box<Cursor>, Batch)>>,
    /// Items read and not yet yielded, then the error that ended the read, if any.
    ready: VecDeque<SubscriptionItem>,
    error: Option<io::Error>,
    next: Next,
    /// File notifications for the directory, set up at the first wait.
    watch: Option<(notify::RecommendedWatcher, mpsc::Receiver<()>)>,
    /// The recheck timer of the wait under way.
    recheck: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// What the stream does once its ready items are yielded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Read,
    Wait,
    Ended,
}

/// Items read in one go, and why the read stopped.
struct Batch {
    items: Vec<SubscriptionItem>,
    end: Result<Next, io::Error>,
}

impl std::fmt::Debug for SubscriptionStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionStream")
            .field(
                "next_position",
                &self.cursor.as_ref().map(|c| c.next_position()),
            )
            .field("ready", &self.ready.len())
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl SubscriptionStream {
    pub(crate) fn new(mut cursor: Cursor) -> Self {
        // A blocking subscription's watch, if it waited before it became this stream: the
        // stream waits on a watch of its own.
        cursor.follow_mut().unwatch();
        SubscriptionStream {
            cursor: Some(Box::new(cursor)),
            reading: None,
            ready: VecDeque::new(),
            error: None,
            next: Next::Read,
            watch: None,
            recheck: None,
        }
    }

    /// Waits for the next item: `None` only after an error has been yielded.
    ///
    /// The same as `StreamExt::next` of the `futures` crates, without needing them.
    ///
    /// # Errors
    ///
    /// As [`Subscription::next_timeout`](super::Subscription::next_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventReader, Since, SubscriptionItem};
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    /// let mut stream = EventReader::new(dir.path()).subscribe(Since::Start)?.into_stream();
    /// let first = runtime.block_on(stream.next()).transpose()?;
    /// assert!(matches!(first, Some(SubscriptionItem::CaughtUp(_)))); // an empty history
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn next(&mut self) -> Option<io::Result<SubscriptionItem>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<SubscriptionItem>>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if let Some(e) = self.error.take() {
                return Poll::Ready(Some(Err(e)));
            }
            if let Some(task) = self.reading.as_mut() {
                let joined = ready!(Pin::new(task).poll(cx));
                self.reading = None;
                let (cursor, batch) = match joined {
                    Ok(read) => read,
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(_) => {
                        self.fail(io::Error::other("the runtime shut down during a read"));
                        continue;
                    }
                };
                self.cursor = Some(cursor);
                self.ready.extend(batch.items);
                match batch.end {
                    Ok(next) => self.next = next,
                    Err(e) => self.fail(e),
                }
                continue;
            }
            match self.next {
                Next::Ended => return Poll::Ready(None),
                Next::Read => self.start_read(),
                Next::Wait => ready!(self.poll_wait(cx)),
            }
        }
    }

    /// Reads the next batch on a blocking thread.
    fn start_read(&mut self) {
        self.recheck = None;
        let mut cursor = self.cursor.take().expect("no read under way");
        self.reading = Some(tokio::task::spawn_blocking(move || {
            let batch = read_batch(&mut cursor);
            (cursor, batch)
        }));
    }

    /// Ready when it is time to read again: a notification came, the recheck timer fired, or
    /// the watch was just set up (an append before it would otherwise be missed).
    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some((_, events)) = self.watch.as_mut() else {
            let (tx, rx) = mpsc::channel(1);
            let dir = self.cursor.as_ref().expect("no read under way").dir();
            match crate::store::watch::watch(dir, move || {
                // A full channel already holds the wake-up this one would bring.
                let _ = tx.try_send(());
            }) {
                Ok(watcher) => {
                    self.watch = Some((watcher, rx));
                    self.next = Next::Read;
                }
                Err(e) => self.fail(e),
            }
            return Poll::Ready(());
        };
        match events.poll_recv(cx) {
            Poll::Ready(Some(())) => {
                while events.try_recv().is_ok() {}
                self.next = Next::Read;
                return Poll::Ready(());
            }
            Poll::Ready(None) => {
                self.fail(io::Error::other("the file watcher stopped unexpectedly"));
                return Poll::Ready(());
            }
            Poll::Pending => {}
        }
        let recheck = self
            .recheck
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(RECHECK)));
        ready!(recheck.as_mut().poll(cx));
        self.next = Next::Read;
        Poll::Ready(())
    }

    /// Ends the stream after yielding `e`.
    fn fail(&mut self, e: io::Error) {
        if let Some(cursor) = self.cursor.as_mut() {
            cursor.fail();
        }
        self.error = Some(e);
        self.next = Next::Ended;
        self.watch = None;
        self.recheck = None;
    }
}

/// Advances `cursor` until it must wait, ends, or has yielded [`BATCH`] items.
fn read_batch(cursor: &mut Cursor) -> Batch {
    let mut items = Vec::new();
    while items.len() < BATCH {
        match cursor.advance() {
            Ok(Advance::Item(item)) => items.push(item),
            Ok(Advance::Wait) => {
                return Batch {
                    items,
                    end: Ok(Next::Wait),
                };
            }
            Ok(Advance::Ended) => {
                return Batch {
                    items,
                    end: Ok(Next::Ended),
                };
            }
            Err(e) => return Batch { items, end: Err(e) },
        }
    }
    Batch {
        items,
        end: Ok(Next::Read),
    }
}

impl futures_core::Stream for SubscriptionStream {
    type Item = io::Result<SubscriptionItem>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}
