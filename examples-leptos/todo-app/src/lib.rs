//! A todo app whose whole data layer is an [eventfold](eventfold) log.
//!
//! Read [`state`] first (the events and the two reducers), then [`server`] (how the server
//! functions append and read), then [`live`] (how every open page hears of every change). The rest is an ordinary Leptos page, server-rendered by the `ssr`
//! feature (the default) and hydrated in the browser by the WebAssembly build of the `hydrate`
//! feature.

pub mod app;
pub mod components;
pub mod live;
pub mod server;
pub mod state;

/// The entry point of the WebAssembly build: takes over the server-rendered page, so that
/// actions update it in place. Marks `<body data-hydrated>` once done, for tests to wait on.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    leptos::mount::hydrate_body(app::App);
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "");
    }
}
