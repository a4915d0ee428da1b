//! The history control: a slider over the events of the log, and links a step back and forth.

use crate::server::History;
use crate::state::utc;
use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

/// The URL of the page as it was after the first `n` of the log's `events`: `/?at=N`, or `/`
/// (the page of now, which can be changed) once `n` reaches the end.
pub fn href(n: u64, events: u64) -> String {
    if n >= events {
        "/".to_string()
    } else {
        format!("/?at={n}")
    }
}

/// The history control, above the list and the stats.
///
/// Every point of the history is a URL, `/?at=N`: the page as it was after the first `N`
/// events, read-only. Without JavaScript the slider is a plain form (`GET /?at=N`, its "Show"
/// button) and the steps are links. Hydrated, moving the slider navigates at once, without a
/// page load, and the list, the stats and the label follow; the steps navigate in place too.
#[component]
pub fn HistoryBar(
    /// The whole history: how many events the log holds now.
    length: Resource<Result<History, ServerFnError>>,
    /// The point shown, with the event it ends at.
    point: Resource<Result<History, ServerFnError>>,
    /// `at` from the URL: how many events the page folds; `None` for now.
    at: Signal<Option<u64>>,
) -> impl IntoView {
    let navigate = use_navigate();
    view! {
        <section class="card history" class:past=move || at.get().is_some() aria-label="History">
            // Re-rendered only when the log grows, so a slider being dragged stays in place.
            <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || {
                    let navigate = navigate.clone();
                    Suspend::new(async move {
                        match length.await {
                            Ok(history) => control(history.events, at, navigate).into_any(),
                            Err(e) => {
                                view! {
                                    <p class="problem">"Could not read the history: " {e.to_string()}</p>
                                }
                                    .into_any()
                            }
                        }
                    })
                }}
            </Transition>
            <Transition fallback=|| ()>
                {move || {
                    let past = at.get().is_some();
                    Suspend::new(async move { point.await.ok().map(|history| label(history, past)) })
                }}
            </Transition>
        </section>
    }
}

/// The slider, its form, and the steps, for a log of `events` events.
fn control(
    events: u64,
    at: Signal<Option<u64>>,
    navigate: impl Fn(&str, NavigateOptions) + Clone + 'static,
) -> impl IntoView {
    let shown = move || at.get().map_or(events, |n| n.min(events));
    // In the browser only: each move of the slider is a navigation, replacing the entry of the
    // browser's history rather than adding one per step of a drag.
    let on_input = move |ev: leptos::ev::Event| {
        if let Ok(n) = event_target_value(&ev).parse::<u64>() {
            let options = NavigateOptions {
                replace: true,
                scroll: false,
                ..NavigateOptions::default()
            };
            navigate(&href(n, events), options);
        }
    };
    view! {
        <form method="get" action="/" class="history-form">
            <label for="history-at">"History"</label>
            <input
                type="range"
                id="history-at"
                name="at"
                min="0"
                max=events
                step="1"
                value=shown
                prop:value=shown
                disabled=events == 0
                on:input=on_input
            />
            // Hydrated, the slider moves the page by itself and the stylesheet hides this.
            <button type="submit" class="show">"Show"</button>
        </form>
        <nav class="history-steps" aria-label="Move through the history">
            {move || steps(at.get(), events)}
        </nav>
    }
}

/// A step back, a step forward and back to now, as far as each goes.
fn steps(at: Option<u64>, events: u64) -> impl IntoView {
    let shown = at.map_or(events, |n| n.min(events));
    let earlier = (shown > 0).then(|| {
        view! { <a class="step earlier" href=href(shown - 1, events) rel="prev">"← Earlier"</a> }
    });
    let later = (at.is_some() && shown < events).then(|| {
        view! { <a class="step later" href=href(shown + 1, events) rel="next">"Later →"</a> }
    });
    let now = at
        .is_some()
        .then(|| view! { <a class="step now" href="/">"Now"</a> });
    (earlier, later, now)
}

/// Which point is shown, and the event it ends at.
fn label(history: History, past: bool) -> impl IntoView {
    let History { events, shown } = history;
    let head = match (past, shown.events) {
        (false, 0) => "No events yet".to_string(),
        (false, 1) => "Now, after 1 event".to_string(),
        (false, n) => format!("Now, after {n} events"),
        (true, 0) => format!("Before the first of {events} events"),
        (true, n) => format!("After event {n} of {events}"),
    };
    let moment = shown.last.map(|moment| {
        view! { ", " <code>{moment.event_type}</code> " at " <time>{utc(moment.ts)}</time> }
    });
    view! {
        <p class="history-label" aria-live="polite">
            {head}
            {moment}
            "."
            {past.then_some(" Read-only.")}
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_the_history_is_the_page_of_now() {
        assert_eq!(href(0, 5), "/?at=0");
        assert_eq!(href(4, 5), "/?at=4");
        assert_eq!(href(5, 5), "/");
        assert_eq!(href(9, 5), "/");
        assert_eq!(href(0, 0), "/");
    }
}
