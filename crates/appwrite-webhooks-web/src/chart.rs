//! The activity chart, drawn here as inline SVG: no script, no external resource.

use std::fmt::Write as _;

use appwrite_webhooks::inbox::Minute;

const WIDTH: u64 = 720;
const HEIGHT: u64 = 180;
const LEFT: u64 = 40;
const BOTTOM: u64 = 20;
const TOP: u64 = 10;

/// A series: name, colour, value.
type Series = (&'static str, &'static str, fn(&Minute) -> u64);

/// The four series.
const SERIES: [Series; 4] = [
    ("received", "#2563eb", |m| m.received),
    ("done", "#16a34a", |m| m.done),
    ("retried", "#d97706", |m| m.retried),
    ("failed", "#dc2626", |m| m.failed),
];

/// A line per series over `minutes`, with a legend of totals, a y axis and a title readable
/// by screen readers. Only numbers and this module's own words go into it.
pub(crate) fn activity(minutes: &[Minute]) -> String {
    let max = minutes
        .iter()
        .flat_map(|m| SERIES.iter().map(move |(_, _, value)| value(m)))
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_w = WIDTH - LEFT - 10;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let step = if minutes.len() > 1 {
        plot_w as f64 / (minutes.len() - 1) as f64
    } else {
        0.0
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" aria-labelledby=\"activity-title\">\
         <title id=\"activity-title\">Deliveries per minute over the last {} minutes</title>\
         <rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"#fff\" stroke=\"#ccc\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{max}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>\
         <text x=\"{LEFT}\" y=\"{}\">-{}m</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">now</text>",
        minutes.len(),
        LEFT - 4,
        TOP + 10,
        LEFT - 4,
        TOP + plot_h,
        HEIGHT - 4,
        minutes.len().saturating_sub(1),
        LEFT + plot_w,
        HEIGHT - 4,
    );
    for (name, colour, value) in SERIES {
        let points: Vec<String> = minutes
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let x = LEFT as f64 + step * i as f64;
                let y = (TOP + plot_h) as f64 - plot_h as f64 * value(m) as f64 / max as f64;
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"series-{name}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The chart's legend with each series' total, as a table (readable without the chart).
pub(crate) fn legend(minutes: &[Minute]) -> String {
    let mut html = String::from("<table class=\"legend\"><tr>");
    for (name, colour, value) in SERIES {
        let total: u64 = minutes.iter().map(value).sum();
        let _ = write!(
            html,
            "<td><svg width=\"12\" height=\"12\" aria-hidden=\"true\"><rect width=\"12\" height=\"12\" fill=\"{colour}\"/></svg> \
             {name}: <strong id=\"total-{name}\">{total}</strong></td>"
        );
    }
    html.push_str("</tr></table>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_line_per_series_and_totals() {
        let minutes = [
            Minute {
                start_millis: 0,
                received: 3,
                done: 2,
                retried: 1,
                failed: 0,
            },
            Minute {
                start_millis: 60_000,
                received: 1,
                done: 1,
                retried: 0,
                failed: 1,
            },
        ];
        let svg = activity(&minutes);
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        let legend = legend(&minutes);
        assert!(legend.contains("id=\"total-received\">4<"));
        assert!(legend.contains("id=\"total-failed\">1<"));
    }

    #[test]
    fn an_empty_hour_draws_flat_lines() {
        let svg = activity(&[Minute::default()]);
        assert!(svg.contains("points=\"40.0,160.0\""));
    }
}
