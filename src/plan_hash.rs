//! The plan hash: a sha256 over a canonical serialization of everything that
//! defines an action, and nothing else: no plan ids, no clock times, no
//! actor. (Version 2 binds files by their `stat` identity, so the same
//! content hashes the same on the same files, not on any machine.)
//!
//! # Canonical form (version 1)
//!
//! The serialization is a byte string: the line `ladder-plan-v1\n`, then a
//! sequence of records. A record is `TAG SP LEN ":" BYTES "\n"`, where TAG is
//! a lowercase ASCII word, SP one space, LEN the decimal length of BYTES.
//! Length prefixes make the form unambiguous for any argv, including
//! arguments that contain spaces, newlines or bytes that are not UTF-8.
//! Records, in this order:
//!
//! 1. `key` — the idempotency key.
//! 2. `argc` — the number of argv elements in decimal, then one `arg` record
//!    per element, in order (raw bytes).
//! 3. `cwd` — the absolute working directory (raw bytes).
//! 4. one `env` record per bound variable, sorted by name (bytewise):
//!    `NAME=` followed by the lowercase hex sha256 of the value, or
//!    `NAME` followed by `!unset` when the variable was not set. Values enter
//!    only as digests, so the form can be shown without leaking secrets.
//! 5. `dry-run-argc` — the dry-run's argv length in decimal (`0` when the
//!    plan has no dry-run; then the next records are absent), one
//!    `dry-run-arg` record per element, `dry-run-exit` (decimal exit code,
//!    128+N for signal N), `dry-run-stdout-sha256` and `dry-run-stderr-sha256`
//!    (lowercase hex digests of the whole streams).
//!
//! The hash is the lowercase hex sha256 of that byte string. The README
//! carries a short script that recomputes it.
//!
//! # Version 2
//!
//! Version 1 fixed what the command says; version 2 also fixes what it runs
//! ([`crate::binding`]). The first line is `ladder-plan-v2\n`, and after
//! `cwd` come:
//!
//! - `cwd-id` — the directory's `dev:ino`;
//! - `program` — the absolute path apply runs (raw bytes), and
//!   `program-id` — its `dev:ino:size:mtime_ns:ctime_ns`, or `missing`;
//! - `file-count` — how many files an interpreter or wrapper is given
//!   ([`Binding::files`]), then per file `file` (its absolute path) and
//!   `file-id` (its identity).
//!
//! The `env` records then hold every bound variable: those named with
//! `--env`, those a rule's conditions look at, and the loader environment.
//! Plans are made in version 2; version 1 is kept so that plans and ledgers
//! written before still verify.

use crate::binding::Binding;
// Where the digests were first defined; kept here for their many callers.
pub use crate::digest::sha256_hex;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Everything the hash covers.
#[derive(Debug, Clone)]
pub struct HashInput<'a> {
    pub key: &'a str,
    pub argv: &'a [OsString],
    pub cwd: &'a Path,
    /// Bound variable name → sha256 hex of its value, `None` when unset.
    pub env: &'a BTreeMap<String, Option<String>>,
    pub dry_run: Option<DryRunDigest<'a>>,
    /// `Some`: version 2, which binds the program, its files and directory.
    /// `None`: version 1, as plans made before version 2 were hashed.
    pub binding: Option<&'a Binding>,
}

/// The part of a dry-run that the hash covers.
#[derive(Debug, Clone)]
pub struct DryRunDigest<'a> {
    pub argv: &'a [OsString],
    pub exit_code: i32,
    pub stdout_sha256: &'a str,
    pub stderr_sha256: &'a str,
}

/// Appends one `TAG SP LEN ":" BYTES "\n"` record (shared with the ledger).
pub(crate) fn record(out: &mut Vec<u8>, tag: &str, bytes: &[u8]) {
    out.extend_from_slice(tag.as_bytes());
    out.push(b' ');
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
    out.push(b'\n');
}

/// The canonical byte string described in the module docs.
pub fn canonical(input: &HashInput) -> Vec<u8> {
    let mut out = match input.binding {
        None => b"ladder-plan-v1\n".to_vec(),
        Some(_) => b"ladder-plan-v2\n".to_vec(),
    };
    record(&mut out, "key", input.key.as_bytes());
    record(&mut out, "argc", input.argv.len().to_string().as_bytes());
    for arg in input.argv {
        record(&mut out, "arg", arg.as_bytes());
    }
    record(&mut out, "cwd", input.cwd.as_os_str().as_bytes());
    if let Some(b) = input.binding {
        record(&mut out, "cwd-id", b.cwd_id.as_bytes());
        record(&mut out, "program", b.program.path.as_os_str().as_bytes());
        record(&mut out, "program-id", b.program.id.as_bytes());
        record(&mut out, "file-count", b.files.len().to_string().as_bytes());
        for f in &b.files {
            record(&mut out, "file", f.path.as_os_str().as_bytes());
            record(&mut out, "file-id", f.id.as_bytes());
        }
    }
    for (name, digest) in input.env {
        let entry = match digest {
            Some(d) => format!("{name}={d}"),
            None => format!("{name}!unset"),
        };
        record(&mut out, "env", entry.as_bytes());
    }
    match &input.dry_run {
        None => record(&mut out, "dry-run-argc", b"0"),
        Some(d) => {
            record(
                &mut out,
                "dry-run-argc",
                d.argv.len().to_string().as_bytes(),
            );
            for arg in d.argv {
                record(&mut out, "dry-run-arg", arg.as_bytes());
            }
            record(&mut out, "dry-run-exit", d.exit_code.to_string().as_bytes());
            record(
                &mut out,
                "dry-run-stdout-sha256",
                d.stdout_sha256.as_bytes(),
            );
            record(
                &mut out,
                "dry-run-stderr-sha256",
                d.stderr_sha256.as_bytes(),
            );
        }
    }
    out
}

/// The plan hash: lowercase hex sha256 of [`canonical`].
///
/// ```
/// use ladder::plan_hash::{digest, sha256_hex, HashInput};
/// use std::collections::BTreeMap;
/// let argv = vec!["true".into()];
/// let env = BTreeMap::new();
/// let input = HashInput { key: "k", argv: &argv, cwd: "/".as_ref(), env: &env, dry_run: None, binding: None };
/// let expected = b"ladder-plan-v1\nkey 1:k\nargc 1:1\narg 4:true\ncwd 1:/\ndry-run-argc 1:0\n";
/// assert_eq!(digest(&input), sha256_hex(expected));
/// ```
pub fn digest(input: &HashInput) -> String {
    sha256_hex(&canonical(input))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::PathBuf;

    fn argv(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    #[test]
    fn known_answer_without_dry_run() {
        // Written out by hand from the module docs: if this breaks, every
        // recorded plan hash in the world stops matching.
        let env = BTreeMap::from([
            ("A".to_string(), Some(sha256_hex(b"1"))),
            ("B".to_string(), None),
        ]);
        let cmd = argv(&["echo", "hello world"]);
        let input = HashInput {
            key: "k1",
            argv: &cmd,
            cwd: Path::new("/tmp"),
            env: &env,
            dry_run: None,
            binding: None,
        };
        let expected = format!(
            "ladder-plan-v1\nkey 2:k1\nargc 1:2\narg 4:echo\narg 11:hello world\ncwd 4:/tmp\n\
             env 66:A={}\nenv 7:B!unset\ndry-run-argc 1:0\n",
            sha256_hex(b"1")
        );
        assert_eq!(String::from_utf8(canonical(&input)).unwrap(), expected);
        assert_eq!(digest(&input), sha256_hex(expected.as_bytes()));
    }

    #[test]
    fn known_answer_with_dry_run() {
        let env = BTreeMap::new();
        let cmd = argv(&["kubectl", "apply", "-f", "x.yaml"]);
        let dry = argv(&["kubectl", "diff", "-f", "x.yaml"]);
        let input = HashInput {
            key: "deploy",
            argv: &cmd,
            cwd: Path::new("/srv"),
            env: &env,
            dry_run: Some(DryRunDigest {
                argv: &dry,
                exit_code: 1,
                stdout_sha256: "aa",
                stderr_sha256: "bb",
            }),
            binding: None,
        };
        let expected = "ladder-plan-v1\nkey 6:deploy\nargc 1:4\narg 7:kubectl\narg 5:apply\narg 2:-f\n\
             arg 6:x.yaml\ncwd 4:/srv\ndry-run-argc 1:4\ndry-run-arg 7:kubectl\ndry-run-arg 4:diff\n\
             dry-run-arg 2:-f\ndry-run-arg 6:x.yaml\ndry-run-exit 1:1\ndry-run-stdout-sha256 2:aa\n\
             dry-run-stderr-sha256 2:bb\n";
        assert_eq!(String::from_utf8(canonical(&input)).unwrap(), expected);
    }

    #[test]
    fn known_answer_version_2_binds_program_files_and_directory() {
        use crate::binding::BoundFile;
        let env = BTreeMap::from([("PATH".to_string(), Some("ab".to_string()))]);
        let cmd = argv(&["bash", "job.sh"]);
        let binding = Binding {
            program: BoundFile {
                path: "/bin/bash".into(),
                id: "1:2:3:4:5".into(),
            },
            files: vec![BoundFile {
                path: "/srv/job.sh".into(),
                id: "1:9:10:11:12".into(),
            }],
            cwd_id: "1:7".into(),
        };
        let input = HashInput {
            key: "k",
            argv: &cmd,
            cwd: Path::new("/srv"),
            env: &env,
            dry_run: None,
            binding: Some(&binding),
        };
        let expected = "ladder-plan-v2\nkey 1:k\nargc 1:2\narg 4:bash\narg 6:job.sh\ncwd 4:/srv\n\
             cwd-id 3:1:7\nprogram 9:/bin/bash\nprogram-id 9:1:2:3:4:5\nfile-count 1:1\n\
             file 11:/srv/job.sh\nfile-id 12:1:9:10:11:12\nenv 7:PATH=ab\ndry-run-argc 1:0\n";
        assert_eq!(String::from_utf8(canonical(&input)).unwrap(), expected);
        let v1 = HashInput {
            binding: None,
            ..input.clone()
        };
        assert_ne!(digest(&input), digest(&v1));
    }

    #[derive(Debug, Clone)]
    struct Content {
        key: String,
        argv: Vec<String>,
        cwd: String,
        env: BTreeMap<String, Option<String>>,
        dry: Option<(Vec<String>, i32, String, String)>,
    }

    fn content() -> impl Strategy<Value = Content> {
        (
            "[ -~]{1,12}",
            prop::collection::vec("[ -~]{0,6}", 1..5),
            "/[a-z/ ]{0,8}",
            prop::collection::btree_map("[A-Z]{1,3}", prop::option::of("[0-9a-f]{4}"), 0..3),
            prop::option::of((
                prop::collection::vec("[ -~]{0,6}", 1..3),
                -1i32..3,
                "[0-9a-f]{4}",
                "[0-9a-f]{4}",
            )),
        )
            .prop_map(|(key, argv, cwd, env, dry)| Content {
                key,
                argv,
                cwd,
                env,
                dry,
            })
    }

    fn hash_of(c: &Content) -> String {
        let argv: Vec<OsString> = c.argv.iter().map(OsString::from).collect();
        let dry_argv: Vec<OsString> = c
            .dry
            .as_ref()
            .map(|d| d.0.iter().map(OsString::from).collect())
            .unwrap_or_default();
        let cwd = PathBuf::from(&c.cwd);
        digest(&HashInput {
            key: &c.key,
            argv: &argv,
            cwd: &cwd,
            env: &c.env,
            dry_run: c.dry.as_ref().map(|d| DryRunDigest {
                argv: &dry_argv,
                exit_code: d.1,
                stdout_sha256: &d.2,
                stderr_sha256: &d.3,
            }),
            binding: None,
        })
    }

    proptest! {
        #[test]
        fn same_content_same_hash(c in content()) {
            prop_assert_eq!(hash_of(&c), hash_of(&c.clone()));
        }

        #[test]
        fn any_change_changes_the_hash(a in content(), b in content()) {
            // Distinct content must give distinct canonical bytes (the form is
            // injective); sha256 collisions are out of reach for proptest.
            let same = a.key == b.key && a.argv == b.argv && a.cwd == b.cwd
                && a.env == b.env && a.dry == b.dry;
            prop_assert_eq!(same, hash_of(&a) == hash_of(&b));
        }

        #[test]
        fn moving_a_space_between_arguments_changes_the_hash(x in "[a-z]{1,5}", y in "[a-z]{1,5}") {
            let joined = Content { key: "k".into(), argv: vec![format!("{x} {y}")], cwd: "/".into(), env: BTreeMap::new(), dry: None };
            let split = Content { argv: vec![x, y], ..joined.clone() };
            prop_assert_ne!(hash_of(&joined), hash_of(&split));
        }
    }
}
