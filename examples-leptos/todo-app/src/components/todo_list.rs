//! The add form, the refusal message if any, and the list of todos.

use crate::components::todo_item::TodoItem;
use crate::server::{AddTodo, DeleteTodo, MAX_TODO_CHARS, ToggleTodo};
use crate::state::Todo;
use leptos::prelude::*;

/// The list of todos from the `todos` view, with the form that adds one.
///
/// The form is an [`ActionForm`]: a real `<form method="post" action="/api/add_todo">`, so it
/// works without JavaScript. A [`Transition`] rather than a `Suspense`: hydrated, the old list
/// stays on screen while the new one loads.
///
/// The list of the past (`at` is set) is read-only: no form, no buttons, and a way back to now.
#[component]
pub fn TodoList(
    todos: Resource<Result<Vec<Todo>, ServerFnError>>,
    add: ServerAction<AddTodo>,
    toggle: ServerAction<ToggleTodo>,
    delete: ServerAction<DeleteTodo>,
    /// Why the last action was refused, if it was.
    problem: Signal<Option<String>>,
    /// How many events the page folds, from the URL; `None` for now.
    at: Signal<Option<u64>>,
) -> impl IntoView {
    // Hydrated, the form is not reloaded after an add: empty the input once the todo is
    // recorded, keep the text if it was refused. (Effects run in the browser only.)
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let (Some(Ok(())), Some(input)) = (add.value().get(), input.get()) {
            input.set_value("");
        }
    });
    view! {
        <section class="card todos" aria-label="Todo list">
            <Show when=move || at.get().is_none() fallback=past_note>
                <ActionForm action=add attr:class="add-form">
                    <input
                        node_ref=input
                        type="text"
                        name="text"
                        placeholder="What needs doing?"
                        maxlength=MAX_TODO_CHARS
                        autocomplete="off"
                        autofocus
                        aria-label="New todo"
                    />
                    <button type="submit" class="add">"Add"</button>
                </ActionForm>
            </Show>
            {move || {
                problem
                    .get()
                    .map(|problem| view! { <p class="problem" role="alert">{problem}</p> })
            }}
            <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || {
                    let editable = at.get().is_none();
                    Suspend::new(async move {
                    match todos.await {
                        Ok(items) if items.is_empty() && editable => {
                            view! { <p class="empty">"Nothing to do. Add a todo above."</p> }
                                .into_any()
                        }
                        Ok(items) if items.is_empty() => {
                            view! { <p class="empty">"Nothing to do at that point."</p> }.into_any()
                        }
                        Ok(items) => {
                            view! {
                                <ul class="todo-list">
                                    {items
                                        .into_iter()
                                        .map(|todo| view! { <TodoItem todo toggle delete editable/> })
                                        .collect_view()}
                                </ul>
                            }
                                .into_any()
                        }
                        Err(e) => {
                            view! { <p class="problem">"Could not read the todos: " {e.to_string()}</p> }
                                .into_any()
                        }
                    }
                })
                }}
            </Transition>
        </section>
    }
}

/// In place of the form, on a page of the past.
fn past_note() -> impl IntoView {
    view! {
        <p class="past-note" role="status">
            "The past cannot be changed: this is the list as it was, folded by "
            <code>"state_at"</code> ". " <a href="/">"Back to now"</a>
        </p>
    }
}
