//! The Markdown the docs test reads: fenced blocks with their opening line's words, the hidden
//! `<!-- sandbox: -->` and `<!-- help: -->` lines, links and headings (as GitHub's anchors).

use std::collections::BTreeSet;

/// A fenced block: the line of its opening fence (1-based), its language and other words, its lines
/// (with their line numbers, the fence's indentation removed), the command a `<!-- help: -->` line
/// above it names, and the hidden sandbox commands that run before it.
#[derive(Debug, Clone)]
pub struct Block {
    pub line: usize,
    pub lang: String,
    pub words: Vec<String>,
    pub body: Vec<(usize, String)>,
    pub help: Option<String>,
    pub setup: Vec<(usize, String)>,
}

/// A page: its blocks, its links (line, target) outside code, and the anchors of its headings.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub rel: String,
    pub blocks: Vec<Block>,
    pub links: Vec<(usize, String)>,
    pub anchors: BTreeSet<String>,
}

/// The text of an HTML comment line `<!-- KEY: VALUE -->`, when it is one for `key`.
pub fn comment<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let inner = line.trim().strip_prefix("<!--")?.strip_suffix("-->")?.trim();
    Some(inner.strip_prefix(key)?.strip_prefix(':')?.trim())
}

/// Parses a page; an unclosed fence or a marker not followed by a block is an error naming the line.
pub fn parse(rel: &str, text: &str) -> Result<Page, String> {
    let mut page = Page { rel: rel.to_string(), ..Page::default() };
    let mut help: Option<(usize, String)> = None;
    let mut setup: Vec<(usize, String)> = Vec::new();
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let (n, line) = (i + 1, lines[i]);
        let trimmed = line.trim_start();
        if let Some(fence) = fence_of(trimmed) {
            let indent = line.len() - trimmed.len();
            let info = trimmed[fence.len()..].trim();
            let mut words = info.split_whitespace().map(str::to_string);
            let lang = words.next().unwrap_or_default();
            let mut body = Vec::new();
            i += 1;
            loop {
                let Some(l) = lines.get(i) else { return Err(format!("{rel}:{n}: a fence that is never closed")) };
                if l.trim_start().starts_with(fence) && l.trim().trim_start_matches('`').is_empty() {
                    break;
                }
                let cut = l.len() - l.trim_start().len();
                body.push((i + 1, l[cut.min(indent)..].to_string()));
                i += 1;
            }
            let help = help.take().map(|h| h.1);
            page.blocks.push(Block {
                line: n,
                lang,
                words: words.collect(),
                body,
                help,
                setup: std::mem::take(&mut setup),
            });
        } else if let Some(cmd) = twoway_reproduce::cli::help::marker(line) {
            // Read as the binary reads it for `--help`.
            if let Some((m, _)) = &help {
                return Err(format!("{rel}:{m}: a help marker without a block below it"));
            }
            help = Some((n, cmd.to_string()));
        } else if let Some(cmd) = comment(line, "sandbox") {
            setup.push((n, cmd.to_string()));
        } else {
            if let Some(h) = heading(line) {
                let base = slug(h);
                let k = seen.entry(base.clone()).or_insert(0);
                page.anchors.insert(if *k == 0 { base.clone() } else { format!("{base}-{k}") });
                *k += 1;
            }
            for target in links(line) {
                page.links.push((n, target));
            }
        }
        i += 1;
    }
    if let Some((m, _)) = help {
        return Err(format!("{rel}:{m}: a help marker without a block below it"));
    }
    if let Some((m, _)) = setup.first() {
        return Err(format!("{rel}:{m}: a sandbox line without a block below it"));
    }
    Ok(page)
}

/// The backticks that open a fence (three or more), when the line opens one.
fn fence_of(trimmed: &str) -> Option<&str> {
    let n = trimmed.len() - trimmed.trim_start_matches('`').len();
    (n >= 3).then(|| &trimmed[..n])
}

/// A heading's text (`# ...` to `###### ...`).
fn heading(line: &str) -> Option<&str> {
    let hashes = line.len() - line.trim_start_matches('#').len();
    ((1..=6).contains(&hashes) && line[hashes..].starts_with(' ')).then(|| line[hashes..].trim())
}

/// GitHub's anchor of a heading: lower case, spaces to `-`, other punctuation than `-` and `_` dropped.
pub fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The targets of the Markdown links and images of a line, outside inline code.
fn links(line: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            plain.push(c);
        }
    }
    let mut found = Vec::new();
    let mut rest = plain.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        match after.find(')') {
            Some(end) => {
                let target = after[..end].split_whitespace().next().unwrap_or("").to_string();
                found.push(target);
                rest = &after[end..];
            }
            None => break,
        }
    }
    found
}
