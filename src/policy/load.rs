//! From TOML text to a validated [`Policy`].
//!
//! Syntax and shape (unknown keys, wrong types) are toml's and serde's job;
//! their errors carry a byte span that becomes the line. Everything else
//! (tier names, durations, patterns, regexes, examples, references between
//! sections) is checked here against the spans kept in `model.rs`, in file
//! order, stopping at the first problem.

use super::eval::{command_match, exception};
use super::model::{
    RawBudget, RawConfidence, RawNotify, RawPolicy, RawRule, RawSigning, VersionOnly,
};
use super::{
    Budget, ConfidenceBands, Defaults, Notify, Pattern, Policy, PolicyError, Rule, Signing,
    TierSettings,
};
use crate::tier::Tier;
use std::collections::HashMap;
use std::ffi::OsString;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// The most `output_cap` may keep of each stream. Both streams of a run are
/// one row in the state file, and SQLite refuses a row over 1,000,000,000
/// bytes: above this, a command with that much output would run and then
/// have no outcome recorded. It also bounds the memory the record takes.
const MAX_OUTPUT_CAP: u64 = 256 << 20;

const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses and validates, examples included.
pub(super) fn load(source: &str, origin: &str) -> Result<Policy, PolicyError> {
    let cx = Cx { source, origin };
    // One parse on the happy path; on failure, a second, lenient parse finds
    // out whether the version is the problem, which explains more than an
    // unknown key would.
    let raw: RawPolicy = match toml::from_str(source) {
        Ok(raw) => raw,
        Err(e) => {
            let version: VersionOnly = toml::from_str(source).map_err(|_| cx.toml_error(&e))?;
            check_version(&cx, version.version.as_ref())?;
            return Err(cx.toml_error(&e));
        }
    };
    check_version(&cx, Some(&raw.version))?;

    let defaults = cx.defaults(raw.defaults)?;
    let mut tiers = Tier::ALL.map(TierSettings::default_for);
    for (name, settings) in raw.tiers {
        let tier = cx.tier(&name)?;
        let slot = &mut tiers[tier as usize];
        if let Some(approvals) = settings.approvals {
            slot.approvals = approvals;
        }
        if let Some(require) = settings.require_dry_run {
            slot.require_dry_run = require;
        }
        if let Some(signed) = settings.signed {
            slot.signed = signed;
        }
    }
    let signing = raw.signing.map(|s| cx.signing(s)).transpose()?;
    if let Some(tier) = Tier::ALL.into_iter().find(|t| tiers[*t as usize].signed) {
        if signing.is_none() {
            return Err(cx.error(
                None,
                format!(
                    "[tiers.{tier}] `signed = true` needs [signing] allowed_signers: whose signatures would count?"
                ),
            ));
        }
    }

    let mut rules: Vec<Rule> = Vec::with_capacity(raw.rules.len());
    for raw_rule in raw.rules {
        let rule = cx.rule(raw_rule)?;
        if let Some(first) = rules.iter().find(|r| r.name == rule.name) {
            return Err(cx.error(
                Some(rule.line),
                format!(
                    "duplicate rule name \"{}\" (first defined on line {})",
                    rule.name, first.line
                ),
            ));
        }
        rules.push(rule);
    }

    cx.check_deferrals(&rules)?;

    let confidence = raw.confidence.map(|c| cx.confidence(c)).transpose()?;

    let mut budgets: Vec<Budget> = Vec::with_capacity(raw.budgets.len());
    let mut budget_lines: HashMap<String, usize> = HashMap::new();
    for raw_budget in raw.budgets {
        let line = cx.line(raw_budget.span());
        let budget = cx.budget(raw_budget.into_inner(), &rules)?;
        if let Some(first) = budget_lines.get(&budget.name) {
            return Err(cx.error(
                Some(line),
                format!(
                    "duplicate budget name \"{}\" (first defined on line {first})",
                    budget.name
                ),
            ));
        }
        budget_lines.insert(budget.name.clone(), line);
        budgets.push(budget);
    }

    let notify = raw.notify.map(|n| cx.notify(n)).transpose()?;

    Ok(Policy {
        source: source.to_string(),
        origin: origin.to_string(),
        source_sha256: super::source_sha256(source),
        defaults,
        tiers,
        rules,
        budgets,
        notify,
        confidence,
        signing,
    })
}

fn check_version(cx: &Cx, version: Option<&Spanned<toml::Value>>) -> Result<(), PolicyError> {
    let Some(version) = version else {
        return Err(cx.error(None, "missing `version = 1` at the top of the policy"));
    };
    if !matches!(version.get_ref(), toml::Value::Integer(1)) {
        return Err(cx.at(
            version.span(),
            format!(
                "unsupported policy version {}: this ladder reads `version = 1`",
                version.get_ref()
            ),
        ));
    }
    Ok(())
}

/// The text being loaded and its name, to turn spans into errors.
struct Cx<'a> {
    source: &'a str,
    origin: &'a str,
}

impl Cx<'_> {
    fn error(&self, line: Option<usize>, message: impl Into<String>) -> PolicyError {
        PolicyError {
            origin: self.origin.to_string(),
            line,
            message: message.into(),
        }
    }

    fn at(&self, span: Range<usize>, message: impl Into<String>) -> PolicyError {
        self.error(Some(self.line(span)), message)
    }

    /// 1-based line of the start of `span`.
    fn line(&self, span: Range<usize>) -> usize {
        let bytes = self.source.as_bytes();
        let end = span.start.min(bytes.len());
        1 + bytes[..end].iter().filter(|&&b| b == b'\n').count()
    }

    fn toml_error(&self, e: &toml::de::Error) -> PolicyError {
        self.error(e.span().map(|s| self.line(s)), one_line(e.message()))
    }

    fn tier(&self, name: &Spanned<String>) -> Result<Tier, PolicyError> {
        name.get_ref()
            .parse::<Tier>()
            .map_err(|e| self.at(name.span(), e))
    }

    fn duration(&self, key: &str, text: &Spanned<String>) -> Result<Duration, PolicyError> {
        let d = crate::duration::parse(text.get_ref())
            .map_err(|e| self.at(text.span(), format!("`{key}`: {e}")))?;
        if d.is_zero() {
            return Err(self.at(text.span(), format!("`{key}` must be longer than zero")));
        }
        Ok(d)
    }

    fn exit_codes(&self, what: &str, codes: Spanned<Vec<i32>>) -> Result<Vec<i32>, PolicyError> {
        if codes.get_ref().is_empty() {
            return Err(self.at(
                codes.span(),
                format!("{what}`dry_run_exit_codes` must list at least one exit code"),
            ));
        }
        Ok(codes.into_inner())
    }

    fn defaults(&self, raw: Option<super::model::RawDefaults>) -> Result<Defaults, PolicyError> {
        let mut d = Defaults::default();
        let Some(raw) = raw else { return Ok(d) };
        if let Some(tier) = &raw.tier {
            d.tier = self.tier(tier)?;
        }
        if let Some(ttl) = &raw.approval_ttl {
            d.approval_ttl = self.duration("approval_ttl", ttl)?;
        }
        if let Some(ttl) = &raw.apply_ttl {
            d.apply_ttl = self.duration("apply_ttl", ttl)?;
        }
        if let Some(sod) = raw.separation_of_duties {
            d.separation_of_duties = sod;
        }
        if let Some(cap) = raw.output_cap {
            d.output_cap = u64::try_from(*cap.get_ref())
                .ok()
                .filter(|c| (1..=MAX_OUTPUT_CAP).contains(c))
                .ok_or_else(|| {
                    self.at(
                        cap.span(),
                        format!(
                            "`output_cap` must be 1 to {MAX_OUTPUT_CAP} bytes (256 MiB), not {}",
                            cap.get_ref()
                        ),
                    )
                })?;
        }
        if let Some(codes) = raw.dry_run_exit_codes {
            d.dry_run_exit_codes = self.exit_codes("", codes)?;
        }
        if let Some(strict) = raw.dry_run_must_be_read_only {
            d.dry_run_must_be_read_only = strict;
        }
        if let Some(limit) = &raw.dry_run_timeout {
            d.dry_run_timeout = self.duration("dry_run_timeout", limit)?;
        }
        if let Some(names) = raw.show_env {
            let span = names.span();
            for name in names.get_ref() {
                let valid =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(self.at(
                        span.clone(),
                        format!("`show_env` lists variable names, not `{name}`"),
                    ));
                }
            }
            d.show_env = names.into_inner();
        }
        Ok(d)
    }

    fn rule(&self, raw: Spanned<RawRule>) -> Result<Rule, PolicyError> {
        let line = self.line(raw.span());
        let raw = raw.into_inner();
        let name = raw.name.get_ref().clone();
        if name.trim().is_empty() {
            return Err(self.at(raw.name.span(), "a rule's `name` must not be empty"));
        }
        let tier = self.tier(&raw.tier)?;
        let what = format!("rule \"{name}\"");

        if raw.commands.get_ref().is_empty() {
            return Err(self.at(
                raw.commands.span(),
                format!("{what}: `commands` must list at least one pattern"),
            ));
        }
        let mut commands = Vec::with_capacity(raw.commands.get_ref().len());
        for text in raw.commands.get_ref() {
            let pattern = Pattern::parse(text.get_ref())
                .map_err(|e| self.at(text.span(), format!("{what}: {e}")))?;
            commands.push(pattern);
        }

        let mut unless = Vec::with_capacity(raw.unless.len());
        for text in &raw.unless {
            let pattern = Pattern::parse(text.get_ref())
                .map_err(|e| self.at(text.span(), format!("{what}: `unless`: {e}")))?;
            unless.push(pattern);
        }

        let options = match raw.options {
            None => None,
            Some(globs) => {
                for glob in &globs {
                    self.option_glob(&what, glob)?;
                }
                Some(globs.into_iter().map(Spanned::into_inner).collect())
            }
        };

        let mut env = Vec::new();
        for (var, glob) in raw.env.unwrap_or_default() {
            let valid = !var.get_ref().is_empty()
                && !var.get_ref().contains('=')
                && !var.get_ref().contains('\0');
            if !valid {
                return Err(self.at(
                    var.span(),
                    format!(
                        "{what}: `{}` is not an environment variable name",
                        var.get_ref()
                    ),
                ));
            }
            if let Some(problem) = super::pattern::glob_problem(glob.get_ref().as_bytes()) {
                return Err(self.at(
                    glob.span(),
                    format!("{what}: env `{}`: {problem}", var.get_ref()),
                ));
            }
            env.push((var.into_inner(), glob.into_inner()));
        }

        let dry_run_output = match &raw.dry_run_output {
            None => None,
            Some(text) => Some(super::LazyRegex::compiled(
                regex::Regex::new(text.get_ref()).map_err(|e| {
                    self.at(
                        text.span(),
                        format!(
                            "{what}: invalid `dry_run_output` regex: {}",
                            regex_reason(&e)
                        ),
                    )
                })?,
            )),
        };

        let dry_run_exit_codes = raw
            .dry_run_exit_codes
            .map(|codes| self.exit_codes(&format!("{what}: "), codes))
            .transpose()?;

        // Examples are checked against the whole of the rule's say over an
        // argv (commands, unless, options), so they prove its exceptions too.
        let mut rule = Rule {
            name,
            tier,
            description: raw.description,
            commands,
            unless,
            options,
            defer_to: raw.defer_to.iter().map(|d| d.get_ref().clone()).collect(),
            env,
            dry_run_output,
            dry_run_exit_codes,
            examples: Vec::new(),
            not_examples: Vec::new(),
            line,
        };
        for example in &raw.examples {
            let argv = self.example_argv(&what, "example", example)?;
            let Some(p) = command_match(&rule, &argv) else {
                return Err(self.at(
                    example.span(),
                    format!(
                        "{what}: example \"{}\" does not match any of its commands",
                        example.get_ref()
                    ),
                ));
            };
            if let Some(why) = exception(&rule, &argv) {
                return Err(self.at(
                    example.span(),
                    format!(
                        "{what}: example \"{}\" matches its command \"{}\" but {why}",
                        example.get_ref(),
                        p.as_str()
                    ),
                ));
            }
        }
        for example in &raw.not_examples {
            let argv = self.example_argv(&what, "not_example", example)?;
            if let Some(p) = command_match(&rule, &argv) {
                // A rule that defers may give it to another rule: checked
                // once every rule is loaded (`check_deferrals`).
                if exception(&rule, &argv).is_none() && rule.defer_to.is_empty() {
                    let mut message = format!(
                        "{what}: not_example \"{}\" matches its command \"{}\"",
                        example.get_ref(),
                        p.as_str()
                    );
                    if !rule.unless.is_empty() || rule.options.is_some() {
                        message.push_str(" and neither `unless` nor `options` takes it out");
                    }
                    return Err(self.at(example.span(), message));
                }
            }
        }
        rule.examples = raw.examples.into_iter().map(Spanned::into_inner).collect();
        rule.not_examples = raw
            .not_examples
            .into_iter()
            .map(Spanned::into_inner)
            .collect();
        Ok(rule)
    }

    /// `defer_to`: every name is a rule of a lower tier that defers to none
    /// itself (so deferring never goes round, and only ever lowers a verdict
    /// to a rule a person wrote below it), and the deferring rule's examples
    /// hold with the deferral: an example no rule it defers to takes, a
    /// not_example that its commands match but one of them takes.
    fn check_deferrals(&self, rules: &[Rule]) -> Result<(), PolicyError> {
        for rule in rules.iter().filter(|r| !r.defer_to.is_empty()) {
            let what = format!("rule \"{}\"", rule.name);
            let mut targets = Vec::new();
            for name in &rule.defer_to {
                let Some(target) = rules.iter().find(|r| &r.name == name) else {
                    return Err(self.error(
                        Some(rule.line),
                        format!("{what}: `defer_to` names no rule \"{name}\""),
                    ));
                };
                if target.tier >= rule.tier {
                    return Err(self.error(
                        Some(rule.line),
                        format!(
                            "{what}: `defer_to` names rule \"{name}\" ({}), which is not of a lower tier than {}",
                            target.tier, rule.tier
                        ),
                    ));
                }
                if !target.defer_to.is_empty() {
                    return Err(self.error(
                        Some(rule.line),
                        format!("{what}: `defer_to` names rule \"{name}\", which defers itself"),
                    ));
                }
                targets.push(target);
            }
            let taken_by = |text: &str| -> Option<&str> {
                let argv = split_example(text)?;
                targets
                    .iter()
                    .find(|t| command_match(t, &argv).is_some() && exception(t, &argv).is_none())
                    .map(|t| t.name.as_str())
            };
            for example in &rule.examples {
                if let Some(by) = taken_by(example) {
                    return Err(self.error(
                        Some(rule.line),
                        format!("{what}: example \"{example}\" is deferred to rule \"{by}\""),
                    ));
                }
            }
            for example in &rule.not_examples {
                let Some(argv) = split_example(example) else {
                    continue;
                };
                if command_match(rule, &argv).is_some()
                    && exception(rule, &argv).is_none()
                    && taken_by(example).is_none()
                {
                    return Err(self.error(
                        Some(rule.line),
                        format!(
                            "{what}: not_example \"{example}\" matches its commands and no rule it defers to takes it"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// An `options` entry: a glob over one argument, which can only ever
    /// match an option if it starts with `-` and is neither `-` nor `--`
    /// (see `pattern::option_arguments`). Anything else is a mistake that
    /// would silently allow nothing.
    fn option_glob(&self, what: &str, glob: &Spanned<String>) -> Result<(), PolicyError> {
        let text = glob.get_ref();
        let problem = if text.is_empty() {
            Some("is empty".to_string())
        } else if !text.starts_with('-') {
            Some("does not start with `-`, so it can never match an option".to_string())
        } else if text == "-" || text == "--" {
            Some(
                "is never an option: a lone `-` is an operand and `--` ends the options"
                    .to_string(),
            )
        } else if text.contains('\0') {
            Some("contains a NUL byte, which no argument can".to_string())
        } else {
            super::pattern::glob_problem(text.as_bytes())
        };
        match problem {
            Some(p) => Err(self.at(
                glob.span(),
                format!("{what}: `options` entry \"{text}\" {p}"),
            )),
            None => Ok(()),
        }
    }

    fn example_argv(
        &self,
        what: &str,
        kind: &str,
        example: &Spanned<String>,
    ) -> Result<Vec<OsString>, PolicyError> {
        let text = example.get_ref();
        let words = shell_words::split(text).map_err(|_| {
            self.at(
                example.span(),
                format!("{what}: {kind} \"{text}\" has an unbalanced quote"),
            )
        })?;
        if words.is_empty() {
            return Err(self.at(example.span(), format!("{what}: {kind} is empty")));
        }
        Ok(words.into_iter().map(OsString::from).collect())
    }

    fn confidence(&self, raw: Spanned<RawConfidence>) -> Result<ConfidenceBands, PolicyError> {
        let span = raw.span();
        let raw = raw.into_inner();
        for (key, value) in [
            ("deny_below", &raw.deny_below),
            ("approve_below", &raw.approve_below),
        ] {
            if !(0.0..=1.0).contains(value.get_ref()) {
                return Err(self.at(
                    value.span(),
                    format!("`{key}` must be between 0 and 1, not {}", value.get_ref()),
                ));
            }
        }
        let bands = ConfidenceBands {
            deny_below: *raw.deny_below.get_ref(),
            approve_below: *raw.approve_below.get_ref(),
        };
        if bands.deny_below > bands.approve_below {
            return Err(self.at(
                span,
                format!(
                    "`deny_below` ({}) must not be greater than `approve_below` ({})",
                    bands.deny_below, bands.approve_below
                ),
            ));
        }
        Ok(bands)
    }

    fn budget(&self, raw: RawBudget, rules: &[Rule]) -> Result<Budget, PolicyError> {
        let name = raw.name.get_ref().clone();
        if name.trim().is_empty() {
            return Err(self.at(raw.name.span(), "a budget's `name` must not be empty"));
        }
        let what = format!("budget \"{name}\"");
        if raw.tiers.get_ref().is_empty() {
            return Err(self.at(
                raw.tiers.span(),
                format!("{what}: `tiers` must list at least one tier"),
            ));
        }
        let tiers = raw
            .tiers
            .get_ref()
            .iter()
            .map(|t| self.tier(t))
            .collect::<Result<Vec<_>, _>>()?;
        let max = u32::try_from(*raw.max.get_ref())
            .ok()
            .filter(|&m| m >= 1)
            .ok_or_else(|| {
                self.at(
                    raw.max.span(),
                    format!(
                        "{what}: `max` must be a whole number from 1 to {}, not {}",
                        u32::MAX,
                        raw.max.get_ref()
                    ),
                )
            })?;
        let per = self.duration("per", &raw.per)?;
        if let Some(rule) = &raw.rule {
            if !rules.iter().any(|r| &r.name == rule.get_ref()) {
                return Err(self.at(
                    rule.span(),
                    format!("{what}: no rule is named \"{}\"", rule.get_ref()),
                ));
            }
        }
        Ok(Budget {
            name,
            tiers,
            max,
            per,
            rule: raw.rule.map(Spanned::into_inner),
            actor: raw.actor,
        })
    }

    /// `[signing]`: a relative allowed_signers path is the policy file's
    /// neighbour, not the caller's working directory's (which the agent
    /// chooses).
    fn signing(&self, raw: Spanned<RawSigning>) -> Result<Signing, PolicyError> {
        let raw = raw.into_inner();
        let path = raw.allowed_signers.get_ref().trim();
        if path.is_empty() {
            return Err(self.at(
                raw.allowed_signers.span(),
                "[signing] allowed_signers must name a file",
            ));
        }
        let path = std::path::Path::new(path);
        let allowed_signers = if path.is_absolute() {
            path.to_path_buf()
        } else {
            let origin = std::path::Path::new(self.origin);
            if !origin.is_absolute() && self.origin.starts_with('<') {
                return Err(self.at(
                    raw.allowed_signers.span(),
                    "[signing] allowed_signers must be an absolute path here",
                ));
            }
            origin
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(path)
        };
        Ok(Signing {
            allowed_signers,
            require_touch: raw.require_touch.unwrap_or(false),
        })
    }

    fn notify(&self, raw: Spanned<RawNotify>) -> Result<Notify, PolicyError> {
        let raw = raw.into_inner();
        let program_ok = raw.command.get_ref().first().is_some_and(|p| !p.is_empty());
        if !program_ok {
            return Err(self.at(
                raw.command.span(),
                "[notify] `command` must start with a program",
            ));
        }
        let timeout = match &raw.timeout {
            Some(t) => self.duration("timeout", t)?,
            None => NOTIFY_TIMEOUT,
        };
        Ok(Notify {
            command: raw.command.into_inner(),
            timeout,
        })
    }
}

/// toml's messages may span lines; errors here are one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The regex crate's syntax errors quote the pattern with a caret under it;
/// keep only the reason.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| one_line(&text))
}

/// An example's argv, as `example_argv` makes it (already checked there).
fn split_example(text: &str) -> Option<Vec<OsString>> {
    let words = shell_words::split(text).ok()?;
    Some(words.into_iter().map(OsString::from).collect())
}
