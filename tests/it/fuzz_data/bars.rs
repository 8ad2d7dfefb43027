//! The bar-file half of the data fuzz: the sample store with one symbol's file mutated
//! (a field made non-finite, ≤ 0 or negative, a bar dated after today, bits flipped, the
//! file cut short), then `preflight` (see the parent module for what every case asserts).

use std::collections::BTreeMap;

use trader::data::store::BarStore;
use trader::model::Bar;

use super::{XorShift, all_usable, cases, run, snapshot};
use crate::common::Sandbox;

const DATE: &str = "2026-05-01";

/// A bar-file mutation of one symbol of the sample store.
fn mutate_bars(rng: &mut XorShift, sb: &Sandbox) -> (String, bool, Option<String>) {
    let syms = ["QQQ", "TLT", "TMF", "TMV", "TQQQ"];
    let sym = syms[rng.below(syms.len())];
    let store = BarStore::new(&sb.path().join("bars"));
    let path = sb.path().join(format!("bars/{sym}.parquet"));
    match rng.below(4) {
        0 | 1 => {
            let mut bars: Vec<Bar> = store.read(sym).expect("read").expect("stored");
            let i = bars.len() - 1 - rng.below(60.min(bars.len()));
            let date = bars[i].date;
            let v = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 0.0][rng.below(5)];
            let b = &mut bars[i];
            let field = match rng.below(6) {
                0 => {
                    b.close = v;
                    "close"
                }
                1 => {
                    b.open = v;
                    "open"
                }
                2 => {
                    // Volume 0 is allowed; every other value here (inf included) is not.
                    b.volume = if v == 0.0 { -0.5 } else { v };
                    "volume"
                }
                3 => {
                    b.dividend = if v == 0.0 { -0.01 } else { v };
                    "dividend"
                }
                4 => {
                    b.split_factor = v;
                    "split factor"
                }
                _ => {
                    b.date =
                        chrono::NaiveDate::from_ymd_opt(2026, 5, 4 + rng.below(300) as u32 % 20)
                            .expect("date");
                    // Keep dates ascending: the bar moves to the end.
                    let moved = bars.remove(i);
                    bars.push(moved);
                    "date"
                }
            };
            let label = format!("{sym} bar {date} {field} = {v}");
            store
                .write_many(&BTreeMap::from([(sym.to_string(), bars)]))
                .expect("write");
            let name = if field == "date" {
                format!("{sym} 2026-05-")
            } else {
                format!("{sym} {date}: {field} = ")
            };
            (label, true, Some(name))
        }
        2 => {
            let mut bytes = std::fs::read(&path).expect("read");
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            std::fs::write(&path, &bytes).expect("write");
            (format!("{sym}: {n} bit(s) flipped"), false, None)
        }
        _ => {
            let mut bytes = std::fs::read(&path).expect("read");
            let cut = rng.below(bytes.len());
            bytes.truncate(cut);
            std::fs::write(&path, &bytes).expect("write");
            (
                format!("{sym}: cut at byte {cut}"),
                true,
                Some(sym.to_string()),
            )
        }
    }
}

#[test]
fn fuzz_bar_files_in_preflight() {
    let mut rng = XorShift(0xba75_f11e_2026_0518);
    let (mut refused, mut accepted) = (0, 0);
    for case in 0..cases() {
        let sb = Sandbox::with_sample("");
        let (label, must_refuse, name) = mutate_bars(&mut rng, &sb);
        let what = format!("bar case {case} ({label})");
        let bars = sb.path().join("bars");
        let before = snapshot(&bars);
        let r = run(&sb, &["--json", "preflight", "--date", DATE], &what);
        assert!(
            snapshot(&bars) == before,
            "{what}: preflight changed the store"
        );
        if r.code == Some(0) {
            accepted += 1;
            assert!(!must_refuse, "{what}: GO on nonsense:\n{}", r.stdout);
            all_usable(&bars);
        } else {
            refused += 1;
            assert_eq!(r.code, Some(3), "{what}: {}{}", r.stdout, r.stderr);
            let sym = &label[..label.find([' ', ':']).unwrap_or(label.len())];
            let shown = format!("{}{}", r.stdout, r.stderr);
            assert!(
                shown.contains(sym),
                "{what}: the symbol is not named:\n{shown}"
            );
            if let Some(n) = name {
                assert!(shown.contains(&n), "{what}: `{n}` is not named:\n{shown}");
            }
        }
    }
    eprintln!("fuzz_bar_files_in_preflight: {refused} refused, {accepted} accepted");
}
