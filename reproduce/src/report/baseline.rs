//! Reading a table CSV (`twoway table --format csv`) as a baseline of the gate: its `reproduced`, `sd`,
//! `n` and `seeds` columns, and the numerics fingerprints of the results it was made from. The current form
//! is a plain CSV (the header on the first line, the fingerprint of each row's results in its `numerics`
//! column, CSV-quoted JSON or `unknown`); the earlier forms are still read: `# numerics: ...` comment lines
//! above the header, and the headers without `numerics`, `seeds` or `sd,n,seeds`. Tested in
//! `tests/gate_verdicts.rs`, `tests/metrics_select.rs` and below; fuzzed (`fuzz/`, `table_csv`).

use crate::numerics::Fingerprint;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use twoway_spec::{CellKey, Way};

/// The CSV header of every table (one row per number), its first line: a plain CSV that Python's `csv`,
/// `pandas.read_csv` and spreadsheets read as it is. `reproduced` and `delta` carry full precision (an
/// identical rerun equals its baseline exactly); `sd` is the sample standard deviation over the `n` seeds
/// (empty with one seed). `seeds` lists each seed's value (`0:36.61 1:38.02`, full precision), so that a
/// gate compares the seeds both sides have; `numerics` is the numerics fingerprint of the row's results
/// (its JSON, CSV-quoted; `unknown` for results without one; a JSON array when its seeds ran under several;
/// empty where nothing is reproduced).
pub const CSV_HEADER: &str = "dataset,backbone,loss,way,metric,published,reproduced,delta,sd,n,seeds,numerics";

/// The header of table CSVs written before the `numerics` column, their fingerprints on [`NUMERICS_LINE`]
/// lines above it (still read as baselines).
pub const CSV_HEADER_V3: &str = "dataset,backbone,loss,way,metric,published,reproduced,delta,sd,n,seeds";

/// The header of table CSVs written before the `seeds` column (still read as baselines: `n` only).
pub const CSV_HEADER_V2: &str = "dataset,backbone,loss,way,metric,published,reproduced,delta,sd,n";

/// The numerics of results without a recorded fingerprint (unknown numerics).
pub const NUMERICS_UNKNOWN: &str = "unknown";

/// The prefix of the fingerprint lines of the earlier table CSVs (before the header, one per distinct
/// fingerprint; still read).
pub const NUMERICS_LINE: &str = "# numerics: ";

/// The header of table CSVs written before the seed columns (still read as baselines).
pub const CSV_HEADER_V1: &str = "dataset,backbone,loss,way,metric,published,reproduced,delta";

/// A baseline value, with its standard deviation over seeds when the baseline had several.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub value: f64,
    pub sd: Option<f64>,
    /// Its seed count (`n`), where recorded.
    pub n: Option<usize>,
    /// Each seed's value, where recorded (the `seeds` column).
    pub seeds: Option<Vec<(u64, f64)>>,
}

impl Baseline {
    /// A value of unknown seeds (the published numbers).
    pub fn of(value: f64) -> Baseline {
        Baseline { value, sd: None, n: None, seeds: None }
    }
}

/// A baseline CSV: its cells, and the numerics fingerprints of the results it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvBaseline {
    pub cells: BTreeMap<CellKey, Baseline>,
    /// The distinct fingerprints of its rows' `numerics` fields, or of its `# numerics: ...` lines (`None`:
    /// results without a fingerprint, `unknown`); empty for a baseline written before twoway recorded them.
    pub numerics: Vec<Option<Fingerprint>>,
}

/// The `reproduced` (and `sd`) columns of a table CSV (as printed by `twoway table --format csv`, or one of
/// its earlier forms), and its numerics; rows with an empty `reproduced` are not baselines.
pub fn read_csv_baseline(path: &Path) -> Result<CsvBaseline> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    parse_csv_baseline(&text, path)
}

/// A `numerics` value: `unknown`, one fingerprint's JSON, or a JSON array of them (`null`: unknown) when a
/// cell's seeds were run under several.
pub fn parse_numerics(text: &str) -> std::result::Result<Vec<Option<Fingerprint>>, String> {
    let text = text.trim();
    if text == NUMERICS_UNKNOWN {
        return Ok(vec![None]);
    }
    let what = |e: serde_json::Error| format!("not a numerics fingerprint (`{NUMERICS_UNKNOWN}` or its JSON): {e}");
    if text.starts_with('[') {
        return serde_json::from_str(text).map_err(what);
    }
    serde_json::from_str(text).map(|f| vec![Some(f)]).map_err(what)
}

/// A cell's fingerprints as its `numerics` field (unquoted): `unknown`, one JSON object, or an array.
pub fn numerics_field(all: &[Option<Fingerprint>]) -> String {
    match all {
        [] => String::new(),
        [None] => NUMERICS_UNKNOWN.to_string(),
        [Some(f)] => serde_json::to_string(f).expect("fingerprints serialise"),
        many => serde_json::to_string(many).expect("fingerprints serialise"),
    }
}

/// `text` as a CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Parses the text of a table CSV as a baseline (`path` names it in errors). Lines before the header that
/// start with `#` are comments (the earlier form); `# numerics: {...}` ones carry fingerprints.
pub fn parse_csv_baseline(text: &str, path: &Path) -> Result<CsvBaseline> {
    let mut lines = text.lines().enumerate().peekable();
    let mut numerics: Vec<Option<Fingerprint>> = Vec::new();
    let columns = preamble(&mut lines, path, &mut numerics)?;
    let mut out = BTreeMap::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, baseline)) = parse_row(line, columns, path, i, &mut numerics)? else { continue };
        if out.insert(key, baseline).is_some() {
            bail!("{}:{}: the same cell appears twice", path.display(), i + 1);
        }
    }
    if out.is_empty() {
        bail!("{}: no row has a `reproduced` value to compare against", path.display());
    }
    Ok(CsvBaseline { cells: out, numerics })
}

/// The comment lines of the earlier form (their fingerprints into `numerics`) and the header: the number
/// of columns its form has.
fn preamble<'a>(
    lines: &mut std::iter::Peekable<impl Iterator<Item = (usize, &'a str)>>,
    path: &Path,
    numerics: &mut Vec<Option<Fingerprint>>,
) -> Result<usize> {
    while let Some((i, line)) = lines.next_if(|(_, l)| l.starts_with('#')) {
        if let Some(json) = line.strip_prefix(NUMERICS_LINE) {
            if json.trim() == NUMERICS_UNKNOWN {
                add(numerics, None);
                continue;
            }
            let f: Fingerprint = serde_json::from_str(json)
                .with_context(|| format!("{}:{}: not a numerics fingerprint", path.display(), i + 1))?;
            add(numerics, Some(f));
        }
    }
    Ok(match lines.next() {
        Some((_, h)) if h.trim_end() == CSV_HEADER => 12,
        Some((_, h)) if h.trim_end() == CSV_HEADER_V3 => 11,
        Some((_, h)) if h.trim_end() == CSV_HEADER_V2 => 10,
        Some((_, h)) if h.trim_end() == CSV_HEADER_V1 => 8,
        Some((i, h)) => bail!(
            "{}:{}: header `{h}`, expected `{CSV_HEADER}` (write the baseline with `twoway table --all --format csv \
             --results DIR`)",
            path.display(),
            i + 1
        ),
        None => bail!("{}: empty file", path.display()),
    })
}

/// One data row (line `i`, 0-based) as a baseline cell; `None` for a row with nothing reproduced. Its
/// `numerics` field's fingerprints go into `numerics`.
fn parse_row(
    line: &str,
    columns: usize,
    path: &Path,
    i: usize,
    numerics: &mut Vec<Option<Fingerprint>>,
) -> Result<Option<(CellKey, Baseline)>> {
    let at = |field: &str, what: &str| anyhow::anyhow!("{}:{}: field `{field}`: {what}", path.display(), i + 1);
    let f = crate::io::csv::fields(line).map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
    if f.len() != columns {
        bail!("{}:{}: {} fields, expected {columns}", path.display(), i + 1, f.len())
    }
    let key = CellKey {
        dataset: f[0].parse().map_err(|e| at("dataset", &format!("{e}")))?,
        backbone: f[1].parse().map_err(|e| at("backbone", &format!("{e}")))?,
        loss: f[2].parse().map_err(|e| at("loss", &format!("{e}")))?,
        way: if f[3].is_empty() { None } else { Some(f[3].parse::<Way>().map_err(|e| at("way", &format!("{e}")))?) },
        metric: f[4].parse().map_err(|e| at("metric", &format!("{e}")))?,
    };
    if f[6].is_empty() {
        return Ok(None);
    }
    let v: f64 = f[6].parse().map_err(|_| at("reproduced", &format!("`{}` is not a number", f[6])))?;
    if !v.is_finite() {
        bail!("{}:{}: field `reproduced`: not finite", path.display(), i + 1);
    }
    let sd = match f.get(8) {
        Some(t) if !t.is_empty() => {
            let sd: f64 = t.parse().map_err(|_| at("sd", &format!("`{t}` is not a number")))?;
            if !(sd.is_finite() && sd >= 0.0) {
                return Err(at("sd", "must be a finite number >= 0"));
            }
            Some(sd)
        }
        _ => None,
    };
    let n = match f.get(9) {
        Some(t) if !t.is_empty() => match t.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(at("n", &format!("`{t}` is not a seed count (an integer >= 1)"))),
        },
        Some(_) => return Err(at("n", "empty, though `reproduced` has a value")),
        None => None,
    };
    let seeds = match f.get(10) {
        Some(t) => Some(parse_seeds(t).map_err(|e| at("seeds", &e))?),
        None => None,
    };
    if let Some(t) = f.get(11).filter(|t| !t.trim().is_empty()) {
        for one in parse_numerics(t).map_err(|e| at("numerics", &e))? {
            add(numerics, one);
        }
    }
    if let (Some(n), Some(seeds)) = (n, &seeds) {
        if seeds.len() != n {
            return Err(at("seeds", &format!("{} seed value(s), but n = {n}", seeds.len())));
        }
        let mean = seeds.iter().map(|s| s.1).sum::<f64>() / n as f64;
        if (mean - v).abs() > 1e-9 * v.abs().max(1.0) {
            return Err(at("seeds", &format!("their mean {mean} is not `reproduced` ({v})")));
        }
    }
    Ok(Some((key, Baseline { value: v, sd, n, seeds })))
}

/// Adds `f` to `numerics` unless it is there.
fn add(numerics: &mut Vec<Option<Fingerprint>>, f: Option<Fingerprint>) {
    if !numerics.contains(&f) {
        numerics.push(f);
    }
}

/// The `seeds` field: `seed:value` pairs separated by spaces, each seed once.
fn parse_seeds(text: &str) -> std::result::Result<Vec<(u64, f64)>, String> {
    let mut out: Vec<(u64, f64)> = Vec::new();
    for pair in text.split_whitespace() {
        let Some((s, v)) = pair.split_once(':') else {
            return Err(format!("`{pair}` is not SEED:VALUE"));
        };
        let seed: u64 = s.parse().map_err(|_| format!("`{s}` is not a seed"))?;
        let value: f64 = v.parse().map_err(|_| format!("`{v}` is not a number"))?;
        if !value.is_finite() {
            return Err(format!("seed {seed}: not finite"));
        }
        if out.iter().any(|x| x.0 == seed) {
            return Err(format!("seed {seed} twice"));
        }
        out.push((seed, value));
    }
    if out.is_empty() {
        return Err("no seed".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_csv_field_quotes_comes_back_whole() {
        let text = "{\"k\":\"v, w\"}";
        assert_eq!(crate::io::csv::fields(&format!("x,{}", csv_field(text))).unwrap(), ["x", text]);
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn the_plain_form_carries_the_fingerprint_of_the_comment_line_form() {
        // The fuzz seed `plain`: four rows of spec/baselines/embedded-ci.csv with its `# numerics:` line
        // moved into their `numerics` column, a published-only row, and a CF1 row of unknown + that one.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let old = read_csv_baseline(&root.join("spec/baselines/embedded-ci.csv")).unwrap();
        let new = read_csv_baseline(&root.join("fuzz/seeds/table_csv/plain")).unwrap();
        assert_eq!(old.numerics.len(), 1);
        assert_eq!(new.numerics, vec![old.numerics[0].clone(), None]);
        assert_eq!(new.cells.len(), 5);
        let mut compared = 0;
        for (k, b) in new.cells.iter().filter(|(k, _)| k.metric.is_map()) {
            assert_eq!(old.cells.get(k), Some(b), "{k:?}");
            compared += 1;
        }
        assert_eq!(compared, 4);
        let cf1 = new.cells.iter().find(|(k, _)| k.metric == twoway_spec::Metric::Cf1).unwrap().1;
        assert_eq!((cf1.value, cf1.sd, cf1.n), (41.5, Some(0.5), Some(2)));
    }
}
