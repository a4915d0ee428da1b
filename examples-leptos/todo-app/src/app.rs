//! The root component and the HTML shell around it.

use crate::components::{history::HistoryBar, stats::StatsPanel, todo_list::TodoList};
use crate::server::{AddTodo, DeleteTodo, Problem, ToggleTodo, get_history, get_stats, get_todos};
use leptos::hydration::HydrationScripts;
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_query_map;
use leptos_router::{SsrMode, StaticSegment};

/// The whole HTML document. With `hydrate`, it also loads the WebAssembly build from `/pkg`
/// (see `build-hydrate.sh`); without, the page is server-rendered only and ships no script.
pub fn shell(options: LeptosOptions, hydrate: bool) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>"Todos · eventfold"</title>
                <link rel="stylesheet" href="/style.css"/>
                {hydrate.then(|| view! { <HydrationScripts options/> })}
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: one route, `/`, and `/?at=N` for the page as it was after the first `N`
/// events.
///
/// The route renders with [`SsrMode::Async`]: the server waits for the todos and the stats
/// before it sends the page, so a browser without JavaScript gets the full list, not a
/// "Loading..." placeholder.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

/// The history control above the todo list and the statistics panel.
///
/// All three read the same event log through different views. The three actions are the server
/// functions that append events; every resource depends on every action's version and on the
/// live updates' counter, so when the page is hydrated any action, in this window or in any
/// other, refetches the list, the stats and the history. The list and the stats also depend on
/// `at` in the URL, the point of the history shown: without it they are the views' state now;
/// with it, their state after the first `at` events, read-only.
#[component]
fn HomePage() -> impl IntoView {
    let add = ServerAction::<AddTodo>::new();
    let toggle = ServerAction::<ToggleTodo>::new();
    let delete = ServerAction::<DeleteTodo>::new();
    // Bumped whenever the log changes, whoever changed it (see `live`); in the browser only.
    let remote = RwSignal::new(0u64);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| crate::live::listen(remote));
    let changes = move || {
        (
            add.version().get(),
            toggle.version().get(),
            delete.version().get(),
            remote.get(),
        )
    };
    let query = use_query_map();
    let at = Memo::new(move |_| query.read().get("at").and_then(|n| n.parse::<u64>().ok()));
    let at = Signal::from(at);
    let todos = Resource::new(move || (changes(), at.get()), |(_, at)| get_todos(at));
    let stats = Resource::new(move || (changes(), at.get()), |(_, at)| get_stats(at));
    let point = Resource::new(move || (changes(), at.get()), |(_, at)| get_history(at));
    // The length of the history: the slider's end, which moves only when the log grows.
    let length = Resource::new(changes, |_| get_history(None));

    // Why the last action was refused, if it was. Server-rendered, a refused form post comes
    // back as `/?error=CODE` (only known codes are shown); hydrated, the page stays put and
    // the refusal is the action's error.
    let from_url = move || {
        let code = query.read().get("error")?;
        Problem::from_code(&code).map(Problem::message)
    };
    let last_outcome = RwSignal::new(None::<Option<String>>);
    for value in [add.value(), toggle.value(), delete.value()] {
        Effect::new(move |_| {
            if let Some(result) = value.get() {
                last_outcome.set(Some(result.err().map(refusal_message)));
            }
        });
    }
    let problem = Signal::derive(move || last_outcome.get().unwrap_or_else(from_url));

    view! {
        <main class="page">
            <header class="page-header">
                <h1>"Todos"</h1>
                <p class="tagline">
                    "Every change is an event appended to " <code>"data/app.jsonl"</code>
                    "; the list and the stats are two folds over it."
                </p>
            </header>
            <HistoryBar length point at/>
            <div class="columns">
                <TodoList todos add toggle delete problem at/>
                <StatsPanel stats at/>
            </div>
        </main>
    }
}

/// The sentence to show for a failed server function call.
fn refusal_message(error: ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message,
        other => other.to_string(),
    }
}
