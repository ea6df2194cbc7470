//! Fails when the checked-in generated code does not match model/kinesis.json.

use std::process::Command;

#[test]
fn generated_code_matches_model() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new("python3")
        .arg(format!("{root}/scripts/gen_model.py"))
        .arg("--check")
        .output()
        .expect("python3 runs scripts/gen_model.py");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn model_has_every_operation() {
    use tributary_model::Operation;
    assert_eq!(Operation::ALL.len(), 57);
    for op in Operation::ALL {
        assert_eq!(Operation::from_name(op.name()), Some(op));
    }
}
