//! One CSV record's fields, for the CSV files twoway reads (a dataset's labels, a table's baseline): comma
//! separated, a field in double quotes may hold commas, `""` is a quote inside it; a quote inside an
//! unquoted field is kept as it is. Tested below; the callers add the file and line to an error.

/// The fields of one line, or what is wrong with it.
pub fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed".into()),
                }
            }
            if let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                return Err(format!("`{c}` after a quoted field (expected `,`)"));
            }
        } else {
            while let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                field.push(c);
                chars.next();
            }
        }
        out.push(field);
        if chars.next().is_none() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fields;

    #[test]
    fn quoting_rules() {
        assert_eq!(fields("a,,b").unwrap(), ["a", "", "b"]);
        assert_eq!(fields("a,\"x,\"\"y\"\"\",c").unwrap(), ["a", "x,\"y\"", "c"]);
        assert_eq!(fields("\"\"").unwrap(), [""]);
        assert_eq!(fields("a,").unwrap(), ["a", ""]);
        assert_eq!(fields("a\"b").unwrap(), ["a\"b"]);
        assert!(fields("\"open").unwrap_err().contains("not closed"));
        assert!(fields("\"a\"b").unwrap_err().contains("after a quoted field"));
    }
}
