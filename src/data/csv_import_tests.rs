//! Tests of the CSV importer: formats, quoting, panels, and every refusal naming its line.

use super::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 5, 1).expect("date")
}

fn import(name: &str, text: &str) -> Result<Imported, CsvError> {
    import_file(Path::new(name), text.as_bytes(), false, today())
}

fn problems(name: &str, text: &str) -> String {
    import(name, text).expect_err("refused").to_string()
}

#[test]
fn alpha_vantage_newest_first_is_reversed_and_split_adjusted() {
    let text = "timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient\n\
        2016-08-26,30,31,29,30,30,100,0,1.0\n\
        2016-08-25,28,29,27,28,28,100,0,4.0\n\
        2016-08-24,120,124,116,120,30,25,0,1.0\n";
    let got = import("TMF.csv", text).expect("imports");
    let bars = &got.bars["TMF"];
    assert_eq!(bars.len(), 3);
    assert_eq!(bars[0].date.to_string(), "2016-08-24");
    assert_eq!(bars[0].close, 30.0);
    assert_eq!(bars[0].volume, 100.0);
    assert_eq!(bars[1].split_factor, 4.0);
    assert_eq!(bars[2].close, 30.0);
}

#[test]
fn alpaca_timestamps_map_to_new_york_dates() {
    assert_eq!(
        parse_date("2020-07-27 04:00:00+00:00").map(|d| d.to_string()),
        Ok("2020-07-27".to_string())
    );
    assert_eq!(
        parse_date("2020-12-01 05:00:00+00:00").map(|d| d.to_string()),
        Ok("2020-12-01".to_string())
    );
}

#[test]
fn a_quoted_volume_with_thousands_separators_is_one_number() {
    let text = "Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n\
        2024-01-02,10,11,9,10.5,\"39,055,400\",0,0\n\
        2024-01-03,\"1,010.5\",\"1,011\",\"1,009\",\"1,010\",\"1,000\",0.25,0\n";
    let got = import("AAPL.csv", text).expect("imports");
    let b = &got.bars["AAPL"];
    assert_eq!(
        (b[0].volume, b[0].dividend, b[0].split_factor),
        (39_055_400.0, 0.0, 1.0)
    );
    assert_eq!(
        (b[1].open, b[1].close, b[1].volume),
        (1010.5, 1010.0, 1000.0)
    );
    assert_eq!(b[1].dividend, 0.25);
    // A comma that is not a thousands separator is not a number.
    let err = problems(
        "AAPL.csv",
        "Date,Close,Volume\n2024-01-02,10,\"39,05\"\n2024-01-03,10,\"1,2,3\"\n",
    );
    assert!(
        err.contains("AAPL.csv:2: volume = `39,05` is not a number"),
        "{err}"
    );
    assert!(
        err.contains("AAPL.csv:3: volume = `1,2,3` is not a number"),
        "{err}"
    );
}

#[test]
fn bom_and_crlf_are_handled() {
    let text = "\u{feff}Date,Open,High,Low,Close,Volume\r\n2024-01-02,10,11,9,10.5,100\r\n2024-01-03,10,11,9,10.5,200\r\n";
    let got = import("QQQ.csv", text).expect("imports");
    let b = &got.bars["QQQ"];
    assert_eq!(b.len(), 2);
    assert_eq!(b[1].volume, 200.0);
}

#[test]
fn a_name_column_splits_the_panel_per_symbol() {
    let text = "date,open,high,low,close,volume,Name\n\
        2024-01-02,10,11,9,10,100,AAA\n\
        2024-01-03,10,11,9,11,100,AAA\n\
        2024-01-02,20,21,19,20,100,BBB\n\
        2024-01-03,20,21,19,21,100,bbb\n";
    let got = import("all_stocks_5yr.csv", text).expect("imports");
    assert_eq!(got.bars.keys().collect::<Vec<_>>(), ["AAA", "BBB"]);
    assert_eq!(
        got.bars["AAA"].iter().map(|b| b.close).collect::<Vec<_>>(),
        [10.0, 11.0]
    );
    assert_eq!(
        got.bars["BBB"].iter().map(|b| b.close).collect::<Vec<_>>(),
        [20.0, 21.0]
    );
    let err = problems(
        "panel.csv",
        "date,close,Name\n2024-01-02,10,../X\n2024-01-02,10,\n2024-01-02,10,AAA\n2024-01-02,11,AAA\n",
    );
    assert!(
        err.contains("panel.csv:2: Name \"../X\" is not a valid symbol"),
        "{err}"
    );
    assert!(err.contains("panel.csv:3: Name is empty"), "{err}");
    assert!(
        err.contains("panel.csv:5: duplicate date 2024-01-02"),
        "{err}"
    );
}

#[test]
fn dates_outside_1900_to_today_are_refused() {
    let err = problems(
        "QQQ.csv",
        "Date,Close\n1899-12-29,10\n2024-01-02,10\n2026-05-02,10\n4637-01-01,10\n",
    );
    assert!(
        err.contains("QQQ.csv:2: date 1899-12-29 is before 1900-01-01"),
        "{err}"
    );
    assert!(
        err.contains("QQQ.csv:4: date 2026-05-02 is after today (2026-05-01"),
        "{err}"
    );
    assert!(
        err.contains("QQQ.csv:5: date 4637-01-01 is after today"),
        "{err}"
    );
    assert!(!err.contains("QQQ.csv:3"), "{err}");
}

#[test]
fn negative_dividends_and_splits_are_refused_and_zero_split_means_none() {
    let err = problems(
        "QQQ.csv",
        "Date,Close,Dividends,Stock Splits\n2024-01-02,10,-0.5,0\n2024-01-03,10,0,-2\n2024-01-04,10,0,0\n",
    );
    assert!(err.contains("QQQ.csv:2: dividend = -0.5"), "{err}");
    assert!(err.contains("QQQ.csv:3: split factor = -2"), "{err}");
    assert!(!err.contains("QQQ.csv:4"), "{err}");
    let ok = import(
        "QQQ.csv",
        "Date,Close,Dividends,Stock Splits\n2024-01-04,10,0,0\n",
    )
    .expect("a zero split is yfinance's none");
    assert_eq!(ok.bars["QQQ"][0].split_factor, 1.0);
}

#[test]
fn structural_faults_name_the_line() {
    let err = problems("QQQ.csv", "Date,Close\n2024-01-02,10,99\n2024-01-03\n");
    assert!(
        err.contains("QQQ.csv:2: 3 field(s), the header has 2"),
        "{err}"
    );
    assert!(
        err.contains("QQQ.csv:3: 1 field(s), the header has 2"),
        "{err}"
    );
    let bytes = b"Date,Close\n2024-01-02,10\n2024-01-03,\xff\n";
    let err = import_file(Path::new("QQQ.csv"), bytes, false, today())
        .expect_err("not utf-8")
        .to_string();
    assert!(err.contains("QQQ.csv:3: not UTF-8"), "{err}");
    let err = problems("bad name!.csv", "Date,Close\n2024-01-02,10\n");
    assert!(
        err.contains("bad name!.csv: the file name gives \"BAD NAME!\" is not a valid symbol"),
        "{err}"
    );
}
