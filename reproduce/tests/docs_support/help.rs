//! `twoway <command> --help` shows examples from the guide: every command has one marked block, in a page
//! the binary includes, and its help prints that block's commands.

use super::markdown;
use clap::CommandFactory;
use twoway_reproduce::cli::{help, Cli};

#[test]
fn every_command_has_examples_from_the_guide() {
    // Every marker of every page, with where it is.
    let mut markers: Vec<(String, String)> = Vec::new();
    for page in super::pages() {
        for b in &page.blocks {
            if let Some(cmd) = &b.help {
                markers.push((cmd.clone(), format!("{}:{}", page.rel, b.line)));
            }
        }
    }
    let included: Vec<&str> = help::PAGES.iter().map(|p| p.0).collect();
    let mut fails = Vec::new();
    for (cmd, at) in &markers {
        if !included.iter().any(|p| at.starts_with(&format!("{p}:"))) {
            fails.push(format!("{at}: help marker for `{cmd}` in a page twoway does not include (cli/help.rs PAGES)"));
        }
    }
    let cli = Cli::command();
    for (cmd, at) in &markers {
        if cli.find_subcommand(cmd).is_none() {
            fails.push(format!("{at}: help marker for `{cmd}`, which is not a twoway command"));
        }
    }
    let visible: Vec<String> =
        cli.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name().to_string()).collect();
    for name in &visible {
        let at: Vec<&String> = markers.iter().filter(|m| &m.0 == name).map(|m| &m.1).collect();
        match at.len() {
            1 => {}
            0 => fails.push(format!("`twoway {name}` has no `<!-- help: {name} -->` block in docs/")),
            _ => fails.push(format!("`twoway {name}` has several help blocks: {at:?}")),
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));

    // The binary prints them: each example line in its command's --help.
    let all = help::all();
    assert_eq!(
        all.len(),
        markers.len(),
        "the binary's pages hold {} marked blocks, the docs {}",
        all.len(),
        markers.len()
    );
    for e in &all {
        assert!(!e.lines.is_empty(), "{}: the help block of `{}` has no command", e.page, e.command);
        let (code, out, err) = super::common::twoway(&[&e.command, "--help"]);
        assert_eq!(code, 0, "twoway {} --help: {err}", e.command);
        for l in &e.lines {
            let first = l.lines().next().unwrap();
            assert!(out.contains(first), "`twoway {} --help` lacks the example `{first}`:\n{out}", e.command);
        }
        assert!(out.contains(e.page), "`twoway {} --help` does not name {}", e.command, e.page);
    }
}

#[test]
fn help_markers_read_their_block() {
    let text =
        "intro\n<!-- help: map -->\n```console\n$ twoway map --scores s.npy \\\n    --targets y.npy\nmAP[..]\n```\n";
    let found = help::marked("docs/x.md", text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].command, "map");
    assert_eq!(found[0].lines.len(), 1, "{found:?}");
    assert!(found[0].lines[0].starts_with("twoway map --scores s.npy \\\n"));
    assert!(found[0].lines[0].ends_with("--targets y.npy"));
    let page = markdown::parse("docs/x.md", text).unwrap();
    assert_eq!(page.blocks[0].help.as_deref(), Some("map"));
}
