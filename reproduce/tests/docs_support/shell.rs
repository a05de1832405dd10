//! Enough of the shell's grammar to find the commands of a documented line: words (with `'...'`,
//! `"..."` and `\` quoting), the operators that separate commands (`|`, `||`, `&&`, `;`, `&`) and
//! redirections, and `#` comments. The line itself is run by `sh`; this only finds what to parse or
//! extend.

/// A word or an operator, with its byte range in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub op: bool,
    pub start: usize,
    pub end: usize,
}

/// One simple command of a line: its words (quotes removed), where each word starts, and the byte offset
/// just after its last word (where arguments can be appended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simple {
    pub argv: Vec<String>,
    pub starts: Vec<usize>,
    pub end: usize,
}

/// Splits a line into tokens; an unterminated quote is an error.
pub fn tokens(line: &str) -> Result<Vec<Token>, String> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            break;
        } else if "|&;<>".contains(c) {
            let start = i;
            while i < b.len() && "|&;<>".contains(b[i] as char) {
                i += 1;
            }
            out.push(Token { text: line[start..i].to_string(), op: true, start, end: i });
        } else {
            let (text, end) = word(line, i)?;
            // A file-descriptor redirection (`2>`) reads as a word then an operator: keep it one operator.
            if end < b.len() && (b[end] == b'>' || b[end] == b'<') && text.chars().all(|c| c.is_ascii_digit()) {
                i = end;
                continue;
            }
            out.push(Token { text, op: false, start: i, end });
            i = end;
        }
    }
    Ok(out)
}

/// One word from `start`: returns its unquoted text and the offset after it.
fn word(line: &str, start: usize) -> Result<(String, usize), String> {
    let mut text = String::new();
    let mut chars = line[start..].char_indices().peekable();
    while let Some(&(k, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() || "|&;<>".contains(c) => return Ok((text, start + k)),
            '\'' => {
                chars.next();
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => text.push(c),
                        None => return Err(format!("an unterminated ' in `{line}`")),
                    }
                }
            }
            '"' => {
                chars.next();
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, c)) if "\"\\$`".contains(c) => text.push(c),
                            Some((_, c)) => {
                                text.push('\\');
                                text.push(c);
                            }
                            None => return Err(format!("an unterminated \" in `{line}`")),
                        },
                        Some((_, c)) => text.push(c),
                        None => return Err(format!("an unterminated \" in `{line}`")),
                    }
                }
            }
            '\\' => {
                chars.next();
                if let Some((_, c)) = chars.next() {
                    text.push(c);
                }
            }
            c => {
                text.push(c);
                chars.next();
            }
        }
    }
    Ok((text, line.len()))
}

/// The simple commands of a line, in order; redirections and their targets are left out of `argv`.
pub fn commands(line: &str) -> Result<Vec<Simple>, String> {
    let mut out = Vec::new();
    let mut cur = Simple { argv: Vec::new(), starts: Vec::new(), end: 0 };
    let mut skip_next = false;
    for t in tokens(line)? {
        if t.op {
            if t.text.contains('<') || t.text.contains('>') {
                skip_next = true;
                continue;
            }
            if !cur.argv.is_empty() {
                out.push(std::mem::replace(&mut cur, Simple { argv: Vec::new(), starts: Vec::new(), end: 0 }));
            }
            continue;
        }
        if std::mem::take(&mut skip_next) {
            continue;
        }
        cur.argv.push(t.text);
        cur.starts.push(t.start);
        cur.end = t.end;
    }
    if !cur.argv.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// A block's lines joined where one ends in `\`, with the line each command starts on; blank lines and
/// comment lines are left out.
pub fn joined(body: &[(usize, String)]) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut continued = false;
    for (n, l) in body {
        let t = l.trim();
        if continued {
            let last = &mut out.last_mut().expect("a continuation follows a line").1;
            last.pop();
            last.push(' ');
            last.push_str(t);
        } else if t.is_empty() || t.starts_with('#') {
            continue;
        } else {
            out.push((*n, t.to_string()));
        }
        continued = t.ends_with('\\');
    }
    out
}
