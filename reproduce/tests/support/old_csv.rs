//! The earlier form of a table CSV, made from today's form by the tests (independently of twoway's writer
//! and reader), to show that both forms gate alike.
#![allow(dead_code)]

/// A table CSV of today (the fingerprint of each row in its quoted `numerics` column) in the earlier form:
/// one `# numerics: ...` line per distinct fingerprint above the header, no `numerics` column.
pub fn old_form(text: &str) -> String {
    let mut lines = text.lines();
    let header = lines.next().unwrap().strip_suffix(",numerics").expect("the numerics column last");
    let mut numerics: Vec<String> = Vec::new();
    let mut rows = String::new();
    for l in lines {
        // The first eleven fields hold no comma; the twelfth is the numerics field, quoted when not empty.
        let cut = l.match_indices(',').nth(10).unwrap().0;
        let (row, field) = (&l[..cut], &l[cut + 1..]);
        rows.push_str(row);
        rows.push('\n');
        let field = field
            .strip_prefix('"')
            .and_then(|f| f.strip_suffix('"'))
            .map_or(field.to_string(), |f| f.replace("\"\"", "\""));
        let values: Vec<String> = match serde_json::from_str::<serde_json::Value>(&field) {
            Ok(serde_json::Value::Array(a)) => {
                a.iter().map(|v| if v.is_null() { "unknown".into() } else { v.to_string() }).collect()
            }
            Ok(v) => vec![v.to_string()],
            Err(_) if field == "unknown" => vec![field.clone()],
            Err(_) => {
                assert!(field.is_empty(), "{l}");
                vec![]
            }
        };
        for v in values {
            if !numerics.contains(&v) {
                numerics.push(v);
            }
        }
    }
    let comments: String = numerics.iter().map(|n| format!("# numerics: {n}\n")).collect();
    format!("{comments}{header}\n{rows}")
}
