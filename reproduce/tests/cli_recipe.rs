//! Recipes at run time: `--set KEY=VALUE` overrides (accepted for recipe keys, refused with the key named),
//! grid sweeps (one result per value, left out of the paper's tables, plotted), several seeds (mean ± sd in
//! the table, claims per seed with a paired test), and an exact gate (a rerun passes `twoway diff
//! --tolerance 0` against its own table CSV).
#![cfg(feature = "torch")]

mod common;
use common::*;

use std::path::Path;

const SEEDS: &str = "description: three losses on three seeds, one epoch
recipe: embedded-smoke
datasets: [embedded]
backbones: [tiny]
seeds: [1, 2, 3]
runs:
  - {loss: twoway, way: both}
  - {loss: softmax, way: sample}
  - {loss: bce}
";

fn run(grid: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    RunCmd::new(grid).out(out).threads(2).data_root(data_root()).args(extra).run()
}

#[test]
fn set_overrides_recipe_keys_and_refuses_unknown_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = tmp.path().join("g.yaml");
    std::fs::write(
        &grid,
        SEEDS
            .replace("seeds: [1, 2, 3]", "seeds: [1]")
            .replace("  - {loss: softmax, way: sample}\n  - {loss: bce}\n", ""),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let (code, _, stderr) = run(&grid, &out, &["--set", "batch_size=16", "--set", "optimizer.lr_head=0.05"]);
    assert_eq!(code, 0, "{stderr}");
    let r = read_json(out.join("embedded/tiny/twoway-both/seed1.json"));
    let recipe = &r["config"]["recipe"]["recipe"];
    assert_eq!(recipe["batch_size"], 16);
    assert_eq!(recipe["optimizer"]["lr_head"], 0.05);
    for (set, want) in [
        ("batch_sise=16", "unknown field `batch_sise`"),
        ("replicas=3", "must be at least 1 and divide batch_size"),
        ("optimizer.nesterov=perhaps", "expected a boolean"),
        ("batch_size", "expected KEY=VALUE"),
    ] {
        let other = tmp.path().join("other");
        let (code, _, stderr) = run(&grid, &other, &["--set", set]);
        assert_eq!(code, 2, "{set}: {stderr}");
        assert!(stderr.contains(want) && stderr.contains(set.split('=').next().unwrap()), "{set}: {stderr}");
        assert!(!other.exists(), "{set}: results written");
    }
    // A recipe the spec does not have, and a recipe file.
    let (code, _, stderr) = run(&grid, &tmp.path().join("x"), &["--recipe", "nonesuch"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown recipe `nonesuch`") && stderr.contains("embedded-smoke"), "{stderr}");
    let spec = twoway_spec::Spec::embedded();
    let mut recipe = spec.recipes["embedded-smoke"].clone();
    recipe.epochs = 2;
    let file = tmp.path().join("two-epochs.yaml");
    std::fs::write(&file, serde_yaml::to_string(&recipe).unwrap()).unwrap();
    let out2 = tmp.path().join("out2");
    let (code, _, stderr) = run(&grid, &out2, &["--recipe", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let r = read_json(out2.join("embedded/tiny/twoway-both/seed1.json"));
    assert_eq!(r["epochs"].as_array().unwrap().len(), 2);
}

#[test]
fn seeds_give_mean_and_sd_claims_per_seed_and_an_exact_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = tmp.path().join("g.yaml");
    std::fs::write(&grid, SEEDS).unwrap();
    let out = tmp.path().join("out");
    let (code, _, stderr) = run(&grid, &out, &[]);
    assert_eq!(code, 0, "{stderr}");
    let o = out.to_str().unwrap();
    // The table: mean ± sd (3).
    let (code, table, _) = twoway(&["table", "--results", o, "--datasets", "embedded"]);
    assert_eq!(code, 0);
    assert!(table.contains(" ± ") && table.contains("(3)"), "{table}");
    // The CSV keeps full precision, sd and n; its mean is the mean of the three result files.
    let (code, csv, _) = twoway(&["table", "--all", "--results", o, "--datasets", "embedded", "--format", "csv"]);
    assert_eq!(code, 0);
    // Plain CSV: the header first, the numerics in a column (one fingerprint: the three seeds share it).
    assert!(
        csv.starts_with("dataset,backbone,loss,way,metric,published,reproduced,delta,sd,n,seeds,numerics\n"),
        "{csv}"
    );
    assert!(!csv.lines().any(|l| l.starts_with('#')), "{csv}");
    let line = csv.lines().find(|l| l.starts_with("embedded,tiny,bce,,map_class,")).unwrap();
    let f: Vec<&str> = line.split(',').collect();
    let values: Vec<f64> = (1..=3)
        .map(|s| {
            read_json(out.join(format!("embedded/tiny/bce/seed{s}.json")))["metrics"]["map_class"].as_f64().unwrap()
        })
        .collect();
    let mean = values.iter().sum::<f64>() / 3.0;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!((f[6].parse::<f64>().unwrap() - mean).abs() <= 1e-12 * mean, "{line} vs {mean}");
    assert!((f[8].parse::<f64>().unwrap() - sd).abs() <= 1e-9 * sd.max(1e-9), "{line} vs {sd}");
    assert_eq!(f[9], "3");
    // An identical rerun passes the gate at tolerance 0 against its own CSV.
    let baseline = tmp.path().join("baseline.csv");
    std::fs::write(&baseline, &csv).unwrap();
    let again = tmp.path().join("again");
    let (code, _, stderr) = run(&grid, &again, &[]);
    assert_eq!(code, 0, "{stderr}");
    let (code, report, err) = twoway(&[
        "diff",
        "--results",
        again.to_str().unwrap(),
        "--against",
        baseline.to_str().unwrap(),
        "--tolerance",
        "0",
    ]);
    assert_eq!(code, 0, "{report}{err}");
    assert!(report.contains("passed: 6 cell(s)"), "{report}");
    // Raised by 1.5 sd (the mean and each seed's value): fails at tolerance 0, passes with --tolerance-sd 2.
    let raised_value = mean + 1.5 * sd;
    let seeds: Vec<String> = f[10]
        .split(' ')
        .map(|p| {
            let (s, v) = p.split_once(':').unwrap();
            format!("{s}:{}", v.parse::<f64>().unwrap() + 1.5 * sd)
        })
        .collect();
    let mut fields: Vec<String> = f.iter().map(|x| x.to_string()).collect();
    fields[6] = raised_value.to_string();
    fields[10] = seeds.join(" ");
    let raised = csv.replace(line, &fields.join(","));
    let raised_path = tmp.path().join("raised.csv");
    std::fs::write(&raised_path, raised).unwrap();
    let gate = |extra: &[&str]| {
        let mut args = vec!["diff", "--results", o, "--against", raised_path.to_str().unwrap(), "--tolerance", "0"];
        args.extend(extra);
        twoway(&args).0
    };
    assert_eq!(gate(&[]), 1);
    assert_eq!(gate(&["--tolerance-sd", "2"]), 0);
    assert_eq!(gate(&["--tolerance-sd", "1"]), 1);
    // Claims per seed, and the paired test of Ours against the best baseline on each metric.
    let (code, claims, _) = twoway(&["claims", "--results", o]);
    assert_eq!(code, 0);
    assert!(claims.contains("Per seed (3 seed(s): 1, 2, 3)"), "{claims}");
    assert!(claims.contains("Embedded/Tiny: Ours is best on mAP@class: holds in"), "{claims}");
    // Ours against each of the two baselines, on each metric.
    assert!(claims.matches("over 3 seeds (1, 2, 3), 95% CI").count() == 4, "{claims}");
    let (code, json, _) = twoway(&["claims", "--results", o, "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let paired = v["per_seed"]["paired"].as_array().unwrap();
    assert_eq!(paired.len(), 2);
    let mut compared = 0;
    for p in paired {
        for c in p["comparisons"].as_array().unwrap() {
            let d: Vec<f64> = c["differences"].as_array().unwrap().iter().map(|x| x[1].as_f64().unwrap()).collect();
            let m = d.iter().sum::<f64>() / 3.0;
            assert!((c["test"]["mean"].as_f64().unwrap() - m).abs() < 1e-12);
            let p_value = c["test"]["p"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p_value));
            assert!(c["p_holm"].as_f64().unwrap() >= p_value);
            compared += 1;
        }
    }
    assert_eq!(compared, 4);
}

#[test]
fn a_sweep_runs_each_value_and_stays_out_of_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = tmp.path().join("g.yaml");
    let text = SEEDS.replace("seeds: [1, 2, 3]", "seeds: [1]").replace("  - {loss: softmax, way: sample}\n", "")
        + "sweep:\n  batch_size: [16, 32]\n";
    std::fs::write(&grid, text).unwrap();
    let out = tmp.path().join("out");
    let (code, stdout, stderr) = run(&grid, &out, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(4 cells)"), "{stdout}");
    for cell in ["twoway-both/batch_size=16", "twoway-both/batch_size=32", "bce/batch_size=16", "bce/batch_size=32"] {
        let p = out.join(format!("embedded/tiny/{cell}/seed1.json"));
        let r = read_json(&p);
        let bs: usize = cell.rsplit('=').next().unwrap().parse().unwrap();
        assert_eq!(r["config"]["recipe"]["recipe"]["batch_size"], bs, "{cell}");
        assert_eq!(r["cell"]["variant"], format!("batch_size={bs}"));
    }
    assert!(out.join("plots/sweep_batch_size.png").exists());
    // Only variants: no cell of the paper's tables.
    let (code, _, stderr) = twoway(&["table", "--results", out.to_str().unwrap(), "--datasets", "embedded"]);
    assert_eq!(code, 2, "{stderr}");
}
