//! The data model: the three events this app records and the three views folded from them.
//!
//! Nothing else is stored. The todo list, the statistics panel and the history control are all
//! folds over the same log, each through its own reducer, each saved as its own snapshot in
//! `data/views/`:
//!
//! | event          | data                               |
//! |----------------|------------------------------------|
//! | `todo_added`   | `{"id", "text", "created_at"}`     |
//! | `todo_toggled` | `{"id"}`                           |
//! | `todo_deleted` | `{"id"}`                           |
//!
//! Reducers are total: an event of another type, or one whose data lacks a field, leaves the
//! state as it was, so one odd line in the log never stops the app from starting.
//!
//! The states are shared with the browser (the hydrated build); the events and reducers are
//! server-only, marked `#[cfg(feature = "ssr")]`.

#[cfg(feature = "ssr")]
use eventfold::{Event, EventRef};
use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use serde_json::json;
use std::collections::BTreeMap;

/// A todo was created. Data: `id` (a UUID v4), `text`, `created_at` (seconds since the epoch).
pub const TODO_ADDED: &str = "todo_added";
/// A todo was marked done, or back to open. Data: `id`.
pub const TODO_TOGGLED: &str = "todo_toggled";
/// A todo was removed. Data: `id`.
pub const TODO_DELETED: &str = "todo_deleted";

/// The view behind the list, folded by [`todo_reducer`]: `data/views/todos.snapshot.json`.
pub const TODOS_VIEW: &str = "todos";
/// The view behind the statistics panel, folded by [`stats_reducer`]:
/// `data/views/stats.snapshot.json`.
pub const STATS_VIEW: &str = "stats";
/// The view behind the history control, folded by [`timeline_reducer`]:
/// `data/views/timeline.snapshot.json`.
pub const TIMELINE_VIEW: &str = "timeline";

/// The event recording a new todo.
#[cfg(feature = "ssr")]
pub fn todo_added(id: &str, text: &str, created_at: u64) -> Event {
    Event::new(
        TODO_ADDED,
        json!({ "id": id, "text": text, "created_at": created_at }),
    )
}

/// The event recording that the todo `id` flipped between open and done.
#[cfg(feature = "ssr")]
pub fn todo_toggled(id: &str) -> Event {
    Event::new(TODO_TOGGLED, json!({ "id": id }))
}

/// The event recording that the todo `id` was deleted.
#[cfg(feature = "ssr")]
pub fn todo_deleted(id: &str) -> Event {
    Event::new(TODO_DELETED, json!({ "id": id }))
}

/// One todo, as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Todo {
    /// A UUID v4, chosen when the todo was added.
    pub id: String,
    /// What to do, as typed (trimmed, at most `server::MAX_TODO_CHARS` characters).
    pub text: String,
    /// Whether it has been marked done.
    pub done: bool,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// The `todos` view: the current list, oldest first.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodoState {
    /// The todos that have not been deleted, in the order they were added.
    pub items: Vec<Todo>,
}

impl TodoState {
    /// The todo with this id, if it exists and is not deleted.
    pub fn get(&self, id: &str) -> Option<&Todo> {
        self.items.iter().find(|todo| todo.id == id)
    }
}

/// Folds one event into the todo list.
#[cfg(feature = "ssr")]
pub fn todo_reducer(mut state: TodoState, event: &Event) -> TodoState {
    let id = event.data["id"].as_str();
    match (event.event_type.as_str(), id) {
        (TODO_ADDED, Some(id)) if state.get(id).is_none() => {
            state.items.push(Todo {
                id: id.to_string(),
                text: event.data["text"].as_str().unwrap_or_default().to_string(),
                done: false,
                created_at: event.data["created_at"].as_u64().unwrap_or(event.ts),
            });
        }
        (TODO_TOGGLED, Some(id)) => {
            if let Some(todo) = state.items.iter_mut().find(|todo| todo.id == id) {
                todo.done = !todo.done;
            }
        }
        (TODO_DELETED, Some(id)) => state.items.retain(|todo| todo.id != id),
        _ => {}
    }
    state
}

/// The `stats` view: counters for the statistics panel.
///
/// A `todo_toggled` event says only which todo flipped, not which way, and views never read each
/// other; so this view keeps its own small record of which live todos are done.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsState {
    /// Todos ever added.
    pub created: u64,
    /// Todos ever deleted.
    pub deleted: u64,
    /// For each todo not deleted: whether it is done.
    pub done_by_id: BTreeMap<String, bool>,
}

/// Folds one event into the statistics.
#[cfg(feature = "ssr")]
pub fn stats_reducer(mut state: StatsState, event: &Event) -> StatsState {
    let id = event.data["id"].as_str();
    match (event.event_type.as_str(), id) {
        (TODO_ADDED, Some(id)) if !state.done_by_id.contains_key(id) => {
            state.created += 1;
            state.done_by_id.insert(id.to_string(), false);
        }
        (TODO_TOGGLED, Some(id)) => {
            if let Some(done) = state.done_by_id.get_mut(id) {
                *done = !*done;
            }
        }
        (TODO_DELETED, Some(id)) if state.done_by_id.contains_key(id) => {
            state.done_by_id.remove(id);
            state.deleted += 1;
        }
        _ => {}
    }
    state
}

/// What the statistics panel shows, computed from [`StatsState`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Todos ever added.
    pub created: u64,
    /// Todos on the list that are done.
    pub completed: u64,
    /// Todos ever deleted.
    pub deleted: u64,
    /// Todos on the list that are not done.
    pub open: u64,
    /// `completed` as a whole percentage of the todos on the list (0 when the list is empty).
    pub completion_percent: u8,
}

impl StatsState {
    /// The numbers for the panel. `completed + open == created - deleted` always holds.
    pub fn summary(&self) -> Stats {
        let on_list = self.done_by_id.len() as u64;
        let completed = self.done_by_id.values().filter(|done| **done).count() as u64;
        let completion_percent = match on_list {
            0 => 0,
            n => (completed * 100 / n) as u8,
        };
        Stats {
            created: self.created,
            completed,
            deleted: self.deleted,
            open: on_list - completed,
            completion_percent,
        }
    }
}

/// The `timeline` view: how many events the log holds, and the last of them.
///
/// It gives the history control its length, and, folded only up to an earlier event (see
/// `server::get_timeline`), says which event that was and when it happened. It reads
/// every event of every type, so it counts the log, not the todos.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// Events folded.
    pub events: u64,
    /// The last event folded, if any.
    pub last: Option<Moment>,
}

/// One event as the history control names it: its type and when it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    /// The event's type, such as `todo_added`.
    pub event_type: String,
    /// Seconds since the Unix epoch.
    pub ts: u64,
}

/// Folds one event into the timeline. A zero-copy reducer: it reads the type and the
/// timestamp straight from the line, and never decodes `data`.
#[cfg(feature = "ssr")]
pub fn timeline_reducer(state: Timeline, event: &EventRef<'_>) -> Timeline {
    Timeline {
        events: state.events + 1,
        last: Some(Moment {
            event_type: event.event_type().to_string(),
            ts: event.ts(),
        }),
    }
}

/// `ts` (seconds since the Unix epoch) as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(ts: u64) -> String {
    let (days, seconds) = (ts / 86_400, ts % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[cfg(all(test, feature = "ssr"))]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn fold<S: Default>(events: &[Event], reducer: fn(S, &Event) -> S) -> S {
        events.iter().fold(S::default(), reducer)
    }

    /// Three todos added, the second done, the third deleted.
    pub(crate) fn history() -> Vec<Event> {
        vec![
            todo_added("a", "buy milk", 10),
            todo_added("b", "write docs", 11),
            todo_added("c", "call mum", 12),
            todo_toggled("b"),
            todo_deleted("c"),
        ]
    }

    #[test]
    fn todo_reducer_adds_toggles_and_deletes() {
        let state = fold(&history(), todo_reducer);
        let summary: Vec<_> = state
            .items
            .iter()
            .map(|t| (t.id.as_str(), t.text.as_str(), t.done, t.created_at))
            .collect();
        assert_eq!(
            summary,
            [("a", "buy milk", false, 10), ("b", "write docs", true, 11)]
        );
    }

    #[test]
    fn toggling_twice_reopens_a_todo() {
        let mut events = history();
        events.push(todo_toggled("b"));
        let state = fold(&events, todo_reducer);
        assert!(!state.get("b").unwrap().done);
        assert_eq!(fold(&events, stats_reducer).summary().completed, 0);
    }

    #[test]
    fn stats_reducer_counts_every_action() {
        let stats = fold(&history(), stats_reducer).summary();
        assert_eq!(
            stats,
            Stats {
                created: 3,
                completed: 1,
                deleted: 1,
                open: 1,
                completion_percent: 50,
            }
        );
    }

    #[test]
    fn completion_rate_of_an_empty_list_is_zero() {
        assert_eq!(StatsState::default().summary().completion_percent, 0);
        let events = [todo_added("a", "x", 1), todo_deleted("a")];
        assert_eq!(fold(&events, stats_reducer).summary().completion_percent, 0);
    }

    #[test]
    fn events_about_unknown_todos_change_nothing() {
        let events = [
            todo_toggled("ghost"),
            todo_deleted("ghost"),
            todo_added("a", "x", 1),
            todo_deleted("a"),
            todo_deleted("a"),
            todo_toggled("a"),
        ];
        assert!(fold(&events, todo_reducer).items.is_empty());
        let stats = fold(&events, stats_reducer).summary();
        assert_eq!((stats.created, stats.deleted, stats.open), (1, 1, 0));
    }

    #[test]
    fn a_repeated_add_is_counted_once() {
        let events = [todo_added("a", "x", 1), todo_added("a", "y", 2)];
        assert_eq!(fold(&events, todo_reducer).items.len(), 1);
        assert_eq!(fold(&events, stats_reducer).summary().created, 1);
    }

    #[test]
    fn malformed_and_foreign_events_are_ignored() {
        let events = [
            Event::new(TODO_ADDED, json!({"text": "no id"})),
            Event::new(TODO_TOGGLED, json!(42)),
            Event::new("user_signed_in", json!({"id": "a"})),
        ];
        assert_eq!(fold(&events, todo_reducer), TodoState::default());
        assert_eq!(fold(&events, stats_reducer), StatsState::default());
    }

    /// The two views agree with each other after every prefix of a longer history.
    #[test]
    fn the_views_agree_after_every_event() {
        let mut events = Vec::new();
        for i in 0..12 {
            events.push(todo_added(&i.to_string(), "t", i));
        }
        for i in (0..12).step_by(2) {
            events.push(todo_toggled(&i.to_string()));
        }
        for i in (0..12).step_by(3) {
            events.push(todo_deleted(&i.to_string()));
        }
        events.push(todo_toggled("4"));
        for n in 0..=events.len() {
            let todos = fold(&events[..n], todo_reducer);
            let stats = fold(&events[..n], stats_reducer).summary();
            let done = todos.items.iter().filter(|t| t.done).count() as u64;
            assert_eq!(stats.completed, done, "after {n} events");
            assert_eq!(
                stats.open,
                todos.items.len() as u64 - done,
                "after {n} events"
            );
            assert_eq!(stats.created - stats.deleted, todos.items.len() as u64);
        }
    }

    #[test]
    fn utc_is_a_calendar_date_and_time() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400 + 3_661), "2000-02-29 01:01:01 UTC");
        assert_eq!(utc(1_767_225_599), "2025-12-31 23:59:59 UTC");
        assert_eq!(utc(4_107_542_400), "2100-03-01 00:00:00 UTC");
    }
}
