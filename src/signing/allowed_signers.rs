//! OpenSSH's allowed_signers file, the list `ssh-keygen -Y verify -f FILE`
//! reads to decide who may sign as whom: which principals a key (or a CA's
//! certificates) may sign as, in which namespaces, and when.
//!
//! Written from the format in ssh-keygen(1) (ALLOWED SIGNERS) and from the
//! behaviour of OpenSSH's `sshsig.c` and `match.c`, so that [`check`] decides
//! what `ssh-keygen -Y verify -I principal -n namespace -Overify-time=at`
//! decides on the same file; the tests hold it to the real binary.
//!
//! A line is `principals [options] keytype base64 [comment]`:
//!
//! ```text
//! # comment
//! alice@example.com,bob@example.com ssh-ed25519 AAAA...
//! *@example.com,!mallory@example.com cert-authority,namespaces="ladder-*" ssh-ed25519 AAAA...
//! carol valid-after="20240101Z",valid-before="20261231235959Z" ssh-ed25519 AAAA...
//! ```
//!
//! Where this differs from OpenSSH it is on purpose, and always stricter:
//!
//! - The whole file is parsed up front and the first bad line is an error.
//!   OpenSSH parses a line only when its principals match the requested one,
//!   and skips a malformed line with a log message, so a typo there silently
//!   drops a signer (or keeps one you meant to restrict).
//! - A principal pattern containing whitespace or a control character, an
//!   empty one (`alice,,bob`, `!`), or one of 1023 bytes or more (which
//!   OpenSSH makes match nothing, silently) is refused.
//! - Times must be real calendar dates written in digits (OpenSSH's
//!   `strptime` takes `2024 1 1`-like oddities and rolls 31 February over
//!   into March), with seconds up to 59.
//! - A certificate written as a line's key is refused; OpenSSH accepts it
//!   (on a plain line only that exact certificate then matches, on a
//!   `cert-authority` line its inner key acts as the CA), which is never
//!   what one means to write.
//!
//! [`check`]: AllowedSigners::check

use ssh_key::certificate::CertType;
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, Certificate, HashAlg, PublicKey};

/// Where a file's problem is.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, one line, naming the offending text.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// The parsed lines of an allowed_signers file, in file order.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    entries: Vec<Entry>,
}

/// The key that made a signature: a plain public key, or an OpenSSH
/// certificate.
#[derive(Debug, Clone)]
pub enum SignerKey {
    Plain(KeyData),
    Cert(Box<Certificate>),
}

/// One non-comment line.
#[derive(Debug, Clone)]
struct Entry {
    /// 1-based line number, reported back by `check`.
    line: usize,
    /// The principals field as OpenSSH sees it after unquoting: a pattern
    /// list, matched with [`match_pattern_list`] exactly as written.
    principals: String,
    /// `cert-authority`: `key` is a CA whose user certificates may sign.
    cert_authority: bool,
    /// `namespaces="..."`: a pattern list; `None` allows every namespace.
    namespaces: Option<String>,
    /// `valid-after`, unix seconds, inclusive.
    valid_after: Option<i64>,
    /// `valid-before`, unix seconds, inclusive (OpenSSH refuses only times
    /// strictly after it).
    valid_before: Option<i64>,
    key: KeyData,
}

/// A line's options.
#[derive(Debug, Default, PartialEq)]
struct Options {
    cert_authority: bool,
    namespaces: Option<String>,
    valid_after: Option<i64>,
    valid_before: Option<i64>,
}

/// The characters OpenSSH skips before a line and splits the principals
/// field on (`WHITESPACE` in misc.c).
const LINE_SPACE: [char; 4] = [' ', '\t', '\r', '\n'];

/// What separates options, key type, base64 and comment (sshkey_read and
/// sshkey_advance_past_options look only at these two).
const FIELD_SPACE: [char; 2] = [' ', '\t'];

/// The suffix of every OpenSSH certificate key type.
const CERT_TYPE_SUFFIX: &str = "-cert-v01@openssh.com";

/// OpenSSH copies each subpattern into a 1024-byte buffer and gives up on the
/// whole list (no match) when one does not fit with its terminator.
const MAX_SUBPATTERN: usize = 1023;

impl AllowedSigners {
    /// Parses the whole text; the first problem is returned (line + reason,
    /// e.g. "unknown option `foo`", "valid-after: not a time `2024x`", "not a
    /// public key: ..."). Blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Result<AllowedSigners, ParseError> {
        let mut entries = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            match parse_line(raw) {
                Ok(Some(fields)) => entries.push(Entry::new(line, fields)),
                Ok(None) => {}
                Err(message) => return Err(ParseError { line, message }),
            }
        }
        Ok(AllowedSigners { entries })
    }

    /// Number of entries (comment and blank lines not counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Principals a plain key may sign as in `namespace` at `at` (unix
    /// seconds): for each matching non-cert-authority line whose namespaces
    /// allow `namespace` and whose validity window holds, its principal
    /// patterns that are literal (no `*`/`?`, not negated) and not vetoed by
    /// a negation on the same line. Also returns whether some matching line
    /// had a wildcard principal pattern: such a line lets the key sign as
    /// names nobody can list, so the caller needs the principal named
    /// explicitly. Order: file order, deduplicated.
    pub fn principals_for(&self, key: &KeyData, namespace: &str, at: i64) -> (Vec<String>, bool) {
        let mut literal: Vec<String> = Vec::new();
        let mut wildcard = false;
        let lines = self.entries.iter().filter(|e| {
            !e.cert_authority
                && e.key == *key
                && e.allows_namespace(namespace)
                && e.window_problem("", at).is_none()
        });
        for entry in lines {
            for (negated, pattern) in subpatterns(&entry.principals) {
                if negated {
                    continue;
                }
                if pattern.contains(['*', '?']) {
                    wildcard = true;
                } else if entry.matches_principal(pattern) && !literal.iter().any(|p| p == pattern)
                {
                    literal.push(pattern.to_owned());
                }
            }
        }
        (literal, wildcard)
    }

    /// Whether `signer` may sign as `principal` in `namespace` at time `at`
    /// (unix seconds), as `ssh-keygen -Y verify -I principal -n namespace
    /// -Overify-time=at` would decide. Ok(line number of the first entry
    /// that allows it), or Err(one line saying why not): when some line
    /// names this principal and this key (or the certificate's CA) but
    /// refuses on namespace, time or certificate, the first such refusal;
    /// otherwise that no line lets the key sign as the principal.
    pub fn check(
        &self,
        principal: &str,
        signer: &SignerKey,
        namespace: &str,
        at: i64,
    ) -> Result<usize, String> {
        let mut first_refusal: Option<String> = None;
        for entry in &self.entries {
            if !entry.matches_principal(principal) {
                continue;
            }
            let refusal = match signer {
                SignerKey::Plain(key) if !entry.cert_authority && entry.key == *key => {
                    entry.refusal(principal, namespace, at)
                }
                SignerKey::Cert(cert)
                    if entry.cert_authority && *cert.signature_key() == entry.key =>
                {
                    cert_refusal(cert, principal, at)
                        .or_else(|| entry.refusal(principal, namespace, at))
                }
                _ => continue,
            };
            match refusal {
                None => return Ok(entry.line),
                Some(reason) => {
                    first_refusal.get_or_insert(reason);
                }
            }
        }
        Err(first_refusal.unwrap_or_else(|| no_line(principal, signer)))
    }
}

impl Entry {
    fn new(line: usize, (principals, options, key): (String, Options, KeyData)) -> Entry {
        Entry {
            line,
            principals,
            cert_authority: options.cert_authority,
            namespaces: options.namespaces,
            valid_after: options.valid_after,
            valid_before: options.valid_before,
            key,
        }
    }

    /// OpenSSH's first test of a line: the requested principal must match
    /// its list positively (a negated match vetoes the line).
    fn matches_principal(&self, principal: &str) -> bool {
        match_pattern_list(principal, &self.principals) == ListMatch::Positive
    }

    /// No `namespaces` option allows every namespace; an empty one none.
    fn allows_namespace(&self, namespace: &str) -> bool {
        self.namespaces
            .as_deref()
            .is_none_or(|list| match_pattern_list(namespace, list) == ListMatch::Positive)
    }

    /// Why this line, already matched on principal and key, refuses: its
    /// namespaces, then its validity window (OpenSSH's order).
    fn refusal(&self, principal: &str, namespace: &str, at: i64) -> Option<String> {
        if !self.allows_namespace(namespace) {
            return Some(format!(
                "namespace `{namespace}` is not among {principal}'s namespaces"
            ));
        }
        self.window_problem(principal, at)
    }

    /// `valid-after` refuses times before it, `valid-before` times after it;
    /// both bounds themselves are inside the window, as in OpenSSH.
    fn window_problem(&self, principal: &str, at: i64) -> Option<String> {
        if let Some(after) = self.valid_after.filter(|&after| at < after) {
            return Some(format!(
                "key of `{principal}` is not valid before {} (valid-after)",
                show_time(after)
            ));
        }
        if let Some(before) = self.valid_before.filter(|&before| at > before) {
            return Some(format!(
                "key of `{principal}` expired {} (valid-before)",
                show_time(before)
            ));
        }
        None
    }
}

/// Why a certificate whose CA a `cert-authority` line names may not sign as
/// `principal` at `at`: what OpenSSH's sshkey_cert_check_authority refuses
/// (not a user certificate, outside its own window, no principals, the
/// principal not among them, compared literally), plus its CA signature,
/// which OpenSSH verifies when it reads the certificate from the signature.
/// Critical options are not consulted: `ssh-keygen -Y verify` ignores them.
fn cert_refusal(cert: &Certificate, principal: &str, at: i64) -> Option<String> {
    if cert.cert_type() != CertType::User {
        return Some("the certificate is a host certificate, not a user certificate".into());
    }
    // The certificate's own window is [valid_after, valid_before).
    let at_unsigned = u64::try_from(at).unwrap_or(0);
    if at < 0 || at_unsigned < cert.valid_after() {
        return Some(format!(
            "certificate of `{principal}` is not valid before {}",
            show_cert_time(cert.valid_after())
        ));
    }
    if at_unsigned >= cert.valid_before() {
        return Some(format!(
            "certificate of `{principal}` expired {}",
            show_cert_time(cert.valid_before())
        ));
    }
    if cert.valid_principals().is_empty() {
        return Some("the certificate lists no principals".into());
    }
    if !cert.valid_principals().iter().any(|p| p == principal) {
        return Some(format!(
            "the certificate does not list `{principal}` among its principals ({})",
            cert.valid_principals().join(", ")
        ));
    }
    let ca = cert.signature_key().fingerprint(HashAlg::Sha256);
    if cert.validate_at(at_unsigned, [&ca]).is_err() {
        return Some("the certificate's signature by its CA does not verify".into());
    }
    None
}

/// The refusal when no line even names this principal with this key.
fn no_line(principal: &str, signer: &SignerKey) -> String {
    match signer {
        SignerKey::Plain(_) => {
            format!("no line of allowed_signers lets this key sign as `{principal}`")
        }
        SignerKey::Cert(_) => format!(
            "no cert-authority line of allowed_signers lets this certificate's CA vouch for `{principal}`"
        ),
    }
}

/// A line split into its fields, or `None` for a blank or comment line.
fn parse_line(raw: &str) -> Result<Option<(String, Options, KeyData)>, String> {
    let text = raw.trim_start_matches(LINE_SPACE);
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let (principals, rest) = split_principals(text)?;
    check_principals(&principals)?;
    let (options, key_text) = split_options(rest)?;
    let options = match options {
        Some(text) => parse_options(text)?,
        None => Options::default(),
    };
    let key = parse_key(key_text)?;
    Ok(Some((principals, options, key)))
}

/// The principals field and the rest of the line, split as OpenSSH's
/// `strdelimw` does: at the first whitespace, unless a double quote comes
/// first, in which case the quote is dropped and the field runs on to the
/// next quote (so `"alice,bob"` is `alice,bob`, and `al"ice b"` would be
/// `alice b`, which `check_principals` then refuses).
fn split_principals(text: &str) -> Result<(String, &str), String> {
    let Some(stop) = text.find(|c: char| LINE_SPACE.contains(&c) || c == '"') else {
        return Err("no key after the principals".into());
    };
    let (head, tail) = text.split_at(stop);
    let Some(quoted) = tail.strip_prefix('"') else {
        // `stop` is one ASCII whitespace byte.
        return Ok((head.to_owned(), tail[1..].trim_start_matches(LINE_SPACE)));
    };
    let Some(close) = quoted.find('"') else {
        return Err("unterminated quote in the principals".into());
    };
    let principals = format!("{head}{}", &quoted[..close]);
    Ok((
        principals,
        quoted[close + 1..].trim_start_matches(LINE_SPACE),
    ))
}

/// Refuses principal lists that cannot mean what they look like.
///
/// Whitespace and control characters only get there by quoting, and a name
/// with them reads as something else in every message that prints it; an
/// empty pattern matches only the empty name; a pattern too long for
/// OpenSSH's buffer makes it ignore the whole line.
fn check_principals(list: &str) -> Result<(), String> {
    if list.is_empty() {
        return Err("empty principals field".into());
    }
    if list.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "principals {list:?} contain whitespace or a control character"
        ));
    }
    for (_, pattern) in subpatterns(list) {
        if pattern.is_empty() {
            return Err(format!("empty principal pattern in `{list}`"));
        }
        if pattern.len() >= MAX_SUBPATTERN {
            return Err(format!(
                "principal pattern of {} bytes (OpenSSH takes at most {})",
                pattern.len(),
                MAX_SUBPATTERN - 1
            ));
        }
    }
    Ok(())
}

/// The options field (if any) and the key text after it.
///
/// OpenSSH first tries to read a key where the options would be and takes
/// the field as options when that fails; deciding on whether the first word
/// is a key type is the same split with better errors (a damaged key is
/// reported as a key, not as an unknown option). Options end at the first
/// space or tab outside double quotes, where `\"` does not close a quote.
fn split_options(rest: &str) -> Result<(Option<&str>, &str), String> {
    if rest.is_empty() {
        return Err("missing key after the principals".into());
    }
    let first_word = rest.split(FIELD_SPACE).next().unwrap_or(rest);
    if is_key_type(first_word) {
        return Ok((None, rest));
    }
    let end = options_end(rest).ok_or("unterminated quote in the options")?;
    let (options, key) = rest.split_at(end);
    let key = key.trim_start_matches(FIELD_SPACE);
    if key.is_empty() {
        return Err("missing key after the options".into());
    }
    Ok((Some(options), key))
}

/// Byte offset of the first space or tab outside quotes, or the end; `None`
/// when a quote is left open.
fn options_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b'"') => i += 1,
            b'"' => quoted = !quoted,
            b' ' | b'\t' if !quoted => return Some(i),
            _ => {}
        }
        i += 1;
    }
    (!quoted).then_some(bytes.len())
}

/// A key type OpenSSH would read a key for: one ssh-key knows, or any
/// certificate type (refused later, with a reason).
fn is_key_type(word: &str) -> bool {
    word.ends_with(CERT_TYPE_SUFFIX)
        || word
            .parse::<Algorithm>()
            .is_ok_and(|a| !matches!(a, Algorithm::Other(_)))
}

/// Parses the options field as OpenSSH's sshsigopt_parse does: comma
/// separated, names case-insensitive, values in double quotes, each option
/// at most once, an empty option between two commas tolerated but not a
/// trailing comma, and `valid-before` after `valid-after`.
fn parse_options(text: &str) -> Result<Options, String> {
    let mut options = Options::default();
    let mut rest = text;
    loop {
        let start = rest;
        if let Some(after) = strip_prefix_ignore_case(rest, "cert-authority") {
            options.cert_authority = true;
            rest = after;
        } else if let Some(after) = strip_prefix_ignore_case(rest, "namespaces=") {
            if options.namespaces.is_some() {
                return Err("namespaces given twice".into());
            }
            let (value, after) = dequote(after).map_err(|e| format!("namespaces: {e}"))?;
            options.namespaces = Some(value);
            rest = after;
        } else if let Some(after) = strip_prefix_ignore_case(rest, "valid-after=") {
            rest = time_option("valid-after", after, &mut options.valid_after)?;
        } else if let Some(after) = strip_prefix_ignore_case(rest, "valid-before=") {
            rest = time_option("valid-before", after, &mut options.valid_before)?;
        }
        if rest.is_empty() {
            break;
        }
        let Some(after_comma) = rest.strip_prefix(',') else {
            return Err(format!("unknown option `{}`", first_option(start)));
        };
        if after_comma.is_empty() {
            return Err("the options end with a comma".into());
        }
        rest = after_comma;
    }
    if let (Some(after), Some(before)) = (options.valid_after, options.valid_before) {
        if before <= after {
            return Err("valid-before is not after valid-after".into());
        }
    }
    Ok(options)
}

/// Reads a `valid-after`/`valid-before` value into `slot` and returns what
/// follows it.
fn time_option<'a>(name: &str, text: &'a str, slot: &mut Option<i64>) -> Result<&'a str, String> {
    if slot.is_some() {
        return Err(format!("{name} given twice"));
    }
    let (value, rest) = dequote(text).map_err(|e| format!("{name}: {e}"))?;
    let time = parse_time(&value).ok_or_else(|| format!("{name}: not a time `{value}`"))?;
    *slot = Some(time);
    Ok(rest)
}

/// The option starting `text`, up to the next comma outside quotes, for an
/// error message.
fn first_option(text: &str) -> &str {
    let mut quoted = false;
    let end = text
        .char_indices()
        .find(|&(_, c)| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ',' && !quoted
        })
        .map_or(text.len(), |(i, _)| i);
    &text[..end]
}

/// `prefix` matched ASCII case-insensitively, as OpenSSH's `strncasecmp`
/// does for option names; the rest of `text` if so.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.as_bytes().get(..prefix.len())?;
    // An ASCII prefix matched, so `prefix.len()` is a char boundary.
    head.eq_ignore_ascii_case(prefix.as_bytes())
        .then(|| &text[prefix.len()..])
}

/// A double-quoted option value, `\"` standing for a quote (other
/// backslashes are kept), and what follows the closing quote.
fn dequote(text: &str) -> Result<(String, &str), String> {
    let body = text
        .strip_prefix('"')
        .ok_or("the value must be in double quotes")?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &body[i + 1..])),
            '\\' if body[i + 1..].starts_with('"') => {
                value.push('"');
                chars.next();
            }
            _ => value.push(c),
        }
    }
    Err("missing closing quote".into())
}

/// A time as OpenSSH's parse_absolute_time reads it: `YYYYMMDD`,
/// `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, in UTC when followed by `Z` or `UTC`
/// (any case), else in the local time zone. Times before 1970-01-01T00:00:01
/// are refused, as OpenSSH refuses them (zero means "unset" there).
fn parse_time(text: &str) -> Option<i64> {
    let (digits, utc) = split_zone(text);
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All ASCII digits: every byte offset is a char boundary.
    let field = |from: usize, to: usize| digits.get(from..to).and_then(|s| s.parse::<u8>().ok());
    let year: i32 = digits.get(..4)?.parse().ok()?;
    let month = time::Month::try_from(field(4, 6)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, field(6, 8)?).ok()?;
    let (hour, minute, second) = match digits.len() {
        8 => (0, 0, 0),
        12 => (field(8, 10)?, field(10, 12)?, 0),
        _ => (field(8, 10)?, field(10, 12)?, field(12, 14)?),
    };
    let clock = time::Time::from_hms(hour, minute, second).ok()?;
    let unix = if utc {
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp()
    } else {
        local_to_unix(date, clock)?
    };
    (unix > 0).then_some(unix)
}

/// The time without its zone suffix, and whether that suffix said UTC.
fn split_zone(text: &str) -> (&str, bool) {
    let bytes = text.as_bytes();
    if bytes.len() > 1 && bytes[bytes.len() - 1].eq_ignore_ascii_case(&b'z') {
        return (&text[..text.len() - 1], true);
    }
    let len = bytes.len();
    if len > 3 && bytes[len - 3..].eq_ignore_ascii_case(b"utc") {
        return (&text[..len - 3], true);
    }
    (text, false)
}

/// A local wall-clock time as unix seconds, through `mktime` as OpenSSH
/// does, and with its `tm_isdst = 0`: OpenSSH zeroes the `struct tm` that
/// strptime fills, so in summer a local time is read as standard time (an
/// hour later than the wall clock says). We mirror that so both decide
/// alike.
fn local_to_unix(date: time::Date, clock: time::Time) -> Option<i64> {
    // SAFETY: `libc::tm` is plain integers and one pointer, all valid when
    // zeroed.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = date.year() - 1900;
    tm.tm_mon = i32::from(u8::from(date.month())) - 1;
    tm.tm_mday = i32::from(date.day());
    tm.tm_hour = i32::from(clock.hour());
    tm.tm_min = i32::from(clock.minute());
    tm.tm_sec = i32::from(clock.second());
    tm.tm_isdst = 0;
    // SAFETY: `tm` is a valid, exclusively borrowed `struct tm`; mktime reads
    // it and the process's time zone and normalises it in place.
    let unix = unsafe { libc::mktime(&mut tm) };
    #[allow(clippy::useless_conversion)] // time_t is i32 on some targets
    let unix = i64::from(unix);
    (unix != -1).then_some(unix)
}

/// Reads `keytype base64 [comment]`. The comment is dropped, and a
/// certificate or a key type OpenSSH would not read is refused.
fn parse_key(text: &str) -> Result<KeyData, String> {
    let mut words = text.split(FIELD_SPACE).filter(|w| !w.is_empty());
    let kind = words.next().unwrap_or_default();
    if kind.ends_with(CERT_TYPE_SUFFIX) {
        return Err(format!(
            "not a public key: `{kind}` is a certificate; write the key it certifies, \
             or its CA's key with cert-authority"
        ));
    }
    let Some(base64) = words.next() else {
        return Err(format!("not a public key: `{kind}` without its base64"));
    };
    let key = PublicKey::from_openssh(&format!("{kind} {base64}"))
        .map_err(|e| format!("not a public key: {e}"))?;
    if let Algorithm::Other(name) = key.algorithm() {
        return Err(format!(
            "not a public key: unknown key type `{}`",
            name.as_str()
        ));
    }
    Ok(key.key_data().clone())
}

/// How a name fares against a pattern list (OpenSSH's match_pattern_list:
/// 1, -1, 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListMatch {
    /// Some subpattern matched and no negated one did.
    Positive,
    /// A negated subpattern matched: the list refuses the name outright.
    Negative,
    /// Nothing matched (or a subpattern was too long for OpenSSH).
    None,
}

/// The comma-separated subpatterns of a list, each with whether it was
/// negated by a leading `!`, split exactly as OpenSSH does: a trailing comma
/// adds nothing, `,,` and `!` alone give empty patterns.
fn subpatterns(list: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut rest = Some(list).filter(|l| !l.is_empty());
    std::iter::from_fn(move || {
        let text = rest?;
        let (negated, text) = match text.strip_prefix('!') {
            Some(t) => (true, t),
            None => (false, text),
        };
        let (pattern, after) = text.split_once(',').unwrap_or((text, ""));
        rest = Some(after).filter(|a| !a.is_empty());
        Some((negated, pattern))
    })
}

/// OpenSSH's match_pattern_list with case-sensitive matching: a negated
/// match anywhere wins over positive ones, and a subpattern of
/// [`MAX_SUBPATTERN`] bytes or more ends the search with no match, as
/// OpenSSH's fixed buffer does.
fn match_pattern_list(name: &str, list: &str) -> ListMatch {
    let mut positive = false;
    for (negated, pattern) in subpatterns(list) {
        if pattern.len() >= MAX_SUBPATTERN {
            return ListMatch::None;
        }
        if match_pattern(name.as_bytes(), pattern.as_bytes()) {
            if negated {
                return ListMatch::Negative;
            }
            positive = true;
        }
    }
    if positive {
        ListMatch::Positive
    } else {
        ListMatch::None
    }
}

/// OpenSSH's match_pattern: `*` matches any run of bytes, `?` any one byte
/// (bytes, not characters, as in C: `?` does not match `é`, `??` does),
/// everything else itself. Iterative, resuming after the last `*` on a
/// mismatch, so linear-ish and without recursion on hostile patterns.
fn match_pattern(name: &[u8], pattern: &[u8]) -> bool {
    let (mut n, mut p) = (0, 0);
    // After the last `*` seen: where the pattern resumes, and the name
    // position that `*` has swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                n += 1;
                p += 1;
            }
            _ => match star {
                Some((resume, swallowed)) => {
                    star = Some((resume, swallowed + 1));
                    p = resume;
                    n = swallowed + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// A line's time for a message: the UTC date alone at midnight UTC, else the
/// UTC date and time.
fn show_time(unix: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return format!("{unix} (unix seconds)");
    };
    let (date, clock) = (t.date(), t.time());
    let date = format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    if clock == time::Time::MIDNIGHT {
        date
    } else {
        format!(
            "{date} {:02}:{:02}:{:02} UTC",
            clock.hour(),
            clock.minute(),
            clock.second()
        )
    }
}

/// A certificate's time (unsigned, up to "forever") for a message.
fn show_cert_time(unix: u64) -> String {
    i64::try_from(unix).map_or_else(|_| format!("{unix} (unix seconds)"), show_time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::PrivateKey;
    use ssh_key::certificate::Builder;
    use ssh_key::private::Ed25519Keypair;

    const NS: &str = "ladder-approval-v1";
    /// 2025-01-01T00:00:00Z.
    const T2025: i64 = 1_735_689_600;
    /// 2026-01-01T00:00:00Z.
    const T2026: i64 = 1_767_225_600;
    /// 2030-01-01T00:00:00Z.
    const T2030: i64 = 1_893_456_000;

    /// A deterministic ed25519 key from one seed byte.
    fn private(seed: u8) -> PrivateKey {
        PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
    }

    fn public(seed: u8) -> KeyData {
        private(seed).public_key().key_data().clone()
    }

    /// `type base64` of a seed's key, for writing lines.
    fn openssh(seed: u8) -> String {
        private(seed)
            .public_key()
            .to_openssh()
            .expect("an ed25519 key encodes")
    }

    fn plain(seed: u8) -> SignerKey {
        SignerKey::Plain(public(seed))
    }

    /// A user certificate for key `subject` signed by CA `ca`.
    fn cert(subject: u8, ca: u8, principals: &[&str], after: u64, before: u64) -> Certificate {
        let mut builder =
            Builder::new([7u8; 16], public(subject), after, before).expect("valid window");
        builder.cert_type(CertType::User).expect("cert type");
        builder.key_id("test").expect("key id");
        if principals.is_empty() {
            builder.all_principals_valid().expect("no principals");
        }
        for p in principals {
            builder.valid_principal(*p).expect("principal");
        }
        builder.sign(&private(ca)).expect("the CA signs")
    }

    fn signers(text: &str) -> AllowedSigners {
        match AllowedSigners::parse(text) {
            Ok(s) => s,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn parse_error(text: &str) -> ParseError {
        match AllowedSigners::parse(text) {
            Ok(_) => panic!("{text:?} should not parse"),
            Err(e) => e,
        }
    }

    #[test]
    fn parse_errors_name_the_line_and_the_problem() {
        let a = openssh(1);
        let cases: Vec<(String, usize, &str)> = vec![
            (format!("# c\n\nalice foo {a}"), 3, "unknown option `foo`"),
            (
                format!("alice {a}\nbob cert-authority,foo=\"x,y\",bar {a}"),
                2,
                "unknown option `foo=\"x,y\"`",
            ),
            (
                format!("alice cert-authorityx {a}"),
                1,
                "unknown option `cert-authorityx`",
            ),
            (
                format!("alice valid-after=\"2024x\" {a}"),
                1,
                "valid-after: not a time `2024x`",
            ),
            (
                format!("alice valid-before=\"20240231\" {a}"),
                1,
                "valid-before: not a time `20240231`",
            ),
            (
                format!("alice valid-after=\"19691231Z\" {a}"),
                1,
                "valid-after: not a time `19691231Z`",
            ),
            (
                format!("alice valid-after=\"202401011261Z\" {a}"),
                1,
                "valid-after: not a time",
            ),
            (
                format!("alice valid-after=20240101 {a}"),
                1,
                "valid-after: the value must be in double quotes",
            ),
            (
                format!("alice namespaces=\"x {a}"),
                1,
                "unterminated quote in the options",
            ),
            (
                format!("alice namespaces=\"a\",namespaces=\"b\" {a}"),
                1,
                "namespaces given twice",
            ),
            (
                format!("alice valid-after=\"20250101Z\",valid-before=\"20240101Z\" {a}"),
                1,
                "valid-before is not after valid-after",
            ),
            (
                format!("alice cert-authority, {a}"),
                1,
                "the options end with a comma",
            ),
            (
                "alice ssh-ed25519 AAAAnotbase64".into(),
                1,
                "not a public key: ",
            ),
            ("alice ssh-ed25519".into(), 1, "not a public key: "),
            (
                "alice cert-authority".into(),
                1,
                "missing key after the options",
            ),
            ("alice".into(), 1, "no key after the principals"),
            (
                "\n\n  alice   ".into(),
                3,
                "missing key after the principals",
            ),
            (
                "alice foo@example.com AAAAC3NzaC1lZDI1NTE5AAAAIA".into(),
                1,
                "unknown option `foo@example.com`",
            ),
            (format!("\"alice bob\" {a}"), 1, "whitespace or a control"),
            (format!("\"alice\tbob\" {a}"), 1, "whitespace or a control"),
            (format!("al\u{7}ice {a}"), 1, "whitespace or a control"),
            (
                format!("\"alice {a}"),
                1,
                "unterminated quote in the principals",
            ),
            (format!("alice,,bob {a}"), 1, "empty principal pattern"),
            (format!("alice,! {a}"), 1, "empty principal pattern"),
            (format!("\"\" {a}"), 1, "empty principals field"),
            (
                format!("{} {a}", "x".repeat(1023)),
                1,
                "principal pattern of 1023 bytes",
            ),
        ];
        for (text, line, needle) in cases {
            let e = parse_error(&text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_certificate_is_not_a_line_key() {
        let c = cert(1, 2, &["alice"], 0, 10).to_openssh().expect("encodes");
        let e = parse_error(&format!("alice {c}"));
        assert!(e.message.contains("is a certificate"), "{e}");
        let e = parse_error(&format!("alice cert-authority {c}"));
        assert!(e.message.contains("is a certificate"), "{e}");
    }

    #[test]
    fn comments_blank_lines_and_comments_after_the_key() {
        let text = format!(
            "# header\n\n   \t\n  # indented comment\r\nalice {} alice@laptop with words\n",
            openssh(1)
        );
        let s = signers(&text);
        assert_eq!(s.len(), 1);
        assert!(!s.is_empty());
        assert_eq!(s.check("alice", &plain(1), NS, T2025), Ok(5));
        assert!(signers("# only\n\n").is_empty());
        assert!(signers("").is_empty());
        // Tabs and several spaces between fields.
        let key = openssh(1).replacen(' ', " \t ", 1);
        let s = signers(&format!("alice\t\tnamespaces=\"*\"  \t{key}"));
        assert_eq!(s.check("alice", &plain(1), NS, T2025), Ok(1));
    }

    #[test]
    fn quoted_principals_and_options() {
        let a = openssh(1);
        let s = signers(&format!(
            "\"alice,bob\" NAMESPACES=\"git,{NS}\",Cert-Authority,VALID-AFTER=\"20240101Z\" {a}\n\
             carol namespaces=\"x\\\"y,{NS}\" {a}\n\
             dave ,namespaces=\"{NS}\",,cert-authority {a}"
        ));
        assert_eq!(s.len(), 3);
        let ca = SignerKey::Cert(Box::new(cert(9, 1, &["alice", "bob"], 0, T2030 as u64)));
        assert_eq!(s.check("bob", &ca, NS, T2025), Ok(1));
        assert_eq!(s.check("bob", &ca, "git", T2025), Ok(1));
        assert!(s.check("bob", &ca, "ssh", T2025).is_err());
        // `\"` is a literal quote inside a quoted value.
        assert_eq!(s.check("carol", &plain(1), "x\"y", T2025), Ok(2));
        assert_eq!(s.check("carol", &plain(1), NS, T2025), Ok(2));
        // Empty options between commas are tolerated, as OpenSSH does.
        let dave = SignerKey::Cert(Box::new(cert(9, 1, &["dave"], 0, T2030 as u64)));
        assert_eq!(s.check("dave", &dave, NS, T2025), Ok(3));
    }

    #[test]
    fn namespaces_allow_and_refuse() {
        let a = openssh(1);
        let s = signers(&format!(
            "alice namespaces=\"ladder-*,!ladder-test\" {a}\n\
             bob namespaces=\"\" {a}\n\
             carol {a}"
        ));
        assert_eq!(s.check("alice", &plain(1), NS, T2025), Ok(1));
        assert_eq!(
            s.check("alice", &plain(1), "ladder-test", T2025),
            Err("namespace `ladder-test` is not among alice's namespaces".into())
        );
        assert_eq!(
            s.check("alice", &plain(1), "git", T2025),
            Err("namespace `git` is not among alice's namespaces".into())
        );
        // An empty list allows nothing; no list allows everything.
        assert!(s.check("bob", &plain(1), NS, T2025).is_err());
        assert_eq!(s.check("carol", &plain(1), "anything", T2025), Ok(3));
    }

    #[test]
    fn validity_windows_in_utc() {
        let a = openssh(1);
        let s = signers(&format!(
            "alice valid-after=\"20300101Z\" {a}\n\
             bob valid-before=\"20200101Z\" {a}\n\
             carol valid-after=\"202501010000Z\",valid-before=\"20260101000000utc\" {a}\n\
             dave valid-before=\"20250101123000Z\" {a}"
        ));
        assert_eq!(
            s.check("alice", &plain(1), NS, T2025),
            Err("key of `alice` is not valid before 2030-01-01 (valid-after)".into())
        );
        assert_eq!(s.check("alice", &plain(1), NS, T2030), Ok(1));
        assert_eq!(
            s.check("bob", &plain(1), NS, T2025),
            Err("key of `bob` expired 2020-01-01 (valid-before)".into())
        );
        // Both bounds are inside the window.
        assert!(s.check("carol", &plain(1), NS, T2025 - 1).is_err());
        assert_eq!(s.check("carol", &plain(1), NS, T2025), Ok(3));
        assert_eq!(s.check("carol", &plain(1), NS, T2026), Ok(3));
        assert!(s.check("carol", &plain(1), NS, T2026 + 1).is_err());
        assert_eq!(
            s.check("dave", &plain(1), NS, T2026),
            Err("key of `dave` expired 2025-01-01 12:30:00 UTC (valid-before)".into())
        );
    }

    #[test]
    fn time_parsing() {
        assert_eq!(parse_time("20250101Z"), Some(T2025));
        assert_eq!(parse_time("20250101z"), Some(T2025));
        assert_eq!(parse_time("20250101UTC"), Some(T2025));
        assert_eq!(parse_time("202501010001Z"), Some(T2025 + 60));
        assert_eq!(parse_time("20250101000001Z"), Some(T2025 + 1));
        assert_eq!(parse_time("20240229Z"), Some(1_709_164_800));
        for bad in [
            "",
            "Z",
            "2025",
            "2025010Z",
            "20250101 Z",
            "2025-1-01",
            "20250230Z",
            "20250001Z",
            "20251301Z",
            "202501012400Z",
            "20250101000060Z",
            "19700101Z",
            "+2025010Z",
            "２０２５０１０１",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
        // Local time goes through mktime; whatever the zone, it is within a
        // day of the UTC reading.
        let local = parse_time("20250101").expect("a local time");
        assert!((local - T2025).abs() <= 86_400, "{local}");
    }

    #[test]
    fn wildcards_and_negation() {
        let a = openssh(1);
        let s = signers(&format!(
            "*@example.com,!mallory@example.com {a}\n\
             ?ob {a}\n\
             !carol,c* {a}"
        ));
        assert_eq!(s.check("alice@example.com", &plain(1), NS, T2025), Ok(1));
        assert!(
            s.check("mallory@example.com", &plain(1), NS, T2025)
                .is_err()
        );
        assert!(s.check("alice@example.org", &plain(1), NS, T2025).is_err());
        assert_eq!(s.check("bob", &plain(1), NS, T2025), Ok(2));
        assert!(s.check("boob", &plain(1), NS, T2025).is_err());
        assert_eq!(s.check("cecil", &plain(1), NS, T2025), Ok(3));
        assert_eq!(
            s.check("carol", &plain(1), NS, T2025),
            Err("no line of allowed_signers lets this key sign as `carol`".into())
        );
        // Another key, or the right key on a cert-authority line, is no match.
        assert!(s.check("bob", &plain(2), NS, T2025).is_err());
        let ca = signers(&format!("bob cert-authority {a}"));
        assert!(ca.check("bob", &plain(1), NS, T2025).is_err());
    }

    #[test]
    fn the_first_allowing_line_wins_and_the_first_refusal_explains() {
        let a = openssh(1);
        let s = signers(&format!(
            "alice namespaces=\"git\" {a}\n\
             alice valid-before=\"20200101Z\" {a}\n\
             alice {a}\n\
             alice {a}"
        ));
        assert_eq!(s.check("alice", &plain(1), NS, T2025), Ok(3));
        let s = signers(&format!(
            "alice namespaces=\"git\" {a}\nalice valid-before=\"20200101Z\" {a}"
        ));
        assert_eq!(
            s.check("alice", &plain(1), NS, T2025),
            Err("namespace `ladder-approval-v1` is not among alice's namespaces".into())
        );
    }

    #[test]
    fn pattern_matching_mirrors_openssh() {
        let m = |n: &str, p: &str| match_pattern(n.as_bytes(), p.as_bytes());
        assert!(m("", ""));
        assert!(!m("a", ""));
        assert!(m("", "*"));
        assert!(m("abc", "a*c"));
        assert!(m("ac", "a*c"));
        assert!(m("abcbc", "a*bc"));
        assert!(!m("abcb", "a*bc"));
        assert!(m("abc", "***"));
        assert!(m("abc", "a?c"));
        assert!(!m("ac", "a?c"));
        assert!(m("a*c", "a*c"));
        // `?` is one byte: `é` is two.
        assert!(!m("é", "?"));
        assert!(m("é", "??"));
        assert_eq!(match_pattern_list("bob", "alice,bob"), ListMatch::Positive);
        assert_eq!(match_pattern_list("bob", "*,!bob"), ListMatch::Negative);
        assert_eq!(match_pattern_list("bob", "!bob,*"), ListMatch::Negative);
        assert_eq!(match_pattern_list("bob", "alice"), ListMatch::None);
        assert_eq!(match_pattern_list("bob", ""), ListMatch::None);
        assert_eq!(match_pattern_list("", ",x"), ListMatch::Positive);
        assert_eq!(match_pattern_list("x", "x,"), ListMatch::Positive);
        assert_eq!(match_pattern_list("Bob", "bob"), ListMatch::None);
        let long = format!("bob,{}", "y".repeat(MAX_SUBPATTERN));
        assert_eq!(match_pattern_list("bob", &long), ListMatch::None);
        let split: Vec<_> = subpatterns("a,!b,,!,c,").collect();
        assert_eq!(
            split,
            [
                (false, "a"),
                (true, "b"),
                (false, ""),
                (true, ""),
                (false, "c")
            ]
        );
    }

    #[test]
    fn principals_for_lists_literal_names() {
        let a = openssh(1);
        let b = openssh(2);
        let s = signers(&format!(
            "alice,bob {a}\n\
             bob,carol,!carol {a}\n\
             dave namespaces=\"git\" {a}\n\
             erin valid-before=\"20200101Z\" {a}\n\
             frank cert-authority {a}\n\
             grace {b}\n\
             heidi,!x* {a}"
        ));
        assert_eq!(
            s.principals_for(&public(1), NS, T2025),
            (vec!["alice".into(), "bob".into(), "heidi".into()], false)
        );
        assert_eq!(
            s.principals_for(&public(1), "git", T2025),
            (
                vec!["alice".into(), "bob".into(), "dave".into(), "heidi".into()],
                false
            )
        );
        assert_eq!(
            s.principals_for(&public(2), NS, T2025),
            (vec!["grace".into()], false)
        );
        assert_eq!(s.principals_for(&public(3), NS, T2025), (vec![], false));
        let s = signers(&format!("alice,*@example.com {a}\n?ob {b}"));
        assert_eq!(
            s.principals_for(&public(1), NS, T2025),
            (vec!["alice".into()], true)
        );
        assert_eq!(s.principals_for(&public(2), NS, T2025), (vec![], true));
    }

    #[test]
    fn certificates_signed_by_a_trusted_ca() {
        let ca = openssh(10);
        let s = signers(&format!(
            "alice,carol,*@example.com,!mallory@example.com cert-authority {ca}\n\
             bob cert-authority,namespaces=\"git\" {ca}"
        ));
        let signed = |principals: &[&str], after: u64, before: u64| {
            SignerKey::Cert(Box::new(cert(1, 10, principals, after, before)))
        };
        let good = signed(&["alice", "carol", "x@example.com"], 0, T2030 as u64);
        assert_eq!(s.check("alice", &good, NS, T2025), Ok(1));
        assert_eq!(s.check("carol", &good, NS, T2025), Ok(1));
        assert_eq!(s.check("x@example.com", &good, NS, T2025), Ok(1));
        // The file's pattern matches but the certificate does not name him.
        assert_eq!(
            s.check("y@example.com", &good, NS, T2025),
            Err(
                "the certificate does not list `y@example.com` among its principals \
                 (alice, carol, x@example.com)"
                    .into()
            )
        );
        // The certificate names him but the file does not.
        let bad = signed(&["mallory@example.com", "dave"], 0, T2030 as u64);
        assert!(s.check("mallory@example.com", &bad, NS, T2025).is_err());
        assert!(s.check("dave", &bad, NS, T2025).is_err());
        // The certificate's own window is [after, before).
        let window = signed(&["alice"], T2025 as u64, T2026 as u64);
        assert!(s.check("alice", &window, NS, T2025 - 1).is_err());
        assert_eq!(s.check("alice", &window, NS, T2025), Ok(1));
        assert_eq!(
            s.check("alice", &window, NS, T2026),
            Err("certificate of `alice` expired 2026-01-01".into())
        );
        assert_eq!(
            s.check("alice", &window, NS, T2025 - 1),
            Err("certificate of `alice` is not valid before 2025-01-01".into())
        );
        // Namespaces of the cert-authority line apply.
        let bob = signed(&["bob"], 0, T2030 as u64);
        assert_eq!(s.check("bob", &bob, "git", T2025), Ok(2));
        assert!(s.check("bob", &bob, NS, T2025).is_err());
        // Another CA, or a plain line for the CA's key, is no match.
        let other = SignerKey::Cert(Box::new(cert(1, 11, &["alice"], 0, T2030 as u64)));
        assert!(s.check("alice", &other, NS, T2025).is_err());
        let plain_ca = signers(&format!("alice {ca}"));
        assert!(plain_ca.check("alice", &good, NS, T2025).is_err());
        // The subject's own key listed plainly does not admit its certificate.
        let subject = signers(&format!("alice {}", openssh(1)));
        assert!(subject.check("alice", &good, NS, T2025).is_err());
        // No principals: refused (OpenSSH requires a principal list).
        let none = signed(&[], 0, T2030 as u64);
        assert_eq!(
            s.check("alice", &none, NS, T2025),
            Err("the certificate lists no principals".into())
        );
    }

    #[test]
    fn certificates_must_be_user_certificates_with_a_good_signature() {
        let s = signers(&format!("alice cert-authority {}", openssh(10)));
        let mut builder = Builder::new([7u8; 16], public(1), 0, T2030 as u64).expect("window");
        builder.cert_type(CertType::Host).expect("host");
        builder.valid_principal("alice").expect("principal");
        let host = builder.sign(&private(10)).expect("signs");
        assert_eq!(
            s.check("alice", &SignerKey::Cert(Box::new(host)), NS, T2025),
            Err("the certificate is a host certificate, not a user certificate".into())
        );
        // Flip a bit of the CA's signature (the last bytes of the encoding).
        let mut bytes = cert(1, 10, &["alice"], 0, T2030 as u64)
            .to_bytes()
            .expect("encodes");
        if let Some(last) = bytes.last_mut() {
            *last ^= 1;
        }
        let forged = Certificate::from_bytes(&bytes).expect("still decodes");
        assert_eq!(
            s.check("alice", &SignerKey::Cert(Box::new(forged)), NS, T2025),
            Err("the certificate's signature by its CA does not verify".into())
        );
    }

    #[test]
    fn window_of_a_cert_authority_line_applies_to_its_certificates() {
        let s = signers(&format!(
            "alice cert-authority,valid-before=\"20250601Z\" {}",
            openssh(10)
        ));
        let c = SignerKey::Cert(Box::new(cert(1, 10, &["alice"], 0, T2030 as u64)));
        assert_eq!(s.check("alice", &c, NS, T2025), Ok(1));
        assert_eq!(
            s.check("alice", &c, NS, T2026),
            Err("key of `alice` expired 2025-06-01 (valid-before)".into())
        );
    }

    mod fuzz {
        use super::super::*;
        use proptest::prelude::*;

        /// OpenSSH's former recursive match_pattern, as a reference.
        fn reference(s: &[u8], p: &[u8]) -> bool {
            match p.split_first() {
                None => s.is_empty(),
                Some((b'*', rest)) => (0..=s.len()).any(|i| reference(&s[i..], rest)),
                Some((&c, rest)) => match s.split_first() {
                    Some((&d, s_rest)) if c == b'?' || c == d => reference(s_rest, rest),
                    _ => false,
                },
            }
        }

        proptest! {
            #[test]
            fn match_pattern_agrees_with_the_reference(
                s in "[ab*?]{0,8}", p in "[ab*?]{0,8}"
            ) {
                prop_assert_eq!(
                    match_pattern(s.as_bytes(), p.as_bytes()),
                    reference(s.as_bytes(), p.as_bytes())
                );
            }

            #[test]
            fn parse_never_panics(text in "\\PC{0,200}") {
                let _ = AllowedSigners::parse(&text);
            }

            #[test]
            fn parse_never_panics_on_near_lines(
                principals in "[a!*?,\" ]{0,8}",
                options in "[a-z=\",\\\\ -]{0,30}",
                time in "[0-9zZUTC]{0,16}",
            ) {
                let line = format!(
                    "{principals} {options},valid-after=\"{time}\" ssh-ed25519 \
                     AAAAC3NzaC1lZDI1NTE5AAAAIGeRh3h7lq0S6l5fIlM2PfJ8y2rZt6Kz5a1Fq4kq8Xq0"
                );
                let _ = AllowedSigners::parse(&line);
            }
        }
    }

    /// Holds `check` to the real `ssh-keygen -Y verify` over keys,
    /// certificates, files, principals and verify times.
    mod ssh_keygen {
        use super::super::*;
        use base64::Engine as _;
        use std::path::Path;
        use std::process::{Command, Stdio};

        const NS: &str = super::NS;
        const MESSAGE: &[u8] = b"approve plan 42\n";

        fn keygen(dir: &Path, args: &[&str]) -> std::process::Output {
            let out = Command::new("ssh-keygen")
                .current_dir(dir)
                .args(args)
                .env_remove("SSH_AUTH_SOCK")
                .stdin(Stdio::null())
                .output()
                .expect("ssh-keygen runs");
            assert!(
                out.status.success(),
                "ssh-keygen {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out
        }

        fn read(dir: &Path, name: &str) -> String {
            std::fs::read_to_string(dir.join(name)).expect("readable")
        }

        /// The signer's key from an armoured SSHSIG: "SSHSIG", u32 version,
        /// then the public key as a string (a certificate when signed with
        /// one).
        fn signer_of(armoured: &str) -> SignerKey {
            let body: String = armoured
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect();
            let blob = base64::engine::general_purpose::STANDARD
                .decode(body)
                .expect("base64");
            assert_eq!(&blob[..6], b"SSHSIG");
            let len = u32::from_be_bytes(blob[10..14].try_into().expect("4 bytes")) as usize;
            let key = &blob[14..14 + len];
            let kind_len = u32::from_be_bytes(key[..4].try_into().expect("4 bytes")) as usize;
            let kind = std::str::from_utf8(&key[4..4 + kind_len]).expect("utf-8");
            if kind.ends_with(CERT_TYPE_SUFFIX) {
                SignerKey::Cert(Box::new(
                    Certificate::from_bytes(key).expect("a certificate"),
                ))
            } else {
                SignerKey::Plain(
                    PublicKey::from_bytes(key)
                        .expect("a key")
                        .key_data()
                        .clone(),
                )
            }
        }

        #[test]
        fn check_agrees_with_ssh_keygen_verify() {
            if Command::new("ssh-keygen").arg("-?").output().is_err() {
                eprintln!("ssh-keygen not found: skipping the interoperability test");
                return;
            }
            let tmp = tempfile::tempdir().expect("tempdir");
            let dir = tmp.path();
            for k in ["alice", "bob", "ca", "ca2"] {
                keygen(dir, &["-t", "ed25519", "-N", "", "-C", k, "-f", k, "-q"]);
            }
            // Certificates for alice's key, each beside its own copy of the
            // private key (ssh-keygen finds `k` from `k-cert.pub`).
            let certs: [(&str, &[&str]); 5] = [
                (
                    "c-good",
                    &["-s", "ca", "-n", "alice,carol", "-V", "20240101Z:20300101Z"],
                ),
                (
                    "c-early",
                    &["-s", "ca", "-n", "alice", "-V", "20280101Z:20290101Z"],
                ),
                (
                    "c-host",
                    &["-s", "ca", "-h", "-n", "alice", "-V", "20240101Z:20300101Z"],
                ),
                (
                    "c-ca2",
                    &["-s", "ca2", "-n", "alice,bob", "-V", "20240101Z:20300101Z"],
                ),
                ("c-none", &["-s", "ca", "-V", "20240101Z:20300101Z"]),
            ];
            for (name, args) in certs {
                std::fs::copy(dir.join("alice"), dir.join(name)).expect("copy");
                std::fs::copy(dir.join("alice.pub"), dir.join(format!("{name}.pub")))
                    .expect("copy");
                let mut all = vec!["-I", name];
                all.extend_from_slice(args);
                let pubfile = format!("{name}.pub");
                all.push(&pubfile);
                keygen(dir, &all);
            }
            // `-Y sign -f k` signs with the plain key even when k-cert.pub
            // lies beside it: ssh-keygen loads the public key from `k` or
            // `k.pub` only (sshkey_load_public), and grafts a certificate on
            // only when the path given is the certificate itself
            // (load_sign_key strips `-cert.pub` to find the private key). So
            // the certificate signers sign with `-f NAME-cert.pub`.
            let signing: [(&str, &str); 7] = [
                ("alice", "alice"),
                ("bob", "bob"),
                ("c-good", "c-good-cert.pub"),
                ("c-early", "c-early-cert.pub"),
                ("c-host", "c-host-cert.pub"),
                ("c-ca2", "c-ca2-cert.pub"),
                ("c-none", "c-none-cert.pub"),
            ];
            let mut signed = Vec::new();
            for (name, key) in signing {
                let msg = format!("msg-{name}");
                std::fs::write(dir.join(&msg), MESSAGE).expect("write");
                keygen(dir, &["-Y", "sign", "-f", key, "-n", NS, &msg]);
                let sig = format!("{msg}.sig");
                let signer = signer_of(&read(dir, &sig));
                signed.push((name, sig, signer));
            }
            // The plain key of `-f c-good` with its cert beside it.
            std::fs::write(dir.join("msg-side"), MESSAGE).expect("write");
            keygen(dir, &["-Y", "sign", "-f", "c-good", "-n", NS, "msg-side"]);
            assert!(matches!(
                signer_of(&read(dir, "msg-side.sig")),
                SignerKey::Plain(_)
            ));

            let key = |k: &str| read(dir, &format!("{k}.pub")).trim().to_owned();
            let (alice, bob, ca, ca2) = (key("alice"), key("bob"), key("ca"), key("ca2"));
            let files: Vec<String> = vec![
                format!("alice {alice}\n\"bob,carol\" {bob}\n"),
                format!("*,!mallory {alice}\n?ob {bob}\na*,!alice-bot {bob}\n"),
                format!(
                    "alice namespaces=\"ladder-*,!ladder-test\" {alice}\n\
                     bob namespaces=\"git\" {bob}\n\
                     carol NAMESPACES=\"git,{NS}\" {bob}\n\
                     mallory namespaces=\"\" {alice}\n"
                ),
                format!(
                    "alice valid-after=\"20240101Z\",valid-before=\"20260101Z\" {alice}\n\
                     bob valid-after=\"20300101Z\" {bob}\n\
                     carol valid-before=\"20250101000000Z\" {bob}\n\
                     mallory VALID-AFTER=\"20240101\" {alice}\n"
                ),
                format!("alice,carol cert-authority {ca}\nbob cert-authority {ca2}\n"),
                format!(
                    "*,!carol cert-authority,namespaces=\"{NS}\",valid-before=\"20290101Z\" {ca}\n\
                     # the CA's key plainly, and alice's key as a CA\n\
                     alice {ca2}\nbob cert-authority {alice}\n"
                ),
                format!(
                    "# nothing for the certificates here\n\n\
                     alice,bob namespaces=\"other\" {alice}\n\
                     alice-bot {alice}\n"
                ),
                format!(
                    "alice namespaces=\"x\\\"y,{NS}\",cert-authority {ca}\n\
                     \"alice-bot\" {bob}\n"
                ),
            ];
            let principals = ["alice", "bob", "carol", "mallory", "alice-bot"];
            let times: [(&str, i64); 5] = [
                ("20250101000000Z", 1_735_689_600),
                ("20260101000000Z", 1_767_225_600),
                ("20260101000001Z", 1_767_225_601),
                ("20280601000000Z", 1_843_430_400),
                ("20310101000000Z", 1_924_992_000),
            ];
            // One thread per file: some 1400 ssh-keygen runs.
            let results: Vec<(usize, usize, Vec<String>)> = std::thread::scope(|scope| {
                let runs: Vec<_> = files
                    .iter()
                    .enumerate()
                    .map(|(index, text)| {
                        let signed = &signed;
                        scope.spawn(move || {
                            compare_file(dir, index, text, signed, &principals, &times)
                        })
                    })
                    .collect();
                runs.into_iter()
                    .map(|run| run.join().expect("a comparison thread"))
                    .collect()
            });
            let cases: usize = results.iter().map(|r| r.0).sum();
            let allowed: usize = results.iter().map(|r| r.1).sum();
            let mismatches: Vec<String> = results.into_iter().flat_map(|r| r.2).collect();
            assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
            eprintln!("ssh-keygen agreement: {cases} cases, {allowed} allowed");
            assert!(
                allowed >= 40 && cases - allowed >= 40,
                "{allowed} of {cases}"
            );
        }

        /// Writes allowed_signers file `index` and compares every
        /// (signer, principal, time) on it: (cases, allowed by ssh-keygen,
        /// disagreements).
        fn compare_file(
            dir: &Path,
            index: usize,
            text: &str,
            signed: &[(&str, String, SignerKey)],
            principals: &[&str],
            times: &[(&str, i64)],
        ) -> (usize, usize, Vec<String>) {
            let file = format!("allowed-{index}");
            std::fs::write(dir.join(&file), text).expect("write");
            let ours = signers_for(text);
            let (mut cases, mut allowed, mut mismatches) = (0, 0, Vec::new());
            for (name, sig, signer) in signed {
                for &principal in principals {
                    for &(stamp, at) in times {
                        let theirs = verify(dir, &file, principal, sig, name, stamp);
                        let mine = ours.check(principal, signer, NS, at);
                        cases += 1;
                        allowed += usize::from(theirs);
                        if theirs != mine.is_ok() {
                            mismatches.push(format!(
                                "file {index}, signer {name}, -I {principal}, at {stamp}: \
                                 ssh-keygen {theirs}, ours {mine:?}"
                            ));
                        }
                    }
                }
            }
            (cases, allowed, mismatches)
        }

        fn signers_for(text: &str) -> AllowedSigners {
            match AllowedSigners::parse(text) {
                Ok(s) => s,
                Err(e) => panic!("{text:?}: {e}"),
            }
        }

        /// `ssh-keygen -Y verify`'s verdict.
        fn verify(
            dir: &Path,
            file: &str,
            principal: &str,
            sig: &str,
            name: &str,
            at: &str,
        ) -> bool {
            let message = std::fs::File::open(dir.join(format!("msg-{name}"))).expect("message");
            Command::new("ssh-keygen")
                .current_dir(dir)
                .args([
                    "-Y", "verify", "-f", file, "-I", principal, "-n", NS, "-s", sig,
                ])
                .arg(format!("-Overify-time={at}"))
                .stdin(message)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("ssh-keygen runs")
                .success()
        }
    }
}
