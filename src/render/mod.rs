//! Output: the contract's JSON for scripts (`json`), cards and tables for
//! people (`card`), and where each goes (`out`). Nothing here reads state
//! or decides anything; escaping text from outside is [`crate::text`]'s.

mod card;
mod json;
mod out;
mod table;

pub use card::{Paint, excerpt, plan_card, replayed};
pub use json::{FORMAT_VERSION, event_json, execution_json, plan_json};
pub use out::{
    capture_stdout, emit, emit_json, emit_json_lines, emit_json_passing, emit_passing, note,
    note_part, stdout_failed, write_json_lines_stdout, write_json_stdout, write_stdout,
};
pub use table::{Fit, events_table, plans_table};
