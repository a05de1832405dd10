//! The documentation's commands, run: every command block of README.md and docs/*.md as
//! `docs/writing.md` states (transcripts compared with their output, long runs reduced, GPU and
//! cluster commands stopped before work), every `twoway` command parsed by twoway's own parser, every
//! internal link and anchor resolved, and every subcommand's `--help` examples taken from the guide.
//! The documented commands train, so this runs in the full build (`make test` runs it there).
#![cfg(feature = "torch")]

mod common;
#[path = "docs_support/markdown.rs"]
mod markdown;
#[path = "docs_support/runner.rs"]
mod runner;
#[path = "docs_support/shell.rs"]
mod shell;

use markdown::Page;
use runner::{check_page, Counts, Sandbox};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// A documented command's time limit (a reduced grid takes seconds).
const LIMIT: Duration = Duration::from_secs(600);

/// README.md and every page of docs/, parsed (a parse error fails here, naming the line).
fn pages() -> Vec<Page> {
    let root = common::workspace();
    let mut files = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(&root).unwrap().to_path_buf())
        .collect();
    docs.sort();
    files.extend(docs);
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(root.join(f)).unwrap();
            markdown::parse(&f.to_string_lossy(), &text).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// The data root the pages share: `twoway data fixtures` and random-init weights of resnet18 and resnet50.
fn data_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docs-data");
        if !root.join("coco").exists() {
            let tmp = root.with_extension("tmp");
            let _ = std::fs::remove_dir_all(&tmp);
            let (code, _, err) = common::twoway(&["data", "fixtures", "--out", tmp.to_str().unwrap()]);
            assert_eq!(code, 0, "twoway data fixtures: {err}");
            for d in ["coco", "vispr", "vaw", "wider"] {
                std::fs::create_dir_all(&root).unwrap();
                let _ = std::fs::remove_dir_all(root.join(d));
                std::fs::rename(tmp.join(d), root.join(d)).unwrap();
            }
        }
        std::fs::create_dir_all(root.join("weights")).unwrap();
        for b in ["resnet18", "resnet50"] {
            let args = ["--backbone", b, "--random-init", "--out", "{dir}/weights.safetensors"];
            let made = common::tool_fixture("export_torchvision.py", &args).join("weights.safetensors");
            let to = root.join("weights").join(format!("{b}.safetensors"));
            if !to.exists() {
                std::fs::copy(made, to).unwrap();
            }
        }
        root
    })
}

/// A fresh sandbox for `page`: links to the repository's top-level entries, a stand-in `sbatch`, and the
/// environment of docs/writing.md.
fn sandbox(page: &Page) -> Sandbox {
    let root = common::workspace();
    let name = page.rel.replace(['/', '.'], "_");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docs").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(".bin")).unwrap();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    for e in std::fs::read_dir(&root).unwrap() {
        let name = e.unwrap().file_name();
        if [".git", "target", "results"].iter().any(|n| name == *n) {
            continue;
        }
        std::os::unix::fs::symlink(root.join(&name), dir.join(&name)).unwrap();
    }
    let sbatch = dir.join(".bin/sbatch");
    std::fs::write(&sbatch, "#!/bin/sh\n# a stand-in for SLURM's sbatch: prints a job id\necho 4242\n").unwrap();
    std::fs::set_permissions(&sbatch, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_twoway")).parent().unwrap();
    let venv = common::venv_python();
    let path = format!(
        "{}:{}:{}:{}",
        dir.join(".bin").display(),
        bin.display(),
        venv.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = vec![
        ("PATH".into(), path),
        ("HOME".into(), dir.join("home").display().to_string()),
        ("TWOWAY_DATA".into(), data_root().display().to_string()),
        ("TWOWAY_PYTHON".into(), venv.display().to_string()),
    ];
    Sandbox { dir, env }
}

fn add(total: &mut Counts, c: &Counts) {
    for (k, v) in &c.blocks {
        *total.blocks.entry(k.clone()).or_default() += v;
    }
    total.run += c.run;
    total.parsed += c.parsed;
    total.not_run += c.not_run;
}

#[test]
fn every_documented_command_runs() {
    let mut fails = Vec::new();
    let mut total = Counts::default();
    // `DOCS_PAGES=README.md,docs/ci-gate.md` runs those pages alone (while writing them).
    let only: Option<Vec<String>> =
        std::env::var("DOCS_PAGES").ok().map(|v| v.split(',').map(str::to_string).collect());
    for page in pages() {
        if only.as_ref().is_some_and(|o| !o.contains(&page.rel)) {
            eprintln!("{}: left out (DOCS_PAGES)", page.rel);
            continue;
        }
        let sb = sandbox(&page);
        let started = std::time::Instant::now();
        let (f, c) = check_page(&page, Some(&sb), LIMIT);
        eprintln!(
            "{}: {} blocks, {} commands run, {} twoway commands parsed, {} not run ({:.0} s)",
            page.rel,
            c.blocks.values().sum::<usize>(),
            c.run,
            c.parsed,
            c.not_run,
            started.elapsed().as_secs_f64()
        );
        fails.extend(f);
        add(&mut total, &c);
    }
    eprintln!("blocks by kind: {:?}", total.blocks);
    eprintln!(
        "{} commands run, {} twoway commands parsed, {} commands of `external` blocks not run",
        total.run, total.parsed, total.not_run
    );
    assert!(fails.is_empty(), "{} documented commands fail:\n\n{}", fails.len(), fails.join("\n\n"));
    assert!(
        total.run > 0 && total.parsed > 0,
        "no documented command was run: is the docs' layout what this test reads?"
    );
    let python = total.blocks.get("python").copied().unwrap_or(0);
    assert!(
        python > 0 || only.is_some(),
        "no python block: python/tests/test_docs.py runs them, and found none to run either"
    );
}

#[test]
fn links_and_anchors_resolve() {
    let root = common::workspace();
    let pages = pages();
    let anchors: std::collections::BTreeMap<String, &Page> = pages.iter().map(|p| (p.rel.clone(), p)).collect();
    let mut fails = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let base = Path::new(&page.rel).parent().unwrap().to_path_buf();
        for (n, target) in &page.links {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = target.split_once('#').map_or((target.as_str(), None), |(f, a)| (f, Some(a)));
            let rel = if file.is_empty() { PathBuf::from(&page.rel) } else { normalize(&base.join(file)) };
            if !root.join(&rel).exists() {
                fails.push(format!("{}:{n}: link to `{target}`: {} does not exist", page.rel, rel.display()));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            match anchors.get(&rel.to_string_lossy().to_string()) {
                Some(p) if p.anchors.contains(anchor) => {}
                Some(p) => fails.push(format!(
                    "{}:{n}: link to `{target}`: {} has no heading with anchor `#{anchor}` (it has: {})",
                    page.rel,
                    rel.display(),
                    p.anchors.iter().cloned().collect::<Vec<_>>().join(", ")
                )),
                None => fails
                    .push(format!("{}:{n}: link to `{target}`: anchors are checked in Markdown pages only", page.rel)),
            }
        }
    }
    assert!(fails.is_empty(), "{} broken links:\n{}", fails.len(), fails.join("\n"));
    assert!(checked > 20, "only {checked} internal links found: the README should link every task's page");
}

/// `a/../b` → `b` (links are relative to their page's folder).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[path = "docs_support/harness.rs"]
mod harness_tests;
#[path = "docs_support/help.rs"]
mod help_tests;
