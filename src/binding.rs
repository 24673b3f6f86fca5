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
//! - for interpreters (`sh`, `bash`, `python3`, `node`, ...) and wrappers
//!   (`env`, `nice`, `timeout`, `sudo`, ...), every argument that names an
//!   existing file (a script, a module to preload, a wrapped `./deploy.sh`),
//!   and for wrappers every bare word that names a program on PATH (the
//!   `bash` of `nice bash job.sh`): their paths and identities;
//! - the working directory's identity;
//! - the loader environment ([`loader_env`]): set or unset, by digest,
//!
//! and `apply` refuses `stale` when any of them differs.
//!
//! # File identity
//!
//! A file's identity is `dev:ino:size:mtime_ns:ctime_ns` from `stat`, not a
//! digest of its content. kubectl and terraform are 50–100 MB: hashing them
//! at every rung would cost more than ladder itself (BENCHMARKS.md, *Apply's checks and the runner*), while a
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
    /// The files an interpreter or wrapper is given ([`Binding::of`]), in
    /// argv order, each once.
    pub files: Vec<BoundFile>,
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
        let files = match argv.first() {
            Some(p) if is_interpreter(p) => argument_files(&argv[1..], cwd, None),
            Some(p) if is_wrapper(p) => argument_files(&argv[1..], cwd, path_var),
            _ => vec![],
        };
        Ok(Binding {
            program,
            files,
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
        for file in &self.files {
            match now.files.iter().find(|f| f.path == file.path) {
                Some(f) if f.id == file.id => {}
                Some(_) => out.push(format!(
                    "the file {} was replaced or changed",
                    file.path.display()
                )),
                None => out.push(format!(
                    "the file {} is not the one reviewed",
                    file.path.display()
                )),
            }
        }
        for file in now
            .files
            .iter()
            .filter(|f| !self.files.iter().any(|g| g.path == f.path))
        {
            out.push(format!(
                "the command would now also read the file {}",
                file.path.display()
            ));
        }
        out
    }
}

/// Where `execvp` would find `program`, run in `cwd` with `path_var` as
/// PATH: a name with a `/` is a path (relative to the plan's directory,
/// where it will run), any other name the first regular file someone may
/// execute in a PATH directory (an empty entry is the current directory).
/// With the file's metadata, and whether it was reached through a relative
/// or empty PATH entry (then the spelling a person would have typed, `./ls`).
fn resolve(
    program: &OsStr,
    cwd: &Path,
    path_var: Option<&OsStr>,
) -> Option<(PathBuf, std::fs::Metadata, Option<PathBuf>)> {
    let executable = |path: &Path| {
        std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file() && m.mode() & 0o111 != 0)
    };
    if program.as_bytes().contains(&b'/') {
        let path = cwd.join(program);
        return executable(&path).map(|meta| (path, meta, None));
    }
    std::env::split_paths(path_var.unwrap_or_default()).find_map(|dir| {
        let relative = dir.as_os_str().is_empty() || dir.is_relative();
        let path = if relative {
            cwd.join(&dir).join(program)
        } else {
            dir.join(program)
        };
        let meta = executable(&path)?;
        let spelled = relative.then(|| Path::new(".").join(&dir).join(program));
        Some((path, meta, spelled))
    })
}

/// The program as bound: where [`resolve`] finds it, or [`MISSING`].
fn bind_program(program: &OsStr, cwd: &Path, path_var: Option<&OsStr>) -> BoundFile {
    match resolve(program, cwd, path_var) {
        Some((path, meta, _)) => BoundFile {
            id: file_id(&meta),
            path,
        },
        None => BoundFile {
            path: PathBuf::from(program),
            id: MISSING.into(),
        },
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
    let spelled = argv
        .first()
        .and_then(|program| resolve(program, cwd, path_var))
        .and_then(|(_, _, spelled)| spelled);
    match spelled {
        Some(by_path) => {
            let mut judged = argv.to_vec();
            judged[0] = by_path.into_os_string();
            judged.into()
        }
        None => argv.into(),
    }
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

/// Programs that run another program named in their arguments: what runs
/// is that program as much as the wrapper.
const WRAPPERS: &[&str] = &[
    "env",
    "nice",
    "nohup",
    "timeout",
    "time",
    "stdbuf",
    "setsid",
    "ionice",
    "chrt",
    "taskset",
    "flock",
    "sudo",
    "doas",
    "runuser",
    "xargs",
    "watch",
    "unbuffer",
    "strace",
    "ltrace",
    "chroot",
    "unshare",
    "nsenter",
    "systemd-run",
    "firejail",
    "parallel",
];

/// Whether `program`'s basename is a known wrapper.
pub fn is_wrapper(program: &OsStr) -> bool {
    let base = Path::new(program).file_name().unwrap_or_default();
    WRAPPERS.iter().any(|w| base == OsStr::new(w))
}

/// The files an interpreter or a wrapper will read or run: every argument
/// (and every `--option=VALUE`'s value) that names an existing regular file,
/// relative to `cwd`; with `path_var` (wrappers), also every bare word that
/// names a program on it. Options that take an argument (`sh -o errexit
/// job.sh`, `node -r ./x.js app.js`) need no knowledge of each program's
/// flags: every file named is bound.
fn argument_files(args: &[OsString], cwd: &Path, path_var: Option<&OsStr>) -> Vec<BoundFile> {
    let mut out: Vec<BoundFile> = vec![];
    let mut add = |f: BoundFile| {
        if !out.iter().any(|g| g.path == f.path) {
            out.push(f);
        }
    };
    for arg in args {
        let bytes = arg.as_bytes();
        let value = match bytes.iter().position(|&b| b == b'=') {
            Some(i) if bytes.starts_with(b"-") => &bytes[i + 1..],
            _ => bytes,
        };
        if value.is_empty() {
            continue;
        }
        let path = cwd.join(OsStr::from_bytes(value));
        if let Ok(meta) = std::fs::metadata(&path) {
            if meta.is_file() {
                add(BoundFile {
                    id: file_id(&meta),
                    path,
                });
                continue;
            }
        }
        let bare = !bytes.contains(&b'/') && !bytes.starts_with(b"-") && !bytes.contains(&b'=');
        if let (Some(path_var), true) = (path_var, bare) {
            let found = bind_program(arg, cwd, Some(path_var));
            if found.id != MISSING {
                add(found);
            }
        }
    }
    out
}

/// Variables that change what a program loads or runs, not what it acts
/// on: the set ones are bound into every plan, and apply refuses one that
/// is set then and was not bound, so that setting one at apply
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
    "KUBECTL_EXTERNAL_DIFF",
    "KUBE_EDITOR",
    "RSYNC_RSH",
    "RSYNC_CONNECT_PROG",
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

/// Loader variables that make a program run code that no rule looked at
/// and that an ordinary environment does not set: a command planned with
/// one of them set needs at least one approval, whatever its tier, and its
/// dry-run (which runs with no approval) is refused. Binding alone only
/// keeps them from changing between plan and apply.
pub const INJECTING_VARS: &[&str] = &[
    "LD_PRELOAD",
    "LD_AUDIT",
    "BASH_ENV",
    "PERL5OPT",
    "RUBYOPT",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_PARAMETERS",
    "GIT_EXTERNAL_DIFF",
    "GIT_PROXY_COMMAND",
    "DYLD_INSERT_LIBRARIES",
    // Programs the default's read-only commands and previews run: `git
    // ls-remote`, `fetch` and `push --dry-run` run the ssh command and the
    // helpers under the exec path, `kubectl diff` its external diff, `rsync
    // -n` its remote shell. A preview that runs the agent's program is no
    // preview.
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "KUBECTL_EXTERNAL_DIFF",
    "RSYNC_RSH",
    "RSYNC_CONNECT_PROG",
];

/// The [`INJECTING_VARS`] (and exported bash functions, `BASH_FUNC_*`)
/// that are set in a bound environment, by name.
pub fn injecting(env: &BTreeMap<String, Option<String>>) -> Vec<&str> {
    env.iter()
        .filter(|(name, value)| {
            value.is_some()
                && (INJECTING_VARS.contains(&name.as_str()) || name.starts_with("BASH_FUNC_"))
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Whether `name` is a loader variable ([`LOADER_VARS`], [`LOADER_PREFIXES`]).
pub fn is_loader_var(name: &str) -> bool {
    LOADER_VARS.contains(&name) || LOADER_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The loader variables set in `vars` (a process's environment), as bound:
/// each name mapped to the sha256 of its value.
pub fn loader_env<'a>(
    vars: impl Iterator<Item = (&'a OsStr, &'a OsStr)>,
) -> BTreeMap<String, String> {
    vars.filter_map(|(name, value)| {
        let name = name.to_str().filter(|n| is_loader_var(n))?;
        Some((
            name.to_string(),
            crate::digest::sha256_hex(value.as_bytes()),
        ))
    })
    .collect()
}

/// [`loader_env`] of this process.
pub fn loader_env_now() -> BTreeMap<String, String> {
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
    fn interpreters_and_wrappers_bind_the_files_they_are_given() {
        assert!(is_interpreter("sh".as_ref()));
        assert!(is_interpreter("/usr/bin/python3.12".as_ref()));
        assert!(!is_interpreter("kubectl".as_ref()));
        let t = tempfile::tempdir().unwrap();
        for f in ["job.sh", "errexit", "x.js", "app.js"] {
            std::fs::write(t.path().join(f), "echo hi\n").unwrap();
        }
        let argv = |words: &[&str]| -> Vec<OsString> { words.iter().map(OsString::from).collect() };
        let files = |words: &[&str], path: Option<&OsStr>| -> Vec<PathBuf> {
            Binding::of(&argv(words), t.path(), path)
                .unwrap()
                .files
                .into_iter()
                .map(|f| f.path)
                .collect()
        };
        let at = |f: &str| t.path().join(f);
        assert_eq!(
            files(&["bash", "-e", "job.sh", "arg"], None),
            [at("job.sh")]
        );
        // An option's argument that happens to be a file hides nothing.
        assert_eq!(
            files(&["sh", "-o", "errexit", "job.sh"], None),
            [at("errexit"), at("job.sh")]
        );
        assert_eq!(
            files(&["node", "--require=./x.js", "app.js"], None),
            [at("./x.js"), at("app.js")]
        );
        assert!(files(&["bash", "-c", "echo hi"], None).is_empty());
        // Not an interpreter or a wrapper: its arguments are data.
        assert!(files(&["cat", "job.sh"], None).is_empty());
        // A wrapper: its files, and the programs it names on PATH.
        let bin = t.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let bash = exe(&bin, "bash");
        let path = bin.clone().into_os_string();
        assert_eq!(
            files(&["nice", "-n", "5", "bash", "job.sh"], Some(&path)),
            [bash, at("job.sh")]
        );
        assert_eq!(
            files(&["timeout", "10", "./job.sh"], Some(&path)),
            [at("./job.sh")]
        );
    }

    #[test]
    fn the_loader_environment_is_the_set_loader_variables_and_prefixed_families() {
        let vars = [
            (OsStr::new("LD_AUDIT"), OsStr::new("x.so")),
            (OsStr::new("KUBE_CONTEXT"), OsStr::new("prod")),
            (OsStr::new("BASH_FUNC_ls%%"), OsStr::new("() { rm -rf .; }")),
        ];
        let env = loader_env(vars.into_iter());
        assert!(!env.contains_key("BASH_ENV"), "only the set ones");
        assert_eq!(env["LD_AUDIT"], crate::digest::sha256_hex(b"x.so"));
        assert!(env.contains_key("BASH_FUNC_ls%%"));
        assert!(!env.contains_key("KUBE_CONTEXT"), "not a loader variable");
    }
}
