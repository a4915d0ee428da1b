//! Server functions: the whole integration between Leptos and eventfold.
//!
//! The one [`EventLog`] of the process, opened by [`open_log`], lives in an `Arc<Mutex<_>>` that
//! `main` puts in the Leptos context. A write locks it, appends one event and refreshes the
//! views; a read locks it and clones a view's state. Every write refreshes the views, so reads of
//! the present never touch the disk. A read of the past (`at`, the number of events to fold)
//! asks the view for its state at that event ([`EventLog::state_at`]), which folds on from the
//! nearest checkpoint the view keeps. The lock is held for one append (a write and an fsync) or
//! one such fold at most, on a blocking thread so the async runtime keeps serving.
//!
//! Each server function is also a plain HTML form endpoint (`POST /api/NAME`, url-encoded), so
//! the page works with JavaScript disabled. A form post is answered with a redirect to `/`, or to
//! `/?error=CODE` when the request is refused; the page shows the message of that [`Problem`].
//!
//! In the hydrated build the `#[server]` functions become HTTP calls from the browser; the
//! helpers marked `#[cfg(feature = "ssr")]` exist on the server only.

use crate::state::{Stats, Timeline, Todo};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use eventfold::EventLog;
#[cfg(feature = "ssr")]
use std::sync::{Arc, Mutex};

/// The event log as the server functions find it in the Leptos context.
#[cfg(feature = "ssr")]
pub type SharedLog = Arc<Mutex<EventLog>>;

/// Each view keeps a checkpoint of its state every this many events (and one at every
/// rotation), in `data/views/NAME.checkpoints/`, so that showing the past folds at most this
/// many events minus one, from the nearest checkpoint, instead of the whole history before it.
pub const CHECKPOINT_EVERY: u64 = 10;

/// Opens the event log in `dir` (created if missing) with the app's three views, each keeping
/// checkpoints every [`CHECKPOINT_EVERY`] events; `app.jsonl` rotates into the archive once it
/// reaches `max_log_size` bytes (`0`: never).
///
/// # Errors
///
/// As [`EventLog::open`]: the directory cannot be created or read, or another process holds
/// its lock.
#[cfg(feature = "ssr")]
pub fn open_log(dir: &std::path::Path, max_log_size: u64) -> std::io::Result<EventLog> {
    use crate::state::{
        STATS_VIEW, StatsState, TIMELINE_VIEW, TODOS_VIEW, TodoState, stats_reducer,
        timeline_reducer, todo_reducer,
    };
    use eventfold::{Checkpoints, ViewConfig};
    let config = || ViewConfig::new().checkpoints(Checkpoints::every(CHECKPOINT_EVERY));
    EventLog::builder(dir)
        .max_log_size(max_log_size)
        .view_with::<TodoState>(TODOS_VIEW, todo_reducer, config())
        .view_with::<StatsState>(STATS_VIEW, stats_reducer, config())
        .view_ref_with::<Timeline>(TIMELINE_VIEW, timeline_reducer, config())
        .open()
}

/// The longest todo accepted, in characters.
pub const MAX_TODO_CHARS: usize = 500;

/// Why a request was refused. Its [`code`](Problem::code) travels in the redirect's query string;
/// its [`message`](Problem::message) is what the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Problem {
    /// The text was empty or only whitespace.
    EmptyText,
    /// The text was longer than [`MAX_TODO_CHARS`].
    TextTooLong,
    /// No todo has that id (it was deleted, perhaps in another tab).
    NoSuchTodo,
}

impl Problem {
    const ALL: [Problem; 3] = [
        Problem::EmptyText,
        Problem::TextTooLong,
        Problem::NoSuchTodo,
    ];

    /// The short name used in `/?error=CODE`.
    pub fn code(self) -> &'static str {
        match self {
            Problem::EmptyText => "empty",
            Problem::TextTooLong => "too-long",
            Problem::NoSuchTodo => "not-found",
        }
    }

    /// The problem a code names, if any.
    pub fn from_code(code: &str) -> Option<Problem> {
        Problem::ALL.into_iter().find(|p| p.code() == code)
    }

    /// A sentence for the user.
    pub fn message(self) -> String {
        match self {
            Problem::EmptyText => "Write something first: a todo cannot be empty.".to_string(),
            Problem::TextTooLong => {
                format!("That todo is too long: keep it to {MAX_TODO_CHARS} characters.")
            }
            Problem::NoSuchTodo => "That todo no longer exists.".to_string(),
        }
    }
}

/// Checks a todo's text (already trimmed).
pub fn check_text(text: &str) -> Result<(), Problem> {
    if text.is_empty() {
        Err(Problem::EmptyText)
    } else if text.chars().count() > MAX_TODO_CHARS {
        Err(Problem::TextTooLong)
    } else {
        Ok(())
    }
}

/// Records a new todo with a fresh UUID; refuses empty or overlong text.
#[server(prefix = "/api", endpoint = "add_todo")]
pub async fn add_todo(text: String) -> Result<(), ServerFnError> {
    let text = text.trim().to_string();
    if let Err(problem) = check_text(&text) {
        return refuse(problem);
    }
    let id = uuid::Uuid::new_v4().to_string();
    with_log(move |log| {
        log.append(&crate::state::todo_added(&id, &text, now()))?;
        log.refresh_all()?;
        Ok(Ok(()))
    })
    .await?
    .map_or_else(refuse, |()| done())
}

/// Marks an open todo done, or a done one open again.
#[server(prefix = "/api", endpoint = "toggle_todo")]
pub async fn toggle_todo(id: String) -> Result<(), ServerFnError> {
    append_if_exists(crate::state::todo_toggled(&id), id).await
}

/// Deletes a todo.
#[server(prefix = "/api", endpoint = "delete_todo")]
pub async fn delete_todo(id: String) -> Result<(), ServerFnError> {
    append_if_exists(crate::state::todo_deleted(&id), id).await
}

/// The todo list, oldest first: a clone of the `todos` view; with `at`, the list as it was
/// after the first `at` events.
#[server(prefix = "/api", endpoint = "get_todos")]
pub async fn get_todos(at: Option<u64>) -> Result<Vec<Todo>, ServerFnError> {
    use crate::state::{TODOS_VIEW, TodoState};
    with_log(move |log| Ok(view_at::<TodoState>(log, TODOS_VIEW, at)?.items)).await
}

/// The statistics panel's numbers, from the `stats` view; with `at`, as they were after the
/// first `at` events.
#[server(prefix = "/api", endpoint = "get_stats")]
pub async fn get_stats(at: Option<u64>) -> Result<Stats, ServerFnError> {
    use crate::state::{STATS_VIEW, StatsState};
    with_log(move |log| Ok(view_at::<StatsState>(log, STATS_VIEW, at)?.summary())).await
}

/// What the history control shows: how many events the log holds, and the point shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Events in the log now.
    pub events: u64,
    /// The `timeline` view at the point shown: how many events it folded (at most
    /// [`events`](History::events)) and the last of them.
    pub shown: Timeline,
}

/// The log's length, and the `timeline` view after the first `at` events (`None`: now).
#[server(prefix = "/api", endpoint = "get_history")]
pub async fn get_history(at: Option<u64>) -> Result<History, ServerFnError> {
    use crate::state::TIMELINE_VIEW;
    with_log(move |log| {
        Ok(History {
            events: log.view::<Timeline>(TIMELINE_VIEW)?.events,
            shown: view_at::<Timeline>(log, TIMELINE_VIEW, at)?,
        })
    })
    .await
}

/// The state of the view `name` after the first `at` events, or now (`None`, or a point past
/// the end). The present is the view's own state; the past is folded by `state_at`.
#[cfg(feature = "ssr")]
fn view_at<S>(log: &EventLog, name: &str, at: Option<u64>) -> std::io::Result<S>
where
    S: Serialize + serde::de::DeserializeOwned + Default + Clone + 'static,
{
    match at {
        None => log.view::<S>(name).cloned(),
        // No event folded yet.
        Some(0) => Ok(S::default()),
        // `At::Event(i)` folds the events up to and including the one at index i.
        Some(n) => log.state_at::<S>(name, eventfold::At::Event(n - 1)),
    }
}

/// Appends `event` about the todo `id` if that todo is on the list. The check and the append
/// happen under one lock, so no other request can delete the todo in between.
#[cfg(feature = "ssr")]
async fn append_if_exists(event: eventfold::Event, id: String) -> Result<(), ServerFnError> {
    use crate::state::{TODOS_VIEW, TodoState};
    with_log(move |log| {
        if log.view::<TodoState>(TODOS_VIEW)?.get(&id).is_none() {
            return Ok(Err(Problem::NoSuchTodo));
        }
        log.append(&event)?;
        log.refresh_all()?;
        Ok(Ok(()))
    })
    .await?
    .map_or_else(refuse, |()| done())
}

/// Runs `f` on the event log, under its lock, on a thread where blocking is allowed.
#[cfg(feature = "ssr")]
async fn with_log<T: Send + 'static>(
    f: impl FnOnce(&mut EventLog) -> std::io::Result<T> + Send + 'static,
) -> Result<T, ServerFnError> {
    let log = use_context::<SharedLog>()
        .ok_or_else(|| ServerFnError::new("the event log is missing from the Leptos context"))?;
    tokio::task::spawn_blocking(move || {
        let mut log = log
            .lock()
            .map_err(|_| ServerFnError::new("a request panicked holding the event log"))?;
        f(&mut log).map_err(|e| ServerFnError::new(format!("event log: {e}")))
    })
    .await
    .map_err(|e| ServerFnError::new(format!("event log task failed: {e}")))?
}

/// Success: a plain form post goes back to the list, clearing any earlier message.
#[cfg(feature = "ssr")]
fn done() -> Result<(), ServerFnError> {
    leptos_axum::redirect("/");
    Ok(())
}

/// Refusal: a plain form post goes back to the list with the problem in the query string.
#[cfg(feature = "ssr")]
fn refuse(problem: Problem) -> Result<(), ServerFnError> {
    leptos_axum::redirect(&format!("/?error={}", problem.code()));
    Err(ServerFnError::new(problem.message()))
}

/// Seconds since the Unix epoch.
#[cfg(feature = "ssr")]
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "ssr")]
    use crate::state::tests::{fold, history};
    #[cfg(feature = "ssr")]
    use crate::state::{
        STATS_VIEW, StatsState, TIMELINE_VIEW, TODO_DELETED, TODOS_VIEW, TodoState, stats_reducer,
        todo_reducer,
    };

    /// Through a real log: the views survive a reopen (from their snapshots) and a rotation.
    #[cfg(feature = "ssr")]
    #[test]
    fn views_survive_reopen_and_rotation() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let open = || open_log(dir.path(), 200);
        let mut log = open()?;
        for event in history() {
            log.append(&event)?;
        }
        log.refresh_all()?;
        assert!(log.archive_path().exists(), "200 bytes should have rotated");
        drop(log);

        let mut log = open()?;
        log.refresh_all()?;
        assert_eq!(
            *log.view::<TodoState>(TODOS_VIEW)?,
            fold(&history(), todo_reducer)
        );
        assert_eq!(
            *log.view::<StatsState>(STATS_VIEW)?,
            fold(&history(), stats_reducer)
        );
        let timeline = log.view::<Timeline>(TIMELINE_VIEW)?;
        assert_eq!(timeline.events, 5);
        let last = timeline.last.as_ref().unwrap();
        assert_eq!(last.event_type, TODO_DELETED);
        assert_eq!(last.ts, history()[4].ts);
        Ok(())
    }

    #[test]
    fn text_is_checked_after_trimming_by_the_caller() {
        assert_eq!(check_text(""), Err(Problem::EmptyText));
        assert_eq!(check_text("milk"), Ok(()));
        assert_eq!(check_text(&"é".repeat(MAX_TODO_CHARS)), Ok(()));
        assert_eq!(
            check_text(&"é".repeat(MAX_TODO_CHARS + 1)),
            Err(Problem::TextTooLong)
        );
    }

    #[test]
    fn problem_codes_round_trip() {
        for problem in Problem::ALL {
            assert_eq!(Problem::from_code(problem.code()), Some(problem));
        }
        assert_eq!(Problem::from_code("<script>"), None);
    }
}
