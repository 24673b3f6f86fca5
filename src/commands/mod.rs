//! One file per subcommand. Each reads as: parse → rung → render: the flags
//! become a request, a rung of [`crate::rungs`] does the work, and the
//! outcome is shown. What is here is for asking a person on a terminal.

pub mod apply;
pub mod approve;
pub mod cancel;
pub mod completions;
pub mod list;
pub mod log;
pub mod man;
pub mod mcp;
pub mod plan;
pub mod policy;
pub mod reject;
pub mod replay;
pub mod resolve;
pub mod rollback;
pub mod show;
mod sign;
pub mod state;

use crate::error::{Error, Kind, Result};

/// Asks a yes/no question on the terminal (stderr prompt, stdin answer).
pub fn confirm(question: &str) -> Result<bool> {
    let answer = prompt(&format!("{question} [y/N] "))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Prints a prompt on stderr and reads one line from stdin.
pub fn prompt(text: &str) -> Result<String> {
    use std::io::{BufRead, Write};
    let mut err = std::io::stderr();
    let _ = write!(err, "{text}");
    let _ = err.flush();
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::new(Kind::Error, format!("failed to read answer: {e}")))?;
    if n == 0 {
        // End of input is a "no", never a "yes".
        return Ok(String::new());
    }
    Ok(line)
}
