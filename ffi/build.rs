//! Generates the C header with cbindgen.
//!
//! * Always writes `$OUT_DIR/motiongate.h`.
//! * `MOTIONGATE_WRITE_HEADER=1`: also writes the checked-in `include/motiongate.h`.
//! * `MOTIONGATE_CHECK_HEADER=1`: fails the build when the checked-in header differs from a fresh generation (CI).

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let committed = crate_dir.join("../include/motiongate.h");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=../include/motiongate.h");
    println!("cargo:rerun-if-env-changed=MOTIONGATE_WRITE_HEADER");
    println!("cargo:rerun-if-env-changed=MOTIONGATE_CHECK_HEADER");

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    std::fs::write(out_dir.join("motiongate.h"), &fresh).expect("write $OUT_DIR/motiongate.h");

    if std::env::var("MOTIONGATE_WRITE_HEADER").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(committed.parent().expect("include dir")).expect("create include/");
        std::fs::write(&committed, &fresh).expect("write include/motiongate.h");
    }
    if std::env::var("MOTIONGATE_CHECK_HEADER").is_ok_and(|v| v == "1") {
        let old = std::fs::read(&committed).unwrap_or_default();
        if old != fresh {
            let old = String::from_utf8_lossy(&old);
            let new = String::from_utf8_lossy(&fresh);
            let line = old
                .lines()
                .zip(new.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(old.lines().count().min(new.lines().count()));
            panic!(
                "include/motiongate.h is stale (first difference at line {}; fresh header at {}). \
                 Regenerate it with: MOTIONGATE_WRITE_HEADER=1 cargo build -p motiongate-ffi",
                line + 1,
                out_dir.join("motiongate.h").display()
            );
        }
    }
}
