//! #18 items 5 and 6 through the binary, on the files around the state: FIFOs never hang a
//! command; backups are chosen and pruned by save number; temp files of killed runs are
//! cleaned; ledgers never get a date twice.

use std::time::Duration;

use crate::common::{Sandbox, code, stderr, stdout, table};
use crate::state_guard::{
    DATE, after_one_day, files_named, mkfifo, read_json, run_with_timeout, state_path, write_json,
};

/// A FIFO in place of any file the program reads fails fast with an error naming the path:
/// no command blocks, health included.
#[test]
fn a_fifo_in_place_of_a_file_never_hangs() {
    let limit = Duration::from_secs(30);
    let cmds: [&[&str]; 3] = [
        &["health"],
        &["preflight", "--date", DATE],
        &["dry-run", "--date", DATE, "--force", "--skip-preflight"],
    ];
    for target in [
        "state/state.json",
        "state/sim/account.json",
        "bars/QQQ.parquet",
        "trader.env",
        "trader.yaml",
    ] {
        let sb = Sandbox::with_sample("env_file: trader.env\n");
        let env = sb.path().join("trader.env");
        std::fs::write(&env, "UNUSED=1\n").expect("env");
        std::fs::set_permissions(&env, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod");
        for args in [
            &["preflight", "--date", DATE][..],
            &["dry-run", "--date", DATE],
        ] {
            let out = sb.run(args);
            assert_eq!(code(&out), 0, "{}", stderr(&out));
        }
        let p = sb.path().join(target);
        std::fs::remove_file(&p).expect("remove");
        mkfifo(&p);
        for args in cmds {
            let out = run_with_timeout(&sb, args, limit)
                .unwrap_or_else(|| panic!("{target}: `{}` hung on a FIFO", args.join(" ")));
            let all = format!("{}{}", stdout(&out), stderr(&out));
            // A FIFO state.json is recovered from a backup (the FIFO is moved aside); every
            // other FIFO is an error or a critical check.
            if target == "state/state.json" && args[0] != "health" {
                if args[0] == "preflight" {
                    assert!(
                        all.contains("STATE RECOVERED") && all.contains("not a regular file"),
                        "{all}"
                    );
                    let kept = files_named(&sb.path().join("state"), "state.json.corrupt-");
                    assert!(
                        kept.len() == 1
                            && std::os::unix::fs::FileTypeExt::is_fifo(
                                &std::fs::symlink_metadata(&kept[0])
                                    .expect("kept")
                                    .file_type()
                            ),
                        "the FIFO is moved aside: {kept:?}"
                    );
                }
                continue;
            }
            assert_ne!(code(&out), 0, "{target}: `{}`: {all}", args.join(" "));
            assert!(
                all.contains(&p.display().to_string()) && all.contains("not a regular file"),
                "{target}: `{}` must name the path: {all}",
                args.join(" ")
            );
        }
    }
}

/// Backups follow the save number, not the clock or file names: after the clock steps back
/// the newest save's backup is kept, and the directory holds exactly the configured count.
#[test]
fn backups_follow_save_numbers_across_a_clock_step_back() {
    let sb = after_one_day("state:\n  backups: 3\n");
    let backups = sb.path().join("state/backups");
    // A leftover beyond the configured count, e.g. from a run killed before it pruned.
    let extra = files_named(&backups, "state-");
    for (i, b) in extra.iter().enumerate() {
        std::fs::copy(
            b,
            backups.join(format!("state-19990101T000000.000000000Z-00000000{i}.json")),
        )
        .expect("copy");
    }
    let out = sb.run_at(
        "2026-04-30T19:50:00Z",
        &["dry-run", "--date", "2026-04-30", "--skip-preflight"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let seq = read_json(&state_path(&sb))["save_seq"]
        .as_u64()
        .expect("seq");
    let names = files_named(&backups, "state-");
    assert_eq!(names.len(), 3, "exactly the configured count: {names:?}");
    assert!(
        names
            .iter()
            .any(|p| p.to_string_lossy().ends_with(&format!("-{seq:09}.json"))),
        "the newest save #{seq} (written at an earlier clock) must be kept: {names:?}"
    );
}

/// Temp files of killed runs are removed by the next job, which says how many.
#[test]
fn temp_files_of_killed_runs_are_cleaned_by_the_next_job() {
    let sb = after_one_day("");
    let dirs = ["state", "state/backups", "state/sim", "ledger", "bars"];
    for d in dirs {
        std::fs::write(sb.path().join(d).join(".tmp-killed.partial"), b"half").expect("write");
    }
    let out = sb.run(&["dry-run", "--date", DATE]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("removed 5 temp file(s)"),
        "{}",
        stderr(&out)
    );
    for d in dirs {
        assert!(files_named(&sb.path().join(d), ".tmp-").is_empty(), "{d}");
    }
}

/// A run killed after its ledger writes but before its state save is rerun without `--force`
/// (the state has no record of it): the date's ledger rows are replaced, never doubled.
#[test]
fn a_rerun_after_a_kill_between_ledger_and_state_adds_no_duplicate_rows() {
    let sb = after_one_day("");
    let rows = |name: &str| table(&sb.path().join("ledger").join(name)).height();
    let before = [
        rows("decisions.parquet"),
        rows("orders.parquet"),
        rows("risk_checks.parquet"),
    ];
    let path = state_path(&sb);
    let mut v = read_json(&path);
    v["jobs"][DATE]
        .as_object_mut()
        .expect("jobs of the date")
        .remove("dry-run");
    write_json(&path, &v);
    let out = sb.run(&["dry-run", "--date", DATE]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let after = [
        rows("decisions.parquet"),
        rows("orders.parquet"),
        rows("risk_checks.parquet"),
    ];
    assert_eq!(before, after, "ledger rows of {DATE} were doubled");
}
