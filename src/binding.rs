//! What a plan binds besides its argv: the program file that will run, the
//! script an interpreter will read, the directory it runs in, and the
//! environment that decides what a program loads.
//!
//! An agent controls its PATH, its environment and the files it can write.
//! Each of these could make `apply` run something other than what a person
//! reviewed while the argv stays the same: a `kubectl` earlier on PATH, a
//! rewritten `deploy.sh`, a cwd swapped for a symlink, `BASH_ENV` or
//! `LD_PRELOAD` set at apply. So at plan time ladder fixes
//!
//! - the program's absolute path (resolved once, from the planning PATH) and
//!   its file identity; `apply` runs that path, never a PATH lookup;
//! - for interpreters (`sh`, `bash`, `python3`, `node`, ...), the script
//!   argument's path and identity;
//! - the working directory's identity;
//! - the loader environment ([`loader_env`]): set or unset, by digest,
//!
//! and `apply` refuses `stale` when any of them differs.
//!
//! # File identity
//!
//! A file's identity is `dev:ino:size:mtime_ns:ctime_ns` from `stat`, not a
//! digest of its content. kubectl and terraform are 50–100 MB: hashing them
//! at every rung would cost more than ladder itself (BENCHMARKS.md), while a
//! `stat` costs microseconds. A rewrite in place changes mtime and ctime, a
//! replacement changes the inode, and ctime cannot be set back by anyone but
//! root (it takes setting the system clock). The cost: the identity is of
//! this machine's file, so a plan bound to a program is applied on the
//! machine it was planned on (a copy of the same binary elsewhere is another
//! file).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The identity of a file as `stat` sees it (symlinks followed).
pub fn file_id(meta: &std::fs::Metadata) -> String {
    format!(
        "{}:{}:{}:{}:{}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
        meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
    )
}

/// The identity of a directory: device and inode. A directory's mtime
/// changes whenever a file in it is created or removed, which is no reason
/// to call a plan stale.
pub fn dir_id(meta: &std::fs::Metadata) -> String {
    format!("{}:{}", meta.dev(), meta.ino())
}

/// A file a plan is bound to: where it is and which file it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundFile {
    pub path: PathBuf,
    /// [`file_id`], or [`MISSING`] when no such file existed at plan time.
    pub id: String,
}

/// The identity recorded for a program that could not be found at plan
/// time: apply lets it fail as it would have (exit 127), unless it has
/// appeared since.
pub const MISSING: &str = "missing";

/// Everything bound besides argv, cwd path and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub program: BoundFile,
    pub script: Option<BoundFile>,
    /// [`dir_id`] of the plan's working directory.
    pub cwd_id: String,
}

impl Binding {
    /// Binds `argv` run in `cwd` (absolute, canonical), resolving the
    /// program on `path_var` (the planning process's PATH).
    pub fn of(argv: &[OsString], cwd: &Path, path_var: Option<&OsStr>) -> std::io::Result<Binding> {
        let cwd_id = dir_id(&std::fs::metadata(cwd)?);
        let program = match argv.first() {
            Some(p) => bind_program(p, cwd, path_var),
            None => BoundFile {
                path: PathBuf::new(),
                id: MISSING.into(),
            },
        };
        let script = if argv.first().is_some_and(|p| is_interpreter(p)) {
            script_argument(&argv[1..], cwd)
        } else {
            None
        };
        Ok(Binding {
            program,
            script,
            cwd_id,
        })
    }

    /// What differs between this binding (from plan time) and `now`, in
    /// words for a `stale` refusal. Empty: nothing.
    pub fn differences(&self, now: &Binding) -> Vec<String> {
        let mut out = vec![];
        if self.cwd_id != now.cwd_id {
            out.push("the working directory is another directory now".to_string());
        }
        if self.program.path != now.program.path {
            out.push(format!(
                "the program now resolves to {} (was {})",
                now.program.path.display(),
                self.program.path.display()
            ));
        } else if self.program.id != now.program.id {
            out.push(format!(
                "the program file {} was replaced or changed",
                self.program.path.display()
            ));
        }
        match (&self.script, &now.script) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) if a.path == b.path => out.push(format!(
                "the script {} was replaced or changed",
                a.path.display()
            )),
            (None, None) => {}
            (Some(a), _) => out.push(format!(
                "the script {} is not the one reviewed",
                a.path.display()
            )),
            (None, Some(b)) => out.push(format!(
                "the interpreter would now read the file {}",
                b.path.display()
            )),
        }
        out
    }
}

/// Resolves a program as `execvp` would: a name with a `/` is a path
/// (relative to the plan's directory, where it will run), any other name is
/// looked up on PATH. Only regular files someone may execute count.
fn bind_program(program: &OsStr, cwd: &Path, path_var: Option<&OsStr>) -> BoundFile {
    let candidates: Vec<PathBuf> = if program.as_bytes().contains(&b'/') {
        vec![cwd.join(program)]
    } else {
        std::env::split_paths(path_var.unwrap_or_default())
            // An empty PATH entry means the current directory to execvp.
            .map(|dir| {
                if dir.as_os_str().is_empty() {
                    cwd.join(program)
                } else if dir.is_relative() {
                    cwd.join(dir).join(program)
                } else {
                    dir.join(program)
                }
            })
            .collect()
    };
    for path in candidates {
        if let Ok(meta) = std::fs::metadata(&path) {
            if meta.is_file() && meta.mode() & 0o111 != 0 {
                return BoundFile {
                    id: file_id(&meta),
                    path,
                };
            }
        }
    }
    BoundFile {
        path: PathBuf::from(program),
        id: MISSING.into(),
    }
}

/// The argv that policy judges. A program named without a `/` is judged by
/// its name, unless `execvp` would find it through a relative or empty
/// PATH entry (`PATH=.:$PATH`): then it is a file in (or under) the
/// directory the command runs in, which the agent may have just written,
/// exactly like `./ls`, and it is judged by that path (the default policy's
/// "program-by-path" rule), not as the `ls` its name claims to be.
pub fn policy_argv<'a>(
    argv: &'a [OsString],
    cwd: &Path,
    path_var: Option<&OsStr>,
) -> std::borrow::Cow<'a, [OsString]> {
    let Some(program) = argv.first().filter(|p| !p.as_bytes().contains(&b'/')) else {
        return argv.into();
    };
    for dir in std::env::split_paths(path_var.unwrap_or_default()) {
        let relative = dir.as_os_str().is_empty() || dir.is_relative();
        let path = if relative {
            cwd.join(&dir).join(program)
        } else {
            dir.join(program)
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !(meta.is_file() && meta.mode() & 0o111 != 0) {
            continue;
        }
        if !relative {
            return argv.into();
        }
        let mut by_path = argv.to_vec();
        // `./ls`, `bin/ls`: what a person would have typed to run it.
        by_path[0] = Path::new(".").join(&dir).join(program).into_os_string();
        return by_path.into();
    }
    argv.into()
}

/// Programs that read a script named by an argument: what runs is the
/// script's text as much as the interpreter's.
const INTERPRETERS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "mksh",
    "fish",
    "python",
    "python2",
    "python3",
    "pypy",
    "pypy3",
    "node",
    "nodejs",
    "deno",
    "bun",
    "perl",
    "ruby",
    "php",
    "lua",
    "Rscript",
    "awk",
    "gawk",
    "osascript",
    "pwsh",
    "tclsh",
    "expect",
];

/// Whether `program`'s basename is a known interpreter (`python3.12` too).
pub fn is_interpreter(program: &OsStr) -> bool {
    let base = Path::new(program)
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    // python3.12, ruby3.2, perl5.36: the versioned names distributions ship.
    let name = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    INTERPRETERS.contains(&base.as_str()) || INTERPRETERS.contains(&name)
}

/// The script an interpreter will read: the first argument, skipping
/// options, that names an existing regular file (relative to `cwd`).
fn script_argument(args: &[OsString], cwd: &Path) -> Option<BoundFile> {
    args.iter()
        .filter(|a| !a.as_bytes().starts_with(b"-"))
        .find_map(|a| {
            let path = cwd.join(a);
            let meta = std::fs::metadata(&path).ok()?;
            meta.is_file().then(|| BoundFile {
                id: file_id(&meta),
                path,
            })
        })
}

/// Variables that change what a program loads or runs, not what it acts
/// on: bound into every plan, set or unset, so that setting one at apply
/// (`BASH_ENV=inject.sh`, `LD_PRELOAD=...`) refuses `stale` instead of
/// running injected code under an approval.
pub const LOADER_VARS: &[&str] = &[
    "PATH",
    "HOME",
    "ENV",
    "BASH_ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "ZDOTDIR",
    "IFS",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PYTHONINSPECT",
    "PYTHONUSERBASE",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "RUBYOPT",
    "RUBYLIB",
    "GEM_HOME",
    "GEM_PATH",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_PARAMETERS",
    "GIT_EXEC_PATH",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_ASKPASS",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_TEMPLATE_DIR",
    "SSH_ASKPASS",
    "KUBECONFIG",
    "TF_CLI_CONFIG_FILE",
    "TF_PLUGIN_CACHE_DIR",
    // Programs a tool runs because a variable names them (`git diff` runs
    // `GIT_EXTERNAL_DIFF`, `git fetch` `GIT_PROXY_COMMAND`, `rg` reads
    // `--pre` from its config file, Python imports a warning category's
    // module, the AWS CLI runs a profile's `credential_process`, docker a
    // credential helper): set at apply only, each ran a program nobody
    // reviewed under a read-only verdict.
    "GIT_EXTERNAL_DIFF",
    "GIT_PAGER",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_PROXY_COMMAND",
    "PAGER",
    "EDITOR",
    "VISUAL",
    "LESSOPEN",
    "LESSCLOSE",
    "RIPGREP_CONFIG_PATH",
    "PYTHONWARNINGS",
    "AWS_CONFIG_FILE",
    "DOCKER_CONFIG",
    "HELM_PLUGINS",
];

/// Prefixes of loader variables that come in families: every variable with
/// one of these prefixes that is set is bound (`LD_PRELOAD`, `LD_AUDIT`,
/// `BASH_FUNC_x%%` exported functions, `GIT_CONFIG_KEY_0`,
/// `TF_CLI_ARGS_apply`...). One that appears at apply refuses `stale`.
pub const LOADER_PREFIXES: &[&str] = &[
    "LD_",
    "DYLD_",
    "BASH_FUNC_",
    "GIT_CONFIG_KEY_",
    "GIT_CONFIG_VALUE_",
    "TF_CLI_ARGS",
];

/// Whether `name` is a loader variable ([`LOADER_VARS`], [`LOADER_PREFIXES`]).
pub fn is_loader_var(name: &str) -> bool {
    LOADER_VARS.contains(&name) || LOADER_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The loader environment of `vars` (a process's environment), as bound:
/// every [`LOADER_VARS`] name (unset ones too) and every set variable with
/// a [`LOADER_PREFIXES`] prefix, mapped to the sha256 of its value.
pub fn loader_env<'a>(
    vars: impl Iterator<Item = (&'a OsStr, &'a OsStr)>,
) -> BTreeMap<String, Option<String>> {
    let mut out: BTreeMap<String, Option<String>> =
        LOADER_VARS.iter().map(|n| (n.to_string(), None)).collect();
    for (name, value) in vars {
        let Some(name) = name.to_str() else { continue };
        if is_loader_var(name) {
            out.insert(
                name.to_string(),
                Some(crate::plan_hash::sha256_hex(value.as_bytes())),
            );
        }
    }
    out
}

/// [`loader_env`] of this process.
pub fn loader_env_now() -> BTreeMap<String, Option<String>> {
    let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    loader_env(vars.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn exe(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn the_program_resolves_on_the_planning_path_like_execvp() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("tool"), "not executable").unwrap();
        let in_b = exe(&b, "tool");
        let path = std::env::join_paths([&a, &b]).unwrap();
        let bound = bind_program("tool".as_ref(), t.path(), Some(&path));
        assert_eq!(bound.path, in_b, "a file that is not executable is skipped");
        assert_ne!(bound.id, MISSING);
        let missing = bind_program("nope".as_ref(), t.path(), Some(&path));
        assert_eq!(missing.id, MISSING);
        let relative = bind_program("./b/tool".as_ref(), t.path(), None);
        assert_eq!(relative.path, t.path().join("./b/tool"));
        assert_eq!(relative.id, bound.id, "the same file, by another path");
    }

    #[test]
    fn a_rewritten_or_replaced_file_has_another_identity() {
        let t = tempfile::tempdir().unwrap();
        let p = exe(t.path(), "tool");
        let before = file_id(&std::fs::metadata(&p).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(5));
        std::fs::write(&p, "#!/bin/sh\n").unwrap(); // same bytes, rewritten
        assert_ne!(before, file_id(&std::fs::metadata(&p).unwrap()));
    }

    #[test]
    fn interpreters_bind_their_script_argument() {
        assert!(is_interpreter("sh".as_ref()));
        assert!(is_interpreter("/usr/bin/python3.12".as_ref()));
        assert!(!is_interpreter("kubectl".as_ref()));
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("job.sh"), "echo hi\n").unwrap();
        let argv: Vec<OsString> = ["bash", "-e", "job.sh", "arg"]
            .iter()
            .map(OsString::from)
            .collect();
        let b = Binding::of(&argv, t.path(), None).unwrap();
        assert_eq!(b.script.unwrap().path, t.path().join("job.sh"));
        let inline: Vec<OsString> = ["bash", "-c", "echo hi"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(Binding::of(&inline, t.path(), None).unwrap().script, None);
    }

    #[test]
    fn the_loader_environment_binds_unset_names_and_prefixed_families() {
        let vars = [
            (OsStr::new("LD_AUDIT"), OsStr::new("x.so")),
            (OsStr::new("KUBE_CONTEXT"), OsStr::new("prod")),
            (OsStr::new("BASH_FUNC_ls%%"), OsStr::new("() { rm -rf .; }")),
        ];
        let env = loader_env(vars.into_iter());
        assert_eq!(env["BASH_ENV"], None, "unset names are bound as unset");
        assert!(env["LD_AUDIT"].is_some());
        assert!(env["BASH_FUNC_ls%%"].is_some());
        assert!(!env.contains_key("KUBE_CONTEXT"), "not a loader variable");
    }
}
