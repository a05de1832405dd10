//! The plan of a grid run: the grid and recipe resolved once ([`resolve`]: the grid's recipe or `--recipe`,
//! then `--set`, then `--numerics`), the selected cells, and each cell planned ([`plan`]): its loss, its
//! recipe (the base with the cell's sweep values) and its configuration, whose SHA-256 identifies its
//! result. The configuration holds what changes the numbers (recipe, loss, seed, the dataset's fingerprint,
//! the weights' SHA-256); thread count, device and numerics fingerprint are provenance, recorded in the
//! result file beside it but not part of its identity. Tested in `tests/cli_cells.rs` and
//! `tests/cli_recipe.rs` (through `--list-cells` and `--resume`).

use super::lease;
use super::request::{CellPick, RunRequest, Selection, Shard};
use crate::data;
use crate::layout::{CellId, CellStatus};
use crate::results::{self, ResultFile};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use twoway_reference::AnyLoss;
use twoway_spec::grids::{self, Cell, Grid};
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

/// A selection's grid and base recipe, resolved.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub grid: Grid,
    /// The recipe's name (or file).
    pub recipe_name: String,
    /// The base recipe of every cell: the grid's or `--recipe`, `--set` overrides applied in order, then
    /// `--numerics`.
    pub base: Recipe,
}

/// Loads a grid by built-in name or file path.
pub fn load_grid(spec: &Spec, name: &str) -> Result<Grid> {
    if let Some(g) = grids::builtin(name, spec) {
        return Ok(g?);
    }
    let path = Path::new(name);
    if !path.is_file() {
        let known: Vec<&str> = grids::BUILTIN.iter().map(|(n, _)| *n).collect();
        bail!("unknown grid `{name}`: not a built-in grid ({}) nor a file", known.join(", "));
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    // Dataset files are listed relative to the grid file.
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut dataset_file = |entry: &str| crate::data::file::load(&dir.join(entry)).map_err(|e| format!("{e:#}"));
    Ok(Grid::parse_with(&path.display().to_string(), &text, spec, &mut dataset_file)?)
}

/// The filters of a grid that is not a template must name its datasets and backbones: a dataset file or
/// a backbone it does not list is an error that says where they run.
fn check_filters(grid: &Grid, s: &Selection) -> Result<()> {
    if grid.template {
        return Ok(());
    }
    let names = |v: Vec<String>| v.join(", ");
    if let Some(d) = s.datasets.iter().find(|d| !grid.datasets.contains(d)) {
        bail!(
            "--datasets {d}: grid `{}` has no dataset `{d}` (its datasets: {}); a dataset file runs in a grid file \
             that lists it, or in a template grid (`--grid compare`, `--grid batch-size`) whose datasets --datasets \
             replaces",
            s.grid,
            names(grid.datasets.iter().map(ToString::to_string).collect())
        );
    }
    if let Some(b) = s.backbones.iter().find(|b| !grid.backbones.contains(b)) {
        bail!(
            "--backbones {b}: grid `{}` has no backbone `{b}` (its backbones: {}); any backbone runs in a template \
             grid (`--grid compare`, `--grid batch-size`) or a grid file that lists it",
            s.grid,
            names(grid.backbones.iter().map(ToString::to_string).collect())
        );
    }
    Ok(())
}

/// Resolves the selection's grid and base recipe (a name of the spec's recipes or a recipe YAML file).
pub fn resolve(spec: &Spec, s: &Selection) -> Result<Resolved> {
    let grid = load_grid(spec, &s.grid)?;
    check_filters(&grid, s)?;
    let name = s.recipe.clone().unwrap_or_else(|| grid.recipe.clone());
    let mut recipe = recipe(spec, &name, &s.set)?;
    if let Some(n) = s.numerics {
        recipe.numerics = n;
    }
    Ok(Resolved { grid, recipe_name: name, base: recipe })
}

/// A recipe by name (of the spec's recipes) or file, with `KEY=VALUE` overrides applied in order.
pub fn recipe(spec: &Spec, name: &str, set: &[String]) -> Result<Recipe> {
    let mut recipe = match spec.recipes.get(name) {
        Some(r) => r.clone(),
        None if Path::new(name).is_file() => {
            let text = std::fs::read_to_string(name).with_context(|| format!("{name}: cannot read"))?;
            twoway_spec::recipes::parse_recipe(name, &text)?
        }
        None => {
            let known: Vec<&str> = spec.recipes.keys().map(String::as_str).collect();
            bail!("unknown recipe `{name}`: not a recipe of the spec ({}) nor a file", known.join(", "));
        }
    };
    for set in set {
        let Some((key, value)) = set.split_once('=') else {
            bail!("--set `{set}`: expected KEY=VALUE, e.g. --set batch_size=256");
        };
        recipe = recipe.with_override(key.trim(), value.trim())?;
    }
    Ok(recipe)
}

/// The grid's cells that the selection's filters keep (its seeds replace the grid's; in a template grid
/// its datasets and backbones too); `--ways` is applied when planning, with each loss's resolved way.
pub fn select(grid: &Grid, s: &Selection) -> Vec<Cell> {
    let mut g = grid.clone();
    if !s.seeds.is_empty() {
        g.seeds = s.seeds.clone();
    }
    if g.template && !s.datasets.is_empty() {
        g.datasets = s.datasets.clone();
    }
    if g.template && !s.backbones.is_empty() {
        g.backbones = s.backbones.clone();
    }
    g.cells()
        .into_iter()
        .filter(|c| s.datasets.is_empty() || s.datasets.contains(&c.dataset))
        .filter(|c| s.backbones.is_empty() || s.backbones.contains(&c.backbone))
        .filter(|c| s.losses.is_empty() || s.losses.contains(&c.loss))
        .collect()
}

/// The status of a planned cell under `out` (leases older than `lease` on other hosts count as gone).
pub fn status(p: &Planned, out: &Path, lease: std::time::Duration) -> CellStatus {
    if p.done {
        return CellStatus::Done;
    }
    let path = p.id.path(out);
    if path.exists() {
        return match ResultFile::read(&path) {
            Ok(r) if r.config_hash == p.hash => CellStatus::Done,
            _ => CellStatus::Stale,
        };
    }
    if lease::read(&p.id.claim_path(out)).is_some_and(|h| h.stale(lease).is_none()) {
        return CellStatus::Running;
    }
    if p.id.failed_path(out).exists() {
        return CellStatus::Failed;
    }
    if p.id.checkpoint_path(out).exists() {
        return CellStatus::Partial;
    }
    CellStatus::Todo
}

/// The cells `--cell` and `--shard` select from a plan.
pub fn pick<'a>(plan: &'a [Planned], cell: Option<&CellPick>, shard: Option<Shard>) -> Result<Vec<&'a Planned>> {
    let mut v: Vec<&Planned> = plan.iter().collect();
    if let Some(c) = cell {
        v.retain(|p| match c {
            CellPick::Index(i) => p.index == *i,
            CellPick::Label(l) => p.id.label() == *l,
        });
        if v.is_empty() {
            bail!(
                "--cell {c}: no such cell in the plan ({} cells, indices 0..{}); see --list-cells",
                plan.len(),
                plan.len()
            );
        }
    }
    if let Some(Shard { index, count }) = shard {
        v.retain(|p| p.index % count == index);
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

/// The cell's recipe: the base with the cell's sweep values.
pub fn cell_recipe(base: &Recipe, cell: &Cell) -> Result<Recipe> {
    let mut r = base.clone();
    for (k, v) in &cell.sweep {
        r = r.with_override(k, v)?;
    }
    Ok(r)
}

/// The cell's loss: the grid's parameters, the two-way loss's masking from the recipe (`mask`) where the
/// grid does not set it.
pub fn cell_loss(cell: &Cell, recipe: &Recipe) -> Result<AnyLoss> {
    let mut params = cell.params.clone();
    if cell.loss == twoway_spec::Loss::Twoway && params.mask.is_none() {
        params.mask = recipe.mask;
    }
    Ok(AnyLoss::from_params(cell.loss, &params)?)
}

/// What `twoway run` and `twoway slurm` start from: the selected cells planned (see [`plan`]) after the
/// data and weights they need were checked, with the data root and the weight files.
#[cfg(feature = "torch")]
pub struct Prepared {
    pub plan: Vec<Planned>,
    pub root: std::path::PathBuf,
    pub weights: BTreeMap<Backbone, Option<super::preflight::Weights>>,
}

/// Applies the filters to the resolved grid, checks the data and weights of every pairing, and plans the
/// cells (`lenient`: see [`plan`]).
#[cfg(feature = "torch")]
pub fn prepare(spec: &Spec, r: &RunRequest, resolved: &Resolved, lenient: bool) -> Result<Prepared> {
    let cells = select(&resolved.grid, &r.selection);
    let root = data::data_root(r.data_root.as_deref());
    let pairs = cells.iter().map(|c| (c.dataset, c.backbone)).collect();
    let weights_dir = super::preflight::weights_dir(r.weights_dir.as_deref(), &root);
    let weights = super::preflight::check(spec, &pairs, &root, &weights_dir)?;
    let inputs = Inputs { root: &root, weights: &weights };
    let plan = plan(spec, &cells, r, resolved, inputs, lenient)?;
    if plan.iter().any(|p| p.recipe.numerics != resolved.base.numerics) {
        bail!("grid `{}` sweeps `numerics`: one run has one numerics mode; run each mode on its own", r.selection.grid);
    }
    Ok(Prepared { plan, root, weights })
}

/// The inputs a plan fingerprints: the data root and the checked weight files.
pub struct Inputs<'a> {
    pub root: &'a Path,
    pub weights: &'a BTreeMap<Backbone, Option<super::preflight::Weights>>,
}

/// Plans `cells` and marks those whose result is in the results folder. A result of another configuration
/// is an error, as is a finished one without `--resume`, unless `lenient` (for listing and SLURM).
pub fn plan(
    spec: &Spec,
    cells: &[Cell],
    r: &RunRequest,
    resolved: &Resolved,
    inputs: Inputs,
    lenient: bool,
) -> Result<Vec<Planned>> {
    let mut fingerprints: BTreeMap<Dataset, serde_json::Value> = BTreeMap::new();
    let mut out = Vec::new();
    for c in cells {
        let recipe = cell_recipe(&resolved.base, c)?;
        let loss = cell_loss(c, &recipe).with_context(|| format!("grid `{}`", r.selection.grid))?;
        // --ways filters the set-based losses (with their resolved way); the element-wise ones have none.
        if loss.way().is_some_and(|w| !r.selection.ways.is_empty() && !r.selection.ways.contains(&w)) {
            continue;
        }
        let id = CellId {
            dataset: c.dataset,
            backbone: c.backbone,
            loss: c.loss,
            way: loss.way(),
            variant: c.variant(),
            seed: c.seed,
        };
        if let std::collections::btree_map::Entry::Vacant(e) = fingerprints.entry(c.dataset) {
            e.insert(data::fingerprint(spec, c.dataset, inputs.root)?);
        }
        let config = serde_json::json!({
            "dataset": c.dataset, "backbone": c.backbone, "loss": loss_json(&loss), "seed": c.seed,
            "recipe": {"name": resolved.recipe_name, "recipe": recipe}, "data": fingerprints[&c.dataset],
            "weights_sha256": inputs.weights[&c.backbone].as_ref().map(|w| &w.sha256),
        });
        let hash = results::hash(&config);
        let done = finished(&id.path(&r.out), &hash, &config, r.resume, lenient)?;
        out.push(Planned { index: out.len(), id, loss, recipe, config, hash, done });
    }
    Ok(out)
}

/// Whether the result at `path` is this configuration's; an error for another configuration's, or for a
/// result without `resume` (unless `lenient`).
fn finished(path: &Path, hash: &str, config: &serde_json::Value, resume: bool, lenient: bool) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    if lenient {
        return Ok(ResultFile::read(path).is_ok_and(|r| r.config_hash == hash));
    }
    if !resume {
        bail!("{}: a result already exists; use --resume to keep finished cells, or another --out", path.display());
    }
    let r = ResultFile::read(path)?;
    if r.config_hash != hash {
        bail!(
            "{}: this result was made with another configuration ({}); remove it or use another --out",
            path.display(),
            config_difference(&r.config, config)
        );
    }
    Ok(true)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_masks_the_two_way_loss_as_the_release_unless_the_grid_says() {
        let spec = Spec::embedded();
        let cells = grids::builtin("paper", spec).unwrap().unwrap().cells();
        let twoway = cells.iter().find(|c| c.loss == twoway_spec::Loss::Twoway).unwrap();
        let mask = |cell: &Cell, recipe: &str| match cell_loss(cell, &spec.recipes[recipe]).unwrap() {
            AnyLoss::TwoWay(l) => l.mask,
            other => panic!("{other:?}"),
        };
        assert_eq!(mask(twoway, "release"), twoway_spec::Mask::Official);
        assert_eq!(mask(twoway, "embedded"), twoway_spec::Mask::Exact);
        let mut exact = twoway.clone();
        exact.params.mask = Some(twoway_spec::Mask::Exact);
        assert_eq!(mask(&exact, "release"), twoway_spec::Mask::Exact);
    }
}
