//! libstreamlet.so carries the versioned soname that build.rs asks the linker for. (An integration test, so that
//! cargo builds the cdylib before running it.)

use std::path::PathBuf;

#[test]
fn soname_is_versioned() {
    // The test binary and the cdylib built for it share target/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    let so: PathBuf = exe.parent().unwrap().join("libstreamlet.so");
    assert!(so.exists(), "{} was not built", so.display());
    let out = std::process::Command::new("readelf").arg("-d").arg(&so).output().expect("readelf (binutils) is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("Library soname: [libstreamlet.so.{}]", env!("CARGO_PKG_VERSION_MAJOR"));
    assert!(text.contains(&want), "{} has no `{want}`:\n{text}", so.display());
}
