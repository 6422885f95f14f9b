//! The HTML evaluation report (feature `cli`): `index.html` with the metrics table, an SVG confusion matrix and
//! per-trace SVG timelines (truth against decision, with confidence). Everything is inline or a relative file:
//! the page loads no network resource. Plots are drawn with plotters' SVG backend.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::eval::{Report, LABELS};
use crate::offline::DecisionRecord;
use crate::sample::Label;

/// Colour of an activity (and of `other` for truth rows).
fn colour(name: &str) -> RGBColor {
    match name {
        "still" => RGBColor(120, 144, 156),
        "walking" => RGBColor(67, 160, 71),
        "running" => RGBColor(229, 57, 53),
        "transit" => RGBColor(30, 136, 229),
        "other" => RGBColor(255, 179, 0),
        _ => RGBColor(224, 224, 224),
    }
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// The confusion matrix as SVG text.
pub fn confusion_svg(report: &Report) -> Result<String, std::io::Error> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (620, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(io_err)?;
        let cell = (90, 60);
        let origin = (110, 40);
        for (j, l) in LABELS.iter().enumerate() {
            let x = origin.0 + j as i32 * cell.0;
            root.draw(&Text::new(l.to_string(), (x + 10, 15), ("sans-serif", 14))).map_err(io_err)?;
        }
        for (i, row) in report.confusion.matrix.iter().take(4).enumerate() {
            let total: u64 = row.iter().sum::<u64>().max(1);
            let y = origin.1 + i as i32 * cell.1;
            root.draw(&Text::new(LABELS[i].to_string(), (10, y + 25), ("sans-serif", 14))).map_err(io_err)?;
            for (j, &v) in row.iter().enumerate() {
                let x = origin.0 + j as i32 * cell.0;
                let frac = v as f64 / total as f64;
                let shade = (255.0 - 200.0 * frac) as u8;
                let fill = if i == j { RGBColor(shade, 255, shade) } else { RGBColor(255, shade, shade) };
                root.draw(&Rectangle::new([(x, y), (x + cell.0 - 2, y + cell.1 - 2)], fill.filled()))
                    .map_err(io_err)?;
                root.draw(&Text::new(format!("{v}"), (x + 8, y + 20), ("sans-serif", 14))).map_err(io_err)?;
                root.draw(&Text::new(format!("{:.0}%", 100.0 * frac), (x + 8, y + 40), ("sans-serif", 12)))
                    .map_err(io_err)?;
            }
        }
        root.present().map_err(io_err)?;
    }
    Ok(svg)
}

/// A timeline of one trace as SVG text: the truth on top, the decisions below, confidence as a line.
pub fn timeline_svg(title: &str, decisions: &[DecisionRecord]) -> Result<String, std::io::Error> {
    let mut svg = String::new();
    {
        let (w, h) = (1000u32, 170u32);
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(io_err)?;
        root.draw(&Text::new(title.to_string(), (10, 14), ("sans-serif", 13))).map_err(io_err)?;
        let t_end = decisions.last().map_or(1.0, |d| d.end_s).max(1.0);
        let t_start = decisions.first().map_or(0.0, |d| d.start_s);
        let span = (t_end - t_start).max(1e-6);
        let left = 70i32;
        let width = (w as i32 - left - 10) as f64;
        let x = |t: f64| left + ((t - t_start) / span * width) as i32;
        root.draw(&Text::new("truth", (10, 40), ("sans-serif", 12))).map_err(io_err)?;
        root.draw(&Text::new("decision", (10, 80), ("sans-serif", 12))).map_err(io_err)?;
        root.draw(&Text::new("confidence", (4, 125), ("sans-serif", 12))).map_err(io_err)?;
        let mut prev_end = t_start;
        let mut conf_points = Vec::with_capacity(decisions.len());
        for d in decisions {
            let (a, b) = (x(prev_end.max(d.start_s)), x(d.end_s).max(x(prev_end.max(d.start_s)) + 1));
            let truth = d.truth.map_or("unlabelled", Label::name);
            root.draw(&Rectangle::new([(a, 28), (b, 50)], colour(truth).filled())).map_err(io_err)?;
            root.draw(&Rectangle::new([(a, 68), (b, 90)], colour(d.activity.name()).filled())).map_err(io_err)?;
            conf_points.push((x(d.end_s), 150 - (d.confidence.clamp(0.0, 1.0) * 40.0) as i32));
            prev_end = d.end_s;
        }
        root.draw(&PathElement::new(conf_points, BLACK.stroke_width(1))).map_err(io_err)?;
        root.draw(&PathElement::new(vec![(left, 150), (w as i32 - 10, 150)], RGBColor(200, 200, 200)))
            .map_err(io_err)?;
        root.draw(&Text::new(format!("{:.0} s", t_end - t_start), (w as i32 - 60, 165), ("sans-serif", 11)))
            .map_err(io_err)?;
        root.present().map_err(io_err)?;
    }
    Ok(svg)
}

/// Writes `index.html`, `confusion.svg` and `timelines/*.svg` into `dir`. `traces` holds each trace's name and
/// decisions; at most `max_timelines` timelines are drawn (the traces with the most errors first).
pub fn write_report(
    dir: &Path,
    report: &Report,
    per_dataset: &[(String, Report)],
    traces: &[(String, Vec<DecisionRecord>)],
    max_timelines: usize,
) -> Result<(), std::io::Error> {
    std::fs::create_dir_all(dir.join("timelines"))?;
    std::fs::write(dir.join("confusion.svg"), confusion_svg(report)?)?;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>motiongate evaluation</title><style>\
         body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;\
         padding:4px 8px;text-align:right}}th{{background:#f4f4f4}}</style></head><body>\
         <h1>motiongate evaluation</h1><p>macro-F1 <b>{:.3}</b>, accuracy {:.3}, {} decisions, {} abstained; \
         windows labelled other: {} decisions, {:.1}% given a confident activity; walking decided as transit \
         {:.2}%.</p><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>",
        report.macro_f1,
        report.accuracy,
        report.decisions,
        report.abstained,
        report.other.decisions,
        100.0 * report.other.confident_fraction,
        100.0 * report.walking_as_transit
    );
    for name in &LABELS[..4] {
        if let Some(m) = report.per_class.get(*name) {
            let _ = write!(
                html,
                "<tr><th>{name}</th><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
                m.precision, m.recall, m.f1, m.support
            );
        }
    }
    html.push_str("</table><h2>Confusion matrix</h2><p>Rows: truth; columns: decision.</p>");
    html.push_str("<img src=\"confusion.svg\" alt=\"confusion matrix\">");
    if !per_dataset.is_empty() {
        html.push_str(
            "<h2>Per dataset</h2><table><tr><th>dataset</th><th>macro-F1</th><th>accuracy</th><th>decisions</th></tr>",
        );
        for (d, r) in per_dataset {
            let _ = write!(
                html,
                "<tr><th>{}</th><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
                escape(d),
                r.macro_f1,
                r.accuracy,
                r.decisions
            );
        }
        html.push_str("</table>");
    }
    let mut order: Vec<usize> = (0..traces.len()).collect();
    let errors = |ds: &[DecisionRecord]| {
        ds.iter().filter(|d| d.truth.and_then(Label::activity).is_some_and(|a| a != d.activity)).count()
    };
    order.sort_by_key(|&i| (std::cmp::Reverse(errors(&traces[i].1)), i));
    let _ = write!(
        html,
        "<h2>Timelines</h2><p>{} of {} traces, most errors first. Colours: <span style=\"color:#78909c\">still</span>, \
         <span style=\"color:#43a047\">walking</span>, <span style=\"color:#e53935\">running</span>, \
         <span style=\"color:#1e88e5\">transit</span>, <span style=\"color:#ffb300\">other</span>, grey: unknown or \
         unlabelled.</p>",
        order.len().min(max_timelines),
        traces.len()
    );
    for (k, &i) in order.iter().take(max_timelines).enumerate() {
        let (name, ds) = &traces[i];
        let file = format!("timelines/{k:04}.svg");
        std::fs::write(dir.join(&file), timeline_svg(name, ds)?)?;
        let _ = write!(html, "<div><img src=\"{file}\" alt=\"{}\"></div>", escape(name));
    }
    html.push_str("</body></html>\n");
    std::fs::write(dir.join("index.html"), html)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Confusion;
    use crate::sample::Activity;

    #[test]
    fn writes_a_self_contained_report() {
        let mut c = Confusion::default();
        c.add(Some(Label::Walking), Activity::Walking);
        c.add(Some(Label::Still), Activity::Transit);
        let ds = vec![
            DecisionRecord {
                start_s: 0.0,
                end_s: 5.0,
                activity: Activity::Walking,
                confidence: 0.9,
                truth: Some(Label::Walking),
            },
            DecisionRecord {
                start_s: 2.5,
                end_s: 7.5,
                activity: Activity::Transit,
                confidence: 0.6,
                truth: Some(Label::Still),
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        write_report(dir.path(), &c.report(), &[], &[("t<1>".into(), ds)], 10).unwrap();
        let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
        assert!(html.contains("confusion.svg") && html.contains("timelines/0000.svg"));
        assert!(!html.contains("http://") && !html.contains("https://"), "no network resources");
        assert!(html.contains("t&lt;1&gt;"));
        let svg = std::fs::read_to_string(dir.path().join("confusion.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<rect"));
    }
}
