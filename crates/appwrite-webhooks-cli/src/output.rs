//! Terminal output: colour only on a terminal, and `--quiet`.

use std::borrow::Cow;
use std::io::IsTerminal;

/// How to print: colours when stdout is a terminal (and `NO_COLOR` is unset), and whether
/// informational output is wanted.
#[derive(Clone, Copy)]
pub struct Style {
    colour: bool,
    pub quiet: bool,
}

impl Style {
    pub fn detect(quiet: bool) -> Self {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self { colour, quiet }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn good(&self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn bad(&self, text: &str) -> String {
        self.paint("31", text)
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// The most of a receiver's answer printed: the sender logs 10 kB of it too.
const PRINTED_ANSWER: usize = 10 * 1024;

/// Where a value from outside is printed, which decides what must be escaped besides the
/// characters that drive a terminal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fit {
    /// Lines of a block (a body, a receiver's answer): its line breaks are kept.
    Block,
    /// Part of one line: line breaks are escaped too, so it cannot forge another line.
    Line,
    /// One field of a line (an id, an event, a column): whitespace is escaped too, so it
    /// cannot forge another field or column.
    Word,
    /// Between double quotes: `"` and `\` are escaped too, so it cannot close the quotes.
    Quoted,
}

/// Whether `c` can drive a terminal or change how text around it reads: C0 controls (escape
/// sequences start with ESC; CR, tab and line breaks move the cursor), DEL, C1 controls (CSI,
/// NEL, OSC), Unicode's bidirectional controls (text shown in another order than it is) and
/// its line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// The one escaping of text from outside — a request's headers, a stored delivery, a
/// receiver's answer — before it reaches a terminal: every [unsafe](is_unsafe) character is
/// shown as visible text (`\u{1b}`, `\r`, `\t`, `\n`), and what `fit` names besides. Nothing
/// a sender chooses can then colour, retitle or clear the terminal, hide text, or add a line or
/// column of its own.
pub fn escape(text: &str, fit: Fit) -> Cow<'_, str> {
    let needs = |c: char| match c {
        '\n' => fit != Fit::Block,
        c if is_unsafe(c) => true,
        c if c.is_whitespace() => fit == Fit::Word,
        '"' | '\\' => fit == Fit::Quoted,
        _ => false,
    };
    if !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c == ' ' && needs(c) {
            // `escape_default` leaves a space as it is.
            out.push_str("\\u{20}");
        } else if needs(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A value from outside as one field of a line ([`Fit::Word`]); `-` when it is absent or empty.
pub fn word(value: Option<&str>) -> Cow<'_, str> {
    match value {
        Some(value) if !value.is_empty() => escape(value, Fit::Word),
        _ => Cow::Borrowed("-"),
    }
}

/// A value from outside between double quotes ([`Fit::Quoted`]).
pub fn quoted(value: &str) -> String {
    format!("\"{}\"", escape(value, Fit::Quoted))
}

/// A receiver's answer or a stored body, as a block: [escaped](escape) with its line breaks
/// kept, and a long one cut.
pub fn printable(text: &str) -> String {
    let cut = match text.char_indices().nth(PRINTED_ANSWER) {
        Some((at, _)) => &text[..at],
        None => text,
    };
    let mut out = escape(cut, Fit::Block).into_owned();
    if cut.len() < text.len() {
        out.push_str("… (cut)");
    }
    out
}

/// One JSON value on one line. serde_json escapes `"`, `\` and C0 controls but writes DEL, C1
/// controls and the bidirectional and separator characters as they are: those are written as
/// `\uXXXX` escapes too (the same JSON value), so `--json` output is as inert on a terminal.
pub fn json_line(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if !text.chars().any(is_unsafe) {
        return text;
    }
    // Outside strings serde_json writes only ASCII punctuation, digits and literals: an unsafe
    // character is always inside a string, where a `\uXXXX` escape means the same.
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_cannot_drive_the_terminal() {
        let hostile = "ok\x1b[2J\x1b]0;pwned\x07\r\nnext\tline\u{9b}31m\u{202e}";
        let shown = printable(hostile);
        assert!(
            !shown.chars().any(|c| is_unsafe(c) && c != '\n'),
            "{shown:?}"
        );
        assert_eq!(
            shown,
            "ok\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\r\nnext\\tline\\u{9b}31m\\u{202e}"
        );
        assert!(printable(&"x".repeat(20_000)).ends_with("… (cut)"));
        assert_eq!(printable(&"é".repeat(10)), "é".repeat(10));
    }

    #[test]
    fn each_fit_escapes_what_could_forge_its_place() {
        let text = "a b\n\"c\\d\u{7f}";
        assert_eq!(escape(text, Fit::Block), "a b\n\"c\\d\\u{7f}");
        assert_eq!(escape(text, Fit::Line), "a b\\n\"c\\d\\u{7f}");
        assert_eq!(escape(text, Fit::Word), "a\\u{20}b\\n\"c\\d\\u{7f}");
        assert_eq!(quoted(text), "\"a b\\n\\\"c\\\\d\\u{7f}\"");
        assert_eq!(word(Some("")), "-");
        assert_eq!(word(None), "-");
        assert!(matches!(escape("plain", Fit::Word), Cow::Borrowed(_)));
    }

    #[test]
    fn json_lines_are_inert_and_mean_the_same() {
        let value = serde_json::json!({ "name": "\x1b]0;pwned\x07\u{9b}2J\u{7f}\u{2028}\n<img src=x onerror=alert(1)>" });
        let line = json_line(&value);
        assert!(!line.chars().any(is_unsafe), "{line:?}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&line).unwrap(),
            value
        );
    }
}
