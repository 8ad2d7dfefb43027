//! Rows of `data/ledger/fills.parquet`: one per execution, with the realised slippage in
//! basis points against the decision price. `status` is `filled` on every row (an
//! execution is a fill), which [`crate::ledger::read_fills`] reads for the compliance rules.

use chrono::NaiveDate;

use super::journal::{JournalOrder, slippage_bps};
use crate::ledger::{Col, Table};

/// The fills table of one date's journal.
pub fn fills_table(date: NaiveDate, orders: &[JournalOrder]) -> Table {
    let rows: Vec<(&JournalOrder, &crate::broker::Execution)> = orders
        .iter()
        .flat_map(|o| o.executions.iter().map(move |e| (o, e)))
        .collect();
    let mut t = Table::default();
    t.push("date", Col::Date(vec![date; rows.len()]))
        .push(
            "client_order_id",
            Col::Str(
                rows.iter()
                    .map(|(o, _)| o.client_order_id.0.clone())
                    .collect(),
            ),
        )
        .push(
            "broker_order_id",
            Col::Str(
                rows.iter()
                    .map(|(o, _)| o.broker_order_id.clone().unwrap_or_default())
                    .collect(),
            ),
        )
        .push(
            "execution_id",
            Col::Str(rows.iter().map(|(_, e)| e.id.clone()).collect()),
        )
        .push(
            "symbol",
            Col::Str(rows.iter().map(|(o, _)| o.symbol.clone()).collect()),
        )
        .push(
            "side",
            Col::Str(rows.iter().map(|(o, _)| o.side.as_str().into()).collect()),
        )
        .push("qty", Col::I64(rows.iter().map(|(_, e)| e.qty).collect()))
        .push(
            "price",
            Col::F64(rows.iter().map(|(_, e)| Some(e.price)).collect()),
        )
        .push(
            "commission",
            Col::F64(
                rows.iter()
                    .map(|(_, e)| Some(crate::money::dollars(e.commission_cents)))
                    .collect(),
            ),
        )
        .push(
            "decision_price",
            Col::F64(rows.iter().map(|(o, _)| Some(o.decision_price)).collect()),
        )
        .push(
            "slippage_bps",
            Col::F64(
                rows.iter()
                    .map(|(o, e)| Some(slippage_bps(o.side, o.decision_price, e.price)))
                    .collect(),
            ),
        )
        .push("status", Col::Str(vec!["filled".into(); rows.len()]));
    t
}

/// The orders ledger rows of one date's journal: the columns `dry-run` writes, with
/// `phase` telling the two apart (statuses and fills are in the journal and the fills ledger).
pub fn orders_table(date: NaiveDate, orders: &[JournalOrder], phase: &str) -> Table {
    let mut t = Table::default();
    let n = orders.len();
    let s = |f: &dyn Fn(&JournalOrder) -> String| Col::Str(orders.iter().map(f).collect());
    t.push("date", Col::Date(vec![date; n]))
        .push("client_order_id", s(&|o| o.client_order_id.0.clone()))
        .push("symbol", s(&|o| o.symbol.clone()))
        .push("side", s(&|o| o.side.as_str().into()))
        .push("qty", Col::I64(orders.iter().map(|o| o.qty).collect()))
        .push(
            "ref_price",
            Col::F64(orders.iter().map(|o| Some(o.decision_price)).collect()),
        )
        .push("phase", Col::Str(vec![phase.into(); n]));
    t
}
