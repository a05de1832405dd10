//! The examples of `twoway <command> --help`, taken from the guide (`docs/`) so that the two cannot
//! disagree: the command block below a page's `<!-- help: COMMAND -->` line becomes that command's
//! examples, under its other after-help text. The docs test (`reproduce/tests/docs.rs`) runs every such
//! block and checks that each command has one.

/// The guide's pages that may hold `<!-- help: -->` markers, by their path in the repository.
pub const PAGES: &[(&str, &str)] = &[
    ("docs/reproduce.md", include_str!("../../../docs/reproduce.md")),
    ("docs/datasets.md", include_str!("../../../docs/datasets.md")),
    ("docs/own-data.md", include_str!("../../../docs/own-data.md")),
    ("docs/ci-gate.md", include_str!("../../../docs/ci-gate.md")),
    ("docs/conform.md", include_str!("../../../docs/conform.md")),
    ("docs/thresholds.md", include_str!("../../../docs/thresholds.md")),
    ("docs/numerics.md", include_str!("../../../docs/numerics.md")),
    ("docs/verification.md", include_str!("../../../docs/verification.md")),
];

/// One command's examples: the page they come from and its command lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Examples {
    pub command: String,
    pub page: &'static str,
    pub lines: Vec<String>,
}

/// Every marked block of [`PAGES`], in page order.
pub fn all() -> Vec<Examples> {
    PAGES.iter().flat_map(|(page, text)| marked(page, text)).collect()
}

/// The marked blocks of one page: the command named by each `<!-- help: COMMAND -->` line and the
/// commands of the fenced block that follows it (a `console` block's `$ ` lines, a `sh` block's lines;
/// a line ending in `\` continues on the next).
pub fn marked(page: &'static str, text: &str) -> Vec<Examples> {
    let mut found = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(command) = marker(line) else { continue };
        let Some(open) = lines.by_ref().map(str::trim).find(|l| !l.is_empty()) else { break };
        let console = open.starts_with("```console");
        let mut commands: Vec<String> = Vec::new();
        let mut continued = false;
        for l in lines.by_ref().map(str::trim) {
            if l.starts_with("```") {
                break;
            }
            let l = if continued {
                l
            } else if console {
                match l.strip_prefix("$ ") {
                    Some(c) => c,
                    None => continue,
                }
            } else if l.is_empty() || l.starts_with('#') {
                continue;
            } else {
                l
            };
            if continued {
                let last = commands.last_mut().expect("a continued line follows a command");
                last.push('\n');
                last.push_str("      ");
                last.push_str(l);
            } else {
                commands.push(l.to_string());
            }
            continued = l.ends_with('\\');
        }
        found.push(Examples { command: command.to_string(), page, lines: commands });
    }
    found
}

/// The command a `<!-- help: COMMAND -->` line names.
pub fn marker(line: &str) -> Option<&str> {
    let inner = line.trim().strip_prefix("<!--")?.strip_suffix("-->")?.trim();
    Some(inner.strip_prefix("help:")?.trim())
}

/// The after-help text of `command`: its examples and the page they come from.
pub fn render(e: &Examples) -> String {
    let mut s = String::from("Examples:\n");
    for l in &e.lines {
        s.push_str("  ");
        s.push_str(l);
        s.push('\n');
    }
    s.push_str(&format!("\nMore in {} (in the repository).", e.page));
    s
}

/// `cli` with each marked command's examples appended to its after-help.
pub fn with_examples(mut cli: clap::Command) -> clap::Command {
    for e in all() {
        let name = e.command.clone();
        if cli.find_subcommand(&name).is_none() {
            continue; // the docs test reports a marker that names no command
        }
        cli = cli.mut_subcommand(&name, |sub| {
            let examples = render(&e);
            let text = match sub.get_after_help() {
                Some(before) => format!("{before}\n\n{examples}"),
                None => examples,
            };
            sub.after_help(text)
        });
    }
    cli
}
