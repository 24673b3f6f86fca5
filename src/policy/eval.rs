//! Evaluation: from a plan's argv, environment, dry-run and confidence to a
//! tier, a winning rule and the approvals required.
//!
//! 1. A rule matches when one of its command patterns matches the argv, every
//!    env condition holds (the variable is set and its value matches the
//!    glob), if it has `dry_run_output`, a dry-run was given and the regex
//!    matches its stdout, none of its `unless` patterns matches the argv and,
//!    if it has `options`, every option argument matches one of them. A rule
//!    that fails only the last two is recorded as skipped, with why.
//! 2. The strictest tier among matching rules wins; among rules of that tier
//!    the first in the file is the one recorded, after rules that defer to
//!    another matching rule (`defer_to`) step aside. No match: `[defaults]`. A
//!    skipped rule stricter than the outcome gets a sentence in the reasons:
//!    that is an exception deciding the plan.
//! 3. Approvals come from the tier, raised to at least one when the tier
//!    requires a dry-run and none was given, or when confidence is below
//!    `approve_below`. Tier `deny` or confidence below `deny_below` denies the
//!    plan, and a denied plan requires no approvals: nothing can approve it.

use super::pattern::{glob_matches, option_arguments};
use super::{Evaluation, Input, Pattern, Policy, Rule, RuleMatch, RuleSkip};
use crate::tier::Tier;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

pub(super) fn evaluate(policy: &Policy, input: &Input) -> Evaluation {
    let mut matched: Vec<RuleMatch> = Vec::new();
    let mut skipped: Vec<RuleSkip> = Vec::new();
    for rule in policy.rules() {
        match match_rule(rule, input) {
            Some(Ok(m)) => matched.push(m),
            Some(Err(skip)) => skipped.push(skip),
            None => {}
        }
    }
    // A rule that defers to a matching rule does not decide (load checked
    // that the rules deferred to are of a lower tier and defer to none).
    let deferring: Vec<(usize, String)> = matched
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let rule = policy.rules().iter().find(|r| r.name == m.rule)?;
            let to = rule
                .defer_to
                .iter()
                .find(|name| matched.iter().any(|other| &&other.rule == name))?;
            Some((i, to.clone()))
        })
        .collect();
    for (i, to) in deferring.into_iter().rev() {
        let m = matched.remove(i);
        skipped.push(RuleSkip {
            why: format!(
                "\"{}\" matched but it defers to rule \"{to}\", which takes the command",
                m.pattern
            ),
            rule: m.rule,
            tier: m.tier,
        });
    }

    let mut reasons = Vec::new();
    // `max_by_key` keeps the last maximum; the contract wants the first.
    let winner = matched
        .iter()
        .fold(None::<&RuleMatch>, |best, m| match best {
            Some(b) if b.tier >= m.tier => Some(b),
            _ => Some(m),
        });
    let (tier, rule) = match winner {
        Some(w) => {
            let mut sentence =
                format!("rule \"{}\" ({}) matched \"{}\"", w.rule, w.tier, w.pattern);
            if !w.conditions.is_empty() {
                sentence.push_str(" with ");
                sentence.push_str(&w.conditions.join(" and "));
            }
            if matched.len() > 1 {
                let n = matched.len();
                sentence.push_str(&format!(": the strictest of {n} matching rules"));
            }
            reasons.push(sentence);
            (w.tier, Some(w.rule.clone()))
        }
        None => {
            let tier = policy.defaults().tier;
            reasons.push(format!("no rule matched: [defaults] tier {tier}"));
            (tier, None)
        }
    };

    for skip in skipped.iter().filter(|s| s.tier > tier) {
        reasons.push(format!(
            "rule \"{}\" ({}) was skipped: {}",
            skip.rule, skip.tier, skip.why
        ));
    }

    let mut denied = None;
    if tier == Tier::Deny {
        let reason = match &rule {
            Some(name) => format!("rule \"{name}\" denies this command"),
            None => "[defaults] tier deny denies commands no rule matches".to_string(),
        };
        reasons.push(reason.clone());
        denied = Some(reason);
    }

    let settings = policy.tier_settings(tier);
    let mut approvals = settings.approvals;
    if denied.is_none() {
        reasons.push(format!(
            "tier {tier} requires {}",
            approvals_phrase(approvals)
        ));
        if settings.require_dry_run && input.dry_run.is_none() {
            if approvals < 1 {
                approvals = 1;
                reasons.push(format!(
                    "tier {tier} requires a dry-run and none was given: 1 approval required"
                ));
            } else {
                reasons.push(format!(
                    "tier {tier} requires a dry-run and none was given, \
                     which the {} already cover",
                    approvals_phrase(approvals)
                ));
            }
        }
    }

    if let (Some(bands), Some(confidence)) = (policy.confidence(), input.confidence) {
        if confidence < bands.deny_below {
            let reason = format!(
                "confidence {confidence} is below deny_below {}: denied",
                bands.deny_below
            );
            reasons.push(reason.clone());
            denied.get_or_insert(reason);
        } else if confidence < bands.approve_below && denied.is_none() {
            approvals = approvals.max(1);
            reasons.push(format!(
                "confidence {confidence} is below approve_below {}: at least 1 approval required",
                bands.approve_below
            ));
        }
    }

    if denied.is_some() {
        approvals = 0;
    }

    let dry_run_exit_codes = rule
        .as_deref()
        .and_then(|name| policy.rules().iter().find(|r| r.name == name))
        .and_then(|r| r.dry_run_exit_codes.clone())
        .unwrap_or_else(|| policy.defaults().dry_run_exit_codes.clone());

    Evaluation {
        tier,
        rule,
        approvals_required: approvals,
        denied,
        matched,
        skipped,
        reasons,
        dry_run_exit_codes,
    }
}

fn approvals_phrase(n: u32) -> String {
    match n {
        0 => "no approval".to_string(),
        1 => "1 approval".to_string(),
        n => format!("{n} approvals"),
    }
}

/// How `rule` matches the input: `None` when its commands or conditions do
/// not hold, `Err` when they do but its `unless` or `options` take the
/// command out.
fn match_rule(rule: &Rule, input: &Input) -> Option<Result<RuleMatch, RuleSkip>> {
    let pattern = command_match(rule, input.argv)?;
    let mut conditions = Vec::new();
    for (name, glob) in &rule.env {
        let value = (input.env)(name)?;
        if !glob_matches(glob.as_bytes(), value.as_bytes()) {
            return None;
        }
        conditions.push(format!("{name}={glob}"));
    }
    if let Some(regex) = &rule.dry_run_output {
        let stdout = input.dry_run.as_ref()?.stdout;
        if !regex.is_match(&String::from_utf8_lossy(stdout)) {
            return None;
        }
        conditions.push(format!("dry-run output matching /{}/", regex.as_str()));
    }
    if let Some(why) = exception(rule, input.argv) {
        return Some(Err(RuleSkip {
            rule: rule.name.clone(),
            tier: rule.tier,
            why: format!("\"{}\" matched but {why}", pattern.as_str()),
        }));
    }
    Some(Ok(RuleMatch {
        rule: rule.name.clone(),
        tier: rule.tier,
        pattern: pattern.as_str().to_string(),
        conditions,
    }))
}

/// The first of the rule's command patterns that matches `argv`.
pub(super) fn command_match<'r>(rule: &'r Rule, argv: &[OsString]) -> Option<&'r Pattern> {
    rule.commands.iter().find(|p| p.matches(argv))
}

/// Why `argv` is taken out of `rule` by its `unless` or `options`, as a
/// phrase, or `None` when neither does.
pub(super) fn exception(rule: &Rule, argv: &[OsString]) -> Option<String> {
    if let Some(u) = rule.unless.iter().find(|u| u.matches(argv)) {
        return Some(format!("unless \"{}\" takes the command out", u.as_str()));
    }
    let allowed = rule.options.as_ref()?;
    let unlisted = option_arguments(argv).find(|arg| !option_allowed(allowed, arg.as_bytes()))?;
    Some(format!(
        "option \"{}\" is not in its options",
        String::from_utf8_lossy(unlisted.as_bytes())
    ))
}

/// Whether an option argument is in an `options` allowlist: it matches one
/// of its globs, or it is a bundle of short options (`-fqn`: letters and
/// digits after one `-`) whose every letter is listed on its own (`-f`,
/// `-q`, `-n`). Splitting only ever asks more: when the program reads part
/// of a bundle as a value (`-on` as `-o n`), that part must still be listed
/// as an option, so a bundle passes only if each reading of it would.
pub(super) fn option_allowed(allowed: &[String], arg: &[u8]) -> bool {
    if allowed
        .iter()
        .any(|glob| glob_matches(glob.as_bytes(), arg))
    {
        return true;
    }
    let Some(letters) = arg.strip_prefix(b"-") else {
        return false;
    };
    letters.len() > 1
        && letters.iter().all(u8::is_ascii_alphanumeric)
        && letters
            .iter()
            .all(|&c| allowed.iter().any(|a| a.as_bytes() == [b'-', c]))
}
