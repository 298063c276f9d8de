//! `cargo xtask docs`: render the worked examples in docs/ from real command output.
//!
//! A template `docs/src/NAME.md` is copied to `docs/NAME.md` with every line of the form
//!
//! ```text
//! <!-- run: multilevel fit --dataset sleepstudy "Reaction ~ Days + (Days | Subject)" -->
//! ```
//!
//! replaced by the command (as a `console` block) and what it printed (a `text` block). The
//! command runs from the repository root with the release build of `multilevel`; a command
//! that fails stops the rendering, so the documents never show output that was not produced.
//! `<!-- run-quiet: ... -->` runs a command (e.g. one that writes a figure) and shows only the
//! command line.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Split a command line into arguments: whitespace separates, double quotes group (no escapes
/// inside quotes are needed by the documents).
pub fn split_args(line: &str) -> Result<Vec<String>> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut has_token = false;
    for c in line.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                has_token = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if has_token {
                    args.push(std::mem::take(&mut cur));
                    has_token = false;
                }
            }
            c => {
                cur.push(c);
                has_token = true;
            }
        }
    }
    if in_quotes {
        bail!("unbalanced double quote in `{line}`");
    }
    if has_token {
        args.push(cur);
    }
    Ok(args)
}

/// Run one documented command (`multilevel …`) with the binary `bin` from `root`; returns
/// standard output followed by standard error (warnings), as a user would see them.
fn run(root: &Path, bin: &Path, line: &str) -> Result<String> {
    let args = split_args(line)?;
    let Some((first, rest)) = args.split_first() else {
        bail!("empty command in a run marker");
    };
    if first != "multilevel" {
        bail!("documented commands must start with `multilevel`: `{line}`");
    }
    let out = Command::new(bin)
        .args(rest)
        .current_dir(root)
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!("`{line}` failed ({}):\n{stderr}", out.status);
    }
    let mut text = stdout;
    if !stderr.trim().is_empty() {
        if !text.ends_with('\n') && !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&stderr);
    }
    Ok(text)
}

/// Render one template into its document.
pub fn render_template(root: &Path, bin: &Path, template: &str) -> Result<String> {
    let mut out = String::new();
    for line in template.lines() {
        let trimmed = line.trim();
        let marker = trimmed
            .strip_prefix("<!-- run:")
            .map(|r| (r, true))
            .or_else(|| trimmed.strip_prefix("<!-- run-quiet:").map(|r| (r, false)));
        match marker {
            Some((rest, show)) => {
                let Some(cmd) = rest.strip_suffix("-->") else {
                    bail!("run marker without `-->`: {line}");
                };
                let cmd = cmd.trim();
                eprintln!("  $ {cmd}");
                let text = run(root, bin, cmd)?;
                out.push_str("```console\n$ ");
                out.push_str(cmd);
                out.push_str("\n```\n");
                if show {
                    out.push_str("\n```text\n");
                    out.push_str(text.trim_end());
                    out.push_str("\n```\n");
                }
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// Build the release binary and render every `docs/src/*.md` into `docs/`; returns the
/// documents written.
pub fn render_all(root: &Path) -> Result<Vec<PathBuf>> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--bin", "multilevel"])
        .current_dir(root)
        .status()
        .context("building the multilevel binary")?;
    if !status.success() {
        bail!("cargo build --release --bin multilevel failed");
    }
    let bin = root.join("target/release/multilevel");
    let src = root.join("docs/src");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&src)
        .with_context(|| format!("reading {}", src.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    entries.sort();
    let mut written = Vec::new();
    for path in entries {
        let template = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        eprintln!("{}", path.display());
        let doc = render_template(root, &bin, &template)?;
        let header = format!(
            "<!-- Generated by `cargo xtask docs` from docs/src/{}: edit that file, not this one. -->\n\n",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
        );
        let target = root.join("docs").join(path.file_name().unwrap_or_default());
        std::fs::write(&target, header + &doc)
            .with_context(|| format!("writing {}", target.display()))?;
        written.push(target);
    }
    Ok(written)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_arguments() {
        let a = split_args(r#"multilevel fit --dataset x "y ~ a + (1 | g)""#).unwrap();
        assert_eq!(
            a,
            ["multilevel", "fit", "--dataset", "x", "y ~ a + (1 | g)"]
        );
        assert!(split_args(r#"multilevel "open"#).is_err());
        assert_eq!(split_args(r#"a "" b"#).unwrap(), ["a", "", "b"]);
    }
}
