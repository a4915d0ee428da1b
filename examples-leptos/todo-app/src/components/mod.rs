//! The page's parts: the history control, the list with its form, one row of it, and the
//! statistics panel.

pub mod history;
pub mod stats;
pub mod todo_item;
pub mod todo_list;
