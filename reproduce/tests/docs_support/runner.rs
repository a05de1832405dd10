//! Runs a page's blocks in its sandbox, as `docs/writing.md` states: which block runs how, the small
//! settings of `reduce`, the stop-before-work forms of `check`, and the comparison of a transcript's
//! expected output.

use super::markdown::{Block, Page};
use super::shell;
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What `reduce` appends to `twoway run` (and to the run arguments of `twoway noise`).
pub const REDUCE: &str = "--set epochs=1 --set max_train_samples=64 --set max_eval_samples=32";

/// How a command block runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Run,
    Reduce,
    Check,
    External,
}

/// What a page's check counted: blocks by kind, and commands run or only parsed.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub blocks: std::collections::BTreeMap<String, usize>,
    pub run: usize,
    pub parsed: usize,
    pub not_run: usize,
}

/// Where a page runs: its folder and the environment of its commands.
pub struct Sandbox {
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
}

/// The kind of a block, or why it has none.
pub fn kind(b: &Block) -> Result<(String, Option<Class>), String> {
    let class = |words: &[String]| -> Result<Option<Class>, String> {
        match words.first().map(String::as_str) {
            None => Ok(None),
            Some("run") => Ok(Some(Class::Run)),
            Some("reduce") => Ok(Some(Class::Reduce)),
            Some("check") => Ok(Some(Class::Check)),
            Some("external") => Ok(Some(Class::External)),
            Some(w) => Err(format!("unknown class `{w}` (run, reduce, check or external)")),
        }
    };
    match b.lang.as_str() {
        "" => Err("a fence without a language: say what the block is (console, sh run, text, ...)".into()),
        "sh" | "bash" | "shell" => match class(&b.words)? {
            Some(c) => Ok((format!("sh {c:?}").to_lowercase(), Some(c))),
            None => Err("a `sh` block without a class: run, reduce, check or external".into()),
        },
        "console" => {
            let c = class(&b.words)?.unwrap_or(Class::Run);
            if c == Class::External {
                return Err("a `console` transcript is run: use `sh external` for what cannot run".into());
            }
            Ok((format!("console {c:?}").to_lowercase(), Some(c)))
        }
        "yaml" if b.words.iter().any(|w| w.starts_with("file=")) => Ok(("yaml file".into(), None)),
        other => Ok((other.to_string(), None)),
    }
}

/// Every `twoway` command of a line, parsed by twoway's own argument parser.
pub fn parse_twoway(line: &str) -> Result<usize, String> {
    let mut n = 0;
    for c in shell::commands(line)? {
        if c.argv[0] != "twoway" {
            continue;
        }
        n += 1;
        parse_argv(&c.argv)?;
    }
    Ok(n)
}

/// One `twoway` command line (its first word the binary, by any path) through twoway's own parser.
fn parse_argv(argv: &[String]) -> Result<(), String> {
    use clap::error::ErrorKind;
    match twoway_reproduce::cli::Cli::try_parse_from(argv) {
        // A value its own parser refuses (a dataset file not there yet, outside the sandbox's folder) is
        // left to the run; a flag or a value twoway no longer takes is not.
        Err(e)
            if !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::ValueValidation) =>
        {
            Err(format!("twoway's parser refuses it: {}", e.to_string().lines().next().unwrap_or("")))
        }
        _ => Ok(()),
    }
}

/// The line as the class runs it: `reduce`'s settings or `check`'s stop-before-work forms inserted.
pub fn rewrite(line: &str, class: Class) -> Result<String, String> {
    let mut inserts: Vec<(usize, String)> = Vec::new();
    for c in shell::commands(line)? {
        let sub = c.argv.get(1).map(String::as_str);
        let dashes = c.argv.iter().position(|a| a == "--");
        match (class, c.argv[0].as_str(), sub) {
            (Class::Reduce, "twoway", Some("run" | "noise")) => {
                if sub == Some("noise") && dashes.is_none() {
                    return Err("`twoway noise` without `-- RUN ARGS`: nothing to reduce".into());
                }
                let run_args = &c.argv[dashes.map_or(0, |k| k + 1)..];
                let seeds = if run_args.iter().any(|a| a == "--seeds") { "" } else { " --seeds 0" };
                inserts.push((c.end, format!("{seeds} {REDUCE}")));
            }
            (Class::Check, "twoway", Some("run")) => inserts.push((c.end, " --list-cells".into())),
            (Class::Check, "twoway", Some("noise")) => match dashes {
                Some(k) => inserts.push((c.starts[k], "--list-settings ".into())),
                None => inserts.push((c.end, " --list-settings".into())),
            },
            // `make -n` still runs the recipe lines that use $(MAKE): those read it under another name.
            (Class::Check, "make", _) => {
                inserts.push((c.starts[0], "sed 's/[$][(]MAKE[)]/$(SUBMAKE)/g' Makefile | ".to_string()));
                inserts.push((c.starts[0] + "make".len(), " -n -f - SUBMAKE=make".into()));
            }
            _ => {}
        }
    }
    let mut out = line.to_string();
    inserts.sort_by_key(|i| std::cmp::Reverse(i.0));
    for (at, text) in inserts {
        out.insert_str(at, &text);
    }
    Ok(out)
}

/// A finished command: exit code (-1 when killed), stdout, stderr.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a line with `sh -c` in the sandbox, within `limit`.
pub fn run(sb: &Sandbox, line: &str, limit: Duration) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(line).current_dir(&sb.dir).env_remove("LD_LIBRARY_PATH");
    for (k, v) in &sb.env {
        cmd.env(k, v);
    }
    let out_path = sb.dir.join(".docs-stdout");
    let err_path = sb.dir.join(".docs-stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Output { code, stdout: read(&out_path), stderr: read(&err_path) }
}

/// Whether `actual` matches `expected`: line by line, `[..]` any text within a line, `...` any lines.
pub fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == "..." => (0..=actual.len()).any(|k| matches(rest, &actual[k..])),
        Some((e, rest)) => match actual.split_first() {
            Some((a, more)) => line_matches(e.trim_end(), a.trim_end()) && matches(rest, more),
            None => false,
        },
    }
}

/// One line against its pattern, `[..]` matching any text.
pub fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split("[..]").collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() || !line.ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(k) => rest = &rest[k + mid.len()..],
            None => return false,
        }
    }
    true
}

/// One command of a block: its line, the command, its expected output (none: not checked) and exit code.
pub type Step = (usize, String, Vec<String>, i32);

/// A console block's commands.
pub fn transcript(b: &Block) -> Result<Vec<Step>, String> {
    let mut out: Vec<Step> = Vec::new();
    let mut continued = false;
    for (n, l) in &b.body {
        if continued {
            let last = out.last_mut().unwrap();
            last.1.pop();
            last.1.push(' ');
            last.1.push_str(l.trim());
            continued = l.trim_end().ends_with('\\');
        } else if let Some(c) = l.strip_prefix("$ ") {
            out.push((*n, c.trim().to_string(), Vec::new(), 0));
            continued = c.trim_end().ends_with('\\');
        } else if let Some(last) = out.last_mut() {
            match l.trim().strip_prefix("? ") {
                Some(code) => last.3 = code.trim().parse().map_err(|_| format!("line {n}: `? N` needs a number"))?,
                None => last.2.push(l.clone()),
            }
        } else if !l.trim().is_empty() {
            return Err(format!("line {n}: output before the first `$ ` command"));
        }
    }
    if out.is_empty() {
        return Err("a console block without a `$ ` command".into());
    }
    Ok(out)
}

/// Checks one page: parses every `twoway` command, runs what its class runs (when a sandbox is given),
/// and returns the failures (each naming file:line) and what it counted.
pub fn check_page(page: &Page, sb: Option<&Sandbox>, limit: Duration) -> (Vec<String>, Counts) {
    let mut fails = Vec::new();
    let mut counts = Counts::default();
    for b in &page.blocks {
        let at = |n: usize| format!("{}:{n}", page.rel);
        let (name, class) = match kind(b) {
            Ok(k) => k,
            Err(e) => {
                fails.push(format!("{}: {e}", at(b.line)));
                continue;
            }
        };
        *counts.blocks.entry(name).or_default() += 1;
        if let Some(sb) = sb {
            for (n, cmd) in &b.setup {
                let o = run(sb, cmd, limit);
                if o.code != 0 {
                    fails.push(format!("{}: sandbox line `{cmd}` exited {}:\n{}", at(*n), o.code, o.stderr.trim_end()));
                }
            }
            if let Some(path) = b.words.iter().find_map(|w| w.strip_prefix("file=")) {
                let p = sb.dir.join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                let text: String = b.body.iter().map(|(_, l)| format!("{l}\n")).collect();
                std::fs::write(&p, text).unwrap();
            }
        }
        let Some(class) = class else { continue };
        let commands = if b.lang == "console" {
            match transcript(b) {
                Ok(t) => t,
                Err(e) => {
                    fails.push(format!("{}: {e}", at(b.line)));
                    continue;
                }
            }
        } else {
            shell::joined(&b.body).into_iter().map(|(n, l)| (n, l, Vec::new(), 0)).collect()
        };
        for (n, line, expected, code) in commands {
            match parse_twoway(&line) {
                Ok(k) => counts.parsed += k,
                Err(e) => {
                    fails.push(format!("{}: `{line}`: {e}", at(n)));
                    continue;
                }
            }
            if class == Class::External {
                counts.not_run += 1;
                continue;
            }
            let Some(sb) = sb else { continue };
            if let Err(e) = run_one(sb, &line, class, &expected, code, limit) {
                fails.push(format!("{}: `{line}`: {e}", at(n)));
            }
            counts.run += 1;
        }
    }
    (fails, counts)
}

/// Runs one command of a block; the error says what differed.
fn run_one(
    sb: &Sandbox,
    line: &str,
    class: Class,
    expected: &[String],
    code: i32,
    limit: Duration,
) -> Result<(), String> {
    let shown = rewrite(line, class)?;
    let o = run(sb, &shown, limit);
    let tail = |s: &str| s.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    if o.code != code {
        let ran = if shown == line { String::new() } else { format!(" (run as `{shown}`)") };
        return Err(format!(
            "exited {} instead of {code}{ran}\n--- stderr (last lines)\n{}\n--- stdout (last lines)\n{}",
            o.code,
            tail(&o.stderr),
            tail(&o.stdout)
        ));
    }
    if shown.contains(" -n -f - SUBMAKE=make") {
        // The twoway commands a make target would run are parsed too.
        for l in o.stdout.lines() {
            for c in shell::commands(l).unwrap_or_default() {
                if c.argv[0].ends_with("/twoway") || c.argv[0] == "twoway" {
                    parse_argv(&c.argv).map_err(|e| format!("the target runs `{l}`: {e}"))?;
                }
            }
        }
    }
    if !expected.is_empty() {
        let all = format!("{}{}", o.stdout, o.stderr);
        let mut actual: Vec<&str> = all.lines().collect();
        while actual.last().is_some_and(|l| l.trim().is_empty()) {
            actual.pop();
        }
        let mut expected = expected.to_vec();
        while expected.last().is_some_and(|l| l.trim().is_empty()) {
            expected.pop();
        }
        if !matches(&expected, &actual) {
            return Err(format!(
                "its output differs from the page's\n--- expected\n{}\n--- got\n{all}",
                expected.join("\n")
            ));
        }
    }
    Ok(())
}
