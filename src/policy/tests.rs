use super::*;

const ORIGIN: &str = "policy.toml";

fn parse(source: &str) -> Policy {
    Policy::parse(source, ORIGIN).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts that `source` is refused on `line` with a message containing `needle`.
#[track_caller]
fn refused(source: &str, line: Option<usize>, needle: &str) -> PolicyError {
    let e = match Policy::parse(source, ORIGIN) {
        Ok(_) => panic!("policy was accepted:\n{source}"),
        Err(e) => e,
    };
    assert_eq!(e.origin, ORIGIN);
    assert!(
        e.message.contains(needle),
        "message {:?} lacks {needle:?}",
        e.message
    );
    assert_eq!(e.line, line, "{e}");
    assert!(!e.to_string().contains('\n'), "{e}");
    e
}

fn argv(command: &str) -> Vec<OsString> {
    shell_words::split(command)
        .unwrap()
        .into_iter()
        .map(OsString::from)
        .collect()
}

struct Case<'a> {
    command: &'a str,
    env: &'a [(&'a str, &'a str)],
    dry_run_stdout: Option<&'a str>,
    confidence: Option<f64>,
}

impl<'a> Case<'a> {
    fn new(command: &'a str) -> Self {
        Case {
            command,
            env: &[],
            dry_run_stdout: None,
            confidence: None,
        }
    }

    fn eval(&self, policy: &Policy) -> Evaluation {
        let argv = argv(self.command);
        let env = |name: &str| {
            self.env
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        };
        let dry_run = self.dry_run_stdout.map(|out| DryRunFacts {
            exit_code: 0,
            stdout: out.as_bytes(),
        });
        policy.evaluate(&Input {
            argv: &argv,
            env: &env,
            dry_run,
            confidence: self.confidence,
        })
    }
}

fn eval(policy: &Policy, command: &str) -> Evaluation {
    Case::new(command).eval(policy)
}

// --- loading ------------------------------------------------------------------

#[test]
fn minimal_policy_gets_the_documented_defaults() {
    let p = parse("version = 1\n");
    let d = p.defaults();
    assert_eq!(d.tier, Tier::Irreversible);
    assert_eq!(d.approval_ttl, Duration::from_secs(3600));
    assert_eq!(d.apply_ttl, Duration::from_secs(86_400));
    assert!(d.separation_of_duties);
    assert_eq!(d.output_cap, 1_048_576);
    assert_eq!(d.dry_run_exit_codes, vec![0]);
    assert_eq!(d.dry_run_timeout, Duration::from_secs(300));
    let approvals: Vec<u32> = Tier::ALL
        .iter()
        .map(|&t| p.tier_settings(t).approvals)
        .collect();
    assert_eq!(approvals, vec![0, 0, 1, 2, 0]);
    assert!(
        Tier::ALL
            .iter()
            .all(|&t| !p.tier_settings(t).require_dry_run)
    );
    assert!(p.rules().is_empty() && p.budgets().is_empty());
    assert!(p.notify().is_none() && p.confidence().is_none());
    assert_eq!(p.origin(), ORIGIN);
    assert_eq!(p.source(), "version = 1\n");
}

#[test]
fn sha256_is_of_the_source_bytes() {
    let p = parse("version = 1\n");
    // printf 'version = 1\n' | sha256sum
    assert_eq!(
        p.sha256(),
        "dbab12665d98aef021ba64953c61b0ed8a908cfb56a1c01e2fcb4b052b71a2a1"
    );
    assert_ne!(parse("version = 1 \n").sha256(), p.sha256());
}

#[test]
fn the_contract_example_loads() {
    let source = r#"
version = 1

[defaults]
tier = "irreversible"
approval_ttl = "1h"
apply_ttl = "24h"
separation_of_duties = false
output_cap = 4096
dry_run_exit_codes = [0, 2]

[tiers.read_only]
approvals = 0
[tiers.reversible]
approvals = 0
require_dry_run = true
[tiers.irreversible]
approvals = 1
[tiers.critical]
approvals = 3

[[rules]]
name = "inspection"
tier = "read_only"
commands = ["ls **", "cat **", "git status **", "kubectl get **"]
examples = ["kubectl get pods -A"]
not_examples = ["kubectl delete pod x"]

[[rules]]
name = "production"
tier = "critical"
description = "anything against prod"
commands = ["kubectl **"]
env = { KUBE_CONTEXT = "prod*" }
dry_run_output = "(?m)^.*deleted"
dry_run_exit_codes = [0, 1]

[confidence]
deny_below = 0.6
approve_below = 0.85

[[budgets]]
name = "writes per hour"
tiers = ["reversible", "irreversible", "critical"]
max = 50
per = "1h"
rule = "production"
actor = "ci"

[notify]
command = ["notify-send", "ladder: plan waiting"]
"#;
    let p = parse(source);
    assert!(!p.defaults().separation_of_duties);
    assert_eq!(p.defaults().output_cap, 4096);
    assert_eq!(p.defaults().dry_run_exit_codes, vec![0, 2]);
    assert_eq!(p.tier_settings(Tier::Critical).approvals, 3);
    assert!(p.tier_settings(Tier::Reversible).require_dry_run);
    assert_eq!(p.tier_settings(Tier::Deny).approvals, 0);

    let rules = p.rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].name, "inspection");
    assert_eq!(rules[0].line, 22, "line of the first [[rules]] header");
    assert_eq!(rules[0].commands.len(), 4);
    assert_eq!(rules[0].examples, vec!["kubectl get pods -A"]);
    assert_eq!(rules[1].line, 29);
    assert_eq!(
        rules[1].description.as_deref(),
        Some("anything against prod")
    );
    assert_eq!(rules[1].env, vec![("KUBE_CONTEXT".into(), "prod*".into())]);
    assert!(rules[1].dry_run_output.is_some());
    assert_eq!(rules[1].dry_run_exit_codes, Some(vec![0, 1]));

    let bands = p.confidence().unwrap();
    assert_eq!((bands.deny_below, bands.approve_below), (0.6, 0.85));
    let b = &p.budgets()[0];
    assert_eq!(b.name, "writes per hour");
    assert_eq!(
        b.tiers,
        vec![Tier::Reversible, Tier::Irreversible, Tier::Critical]
    );
    assert_eq!((b.max, b.per), (50, Duration::from_secs(3600)));
    assert_eq!(b.rule.as_deref(), Some("production"));
    assert_eq!(b.actor.as_deref(), Some("ci"));
    let n = p.notify().unwrap();
    assert_eq!(n.command, vec!["notify-send", "ladder: plan waiting"]);
    assert_eq!(n.timeout, Duration::from_secs(10));
}

#[test]
fn error_display_has_origin_line_and_reason() {
    let e = PolicyError {
        origin: "p.toml".into(),
        line: Some(3),
        message: "bad".into(),
    };
    assert_eq!(e.to_string(), "p.toml:3: bad");
    let e = PolicyError { line: None, ..e };
    assert_eq!(e.to_string(), "p.toml: bad");
}

#[test]
fn missing_version_is_refused() {
    refused(
        "[defaults]\ntier = \"critical\"\n",
        None,
        "missing `version = 1`",
    );
}

#[test]
fn other_versions_are_refused_before_anything_else() {
    refused(
        "\nversion = 2\nfuture_key = true\n",
        Some(2),
        "unsupported policy version 2",
    );
    refused("version = \"1\"\n", Some(1), "unsupported policy version");
}

#[test]
fn toml_syntax_error_is_refused_with_its_line() {
    refused(
        "version = 1\n\n[defaults\ntier = \"x\"\n",
        Some(3),
        "unclosed table",
    );
    refused("version = 1\nrules = [\n", Some(2), "unclosed array");
}

#[test]
fn unknown_key_at_top_level() {
    refused(
        "version = 1\nverison = 1\n",
        Some(2),
        "unknown field `verison`",
    );
}

#[test]
fn unknown_key_inside_a_rule() {
    let source = r#"version = 1
[[rules]]
name = "r"
tier = "read_only"
commands = ["ls"]
comands = ["cat"]
"#;
    refused(source, Some(6), "unknown field `comands`");
}

#[test]
fn unknown_key_in_defaults_and_tiers() {
    refused(
        "version = 1\n[defaults]\nttl = \"1h\"\n",
        Some(3),
        "unknown field `ttl`",
    );
    refused(
        "version = 1\n[tiers.critical]\napprovers = 2\n",
        Some(3),
        "unknown field `approvers`",
    );
}

#[test]
fn unknown_tier_in_a_rule() {
    let source = r#"version = 1

[[rules]]
name = "r"
tier = "readonly"
commands = ["ls"]
"#;
    refused(source, Some(5), "unknown tier `readonly`");
}

#[test]
fn unknown_tier_as_a_tiers_table() {
    refused(
        "version = 1\n[tiers.read_only]\napprovals = 0\n[tiers.severe]\napprovals = 3\n",
        Some(4),
        "unknown tier `severe`",
    );
}

#[test]
fn unknown_tier_in_defaults_and_budgets() {
    refused(
        "version = 1\n[defaults]\ntier = \"high\"\n",
        Some(3),
        "unknown tier `high`",
    );
    let source = r#"version = 1
[[budgets]]
name = "b"
tiers = ["critical",
  "dangerous"]
max = 1
per = "1h"
"#;
    refused(source, Some(5), "unknown tier `dangerous`");
}

#[test]
fn bad_regex_is_refused() {
    let source = r#"version = 1
[[rules]]
name = "r"
tier = "critical"
commands = ["kubectl **"]
dry_run_output = "(unclosed"
"#;
    let e = refused(
        source,
        Some(6),
        "rule \"r\": invalid `dry_run_output` regex",
    );
    assert!(e.message.contains("unclosed group"), "{e}");
}

#[test]
fn bad_durations_are_refused() {
    let e = refused(
        "version = 1\n[defaults]\napproval_ttl = \"soon\"\n",
        Some(3),
        "`approval_ttl`",
    );
    assert!(e.message.contains("invalid duration `soon`"), "{e}");
    refused(
        "version = 1\n[defaults]\napply_ttl = \"30\"\n",
        Some(3),
        "needs a unit",
    );
    refused(
        "version = 1\n[defaults]\napply_ttl = \"0s\"\n",
        Some(3),
        "longer than zero",
    );
    refused(
        "version = 1\n[defaults]\ntier = \"critical\"\ndry_run_timeout = \"0m\"\n",
        Some(4),
        "`dry_run_timeout` must be longer than zero",
    );
    refused(
        "version = 1\n[defaults]\ndry_run_timeout = \"a while\"\n",
        Some(3),
        "`dry_run_timeout`",
    );
    assert_eq!(
        parse("version = 1\n[defaults]\ndry_run_timeout = \"90s\"\n")
            .defaults()
            .dry_run_timeout,
        Duration::from_secs(90)
    );
    refused(
        "version = 1\n[notify]\ncommand = [\"x\"]\ntimeout = \"fast\"\n",
        Some(4),
        "`timeout`",
    );
    refused(
        "version = 1\n[[budgets]]\nname = \"b\"\ntiers = [\"critical\"]\nmax = 1\nper = \"hourly\"\n",
        Some(6),
        "`per`",
    );
}

#[test]
fn duplicate_rule_name_is_refused() {
    let source = r#"version = 1
[[rules]]
name = "r"
tier = "read_only"
commands = ["ls"]

[[rules]]
name = "r"
tier = "critical"
commands = ["rm **"]
"#;
    refused(
        source,
        Some(7),
        "duplicate rule name \"r\" (first defined on line 2)",
    );
}

#[test]
fn example_that_does_not_match_is_refused() {
    let source = r#"version = 1
[[rules]]
name = "inspection"
tier = "read_only"
commands = ["ls **", "kubectl describe **"]
examples = [
  "ls -la",
  "kubectl get pods -A",
]
"#;
    let e = refused(source, Some(8), "");
    assert_eq!(
        e.message,
        "rule \"inspection\": example \"kubectl get pods -A\" does not match any of its commands"
    );
}

#[test]
fn not_example_that_matches_is_refused() {
    let source = r#"version = 1
[[rules]]
name = "inspection"
tier = "read_only"
commands = ["kubectl **"]
not_examples = ["kubectl delete pod x"]
"#;
    let e = refused(source, Some(6), "");
    assert_eq!(
        e.message,
        "rule \"inspection\": not_example \"kubectl delete pod x\" matches its command \"kubectl **\""
    );
}

#[test]
fn bad_examples_and_patterns_are_refused() {
    let rule = "version = 1\n[[rules]]\nname = \"r\"\ntier = \"read_only\"\n";
    refused(
        &format!("{rule}commands = [\"ls\"]\nexamples = [\"ls 'x\"]\n"),
        Some(6),
        "unbalanced quote",
    );
    refused(
        &format!("{rule}commands = [\"ls\"]\nexamples = [\" \"]\n"),
        Some(6),
        "example is empty",
    );
    refused(
        &format!("{rule}commands = []\n"),
        Some(5),
        "at least one pattern",
    );
    refused(
        &format!("{rule}commands = [\"ls\",\n  \"\"]\n"),
        Some(6),
        "empty pattern",
    );
    refused(
        &format!("{rule}commands = [\"echo 'x\"]\n"),
        Some(5),
        "unbalanced quote",
    );
    refused(&format!("{rule}\n"), Some(2), "missing field `commands`");
    refused(
        &format!("{rule}commands = [\"ls\"]\ndry_run_exit_codes = []\n"),
        Some(6),
        "at least one exit code",
    );
    refused(
        &format!("{rule}commands = [\"ls\"]\nenv = {{ \"A=B\" = \"x\" }}\n"),
        Some(6),
        "not an environment variable name",
    );
}

#[test]
fn budget_naming_an_unknown_rule_is_refused() {
    let source = r#"version = 1
[[rules]]
name = "deploys"
tier = "critical"
commands = ["deploy **"]

[[budgets]]
name = "b"
tiers = ["critical"]
max = 5
per = "1d"
rule = "deploy"
"#;
    refused(
        source,
        Some(12),
        "budget \"b\": no rule is named \"deploy\"",
    );
}

#[test]
fn budget_limits_are_checked() {
    let budget = "version = 1\n[[budgets]]\nname = \"b\"\nper = \"1h\"\n";
    refused(
        &format!("{budget}tiers = [\"critical\"]\nmax = 0\n"),
        Some(6),
        "`max` must be a whole number from 1",
    );
    refused(
        &format!("{budget}tiers = []\nmax = 1\n"),
        Some(5),
        "at least one tier",
    );
    refused(
        &format!(
            "{budget}tiers = [\"critical\"]\nmax = 1\n[[budgets]]\nname = \"b\"\ntiers = [\"critical\"]\nmax = 2\nper = \"1h\"\n"
        ),
        Some(7),
        "duplicate budget name",
    );
}

#[test]
fn confidence_out_of_range_is_refused() {
    refused(
        "version = 1\n[confidence]\ndeny_below = 0.6\napprove_below = 1.5\n",
        Some(4),
        "`approve_below` must be between 0 and 1, not 1.5",
    );
    refused(
        "version = 1\n[confidence]\ndeny_below = -0.1\napprove_below = 0.5\n",
        Some(3),
        "`deny_below` must be between 0 and 1",
    );
    refused(
        "version = 1\n[confidence]\ndeny_below = nan\napprove_below = 0.5\n",
        Some(3),
        "`deny_below` must be between 0 and 1",
    );
    refused(
        "version = 1\n[confidence]\ndeny_below = 0.9\napprove_below = 0.5\n",
        Some(2),
        "must not be greater than",
    );
    // Integers are numbers too.
    let p = parse("version = 1\n[confidence]\ndeny_below = 0\napprove_below = 1\n");
    assert_eq!(p.confidence().unwrap().approve_below, 1.0);
}

#[test]
fn defaults_limits_are_checked() {
    refused(
        "version = 1\n[defaults]\noutput_cap = 0\n",
        Some(3),
        "`output_cap`",
    );
    refused(
        "version = 1\n[defaults]\noutput_cap = -5\n",
        Some(3),
        "`output_cap`",
    );
    // Past what one state-file row holds: refused at load, not after a run.
    refused(
        "version = 1\n[defaults]\noutput_cap = 2147483648\n",
        Some(3),
        "256 MiB",
    );
    let p = parse("version = 1\n[defaults]\noutput_cap = 268435456\n");
    assert_eq!(p.defaults().output_cap, 256 << 20);
    refused(
        "version = 1\n[defaults]\ndry_run_exit_codes = []\n",
        Some(3),
        "at least one exit code",
    );
    refused(
        "version = 1\n[tiers.critical]\napprovals = -1\n",
        Some(3),
        "",
    );
}

#[test]
fn notify_needs_a_program() {
    refused(
        "version = 1\n[notify]\ncommand = []\n",
        Some(3),
        "must start with a program",
    );
    refused(
        "version = 1\n[notify]\ncommand = [\"\"]\n",
        Some(3),
        "must start with a program",
    );
    let p = parse("version = 1\n[notify]\ncommand = [\"x\"]\ntimeout = \"3s\"\n");
    assert_eq!(p.notify().unwrap().timeout, Duration::from_secs(3));
}

// --- evaluation ---------------------------------------------------------------

const LADDER: &str = r#"version = 1

[tiers.reversible]
approvals = 0
require_dry_run = true

[[rules]]
name = "look"
tier = "read_only"
commands = ["kubectl get **", "ls **"]

[[rules]]
name = "cluster"
tier = "irreversible"
commands = ["kubectl **"]
dry_run_exit_codes = [0, 1]

[[rules]]
name = "cluster-again"
tier = "irreversible"
commands = ["kubectl delete **"]

[[rules]]
name = "production"
tier = "critical"
commands = ["kubectl **"]
env = { KUBE_CONTEXT = "prod*", TEAM = "*" }

[[rules]]
name = "mass-delete"
tier = "critical"
commands = ["kubectl apply **"]
dry_run_output = "(?m)^.* deleted$"

[[rules]]
name = "tidy"
tier = "reversible"
commands = ["mkdir **"]

[[rules]]
name = "forbidden"
tier = "deny"
commands = ["reboot **"]

[confidence]
deny_below = 0.6
approve_below = 0.85
"#;

fn ladder() -> Policy {
    parse(LADDER)
}

#[test]
fn nothing_matches_defaults_apply() {
    let e = eval(&ladder(), "make install");
    assert_eq!(e.tier, Tier::Irreversible);
    assert_eq!(e.rule, None);
    assert_eq!(e.approvals_required, 1);
    assert!(e.matched.is_empty());
    assert_eq!(
        e.reasons[0],
        "no rule matched: [defaults] tier irreversible"
    );
    assert_eq!(e.dry_run_exit_codes, vec![0]);
    assert_eq!(e.denied, None);
}

#[test]
fn strictest_tier_wins_and_every_match_is_listed() {
    let e = eval(&ladder(), "kubectl get pods");
    assert_eq!(e.tier, Tier::Irreversible);
    assert_eq!(e.rule.as_deref(), Some("cluster"));
    let names: Vec<&str> = e.matched.iter().map(|m| m.rule.as_str()).collect();
    assert_eq!(names, vec!["look", "cluster"]);
    assert_eq!(e.matched[0].pattern, "kubectl get **");
    assert_eq!(e.matched[0].tier, Tier::ReadOnly);
    assert_eq!(
        e.reasons[0],
        "rule \"cluster\" (irreversible) matched \"kubectl **\": the strictest of 2 matching rules"
    );
    assert_eq!(e.reasons[1], "tier irreversible requires 1 approval");
    // The winning rule's exit codes apply.
    assert_eq!(e.dry_run_exit_codes, vec![0, 1]);

    let e = eval(&ladder(), "ls -la");
    assert_eq!((e.tier, e.rule.as_deref()), (Tier::ReadOnly, Some("look")));
    assert_eq!(e.approvals_required, 0);
}

#[test]
fn first_rule_in_the_file_wins_a_tie() {
    let e = eval(&ladder(), "kubectl delete pod x");
    assert_eq!(e.matched.len(), 2);
    assert_eq!(e.rule.as_deref(), Some("cluster"));
}

#[test]
fn env_condition_holds_fails_or_is_unset() {
    let p = ladder();
    let mut case = Case::new("kubectl get pods");
    case.env = &[("KUBE_CONTEXT", "prod-eu"), ("TEAM", "")];
    let e = case.eval(&p);
    assert_eq!(
        (e.tier, e.rule.as_deref()),
        (Tier::Critical, Some("production"))
    );
    assert_eq!(e.approvals_required, 2);
    let m = e.matched.iter().find(|m| m.rule == "production").unwrap();
    assert_eq!(m.conditions, vec!["KUBE_CONTEXT=prod*", "TEAM=*"]);
    assert_eq!(
        e.reasons[0],
        "rule \"production\" (critical) matched \"kubectl **\" with KUBE_CONTEXT=prod* \
         and TEAM=*: the strictest of 3 matching rules"
    );

    case.env = &[("KUBE_CONTEXT", "staging"), ("TEAM", "x")];
    assert_eq!(case.eval(&p).rule.as_deref(), Some("cluster"));

    // Unset fails even for a glob that matches anything.
    case.env = &[("KUBE_CONTEXT", "prod")];
    assert_eq!(case.eval(&p).rule.as_deref(), Some("cluster"));
}

#[test]
fn dry_run_output_condition_needs_a_dry_run() {
    let p = ladder();
    let mut case = Case::new("kubectl apply -f app.yaml");
    assert_eq!(case.eval(&p).rule.as_deref(), Some("cluster"));

    case.dry_run_stdout = Some("deployment.apps/api configured\n");
    assert_eq!(case.eval(&p).rule.as_deref(), Some("cluster"));

    case.dry_run_stdout = Some("service/a unchanged\nconfigmap/old deleted\n");
    let e = case.eval(&p);
    assert_eq!(
        (e.tier, e.rule.as_deref()),
        (Tier::Critical, Some("mass-delete"))
    );
    let m = e.matched.last().unwrap();
    assert_eq!(
        m.conditions,
        vec!["dry-run output matching /(?m)^.* deleted$/"]
    );
}

#[test]
fn dry_run_output_is_matched_lossily() {
    let p = ladder();
    let argv = argv("kubectl apply -f x");
    let env = |_: &str| None;
    let e = p.evaluate(&Input {
        argv: &argv,
        env: &env,
        dry_run: Some(DryRunFacts {
            exit_code: 0,
            stdout: b"\xff\xfe pod/x deleted\n",
        }),
        confidence: None,
    });
    assert_eq!(e.rule.as_deref(), Some("mass-delete"));
}

#[test]
fn require_dry_run_escalates_to_one_approval() {
    let p = ladder();
    let mut case = Case::new("mkdir -p out");
    let e = case.eval(&p);
    assert_eq!((e.tier, e.approvals_required), (Tier::Reversible, 1));
    assert!(e.reasons.contains(
        &"tier reversible requires a dry-run and none was given: 1 approval required".into()
    ));

    case.dry_run_stdout = Some("");
    let e = case.eval(&p);
    assert_eq!(e.approvals_required, 0);
    assert!(!e.reasons.iter().any(|r| r.contains("dry-run")));
}

#[test]
fn require_dry_run_does_not_lower_higher_approvals() {
    let p = parse(
        "version = 1\n[tiers.critical]\napprovals = 2\nrequire_dry_run = true\n\
         [defaults]\ntier = \"critical\"\n",
    );
    let e = eval(&p, "anything");
    assert_eq!(e.approvals_required, 2);
    assert!(e.reasons.iter().any(|r| r.contains("already cover")));
}

#[test]
fn confidence_bands() {
    let p = ladder();
    let mut case = Case::new("ls");

    case.confidence = Some(0.9);
    let e = case.eval(&p);
    assert_eq!((e.approvals_required, e.denied.as_deref()), (0, None));

    case.confidence = Some(0.85);
    assert_eq!(case.eval(&p).approvals_required, 0, "the band is exclusive");

    case.confidence = Some(0.7);
    let e = case.eval(&p);
    assert_eq!((e.tier, e.approvals_required), (Tier::ReadOnly, 1));
    assert!(e.reasons.contains(
        &"confidence 0.7 is below approve_below 0.85: at least 1 approval required".into()
    ));
    assert_eq!(e.denied, None);

    case.confidence = Some(0.5);
    let e = case.eval(&p);
    assert_eq!(e.approvals_required, 0);
    assert_eq!(
        e.denied.as_deref(),
        Some("confidence 0.5 is below deny_below 0.6: denied")
    );

    // Below approve_below never lowers a tier's own approvals.
    let mut case = Case::new("kubectl delete pod x");
    case.confidence = Some(0.7);
    assert_eq!(case.eval(&p).approvals_required, 1);

    // Without a [confidence] section, confidence changes nothing.
    let mut case = Case::new("x");
    case.confidence = Some(0.0);
    let e = case.eval(&parse("version = 1\n"));
    assert_eq!((e.approvals_required, e.denied), (1, None));
}

#[test]
fn deny_tier_denies_naming_the_rule() {
    let e = eval(&ladder(), "/sbin/reboot now");
    assert_eq!((e.tier, e.rule.as_deref()), (Tier::Deny, Some("forbidden")));
    assert_eq!(
        e.denied.as_deref(),
        Some("rule \"forbidden\" denies this command")
    );
    assert_eq!(e.approvals_required, 0);

    let p = parse("version = 1\n[defaults]\ntier = \"deny\"\n");
    let e = eval(&p, "ls");
    assert_eq!(e.rule, None);
    assert!(e.denied.unwrap().contains("[defaults] tier deny"));
}

#[test]
fn evaluation_serializes_with_snake_case_tiers() {
    let e = eval(&ladder(), "kubectl get pods");
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["tier"], "irreversible");
    assert_eq!(json["matched"][0]["tier"], "read_only");
    assert_eq!(json["matched"][0]["pattern"], "kubectl get **");
    assert_eq!(json["approvals_required"], 1);
}

#[test]
fn empty_argv_gets_the_defaults() {
    let p = ladder();
    let env = |_: &str| None;
    let e = p.evaluate(&Input {
        argv: &[],
        env: &env,
        dry_run: None,
        confidence: None,
    });
    assert_eq!((e.tier, e.rule), (Tier::Irreversible, None));
}

// --- exceptions (`unless`) and option allowlists (`options`) -------------------

/// The README's worked example: a force push is critical unless it is a
/// dry-run; `git log` is read-only with only the options it lists.
const EXCEPTIONS: &str = r#"version = 1

[[rules]]
name = "preview"
tier = "read_only"
commands = ["git push ** --dry-run **", "git push ** -n **"]

[[rules]]
name = "force-push"
tier = "critical"
commands = ["git push ** --force **", "git push ** -f **"]
unless = ["git push ** --dry-run **", "git push ** -n **"]
examples = ["git push --force origin main"]
not_examples = ["git push --force --dry-run origin main"]

[[rules]]
name = "history"
tier = "read_only"
commands = ["git log **"]
options = ["--oneline", "--format=*", "--max-count=*", "-n", "--stat", "-p"]
examples = ["git log --oneline -n 5 --format=%h -- --exec=x"]
not_examples = ["git log --exec=x"]
"#;

#[test]
fn unless_takes_a_command_out_of_its_rule() {
    let p = parse(EXCEPTIONS);
    let real = eval(&p, "git push --force origin main");
    assert_eq!(
        (real.tier, real.rule.as_deref()),
        (Tier::Critical, Some("force-push"))
    );
    assert!(real.skipped.is_empty());

    let dry = eval(
        &p,
        "git push --force --dry-run --porcelain origin HEAD:main",
    );
    assert_eq!(
        (dry.tier, dry.rule.as_deref()),
        (Tier::ReadOnly, Some("preview"))
    );
    assert_eq!(dry.approvals_required, 0);
    let names: Vec<&str> = dry.matched.iter().map(|m| m.rule.as_str()).collect();
    assert_eq!(names, ["preview"], "the excepted rule is not matched");
    assert_eq!(
        dry.skipped,
        [RuleSkip {
            rule: "force-push".into(),
            tier: Tier::Critical,
            why: "\"git push ** --force **\" matched but unless \"git push ** --dry-run **\" \
                  takes the command out"
                .into(),
        }]
    );
    // The decision says why the stricter rule did not decide.
    assert!(
        dry.reasons
            .iter()
            .any(|r| r.starts_with("rule \"force-push\" (critical) was skipped: ")),
        "{:?}",
        dry.reasons
    );
    // Any exception will do: the short flag too.
    let short = eval(&p, "git push -f -n origin main");
    assert_eq!(short.tier, Tier::ReadOnly);
    assert!(
        short.skipped[0]
            .why
            .contains("unless \"git push ** -n **\"")
    );
}

#[test]
fn a_skipped_rule_no_stricter_than_the_outcome_is_listed_but_not_a_reason() {
    let p = parse(
        r#"version = 1
[defaults]
tier = "critical"
[[rules]]
name = "look"
tier = "read_only"
commands = ["ls **"]
unless = ["ls ** -R **"]
"#,
    );
    let e = eval(&p, "ls -R /");
    assert_eq!((e.tier, e.rule.as_deref()), (Tier::Critical, None));
    assert_eq!(e.skipped.len(), 1);
    assert_eq!(e.skipped[0].rule, "look");
    // Falling out of a read-only rule to [defaults] is what the rule asked for.
    assert!(
        !e.reasons.iter().any(|r| r.contains("skipped")),
        "{:?}",
        e.reasons
    );
    // A rule whose commands do not match is not "skipped".
    assert!(eval(&p, "cat x").skipped.is_empty());
}

#[test]
fn a_skip_is_recorded_only_when_the_conditions_held() {
    let p = parse(
        r#"version = 1
[[rules]]
name = "prod"
tier = "critical"
commands = ["kubectl **"]
unless = ["kubectl diff **"]
env = { KUBE_CONTEXT = "prod*" }
"#,
    );
    let mut case = Case::new("kubectl diff -f k8s/");
    assert!(case.eval(&p).skipped.is_empty(), "env does not hold");
    case.env = &[("KUBE_CONTEXT", "prod-eu")];
    let e = case.eval(&p);
    assert_eq!(e.skipped.len(), 1);
    assert!(e.matched.is_empty());
    let apply = Case {
        env: &[("KUBE_CONTEXT", "prod-eu")],
        ..Case::new("kubectl apply -f k8s/")
    };
    assert_eq!(apply.eval(&p).tier, Tier::Critical);
}

#[test]
fn options_allowlist_lets_listed_options_through() {
    let p = parse(EXCEPTIONS);
    for ok in [
        "git log",
        "git log main..HEAD",
        "git log --oneline -n 5",
        "git log --format=%H%x00%s -p --stat",
        "git log --max-count=20",
        // A bundle whose every letter is listed: `-p -n`.
        "git log -pn 3",
        // A lone `-` is an operand, not an option.
        "git log -",
        // After `--` everything is a path.
        "git log --oneline -- --exec=sh -x",
    ] {
        let e = eval(&p, ok);
        assert_eq!(
            (e.tier, e.rule.as_deref()),
            (Tier::ReadOnly, Some("history")),
            "{ok}"
        );
        assert!(e.skipped.is_empty(), "{ok}");
    }
}

#[test]
fn options_allowlist_rejects_what_it_does_not_list() {
    let p = parse(EXCEPTIONS);
    for (bad, option) in [
        // Unknown, and one that runs a command.
        ("git log --exec=sh", "--exec=sh"),
        ("git log --output=/etc/passwd", "--output=/etc/passwd"),
        // A negation of a listed option is another option.
        ("git log --no-stat", "--no-stat"),
        // An abbreviation git would accept for a long option.
        ("git log --onel", "--onel"),
        ("git log --form=%H", "--form=%H"),
        // `--opt=value` of an option listed only bare.
        ("git log --stat=100", "--stat=100"),
        // A bundle with a letter not listed on its own, or that is not
        // letters after one dash.
        ("git log -pq", "-pq"),
        ("git log -p5", "-p5"),
        ("git log -p-n", "-p-n"),
        // The first unlisted one is named, after listed ones.
        ("git log --oneline -q --bogus", "-q"),
    ] {
        let e = eval(&p, bad);
        assert_eq!(
            (e.tier, e.rule.as_deref()),
            (Tier::Irreversible, None),
            "{bad}"
        );
        assert!(e.matched.is_empty(), "{bad}");
        assert_eq!(e.skipped.len(), 1, "{bad}");
        assert_eq!(
            e.skipped[0].why,
            format!("\"git log **\" matched but option \"{option}\" is not in its options"),
            "{bad}"
        );
    }
}

#[test]
fn an_empty_options_list_allows_no_option_at_all() {
    let p = parse(
        r#"version = 1
[[rules]]
name = "status"
tier = "read_only"
commands = ["git status **"]
options = []
examples = ["git status", "git status -- -x"]
not_examples = ["git status -s"]
"#,
    );
    assert_eq!(eval(&p, "git status").tier, Tier::ReadOnly);
    assert_eq!(eval(&p, "git status -s").tier, Tier::Irreversible);
}

#[test]
fn options_judge_every_argument_after_the_program() {
    // Options before a subcommand, and those the pattern names itself,
    // must be listed too: the allowlist is over the command, not the `**`.
    let p = parse(
        r#"version = 1
[[rules]]
name = "force"
tier = "reversible"
commands = ["git ** push --force **"]
options = ["--force"]
"#,
    );
    assert_eq!(eval(&p, "git push --force origin").tier, Tier::Reversible);
    let e = eval(&p, "git -c core.sshCommand=x push --force origin");
    assert_eq!(e.tier, Tier::Irreversible);
    assert!(
        e.skipped[0].why.contains("option \"-c\""),
        "{:?}",
        e.skipped
    );
}

#[test]
fn bad_unless_patterns_and_option_globs_are_refused_with_their_line() {
    let rule = |extra: &str| {
        format!(
            "version = 1\n\n[[rules]]\nname = \"r\"\ntier = \"read_only\"\ncommands = [\"git **\"]\n{extra}\n"
        )
    };
    refused(
        &rule("unless = [\n  \"git log **\",\n  \"\",\n]"),
        Some(9),
        "rule \"r\": `unless`: empty pattern",
    );
    refused(
        &rule("unless = [\"git 'oops\"]"),
        Some(7),
        "unbalanced quote",
    );
    refused(&rule("unless = \"git log **\""), Some(7), "");
    refused(
        &rule("options = [\"--a\",\n \"\"]"),
        Some(8),
        "`options` entry \"\" is empty",
    );
    refused(
        &rule("options = [\"format=*\"]"),
        Some(7),
        "does not start with `-`",
    );
    refused(&rule("options = [\"-\"]"), Some(7), "is never an option");
    refused(&rule("options = [\"--\"]"), Some(7), "is never an option");
    refused(&rule("options = [\"--a\\u0000\"]"), Some(7), "NUL");
    refused(&rule("options = \"--a\""), Some(7), "");
    refused(&rule("option = [\"--a\"]"), Some(7), "option");
    // A range written backwards would match nothing: refused wherever a
    // glob goes, not taken as an empty set.
    refused(&rule("options = [\"-[z-a]\"]"), Some(7), "backwards");
    refused(&rule("unless = [\"git -[z-a] **\"]"), Some(7), "backwards");
    refused(&rule("env = { STAGE = \"[z-a]*\" }"), Some(7), "backwards");
}

#[test]
fn examples_are_checked_through_unless_and_options() {
    let rule = |extra: &str| {
        format!(
            "version = 1\n[[rules]]\nname = \"push\"\ntier = \"critical\"\n\
             commands = [\"git push ** --force **\"]\nunless = [\"git push ** --dry-run **\"]\n\
             options = [\"--force\", \"--dry-run\", \"-v\"]\n{extra}\n"
        )
    };
    // The worked example holds.
    parse(&rule(
        "examples = [\"git push --force origin\"]\nnot_examples = [\"git push --force --dry-run origin\"]",
    ));
    // An example its exception takes out is refused, saying so.
    refused(
        &rule("examples = [\"git push --force origin\",\n \"git push --force --dry-run origin\"]"),
        Some(9),
        "example \"git push --force --dry-run origin\" matches its command \
         \"git push ** --force **\" but unless \"git push ** --dry-run **\" takes the command out",
    );
    // So is one its options allowlist takes out.
    refused(
        &rule("examples = [\"git push --force -q origin\"]"),
        Some(8),
        "but option \"-q\" is not in its options",
    );
    // A not_example that neither takes out still matches the rule.
    refused(
        &rule("not_examples = [\"git push --force -v origin\"]"),
        Some(8),
        "not_example \"git push --force -v origin\" matches its command \"git push ** --force **\" \
         and neither `unless` nor `options` takes it out",
    );
    // A not_example taken out by options alone holds.
    parse(&rule(
        "not_examples = [\"git push --force --upload-p=sh origin\"]",
    ));
}

/// The README's two worked examples load (their examples hold) and decide
/// as the text around them says.
#[test]
fn readme_exception_and_options_examples_hold() {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("**Exceptions, deferral and option allowlists.**")
        .nth(1)
        .expect("the README section");
    let blocks: Vec<&str> = section
        .split("```toml\n")
        .skip(1)
        .take(2)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert_eq!(blocks.len(), 2);
    let p = parse(&format!("version = 1\n{}\n{}", blocks[0], blocks[1]));
    let tier = |c: &str| eval(&p, c).tier;
    assert_eq!(tier("git push --force origin main"), Tier::Critical);
    assert_eq!(
        tier("git push --force --dry-run --porcelain origin HEAD:main"),
        Tier::ReadOnly
    );
    assert_eq!(
        tier("git push --force --dry-run --no-dry-run origin main"),
        Tier::Critical,
        "what the preview rule does not take stays critical"
    );
    assert_eq!(tier("git log --oneline -n 5"), Tier::ReadOnly);
    assert_eq!(tier("git log --output=/tmp/x"), Tier::Irreversible);
    assert_eq!(tier("git -c x=y log"), Tier::Irreversible);
}

// --- the embedded default ------------------------------------------------------

#[test]
fn embedded_default_examples_agree_with_its_patterns() {
    // The binary loads the default from its precompiled form
    // (`embedded_checked_at_build`); this is the check it relies on.
    let checked = Policy::parse(EMBEDDED_SOURCE, EMBEDDED_ORIGIN).expect("examples hold");
    assert!(
        checked
            .rules()
            .iter()
            .filter(|r| !r.examples.is_empty())
            .count()
            >= 10
    );
    // The precompiled form is the same policy.
    let fast = Policy::embedded_checked_at_build().unwrap();
    assert_eq!(fast.sha256(), checked.sha256());
    assert_eq!(fast.rules().len(), checked.rules().len());
}

#[test]
fn embedded_default_loads() {
    let p = Policy::embedded();
    assert_eq!(p.origin(), EMBEDDED_ORIGIN);
    assert_eq!(p.source(), EMBEDDED_SOURCE);
    assert_eq!(p.defaults().tier, Tier::Irreversible);
    assert_eq!(p.defaults().approval_ttl, Duration::from_secs(3600));
    assert_eq!(p.defaults().apply_ttl, Duration::from_secs(86_400));
    assert!(p.defaults().separation_of_duties);
    assert!(p.tier_settings(Tier::Reversible).require_dry_run);
    assert_eq!(p.tier_settings(Tier::Critical).approvals, 2);
    assert!(p.confidence().is_some());
    // Free of side effects: nothing to run, nothing to count.
    assert!(p.notify().is_none());
    assert!(p.budgets().is_empty());
    assert!(p.rules().iter().all(|r| !r.examples.is_empty()));
}

#[test]
fn embedded_default_classifies_common_commands() {
    let p = Policy::embedded();
    let exact = [
        ("ls -la", Tier::ReadOnly),
        ("cat Cargo.toml", Tier::ReadOnly),
        ("git status", Tier::ReadOnly),
        ("git log --oneline", Tier::ReadOnly),
        ("git branch", Tier::ReadOnly),
        ("kubectl get pods -A", Tier::ReadOnly),
        ("terraform plan", Tier::ReadOnly),
        ("find . -name '*.rs'", Tier::ReadOnly),
        ("env", Tier::ReadOnly),
        ("cargo build", Tier::Reversible),
        ("git commit -m wip", Tier::Reversible),
        ("rm -rf /", Tier::Critical),
        ("terraform destroy", Tier::Critical),
        ("kubectl delete namespace prod", Tier::Critical),
        ("git push --force origin main", Tier::Critical),
        ("mkfs.ext4 /dev/sdb", Tier::Critical),
        ("dd if=/dev/zero of=/dev/sda", Tier::Critical),
    ];
    for (command, tier) in exact {
        assert_eq!(eval(&p, command).tier, tier, "{command}");
    }
    let at_least_irreversible = [
        "rm -rf build",
        "/bin/rm x",
        "sh -c ls",
        "bash -c 'ls'",
        "sudo ls",
        "env FOO=1 ls",
        "xargs rm",
        "eval ls",
        "git push --force origin main",
        "git push -f",
        "git push origin main",
        "git reset --hard HEAD~1",
        "git clean -fdx",
        "kubectl delete pod x",
        "kubectl -n prod delete pod x",
        "terraform destroy",
        "terraform apply",
        "curl -X POST https://x",
        "curl -d a=1 https://x",
        "find . -delete",
        "find . -exec rm {} +",
        "python3 -c 'print(1)'",
        "./ls",
        "git -c alias.st=!rm st",
        "rg --pre ./evil x",
        "git log --output=/etc/passwd",
        "date -s 2020-01-01",
        "cargo publish",
    ];
    for command in at_least_irreversible {
        let e = eval(&p, command);
        assert!(e.tier >= Tier::Irreversible, "{command}: {:?}", e.tier);
        assert!(e.approvals_required >= 1, "{command}");
    }
    let e = eval(&p, "frobnicate --all");
    assert_eq!((e.tier, e.rule), (Tier::Irreversible, None));
}

#[test]
fn embedded_default_names_the_most_specific_rule() {
    let p = Policy::embedded();
    assert_eq!(eval(&p, "/bin/rm x").rule.as_deref(), Some("delete-files"));
    assert_eq!(
        eval(&p, "sh -c 'ls'").rule.as_deref(),
        Some("hidden-commands")
    );
    assert_eq!(
        eval(&p, "find . -delete").rule.as_deref(),
        Some("delete-files")
    );
    let e = eval(&p, "git push --force origin main");
    assert_eq!(e.rule.as_deref(), Some("catastrophic"));
    assert_eq!(e.approvals_required, 2);
}

#[test]
fn embedded_default_reversible_is_free_only_with_a_dry_run() {
    let p = Policy::embedded();
    let mut case = Case::new("git commit -m wip");
    assert_eq!(case.eval(&p).approvals_required, 1);
    case.dry_run_stdout = Some("");
    assert_eq!(case.eval(&p).approvals_required, 0);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_never_panics(source in ".{0,200}") {
            let _ = Policy::parse(&source, ORIGIN);
        }

        #[test]
        fn parse_never_panics_on_near_valid_policies(
            tier in "[a-z_]{0,12}",
            pattern in ".{0,20}",
            example in ".{0,20}",
            regex in ".{0,10}",
        ) {
            let source = format!(
                "version = 1\n[[rules]]\nname = \"r\"\ntier = {tier:?}\ncommands = [{pattern:?}]\n\
                 examples = [{example:?}]\ndry_run_output = {regex:?}\n"
            );
            if let Err(e) = Policy::parse(&source, ORIGIN) {
                prop_assert!(e.line.is_some(), "{e}");
            }
        }

        #[test]
        fn evaluate_never_panics(
            words in prop::collection::vec(".{0,12}", 0..6),
            confidence in proptest::option::of(0.0f64..=1.0),
        ) {
            let p = Policy::embedded();
            let argv: Vec<OsString> = words.iter().map(OsString::from).collect();
            let env = |_: &str| Some(OsString::from("prod"));
            let e = p.evaluate(&Input { argv: &argv, env: &env, dry_run: None, confidence });
            prop_assert!(e.denied.is_none() || e.approvals_required == 0);
        }
    }
}

/// The precompiled embedded policy is what parsing default.toml gives
/// today. `LADDER_BLESS=1` rewrites it.
#[test]
fn embedded_policy_precompiled_form_is_fresh() {
    let parsed = Policy::parse(EMBEDDED_SOURCE, EMBEDDED_ORIGIN).expect("default.toml is valid");
    let want = serde_json::to_string_pretty(&parsed).unwrap() + "\n";
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/policy/default.compiled.json"
    );
    if std::env::var_os("LADDER_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(path).unwrap();
    assert!(
        have == want,
        "src/policy/default.compiled.json is stale; run `LADDER_BLESS=1 cargo test --lib embedded_policy` and commit"
    );
    // And it loads back into the same policy.
    let loaded = Policy::embedded_checked_at_build().unwrap();
    assert_eq!(serde_json::to_string_pretty(&loaded).unwrap() + "\n", want);
    assert_eq!(loaded.source(), EMBEDDED_SOURCE);
    assert_eq!(loaded.origin(), EMBEDDED_ORIGIN);
}

/// A binary built from an edited default.toml that was not re-blessed
/// classifies by the text it ships, not by the stale compiled form.
#[test]
fn a_precompiled_form_of_other_text_is_not_used() {
    let edited = EMBEDDED_SOURCE.replacen(
        "[defaults]\ntier = \"irreversible\"",
        "[defaults]\ntier = \"critical\"",
        1,
    );
    assert_ne!(edited, EMBEDDED_SOURCE);
    let p = Policy::from_compiled(super::EMBEDDED_COMPILED, &edited, EMBEDDED_ORIGIN)
        .expect("the edited text is valid");
    assert_eq!(p.source(), edited);
    assert_eq!(
        p.sha256(),
        Policy::parse(&edited, EMBEDDED_ORIGIN).unwrap().sha256()
    );
    assert_eq!(p.defaults().tier, Tier::Critical);
    // An unreadable form is parsed around too.
    let p = Policy::from_compiled("{", EMBEDDED_SOURCE, EMBEDDED_ORIGIN).unwrap();
    assert_eq!(p.sha256(), Policy::embedded().sha256());
}

// --- defer_to -------------------------------------------------------------------

const DEFERRING: &str = r#"
version = 1
[defaults]
tier = "irreversible"

[[rules]]
name = "force-push"
tier = "critical"
commands = ["git push ** --force **"]
defer_to = ["push-preview"]
not_examples = ["git push --force --dry-run origin main"]

[[rules]]
name = "push-preview"
tier = "read_only"
commands = ["git push ** --dry-run **"]
options = ["--dry-run", "--force", "--porcelain"]
"#;

#[test]
fn a_rule_defers_to_the_preview_that_takes_the_command() {
    let p = parse(DEFERRING);
    assert_eq!(
        eval(&p, "git push --force origin main").tier,
        Tier::Critical
    );
    let preview = eval(&p, "git push --force --dry-run --porcelain origin main");
    assert_eq!(preview.tier, Tier::ReadOnly);
    assert_eq!(preview.rule.as_deref(), Some("push-preview"));
    assert!(
        preview
            .skipped
            .iter()
            .any(|s| s.rule == "force-push" && s.why.contains("defers to rule \"push-preview\"")),
        "{:?}",
        preview.skipped
    );
    assert!(
        preview.reasons.iter().any(|r| r.contains("force-push")),
        "a stricter rule stepping aside is said: {:?}",
        preview.reasons
    );
    // What turns the preview back into the real push is no preview: the
    // preview rule does not take it, so the strict rule decides.
    for real in [
        "git push --force --dry-run --no-dry-run origin main",
        "git push --force --dry-run --receive-pack=evil .",
        "git push --force --dry-run -q origin main",
    ] {
        assert_eq!(eval(&p, real).tier, Tier::Critical, "{real}");
    }
}

#[test]
fn defer_to_is_checked_at_load() {
    let unknown = DEFERRING.replace("defer_to = [\"push-preview\"]", "defer_to = [\"nope\"]");
    refused(&unknown, Some(6), "`defer_to` names no rule \"nope\"");
    let upward = DEFERRING.replace("tier = \"read_only\"", "tier = \"critical\"");
    refused(&upward, Some(6), "not of a lower tier");
    let chained = format!(
        "{}defer_to = [\"other\"]\n\n[[rules]]\nname = \"other\"\ntier = \"read_only\"\ncommands = [\"x\"]\n",
        DEFERRING
    );
    refused(&chained, Some(6), "which defers itself");
    // Its examples hold with the deferral, both ways.
    let taken = DEFERRING.replace(
        "not_examples = [\"git push --force --dry-run origin main\"]",
        "examples = [\"git push --force --dry-run origin main\"]",
    );
    refused(&taken, Some(6), "is deferred to rule \"push-preview\"");
    let kept = DEFERRING.replace(
        "not_examples = [\"git push --force --dry-run origin main\"]",
        "not_examples = [\"git push --force --dry-run --no-dry-run origin main\"]",
    );
    refused(&kept, Some(6), "no rule it defers to takes it");
}

// --- the corpus -------------------------------------------------------------------

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    command: Vec<CorpusEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusEntry {
    line: String,
    least: Option<Tier>,
    tier: Option<Tier>,
    why: String,
    gap: Option<String>,
}

#[test]
fn the_default_policy_meets_its_corpus() {
    let corpus: Corpus = toml::from_str(include_str!("../../tests/policy_corpus.toml"))
        .expect("tests/policy_corpus.toml parses");
    let p = Policy::embedded();
    let mut failures = Vec::new();
    for entry in &corpus.command {
        assert!(!entry.why.trim().is_empty(), "{}: say why", entry.line);
        let got = eval(&p, &entry.line).tier;
        let holds = match (entry.tier, entry.least) {
            (Some(exact), None) => got == exact,
            (None, Some(least)) => got >= least,
            _ => panic!("{}: give `tier` or `least`, not both", entry.line),
        };
        match (&entry.gap, holds) {
            (None, false) => failures.push(format!("{} is {got} ({})", entry.line, entry.why)),
            (Some(gap), true) => failures.push(format!(
                "{} now holds: move it out of the known gaps ({gap})",
                entry.line
            )),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(corpus.command.len() >= 700);
}

#[test]
fn the_default_raises_a_change_whose_preview_destroys() {
    let p = Policy::embedded();
    let cases = [
        (
            "terraform apply tfplan",
            "  # terraform_data.queue will be destroyed\nPlan: 0 to add, 0 to change, 1 to destroy.\n",
            Tier::Critical,
        ),
        (
            "terraform apply tfplan",
            "  # aws_db_instance.main must be replaced\n",
            Tier::Critical,
        ),
        (
            "terraform apply tfplan",
            "Plan: 1 to add, 0 to change, 0 to destroy.\n",
            Tier::Irreversible,
        ),
        (
            "helm upgrade api ./chart",
            "default, api-worker, Deployment (apps) has been removed:\n- apiVersion: apps/v1\n",
            Tier::Critical,
        ),
        (
            "helm rollback api 3",
            "default, api-cache, ConfigMap (v1) to be removed.\nPlan: 0 to add, 1 to change, 1 to destroy, 0 to change ownership.\n",
            Tier::Critical,
        ),
        (
            "helm upgrade api ./chart",
            "default, api, Deployment (apps) has changed:\n-  replicas: 2\n+  replicas: 3\n",
            Tier::Irreversible,
        ),
    ];
    for (command, stdout, tier) in cases {
        let case = Case {
            dry_run_stdout: Some(stdout),
            ..Case::new(command)
        };
        assert_eq!(case.eval(&p).tier, tier, "{command} after {stdout:?}");
    }
}
