//! Compile-fail tests: each `tests/ui/*.rs` makes one mistake, and its
//! `.stderr` is the error rustc prints. Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test --test ui`, then read every changed file.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}

/// A panic in the macro shows as "proc macro panicked" in rustc's output;
/// no expected output may contain one.
#[test]
fn no_expected_output_shows_a_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/ui exists") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "stderr") {
            let text = std::fs::read_to_string(&path).expect("a readable .stderr");
            assert!(!text.contains("panicked"), "{} shows a panic:\n{text}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 35, "expected at least 35 .stderr files in tests/ui, found {checked}");
}
