//! The context every command runs in: who is acting, where state and policy
//! live, what time it is, how output is shown. Tests fix the clock and ids
//! through the environment (`LADDER_NOW`, `LADDER_TEST_ID_SEED`).

use crate::clock::Clock;
use crate::clock::IdSource;
use crate::error::{Error, Kind, Result};
use crate::policy::{EMBEDDED_ORIGIN, EMBEDDED_SOURCE, InForce, Policy, SYSTEM_POLICY_PATH};
use crate::store::{Location, Store};
use anyhow::Context as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The policy in force, every layer checked in full (examples too): what
/// `policy check` uses.
pub fn checked_policy(ctx: &mut Ctx) -> Result<InForce> {
    ctx.load_in_force(true)
}

/// What a context is made from: the global flags (or their variables),
/// whoever parsed them.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub state: Option<PathBuf>,
    pub policy: Option<PathBuf>,
    pub actor: Option<String>,
    pub json: bool,
    pub color: ColorChoice,
}

/// `--color`: when output for people is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour, given the environment (`var`) and whether stdout
    /// is a terminal. `auto` follows the conventions: `NO_COLOR` (set and
    /// not empty) turns colours off, `CLICOLOR_FORCE` (set, not empty, not
    /// `0`) on even in a pipe, `CLICOLOR=0` off; otherwise a terminal is
    /// coloured. The flag beats them all.
    pub fn resolve(self, var: impl Fn(&str) -> Option<String>, terminal: bool) -> bool {
        let set = |name: &str| var(name).filter(|v| !v.is_empty());
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto if set("NO_COLOR").is_some() => false,
            ColorChoice::Auto if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
            ColorChoice::Auto if set("CLICOLOR").as_deref() == Some("0") => false,
            ColorChoice::Auto => terminal,
        }
    }
}

pub struct Ctx {
    pub json: bool,
    pub actor: String,
    /// The actor was named (`--actor`, `LADDER_ACTOR`), not taken from the
    /// OS user: a signer's principal is then the one named.
    pub actor_named: bool,
    pub clock: Clock,
    /// Colours on stdout (see [`ColorChoice::resolve`]).
    pub color: bool,
    /// Whether a person can be asked (stdin and stderr are terminals).
    pub interactive: bool,
    /// Inside `ladder mcp`: stdin and stdout carry the protocol, so a
    /// command that `apply` runs reads /dev/null, not ladder's stdin.
    pub server: bool,
    location: Location,
    policy_path: Option<PathBuf>,
    /// `--policy` or `LADDER_POLICY` named the file (else the default
    /// location, used when a file is there).
    policy_named: bool,
    policy: Option<Rc<InForce>>,
    /// What the policy files were when they were loaded (see
    /// [`Ctx::forget_stale_policy`]): the system policy's, and the named one's.
    policy_stamp: (FileStamp, Option<FileStamp>),
    store: Option<Box<dyn Store>>,
    id_seed: Option<String>,
}

impl Ctx {
    pub fn new(global: &Settings) -> Result<Ctx> {
        let clock = match test_hook("LADDER_NOW") {
            Ok(t) if !t.is_empty() => Clock::Fixed(
                crate::clock::parse_rfc3339(&t)
                    .map_err(|e| Error::usage(format!("LADDER_NOW: {e}")))?,
            ),
            _ => Clock::System,
        };
        let actor = resolve_actor(global.actor.as_deref())?;
        let location = match &global.state {
            Some(p) => Location::parse(p.as_os_str()),
            None => Location::File(default_state_path()?),
        };
        let policy_path = match &global.policy {
            Some(p) => Some(p.clone()),
            None => default_policy_path().filter(|p| p.exists()),
        };
        let actor_named = global.actor.is_some()
            || std::env::var_os("LADDER_ACTOR").is_some_and(|a| !a.is_empty());
        Ok(Ctx {
            json: global.json,
            actor,
            actor_named,
            clock,
            color: global.color.resolve(
                |name| std::env::var(name).ok(),
                std::io::stdout().is_terminal(),
            ),
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
            server: false,
            location,
            policy_path,
            policy_named: global.policy.is_some(),
            policy: None,
            policy_stamp: (FileStamp::of(Path::new(SYSTEM_POLICY_PATH)), None),
            store: None,
            id_seed: test_hook("LADDER_TEST_ID_SEED")
                .ok()
                .filter(|s| !s.is_empty()),
        })
    }

    /// The context of `ladder mcp`: JSON out, nobody to ask, no colours, and
    /// the state and policy kept open across tool calls.
    pub fn for_server(global: &Settings) -> Result<Ctx> {
        let mut ctx = Ctx::new(global)?;
        ctx.json = true;
        ctx.color = false;
        ctx.interactive = false;
        ctx.server = true;
        Ok(ctx)
    }

    /// Drops the loaded policy if its file changed, appeared or went away
    /// since it was loaded, so a long-lived `ladder mcp` classifies by the
    /// policy as it is now, as a fresh `ladder plan` would. One `stat` a call.
    pub fn forget_stale_policy(&mut self) {
        if !self.policy_named {
            self.policy_path = default_policy_path().filter(|p| p.exists());
        }
        let stamp = (
            FileStamp::of(Path::new(SYSTEM_POLICY_PATH)),
            self.policy_path.as_deref().map(FileStamp::of),
        );
        if stamp != self.policy_stamp {
            self.policy = None;
            self.policy_stamp = stamp;
        }
    }

    /// Closes the open store if its path now names another file or none
    /// (deleted, or replaced by a restored backup), so the next use opens
    /// what is there, as a fresh `ladder` would. Without this, a long-lived
    /// `ladder mcp` would go on writing plans into an unlinked file that no
    /// reviewer can see. One `stat` a call.
    pub fn forget_replaced_state(&mut self) {
        if self.store.as_ref().is_some_and(|s| s.was_replaced()) {
            self.store = None;
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// How wide a table on stdout may be: the terminal's width, or (piped)
    /// long values capped; `wide` shows every value whole.
    pub fn fit(&self, wide: bool) -> crate::render::Fit {
        use crate::render::Fit;
        if wide {
            return Fit::Wide;
        }
        match std::io::stdout().is_terminal() {
            true => match comfy_table::Table::new().width() {
                Some(w) => Fit::Terminal(w),
                None => Fit::Capped,
            },
            false => Fit::Capped,
        }
    }

    /// Where the state is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The state store, opened (and created) on first use. What it has to
    /// say on opening (a state file on a network filesystem) is said here.
    pub fn store(&mut self) -> Result<&mut dyn Store> {
        if self.store.is_none() {
            let mut store = crate::store::open(&self.location)?;
            show_warnings(store.as_mut());
            // A server's clock, not this host's, for windows and budgets
            // (a clock fixed for a test stays fixed).
            if let (Clock::System, Some(offset)) = (self.clock, store.clock_offset()) {
                self.clock = Clock::Offset(offset);
            }
            self.store = Some(store);
        }
        Ok(self.store.as_deref_mut().expect("opened above"))
    }

    /// What a rung runs with: the store (opened on first use), the clock
    /// and the actor.
    pub fn rung(&mut self) -> Result<crate::rungs::Rung<'_>> {
        self.store()?;
        let ids = self.ids();
        Ok(crate::rungs::Rung {
            store: self.store.as_deref_mut().expect("opened above"),
            clock: &self.clock,
            actor: &self.actor,
            ids,
        })
    }

    /// Shows what the open store has to say since it was last asked (a
    /// checkpoint that failed during a write).
    pub fn show_store_warnings(&mut self) {
        if let Some(store) = self.store.as_deref_mut() {
            show_warnings(store);
        }
    }

    /// Whether a state file exists yet (read-only commands on a machine
    /// that never planned anything show an empty result instead of creating one).
    pub fn state_exists(&self) -> bool {
        self.location.exists()
    }

    /// The policy in force, loaded on first use. Shared, not copied: `plan`
    /// holds it while it also borrows the store, and a copy of the default
    /// policy's 300-odd patterns costs more than loading it.
    pub fn policy(&mut self) -> Result<Rc<InForce>> {
        if self.policy.is_none() {
            self.policy = Some(Rc::new(self.load_in_force(false)?));
        }
        Ok(Rc::clone(self.policy.as_ref().expect("loaded above")))
    }

    /// The system policy when its file exists, with the named policy (flag,
    /// environment or user config) over it; else the named policy or the
    /// embedded default alone. `full` checks the embedded default's examples
    /// again instead of trusting its precompiled form.
    fn load_in_force(&self, full: bool) -> Result<InForce> {
        let named = match &self.policy_path {
            Some(path) => Some(load_policy(path)?),
            None => None,
        };
        match load_system_policy()? {
            Some(system) => Ok(InForce::layered(system, named)),
            None => Ok(InForce::single(match named {
                Some(p) => p,
                None if full => Policy::parse(EMBEDDED_SOURCE, EMBEDDED_ORIGIN)?,
                None => Policy::embedded_checked_at_build()?,
            })),
        }
    }

    /// A fresh UUID; derived from `material` when `LADDER_TEST_ID_SEED` is set.
    pub fn new_id(&self, material: &str) -> String {
        self.ids().new_id(material)
    }

    /// The id source, to use where the context itself is borrowed.
    pub fn ids(&self) -> IdSource {
        IdSource::new(self.id_seed.clone())
    }
}

fn show_warnings(store: &mut dyn Store) {
    for warning in store.take_warnings() {
        crate::render::note(format_args!("ladder: warning: {warning}"));
    }
}

/// A variable the test suite sets to fix the clock or the ids. Only a build
/// with the `test-hooks` feature (what `cargo test` builds) reads it: in any
/// other it is as if unset, whatever the environment says.
fn test_hook(name: &str) -> std::result::Result<String, std::env::VarError> {
    if cfg!(feature = "test-hooks") {
        std::env::var(name)
    } else {
        Err(std::env::VarError::NotPresent)
    }
}

/// Enough of a file's metadata to tell that it changed: which file, its
/// size and when it was last written. A file that cannot be read stamps as
/// its path alone (loading it then reports why).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    path: PathBuf,
    meta: Option<(u64, u64, u64, i64, i64)>,
}

impl FileStamp {
    fn of(path: &Path) -> FileStamp {
        use std::os::unix::fs::MetadataExt as _;
        FileStamp {
            path: path.to_path_buf(),
            meta: std::fs::metadata(path)
                .ok()
                .map(|m| (m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec())),
        }
    }
}

/// The system policy, when its file exists. A file that exists but cannot
/// be read or does not load is an error, never a reason to go on without
/// it: the team's policy fails closed.
fn load_system_policy() -> Result<Option<Policy>> {
    let path = Path::new(SYSTEM_POLICY_PATH);
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::usage(format!(
            "cannot read the system policy {}: {e}",
            path.display()
        ))),
        Ok(_) => load_policy(path).map(Some),
    }
}

/// The largest policy file read: the commented default is about 20 KiB.
const MAX_POLICY_BYTES: u64 = 1 << 20;

/// Reads and validates a policy file. Only a regular file of at most
/// [`MAX_POLICY_BYTES`] is read: `--policy /dev/zero` or a FIFO must be a
/// clear error, not a hang or all of memory.
pub fn load_policy(path: &Path) -> Result<Policy> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let cannot =
        |why: String| Error::usage(format!("cannot read policy file {}: {why}", path.display()));
    // Non-blocking, or opening a FIFO would wait for a writer; it changes
    // nothing for a regular file.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| cannot(e.to_string()))?;
    let meta = file.metadata().map_err(|e| cannot(e.to_string()))?;
    if !meta.is_file() {
        return Err(cannot("not a regular file".into()));
    }
    let mut text = String::new();
    file.take(MAX_POLICY_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| cannot(e.to_string()))?;
    if text.len() as u64 > MAX_POLICY_BYTES {
        return Err(cannot(format!(
            "larger than {} KiB",
            MAX_POLICY_BYTES >> 10
        )));
    }
    Ok(Policy::parse(&text, &path.display().to_string())?)
}

fn resolve_actor(flag: Option<&str>) -> Result<String> {
    let actor = match flag {
        Some(a) => a.to_string(),
        None => match std::env::var("LADDER_ACTOR") {
            Ok(a) if !a.is_empty() => a,
            _ => os_user(),
        },
    };
    let actor = actor.trim().to_string();
    if actor.is_empty() || actor.chars().any(crate::text::is_unprintable) || actor.len() > 255 {
        return Err(Error::usage(
            "the actor must be 1 to 255 printable characters",
        ));
    }
    Ok(actor)
}

fn os_user() -> String {
    for var in ["USER", "LOGNAME", "USERNAME"] {
        if let Ok(u) = std::env::var(var) {
            if !u.is_empty() {
                return u;
            }
        }
    }
    let uid = uzers::get_current_uid();
    uzers::get_user_by_uid(uid)
        .and_then(|u| u.name().to_str().map(str::to_string))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("uid-{uid}"))
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "ladder")
}

fn default_state_path() -> Result<PathBuf> {
    project_dirs()
        .map(|d| d.data_dir().join("state.db"))
        .ok_or_else(|| {
            Error::new(
                Kind::Usage,
                "cannot find a home directory for the default state file",
            )
            .with_hint("pass --state PATH or set LADDER_STATE")
        })
}

fn default_policy_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("policy.toml"))
}

/// Ensures the directory exists for a file about to be written.
pub fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create directory {}", dir.display()))?;
    }
    Ok(())
}
