//! From result files to the paper's artefacts, torch-free (the torch-free build has all of it): the
//! results table beside the published one ([`table`]), the CI gate ([`diff`] compares, [`gate`] composes
//! and renders), the paper's claims over seeds ([`claims`]) and the plots ([`plots`]). Everything here
//! reads [`crate::results`] and the spec; nothing here trains or imports the grid layer.

pub mod baseline;
pub mod claims;
pub mod diff;
pub mod figures;
pub mod gate;
pub mod html;
pub mod noise;
pub mod plots;
pub mod table;

/// `text` with XML's special characters escaped (for attributes and text alike).
pub fn xml(text: &str) -> String {
    let mut o = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn xml_escapes_what_it_must() {
        assert_eq!(xml("a<b & \"c\" 'd'>\u{1}"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
    }
}
