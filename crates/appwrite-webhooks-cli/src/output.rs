//! Terminal output: colour only on a terminal, and `--quiet`.

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

/// Text from outside (a receiver's answer, a stored delivery), safe for a terminal: control characters (escape sequences, carriage
/// returns, bells) are shown escaped, and a long answer is cut.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(PRINTED_ANSWER));
    for (i, c) in text.chars().enumerate() {
        if i == PRINTED_ANSWER {
            out.push_str("… (cut)");
            break;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn answers_cannot_drive_the_terminal() {
        let hostile = "ok\x1b[2J\x1b]0;pwned\x07\r\nnext\tline";
        let shown = printable(hostile);
        assert!(
            !shown
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{shown:?}"
        );
        assert_eq!(shown, "ok\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\r\nnext\tline");
        assert!(printable(&"x".repeat(20_000)).ends_with("… (cut)"));
    }
}
