//! The PNG charts of the reports: equity against the signal symbol's buy-and-hold, and the
//! drawdown from the peak. Drawn by plotters into a memory buffer with the bundled DejaVu Sans
//! (registered from bytes: no system font library) and encoded with `png`.

use std::sync::Once;

use chrono::NaiveDate;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// Chart size in pixels.
pub const WIDTH: u32 = 900;
pub const HEIGHT: u32 = 360;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// A chart could not be drawn or encoded.
#[derive(Debug, thiserror::Error)]
#[error("drawing the {chart} chart: {msg}")]
pub struct ChartError {
    pub chart: &'static str,
    pub msg: String,
}

fn font() {
    REGISTER.call_once(|| {
        // The bytes are the bundled TTF: a parse failure is a broken build, reported when
        // the first label cannot find its font.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// At most this many points are drawn per series (a 16-year daily history is ~4,000).
const MAX_POINTS: usize = 1_800;

/// Every n-th point so a long series draws at most [`MAX_POINTS`] (the last always kept).
fn thin<T: Copy>(v: &[T]) -> Vec<T> {
    let step = v.len().div_ceil(MAX_POINTS).max(1);
    let mut out: Vec<T> = v.iter().step_by(step).copied().collect();
    if let Some(last) = v.last()
        && !(v.len() - 1).is_multiple_of(step)
    {
        out.push(*last);
    }
    out
}

fn encode(chart: &'static str, rgb: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut w = enc.write_header().map_err(|e| ChartError {
            chart,
            msg: e.to_string(),
        })?;
        w.write_image_data(rgb).map_err(|e| ChartError {
            chart,
            msg: e.to_string(),
        })?;
    }
    Ok(out)
}

fn err(chart: &'static str) -> impl Fn(String) -> ChartError {
    move |msg| ChartError { chart, msg }
}

fn label(first: NaiveDate, x: f64) -> String {
    (first + chrono::Duration::days(x.round() as i64))
        .format("%Y-%m-%d")
        .to_string()
}

/// Equity (and the benchmark, both as growth of the first value when `bench` is given) by date.
pub fn equity_png(
    equity: &[(NaiveDate, f64)],
    bench: &[(NaiveDate, f64)],
    log_scale: bool,
    title: &str,
) -> Result<Vec<u8>, ChartError> {
    const C: &str = "equity";
    font();
    let first = equity.first().map(|p| p.0).unwrap_or_default();
    let xy = |v: &[(NaiveDate, f64)]| -> Vec<(f64, f64)> {
        thin(v)
            .into_iter()
            .filter(|(_, y)| y.is_finite() && (!log_scale || *y > 0.0))
            .map(|(d, y)| ((d - first).num_days() as f64, y))
            .collect()
    };
    let (eq, bm) = (xy(equity), xy(bench));
    let all = eq.iter().chain(&bm);
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let (mut lo, mut hi) = all
        .map(|p| p.1)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
    if !lo.is_finite() {
        (lo, hi) = (1.0, 2.0);
    }
    if hi <= lo {
        hi = lo * 1.01 + 1.0;
    }
    let mut buf = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(C)(e.to_string()))?;
        let mut b = ChartBuilder::on(&root);
        b.caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(70);
        let fmt_x = |x: &f64| label(first, *x);
        if log_scale {
            let mut ch = b
                .build_cartesian_2d(0.0..x_max, (lo * 0.98..hi * 1.02).log_scale())
                .map_err(|e| err(C)(e.to_string()))?;
            ch.configure_mesh()
                .x_labels(6)
                .x_label_formatter(&fmt_x)
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style(("sans-serif", 12))
                .draw()
                .map_err(|e| err(C)(e.to_string()))?;
            draw_series(&mut ch, &eq, &bm).map_err(err(C))?;
        } else {
            let pad = (hi - lo) * 0.03;
            let mut ch = b
                .build_cartesian_2d(0.0..x_max, lo - pad..hi + pad)
                .map_err(|e| err(C)(e.to_string()))?;
            ch.configure_mesh()
                .x_labels(6)
                .x_label_formatter(&fmt_x)
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style(("sans-serif", 12))
                .draw()
                .map_err(|e| err(C)(e.to_string()))?;
            draw_series(&mut ch, &eq, &bm).map_err(err(C))?;
        }
        root.present().map_err(|e| err(C)(e.to_string()))?;
    }
    encode(C, &buf)
}

fn draw_series<'a, DB, CT>(
    ch: &mut ChartContext<'a, DB, CT>,
    eq: &[(f64, f64)],
    bm: &[(f64, f64)],
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    ch.draw_series(LineSeries::new(eq.iter().copied(), BLUE.stroke_width(2)))
        .map_err(e)?
        .label("strategy")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    if !bm.is_empty() {
        let grey = RGBColor(150, 150, 150);
        ch.draw_series(LineSeries::new(bm.iter().copied(), grey.stroke_width(1)))
            .map_err(e)?
            .label("signal buy-and-hold")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], grey));
    }
    ch.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(e)?;
    Ok(())
}

/// Drawdown from the running peak, percent (≤ 0), by date.
pub fn drawdown_png(drawdown_pct: &[(NaiveDate, f64)], title: &str) -> Result<Vec<u8>, ChartError> {
    const C: &str = "drawdown";
    font();
    let first = drawdown_pct.first().map(|p| p.0).unwrap_or_default();
    let pts: Vec<(f64, f64)> = thin(drawdown_pct)
        .into_iter()
        .filter(|p| p.1.is_finite())
        .map(|(d, y)| ((d - first).num_days() as f64, y))
        .collect();
    let x_max = pts.iter().map(|p| p.0).fold(1.0, f64::max);
    let lo = pts.iter().map(|p| p.1).fold(-1.0, f64::min);
    let mut buf = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(C)(e.to_string()))?;
        let mut ch = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, lo * 1.05..0.0)
            .map_err(|e| err(C)(e.to_string()))?;
        ch.configure_mesh()
            .x_labels(6)
            .x_label_formatter(&|x| label(first, *x))
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| err(C)(e.to_string()))?;
        let red = RGBColor(200, 40, 40);
        ch.draw_series(AreaSeries::new(pts.iter().copied(), 0.0, red.mix(0.3)).border_style(red))
            .map_err(|e| err(C)(e.to_string()))?;
        root.present().map_err(|e| err(C)(e.to_string()))?;
    }
    encode(C, &buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(i: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2010, 1, 4).expect("date") + chrono::Duration::days(i)
    }

    #[test]
    fn charts_are_pngs_of_the_chart_size() {
        let eq: Vec<_> = (0..4000).map(|i| (d(i), 100.0 + i as f64 * 0.1)).collect();
        for png in [
            equity_png(&eq, &eq, true, "t").expect("equity"),
            drawdown_png(&[(d(0), 0.0), (d(1), -5.0)], "t").expect("drawdown"),
        ] {
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            assert_eq!(
                u32::from_be_bytes(png[16..20].try_into().expect("w")),
                WIDTH
            );
            assert_eq!(
                u32::from_be_bytes(png[20..24].try_into().expect("h")),
                HEIGHT
            );
        }
    }

    #[test]
    fn thinning_keeps_the_ends() {
        let v: Vec<usize> = (0..4001).collect();
        let t = thin(&v);
        assert!(t.len() <= MAX_POINTS + 1);
        assert_eq!((t[0], *t.last().expect("last")), (0, 4000));
    }
}
