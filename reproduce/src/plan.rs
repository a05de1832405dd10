//! The plan of a `twoway run`: every selected cell of the grid resolved to its loss, its recipe (the grid's
//! or `--recipe`, then `--set` overrides, then the cell's sweep values) and its configuration, whose SHA-256
//! identifies its result. The configuration holds what changes the numbers (recipe, loss, seed, the
//! dataset's fingerprint, the weights' SHA-256); thread count and device are provenance, recorded in the
//! result file beside it but not part of its identity.

use crate::data;
use crate::preflight::Weights;
use crate::results::{self, CellId, ResultFile};
use crate::run::RunArgs;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use twoway_reference::AnyLoss;
use twoway_spec::grids::{Cell, Grid};
use twoway_spec::recipes::Recipe;
use twoway_spec::{Backbone, Dataset, Spec};

/// One planned cell.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Its position in the grid (after the filters): `--cell INDEX`, SLURM's array index.
    pub index: usize,
    pub id: CellId,
    pub loss: AnyLoss,
    pub recipe: Recipe,
    pub config: serde_json::Value,
    pub hash: String,
    /// A result with this configuration is already in the results folder.
    pub done: bool,
}

/// Where a cell stands in a results folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Its result is there (with this configuration).
    Done,
    /// A live process holds its claim.
    Running,
    /// A checkpoint is there and nobody holds the cell: `--resume` continues it.
    Partial,
    /// Its last training failed (`seed<k>.failed`).
    Failed,
    Todo,
    /// A result of another configuration is there.
    Stale,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Running => "running",
            Status::Partial => "partial",
            Status::Failed => "failed",
            Status::Todo => "todo",
            Status::Stale => "stale",
        }
    }
}

/// The status of a planned cell under `out` (claims older than `lease` on other hosts count as gone).
pub fn status(p: &Planned, out: &Path, lease: std::time::Duration) -> Status {
    let dir = p.id.dir(out);
    if p.done {
        return Status::Done;
    }
    let path = p.id.path(out);
    if path.exists() {
        return match ResultFile::read(&path) {
            Ok(r) if r.config_hash == p.hash => Status::Done,
            _ => Status::Stale,
        };
    }
    if crate::claim::read(&crate::claim::path(&dir, p.id.seed)).is_some_and(|h| h.stale(lease).is_none()) {
        return Status::Running;
    }
    if crate::claim::failed_path(&dir, p.id.seed).exists() {
        return Status::Failed;
    }
    if dir.join(format!("seed{}.ckpt.json", p.id.seed)).exists() {
        return Status::Partial;
    }
    Status::Todo
}

/// The cells `--cell` and `--shard` select from a plan.
pub fn pick<'a>(plan: &'a [Planned], cell: Option<&str>, shard: Option<&str>) -> Result<Vec<&'a Planned>> {
    let mut v: Vec<&Planned> = plan.iter().collect();
    if let Some(c) = cell {
        let found: Vec<&Planned> = match c.parse::<usize>() {
            Ok(i) => v.into_iter().filter(|p| p.index == i).collect(),
            Err(_) => v.into_iter().filter(|p| p.id.label() == c).collect(),
        };
        if found.is_empty() {
            bail!(
                "--cell {c}: no such cell in the plan ({} cells, indices 0..{}); see --list-cells",
                plan.len(),
                plan.len()
            );
        }
        v = found;
    }
    if let Some(s) = shard {
        let parsed = s.split_once('/').and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
        let Some((i, n)) = parsed.filter(|(i, n)| *n > 0 && i < n) else {
            bail!("--shard {s}: expected i/n with 0 <= i < n, e.g. --shard 0/4");
        };
        v.retain(|p| p.index % n == i);
    }
    Ok(v)
}

/// The resolved loss configuration as JSON (every hyper-parameter, defaults included).
pub fn loss_json(l: &AnyLoss) -> serde_json::Value {
    match l {
        AnyLoss::TwoWay(c) => {
            serde_json::json!({"loss": "twoway", "tp": c.tp, "tn": c.tn, "way": c.way, "mask": c.mask})
        }
        AnyLoss::Softmax(c) => serde_json::json!({"loss": "softmax", "way": c.way}),
        AnyLoss::Bce(c) => serde_json::json!({"loss": "bce", "reduction": c.reduction}),
        AnyLoss::Focal(c) => {
            serde_json::json!({"loss": "focal", "gamma": c.gamma, "alpha": c.alpha, "reduction": c.reduction})
        }
        AnyLoss::Asl(c) => serde_json::json!({"loss": "asl", "gamma_neg": c.gamma_neg, "gamma_pos": c.gamma_pos,
            "clip": c.clip, "eps": c.eps, "focus_grad": c.focus_grad, "reduction": c.reduction}),
    }
}

/// The run's base recipe: `--recipe` (a name of the spec's recipes or a recipe YAML file), else the grid's,
/// with the `--set KEY=VALUE` overrides applied in order, then `--numerics`. Returns its name (or file) and
/// the recipe.
pub fn base_recipe(spec: &Spec, grid: &Grid, a: &RunArgs) -> Result<(String, Recipe)> {
    let name = a.recipe.clone().unwrap_or_else(|| grid.recipe.clone());
    let mut recipe = match spec.recipes.get(&name) {
        Some(r) => r.clone(),
        None if Path::new(&name).is_file() => {
            let text = std::fs::read_to_string(&name).with_context(|| format!("{name}: cannot read"))?;
            twoway_spec::recipes::parse_recipe(&name, &text)?
        }
        None => {
            let known: Vec<&str> = spec.recipes.keys().map(String::as_str).collect();
            bail!("unknown recipe `{name}`: not a recipe of the spec ({}) nor a file", known.join(", "));
        }
    };
    for set in &a.set {
        let Some((key, value)) = set.split_once('=') else {
            bail!("--set `{set}`: expected KEY=VALUE, e.g. --set batch_size=256");
        };
        recipe = recipe.with_override(key.trim(), value.trim())?;
    }
    if let Some(n) = a.numerics {
        recipe.numerics = n;
    }
    Ok((name, recipe))
}

/// The numerics mode of a run: its base recipe's `numerics` after `--set` and `--numerics`.
pub fn numerics_mode(spec: &Spec, a: &RunArgs) -> Result<twoway_spec::Numerics> {
    let grid = crate::run::load_grid(spec, &a.grid)?;
    Ok(base_recipe(spec, &grid, a)?.1.numerics)
}

/// The cell's recipe: the base with the cell's sweep values.
pub fn cell_recipe(base: &Recipe, cell: &Cell) -> Result<Recipe> {
    let mut r = base.clone();
    for (k, v) in &cell.sweep {
        r = r.with_override(k, v)?;
    }
    Ok(r)
}

/// Resolves the selected cells, checks the results folder, and marks the cells whose result exists. A
/// result of another configuration is an error, unless `lenient` (for listing).
#[cfg(feature = "torch")]
/// What `twoway run` and `twoway slurm` start from: the grid's cells after the filters, planned (`lenient`:
/// see [`plan`]) after the data and weights they need were checked; with the data root and the weights.
pub struct Prepared {
    pub plan: Vec<Planned>,
    pub root: std::path::PathBuf,
    pub weights: BTreeMap<Backbone, Option<Weights>>,
}

/// Loads the grid, applies the filters, checks the data and weights of every pairing, and plans the cells.
#[cfg(feature = "torch")]
pub fn prepare(spec: &Spec, a: &RunArgs, lenient: bool) -> Result<Prepared> {
    let grid = crate::run::load_grid(spec, &a.grid)?;
    let (recipe_name, base) = base_recipe(spec, &grid, a)?;
    let cells = crate::run::select(&grid, a);
    let root = data::data_root(a.data_root.as_deref());
    let pairs = cells.iter().map(|c| (c.dataset, c.backbone)).collect();
    let weights =
        crate::preflight::check(spec, &pairs, &root, &crate::preflight::weights_dir(a.weights_dir.as_deref(), &root))?;
    let plan = plan(spec, &cells, a, (&recipe_name, &base), &root, &weights, lenient)?;
    if plan.iter().any(|p| p.recipe.numerics != base.numerics) {
        bail!("grid `{}` sweeps `numerics`: one run has one numerics mode; run each mode on its own", a.grid);
    }
    Ok(Prepared { plan, root, weights })
}

pub fn plan(
    spec: &Spec,
    cells: &[Cell],
    a: &RunArgs,
    (recipe_name, base): (&str, &Recipe),
    root: &Path,
    weights: &BTreeMap<Backbone, Option<Weights>>,
    lenient: bool,
) -> Result<Vec<Planned>> {
    let mut fingerprints: BTreeMap<Dataset, serde_json::Value> = BTreeMap::new();
    let mut out = Vec::new();
    for c in cells {
        let loss = AnyLoss::from_params(c.loss, &c.params).with_context(|| format!("grid `{}`", a.grid))?;
        // --ways filters the set-based losses (with their resolved way); the element-wise ones have none.
        if let Some(w) = loss.way() {
            if !a.ways.is_empty() && !a.ways.contains(&w) {
                continue;
            }
        }
        let recipe = cell_recipe(base, c)?;
        let id = CellId {
            dataset: c.dataset,
            backbone: c.backbone,
            loss: c.loss,
            way: loss.way(),
            variant: c.variant(),
            seed: c.seed,
        };
        if let std::collections::btree_map::Entry::Vacant(e) = fingerprints.entry(c.dataset) {
            e.insert(data::fingerprint(spec, c.dataset, root)?);
        }
        let config = serde_json::json!({
            "dataset": c.dataset, "backbone": c.backbone, "loss": loss_json(&loss), "seed": c.seed,
            "recipe": {"name": recipe_name, "recipe": recipe}, "data": fingerprints[&c.dataset],
            "weights_sha256": weights[&c.backbone].as_ref().map(|w| &w.sha256),
        });
        let hash = results::hash(&config);
        let path = id.path(&a.out);
        let done = if path.exists() && lenient {
            ResultFile::read(&path).is_ok_and(|r| r.config_hash == hash)
        } else if path.exists() {
            if !a.resume {
                bail!(
                    "{}: a result already exists; use --resume to keep finished cells, or another --out",
                    path.display()
                );
            }
            let r = ResultFile::read(&path)?;
            if r.config_hash != hash {
                bail!(
                    "{}: this result was made with another configuration ({}); remove it or use another --out",
                    path.display(),
                    config_difference(&r.config, &config)
                );
            }
            true
        } else {
            false
        };
        out.push(Planned { index: out.len(), id, loss, recipe, config, hash, done });
    }
    Ok(out)
}

/// The first top-level or nested key whose value differs between two configurations, as a dotted path.
pub fn config_difference(old: &serde_json::Value, new: &serde_json::Value) -> String {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                keys.into_iter().find_map(|k| {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    match (x.get(k), y.get(k)) {
                        (Some(u), Some(v)) => walk(u, v, &p),
                        _ => Some(p),
                    }
                })
            }
            _ if a != b => Some(path.to_string()),
            _ => None,
        }
    }
    match walk(old, new, "") {
        Some(p) => format!("`{p}` changed"),
        None => "the configuration format changed".into(),
    }
}
