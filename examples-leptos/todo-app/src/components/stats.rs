//! The statistics panel: a second view over the same events.

use crate::state::Stats;
use leptos::prelude::*;

/// The numbers from the `stats` view. It is folded by its own reducer from the same log as the
/// list; neither view reads the other. On a page of the past they are the view's state at that
/// point.
#[component]
pub fn StatsPanel(
    stats: Resource<Result<Stats, ServerFnError>>,
    /// How many events the page folds, from the URL; `None` for now.
    at: Signal<Option<u64>>,
) -> impl IntoView {
    view! {
        <aside class="card stats" aria-label="Statistics">
            <h2>"Stats"</h2>
            <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match stats.await {
                        Ok(stats) => numbers(stats).into_any(),
                        Err(e) => {
                            view! { <p class="problem">"Could not read the stats: " {e.to_string()}</p> }
                                .into_any()
                        }
                    }
                })}
            </Transition>
            <p class="note">
                {move || match at.get() {
                    None => {
                        view! {
                            "Folded by " <code>"stats_reducer"</code> " into "
                            <code>"views/stats.snapshot.json"</code> "."
                        }
                            .into_any()
                    }
                    Some(_) => {
                        view! {
                            "Folded by " <code>"stats_reducer"</code> " up to that event, by "
                            <code>"state_at"</code> "."
                        }
                            .into_any()
                    }
                }}
            </p>
        </aside>
    }
}

fn numbers(stats: Stats) -> impl IntoView {
    let percent = stats.completion_percent;
    view! {
        <dl class="stat-grid">
            <Stat name="created" label="Created" value=stats.created/>
            <Stat name="completed" label="Completed" value=stats.completed/>
            <Stat name="open" label="Open" value=stats.open/>
            <Stat name="deleted" label="Deleted" value=stats.deleted/>
        </dl>
        <div class="completion" data-stat="completion">
            <div class="completion-label">
                <span>"Completion rate"</span>
                <strong>{format!("{percent}%")}</strong>
            </div>
            <div
                class="meter"
                role="progressbar"
                aria-label="Completion rate"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=percent
            >
                <div class="meter-fill" style=format!("width: {percent}%")></div>
            </div>
        </div>
    }
}

/// One number of the panel; `name` lets tests and styles find it (`[data-stat=open] dd`).
#[component]
fn Stat(name: &'static str, label: &'static str, value: u64) -> impl IntoView {
    view! {
        <div class="stat" data-stat=name>
            <dt>{label}</dt>
            <dd>{value}</dd>
        </div>
    }
}
