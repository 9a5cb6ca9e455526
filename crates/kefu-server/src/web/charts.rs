//! Charts as SVG, rendered on the server: no script, no library, fine in
//! print. Every chart has a title, axis labels and its values written out
//! (bars and points carry their number, and a `<title>` tooltip with label
//! and value), and series differ by shape and dash as well as colour, so it
//! reads in black and white. Text is XML-escaped; NaN and infinite values
//! are treated as missing; no data gives a frame that says so.
//!
//! Labels are passed in by the caller (from the message catalogues), so
//! the charts themselves hold no language.

use std::fmt::Write as _;

use super::html::{escape, num};

/// Fonts for Chinese text on Linux, Windows and macOS, then anything.
pub(crate) const FONT_FAMILY: &str =
    "'Noto Sans CJK SC','Microsoft YaHei','PingFang SC',sans-serif";

const BAR_FILL: &str = "#4a78b0";
const BAR_STROKE: &str = "#1f3f66";
const LINE: &str = "#b5462f";
const TARGET: &str = "#2f7d32";
const GRID: &str = "#d9dde3";
const AXIS: &str = "#555";
const TEXT: &str = "#222";
const MARKER: &str = "#b3261e";

/// A labelled value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Datum {
    /// Category (x axis).
    pub label: String,
    /// Value; NaN or infinite counts as missing.
    pub value: f64,
}

impl Datum {
    /// A datum.
    pub(crate) fn new(label: impl Into<String>, value: f64) -> Datum {
        Datum {
            label: label.into(),
            value,
        }
    }
}

/// The texts and size of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    /// Title, drawn at the top and used as the accessible name.
    pub title: String,
    /// Label of the x axis (may be empty).
    pub x_label: String,
    /// Label of the y axis (may be empty).
    pub y_label: String,
    /// What to say when there is nothing to draw.
    pub no_data: String,
    /// Appended to every value shown (`%`, ` 分`); may be empty.
    pub suffix: String,
    /// Width in SVG units (the chart scales to its container).
    pub width: f64,
    /// Height in SVG units.
    pub height: f64,
    /// A labelled vertical line across the bars, if any.
    pub marker: Option<MarkerX>,
}

/// A dashed vertical line across a bar chart, labelled at its top (e.g. a
/// pass mark over a score histogram). Drawn by [`bar_chart`] and
/// [`histogram`] from their own bar geometry; other charts ignore it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MarkerX {
    /// Position in bar slots from the left edge of the first bar's slot:
    /// 0 is the left edge, 2.5 the middle of the third bar, the number of
    /// bars the right edge. Clamped to the bars; NaN draws nothing.
    pub slots: f64,
    /// The line's label (also its tooltip).
    pub label: String,
}

impl Chart {
    /// A 640 × 300 chart.
    pub(crate) fn new(title: impl Into<String>, no_data: impl Into<String>) -> Chart {
        Chart {
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            no_data: no_data.into(),
            suffix: String::new(),
            width: 640.0,
            height: 300.0,
            marker: None,
        }
    }

    /// With axis labels.
    pub(crate) fn axes(mut self, x: impl Into<String>, y: impl Into<String>) -> Chart {
        self.x_label = x.into();
        self.y_label = y.into();
        self
    }

    /// With a suffix for values.
    pub(crate) fn suffix(mut self, s: impl Into<String>) -> Chart {
        self.suffix = s.into();
        self
    }

    /// With another size.
    pub(crate) fn size(mut self, width: f64, height: f64) -> Chart {
        self.width = width.max(120.0);
        self.height = height.max(80.0);
        self
    }

    /// With a dashed vertical line labelled `label` at `slots` bar slots
    /// (see [`MarkerX`]); only bar charts and histograms draw it.
    pub(crate) fn marker_x(mut self, slots: f64, label: impl Into<String>) -> Chart {
        self.marker = Some(MarkerX {
            slots,
            label: label.into(),
        });
        self
    }

    fn value(&self, v: f64) -> String {
        format!("{}{}", num(v), self.suffix)
    }
}

/// The plotting area inside the margins.
#[derive(Debug, Clone, Copy)]
struct Plot {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Plot {
    fn width(&self) -> f64 {
        self.right - self.left
    }
    fn height(&self) -> f64 {
        self.bottom - self.top
    }
}

/// A linear y scale from `lo` to `hi` with tick `step`.
#[derive(Debug, Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    step: f64,
}

impl Scale {
    /// Nice bounds and step (1, 2, 2.5 or 5 × 10ⁿ) covering `lo..=hi`, zero
    /// included.
    fn nice(lo: f64, hi: f64) -> Scale {
        let (mut lo, mut hi) = (lo.min(0.0), hi.max(0.0));
        if !(hi - lo).is_finite() || hi - lo <= 0.0 {
            lo = lo.min(0.0);
            hi = lo + 1.0;
        }
        let raw = (hi - lo) / 5.0;
        let mag = 10f64.powf(raw.log10().floor());
        let norm = raw / mag;
        let step = mag
            * if norm <= 1.0 {
                1.0
            } else if norm <= 2.0 {
                2.0
            } else if norm <= 2.5 {
                2.5
            } else if norm <= 5.0 {
                5.0
            } else {
                10.0
            };
        Scale {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
            step,
        }
    }

    fn y(&self, plot: &Plot, v: f64) -> f64 {
        let span = self.hi - self.lo;
        let t = if span > 0.0 {
            (v - self.lo) / span
        } else {
            0.0
        };
        plot.bottom - t.clamp(0.0, 1.0) * plot.height()
    }

    fn ticks(&self) -> Vec<f64> {
        let n = ((self.hi - self.lo) / self.step).round() as i64;
        (0..=n.clamp(1, 20))
            .map(|i| self.lo + i as f64 * self.step)
            .collect()
    }
}

/// `a > b`, false when either is NaN.
fn above(a: f64, b: f64) -> bool {
    a.partial_cmp(&b) == Some(std::cmp::Ordering::Greater)
}

/// Rounds SVG coordinates to one decimal (smaller output, no `-0.0000001`).
fn c(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r == 0.0 {
        "0".to_string()
    } else {
        num(r)
    }
}

/// A label shortened to `max` characters with an ellipsis.
fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

fn open(chart: &Chart, out: &mut String) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {w} {h}\" \
         width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\" font-family=\"{FONT_FAMILY}\" \
         font-size=\"12\" fill=\"{TEXT}\"><title>{t}</title>\
         <text x=\"{x}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">{t}</text>",
        w = c(chart.width),
        h = c(chart.height),
        t = escape(&chart.title),
        x = c(chart.width / 2.0),
    );
}

fn close(out: &mut String) {
    out.push_str("</svg>");
}

/// The frame of a chart without data, saying so.
fn no_data(chart: &Chart) -> String {
    let mut out = String::new();
    open(chart, &mut out);
    let _ = write!(
        out,
        "<rect x=\"8\" y=\"28\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{GRID}\" \
         stroke-dasharray=\"4 4\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{AXIS}\" \
         class=\"no-data\">{}</text>",
        c(chart.width - 16.0),
        c(chart.height - 36.0),
        c(chart.width / 2.0),
        c(chart.height / 2.0 + 10.0),
        escape(&chart.no_data)
    );
    close(&mut out);
    out
}

fn plot_area(chart: &Chart, right_axis: bool, rotated_labels: bool) -> Plot {
    Plot {
        left: 56.0,
        // Room under the title for a legend.
        top: 48.0,
        right: chart.width - if right_axis { 52.0 } else { 16.0 },
        bottom: chart.height - if rotated_labels { 70.0 } else { 46.0 },
    }
}

/// Grid lines, left axis with tick values, and axis labels.
fn axes(chart: &Chart, plot: &Plot, scale: &Scale, out: &mut String) {
    for t in scale.ticks() {
        let y = c(scale.y(plot, t));
        let _ = write!(
            out,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{GRID}\"/>\
             <text x=\"{}\" y=\"{y}\" dy=\"4\" text-anchor=\"end\" font-size=\"11\">{}</text>",
            c(plot.left),
            c(plot.right),
            c(plot.left - 6.0),
            escape(&chart.value(t)),
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\" stroke=\"{AXIS}\"/>\
         <line x1=\"{l}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"{AXIS}\"/>",
        l = c(plot.left),
        t = c(plot.top),
        b = c(plot.bottom),
        r = c(plot.right),
    );
    if !chart.y_label.is_empty() {
        let (x, y) = (14.0, (plot.top + plot.bottom) / 2.0);
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"{y}\" transform=\"rotate(-90 {x} {y})\" text-anchor=\"middle\" \
             font-size=\"11\">{}</text>",
            escape(&chart.y_label),
            x = c(x),
            y = c(y),
        );
    }
    if !chart.x_label.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
            c((plot.left + plot.right) / 2.0),
            c(chart.height - 6.0),
            escape(&chart.x_label),
        );
    }
}

/// Category labels under the x axis, every `every`-th one, rotated when
/// crowded.
fn x_labels(plot: &Plot, xs: &[(f64, &str)], rotated: bool, out: &mut String) {
    let every = xs.len().div_ceil(16).max(1);
    for (i, (x, label)) in xs.iter().enumerate() {
        if i % every != 0 && i + 1 != xs.len() {
            continue;
        }
        let y = plot.bottom + 16.0;
        if rotated {
            let _ = write!(
                out,
                "<text x=\"{x}\" y=\"{y}\" transform=\"rotate(-35 {x} {y})\" text-anchor=\"end\" \
                 font-size=\"11\">{}</text>",
                escape(&short(label, 10)),
                x = c(*x),
                y = c(y),
            );
        } else {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                c(*x),
                c(y),
                escape(&short(label, 8)),
            );
        }
    }
}

fn finite(data: &[Datum]) -> Vec<&Datum> {
    data.iter().filter(|d| d.value.is_finite()).collect()
}

/// Draws bars (with their values) and returns the centre of each.
fn bars(
    chart: &Chart,
    plot: &Plot,
    scale: &Scale,
    data: &[&Datum],
    gap: f64,
    out: &mut String,
) -> Vec<f64> {
    let slot = plot.width() / data.len().max(1) as f64;
    let width = (slot * (1.0 - gap)).max(1.0);
    let zero = scale.y(plot, 0.0);
    let mut centres = Vec::with_capacity(data.len());
    for (i, d) in data.iter().enumerate() {
        let centre = plot.left + slot * (i as f64 + 0.5);
        let y = scale.y(plot, d.value);
        let (top, h) = if y < zero {
            (y, zero - y)
        } else {
            (zero, y - zero)
        };
        let _ = write!(
            out,
            "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{BAR_FILL}\" \
             stroke=\"{BAR_STROKE}\"><title>{}: {}</title></rect>",
            c(centre - width / 2.0),
            c(top),
            c(width),
            c(h.max(0.5)),
            escape(&d.label),
            escape(&chart.value(d.value)),
        );
        if data.len() <= 24 {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                c(centre),
                c(top - 4.0),
                escape(&chart.value(d.value)),
            );
        }
        centres.push(centre);
    }
    centres
}

/// A vertical bar chart of `data`, in the order given.
pub(crate) fn bar_chart(chart: &Chart, data: &[Datum]) -> String {
    let data = finite(data);
    if data.is_empty() {
        return no_data(chart);
    }
    let lo = data.iter().map(|d| d.value).fold(0.0, f64::min);
    let hi = data.iter().map(|d| d.value).fold(0.0, f64::max);
    bars_svg(chart, &data, Scale::nice(lo, hi * 1.1), 0.3)
}

/// Bars of `data` on `scale`, labelled underneath (slanted when many),
/// `gap` the share of each slot left empty.
fn bars_svg(chart: &Chart, data: &[&Datum], scale: Scale, gap: f64) -> String {
    let rotated = data.len() > 8;
    let plot = plot_area(chart, false, rotated);
    let mut out = String::new();
    open(chart, &mut out);
    axes(chart, &plot, &scale, &mut out);
    let centres = bars(chart, &plot, &scale, data, gap, &mut out);
    let xs: Vec<(f64, &str)> = centres
        .iter()
        .zip(data)
        .map(|(x, d)| (*x, d.label.as_str()))
        .collect();
    x_labels(&plot, &xs, rotated, &mut out);
    if let Some(marker) = &chart.marker {
        vertical_marker(&plot, data.len(), marker, &mut out);
    }
    close(&mut out);
    out
}

/// `marker` over `bars` bars filling `plot` side by side (the geometry of
/// [`bars`]): a dashed vertical line from just under the title to the x
/// axis, its label beside its top.
fn vertical_marker(plot: &Plot, bars: usize, marker: &MarkerX, out: &mut String) {
    if bars == 0 || !marker.slots.is_finite() {
        return;
    }
    let slot = plot.width() / bars as f64;
    let x = plot.left + slot * marker.slots.clamp(0.0, bars as f64);
    let top = plot.top - 8.0;
    let label = escape(&marker.label);
    let _ = write!(
        out,
        "<g class=\"marker\"><line x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{bottom}\" \
         stroke=\"{MARKER}\" stroke-width=\"2\" stroke-dasharray=\"6 3\"><title>{label}</title></line>\
         <text x=\"{tx}\" y=\"{ty}\" font-size=\"11\" fill=\"{MARKER}\">{label}</text></g>",
        x = c(x),
        top = c(top),
        bottom = c(plot.bottom),
        tx = c(x + 4.0),
        ty = c(top + 8.0),
    );
}

/// A horizontal reference line across the plot (its meaning goes in a
/// legend or matches an axis tick).
fn reference_line(plot: &Plot, y: f64, colour: &str, dash: &str, out: &mut String) {
    let _ = write!(
        out,
        "<line class=\"target\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{colour}\" \
         stroke-width=\"1.5\" stroke-dasharray=\"{dash}\"/>",
        c(plot.left),
        c(plot.right),
        y = c(y),
    );
}

/// A legend entry at the top right, above the plot: a short line in the
/// series' colour and dash (with a square marker if `marker`), then `label`.
fn legend(chart: &Chart, label: &str, colour: &str, dash: &str, marker: bool, out: &mut String) {
    // Wide enough for the label at ~12 units a character.
    let width = 34.0 + 12.0 * label.chars().count() as f64;
    let x = (chart.width - 16.0 - width).max(8.0);
    let _ = write!(
        out,
        "<g class=\"legend\"><line x1=\"{}\" y1=\"34\" x2=\"{}\" y2=\"34\" stroke=\"{colour}\" \
         stroke-width=\"2\" stroke-dasharray=\"{dash}\"/>",
        c(x),
        c(x + 24.0),
    );
    if marker {
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"30.5\" width=\"7\" height=\"7\" fill=\"{colour}\"/>",
            c(x + 8.5)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"38\" font-size=\"11\">{}</text></g>",
        c(x + 30.0),
        escape(label)
    );
}

/// A line chart over categories (e.g. days), missing values (`None`, NaN)
/// leaving gaps, with an optional dashed target line labelled `target.1`.
pub(crate) fn line_chart(
    chart: &Chart,
    points: &[(String, Option<f64>)],
    target: Option<(f64, &str)>,
) -> String {
    let values: Vec<Option<f64>> = points
        .iter()
        .map(|(_, v)| v.filter(|x| x.is_finite()))
        .collect();
    if values.iter().all(Option::is_none) {
        return no_data(chart);
    }
    let rotated = points.len() > 12;
    let plot = plot_area(chart, false, rotated);
    let target = target.filter(|(t, _)| t.is_finite());
    let present = values.iter().flatten().copied();
    let mut lo = present.clone().fold(f64::INFINITY, f64::min);
    let mut hi = present.fold(f64::NEG_INFINITY, f64::max);
    if let Some((t, _)) = target {
        lo = lo.min(t);
        hi = hi.max(t);
    }
    let scale = Scale::nice(lo, hi * 1.05);
    let mut out = String::new();
    open(chart, &mut out);
    axes(chart, &plot, &scale, &mut out);
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            (plot.left + plot.right) / 2.0
        } else {
            plot.left + 12.0 + (plot.width() - 24.0) * i as f64 / (n - 1) as f64
        }
    };
    if let Some((t, label)) = target {
        reference_line(&plot, scale.y(&plot, t), TARGET, "6 4", &mut out);
        legend(
            chart,
            &format!("{label} {}", chart.value(t)),
            TARGET,
            "6 4",
            false,
            &mut out,
        );
    }
    // One polyline per run of present values.
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, out: &mut String| {
        if run.len() > 1 {
            let _ = write!(
                out,
                "<polyline class=\"series\" points=\"{}\" fill=\"none\" stroke=\"{LINE}\" stroke-width=\"2\"/>",
                run.join(" ")
            );
        }
        run.clear();
    };
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => run.push(format!("{},{}", c(x(i)), c(scale.y(&plot, *v)))),
            None => flush(&mut run, &mut out),
        }
    }
    flush(&mut run, &mut out);
    let label_all = n <= 16;
    for (i, ((label, _), v)) in points.iter().zip(&values).enumerate() {
        let Some(v) = v else { continue };
        let (px, py) = (x(i), scale.y(&plot, *v));
        let _ = write!(
            out,
            "<circle class=\"point\" cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"#fff\" stroke=\"{LINE}\" \
             stroke-width=\"2\"><title>{}: {}</title></circle>",
            c(px),
            c(py),
            escape(label),
            escape(&chart.value(*v)),
        );
        if label_all || i + 1 == n {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                c(px),
                c(py - 8.0),
                escape(&chart.value(*v)),
            );
        }
    }
    let xs: Vec<(f64, &str)> = points
        .iter()
        .enumerate()
        .map(|(i, (l, _))| (x(i), l.as_str()))
        .collect();
    x_labels(&plot, &xs, rotated, &mut out);
    close(&mut out);
    out
}

/// A Pareto chart: bars sorted by value, largest first, and the cumulative
/// share as a line with square markers on a right-hand 0–100 % axis, with a
/// dotted 80 % line. `cumulative` names the line in the legend.
pub(crate) fn pareto_chart(chart: &Chart, data: &[Datum], cumulative: &str) -> String {
    let mut data: Vec<&Datum> = finite(data).into_iter().filter(|d| d.value > 0.0).collect();
    let total: f64 = data.iter().map(|d| d.value).sum();
    if data.is_empty() || !above(total, 0.0) {
        return no_data(chart);
    }
    data.sort_by(|a, b| {
        b.value
            .total_cmp(&a.value)
            .then_with(|| a.label.cmp(&b.label))
    });
    let rotated = data.len() > 6;
    let plot = plot_area(chart, true, rotated);
    let hi = data.first().map_or(1.0, |d| d.value);
    let scale = Scale::nice(0.0, hi * 1.1);
    let pct = Scale {
        lo: 0.0,
        hi: 100.0,
        step: 20.0,
    };
    let mut out = String::new();
    open(chart, &mut out);
    axes(chart, &plot, &scale, &mut out);
    for t in pct.ticks() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" dy=\"4\" font-size=\"11\">{}%</text>",
            c(plot.right + 6.0),
            c(pct.y(&plot, t)),
            num(t),
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{r}\" y1=\"{}\" x2=\"{r}\" y2=\"{}\" stroke=\"{AXIS}\"/>",
        c(plot.top),
        c(plot.bottom),
        r = c(plot.right),
    );
    // The 80 % line meets the right axis at its 80 % tick.
    reference_line(&plot, pct.y(&plot, 80.0), AXIS, "2 3", &mut out);
    let centres = bars(chart, &plot, &scale, &data, 0.3, &mut out);
    let mut running = 0.0;
    let mut pts = Vec::with_capacity(data.len());
    for (d, x) in data.iter().zip(&centres) {
        running += d.value;
        let share = running / total * 100.0;
        pts.push((*x, pct.y(&plot, share), share, d.label.as_str()));
    }
    let line: Vec<String> = pts
        .iter()
        .map(|(x, y, _, _)| format!("{},{}", c(*x), c(*y)))
        .collect();
    let _ = write!(
        out,
        "<polyline class=\"cumulative\" points=\"{}\" fill=\"none\" stroke=\"{LINE}\" stroke-width=\"2\" \
         stroke-dasharray=\"5 3\"/>",
        line.join(" ")
    );
    for (x, y, share, label) in &pts {
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"7\" height=\"7\" fill=\"{LINE}\"><title>{}: {}%</title></rect>",
            c(x - 3.5),
            c(y - 3.5),
            escape(label),
            num(*share),
        );
    }
    legend(chart, cumulative, LINE, "5 3", true, &mut out);
    let xs: Vec<(f64, &str)> = centres
        .iter()
        .zip(&data)
        .map(|(x, d)| (*x, d.label.as_str()))
        .collect();
    x_labels(&plot, &xs, rotated, &mut out);
    close(&mut out);
    out
}

/// A histogram of `values` over `[lo, hi]` in `bins` equal bins (values
/// outside are counted in the edge bins), labelled `a–b`.
pub(crate) fn histogram(chart: &Chart, values: &[f64], lo: f64, hi: f64, bins: usize) -> String {
    let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if values.is_empty() || bins == 0 || !above(hi, lo) || !(hi - lo).is_finite() {
        return no_data(chart);
    }
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for v in &values {
        let i = ((v - lo) / width).floor();
        let i = if i.is_finite() {
            i.clamp(0.0, (bins - 1) as f64)
        } else {
            0.0
        } as usize;
        counts[i] += 1;
    }
    let data: Vec<Datum> = counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let a = lo + width * i as f64;
            Datum::new(format!("{}–{}", num(a), num(a + width)), *n as f64)
        })
        .collect();
    let refs: Vec<&Datum> = data.iter().collect();
    let top = counts.iter().copied().max().unwrap_or(0) as f64;
    bars_svg(chart, &refs, Scale::nice(0.0, top * 1.1), 0.04)
}

/// A KPI tile: a half-ring from `min` to `max` filled up to `value`, the
/// value written in the middle, and a tick at `target`.
pub(crate) fn gauge(
    chart: &Chart,
    value: Option<f64>,
    min: f64,
    max: f64,
    target: Option<f64>,
) -> String {
    let Some(value) = value.filter(|v| v.is_finite()) else {
        return no_data(chart);
    };
    if !above(max, min) || !(max - min).is_finite() {
        return no_data(chart);
    }
    let mut out = String::new();
    open(chart, &mut out);
    let cx = chart.width / 2.0;
    let cy = chart.height - 30.0;
    let r = (chart.width / 2.0 - 20.0)
        .min(chart.height - 70.0)
        .max(10.0);
    let frac = |v: f64| ((v - min) / (max - min)).clamp(0.0, 1.0);
    let point = |f: f64, radius: f64| {
        let a = std::f64::consts::PI * (1.0 - f);
        (cx + radius * a.cos(), cy - radius * a.sin())
    };
    let arc = |f: f64| {
        let (x0, y0) = point(0.0, r);
        let (x1, y1) = point(f, r);
        format!(
            "M {} {} A {r} {r} 0 0 1 {} {}",
            c(x0),
            c(y0),
            c(x1),
            c(y1),
            r = c(r)
        )
    };
    let _ = write!(
        out,
        "<path d=\"{}\" fill=\"none\" stroke=\"{GRID}\" stroke-width=\"14\"/>",
        arc(1.0)
    );
    let f = frac(value);
    if f > 0.0 {
        let _ = write!(
            out,
            "<path class=\"value\" d=\"{}\" fill=\"none\" stroke=\"{BAR_FILL}\" stroke-width=\"14\"/>",
            arc(f)
        );
    }
    if let Some(t) = target.filter(|t| t.is_finite()) {
        let (x0, y0) = point(frac(t), r - 12.0);
        let (x1, y1) = point(frac(t), r + 12.0);
        let _ = write!(
            out,
            "<line class=\"target\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{TARGET}\" \
             stroke-width=\"3\"><title>{}</title></line>",
            c(x0),
            c(y0),
            c(x1),
            c(y1),
            escape(&chart.value(t)),
        );
    }
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"26\" font-weight=\"bold\">{}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
        c(cx),
        c(cy - 6.0),
        escape(&chart.value(value)),
        c(cx - r),
        c(cy + 16.0),
        escape(&chart.value(min)),
        c(cx + r),
        c(cy + 16.0),
        escape(&chart.value(max)),
    );
    close(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use quick_xml::events::Event;
    use quick_xml::Reader;

    use super::*;

    /// Parses the whole document: tags balanced, attributes and entities
    /// valid; returns the text content.
    fn check_xml(svg: &str) -> String {
        let mut reader = Reader::from_str(svg);
        reader.config_mut().check_end_names = true;
        let mut depth = 0i32;
        let mut text = String::new();
        let mut roots = 0;
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    if depth == 0 {
                        roots += 1;
                    }
                    depth += 1;
                    for a in e.attributes() {
                        let a = a.unwrap_or_else(|err| panic!("bad attribute: {err}\n{svg}"));
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap_or_else(|err| panic!("bad attribute value: {err}\n{svg}"));
                    }
                }
                Ok(Event::Empty(e)) => {
                    for a in e.attributes() {
                        let a = a.unwrap_or_else(|err| panic!("bad attribute: {err}\n{svg}"));
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap_or_else(|err| panic!("bad attribute value: {err}\n{svg}"));
                    }
                }
                Ok(Event::End(_)) => depth -= 1,
                Ok(Event::Text(t)) => {
                    let raw = t.xml10_content();
                    assert!(
                        !raw.contains('<') && !raw.contains('>'),
                        "raw markup in text: {raw}"
                    );
                    text.push_str(&raw);
                }
                Ok(Event::GeneralRef(r)) => {
                    let name = r.into_inner();
                    assert!(
                        ["amp", "lt", "gt", "quot", "apos"].contains(&name.as_ref())
                            || name.starts_with('#'),
                        "unknown entity &{name};"
                    );
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed XML: {e}\n{svg}"),
            }
            assert!(depth >= 0, "more end tags than start tags\n{svg}");
        }
        assert_eq!(depth, 0, "unclosed tags\n{svg}");
        assert_eq!(roots, 1, "one root element");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        for bad in ["NaN", "inf"] {
            assert!(!svg.contains(bad), "{bad} in output\n{svg}");
        }
        assert!(svg.contains("Noto Sans CJK SC") && svg.contains("Microsoft YaHei"));
        text
    }

    fn chart() -> Chart {
        Chart::new("质检 <分数> & \"趋势\"", "暂无数据").axes("日期", "分数")
    }

    fn data() -> Vec<Datum> {
        vec![
            Datum::new("服务禁语", 12.0),
            Datum::new("结束语 <缺失>", 30.0),
            Datum::new("静音 & 等待", 7.0),
            Datum::new("抢话", 0.0),
        ]
    }

    #[test]
    fn bar_chart_is_well_formed_and_labelled() {
        let svg = bar_chart(&chart(), &data());
        check_xml(&svg);
        assert!(svg.contains("质检 &lt;分数&gt; &amp; &quot;趋势&quot;"));
        assert!(svg.contains("结束语 &lt;缺失&gt;"));
        assert!(svg.contains(">30</text>"), "values are written out");
        assert_eq!(svg.matches("class=\"bar\"").count(), 4);
        assert!(svg.contains(">日期</text>") && svg.contains(">分数</text>"));
    }

    #[test]
    fn marker_x_is_drawn_from_the_bars_and_escaped() {
        let marked = chart().marker_x(1.5, "合格线 <80> & \"分\"");
        let svg = bar_chart(&marked, &data());
        check_xml(&svg);
        assert_eq!(svg.matches("class=\"marker\"").count(), 1);
        assert!(svg.contains("合格线 &lt;80&gt; &amp; &quot;分&quot;</title>"));
        // 4 bars over the plot from x = 56 to 624: slot 142, 1.5 slots = 269.
        assert!(
            svg.contains("<line x1=\"269\" y1=\"40\" x2=\"269\""),
            "{svg}"
        );
        let far = bar_chart(&chart().marker_x(99.0, "m"), &data());
        assert!(far.contains("<line x1=\"624\""), "clamped to the last bar");
        let hist = histogram(&chart().marker_x(6.0, "m"), &[10.0, 70.0], 0.0, 100.0, 10);
        check_xml(&hist);
        assert!(hist.contains("class=\"marker\""), "histograms draw it too");
        for svg in [
            bar_chart(&chart().marker_x(f64::NAN, "m"), &data()),
            bar_chart(&chart().marker_x(1.0, "m"), &[]),
            pareto_chart(&chart().marker_x(1.0, "m"), &data(), "累计"),
        ] {
            check_xml(&svg);
            assert!(!svg.contains("class=\"marker\""), "{svg}");
        }
    }

    #[test]
    fn empty_or_nan_data_says_no_data() {
        let c = chart();
        let nan = [Datum::new("x", f64::NAN), Datum::new("y", f64::INFINITY)];
        for svg in [
            bar_chart(&c, &[]),
            bar_chart(&c, &nan),
            line_chart(&c, &[], None),
            line_chart(
                &c,
                &[("d1".into(), None), ("d2".into(), Some(f64::NAN))],
                Some((80.0, "目标")),
            ),
            pareto_chart(&c, &[], "累计"),
            pareto_chart(&c, &[Datum::new("a", 0.0)], "累计"),
            histogram(&c, &[], 0.0, 100.0, 10),
            histogram(&c, &[50.0], 10.0, 10.0, 10),
            histogram(&c, &[50.0], 0.0, 100.0, 0),
            gauge(&c, None, 0.0, 100.0, None),
            gauge(&c, Some(f64::NAN), 0.0, 100.0, None),
            gauge(&c, Some(5.0), 1.0, 1.0, None),
        ] {
            let text = check_xml(&svg);
            assert!(text.contains("暂无数据"), "{svg}");
        }
    }

    #[test]
    fn all_zero_bars_do_not_divide_by_zero() {
        let svg = bar_chart(&chart(), &[Datum::new("a", 0.0), Datum::new("b", 0.0)]);
        check_xml(&svg);
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
    }

    #[test]
    fn negative_values_go_below_zero() {
        let svg = bar_chart(&chart(), &[Datum::new("a", -5.0), Datum::new("b", 10.0)]);
        check_xml(&svg);
        assert!(svg.contains(">-5</text>"));
    }

    #[test]
    fn line_chart_with_gaps_and_target() {
        let points: Vec<(String, Option<f64>)> = (1..=30)
            .map(|d| {
                let v = if d % 7 == 0 {
                    None
                } else {
                    Some(70.0 + f64::from(d % 5) * 4.0)
                };
                (format!("3月{d}日"), v)
            })
            .collect();
        let svg = line_chart(&chart().suffix("%"), &points, Some((85.0, "目标")));
        check_xml(&svg);
        assert!(svg.contains("目标 85%"));
        assert!(
            svg.contains("stroke-dasharray=\"6 4\""),
            "target is dashed, not only coloured"
        );
        assert_eq!(
            svg.matches("class=\"series\"").count(),
            5,
            "gaps split the line"
        );
        assert_eq!(svg.matches("class=\"point\"").count(), 26);
        let one = line_chart(&chart(), &[("今天".into(), Some(90.0))], None);
        check_xml(&one);
        assert!(one.contains(">90</text>"));
    }

    #[test]
    fn pareto_sorts_and_accumulates() {
        let svg = pareto_chart(&chart(), &data(), "累计占比");
        check_xml(&svg);
        let first = svg.find("结束语 &lt;缺失&gt;: 30").expect("largest bar");
        let second = svg.find("服务禁语: 12").expect("second bar");
        assert!(first < second, "sorted descending");
        assert!(!svg.contains("抢话: 0"), "zero categories left out");
        assert!(svg.contains(": 100%</title>"), "cumulative reaches 100 %");
        assert!(svg.contains(">100%</text>"), "right axis");
        assert!(svg.contains("累计占比"));
    }

    #[test]
    fn histogram_bins_scores() {
        let scores = [0.0, 55.0, 59.9, 60.0, 85.0, 100.0, 120.0, -3.0, f64::NAN];
        let svg = histogram(&chart(), &scores, 0.0, 100.0, 10);
        check_xml(&svg);
        assert_eq!(svg.matches("class=\"bar\"").count(), 10);
        assert!(svg.contains("0–10: 2</title>"), "0 and the clamped -3");
        assert!(svg.contains("50–60: 2</title>"));
        assert!(svg.contains("90–100: 2</title>"), "100 and the clamped 120");
    }

    #[test]
    fn gauge_shows_value_and_target() {
        let svg = gauge(
            &chart().suffix("%").size(240.0, 160.0),
            Some(87.5),
            0.0,
            100.0,
            Some(90.0),
        );
        check_xml(&svg);
        assert!(svg.contains(">87.5%</text>"));
        assert!(svg.contains("class=\"target\""));
        check_xml(&gauge(&chart(), Some(0.0), 0.0, 100.0, None));
        check_xml(&gauge(&chart(), Some(1e9), 0.0, 100.0, Some(-1.0)));
    }

    #[test]
    fn nice_scales() {
        let s = Scale::nice(0.0, 87.0);
        assert_eq!((s.lo, s.hi, s.step), (0.0, 100.0, 20.0));
        let s = Scale::nice(0.0, 0.0);
        assert!(s.hi > s.lo);
        let s = Scale::nice(0.0, 3.0);
        assert!(s.ticks().len() <= 8);
    }

    #[test]
    fn long_labels_are_shortened_but_kept_in_tooltips() {
        let long = "一个非常非常非常长的规则名称用来测试";
        let svg = bar_chart(&chart(), &[Datum::new(long, 3.0)]);
        check_xml(&svg);
        assert!(svg.contains(&format!("{long}: 3")));
        assert!(
            svg.contains(">一个非常非常非…<"),
            "shortened to 8 characters"
        );
    }
}
