//! One row of the list: a toggle button, the text, a delete button.

use crate::server::{DeleteTodo, ToggleTodo};
use crate::state::Todo;
use leptos::prelude::*;

/// One todo. Toggle and delete are each a one-button form posting the todo's id, so they work
/// without JavaScript. The text is rendered as text: Leptos escapes it.
///
/// A todo of the past (not `editable`) has neither: its mark only shows whether it was done.
#[component]
pub fn TodoItem(
    todo: Todo,
    toggle: ServerAction<ToggleTodo>,
    delete: ServerAction<DeleteTodo>,
    /// Whether the page shows now, where a todo can be changed.
    editable: bool,
) -> impl IntoView {
    if !editable {
        let state = if todo.done { "Done" } else { "Not done" };
        return view! {
            <li class="todo past" class:done=todo.done data-id=todo.id>
                <span class="mark" role="img" aria-label=state title=state>
                    {if todo.done { "✓" } else { "" }}
                </span>
                <span class="text">{todo.text}</span>
            </li>
        }
        .into_any();
    }
    let toggle_label = if todo.done {
        "Mark as not done"
    } else {
        "Mark as done"
    };
    // The form children are closures; each gets its own copy of the id.
    let (toggle_id, delete_id) = (todo.id.clone(), todo.id.clone());
    view! {
        <li class="todo" class:done=todo.done data-id=todo.id>
            <ActionForm action=toggle attr:class="toggle-form">
                <input type="hidden" name="id" value=toggle_id.clone()/>
                <button
                    type="submit"
                    class="toggle"
                    title=toggle_label
                    aria-label=toggle_label
                    aria-pressed=todo.done.to_string()
                >
                    <span aria-hidden="true">{if todo.done { "✓" } else { "" }}</span>
                </button>
            </ActionForm>
            <span class="text">{todo.text}</span>
            <ActionForm action=delete attr:class="delete-form">
                <input type="hidden" name="id" value=delete_id.clone()/>
                <button type="submit" class="delete" title="Delete" aria-label="Delete">
                    "×"
                </button>
            </ActionForm>
        </li>
    }
    .into_any()
}
