//! Argv patterns: the `commands` of a policy rule.
//!
//! A pattern is written like a command line and split into tokens the way a
//! POSIX shell splits words (quotes honoured, nothing expanded), so
//! `echo 'hello world'` has two tokens. Each token is a glob over exactly one
//! argv element, where `*` matches any run of bytes (`/` included), a
//! bracket expression one byte (`[abc]`, `[a-z]`, `[!-]`) and every other
//! byte is literal. A token that is exactly `**` matches any number of
//! elements, none included. The pattern must account for the whole argv:
//! `ls` matches only a bare `ls`, `ls **` matches `ls` with anything.
//!
//! The first element is compared by its basename (the bytes after the last
//! `/`), so `rm **` also catches `/bin/rm -rf x`: a rule must not be
//! sidestepped by spelling the program's path. A program token that itself
//! contains `/` is the one exception: it is matched against the whole of
//! argv[0], so a policy can single out programs given by path (`*/* **`,
//! `./* **`). Without it, a script an agent just wrote and named `./ls` would
//! pass for `ls`.
//!
//! # Performance
//!
//! Matching is a dynamic programme over (token, element) pairs and each glob
//! is matched with the two-pointer wildcard algorithm, so the cost is
//! polynomial in the sizes of pattern and argv whatever they hold. A policy
//! is evaluated on argv chosen by the actor being gated, so a pattern like
//! `** a ** a ** b` must not be a way to hang ladder.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// A parsed argv pattern. Build it with [`Pattern::parse`].
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// `**`: any number of argv elements.
    AnyElements,
    /// A glob over one element.
    Glob(Vec<u8>),
}

/// A pattern is stored as its text (the embedded policy's precompiled form).
impl serde::Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Pattern, D::Error> {
        let text = String::deserialize(d)?;
        Pattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Splits pattern text into words exactly as `shell_words::split` does.
/// Most patterns quote nothing; splitting those on blanks directly takes the
/// default policy's 300-odd patterns from about a tenth of a millisecond of
/// every `plan` to a few microseconds.
fn split_words(text: &str) -> Result<Vec<String>, shell_words::ParseError> {
    if text.contains(['\'', '"', '\\', '#']) {
        return shell_words::split(text);
    }
    // shell_words' delimiters are exactly these three.
    Ok(text
        .split([' ', '\t', '\n'])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect())
}

impl Pattern {
    /// Parses pattern text such as `git push ** --force **`.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let words =
            split_words(text).map_err(|_| format!("pattern `{text}` has an unbalanced quote"))?;
        if words.is_empty() {
            return Err("empty pattern: a pattern needs at least a program".to_string());
        }
        if let Some(problem) = words.iter().find_map(|w| glob_problem(w.as_bytes())) {
            return Err(format!("pattern `{text}`: {problem}"));
        }
        let tokens = words
            .into_iter()
            .map(|w| {
                if w == "**" {
                    Token::AnyElements
                } else {
                    Token::Glob(w.into_bytes())
                }
            })
            .collect();
        Ok(Pattern {
            text: text.to_string(),
            tokens,
        })
    }

    /// The pattern as written in the policy.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this pattern accounts for the whole of `argv`. An empty argv
    /// matches nothing.
    pub fn matches(&self, argv: &[OsString]) -> bool {
        if argv.is_empty() {
            return false;
        }
        // What `glob` is compared with at position `j`: argv[0] is reduced
        // to its basename unless the glob itself holds a `/`.
        let element = |glob: &[u8], j: usize| -> &[u8] {
            let bytes = argv[j].as_bytes();
            if j == 0 && !glob.contains(&b'/') {
                basename(bytes)
            } else {
                bytes
            }
        };
        // Nearly every pattern starts with its program, and nearly every
        // pattern of a policy fails on it: decide those without the table
        // below and its two allocations (a policy of 400 patterns is
        // evaluated on every plan and every apply).
        if let Some(Token::Glob(first)) = self.tokens.first() {
            if !glob_matches(first, element(first, 0)) {
                return false;
            }
        }
        let m = argv.len();
        // `next[j]`: do tokens[i + 1..] match elements[j..]? Start with the
        // empty token list, which matches only the empty tail.
        let mut next = vec![false; m + 1];
        next[m] = true;
        let mut cur = vec![false; m + 1];
        for token in self.tokens.iter().rev() {
            match token {
                Token::AnyElements => {
                    cur[m] = next[m];
                    for j in (0..m).rev() {
                        cur[j] = next[j] || cur[j + 1];
                    }
                }
                Token::Glob(glob) => {
                    cur[m] = false;
                    for j in (0..m).rev() {
                        cur[j] = next[j + 1] && glob_matches(glob, element(glob, j));
                    }
                }
            }
            std::mem::swap(&mut cur, &mut next);
        }
        next[0]
    }
}

/// The arguments of `argv` that an `options` allowlist judges: every
/// element after the program that starts with `-`, except a lone `-` (by
/// convention standard input, an operand) and everything from a `--`
/// argument on (the conventional end of options; `--` itself is not one).
///
/// Each is taken as written: `--format=x` is one option with its value,
/// `-abc` one bundle (the allowlist splits a bundle only to ask that every
/// letter in it be allowed, see `eval::option_allowed`).
pub fn option_arguments(argv: &[OsString]) -> impl Iterator<Item = &OsString> {
    argv.iter()
        .skip(1)
        .take_while(|a| a.as_bytes() != b"--")
        .filter(|a| {
            let bytes = a.as_bytes();
            bytes.first() == Some(&b'-') && bytes != b"-"
        })
}

/// The bytes after the last `/`.
fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Whether `text` matches `glob`, where `*` matches any run of bytes, a
/// bracket expression one byte of a set (`[abc]`, `[a-z]`) or outside it
/// (`[!abc]`, `[^abc]`), and every other byte is literal. A `[` that no `]`
/// closes is literal; so is a `]` first in a set (`[]x]`).
///
/// On a mismatch the last `*` absorbs one more byte and matching resumes
/// from there; earlier stars never need revisiting, which bounds the work by
/// `glob.len() * text.len()` (times a set's length when one is compared).
pub fn glob_matches(glob: &[u8], text: &[u8]) -> bool {
    let (mut g, mut t) = (0, 0);
    // Position of the last `*` seen and the text position it resumes from.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if glob.get(g) == Some(&b'*') {
            star = Some((g, t));
            g += 1;
            continue;
        }
        match one_byte(glob, g, text[t]) {
            Some(len) => {
                g += len;
                t += 1;
            }
            None => match star {
                Some((sg, st)) => {
                    g = sg + 1;
                    t = st + 1;
                    star = Some((sg, st + 1));
                }
                None => return false,
            },
        }
    }
    glob[g..].iter().all(|&c| c == b'*')
}

/// What is wrong with a glob that would match less than it reads as: a
/// range written backwards (`[z-a]`) matches nothing, so a strict rule
/// holding one would silently let its commands through.
pub fn glob_problem(glob: &[u8]) -> Option<String> {
    let mut g = 0;
    while g < glob.len() {
        if glob[g] == b'[' {
            // Only a bracket that closes is a set; its length is the same
            // whatever byte it is asked about.
            if let Some((len, _)) = bracket(&glob[g..], 0) {
                let set = &glob[g..g + len];
                let body = &set[1..len - 1];
                let body = body
                    .strip_prefix(b"!")
                    .or(body.strip_prefix(b"^"))
                    .unwrap_or(body);
                let mut i = 0;
                while i < body.len() {
                    if body.get(i + 1) == Some(&b'-') && i + 2 < body.len() {
                        if body[i] > body[i + 2] {
                            return Some(format!(
                                "the range `{}-{}` in `{}` is backwards and matches nothing",
                                body[i] as char,
                                body[i + 2] as char,
                                String::from_utf8_lossy(set)
                            ));
                        }
                        i += 3;
                    } else {
                        i += 1;
                    }
                }
                g += len;
                continue;
            }
        }
        g += 1;
    }
    None
}

/// When the glob item at `g` (not a `*`) matches `byte`: how many bytes of
/// the glob it spans.
fn one_byte(glob: &[u8], g: usize, byte: u8) -> Option<usize> {
    match *glob.get(g)? {
        b'[' => match bracket(&glob[g..], byte) {
            Some((len, hit)) => hit.then_some(len),
            None => (byte == b'[').then_some(1),
        },
        c => (c == byte).then_some(1),
    }
}

/// The bracket expression `glob` starts with, as its length and whether
/// `byte` is in it; `None` when no `]` closes it. Ranges compare bytes:
/// `[a-z]` is the 26 lower-case ASCII letters whatever the locale.
fn bracket(glob: &[u8], byte: u8) -> Option<(usize, bool)> {
    let negated = matches!(glob.get(1), Some(b'!' | b'^'));
    let first = if negated { 2 } else { 1 };
    let mut i = first;
    let mut hit = false;
    loop {
        let c = *glob.get(i)?;
        if c == b']' && i > first {
            return Some((i + 1, hit != negated));
        }
        match (glob.get(i + 1), glob.get(i + 2)) {
            (Some(b'-'), Some(&end)) if end != b']' => {
                hit |= (c..=end).contains(&byte);
                i += 3;
            }
            _ => {
                hit |= c == byte;
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::ffi::OsStringExt;
    use std::time::{Duration, Instant};

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn matches(pattern: &str, words: &[&str]) -> bool {
        Pattern::parse(pattern).unwrap().matches(&argv(words))
    }

    #[test]
    fn glob_basics() {
        assert!(glob_matches(b"", b""));
        assert!(!glob_matches(b"", b"a"));
        assert!(glob_matches(b"*", b""));
        assert!(glob_matches(b"*", b"any/thing"));
        assert!(glob_matches(b"prod*", b"prod-eu"));
        assert!(!glob_matches(b"prod*", b"staging-prod"));
        assert!(glob_matches(b"*prod*", b"staging-prod"));
        assert!(glob_matches(b"a*b*c", b"aXbYbc"));
        assert!(!glob_matches(b"a*b*c", b"aXbYbd"));
        assert!(glob_matches(b"of=/dev/*", b"of=/dev/sda"));
        assert!(glob_matches(b"**", b"x"));
    }

    #[test]
    fn bracket_expressions_match_one_byte_of_a_set() {
        // A short-option bundle with an `f` after its first letter.
        assert!(glob_matches(b"-[!-]*f*", b"-qf"));
        assert!(glob_matches(b"-[!-]*f*", b"-uvf"));
        assert!(!glob_matches(b"-[!-]*f*", b"-fq"), "the set takes the f");
        assert!(!glob_matches(b"-[!-]*f*", b"-f"));
        assert!(!glob_matches(b"-[!-]*f*", b"--force"));
        assert!(!glob_matches(b"-[!-]*f*", b"-q"));
        assert!(glob_matches(b"[a-c]x", b"bx"));
        assert!(!glob_matches(b"[a-c]x", b"dx"));
        assert!(glob_matches(b"[^a-c]x", b"dx"));
        assert!(glob_matches(b"v[0-9]*", b"v1.2"));
        assert!(!glob_matches(b"v[0-9]*", b"vx"));
        // `]` first in a set is literal; so is a `-` at either end.
        assert!(glob_matches(b"[]x]", b"]"));
        assert!(glob_matches(b"[!]]", b"a"));
        assert!(!glob_matches(b"[!]]", b"]"));
        assert!(glob_matches(b"[a-]", b"-"));
        assert!(glob_matches(b"[-a]", b"-"));
        // A `[` nothing closes is literal.
        assert!(glob_matches(b"a[b", b"a[b"));
        assert!(!glob_matches(b"a[b", b"ab"));
        assert!(glob_matches(b"[", b"["));
        // A range written backwards is refused, not taken as empty.
        assert!(glob_problem(b"[z-a]x").is_some());
        assert!(Pattern::parse("rm ** -[z-a] **").is_err());
        assert!(glob_problem(b"[a-z]x").is_none());
        assert!(glob_problem(b"[!-]*f*").is_none());
        assert!(glob_problem(b"[a-]").is_none());
        // A set matches exactly one byte.
        assert!(!glob_matches(b"[ab]", b""));
        assert!(!glob_matches(b"[ab]", b"ab"));
    }

    #[test]
    fn whole_argv_must_be_accounted_for() {
        assert!(matches("ls", &["ls"]));
        assert!(!matches("ls", &["ls", "-la"]));
        assert!(matches("ls **", &["ls"]));
        assert!(matches("ls **", &["ls", "-la", "/tmp"]));
        assert!(!matches("ls **", &["lsblk"]));
        assert!(!matches("git status", &["git"]));
    }

    #[test]
    fn double_star_at_start_middle_and_end() {
        assert!(matches("** --force", &["git", "push", "--force"]));
        assert!(matches("** --force", &["--force"]));
        assert!(!matches("** --force", &["git", "--force", "x"]));
        assert!(matches(
            "git ** push ** -f **",
            &["git", "-C", "r", "push", "o", "-f"]
        ));
        assert!(matches(
            "git ** push ** -f **",
            &["git", "push", "-f", "o", "main"]
        ));
        assert!(!matches(
            "git ** push ** -f **",
            &["git", "push", "o", "main"]
        ));
        assert!(matches("kubectl get ** -A", &["kubectl", "get", "-A"]));
        assert!(matches("a ** ** b", &["a", "b"]));
    }

    #[test]
    fn program_is_matched_by_basename() {
        assert!(matches("rm **", &["/usr/bin/rm", "-rf", "x"]));
        assert!(matches("rm **", &["./rm"]));
        assert!(!matches("rm **", &["/usr/bin/rmdir"]));
        assert!(matches("mkfs* **", &["/sbin/mkfs.ext4", "/dev/sdb1"]));
        // Only argv[0] is reduced to its basename.
        assert!(!matches("cat x", &["cat", "/tmp/x"]));
    }

    #[test]
    fn program_token_with_a_slash_matches_the_whole_path() {
        assert!(matches("*/* **", &["./ls", "-la"]));
        assert!(matches("*/* **", &["/usr/bin/rm"]));
        assert!(!matches("*/* **", &["ls", "-la"]));
        assert!(matches("./* **", &["./scripts/deploy.sh", "prod"]));
        assert!(!matches("./* **", &["/bin/ls"]));
        assert!(matches("/bin/rm **", &["/bin/rm", "x"]));
        assert!(!matches("/bin/rm **", &["rm", "x"]));
        // The same holds when `**` lets a later token reach argv[0].
        assert!(matches("** rm", &["/bin/rm"]));
        assert!(matches("** */rm", &["/bin/rm"]));
    }

    #[test]
    fn quoted_tokens_and_glob_characters_in_argv() {
        assert!(matches("echo 'hello world'", &["echo", "hello world"]));
        assert!(!matches("echo 'hello world'", &["echo", "hello", "world"]));
        assert!(matches("echo hello\\ *", &["echo", "hello there"]));
        // A `*` in argv is just a byte: a literal token does not match it,
        // and a literal star in the pattern would be a glob anyway.
        assert!(!matches("rm x", &["rm", "*"]));
        assert!(matches("rm *", &["rm", "*"]));
        assert!(matches("ls *.txt", &["ls", "*.txt"]));
        assert!(matches("rm ''", &["rm", ""]));
        assert!(!matches("rm ''", &["rm", "x"]));
    }

    #[test]
    fn non_utf8_arguments() {
        let bad = OsString::from_vec(vec![b'f', 0xff, b'o']);
        let argv = vec![OsString::from("cat"), bad];
        assert!(Pattern::parse("cat **").unwrap().matches(&argv));
        assert!(Pattern::parse("cat f*o").unwrap().matches(&argv));
        assert!(!Pattern::parse("cat foo").unwrap().matches(&argv));
        let prog = vec![OsString::from_vec(vec![b'/', 0xfe, b'/', b'r', b'm'])];
        assert!(Pattern::parse("rm").unwrap().matches(&prog));
    }

    #[test]
    fn empty_argv_matches_nothing() {
        assert!(!Pattern::parse("**").unwrap().matches(&[]));
        assert!(Pattern::parse("**").unwrap().matches(&argv(&["x"])));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(Pattern::parse("").unwrap_err().contains("empty pattern"));
        assert!(Pattern::parse("   ").unwrap_err().contains("empty pattern"));
        assert!(
            Pattern::parse("echo 'oops")
                .unwrap_err()
                .contains("unbalanced quote")
        );
    }

    #[test]
    fn option_arguments_are_dashed_arguments_before_a_double_dash() {
        let options = |words: &[&str]| -> Vec<String> {
            option_arguments(&argv(words))
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            options(&["git", "log", "-n", "5", "--format=%h", "-pq", "main"]),
            ["-n", "--format=%h", "-pq"]
        );
        // The program is never an option, even if it looks like one.
        assert_eq!(options(&["-x", "a"]), Vec::<String>::new());
        // A lone `-` is an operand; `--` ends the options and is none itself.
        assert_eq!(options(&["cat", "-", "-A"]), ["-A"]);
        assert_eq!(
            options(&["git", "log", "-p", "--", "--exec=x", "-", "--"]),
            ["-p"]
        );
        // `---x` and `-=` start with `-`: options, to be listed or refused.
        assert_eq!(options(&["p", "---x", "-="]), ["---x", "-="]);
        assert_eq!(options(&["p"]), Vec::<String>::new());
    }

    #[test]
    fn as_str_is_the_original_text() {
        assert_eq!(
            Pattern::parse("git  push **").unwrap().as_str(),
            "git  push **"
        );
    }

    #[test]
    fn pathological_backtracking_is_fast() {
        let mut long = vec!["a"; 10_000];
        long[0] = "x";
        let started = Instant::now();
        assert!(!matches("x ** a ** a ** a ** b", &long));
        assert!(matches("x ** a ** a ** a **", &long));
        // And inside one token.
        let text = vec![b'a'; 20_000];
        let glob = b"*a*a*a*a*a*a*a*a*a*b";
        assert!(!glob_matches(glob, &text));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    fn os_words() -> impl Strategy<Value = Vec<OsString>> {
        prop::collection::vec(
            prop::collection::vec(any::<u8>(), 0..8).prop_map(OsString::from_vec),
            0..8,
        )
    }

    proptest! {
        /// The fast path must not change what a pattern means.
        #[test]
        fn splitting_agrees_with_shell_words(text in "[a-z*?\\[\\]= \t\n\r\x0c'\"\\\\#-]{0,40}") {
            let fast = split_words(&text).map_err(|_| ());
            let reference = shell_words::split(&text).map_err(|_| ());
            prop_assert_eq!(fast, reference);
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in ".{0,40}", argv in os_words()) {
            if let Ok(p) = Pattern::parse(&text) {
                let _ = p.matches(&argv);
            }
        }

        #[test]
        fn program_then_double_star_matches_any_arguments(
            prog in "[a-z][a-z0-9_-]{0,8}",
            args in os_words(),
        ) {
            let pattern = Pattern::parse(&format!("{prog} **")).unwrap();
            let mut argv = vec![OsString::from(format!("/usr/bin/{prog}"))];
            argv.extend(args);
            prop_assert!(pattern.matches(&argv));
        }

        #[test]
        fn pattern_of_the_argv_itself_matches_it(
            prog in "[a-z][a-z0-9_-]{0,8}",
            args in prop::collection::vec("[^*\\[\u{0}]{0,10}", 0..8),
        ) {
            let mut words = vec![prog];
            words.extend(args);
            let pattern = Pattern::parse(&shell_words::join(&words)).unwrap();
            let argv: Vec<OsString> = words.iter().map(OsString::from).collect();
            prop_assert!(pattern.matches(&argv));
        }

        #[test]
        fn glob_without_stars_is_equality(a in ".{0,10}", b in ".{0,10}") {
            prop_assume!(!a.contains(['*', '[']));
            prop_assert_eq!(glob_matches(a.as_bytes(), b.as_bytes()), a == b);
        }
    }
}
