//! The page's parts: the list with its form, one row of it, and the statistics panel.

pub mod stats;
pub mod todo_item;
pub mod todo_list;
