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
