//! Renderers of the reports: Markdown and a self-contained HTML page (inline CSS, the PNG
//! charts inline as base64 `data:` URIs, no external reference of any kind).

use std::fmt::Write;

use base64::Engine;

use super::DayReport;

/// Inline style of every HTML report (no `@import`, no `url()`).
const CSS: &str = "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img{max-width:100%}.GREEN{color:#080}.YELLOW{color:#a80}.RED{color:#c00}";

/// Text safe inside HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number with `d` decimals, or `-`.
pub fn num(x: Option<f64>, d: usize) -> String {
    x.filter(|x| x.is_finite())
        .map_or("-".into(), |x| format!("{x:.d$}"))
}

/// A table: a header row and rows of cells (already text).
#[derive(Debug, Clone, Default)]
pub struct TableText {
    pub title: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl TableText {
    pub fn new(title: &str, head: &[&str]) -> Self {
        TableText {
            title: title.into(),
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn md(&self, out: &mut String) {
        let _ = writeln!(out, "## {}\n", self.title);
        if self.rows.is_empty() {
            out.push_str("(none)\n\n");
            return;
        }
        let _ = writeln!(out, "| {} |", self.head.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(self.head.len()));
        for r in &self.rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        out.push('\n');
    }

    pub fn html(&self, out: &mut String) {
        let _ = write!(out, "<h2>{}</h2>", esc(&self.title));
        if self.rows.is_empty() {
            out.push_str("<p>(none)</p>");
            return;
        }
        out.push_str("<table><tr>");
        for h in &self.head {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr>");
        for r in &self.rows {
            out.push_str("<tr>");
            for c in r {
                let _ = write!(out, "<td class=\"{}\">{}</td>", esc(c), esc(c));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
}

/// A whole HTML page: title, tables, and the PNG charts inline (name, bytes).
pub fn html_page(title: &str, tables: &[TableText], charts: &[(&str, &[u8])]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head><body><h1>{t}</h1>",
        t = esc(title)
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    for (name, png) in charts {
        let _ = write!(
            out,
            "<p><img alt=\"{}\" src=\"data:image/png;base64,{}\"></p>",
            esc(name),
            b64.encode(png)
        );
    }
    for t in tables {
        t.html(&mut out);
    }
    out.push_str("</body></html>\n");
    out
}

/// A Markdown page: title, tables, and the charts as relative image links (beside the file).
pub fn md_page(title: &str, tables: &[TableText], charts: &[&str]) -> String {
    let mut out = format!("# {title}\n\n");
    for c in charts {
        let _ = writeln!(out, "![{c}]({c})\n");
    }
    for t in tables {
        t.md(&mut out);
    }
    out
}

/// The tables of a day's report.
pub fn day_tables(r: &DayReport) -> Vec<TableText> {
    let p = &r.performance;
    let e = &r.execution;
    let mut summary = TableText::new("Summary", &["figure", "value"]);
    let mut kv = |k: &str, v: String| summary.rows.push(vec![k.into(), v]);
    kv("phase", r.phase.clone());
    kv("equity", format!("{:.2}", p.equity));
    kv("cash", format!("{:.2}", r.cash));
    kv(
        "daily P&L",
        format!("{:+.2} ({:+.2}%)", p.daily_pnl, p.daily_return_pct),
    );
    kv(
        "cumulative P&L",
        format!(
            "{:+.2} ({:+.2}%)",
            p.cumulative_pnl, p.cumulative_return_pct
        ),
    );
    kv("peak", format!("{:.2}", p.peak));
    kv("drawdown from peak", format!("{:.2}%", p.drawdown_pct));
    kv(
        "drawdown budget tier",
        r.risk.tier_drawdown_pct.map_or("none".into(), |t| {
            format!("beyond {t}% (exposure {}%)", r.risk.exposure_pct)
        }),
    );
    kv("max drawdown", format!("{:.2}%", p.max_drawdown_pct));
    kv(
        &format!("ES {}%", r.risk.confidence_pct),
        r.risk.es_pct.map_or_else(
            || r.risk.es_error.clone().unwrap_or("-".into()),
            |x| format!("{x:.2}%"),
        ),
    );
    kv(
        &format!("VaR {}%", r.risk.confidence_pct),
        num(r.risk.var_pct, 2) + "%",
    );
    kv(
        "realised vol (63 d, annual)",
        num(p.realised_vol_pct, 2) + "%",
    );
    kv(&format!("beta to {}", r.signal_symbol), num(p.beta, 2));
    kv("Sharpe (63 d)", num(p.sharpe_63, 2));
    kv("Sortino (63 d)", num(p.sortino_63, 2));
    kv("win rate", num(p.win_rate_pct, 1) + "%");
    kv("fill rate", num(e.fill_rate_pct, 1) + "%");
    kv("commissions", format!("{:.2}", e.commissions));
    kv(
        "implementation shortfall vs decision",
        num(e.shortfall_bps, 1) + " bps",
    );
    kv(
        "slippage vs official close",
        num(e.shortfall_close_bps, 1) + " bps",
    );
    kv(
        "validation",
        r.validation.clone().unwrap_or("not validated".into()),
    );
    let mut pos = TableText::new(
        "Positions and targets",
        &["symbol", "shares", "close", "value", "weight %", "target %"],
    );
    for x in &r.positions {
        pos.rows.push(vec![
            x.symbol.clone(),
            x.qty.to_string(),
            num(x.close, 2),
            format!("{:.2}", x.value),
            format!("{:.2}", x.weight_pct),
            num(x.target_pct, 2),
        ]);
    }
    let mut trades = TableText::new(
        if e.hypothetical {
            "Trades (hypothetical: dry-run, filled at the official close)"
        } else {
            "Trades"
        },
        &[
            "symbol",
            "side",
            "qty",
            "filled",
            "status",
            "fill",
            "decision",
            "close",
            "slip bps",
            "vs close bps",
            "commission",
        ],
    );
    for o in &e.orders {
        trades.rows.push(vec![
            o.symbol.clone(),
            o.side.as_str().into(),
            o.qty.to_string(),
            o.filled_qty.to_string(),
            o.status.clone(),
            num(o.fill_price, 2),
            format!("{:.2}", o.decision_price),
            num(o.official_close, 2),
            num(o.slippage_bps, 1),
            num(o.vs_close_bps, 1),
            format!("{:.2}", o.commission),
        ]);
    }
    let mut rules = TableText::new("Risk rules", &["rule", "verdict", "symbol", "message"]);
    for x in &r.risk_rules {
        rules.rows.push(vec![
            x.rule.clone(),
            x.verdict.clone(),
            x.symbol.clone(),
            x.message.clone(),
        ]);
    }
    let mut gates = TableText::new(
        "Promotion gates",
        &["gate", "requirement", "have", "need", "met"],
    );
    for g in &r.gates {
        for c in &g.counts {
            gates.rows.push(vec![
                g.phase.as_str().into(),
                c.what.clone(),
                c.have.clone(),
                c.need.clone(),
                if c.met { "yes" } else { "no" }.into(),
            ]);
        }
    }
    vec![summary, pos, trades, rules, gates]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_inlines() {
        let mut t = TableText::new("a<b", &["x"]);
        t.rows.push(vec!["<script>".into()]);
        let h = html_page("t&", &[t], &[("c", b"\x89PNG")]);
        assert!(h.contains("a&lt;b") && h.contains("&lt;script&gt;") && h.contains("t&amp;"));
        assert!(h.contains("src=\"data:image/png;base64,iVBORw==\""));
        assert!(!h.contains("http"));
    }
}
