//! Actor names as people read them: when two names are one reviewer, and
//! how a card shows a name so that a lookalike is seen for what it is.
//!
//! ladder counts distinct reviewers by name. `аlice` (Cyrillic `а`,
//! U+0430), `ａｌｉｃｅ` (fullwidth), `al\u{200B}ice` (a zero-width space)
//! and `alice` look the same on a card, and so do `bób` composed and `bób`
//! decomposed (`o` then U+0301); counted as different reviewers they would
//! let one person approve twice, or pass for another. [`identity`] is what
//! such names share, [`same`] compares by it, and [`visible`] is how a card
//! shows a name that is not plain ASCII.

use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization as _;

/// The identity two names share when people cannot tell them apart: the
/// name in NFKC (so compatibility forms count as what they stand for:
/// fullwidth `ａｌｉｃｅ`, mathematical `𝐚𝐥𝐢𝐜𝐞`, the ligature `ﬁ`),
/// then its confusables skeleton as Unicode TR39 defines it
/// ([`unicode_security::skeleton`]: NFD, default-ignorable code points
/// removed, each character replaced by its prototype, NFD again). The
/// default ignorables it removes include the zero-width space and joiners
/// (U+200B to U+200D), the word joiner (U+2060), the byte order mark
/// (U+FEFF), the soft hyphen (U+00AD) and the bidirectional controls, so
/// `al\u{200B}ice` is `alice`.
///
/// The two steps repeat until the result no longer changes, which makes
/// the identity its own identity: a few prototypes hold compatibility
/// characters (`%` becomes `°/₀`, whose `₀` is `0` in NFKC and `0` has the
/// prototype `O`). One round settles every character but eleven (`%`, `‰`
/// and their kin), which take two. The result is in NFD; it
/// is for comparing and keying, not for showing.
///
/// **Case stays.** `Alice` and `alice` are two reviewers, as they were
/// before this module: a reviewer tells them apart on a card at a glance,
/// and this identity is for what the eye cannot separate. Folding case as
/// well cannot be done consistently with TR39, which maps `I` to `l`
/// (they are one glyph in many fonts): `Ian` is `lan`, so folding `Ian`
/// into `ian` too would make `i` and `l` one letter everywhere (`ali` and
/// `all`). The skeleton's own few case merges stand (`I`≡`l`, `0`≡`O`,
/// and non-Latin capitals such as Cyrillic `А` are Latin `A`).
///
/// **Some distinct ASCII names collide**, because TR39 maps some ASCII
/// to ASCII: `m` is `rn`, `1`, `I` and `|` are `l`, `0` is `O`, `` ` ``
/// is `'` and `"` is `''`. Two real reviewers named `marn` and `mam`, or
/// `lan` and `Ian`, are then one reviewer to ladder: the second to approve
/// is told the name already approved, and must approve under a name that
/// does not collide. That is the safe direction: a collision makes
/// approving harder, never easier.
///
/// Deterministic and pure. An ASCII name without `%` takes a fast path
/// (TR39's ASCII mappings applied byte by byte), which the tests hold to
/// the full computation.
pub fn identity(name: &str) -> String {
    if let Some(fast) = ascii_identity(name) {
        return fast;
    }
    let mut current = step(name);
    // Every character settles by the second round (tested); the bound only
    // keeps a pathological string from looping.
    for _ in 0..8 {
        let next = step(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// One round: NFKC, then the TR39 skeleton.
fn step(name: &str) -> String {
    let nfkc: String = name.nfkc().collect();
    unicode_security::skeleton(&nfkc).collect()
}

/// TR39's prototypes for the ASCII characters that have one, all ASCII but
/// `%`'s (which leaves the fast path). NFKC and NFD change no ASCII and no
/// ASCII character is default-ignorable, so for an ASCII name without `%`
/// the identity is these replacements, nothing more.
fn ascii_prototype(b: u8) -> Option<&'static str> {
    Some(match b {
        b'"' => "''",
        b'0' => "O",
        b'1' | b'I' | b'|' => "l",
        b'`' => "'",
        b'm' => "rn",
        _ => return None,
    })
}

fn ascii_identity(name: &str) -> Option<String> {
    if !name.is_ascii() || name.contains('%') {
        return None;
    }
    let mut out = String::with_capacity(name.len() + 4);
    for b in name.bytes() {
        match ascii_prototype(b) {
            Some(proto) => out.push_str(proto),
            None => out.push(char::from(b)),
        }
    }
    Some(out)
}

/// Whether two names are the same reviewer: they have the same
/// [`identity`].
pub fn same(a: &str, b: &str) -> bool {
    a == b || identity(a) == identity(b)
}

/// The name as a card should show it. A plain name ([`is_plain`]) is
/// returned unchanged, borrowed. Otherwise every character outside ASCII
/// is followed by its code point in the usual `U+` notation, in angle
/// brackets: `аlice` (Cyrillic `а`) is shown `а<U+0430>lice`, so a reviewer
/// sees at once that it is not `alice`, and `bób` is `bó<U+00F3>b` composed
/// but `bó<U+0301>b` decomposed.
///
/// The exact form:
///
/// - A character keeps its combining marks: the code points of a letter and
///   the marks on it (those outside ASCII) are listed in one bracket after
///   the whole, separated by spaces (`ó̂<U+0301 U+0302>` for `o`, U+0301,
///   U+0302), so no mark lands on a bracket. A mark with nothing before it
///   to sit on is shown on a dotted circle (`◌́<U+0301>`), which the list
///   then does not name.
/// - A character that would move, hide or break the text around it (what
///   [`crate::text::is_unprintable`] flags: bidirectional controls,
///   zero-width characters, C1 controls, line separators) is shown by its
///   code point alone, never as itself.
/// - ASCII characters are shown as they are, in plain names and in others.
///
/// The form is unambiguous for names ladder accepts as an actor (which
/// refuses what `is_unprintable` flags): every character outside ASCII
/// appears as itself with its code point right after it, so two different
/// names never look alike, and a plain name never looks like one that is
/// not (the latter always shows a character outside ASCII).
pub fn visible(name: &str) -> Cow<'_, str> {
    if is_plain(name) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() * 3);
    // The code points of the character being shown and its marks, written
    // once the next character starts something new.
    let mut pending: Vec<char> = Vec::new();
    // Whether the last thing written can carry a combining mark.
    let mut base = false;
    for c in name.chars() {
        if crate::text::is_unprintable(c) {
            flush(&mut out, &mut pending);
            flush(&mut out, &mut vec![c]);
            base = false;
        } else if unicode_normalization::char::is_combining_mark(c) {
            if !base {
                flush(&mut out, &mut pending);
                out.push('\u{25CC}');
                base = true;
            }
            out.push(c);
            pending.push(c);
        } else {
            flush(&mut out, &mut pending);
            out.push(c);
            if !c.is_ascii() {
                pending.push(c);
            }
            base = true;
        }
    }
    flush(&mut out, &mut pending);
    Cow::Owned(out)
}

/// Writes `<U+XXXX U+YYYY>` for the code points pending, if any, and
/// clears them.
fn flush(out: &mut String, pending: &mut Vec<char>) {
    use std::fmt::Write as _;
    if pending.is_empty() {
        return;
    }
    out.push('<');
    for (i, c) in pending.iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let _ = write!(out, "{sep}U+{:04X}", u32::from(*c));
    }
    out.push('>');
    pending.clear();
}

/// Whether a name is plain: every character in it is ASCII. A card shows
/// a name that is not plain through [`visible`]. (ASCII control characters
/// count as plain here; ladder refuses them in actor names, and
/// [`crate::text::printable`] escapes them wherever text is shown.)
pub fn is_plain(name: &str) -> bool {
    name.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The identity computed without the ASCII fast path.
    fn slow_identity(name: &str) -> String {
        let mut current = step(name);
        loop {
            let next = step(&current);
            if next == current {
                return current;
            }
            current = next;
        }
    }

    #[test]
    fn a_cyrillic_lookalike_is_the_same_reviewer() {
        assert!(same("\u{0430}lice", "alice"));
        assert!(same("\u{0410}lice", "Alice"));
        // All Cyrillic, mixed script or not.
        assert!(same("\u{0440}\u{0430}\u{0443}l", "payl"));
        assert_eq!(identity("\u{0430}lice"), identity("alice"));
    }

    #[test]
    fn composed_and_decomposed_are_the_same_reviewer() {
        let composed = "b\u{00F3}b";
        let decomposed = "bo\u{0301}b";
        assert_ne!(composed, decomposed);
        assert!(same(composed, decomposed));
        // An accent still tells names apart.
        assert!(!same(composed, "bob"));
    }

    #[test]
    fn compatibility_forms_are_what_they_stand_for() {
        assert!(same("\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}", "alice"));
        assert!(same(
            "\u{1D41A}\u{1D425}\u{1D422}\u{1D41C}\u{1D41E}",
            "alice"
        ));
        assert!(same("\u{FB01}ona", "fiona"));
    }

    #[test]
    fn invisible_characters_vanish() {
        for invisible in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{202E}',
            '\u{2066}', '\u{2069}', '\u{200E}', '\u{061C}', '\u{FE0F}',
        ] {
            let name = format!("al{invisible}ice");
            assert!(same(&name, "alice"), "U+{:04X}", u32::from(invisible));
            assert_eq!(identity(&name), identity("alice"));
        }
        assert!(same("\u{FEFF}alice\u{200B}", "alice"));
    }

    #[test]
    fn case_tells_reviewers_apart_but_the_skeletons_own_merges_stand() {
        assert!(!same("Alice", "alice"));
        assert!(!same("BOB", "bob"));
        assert!(!same("Ian", "ian"));
        // TR39: one glyph in many fonts.
        assert!(same("Ian", "lan"));
        assert!(same("1an", "lan"));
        assert!(same("B0B", "BOB"));
    }

    #[test]
    fn tr39_ascii_merges_are_one_reviewer() {
        assert!(same("marn", "mam"));
        assert!(same("rnary", "mary"));
        assert_eq!(identity("mary"), "rnary");
    }

    #[test]
    fn distinct_names_stay_distinct() {
        let names = [
            "alice",
            "bob",
            "ana",
            "anna",
            "carol",
            "dave",
            "alice2",
            "alice-ci",
            "al",
            "Alice",
            "b\u{00F3}b",
            "eve",
            "mallory",
            "ali",
            "all",
        ];
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert!(!same(a, b), "{a} and {b}");
            }
        }
    }

    #[test]
    fn identity_of_the_empty_name_is_empty() {
        assert_eq!(identity(""), "");
        assert_eq!(identity("\u{200B}"), "");
    }

    /// `%`'s prototype holds `₀`, which NFKC makes `0`, whose prototype is
    /// `O`: the steps repeat until nothing changes.
    #[test]
    fn identity_settles_where_a_prototype_is_a_compatibility_form() {
        let once = identity("50%");
        assert_eq!(identity(&once), once);
        assert!(same("50%", "5O\u{00B0}/0"));
    }

    /// Every character on its own: the identity is its own identity, and
    /// two steps always settle it (the loop's bound is never reached).
    #[test]
    fn identity_is_idempotent_for_every_character() {
        let mut failures = Vec::new();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let s = c.to_string();
            let once = step(&s);
            if once == s {
                continue; // Most characters: their own identity.
            }
            let twice = step(&once);
            if step(&twice) != twice {
                failures.push(format!("U+{:04X}", u32::from(c)));
            }
        }
        assert!(failures.is_empty(), "{failures:?}");
    }

    #[test]
    fn the_ascii_fast_path_is_the_full_computation() {
        for b in 0u8..0x80 {
            let s = char::from(b).to_string();
            assert_eq!(identity(&s), slow_identity(&s), "byte {b:#04x}");
            // The table names exactly the ASCII characters with a prototype.
            let has_prototype = unicode_security::skeleton(&s).collect::<String>() != s;
            assert_eq!(
                ascii_prototype(b).is_some() || b == b'%',
                has_prototype,
                "byte {b:#04x}"
            );
        }
    }

    #[test]
    fn visible_leaves_plain_names_alone() {
        assert!(matches!(visible("alice"), Cow::Borrowed("alice")));
        assert!(matches!(visible("ci-bot 2"), Cow::Borrowed(_)));
        assert!(is_plain("alice"));
        assert!(!is_plain("\u{0430}lice"));
        assert!(!is_plain("b\u{00F3}b"));
    }

    #[test]
    fn visible_names_each_character_outside_ascii() {
        assert_eq!(visible("\u{0430}lice"), "\u{0430}<U+0430>lice");
        assert_eq!(visible("b\u{00F3}b"), "b\u{00F3}<U+00F3>b");
        assert_eq!(visible("bo\u{0301}b"), "bo\u{0301}<U+0301>b");
        assert_eq!(
            visible("\u{FF41}l"),
            "\u{FF41}<U+FF41>l",
            "fullwidth, shown as itself"
        );
        assert_eq!(visible("\u{1F600}"), "\u{1F600}<U+1F600>");
        // A letter and its marks, listed together after them.
        assert_eq!(
            visible("\u{0430}\u{0301}\u{0302}x"),
            "\u{0430}\u{0301}\u{0302}<U+0430 U+0301 U+0302>x"
        );
        assert_eq!(
            visible("o\u{0301}\u{0302}"),
            "o\u{0301}\u{0302}<U+0301 U+0302>"
        );
        // A mark with nothing to sit on.
        assert_eq!(visible("\u{0301}al"), "\u{25CC}\u{0301}<U+0301>al");
        // What could move or hide text: its code point alone.
        assert_eq!(visible("al\u{200B}ice"), "al<U+200B>ice");
        assert_eq!(visible("a\u{202E}b\u{0301}"), "a<U+202E>b\u{0301}<U+0301>");
        assert_eq!(
            visible("\u{200B}\u{0301}"),
            "<U+200B>\u{25CC}\u{0301}<U+0301>"
        );
    }

    #[test]
    fn visible_never_shows_what_could_move_or_hide_text() {
        for name in [
            "a\u{202E}b",
            "x\u{2066}y\u{2069}",
            "\u{85}n",
            "a\u{2028}b",
            "\u{FEFF}\u{00AD}z",
        ] {
            let shown = visible(name);
            assert!(
                !shown.chars().any(crate::text::is_unprintable),
                "{name:?} -> {shown:?}"
            );
        }
    }

    #[test]
    fn lookalikes_look_different_on_a_card() {
        let names = [
            "alice",
            "\u{0430}lice",
            "\u{FF41}lice",
            "b\u{00F3}b",
            "bo\u{0301}b",
            "\u{0430}<U+0430>lice",
            "\u{25CC}\u{0301}",
            "\u{0301}",
            "o\u{0301}\u{0302}",
            "o\u{0302}\u{0301}",
        ];
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(visible(a), visible(b), "{a:?} and {b:?}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Names as people type them (ASCII, with TR39's ASCII prototypes
        /// and `%` well represented): the identity is its own identity, and
        /// the fast path agrees with the full computation.
        #[test]
        fn identity_of_ascii_names_is_idempotent(name in "[a-zA-Z0-9 ._@%|`\"m-]{0,24}") {
            let once = identity(&name);
            prop_assert_eq!(identity(&once), once.clone());
            prop_assert_eq!(once, slow_identity(&name));
            prop_assert!(same(&name, &name));
            prop_assert!(matches!(visible(&name), Cow::Borrowed(_)));
        }

        /// Any string at all: idempotent, and `same` is the identity's
        /// equality.
        #[test]
        fn identity_of_any_name_is_idempotent(name in "\\PC{0,12}", other in "\\PC{0,4}") {
            let once = identity(&name);
            prop_assert_eq!(identity(&once), once.clone());
            prop_assert_eq!(same(&name, &other), once == identity(&other));
        }
    }
}
