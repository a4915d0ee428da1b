//! Live updates: every open page hears about every change to the log, whoever made it.
//!
//! The server follows the log with an eventfold subscription and pushes a `change` event to
//! each open page over server-sent events (`GET /events`); a hydrated page answers by
//! refetching the list and the stats. A page without JavaScript never opens the stream and
//! works as before, a form post and a page load at a time.

#[cfg(feature = "ssr")]
pub use server::{Changes, follow_log, updates};

#[cfg(feature = "ssr")]
mod server {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use eventfold::{EventReader, Since, SubscriptionItem};
    use futures::Stream;
    use std::convert::Infallible;
    use tokio::sync::{broadcast, watch};

    /// The changes to the log, as the end position of the newest event, for every open page;
    /// and whether the server is shutting down, which ends every page's stream.
    #[derive(Clone)]
    pub struct Changes {
        sender: broadcast::Sender<u64>,
        stopping: watch::Receiver<bool>,
    }

    /// Follows the log in `reader` from now on, announcing each new event on the returned
    /// [`Changes`] until `stopping` turns true.
    pub fn follow_log(
        reader: EventReader,
        stopping: watch::Receiver<bool>,
    ) -> std::io::Result<Changes> {
        let mut stream = reader.subscribe(Since::Now)?.into_stream();
        let (sender, _) = broadcast::channel(64);
        let changes = Changes { sender, stopping };
        let announce = changes.sender.clone();
        tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                match item {
                    Ok(SubscriptionItem::Event(event)) => {
                        // No page open: nobody to tell.
                        let _ = announce.send(event.end.offset());
                    }
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("live updates stopped: {e}");
                        return;
                    }
                }
            }
        });
        Ok(changes)
    }

    /// `GET /events`: a `change` event (its data the log's new end) whenever events are
    /// appended; a burst of appends is told as one change. Ends when the server stops.
    pub fn updates(
        changes: &Changes,
    ) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
        let state = (changes.sender.subscribe(), changes.stopping.clone());
        let stream = futures::stream::unfold(state, |(mut heard, mut stopping)| async move {
            let end = next_change(&mut heard, &mut stopping).await?;
            let event = Event::default().event("change").data(end.to_string());
            Some((Ok(event), (heard, stopping)))
        });
        Sse::new(stream).keep_alive(KeepAlive::default())
    }

    /// The newest end once something was appended; `None` when the server stops.
    async fn next_change(
        heard: &mut broadcast::Receiver<u64>,
        stopping: &mut watch::Receiver<bool>,
    ) -> Option<u64> {
        loop {
            tokio::select! {
                _ = stopping.wait_for(|stop| *stop) => return None,
                got = heard.recv() => match got {
                    Ok(mut end) => {
                        while let Ok(later) = heard.try_recv() {
                            end = later;
                        }
                        return Some(end);
                    }
                    // Missed some: the next one still says "changed".
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

/// In the browser: opens `/events` and bumps `changed` at each `change`, so that whatever
/// depends on it refetches. The stream reconnects by itself if the connection drops. Marks
/// `<body data-live>` while it is connected, for tests to wait on.
#[cfg(feature = "hydrate")]
pub fn listen(changed: leptos::prelude::RwSignal<u64>) {
    use leptos::prelude::{Update, document};
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let Ok(source) = web_sys::EventSource::new("/events") else {
        return;
    };
    let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
        changed.update(|n| *n += 1);
    });
    let mark = |connected: bool| {
        move |_: web_sys::Event| {
            if let Some(body) = document().body() {
                let _ = if connected {
                    body.set_attribute("data-live", "")
                } else {
                    body.remove_attribute("data-live")
                };
            }
        }
    };
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(mark(true));
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(mark(false));
    let _ = source.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
    // The listeners and the stream live as long as the page.
    on_change.forget();
    on_open.forget();
    on_error.forget();
    std::mem::forget(source);
}
