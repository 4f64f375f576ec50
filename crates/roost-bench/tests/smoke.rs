//! The benchmark cannot rot: a quick run must complete, and its wire-count targets (resync
//! bytes ≤ 1.1× the missing messages, requests ≤ gaps + ceil(missing / page)), which are
//! deterministic, must hold. Timings are printed, never asserted.

#[test]
fn a_quick_benchmark_run_meets_the_wire_count_targets() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_roost-bench"))
        .args(["--quick", "--check"])
        .env("RUST_LOG", "off")
        .output()
        .expect("roost-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "roost-bench --quick --check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for section in [
        "## Open chat",
        "## Ingest throughput",
        "## Gap computation",
        "## Resync bandwidth",
        "## Search over",
        "## Verify & repair",
    ] {
        assert!(stdout.contains(section), "missing section {section}");
    }
}

/// `roost-bench stream --timeline` (the frame → event tail and the core spans beside it) runs,
/// and the core's timeline spans reach it.
#[test]
fn the_stream_tail_mode_runs_and_sees_the_core_timeline() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_roost-bench"))
        .args(["stream", "--count", "500", "--rate", "5000", "--timeline"])
        .output()
        .expect("roost-bench stream runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "roost-bench stream failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "frame → event ms: p50",
        "histogram",
        "stream_commit:",
        "write_tx:",
    ] {
        assert!(stdout.contains(line), "missing {line}");
    }
}
