//! The one escaping function, and the page around every view.
//!
//! Every value a page shows that came from storage or from a request — a body, a header, an
//! error, an id, a filter typed in — goes through [`escape`] before it is written into HTML.
//! Pages are built with `format!`, so the rule is simple to check: every `{}` that is not a
//! number is an `escape(..)` (or a string this crate wrote).

use std::fmt::Write as _;

/// `text` as HTML text or as a double- or single-quoted attribute value: `&`, `<`, `>`, `"`
/// and `'` become character references, so stored strings render as text and never as markup.
///
/// ```
/// use appwrite_webhooks_web::escape;
/// assert_eq!(escape("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
/// assert_eq!(escape(r#"a"b'c&d"#), "a&quot;b&#39;c&amp;d");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: title, navigation and `main`, already escaped. `base` is where the view is
/// mounted, escaped.
pub(crate) fn page(base: &str, title: &str, main: &str) -> String {
    let mut html = String::with_capacity(main.len() + 1024);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · inbox</title>\
         <link rel=\"stylesheet\" href=\"{base}/style.css\"></head><body>\
         <header><nav><strong>inbox</strong> \
         <a href=\"{base}/\">Overview</a> \
         <a href=\"{base}/deliveries\">Deliveries</a> \
         <a href=\"{base}/dead\">Dead letters</a></nav></header>\
         <main><h1>{title}</h1>{main}</main></body></html>",
        title = escape(title),
    );
    html
}

/// A stored time as `2026-12-05 16:04:05Z` (UTC, to the second).
pub(crate) fn time(at: std::time::SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Fixed stylesheet: served by the view itself (`style-src 'self'`).
pub(crate) const STYLE: &str = "\
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}\
header{background:#1d1d1f;color:#fff;padding:.6em 1em}header a{color:#cde;margin-left:1em}\
main{padding:1em 1.5em;max-width:1200px}table{border-collapse:collapse;width:100%;margin:.5em 0}\
th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #ddd;vertical-align:top}\
pre{background:#fff;border:1px solid #ddd;padding:.8em;overflow:auto;white-space:pre-wrap;word-break:break-all}\
.state-dead{color:#b00020;font-weight:600}.state-done{color:#176c2b}.state-pending{color:#7a5a00}\
form.inline{display:inline}form.filters input,form.filters select{margin:0 .5em .3em 0}\
.notice{background:#eef6ff;border:1px solid #bcd;padding:.5em 1em}\
.error{background:#fff0f0;border:1px solid #e99;padding:.5em 1em}\
button{cursor:pointer}.danger{color:#b00020}code{word-break:break-all}\
svg text{font:11px system-ui,sans-serif}\
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(escape("&<>\"'"), "&amp;&lt;&gt;&quot;&#39;");
        assert_eq!(
            escape("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            escape("\"><script>alert(1)</script>"),
            "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        // Attribute breakouts with either quote.
        assert_eq!(escape("' onmouseover='x"), "&#39; onmouseover=&#39;x");
    }

    #[test]
    fn leaves_text_and_unicode_alone() {
        assert_eq!(
            escape("Zoë — 日本 users.*.create"),
            "Zoë — 日本 users.*.create"
        );
        assert_eq!(escape(""), "");
        // Already-escaped text is escaped again: what is stored is shown, not interpreted.
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn times_are_utc_to_the_second() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        assert_eq!(time(at), "2023-11-14 22:13:20Z");
    }
}
