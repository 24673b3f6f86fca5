//! Text from outside ladder made safe to show: a command line a person
//! could paste into a shell, and strings (reasons, keys, output) that can
//! neither move the cursor nor reorder a line on their terminal.

use base64::Engine as _;
use std::ffi::OsString;

/// The argv's exact bytes in base64, when some element is not UTF-8 (the
/// text form replaces those bytes, so scripts need this to recompute hashes).
pub fn argv_base64(argv: &[OsString]) -> Option<Vec<String>> {
    use std::os::unix::ffi::OsStrExt;
    argv.iter().any(|a| a.to_str().is_none()).then(|| {
        argv.iter()
            .map(|a| base64::engine::general_purpose::STANDARD.encode(a.as_bytes()))
            .collect()
    })
}

pub fn argv_strings(argv: &[OsString]) -> Vec<String> {
    argv.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// An argv as one line a person could paste into a shell. An argument with
/// control characters, bidirectional overrides or bytes that are not UTF-8
/// is written in bash's `$'...'` form (`$'a\nb'`, `$'\xff'`), so what a
/// reviewer reads is exactly what runs, and nothing in it can move the
/// cursor or reorder the line on their terminal.
pub fn argv_line(argv: &[OsString]) -> String {
    use std::os::unix::ffi::OsStrExt;
    argv.iter()
        .map(|arg| match arg.to_str() {
            Some(text) if !text.chars().any(needs_escape) => shell_words::quote(text).into_owned(),
            _ => ansi_c_quote(arg.as_bytes()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Characters that must not reach a terminal as they are: controls (C0,
/// DEL, C1: line breaks, escape sequences), the bidirectional formatting
/// characters that can make text display in another order than it runs
/// ("Trojan Source"), and the Unicode line and paragraph separators.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Not a printable character, as the contract wants keys (and ladder wants
/// actor names): what [`needs_escape`] flags, and the invisible formatting
/// characters (zero-width spaces and joiners, the soft hyphen, the byte
/// order mark) that make two different names look the same.
pub fn is_unprintable(c: char) -> bool {
    needs_escape(c)
        || matches!(c, '\u{00ad}' | '\u{180e}' | '\u{feff}')
        || ('\u{200b}'..='\u{200d}').contains(&c)
        || ('\u{2060}'..='\u{2064}').contains(&c)
}

/// `c` as an escape in bash's `$'...'` notation: `\n`, `\e`, `\x07`; a
/// character beyond ASCII as `\u202e` for reading, or as its UTF-8 bytes
/// (`\xe2\x80\xae`) for a shell word, which bash decodes the same way in
/// every locale (its `\u` depends on the locale).
fn escape_char(c: char, out: &mut String, shell: bool) {
    use std::fmt::Write as _;
    let _ = match c {
        '\n' => write!(out, "\\n"),
        '\r' => write!(out, "\\r"),
        '\t' => write!(out, "\\t"),
        '\u{1b}' => write!(out, "\\e"),
        c if c.is_ascii() => write!(out, "\\x{:02x}", c as u32),
        c if shell => c
            .encode_utf8(&mut [0; 4])
            .bytes()
            .try_for_each(|b| write!(out, "\\x{b:02x}")),
        c => write!(out, "\\u{:04x}", c as u32),
    };
}

/// Bytes as a bash `$'...'` word: printable characters as they are, `'` and
/// `\` escaped, everything [`needs_escape`] and every byte that is not
/// UTF-8 as an escape.
fn ansi_c_quote(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("$'");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\'' => out.push_str("\\'"),
                '\\' => out.push_str("\\\\"),
                c if needs_escape(c) => escape_char(c, &mut out, true),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('\'');
    out
}

/// Free text (a reason, a key, a path, a message) made safe to show on one
/// line of a terminal: what [`needs_escape`] flags is written as an escape
/// (`\n`, `\e`, `\u202e`); everything else, backslashes included, as it is.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    escape_where(text, needs_escape)
}

/// [`printable`] for text of several lines: line breaks are kept.
pub fn printable_lines(text: &str) -> std::borrow::Cow<'_, str> {
    escape_where(text, |c| c != '\n' && needs_escape(c))
}

fn escape_where(text: &str, escape: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(&escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escape(c) {
            escape_char(c, &mut out, false);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_line_writes_controls_and_non_utf8_in_bash_ansi_c_quotes() {
        use std::os::unix::ffi::OsStringExt;
        let argv: Vec<OsString> = vec![
            "echo".into(),
            "multi\nline".into(),
            "x\u{1b}[8mhidden\u{1b}[0m".into(),
            "it's\\".into(),
            "abc\u{202e}fed".into(),
            OsString::from_vec(vec![b'f', 0xff, 0x07]),
        ];
        assert_eq!(
            argv_line(&argv),
            r"echo $'multi\nline' $'x\e[8mhidden\e[0m' 'it'\''s\' $'abc\xe2\x80\xaefed' $'f\xff\x07'"
        );
    }

    /// The line a card shows, pasted into bash, is the argv that runs.

    #[test]
    fn argv_line_round_trips_through_bash() {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let argv: Vec<OsString> = vec![
            "printf".into(),
            "%s\\0".into(),
            "multi\nline".into(),
            "tab\there $HOME `x`".into(),
            "\u{1b}[31m'quoted'\\".into(),
            "\u{85}\u{202e}\u{2069}é".into(),
            OsString::from_vec(vec![0xff, b'a', 0x01, 0x7f]),
            "".into(),
        ];
        let out = std::process::Command::new("bash")
            .args(["-c", &argv_line(&argv)])
            .output()
            .expect("bash runs");
        let want: Vec<u8> = argv[2..]
            .iter()
            .flat_map(|a| a.as_bytes().iter().copied().chain([0]))
            .collect();
        assert_eq!(out.stdout, want, "{}", argv_line(&argv));
    }

    #[test]
    fn printable_escapes_what_could_redraw_a_terminal_and_nothing_else() {
        assert_eq!(
            printable("plain text, C:\\dir, ünïcode"),
            "plain text, C:\\dir, ünïcode"
        );
        assert!(matches!(printable("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(
            printable("safe\u{1b}[1A\u{1b}[2Kfake"),
            r"safe\e[1A\e[2Kfake"
        );
        assert_eq!(printable("a\nb\r\tc\u{7f}\u{85}"), r"a\nb\r\tc\x7f\u0085");
        assert_eq!(
            printable("\u{2067}x\u{2069}\u{2028}"),
            r"\u2067x\u2069\u2028"
        );
        assert_eq!(printable_lines("one\ntwo\u{1b}"), "one\ntwo\\e");
    }

    #[test]
    fn argv_line_quotes_what_a_shell_would_split() {
        let argv: Vec<OsString> = vec!["echo".into(), "hello world".into(), "a'b".into()];
        assert_eq!(argv_line(&argv), r#"echo 'hello world' 'a'\''b'"#);
    }
}
