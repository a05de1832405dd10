//! The docs harness itself: it must fail where the docs rot (a stale flag, an unclassified block, a
//! transcript that no longer matches), naming the file and line.

use super::markdown;
use super::runner::{self, check_page, Class, Sandbox};
use std::time::Duration;

fn page(text: &str) -> markdown::Page {
    markdown::parse("docs/x.md", text).unwrap()
}

fn sandbox(name: &str) -> Sandbox {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("docs-harness").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_twoway")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    Sandbox { dir, env: vec![("PATH".into(), path)] }
}

#[test]
fn a_renamed_flag_fails_naming_file_and_line() {
    let text = "# T\n\n```sh external\ntwoway table --format csv\ntwoway diff --results r --againts published\n```\n";
    let (fails, counts) = check_page(&page(text), None, Duration::from_secs(5));
    assert_eq!(counts.parsed, 1, "the stale command is a failure, not a parsed command");
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(fails[0].starts_with("docs/x.md:5: `twoway diff --results r --againts published`"), "{}", fails[0]);
    assert!(fails[0].contains("--againts"), "{}", fails[0]);
}

#[test]
fn blocks_without_a_kind_fail() {
    let text = "```\nsome text\n```\n\n```sh\ntwoway table\n```\n\n```sh later\nls\n```\n\n```text\nshown\n```\n";
    let (fails, counts) = check_page(&page(text), None, Duration::from_secs(5));
    assert_eq!(fails.len(), 3, "{fails:?}");
    assert!(fails[0].starts_with("docs/x.md:1: a fence without a language"), "{}", fails[0]);
    assert!(fails[1].starts_with("docs/x.md:5: a `sh` block without a class"), "{}", fails[1]);
    assert!(fails[2].starts_with("docs/x.md:9: unknown class `later`"), "{}", fails[2]);
    assert_eq!(counts.blocks.get("text"), Some(&1));
    assert!(markdown::parse("docs/x.md", "<!-- help: map -->\n").is_err(), "a marker without its block");
    assert!(markdown::parse("docs/x.md", "```sh run\nls\n").is_err(), "an unclosed fence");
}

#[test]
fn transcripts_are_compared_and_exit_codes_checked() {
    let sb = sandbox("transcripts");
    let good =
        "```console\n$ printf 'a 1\\nb 2\\nc 3\\n'\na [..]\n...\nc 3\n$ sh -c 'echo no >&2; exit 3'\nno\n? 3\n```\n";
    let (fails, counts) = check_page(&page(good), Some(&sb), Duration::from_secs(30));
    assert!(fails.is_empty(), "{fails:?}");
    assert_eq!(counts.run, 2);
    let bad = "```console\n$ echo hello\ngoodbye\n```\n\n```sh run\nfalse\n```\n";
    let (fails, _) = check_page(&page(bad), Some(&sb), Duration::from_secs(30));
    assert_eq!(fails.len(), 2, "{fails:?}");
    assert!(fails[0].starts_with("docs/x.md:2: `echo hello`: its output differs"), "{}", fails[0]);
    assert!(fails[1].starts_with("docs/x.md:7: `false`: exited 1 instead of 0"), "{}", fails[1]);
    let written = "```yaml file=d/f.yaml\nname: x\n```\n\n```sh run\ngrep -q 'name: x' d/f.yaml\n```\n";
    let (fails, _) = check_page(&page(written), Some(&sb), Duration::from_secs(30));
    assert!(fails.is_empty(), "{fails:?}");
}

#[test]
fn classes_rewrite_what_runs() {
    let r = |l: &str, c: Class| runner::rewrite(l, c).unwrap();
    assert_eq!(
        r("twoway run --grid embedded --out results/e   # a comment", Class::Reduce),
        format!("twoway run --grid embedded --out results/e --seeds 0 {}   # a comment", runner::REDUCE)
    );
    assert_eq!(
        r("twoway run --grid e --seeds 1,2", Class::Reduce),
        format!("twoway run --grid e --seeds 1,2 {}", runner::REDUCE)
    );
    assert_eq!(
        r("twoway run --grid paper > cells.txt", Class::Check),
        "twoway run --grid paper --list-cells > cells.txt"
    );
    assert_eq!(
        r("twoway noise --results r -- --grid compare", Class::Check),
        "twoway noise --results r --list-settings -- --grid compare"
    );
    assert_eq!(
        r("twoway noise --results r -- --grid compare", Class::Reduce),
        format!("twoway noise --results r -- --grid compare --seeds 0 {}", runner::REDUCE)
    );
    assert_eq!(
        r("make reproduce && twoway table", Class::Check),
        "sed 's/[$][(]MAKE[)]/$(SUBMAKE)/g' Makefile | make -n -f - SUBMAKE=make reproduce && twoway table"
    );
    assert_eq!(r("twoway table --results r", Class::Reduce), "twoway table --results r");
    assert!(runner::line_matches("a [..] c [..]", "a b c d"));
    assert!(!runner::line_matches("a [..] c", "a b d"));
    let argv = |l: &str| super::shell::commands(l).unwrap().into_iter().map(|c| c.argv).collect::<Vec<_>>();
    assert_eq!(
        argv("twoway conform --init '{\"tp\": 4}' 2>/dev/null | tail -1"),
        vec![
            vec!["twoway".to_string(), "conform".into(), "--init".into(), "{\"tp\": 4}".into()],
            vec!["tail".to_string(), "-1".into()]
        ]
    );
}
