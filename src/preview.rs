//! The preview a tool offers for a change, to suggest when a command that
//! has one is planned without a dry-run: what a reviewer would want to see,
//! and what `apply` re-runs to catch a world that moved.
//!
//! Only previews the embedded default policy takes as `read_only` are
//! suggested (a suggestion it would refuse as a dry-run would be no help).

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// The dry-run to suggest for `argv`, if its tool has one.
pub fn suggest(argv: &[OsString]) -> Option<Vec<OsString>> {
    let program = Path::new(argv.first()?).file_name()?.to_str()?;
    let has = |flag: &str| {
        argv.iter()
            .any(|a| a == flag || a.to_string_lossy().starts_with(&format!("{flag}=")))
    };
    let word = |i: usize| argv.get(i).and_then(|a| a.to_str());
    match program {
        // `git push ARGS` → `git push --dry-run --porcelain ARGS`: asks the
        // remote what the push would do; its output changes when the
        // remote moves.
        "git" if word(1) == Some("push") && !has("--dry-run") && !has("-n") => {
            let mut out = argv[..2].to_vec();
            out.push("--dry-run".into());
            out.push("--porcelain".into());
            out.extend_from_slice(&argv[2..]);
            Some(out)
        }
        // A kubectl change → the same with `--dry-run=server`: the server
        // validates it, admission included, and persists nothing.
        "kubectl" if !has("--dry-run") && is_kubectl_change(argv) => {
            let mut out = argv.to_vec();
            out.push("--dry-run=server".into());
            Some(out)
        }
        // `terraform apply PLANFILE` → `terraform show -no-color PLANFILE`,
        // which the default judges for destruction; `terraform apply`
        // without a saved plan → `terraform plan`.
        "terraform" | "tofu" => {
            let at = argv.iter().position(|a| a == "apply")?;
            let globals = &argv[1..at];
            let planfile = argv[at + 1..]
                .iter()
                .find(|a| !a.as_encoded_bytes().starts_with(b"-"));
            let mut out = vec![argv[0].clone()];
            out.extend_from_slice(globals);
            match planfile {
                Some(file) => {
                    out.extend([OsString::from("show"), "-no-color".into(), file.clone()]);
                }
                None => out.push("plan".into()),
            }
            Some(out)
        }
        // `helm upgrade|rollback ARGS` → `helm diff upgrade|rollback ARGS`
        // (the helm-diff plugin): what the release would change, and
        // whether it removes a resource, which the default judges.
        "helm" if matches!(word(1), Some("upgrade" | "rollback")) => {
            let mut out = vec![argv[0].clone(), "diff".into()];
            out.extend_from_slice(&argv[1..]);
            Some(out)
        }
        // `rsync ARGS` → `rsync --dry-run --itemize-changes ARGS`, unless a
        // remote shell or remote program is named: rsync runs those even in
        // a dry-run, so the default would refuse it as one.
        "rsync"
            if !has("--dry-run")
                && !argv[1..].iter().any(|a| {
                    let a = a.as_encoded_bytes();
                    a == b"-n"
                        || a.starts_with(b"-e")
                        || a.starts_with(b"--rsh")
                        || a.starts_with(b"--rsync-path")
                        || (a.starts_with(b"-") && !a.starts_with(b"--") && a.contains(&b'e'))
                }) =>
        {
            let mut out = vec![
                argv[0].clone(),
                "--dry-run".into(),
                "--itemize-changes".into(),
            ];
            out.extend_from_slice(&argv[1..]);
            Some(out)
        }
        _ => None,
    }
}

fn is_kubectl_change(argv: &[OsString]) -> bool {
    const CHANGES: &[&str] = &[
        "apply",
        "create",
        "delete",
        "replace",
        "patch",
        "scale",
        "set",
        "label",
        "annotate",
        "expose",
        "autoscale",
    ];
    // The verb may follow global flags and their values (`-n prod apply`):
    // any argument that is a changing verb will do for a suggestion.
    argv[1..]
        .iter()
        .any(|a| CHANGES.iter().any(|c| a == OsStr::new(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<OsString> {
        shell_words::split(line)
            .unwrap()
            .into_iter()
            .map(OsString::from)
            .collect()
    }

    fn suggested(line: &str) -> Option<String> {
        suggest(&argv(line)).map(|s| {
            s.iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
    }

    #[test]
    fn the_tools_previews() {
        assert_eq!(
            suggested("git push --force origin HEAD:main").as_deref(),
            Some("git push --dry-run --porcelain --force origin HEAD:main")
        );
        assert_eq!(suggested("git push --dry-run origin main"), None);
        assert_eq!(
            suggested("kubectl -n prod apply -f k8s/").as_deref(),
            Some("kubectl -n prod apply -f k8s/ --dry-run=server")
        );
        assert_eq!(suggested("kubectl get pods"), None);
        assert_eq!(
            suggested("terraform -chdir=infra apply -input=false tfplan").as_deref(),
            Some("terraform -chdir=infra show -no-color tfplan")
        );
        assert_eq!(
            suggested("tofu apply -auto-approve").as_deref(),
            Some("tofu plan")
        );
        assert_eq!(
            suggested("helm upgrade --install api ./chart -f v.yaml").as_deref(),
            Some("helm diff upgrade --install api ./chart -f v.yaml")
        );
        assert_eq!(
            suggested("rsync -av --delete build/ web:/srv/app/").as_deref(),
            Some("rsync --dry-run --itemize-changes -av --delete build/ web:/srv/app/")
        );
        assert_eq!(suggested("rsync -ave ssh build/ web:/srv/"), None);
        assert_eq!(suggested("rsync -av --rsh=ssh build/ web:/srv/"), None);
        assert_eq!(suggested("ls -la"), None);
    }

    #[test]
    fn every_suggestion_is_a_read_only_dry_run_under_the_default() {
        let policy = crate::policy::Policy::embedded();
        for line in [
            "git push --force origin HEAD:main",
            "git push origin main",
            "kubectl delete namespace staging",
            "kubectl apply -f k8s/",
            "terraform apply tfplan",
            "terraform apply",
            "tofu apply tfplan",
            "helm upgrade --install api ./chart -f values.yaml",
            "helm rollback api 3",
            "rsync -av --delete build/ deploy@web:/srv/app/",
            "rsync -a --exclude=.git src/ dst/",
        ] {
            let preview = suggest(&argv(line)).unwrap();
            let eval = policy.evaluate(&crate::policy::Input {
                argv: &preview,
                env: &|_| None,
                dry_run: None,
                confidence: None,
            });
            assert_eq!(
                eval.tier,
                crate::tier::Tier::ReadOnly,
                "{line} → {preview:?}"
            );
        }
    }
}
