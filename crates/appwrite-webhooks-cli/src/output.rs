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
